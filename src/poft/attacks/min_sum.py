r"""Min-Sum attack (Shejwalkar & Houmansadr 2021, "Manipulating the Byzantine:
Optimizing Model Poisoning Attacks and Defenses for Federated Learning", NDSS,
eq. 4; AGR-agnostic).

Every Byzantine worker sends ``μ − γ p`` (as Min-Max, :mod:`poft.attacks._agr`)
with the largest ``γ`` for which the *sum* of its squared distances to the
honest updates is no larger than that of the honest update with the largest
such sum:

.. math::

    \max_\gamma \ \gamma \quad \text{s.t.} \quad
    \sum_{i} \lVert \mu - \gamma p - \delta_i \rVert^2 \le
    \max_{i} \sum_{j} \lVert \delta_i - \delta_j \rVert^2

(``bound="min"`` uses the smallest honest sum instead, as the authors'
released code does: a stealthier, smaller ``γ``). ByzFL (0.0.11) has no
Min-Sum attack, so there is no cross-check against it.
"""

from __future__ import annotations

import torch

from poft.attacks._agr import agr_attack, pairwise_sq, sq_dists_to


def min_sum(honest_deltas, *, perturbation: str = "unit", gamma0: float = 30.0,
            tol: float = 1e-5, bound: str = "max") -> torch.Tensor:
    """``μ − γ p`` with the Min-Sum ``γ``, shape ``(d,)`` in the honest dtype."""
    if bound not in ("max", "min"):
        raise ValueError(f"bound must be 'max' (the paper) or 'min' (the authors' code); got {bound!r}")

    def factory(x, mu, p):
        sums = pairwise_sq(x).sum(dim=1)
        limit = float(sums.max() if bound == "max" else sums.min())
        return lambda g: float(sq_dists_to(x, mu - g * p).sum()) <= limit

    return agr_attack(honest_deltas, perturbation=perturbation, gamma0=gamma0, tol=tol,
                      ok_factory=factory)
