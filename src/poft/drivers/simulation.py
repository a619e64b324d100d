"""The no-ledger driver: SABFL federated training without chain or store.

`simulate(config)` runs the same federated training as `poft run` — the same
population plan (`plan_population`), local training (`local_train`), attacks
(`poft.attacks`), validator scoring (`batched_losses`) and aggregation
(`aggregate_round`, the one function the on-chain miner and validators call) —
but passes vectors in memory instead of committing them to a chain and a blob
store. It is the engine of `poft bench robustness` and the convex study, and
the "no-ledger baseline" that the ledger-overhead benchmark compares against,
so it does all the learning work the protocol does and nothing less.

One round of one network, as on chain:

1. train: honest workers (and data-attack workers, on their poisoned data)
   train from the global model; then each colluding Byzantine worker crafts
   its vector from all honest deltas of the round (omniscient ALIE/IPM
   setting), as `protocol.worker.ByzantineWorker` does. Candidates are in
   submission order: honest first, then the update attackers.
2. evaluate: the committee's `validators` stakers — drawn uniformly without
   replacement each round, which is what the contract's stake-weighted draw is
   when, as in every config, all stakers hold the same stake — score every
   candidate on their own data; lying stakers report uniform random losses in
   [0, 5), as `protocol.validator.Validator` does.
3. aggregate: `aggregate_round` with the network's rule.

What differs from the chain, and why it does not change the model: there is
no miner that could cheat (on chain the validators reject a wrong aggregate
and a backup miner proposes the correct one, so the finalized model is the
same), no rewards or slashing, and no cross-chain exchange: every network
trains alone (the `[crosschain]` section is ignored).

Rule context (the defaults of ``f`` and of centered clipping's ``tau`` come
from `poft.protocol.aggregate.rule_context`, shared with the chain):

* ``reference`` (fltrust): an update that the round's first validator trains
  from the global model on its own scoring data with the workers' training
  settings — the validators' data are FLTrust's clean "root dataset".
* ``center`` (centered_clipping): last round's aggregate delta
  (`SimNetwork.step_before`); zero in the first round.
* ``tau`` (centered_clipping), when not configured: the median over the
  round's candidates of ``‖δ_i − center‖``. The right clipping radius is of the
  order of the honest updates' spread around the center (Karimireddy et al.
  2021), whose scale depends on model, data and learning rate; with an honest
  majority this median is such a scale, and a fixed default (the rule's 10.0)
  would clip nothing on small models.

Seeds: as in `poft run` (`drivers.inprocess`, `drivers.assembly`), the
experiment seed sets the data subsamples, the population plan, the initial
model, every participant's RNG (batch order, poisoning, noise) — so workers
train on the same data from the same model with the same batches as on chain —
and here also the committees, so the same config gives the same numbers.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from poft.aggregation.history import sketch
from poft.aggregation.robust_softmax import scoring_options
from poft.attacks import CONTEXT, DATA_ATTACKS, UPDATE_ATTACKS, attack_success_rate, finite_rows, nontarget
from poft.config.experiment import ExperimentConfig
from poft.config.population import NetworkPlan, ParticipantPlan, plan_population
from poft.drivers.executor import TrainJob, make_executor
from poft.drivers.participants import training_settings
from poft.drivers.setup import (
    ExperimentData,
    initial_model,
    load_experiment_data,
    participant_seed,
    poisoned,
    spec_of,
)
from poft.drivers.simulation_results import NetworkResult, SimulatedRound, SimulationResult
from poft.errors import InputError
from poft.learning.batched_eval import batched_losses
from poft.learning.datasets import ArrayDataset
from poft.learning.params import flatten, unflatten
from poft.learning.robust_scoring import robust_report
from poft.learning.training import evaluate, local_train
from poft.protocol.aggregate import (
    AggregationSpec,
    NoAdmissibleCandidate,
    RoundInputs,
    aggregate_round,
)
from poft.protocol.timing import PhaseTimer
from poft.protocol.worker import Trainer

log = logging.getLogger(__name__)

TRIGGER_KEYS = ("size", "value", "corner", "image_shape")

# ---------------------------------------------------------------- participants

@dataclass
class SimParticipant:
    plan: ParticipantPlan
    data: ArrayDataset
    generator: torch.Generator


class SimNetwork:
    """One network's participants and global model, stepped one round at a time."""

    def __init__(self, config: ExperimentConfig, plan: NetworkPlan, data: ExperimentData,
                 genesis: torch.nn.Module, rule: str, timer: PhaseTimer):
        self.config, self.plan, self.timer, self.rule = config, plan, timer, rule
        self.net = plan.config
        self.test = data.test
        self.model = copy.deepcopy(genesis)
        self.template = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.global_vec = flatten(self.template)
        # The network's models, last three: the genesis model, then each final one.
        self.models: list[torch.Tensor] = [self.global_vec]
        # Each worker's sketched sum of updates over the final rounds, as the chain's
        # roles derive it (`protocol.worker_history`): robust_softmax's history test.
        self.histories: dict[int, torch.Tensor] = {}
        self.attack_params = dict(self.net.attack_params)
        self.trigger = self._trigger_params(data.train)
        self.workers = [self._participant(w, data.train) for w in plan.workers]
        self.stakers = [self._participant(s, data.train) for s in plan.stakers]
        self.committee_rng = np.random.default_rng(
            [config.experiment.seed, plan.network_index, 0xC0])
        self.spec = spec_of(config, plan.config, rule)
        self.result = NetworkResult(plan.name, rule, [w.byzantine for w in plan.workers])
        self.executor = None          # where honest workers train; None: here, in turn

    def trainers(self) -> dict[tuple[int, int], Trainer]:
        """What each worker trains with, by key (network index, worker index)."""
        settings = training_settings(self.config)
        return {(self.plan.network_index, w.plan.index): Trainer(self.model, w.data, settings)
                for w in self.workers}

    # -- setup

    def _participant(self, who: ParticipantPlan, train: ArrayDataset) -> SimParticipant:
        seed = participant_seed(self.config, self.plan, who)
        data = train.subset(who.data_indices)
        if who.byzantine and self.net.attack in DATA_ATTACKS:
            data = poisoned(data, self.net, seed)
        return SimParticipant(who, data, torch.Generator().manual_seed(seed))

    def _trigger_params(self, train: ArrayDataset) -> dict:
        """The backdoor's trigger (size, value, corner, ...), to measure its success
        with the trigger the attackers trained on."""
        if self.net.attack != "backdoor":
            return {}
        if len(train.input_shape) < 2:
            raise InputError(f"network {self.net.name!r}: the backdoor attack stamps a trigger "
                             f"on images; dataset {self.config.data.dataset!r} has flat "
                             f"features {train.input_shape}")
        return {k: v for k, v in self.attack_params.items() if k in TRIGGER_KEYS}

    @property
    def update_attack(self) -> str | None:
        return self.net.attack if self.net.attack in UPDATE_ATTACKS else None

    # -- one round

    def run_round(self, round_id: int) -> SimulatedRound:
        theta = self.global_vec
        order, candidates = self.collect_candidates(theta)
        committee = self.draw_committee()
        if self.rule == "robust_softmax":
            losses = torch.stack([self.robust_score(v, theta, candidates) for v in committee])
        else:
            with self.timer.phase("evaluate"):
                losses = torch.stack([self.score(v, candidates) for v in committee])
        # FLTrust's reference is local training: booked under "train", outside "aggregate".
        reference = (self.reference_update(theta, committee[0])
                     if self.rule == "fltrust" else None)
        weights = [0.0] * len(self.workers)
        with self.timer.phase("aggregate"):
            spec = self.round_spec(theta, candidates, reference)
            try:
                history = self.history_through(order, theta, candidates) if spec.uses_history else None
                result = aggregate_round(RoundInputs(theta, candidates, losses,
                                                     self.step_before(spec), history), spec)
            except NoAdmissibleCandidate:
                result = None   # the round fails, as on chain: the model stays
        if result is not None:
            if history is not None:     # a final round: its updates join the histories
                self.histories.update({worker: history[position]
                                       for position, worker in enumerate(order)})
            self.models = (self.models + [result.model])[-3:]
            self.global_vec = result.model
            for position, worker_index in enumerate(order):
                weights[worker_index] = float(result.weights[position])
        record = self.record(round_id, weights)
        self.result.add(record)
        return record

    def history_through(self, order: list[int], theta: torch.Tensor,
                        candidates: torch.Tensor) -> torch.Tensor:
        """(n, k) histories of the round's workers: their sums over the final rounds
        before it plus this round's updates (`protocol.worker_history`, as on chain)."""
        current = sketch(candidates.to(torch.float64) - theta.to(torch.float64))
        return torch.stack([current[p] + self.histories[w] if w in self.histories else current[p]
                            for p, w in enumerate(order)])

    def step_before(self, spec) -> torch.Tensor | None:
        """What the round gets as its previous step, the last model's step from the one
        before: robust_softmax's momentum once two rounds are final, as on chain
        (`protocol.round_inputs.previous_step`); centered clipping from the first final
        round on (its step from the genesis model)."""
        if len(self.models) < (3 if spec.momentum else 2):
            return None
        return self.models[-1].to(torch.float64) - self.models[-2].to(torch.float64)

    def collect_candidates(self, theta: torch.Tensor) -> tuple[list[int], torch.Tensor]:
        """(worker index of each candidate, (n, d) candidates) in submission order."""
        honest = [w for w in self.workers if not (w.plan.byzantine and self.update_attack)]
        attackers = [w for w in self.workers if w.plan.byzantine and self.update_attack]
        if self.executor is None:
            vectors = [self.local_update(w, theta) for w in honest]
        else:
            with self.timer.phase("train"):
                vectors = self.executor.train([
                    TrainJob((self.plan.network_index, w.plan.index), theta, w.generator)
                    for w in honest])
        honest_deltas = (torch.stack(vectors).to(torch.float64) - theta.to(torch.float64)
                         if vectors else None)
        vectors += [self.craft(w, theta, honest_deltas) for w in attackers]
        return [w.plan.index for w in honest + attackers], torch.stack(vectors)

    def local_update(self, who: SimParticipant, start: torch.Tensor) -> torch.Tensor:
        """The model after `who`'s local training from `start`, as a flat vector."""
        with self.timer.phase("train"):
            self.model.load_state_dict(unflatten(start, self.template))
            t = self.config.training
            local_train(self.model, who.data, epochs=t.local_epochs, batch_size=t.batch_size,
                        lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay,
                        generator=who.generator)
            return flatten(self.model.state_dict())

    def craft(self, who: SimParticipant, theta: torch.Tensor,
              honest_deltas: torch.Tensor | None) -> torch.Tensor:
        """A colluding Byzantine worker's vector, as `ByzantineWorker.act` forms it."""
        theta64 = theta.to(torch.float64)
        honest_deltas = finite_rows(honest_deltas)
        if honest_deltas is None:   # nothing (finite) to imitate: look like an honest worker
            own = self.local_update(who, theta)
            if not bool(torch.isfinite(own).all()):
                return own          # diverged too: an update every validator refuses
            honest_deltas = (own - theta).unsqueeze(0).double()
        params = dict(self.attack_params)
        if self.update_attack == "scaling":
            own = self.local_update(who, theta)
            if not bool(torch.isfinite(own).all()):
                return own          # its own training diverged: nothing to boost
            params["own_delta"] = own - theta
        if "generator" in CONTEXT.get(self.update_attack, {}):    # its own random draws
            params.setdefault("generator", who.generator)
        if self.update_attack == "alie" and "z" not in params:
            params.setdefault("n", len(self.workers))
            params.setdefault("f", sum(w.plan.byzantine for w in self.workers))
        with self.timer.phase("attack"):
            malicious = UPDATE_ATTACKS[self.update_attack](honest_deltas, **params)
        return (theta64 + malicious.to(torch.float64)).to(torch.float32)

    def draw_committee(self) -> list[SimParticipant]:
        k = min(self.net.validators, len(self.stakers))
        chosen = self.committee_rng.choice(len(self.stakers), size=k, replace=False)
        return [self.stakers[i] for i in chosen.tolist()]

    def score(self, validator: SimParticipant, candidates: torch.Tensor) -> torch.Tensor:
        """The validator's loss report: +inf for non-finite candidates (refused)."""
        n = candidates.shape[0]
        if validator.plan.lying:
            return (torch.rand(n, generator=validator.generator) * 5).to(torch.float64)
        losses = torch.full((n,), math.inf, dtype=torch.float64)
        usable = torch.isfinite(candidates).all(dim=1)
        if bool(usable.any()):
            scored = batched_losses(self.model, self.stacked(candidates[usable]), validator.data)
            losses[usable] = torch.where(torch.isfinite(scored), scored,
                                         torch.full_like(scored, math.inf))
        return losses

    def robust_score(self, validator: SimParticipant, theta: torch.Tensor,
                     candidates: torch.Tensor) -> torch.Tensor:
        """The validator's robust SABFL report [contributions, cosines] (2n,): it trains
        its own reference update, then scores (`poft.learning.robust_scoring`)."""
        n = candidates.shape[0]
        if validator.plan.lying:
            return (torch.rand(2 * n, generator=validator.generator) * 5).to(torch.float64)
        reference = self.reference_update(theta, validator)
        with self.timer.phase("evaluate"):
            return robust_report(self.model, theta, candidates, validator.data, reference,
                                 **scoring_options(self.spec.params))

    def stacked(self, vectors: torch.Tensor) -> dict[str, torch.Tensor]:
        """Rows of flat vectors as a stacked state ``{name: (n, *shape)}`` (sorted-key order)."""
        out, offset, n = {}, 0, vectors.shape[0]
        for key in sorted(self.template):
            like = self.template[key]
            out[key] = vectors[:, offset:offset + like.numel()].reshape(n, *like.shape)
            offset += like.numel()
        return out

    def round_spec(self, theta: torch.Tensor, candidates: torch.Tensor,
                   reference: torch.Tensor | None) -> AggregationSpec:
        """The aggregation spec with this round's rule context filled in."""
        params = dict(self.spec.params)
        if reference is not None:
            params["reference"] = reference
        return dataclasses.replace(self.spec, params=params)

    def reference_update(self, theta: torch.Tensor, validator: SimParticipant) -> torch.Tensor:
        """FLTrust's server update: the validator trains on its own scoring data."""
        return (self.local_update(validator, theta).double() - theta.double())

    def record(self, round_id: int, weights: list[float]) -> SimulatedRound:
        with self.timer.phase("test"):
            self.model.load_state_dict(unflatten(self.global_vec, self.template))
            loss, accuracy = evaluate(self.model, self.test)
            asr = self.backdoor_success() if self.net.attack == "backdoor" else None
        return SimulatedRound(self.plan.name, round_id, accuracy, loss, weights,
                           list(self.result.byzantine), asr, self.global_vec.clone())

    def backdoor_success(self) -> float:
        target = self.attack_params.get("target", 0)
        victims = nontarget(self.test.x, self.test.y, target)
        return attack_success_rate(self.model, victims, target=target, **self.trigger)


