r"""Min-Max attack (Shejwalkar & Houmansadr 2021, "Manipulating the Byzantine:
Optimizing Model Poisoning Attacks and Defenses for Federated Learning", NDSS,
eq. 3; AGR-agnostic).

Every Byzantine worker sends ``μ − γ p`` (``μ`` the honest mean, ``p`` a
perturbation direction, see :mod:`poft.attacks._agr`) with the largest ``γ``
for which its largest distance to an honest update is no larger than the
largest distance between two honest updates:

.. math::

    \max_\gamma \ \gamma \quad \text{s.t.} \quad
    \max_{i} \lVert \mu - \gamma p - \delta_i \rVert \le \max_{i,j} \lVert \delta_i - \delta_j \rVert

so the malicious vector stays inside the honest cloud for any distance-based
rule while moving as far as possible against ``μ``. ``γ`` is searched as in
the authors' code (start ``gamma0``, halving steps down to ``tol``).
ByzFL (0.0.11) has no Min-Max attack, so there is no cross-check against it.
"""

from __future__ import annotations

import torch

from poft.attacks._agr import agr_attack, pairwise_sq, sq_dists_to


def min_max(honest_deltas, *, perturbation: str = "unit", gamma0: float = 30.0,
            tol: float = 1e-5) -> torch.Tensor:
    """``μ − γ p`` with the Min-Max ``γ``, shape ``(d,)`` in the honest dtype."""

    def factory(x, mu, p):
        bound = float(pairwise_sq(x).max())
        return lambda g: float(sq_dists_to(x, mu - g * p).max()) <= bound

    return agr_attack(honest_deltas, perturbation=perturbation, gamma0=gamma0, tol=tol,
                      ok_factory=factory)
