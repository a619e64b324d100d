"""The round's aggregate as a pure function of the round's committed inputs.

The miner computes it to propose, every validator recomputes it to attest, and
`poft verify --recompute` re-executes it from the stored blobs. All three call
`aggregate_round`, so they agree by construction; the validators' tolerance
(`AggregationSpec.tolerance`) only absorbs float noise between machines.

Inputs are what the chain fixes: the global model θ, the candidates θ_i in
on-chain order, and the validators' reported losses L[v, i] (decoded from
fixed point). A candidate is *admissible* when its approximated population loss
(median over validators) is finite and its parameters are finite.

* softmax (SABFL): w = softmax(-L / T) over admissible candidates, others 0;
  θ' = θ + Σ w_i (θ_i − θ).
* any baseline rule (Krum, median, ...): applied to the admissible deltas
  θ_i − θ; θ' = θ + rule(deltas). Reward weights are then uniform over the
  admissible candidates (these rules do not weight).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from poft.aggregation import MAX_F, get_rule
from poft.aggregation.robust_softmax import DEFAULT_HISTORY, DEFAULT_MOMENTUM, robust_weights
from poft.aggregation.softmax import approximate_population_loss, softmax_rule, softmax_weights
from poft.errors import PoftError
from poft.ledger import weights_to_fixed


class NoAdmissibleCandidate(PoftError, ValueError):
    """Every candidate of the round has a non-finite loss or non-finite parameters:
    there is nothing to aggregate. The miner does not propose; the round fails on
    chain at its AGGREGATE deadline (after the backup miners) and the next round
    starts from the same global model."""


@dataclass(frozen=True)
class AggregationSpec:
    rule: str = "softmax"
    temperature: float = 0.05
    params: dict = field(default_factory=dict)
    tolerance: float = 1e-5
    # The number of Byzantine updates an f-rule (Krum, trimmed mean, Bulyan) is told
    # to tolerate when params has no "f": the network's configured attackers, the
    # usual (favourable) convention for these baselines.
    assumed_byzantine: int = 0

    @property
    def momentum(self) -> float:
        """robust_softmax's server momentum β (0: none; see `_aggregate_robust`)."""
        if self.rule != "robust_softmax":
            return 0.0
        return float(self.params.get("momentum", DEFAULT_MOMENTUM))

    @property
    def uses_history(self) -> bool:
        """Whether the rule weighs each worker's history (robust_softmax's ``history``)."""
        return self.rule == "robust_softmax" and bool(self.params.get("history", DEFAULT_HISTORY))


def history_for(spec: AggregationSpec, history):
    """`history` (a `protocol.worker_history.WorkerHistory`) when the rule weighs the
    workers' histories, else None; a role that needs one and has none is a wiring
    error (it would compute other weights than its peers)."""
    if not spec.uses_history:
        return None
    if history is None:
        raise ValueError("robust_softmax with history = true needs the network's "
                         "WorkerHistory (poft.protocol.worker_history)")
    return history


@dataclass(frozen=True)
class RoundInputs:
    global_vec: torch.Tensor                # (d,) float32
    candidates: torch.Tensor                # (n, d) float32; a missing candidate is a NaN row
    losses: torch.Tensor                    # (v, n) float64, reported by the validators
    # The last step θ_t − θ_{t−1}: centered clipping's center (simulation), and
    # robust_softmax's momentum, where it is the step between the two latest final
    # models (`round_inputs.previous_step`): None before two rounds finalized.
    previous_delta: torch.Tensor | None = None
    # robust_softmax's history test: (n, k) sketched sums of each candidate's owner's
    # updates over the network's earlier final rounds and this round
    # (`protocol.worker_history`); None: off.
    history: torch.Tensor | None = None


@dataclass(frozen=True)
class RoundAggregate:
    model: torch.Tensor                     # (d,) float32, the proposed θ'
    weights: torch.Tensor                   # (n,) float64, reward weights, sum 1
    population_loss: torch.Tensor           # (n,) float64, median over validators

    @property
    def fixed_weights(self) -> list[int]:
        """The weights as settled on chain (fixed point, sum <= WEIGHT_SCALE)."""
        return weights_to_fixed(self.weights.tolist())


def aggregate_round(inputs: RoundInputs, spec: AggregationSpec) -> RoundAggregate:
    """θ' and the reward weights of one round (see the module docstring)."""
    n = inputs.candidates.shape[0]
    if spec.rule == "robust_softmax":
        return _aggregate_robust(inputs, spec)
    if inputs.losses.ndim != 2 or inputs.losses.shape[1] != n:
        raise ValueError(f"losses must have shape (validators, {n}), got "
                         f"{tuple(inputs.losses.shape)}")
    population = approximate_population_loss(inputs.losses.to(torch.float64))
    admissible = torch.isfinite(population) & torch.isfinite(inputs.candidates).all(dim=1)
    if not bool(admissible.any()):
        raise NoAdmissibleCandidate("no admissible candidate: every update has a non-finite loss "
                         "or non-finite parameters")
    theta = inputs.global_vec.to(torch.float64)
    deltas = inputs.candidates[admissible].to(torch.float64) - theta
    if spec.rule == "softmax":
        masked = torch.where(admissible, population, torch.full_like(population, float("inf")))
        weights = softmax_weights(masked, spec.temperature)
        delta = softmax_rule(deltas, weights[admissible])  # fixed-order float64 sum
    else:
        weights = admissible.to(torch.float64) / admissible.sum()
        delta = get_rule(spec.rule)(deltas, **rule_context(spec, inputs, deltas))
    return RoundAggregate(model=(theta + delta).to(torch.float32), weights=weights,
                          population_loss=population)


