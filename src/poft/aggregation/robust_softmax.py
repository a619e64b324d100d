r"""Robust SABFL: softmax weights of *gated, normalised contribution* scores.

The paper rule (:mod:`poft.aggregation.softmax`) weights each candidate by the
loss it reaches *alone*. That cannot tell a step back from a step forward
(``θ − ε μ`` scores like ``θ``), and on heterogeneous data no honest update is
good alone, so whatever stays near ``θ`` wins. This rule keeps SABFL's shape —
validators score the candidates on their own data, the miner turns the median
(over validators) of the scores into softmax weights — and changes *what* is
scored. Each validator ``j`` reports two numbers per candidate ``i``
(:func:`poft.learning.robust_scoring.robust_report` computes them):

* ``cos_{j,i} = cos(δ_i, r_j)``: the direction check of FLTrust (Cao et al.
  2021, NDSS), against ``r_j``, the update validator ``j`` trains itself on
  its own data with the workers' training settings, from where the round's
  workers start (``θ``, or its blend with a cross-chain import under the
  init/merge policies, :func:`poft.protocol.validator.training_start`), as a
  step from ``θ``;
* ``v_{j,i}``: candidate ``i``'s *contribution* to a robust reference
  aggregate, leave-one-out (Shapley-style marginal value, as in the scoring
  probe and in Zeno's descent score, Xie et al. 2019, ICML), measured as a loss
  difference on the validator's data and divided by its spread. The reference
  is ``A_j = mean_{i ∈ G_j} δ̄_i`` over the *clipped* updates that pass the
  validator's own direction check, ``G_j = {i : cos_{j,i} > z/√d}``:

.. math::

    \bar\delta_i = \delta_i \min\!\left(1, \frac{c}{\lVert\delta_i\rVert}\right),\quad
    c = \operatorname{median}_k \lVert\delta_k\rVert \qquad \text{(norm clipping)}

    u_{j,i} = \begin{cases}
        \ell_j(\theta + A_j^{-i}) - \ell_j(\theta + A_j) & i \in G_j \text{ (value of keeping it)}\\
        \ell_j(\theta + A_j) - \ell_j(\theta + A_j^{+i}) & i \notin G_j \text{ (value of adding it)}
    \end{cases},\qquad
    v_{j,i} = u_{j,i} / \max\!\left(\operatorname{std}_k u_{j,k},\ \kappa\,\ell_j(\theta + A_j)\right)

(``A^{-i}``/``A^{+i}``: the mean over ``G_j`` without/with ``δ̄_i``). The
report of validator ``j`` is the ``2n`` vector ``[v_{j,1..n}, cos_{j,1..n}]``.

The miner (and every validator recomputing it) then computes, with Python
floats in a fixed order:

.. math::

    S_i = \operatorname{median}_j v_{j,i},\quad C_i = \operatorname{median}_j cos_{j,i},\quad
    \mathcal A = \{i : C_i > z/\sqrt d,\ S_i, C_i \text{ finite}\}

    w_i = \frac{f_i \exp(S_i / T)}{\sum_{k \in \mathcal A} f_k \exp(S_k / T)}\ (i \in \mathcal A),\ 0 \text{ otherwise},
    \qquad f_i = \frac{h_i}{k_i^{p}}\min\!\left(1, \frac{2m}{\lVert\delta_i\rVert}\right)^{2}

    \theta' = \theta + \sum_i w_i\,\bar\delta_i + \beta\,\Delta_{\text{prev}}

(``c``: the median norm of the candidates in ``𝒜``, so updates the gate refuses
cannot move it, but at most twice the median norm of every admissible candidate,
``params.cap_radius`` (:mod:`poft.aggregation.clipping`), so that scaled updates
cannot set it when the gate refuses more honest updates than theirs; ``m``: the
median norm of every admissible candidate (``params.discount_admissible``; off:
``m = c``); ``f_i``: the clip discount, ``params.clip_discount``: an update more
than twice ``m`` loses weight with the square of its excess, so noise and scaled
updates, which clipping makes look like honest ones, keep little weight and reward
(the margin 2 leaves heterogeneous honest updates alone; with margin 1 and power 1
Dirichlet 0.1 lost up to 6 points); ``k_i``: the duplicate split,
``params.split_duplicates``: the number of candidates in the round equal to
``δ_i`` (:func:`duplicate_counts`), raised to ``params.duplicate_power`` ``p`` (2
by default): at ``p = 1`` colluders sending one vector share one weight, at ``p =
2`` they share a ``1/k`` part of one, so copies cost them (honest workers, with
their own data and seeds, never send copies); both on by default; ``h_i``: the
history test, ``params.history`` (on by default): 0 for a worker whose running sum
of updates is an outlier in likeness to another worker's
(:mod:`poft.aggregation.history`; backdoor colluders on heterogeneous data, who
look like honest specialists within any one round), else 1; ``κ``:
``params.score_floor``, off (0) by default (:data:`DEFAULT_SCORE_FLOOR`): with ``κ
> 0`` contributions under ``κ`` of the loss count as ties, so the scores shrink
with them and the weights become uniform as the updates agree, which the rule
needs to converge in the convex study (``κ = 0.01`` there); on Fashion-MNIST,
where 10 rounds are far from the optimum, ``κ = 0.01`` cost Dirichlet 0.1 five
points of clean accuracy, so it is off by default; ``β``: the server momentum,
``params.momentum``, 0.5 by default (:data:`DEFAULT_MOMENTUM`); ``Δ_prev``: the
step between the two latest final models, read from the chain, none before two
rounds finalized; applied by :func:`poft.protocol.aggregate.aggregate_round`,
since this module sees one round only.)

What each part is for (measured in docs/results/sabfl-research.md): clipping
to the median norm bounds what any one update can move (scaling, Gaussian —
Karimireddy et al. 2021's clipping with a robust radius); the direction gate
removes steps back (sign flip, IPM) that loss-only scoring rewards; scoring
the *contribution* to a robust aggregate instead of the loss alone lets
specialists on heterogeneous data score by what they add, and demotes updates
that pass the gate but hurt the aggregate (ALIE, label flip); the median over
validators bounds what a minority of lying validators can do; dividing by the
spread makes the temperature scale-free, so one setting serves IID and non-IID
data: ``T = 3`` (:data:`DEFAULT_TEMPERATURE`). At ``T = 1`` one honest specialist
could take ~40% of a round on Dirichlet 0.1 and the aggregate swung by up to 8
points between rounds; ``T = 3`` keeps the ordering but flattens it (measured in
docs/results/sabfl-research.md: worst case over the attacks on Dirichlet 0.1
seed 1 0.567 → 0.669, on Dirichlet 0.5 0.746 → 0.81). The gate's
threshold ``z/√d`` (``z = 3``) is three standard deviations of the cosine of a
random direction with a fixed one in ``R^d``: noise (the Gaussian attack),
whose cosine with any reference is ``O(1/√d)``, does not pass, while honest
updates on Fashion-MNIST have cosines of 0.04-0.5 (``d = 40k``: threshold
0.015). Without the margin (gate at 0) half of the noise vectors passed and
took 24% of the weight on Dirichlet 0.1 (the measurements).

``cap`` (off by default; an ablation) bounds any weight by ``cap/|𝒜|`` (water-filling,
:func:`capped_shares`); ``cap = 1`` makes the rule the gated, clipped mean.

Robust scores are clamped: ``cos`` to ``[−1, 1]`` and ``v`` to
``[−clamp, clamp]``, so a lying validator's extreme report moves a median no
further than an honest extreme one. A non-finite report (NaN: the candidate was
refused) counts as "no": it makes the candidate's median non-finite only when
a majority of validators refused it, and then the candidate gets weight 0.
When no candidate passes, the model does not move (all weights 0).
"""

