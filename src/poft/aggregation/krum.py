r"""Krum and Multi-Krum (Blanchard, El Mhamdi, Guerraoui & Stainer 2017,
"Machine Learning with Adversaries: Byzantine Tolerant Gradient Descent").

Each update is scored by the sum of squared distances to its ``n − f − 2``
nearest other updates:

.. math::

    s(i) = \sum_{j \in N_i} \lVert \delta_i - \delta_j \rVert^2, \qquad
    N_i = \text{the } n - f - 2 \text{ updates } j \ne i \text{ closest to } \delta_i

Krum returns the update with the lowest score; Multi-Krum averages the ``m``
updates with the lowest scores (the paper's experiments use ``m = n − f``, the
default here; ``m = 1`` is Krum). Requires ``n > 2f + 2`` (at least one
neighbour, and the paper's resilience condition).

Ties are broken by the lower row index, so the choice is deterministic.
"""

from __future__ import annotations

import math

import torch

from poft.aggregation._checks import as_matrix, check_f, check_int, pairwise_sq_dists

KRUM_CONDITION = "n > 2f + 2 (each score sums n - f - 2 >= 1 neighbour distances)"


def scores_from_sq_dists(sq_dists: torch.Tensor, neighbours: int) -> torch.Tensor:
    """Krum scores from a square matrix of squared distances (not modified)."""
    dist = sq_dists.clone()
    dist.fill_diagonal_(math.inf)  # a row is not its own neighbour
    return torch.sort(dist, dim=1).values[:, :neighbours].sum(dim=1)


def krum_scores(x: torch.Tensor, neighbours: int) -> torch.Tensor:
    """Score of each row of ``x``: sum of its ``neighbours`` smallest squared
    distances to the *other* rows (float64 ``(n,)``)."""
    return scores_from_sq_dists(pairwise_sq_dists(x), neighbours)


def krum_order(x: torch.Tensor, f: int) -> torch.Tensor:
    """Row indices sorted by Krum score (``n − f − 2`` neighbours), ties by index."""
    n = x.shape[0]
    scores = krum_scores(x, n - f - 2)
    return torch.sort(scores, stable=True).indices


def _check_krum_f(f, n: int, rule: str) -> int:
    return check_f(f, n, rule=rule, condition=KRUM_CONDITION, max_f=(n - 3) // 2)


def krum(deltas, *, f: int) -> torch.Tensor:
    """The update with the lowest Krum score, float64 ``(d,)``."""
    x = as_matrix(deltas)
    f = _check_krum_f(f, x.shape[0], "krum")
    return x[krum_order(x, f)[0]].clone()


def multi_krum(deltas, *, f: int, m: int | None = None) -> torch.Tensor:
    """Mean of the ``m`` updates with the lowest Krum scores (default ``m = n − f``)."""
    x = as_matrix(deltas)
    n = x.shape[0]
    f = _check_krum_f(f, n, "multi_krum")
    m = n - f if m is None else check_int(m, name="m", minimum=1)
    if m > n:
        raise ValueError(f"multi_krum needs 1 <= m <= n; got m={m}, n={n}")
    chosen = torch.sort(krum_order(x, f)[:m]).values  # average in row order
    return x[chosen].mean(dim=0)