def _aggregate_robust(inputs: RoundInputs, spec: AggregationSpec) -> RoundAggregate:
    """Robust SABFL (`poft.aggregation.robust_softmax`): `inputs.losses` holds the
    validators' (v, 2n) reports [contributions, cosines]; a candidate is admissible
    when its parameters are finite. Weights: softmax of the median contribution over
    the admissible candidates whose median cosine is > gate_z/√d, each term multiplied by
    min(1, 2c/‖δ‖)², divided by its number of exact copies (`robust_discount`) and
    zeroed when its worker's history is an outlier in likeness (`inputs.history`); the
    model moves by the weighted sum of the admissible deltas clipped to `c`, the median
    norm of the candidates past the gate."""
    n = inputs.candidates.shape[0]
    reports = inputs.losses.to(torch.float64)
    if reports.ndim != 2 or reports.shape[1] != 2 * n:
        raise ValueError(f"robust_softmax reports must have shape (validators, {2 * n}), got "
                         f"{tuple(reports.shape)}")
    admissible = torch.isfinite(inputs.candidates).all(dim=1)
    if not (0.0 <= spec.momentum < 1.0):
        raise ValueError(f"robust_softmax momentum must be in [0, 1); got {spec.momentum}")
    theta = inputs.global_vec.to(torch.float64)
    deltas = inputs.candidates.to(torch.float64) - theta
    deltas = torch.where(admissible[:, None], deltas, torch.zeros_like(deltas))
    weights, factors = robust_weights(reports, deltas, spec.params, admissible,
                                      history=inputs.history)
    if spec.params.get("clip", True):
        deltas = deltas * factors[:, None]
    if float(weights.sum()) == 0.0:
        # As for the other rules: nothing to aggregate, so no proposal; on chain the
        # round fails at its deadline and the next one starts from the same model.
        raise NoAdmissibleCandidate("no admissible candidate: no update passed the validators' "
                                    "direction gate with finite scores")
    delta = softmax_rule(deltas, weights)
    if spec.momentum and inputs.previous_delta is not None:
        # Server momentum (heavy ball; FedAvgM, Hsu et al. 2019): the step keeps β of
        # the last one, which damps the round-to-round swing on heterogeneous data.
        delta = delta + spec.momentum * inputs.previous_delta.to(torch.float64)
    median_cos = reports[:, n:].median(dim=0).values   # reported as "population_loss"
    return RoundAggregate(model=(theta + delta).to(torch.float32), weights=weights,
                          population_loss=median_cos)


def matches(proposed: torch.Tensor, recomputed: torch.Tensor, tolerance: float) -> bool:
    """Whether a proposed model equals the recomputed one within `tolerance`."""
    if proposed.shape != recomputed.shape or not bool(torch.isfinite(proposed).all()):
        return False
    return bool((proposed - recomputed).abs().max() <= tolerance)


def rule_context(spec: AggregationSpec, inputs: RoundInputs, deltas: torch.Tensor) -> dict:
    """The rule's parameters plus what the round supplies: default f, and centered
    clipping's center (last round's aggregate delta) and radius."""
    params = resolve_rule_params(spec.rule, spec.params, candidates=len(deltas),
                                 byzantine=spec.assumed_byzantine)
    if spec.rule == "centered_clipping":
        center = inputs.previous_delta
        if center is not None:
            params.setdefault("center", center.to(torch.float64))
        if "tau" not in params:
            params["tau"] = clipping_radius(deltas, params.get("center"))
    return params


def resolve_rule_params(rule: str, params: dict, *, candidates: int, byzantine: int) -> dict:
    """Configured parameters plus the default f: the assumed Byzantine count, at least 1,
    capped at the largest f the rule allows for the round's candidates."""
    params = dict(params)
    if rule in MAX_F and "f" not in params:
        params["f"] = max(0, min(max(byzantine, 1), MAX_F[rule](candidates)))
    return params


def clipping_radius(deltas: torch.Tensor, center: torch.Tensor | None) -> float:
    """Default centered-clipping tau: the median offset ||δ_i − center||. The right radius
    is of the order of the honest updates' spread around the center (Karimireddy et al.
    2021); with an honest majority the median offset is such a scale, where a fixed
    constant would clip nothing on small models."""
    offsets = deltas if center is None else deltas - center
    radius = float(torch.linalg.vector_norm(offsets, dim=1).median())
    return radius if radius > 0 else 1.0   # all updates equal to the center: nothing to clip
