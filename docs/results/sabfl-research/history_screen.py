"""Screening prototype, not part of poft: a factor from each worker's *update
history* on robust_softmax's weights, in the no-ledger simulation.

    PYTHONPATH=src python docs/results/sabfl-research/history_screen.py MODE \
        CONFIG --out DIR [poft bench robustness slice flags]

MODE ``foolsgold``: FoolsGold's weights (Fung, Yoon & Beschastnikh 2020,
"The Limitations of Federated Learning in Sybil Settings", RAID): with ``H_i``
the sum of worker ``i``'s updates so far and ``cs`` the cosines between the
``H``, ``v_i = max_j cs_ij``; pardoning ``cs_ij *= v_i / v_j`` where
``v_i < v_j``; ``α_i = 1 − max_j cs_ij``, divided by its maximum, then
``ln(α / (1 − α)) + 0.5`` clipped to [0, 1]. MODE ``mad``: weight 0 for the
workers whose ``v_i`` is more than three scaled MADs above the median ``v``.
MODE ``mad_round``: the same rule on the round's own updates (no history).
MODE ``none``: the rule as it is. The weights are multiplied by the factor and
normalised again. A cell's candidates come in the same worker order every
round, so a row position is a worker. ``mad`` is now the rule itself
(``params.history``, :mod:`poft.aggregation.history`, wired into every role);
this script turns the rule's own history test off and applies its factor on
the unsketched sums, which is how the screens in sabfl-research.md ran.
"""
import functools
import sys

import torch

import poft.aggregation.robust_softmax as rule
import poft.protocol.aggregate as aggregate
from poft.experiment import robustness

HISTORY: dict[str, torch.Tensor] = {}
rule_weights = rule.robust_weights


def max_similarity(history: torch.Tensor) -> torch.Tensor:
    """Cosines between the rows of ``history``, with −1 on the diagonal."""
    unit = history / history.norm(dim=1, keepdim=True).clamp_min(1e-12)
    cos = unit @ unit.T
    cos.fill_diagonal_(-1.0)
    return cos


def foolsgold(history: torch.Tensor) -> torch.Tensor:
    """FoolsGold's per-worker factor in [0, 1] (the module docstring)."""
    cos = max_similarity(history)
    v = cos.max(dim=1).values
    pardon = torch.where(v[:, None] < v[None, :], v[:, None] / v[None, :], torch.ones_like(cos))
    alpha = (1 - (cos * pardon).max(dim=1).values).clamp(0, 1)
    if float(alpha.max()) == 0.0:
        return torch.ones_like(alpha)
    alpha = alpha / alpha.max()
    alpha = torch.where(alpha >= 1, torch.full_like(alpha, 0.99), alpha)
    alpha = torch.log(alpha / (1 - alpha)) + 0.5
    return torch.nan_to_num(alpha, nan=0.0, posinf=1.0, neginf=0.0).clamp(0, 1)


def mad_outliers(history: torch.Tensor, k: float = 3.0) -> torch.Tensor:
    """0 for a worker whose history is an outlier in likeness to another's (more than
    ``k`` scaled MADs above the median maximum cosine), else 1."""
    v = max_similarity(history).max(dim=1).values
    median = v.median()
    mad = 1.4826 * (v - median).abs().median()
    return (v <= median + k * mad).double()


def with_history(factor, *, on_round: bool = False):
    """robust_weights, then multiplied by ``factor`` of the running history (of the
    round's own updates with ``on_round``); ``factor`` None: the rule as it is."""
    def weights(reports, deltas, params, admissible=None, history=None):
        w, clip = rule_weights(reports, deltas, params, admissible)    # its own test off
        x = torch.nan_to_num(deltas.double(), nan=0.0, posinf=0.0, neginf=0.0)
        h = HISTORY.get("H")
        HISTORY["H"] = x.clone() if h is None or h.shape != x.shape else h + x
        if factor is not None and float(w.sum()) > 0:
            scaled = w * factor(x if on_round else HISTORY["H"])
            if float(scaled.sum()) > 0:
                w = scaled / scaled.sum()
        return w, clip
    return weights


def parse_mode(mode: str):
    """(factor, on_round) for a MODE: foolsgold, mad[:K], mad_round[:K] or none."""
    name, _, k = mode.partition(":")
    if name in ("mad", "mad_round"):
        return functools.partial(mad_outliers, k=float(k or 3.0)), name == "mad_round"
    if name in ("foolsgold", "none") and not k:
        return (foolsgold if name == "foolsgold" else None), False
    raise SystemExit(f"MODE must be foolsgold, mad[:K], mad_round[:K] or none; got {mode!r}")


def main(argv):
    """``poft bench robustness`` (same flags) with the ``MODE`` history factor
    (``mad:K`` / ``mad_round:K``: ``K`` MADs instead of 3)."""
    mode, rest = argv[0], argv[1:]
    factor, on_round = parse_mode(mode)
    aggregate.robust_weights = with_history(factor, on_round=on_round)
    simulate = robustness.simulate

    def fresh_history(config):
        HISTORY.clear()          # one cell, one history
        return simulate(config)
    robustness.simulate = fresh_history
    return robustness.main(rest)


if __name__ == "__main__":
    main(sys.argv[1:])