# ---------------------------------------------------------------- driver

def simulate(config: ExperimentConfig, *, progress: bool = False, rule: str | None = None,
             on_round: Callable[[SimulatedRound], None] | None = None) -> SimulationResult:
    """Run every round of every network without a ledger (see the module docstring).

    ``rule`` overrides every network's aggregation rule; ``on_round`` is called
    with each `SimulatedRound` as soon as the round is done.
    """
    if config.experiment.threads > 0:
        torch.set_num_threads(config.experiment.threads)
    if config.crosschain.enabled:
        log.warning("simulate: [crosschain] is ignored; each network trains on its own")
    timer = PhaseTimer()
    with timer.phase("total"):
        data = load_experiment_data(config)
        plans = plan_population(config, data.train.y.numpy())
        genesis = initial_model(config, data.train)
        networks = [SimNetwork(config, plan, data, genesis, rule or config.rule_of(plan.config),
                               timer) for plan in plans]
        rounds = config.experiment.rounds
        executor = make_executor({k: t for n in networks for k, t in n.trainers().items()},
                                 config.experiment.parallel_workers, config.experiment.cluster)
        for network in networks:
            network.executor = executor if executor.remote else None
        with executor, tqdm(total=rounds * len(networks), disable=not progress, unit="round",
                  desc=config.experiment.name, dynamic_ncols=True) as bar:
            for round_id in range(1, rounds + 1):
                for network in networks:
                    record = network.run_round(round_id)
                    if on_round is not None:
                        on_round(record)
                    bar.update(1)
                    bar.set_postfix_str(f"{record.network}={record.accuracy:.3f}")
    totals = timer.totals
    timing = {f"{phase}_s": totals.get(phase, 0.0)
              for phase in ("train", "attack", "evaluate", "aggregate", "test", "total")}
    return SimulationResult({n.plan.name: n.result for n in networks}, timing)


__all__ = ["SimulatedRound", "NetworkResult", "SimulationResult", "ExperimentData",
           "load_experiment_data", "initial_model", "simulate"]