from __future__ import annotations

import hashlib
import math

import torch

from poft.aggregation._checks import (
    DTYPE,
    averaged_median,
    boolean_problem,
    check_int,
    check_positive,
    integer_problem,
    number_problem,
    one_of_problem,
)
from poft.aggregation.capping import capped_shares
from poft.aggregation.clipping import capped_clip_factors, clip_factors, median_norm_clip
from poft.aggregation.history import DEFAULT_HISTORY_MADS, DEFAULT_HISTORY_NEIGHBOURS, history_factors

DEFAULT_CLAMP = 10.0
DEFAULT_TEMPERATURE = 3.0
DEFAULT_MOMENTUM = 0.5
DEFAULT_GATE_Z = 3.0
DEFAULT_SCORE_FLOOR = 0.0
DEFAULT_CLIP_DISCOUNT = True
DEFAULT_SPLIT_DUPLICATES = True
DEFAULT_DUPLICATE_POWER = 2.0
DEFAULT_HISTORY = True
DEFAULT_CAP_RADIUS = True
DEFAULT_DISCOUNT_ADMISSIBLE = True
DISCOUNT_MARGIN = 2.0    # updates up to 2x the median norm keep their whole weight
# The defaults a run's summary reports beside the parameters a config sets.
DEFAULTS = {"temperature": DEFAULT_TEMPERATURE, "gate_z": DEFAULT_GATE_Z,
            "momentum": DEFAULT_MOMENTUM, "score_floor": DEFAULT_SCORE_FLOOR,
            "clip_discount": DEFAULT_CLIP_DISCOUNT, "split_duplicates": DEFAULT_SPLIT_DUPLICATES,
            "duplicate_power": DEFAULT_DUPLICATE_POWER, "history": DEFAULT_HISTORY,
            "history_mads": DEFAULT_HISTORY_MADS, "history_neighbours": DEFAULT_HISTORY_NEIGHBOURS,
            "cap_radius": DEFAULT_CAP_RADIUS, "discount_admissible": DEFAULT_DISCOUNT_ADMISSIBLE}


