"""One network run in-process: its chain, contracts, participants and roles.

`build_network` turns a `NetworkPlan` into a running network on its own ledger
backend: it deploys the contracts with the genesis model, funds and registers
every participant, and gives each one its roles (a worker, or a staker that can
be sampled as validator or miner). `NetworkRuntime.run_round` then steps one
SABFL round through the chain's phases in order, calling the same role code
the node driver runs in separate processes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch

from poft.experiment.config import ExperimentConfig
from poft.experiment.population import NetworkPlan, ParticipantPlan
from poft.learning.datasets import ArrayDataset
from poft.learning.training import evaluate
from poft.ledger import Phase
from poft.protocol.aggregate import AggregationSpec
from poft.protocol.miner import Miner
from poft.protocol.models_io import ModelCodec
from poft.protocol.timing import PhaseTimer, Timed
from poft.protocol.validator import Validator
from poft.protocol.worker import ByzantineWorker, TrainingSettings, Worker

log = logging.getLogger(__name__)

ETHER = 10**18


@dataclass
class RoundRecord:
    """What one round did, as written to metrics.jsonl."""

    network: str
    round: int
    accuracy: float
    loss: float
    model_root: str
    candidates: list[str]
    byzantine: list[bool]
    weights: list[float]
    committee: list[str]
    miners_tried: list[str]
    finalized: bool
    seconds: dict[str, float] = field(default_factory=dict)
    gas: dict[str, int] = field(default_factory=dict)


@dataclass
class Staker:
    validator: Validator
    miner: Miner


class NetworkRuntime:
    """The in-process state of one network: ledger handles and role objects."""

    def __init__(self, plan: NetworkPlan, backend, deployment, anyone, workers, stakers,
                 codec: ModelCodec, store, test_set: ArrayDataset, eval_model, timer):
        self.plan, self.backend, self.deployment = plan, backend, deployment
        self.anyone = anyone                      # a client any party could use
        self.workers: list[Worker] = workers
        self.stakers: dict[str, Staker] = stakers
        self.codec, self.store, self.timer = codec, store, timer
        self.test_set, self.eval_model = test_set, eval_model
        self.byzantine_addresses = {w.address for w in workers
                                    if isinstance(w, ByzantineWorker) or _is_poisoned(w)}

    @property
    def name(self) -> str:
        return self.plan.name

    def run_round(self) -> RoundRecord:
        before = self.timer.snapshot()
        gas_before = self.anyone.gas_report.snapshot()
        ledger = self.anyone
        ledger.open_round()
        round_id = ledger.current_round()
        committee = ledger.committee(round_id)
        self.collect_updates(round_id)
        self.finish_phase(Phase.TRAIN)
        for address in committee.validators:
            self.stakers[address].validator.evaluate(round_id)
        self.finish_phase(Phase.EVALUATE)
        miners_tried, finalizer = self.finalize(round_id, committee)
        if finalizer is not None:
            finalizer.settle(round_id)
        return self.record(round_id, committee, miners_tried, finalizer, before, gas_before)

    def collect_updates(self, round_id: int) -> None:
        # Honest workers first: colluding attackers craft from the honest updates.
        for worker in sorted(self.workers, key=lambda w: isinstance(w, ByzantineWorker)):
            worker.act(round_id)

    def finalize(self, round_id: int, committee) -> tuple[list[str], Miner | None]:
        """Miners propose in order until the validators finalize one proposal."""
        tried = []
        ledger = self.anyone
        while ledger.phase() == Phase.AGGREGATE:
            address = ledger.current_miner(round_id)
            tried.append(address)
            miner = self.stakers[address].miner
            miner.propose(round_id)
            for v in committee.validators:
                if ledger.phase() != Phase.ATTEST:
                    break
                self.stakers[v].validator.review(round_id)
            if ledger.phase() == Phase.ATTEST:   # neither final nor rejected yet
                self.finish_phase(Phase.ATTEST)
            if ledger.is_final(round_id):
                return tried, miner
        return tried, None

    def finish_phase(self, phase) -> None:
        """Advance a phase that did not end early, once its deadline passed."""
        ledger = self.anyone
        if ledger.phase() != phase:
            return
        blocks = ledger.blocks_until_deadline()
        if blocks > 0:
            self.backend.mine(blocks)
        ledger.advance()

    def evaluate_global(self) -> tuple[float, float]:
        head = self.anyone.global_model()
        vec = self.codec.fetch(self.store, head.root, head.uri, head.fingerprint)
        self.eval_model.load_state_dict(self.codec.to_state(vec))
        return evaluate(self.eval_model, self.test_set)

    def record(self, round_id, committee, miners_tried, finalizer, before, gas_before
               ) -> RoundRecord:
        loss, accuracy = self.evaluate_global()
        candidates = self.anyone.candidates(round_id)
        weights = (finalizer.last_weights if finalizer is not None
                   else [0.0] * len(candidates))
        return RoundRecord(
            network=self.name, round=round_id, accuracy=accuracy, loss=loss,
            model_root=self.anyone.global_model().root.hex(),
            candidates=[c.owner for c in candidates],
            byzantine=[c.owner in self.byzantine_addresses for c in candidates],
            weights=[float(w) for w in weights],
            committee=list(committee.validators), miners_tried=miners_tried,
            finalized=finalizer is not None,
            seconds=self.timer.since(before),
            gas=self.anyone.gas_report.since(gas_before))


def _is_poisoned(worker: Worker) -> bool:
    return getattr(worker, "poisoned", False)


def spec_of(config: ExperimentConfig, rule: str) -> AggregationSpec:
    agg = config.aggregation
    return AggregationSpec(rule=rule, temperature=agg.temperature, params=dict(agg.params),
                           tolerance=agg.tolerance)


def training_settings(config: ExperimentConfig) -> TrainingSettings:
    t = config.training
    return TrainingSettings(epochs=t.local_epochs, batch_size=t.batch_size, lr=t.lr,
                            momentum=t.momentum, weight_decay=t.weight_decay)


def participant_seed(config: ExperimentConfig, plan: NetworkPlan, who: ParticipantPlan) -> int:
    kind = 0 if who.kind == "worker" else 1
    return (config.experiment.seed * 1_000_003 + plan.network_index * 10_007
            + kind * 1009 + who.index)


def timed(client, timer: PhaseTimer):
    return Timed(client, timer, "ledger")


def clone_model(model: torch.nn.Module) -> torch.nn.Module:
    import copy
    return copy.deepcopy(model)
