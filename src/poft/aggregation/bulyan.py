r"""Bulyan (El Mhamdi, Guerraoui & Rouault 2018, "The Hidden Vulnerability of
Distributed Learning in Byzantium", ICML).

1. Selection: ``θ = n − 2f`` updates are picked by applying Krum recursively:
   Krum (Blanchard et al. 2017) chooses one update from the remaining set
   ``R``, it moves to the selection ``S`` and leaves ``R``; repeat ``θ`` times.
   Krum on ``R`` scores with ``|R| − f − 2`` neighbours; near the end of the
   selection (only for ``f <= 1``) that count drops below 1, and then one
   neighbour is used (the nearest other update), so every step still prefers
   clustered updates.
2. Aggregation: for each coordinate ``k``, the ``β = θ − 2f = n − 4f`` values
   of ``S`` closest to their median (averaged median; ties by selection
   order) are averaged:

.. math::

    \mathrm{Bulyan}_k = \frac{1}{\beta} \sum_{i \in M_k} \delta_{i,k}, \qquad
    M_k = \operatorname*{arg\,min}_{|M| = \beta} \sum_{i \in M} |\delta_{i,k} - \operatorname{median}_{j \in S} \delta_{j,k}|

Requires ``n >= 4f + 3`` (the paper's condition).
"""

from __future__ import annotations

import torch

from poft.aggregation._checks import as_matrix, averaged_median, check_f, pairwise_sq_dists
from poft.aggregation.krum import scores_from_sq_dists


def bulyan_select(x: torch.Tensor, f: int) -> list[int]:
    """Row indices of ``x`` chosen by recursive Krum, in selection order."""
    n = x.shape[0]
    sq_dists = pairwise_sq_dists(x)  # once: Krum on a subset only re-reads it
    remaining = list(range(n))
    selected: list[int] = []
    for _ in range(n - 2 * f):
        if len(remaining) == 1:
            selected.append(remaining.pop())
            break
        neighbours = max(len(remaining) - f - 2, 1)
        idx = torch.tensor(remaining)
        scores = scores_from_sq_dists(sq_dists[idx][:, idx], neighbours)
        best = int(torch.argmin(scores))  # first minimum: ties by position
        selected.append(remaining.pop(best))
    return selected


def bulyan(deltas, *, f: int) -> torch.Tensor:
    """Bulyan aggregate, float64 ``(d,)``."""
    x = as_matrix(deltas)
    n = x.shape[0]
    f = check_f(f, n, rule="bulyan", condition="n >= 4f + 3", max_f=(n - 3) // 4)
    s = x[bulyan_select(x, f)]
    beta = s.shape[0] - 2 * f
    med = averaged_median(s, dim=0)
    order = torch.sort((s - med).abs(), dim=0, stable=True).indices[:beta]
    return torch.gather(s, 0, order).mean(dim=0)
