"""One network stepped in-process: its ledger, its participants' roles, one round.

`NetworkRuntime.run_round` walks a SABFL round through the chain's phases in
order (open → train → evaluate → aggregate → attest → settle), calling the same
role code the node driver runs in separate processes. A phase that did not end
early (e.g. a worker stayed silent) is advanced once its deadline has passed.
How the runtime is assembled lives in `poft.drivers.participants`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from poft.drivers.executor import TrainJob
from poft.learning.datasets import ArrayDataset
from poft.learning.training import evaluate
from poft.ledger import Phase
from poft.outputs.economics import round_money
from poft.outputs.metrics import ChainRoundRecord
from poft.protocol.aggregate import NoAdmissibleCandidate
from poft.protocol.miner import Miner
from poft.protocol.models_io import ModelCodec
from poft.protocol.timing import PhaseTimer
from poft.protocol.validator import Validator
from poft.protocol.worker import Trainer, Worker

log = logging.getLogger(__name__)


@dataclass
class Staker:
    """A committee-eligible participant: validator when sampled so, miner likewise."""

    validator: Validator
    miner: Miner


class NetworkRuntime:
    def __init__(self, *, name: str, backend, deployment, anyone, workers: list[Worker],
                 stakers: dict[str, Staker], byzantine: set[str], codec: ModelCodec, store,
                 test_set: ArrayDataset, eval_model, timer: PhaseTimer, spec, genesis_uri: str,
                 import_policy: str = "candidate"):
        self.name, self.backend, self.deployment = name, backend, deployment
        self.anyone = anyone                  # a client any party could use (open, advance)
        self.workers, self.stakers, self.byzantine = workers, stakers, byzantine
        self.codec, self.store, self.timer = codec, store, timer
        self.test_set, self.eval_model = test_set, eval_model
        self.spec, self.genesis_uri, self.import_policy = spec, genesis_uri, import_policy
        self.before_train = []                # hooks: e.g. the relayer adds imported candidates
        # Where local training runs (`poft.drivers.executor`); None: each worker trains
        # itself in turn. The driver sets a shared one over every network's `trainers()`.
        self.executor = None

    def trainers(self) -> dict[tuple[str, int], Trainer]:
        """What each worker trains with, by key (network, worker position)."""
        return {(self.name, i): w.trainer for i, w in enumerate(self.workers)}

    def run_round(self) -> ChainRoundRecord:
        seconds_before = self.timer.snapshot()
        gas_before = _gas_totals(self.backend)
        round_id = self.anyone.open_round()
        committee = self.anyone.committee(round_id)
        for hook in self.before_train:
            hook(self, round_id)
        self.seal()
        self.collect_updates(round_id)
        self.seal()
        self.finish_phase(Phase.TRAIN)
        for address in committee.validators:
            self.stakers[address].validator.evaluate(round_id)
        self.seal()
        self.finish_phase(Phase.EVALUATE)
        tried, finalizer = self.finalize(round_id, committee)
        self.seal()
        weights = finalizer.settle(round_id).weights.tolist() if finalizer else []
        self.seal()
        record = self.record(round_id, committee, tried, weights, seconds_before, gas_before)
        self.release_candidates()
        return record

    def release_candidates(self) -> None:
        """Drop the round's candidate vectors every role kept (each validator, miner and
        crafting attacker its own: one (n, d) set each, which at 1,000 workers is
        ~200 MB per role, held until that role's next committee seat)."""
        for staker in self.stakers.values():
            staker.validator.cache.clear()
            staker.miner.cache.clear()
        for worker in self.workers:
            cache = getattr(worker, "cache", None)
            if cache is not None:
                cache.clear()

    def collect_updates(self, round_id: int) -> None:
        # The global model cannot change during TRAIN: read its head once for all
        # workers (one read per worker was ~10% of a 100-worker round).
        head = self.anyone.global_model()
        # Honest workers first: colluding attackers craft from the honest updates.
        ordered = sorted(range(len(self.workers)), key=lambda i: self.workers[i].crafts)
        if self.executor is None:
            for i in ordered:
                self.workers[i].act(round_id, head)
            return
        # The executor trains the honest workers side by side; each update is submitted
        # as soon as it and those before it are trained, in the serial order.
        trained = [i for i in ordered if not self.workers[i].crafts]
        jobs = [TrainJob((self.name, i), self.workers[i].start_model(head),
                         self.workers[i].generator) for i in trained]
        vectors = self.executor.imap(jobs)
        for i in trained:
            with self.timer.phase("train"):
                vec = next(vectors)
            self.workers[i].submit(round_id, vec)
        for i in ordered[len(trained):]:
            self.workers[i].act(round_id, head)

    def finalize(self, round_id: int, committee) -> tuple[list[str], Miner | None]:
        """Miners propose in order until the validators finalize one proposal. A miner
        with nothing admissible to aggregate does not propose: the AGGREGATE deadline
        passes, the chain moves to the next backup miner, and with none left the round
        fails (the global model stays)."""
        tried = []
        while self.anyone.phase() == Phase.AGGREGATE:
            address = self.anyone.round_state().current_miner
            tried.append(address)
            miner = self.stakers[address].miner
            try:
                miner.propose(round_id)
            except NoAdmissibleCandidate as exc:
                log.warning("%s round %d: miner %s does not propose: %s", self.name,
                            round_id, address, exc)
                self.finish_phase(Phase.AGGREGATE)
                continue
            for validator in committee.validators:
                if self.anyone.phase() != Phase.ATTEST:
                    break       # final, or rejected by > 1/3 of the stake
                self.stakers[validator].validator.review(round_id)
            self.finish_phase(Phase.ATTEST)
            if self.anyone.checkpoint(round_id) is not None:
                return tried, miner
        return tried, None

    def seal(self) -> None:
        """End the block: the embedded chain holds a step's transactions (all updates of
        a round, all loss reports...) in one pending block, whose state root is then
        computed once rather than once per transaction. A block is also ended when the
        next transaction would not fit its gas limit."""
        with self.timer.phase("ledger"):
            self.backend.seal()

    def finish_phase(self, phase: Phase) -> None:
        """Advance `phase` if it did not end early, mining up to its deadline first."""
        if self.anyone.phase() != phase:
            return
        remaining = self.anyone.deadline() - self.backend.block_number
        if remaining >= 0:
            self.backend.mine(remaining + 1)
        self.anyone.advance()

    def evaluate_global(self) -> tuple[float, float]:
        head = self.anyone.global_model()
        vec = self.codec.fetch(self.store, head.root, head.uri, head.fingerprint)
        self.eval_model.load_state_dict(self.codec.to_state(vec))
        return evaluate(self.eval_model, self.test_set)

    def record(self, round_id, committee, tried, weights, seconds_before, gas_before
               ) -> ChainRoundRecord:
        with self.timer.phase("test"):
            loss, accuracy = self.evaluate_global()
        candidates = self.anyone.candidates(round_id)
        workers = {w.ledger.account.address for w in self.workers}
        rewards, slashed = round_money(self.anyone, round_id, workers, self.byzantine)
        return ChainRoundRecord(
            network=self.name, round=round_id, accuracy=accuracy, loss=loss,
            model_root=self.anyone.global_model().root.hex(), finalized=bool(weights),
            candidates=[c.owner for c in candidates],
            byzantine=[c.owner in self.byzantine for c in candidates],
            imported=[c.is_import for c in candidates],
            weights=weights or [0.0] * len(candidates),
            committee=list(committee.validators), miners_tried=tried,
            seconds=self.timer.since(seconds_before),
            gas={k: v - gas_before.get(k, 0) for k, v in _gas_totals(self.backend).items()
                 if v - gas_before.get(k, 0)},
            rewards=rewards, slashed=slashed)


def _gas_totals(backend) -> dict[str, int]:
    return {row.kind: row.total for row in backend.gas_report.rows()}