# The rule's parameters (``[aggregation] params``) and what each accepts; the config
# checks them before a run starts (`param_problem`).
PARAMS = {
    "temperature": number_problem(0.0, low_open=True), "gate_z": number_problem(0.0),
    "clamp": number_problem(0.0, low_open=True), "gate": boolean_problem,
    "clip": boolean_problem, "score": one_of_problem("contribution", "cosine"),
    "cap": number_problem(1.0), "momentum": number_problem(0.0, 1.0, high_open=True),
    "score_floor": number_problem(0.0), "clip_discount": boolean_problem,
    "split_duplicates": boolean_problem, "duplicate_power": number_problem(1.0),
    "history": boolean_problem, "history_mads": number_problem(0.0, low_open=True),
    "history_neighbours": integer_problem(1), "cap_radius": boolean_problem,
    "discount_admissible": boolean_problem,
}


def param_problem(name: str, value) -> str | None:
    """Why ``value`` is not a valid robust_softmax parameter ``name`` (None: it is)."""
    if name not in PARAMS:
        return f"robust_softmax has no parameter {name!r}; it takes {', '.join(PARAMS)}"
    problem = PARAMS[name](value)
    return None if problem is None else f"{name} {problem}, got {value!r}"


def gate_threshold(dim: int | None, gate_z: float = DEFAULT_GATE_Z) -> float:
    """The direction gate's threshold ``z / √d``: ``z`` standard deviations of the
    cosine between a fixed vector and a uniformly random direction in ``R^d``
    (0 when ``dim`` is None)."""
    if dim is None:
        return 0.0
    dim = check_int(dim, name="dim", minimum=1)
    gate_z = check_positive(gate_z, name="gate_z", allow_zero=True)
    return gate_z / math.sqrt(dim)


def duplicate_counts(deltas: torch.Tensor, admissible: torch.Tensor | None = None) -> list[int]:
    """For each row, how many admissible rows (itself included) are equal to it, bit for
    bit (the duplicate split).

    Colluders who all send one vector (ALIE, IPM, Min-Max, Min-Sum, score-match,
    gate-edge) are each other's exact copies; honest workers never are. (FoolsGold,
    Fung et al. 2020, RAID, splits by cosine instead: measured here, it also split
    honest one-class specialists on Dirichlet 0.1 and cost ``O(n²d)``, 14 s a call
    at 1,000 workers; docs/results/sabfl-research.md.)"""
    x = torch.as_tensor(deltas).detach().to(device="cpu", dtype=DTYPE).contiguous()
    n = x.shape[0]
    ok = torch.ones(n, dtype=torch.bool) if admissible is None else torch.as_tensor(admissible).bool()
    ok = (ok & torch.isfinite(x).all(dim=1)).tolist()
    keys = [hashlib.blake2b(x[i].numpy().tobytes(), digest_size=16).digest() if ok[i] else None
            for i in range(n)]
    count: dict[bytes, int] = {}
    for key in keys:
        if key is not None:
            count[key] = count.get(key, 0) + 1
    return [count[key] if key is not None else 1 for key in keys]


def robust_discount(deltas: torch.Tensor, admissible, factors: torch.Tensor,
                    params: dict) -> list[float] | None:
    """Each softmax term's factor (None: all 1): ``min(1, 2m/‖δ_i‖)²`` from
    ``factors = min(1, m/‖δ_i‖)`` (``clip_discount``, with clipping) over the number of
    copies to the power ``duplicate_power`` (``split_duplicates``, :func:`duplicate_counts`)."""
    clip = params.get("clip", True)
    use_clip = clip and params.get("clip_discount", DEFAULT_CLIP_DISCOUNT)
    split = params.get("split_duplicates", DEFAULT_SPLIT_DUPLICATES)
    if not (use_clip or split):
        return None
    # factors = min(1, c/‖δ‖), so min(1, 2·factor)² = min(1, 2c/‖δ‖)².
    out = [min(1.0, DISCOUNT_MARGIN * f) ** 2 for f in factors.tolist()] if use_clip else [1.0] * len(factors)
    if split:
        power = params.get("duplicate_power", DEFAULT_DUPLICATE_POWER)
        out = [f / k ** power for f, k in zip(out, duplicate_counts(deltas, admissible))]
    return out


def scoring_options(params: dict) -> dict:
    """The keyword arguments of a validator's report
    (:func:`poft.learning.robust_scoring.robust_report`) from the rule's ``params``."""
    return {"gate_z": params.get("gate_z", DEFAULT_GATE_Z), "gate": params.get("gate", True),
            "score_floor": params.get("score_floor", DEFAULT_SCORE_FLOOR)}


def _reduce(reports: torch.Tensor, n: int, clamp: float) -> tuple[list[float], list[float]]:
    if reports.dim() == 1:
        reports = reports.unsqueeze(0)
    if reports.dim() != 2 or reports.shape[1] != 2 * n:
        raise ValueError(f"reports must have shape (validators, 2n) = (v, {2 * n}): "
                         f"[contributions, cosines] per validator; got {tuple(reports.shape)}")
    r = reports.detach().to(device="cpu", dtype=DTYPE)
    value, cos = r[:, :n], r[:, n:]
    # NaN (refused) -> -inf: it can only lower the candidate's median.
    value = torch.where(torch.isnan(value), torch.full_like(value, -math.inf), value)
    cos = torch.where(torch.isnan(cos), torch.full_like(cos, -math.inf), cos)
    value = torch.where(torch.isfinite(value), value.clamp(-clamp, clamp), value)
    cos = torch.where(torch.isfinite(cos), cos.clamp(-1.0, 1.0), cos)
    return averaged_median(value, dim=0).tolist(), averaged_median(cos, dim=0).tolist()


def _passing(reports, n: int, *, clamp: float, gate: bool, score: str, admissible,
             dim: int | None, gate_z: float) -> tuple[list[float], list[float], list[bool]]:
    """The median scores ``S``, cosines ``C`` and which candidates are in ``𝒜``."""
    if score not in ("contribution", "cosine"):
        raise ValueError(f"score must be 'contribution' or 'cosine'; got {score!r}")
    clamp = check_positive(clamp, name="clamp")
    n = check_int(n, name="n", minimum=1)
    value, cos = _reduce(torch.as_tensor(reports), n, clamp)
    threshold = gate_threshold(dim, gate_z)
    ok = [math.isfinite(s) and math.isfinite(c) and (c > threshold or not gate)
          for s, c in zip(value, cos)]
    if admissible is not None:
        ok = [a and bool(b) for a, b in zip(ok, torch.as_tensor(admissible).tolist())]
    if score == "cosine":
        ok = [k and c > 0.0 for k, c in zip(ok, cos)]
    return value, cos, ok


def robust_softmax_weights(reports, n: int, *, temperature: float = DEFAULT_TEMPERATURE,
                           clamp: float = DEFAULT_CLAMP, gate: bool = True,
                           score: str = "contribution", admissible=None,
                           dim: int | None = None, gate_z: float = DEFAULT_GATE_Z,
                           cap: float | None = None, discount=None) -> torch.Tensor:
    """Weights ``w`` (float64 ``(n,)``, sum 1, or all 0 when nothing passes) from the
    validators' ``(v, 2n)`` reports (see the module docstring).

    ``score="cosine"`` is an ablation: ``w_i ∝ C_i`` over the gated candidates
    (FLTrust's trust scores, with the median over validators), ignoring the
    contributions. ``dim`` (the update dimension ``d``) sets the gate's threshold
    ``gate_z / √d``; without it the threshold is 0. ``discount`` (``n`` factors in
    ``(0, 1]``, :func:`robust_discount`) multiplies each softmax term before the
    weights are normalised: the clip discount and the duplicate split."""
    value, cos, ok = _passing(reports, n, clamp=clamp, gate=gate, score=score,
                              admissible=admissible, dim=dim, gate_z=gate_z)
    return _softmax_of(value, cos, ok, temperature=temperature, score=score, cap=cap,
                       discount=discount)


def _softmax_of(value: list[float], cos: list[float], ok: list[bool], *, temperature: float,
                score: str, cap: float | None, discount) -> torch.Tensor:
    """The weights from the median scores and cosines of the candidates in ``𝒜`` (``ok``)."""
    temperature = check_positive(temperature, name="temperature")
    if cap is not None and not (isinstance(cap, (int, float)) and math.isfinite(cap) and cap >= 1):
        raise ValueError(f"cap must be a number >= 1 (a multiple of the uniform share); got {cap!r}")
    if not any(ok):
        return torch.zeros(len(ok), dtype=DTYPE)
    if score == "cosine":
        total = math.fsum(c for c, k in zip(cos, ok) if k)
        return torch.tensor([c / total if k else 0.0 for c, k in zip(cos, ok)], dtype=DTYPE)
    top = max(s for s, k in zip(value, ok) if k)
    terms = [math.exp((s - top) / temperature) if k else 0.0 for s, k in zip(value, ok)]
    if discount is not None:
        terms = [t * f for t, f in zip(terms, torch.as_tensor(discount, dtype=DTYPE).tolist())]
    if cap is not None:
        return torch.tensor(capped_shares(terms, cap), dtype=DTYPE)
    total = math.fsum(terms)
    return torch.tensor([t / total for t in terms], dtype=DTYPE)


def robust_weights(reports, deltas: torch.Tensor, params: dict, admissible=None,
                   history: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The weights and each row's clip factor ``min(1, c/‖δ_i‖)`` (``c``: the median
    norm in ``𝒜``, capped at twice the admissible rows', else the admissible rows'
    median) from the ``(v, 2n)`` reports, the
    ``(n, d)`` deltas and the rule's ``params``, reducing the reports once.
    ``history``: the ``(n, k)`` sketched sums of each candidate's worker's updates over
    the final rounds before this one and this one (:func:`poft.aggregation.history.sketch`),
    for ``h_i``."""
    n, dim = deltas.shape
    value, cos, ok = _passing(reports, n, clamp=params.get("clamp", DEFAULT_CLAMP),
                              gate=params.get("gate", True),
                              score=params.get("score", "contribution"),
                              admissible=admissible, dim=dim,
                              gate_z=params.get("gate_z", DEFAULT_GATE_Z))
    # The clipping radius comes from the candidates past the gate, so that updates the
    # gate refuses (IPM's short ones, noise's long ones) cannot move it; capped at twice
    # every admissible candidate's median, which a Byzantine minority cannot set (with
    # none past the gate, the admissible candidates' median, as below).
    if params.get("cap_radius", DEFAULT_CAP_RADIUS):
        factors, _ = capped_clip_factors(deltas, ok, admissible, DISCOUNT_MARGIN)
    else:
        factors, _ = clip_factors(deltas, torch.tensor(ok) if any(ok) else admissible)
    # The discount's norm scale: every admissible candidate's median, which a Byzantine
    # minority cannot set (the radius, capped at twice it, can still sit above it).
    scale = (clip_factors(deltas, admissible)[0]
             if params.get("discount_admissible", DEFAULT_DISCOUNT_ADMISSIBLE) else factors)
    discount = robust_discount(deltas, admissible, scale, params)
    if history is not None and params.get("history", DEFAULT_HISTORY):
        outliers = history_factors(history, params.get("history_mads", DEFAULT_HISTORY_MADS),
                                   params.get("history_neighbours", DEFAULT_HISTORY_NEIGHBOURS))
        # Unless it would refuse every candidate past the gate (no proposal at all).
        if any(h and k for h, k in zip(outliers, ok)):
            discount = [h * f for h, f in zip(outliers, discount or [1.0] * n)]
    weights = _softmax_of(value, cos, ok, temperature=params.get("temperature", DEFAULT_TEMPERATURE),
                          score=params.get("score", "contribution"), cap=params.get("cap"),
                          discount=discount)
    return weights, factors


def robust_softmax(deltas, *, f: int = 0, reports, temperature: float = DEFAULT_TEMPERATURE,
                   clamp: float = DEFAULT_CLAMP, gate: bool = True, clip: bool = True,
                   score: str = "contribution", gate_z: float = DEFAULT_GATE_Z,
                   cap: float | None = None, clip_discount: bool = DEFAULT_CLIP_DISCOUNT,
                   split_duplicates: bool = DEFAULT_SPLIT_DUPLICATES,
                   duplicate_power: float = DEFAULT_DUPLICATE_POWER,
                   cap_radius: bool = DEFAULT_CAP_RADIUS,
                   discount_admissible: bool = DEFAULT_DISCOUNT_ADMISSIBLE) -> torch.Tensor:
    """Registry form: ``Σ w_i δ̄_i`` (float64 ``(d,)``) for the ``(v, 2n)`` ``reports``.

    ``gate``, ``clip`` (off: no discount either), ``clip_discount``, ``split_duplicates``
    (and its ``duplicate_power``), ``cap_radius`` and ``discount_admissible`` switch
    the rule's parts (ablations). ``f``: the uniform rule signature; not used. One round has no history: the history test needs
    :func:`poft.protocol.aggregate.aggregate_round` with the workers' histories.
    """
    from poft.aggregation._checks import as_matrix
    from poft.aggregation.softmax import softmax_rule

    check_int(f, name="f")
    x = as_matrix(deltas)
    w, factors = robust_weights(reports, x, {
        "temperature": temperature, "clamp": clamp, "gate": gate, "clip": clip, "score": score,
        "gate_z": gate_z, "cap": cap, "clip_discount": clip_discount,
        "split_duplicates": split_duplicates, "duplicate_power": duplicate_power,
        "cap_radius": cap_radius, "discount_admissible": discount_admissible})
    if clip:
        x = x * factors[:, None]
    if float(w.sum()) == 0.0:
        return torch.zeros(x.shape[1], dtype=DTYPE)
    return softmax_rule(x, w)


__all__ = ["DEFAULTS", "PARAMS", "param_problem", "capped_shares", "clip_factors", "duplicate_counts",
           "median_norm_clip", "robust_discount", "robust_softmax", "robust_softmax_weights",
           "robust_weights", "scoring_options", "DEFAULT_CAP_RADIUS", "DEFAULT_CLAMP",
           "DEFAULT_CLIP_DISCOUNT", "DEFAULT_DISCOUNT_ADMISSIBLE", "DEFAULT_DUPLICATE_POWER",
           "DEFAULT_GATE_Z", "DEFAULT_HISTORY", "DEFAULT_MOMENTUM", "DEFAULT_SCORE_FLOOR",
           "DEFAULT_SPLIT_DUPLICATES", "DEFAULT_TEMPERATURE"]
