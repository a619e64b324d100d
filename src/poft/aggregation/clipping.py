r"""Norm clipping to a robust radius: each row ``δ_i`` of an ``(n, d)`` matrix
scaled by ``min(1, c/‖δ_i‖)``, with ``c`` a median of the row norms
(Karimireddy, He & Jaggi 2021, "Learning from History for Byzantine Robust
Optimization", ICML: clipping with a robust radius bounds what any one update
can move).

robust_softmax takes its radius from the candidates past its direction gate
(``𝒜``), so that the updates the gate refuses (IPM's short ones, noise's long
ones) cannot move it, and caps it (:func:`capped_clip_factors`):

.. math::

    c = \min\big(\operatorname{median}_{i \in \mathcal A} \lVert\delta_i\rVert,\;
                 m \cdot \operatorname{median}_{i\ \text{admissible}} \lVert\delta_i\rVert\big)

with the margin ``m = 2``. A Byzantine minority moves the median over every
admissible candidate only within the honest norms; the median over ``𝒜`` alone
it can set, when the gate refuses more honest updates than scaled ones (on
Dirichlet 0.1, 7 honest updates of 14 passed beside 6 scaled ones, and the
radius became 6.45 times the median norm of all 20;
docs/results/sabfl-research.md).
"""

from __future__ import annotations

import torch

from poft.aggregation._checks import DTYPE, averaged_median


def _norms(deltas) -> torch.Tensor:
    x = torch.as_tensor(deltas).detach().to(device="cpu", dtype=DTYPE)
    return torch.linalg.vector_norm(x, dim=1)


def _median_norm(norms: torch.Tensor, rows) -> float | None:
    """The median of the finite norms of ``rows`` (all when None); None if there are none."""
    pool = norms if rows is None else norms[torch.as_tensor(rows, dtype=torch.bool)]
    finite = pool[torch.isfinite(pool)]
    return None if finite.numel() == 0 else float(averaged_median(finite, dim=0))


def _factors(norms: torch.Tensor, c: float) -> torch.Tensor:
    return torch.where(norms > c, c / torch.where(norms > 0, norms, torch.ones_like(norms)),
                       torch.ones_like(norms))


def clip_factors(deltas: torch.Tensor, admissible: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, float]:
    """Each row's factor ``min(1, c/‖δ_i‖)`` for clipping ``deltas`` to the median row
    norm ``c`` (over ``admissible`` rows when given); returns ``(factors, c)``
    (factors all 1 and ``c = 0`` when no admissible norm is finite)."""
    norms = _norms(deltas)
    c = _median_norm(norms, admissible)
    return (torch.ones_like(norms), 0.0) if c is None else (_factors(norms, c), c)


def capped_clip_factors(deltas: torch.Tensor, passing, admissible=None, margin: float = 2.0
                        ) -> tuple[torch.Tensor, float]:
    """:func:`clip_factors` with ``c`` the median norm over the ``passing`` rows, but at
    most ``margin`` times the median norm over the ``admissible`` rows (all when None)."""
    norms = _norms(deltas)
    c, bound = _median_norm(norms, passing), _median_norm(norms, admissible)
    if c is None:
        return clip_factors(deltas, admissible)
    if bound is not None:
        c = min(c, margin * bound)
    return _factors(norms, c), c


def median_norm_clip(deltas: torch.Tensor, admissible: torch.Tensor | None = None
                     ) -> tuple[torch.Tensor, float]:
    """Rows of ``deltas`` clipped to the median row norm ``c`` (over ``admissible``
    rows when given); returns ``(clipped, c)``. Rows of norm ``<= c`` are unchanged."""
    x = torch.as_tensor(deltas).detach().to(device="cpu", dtype=DTYPE)
    factors, c = clip_factors(x, admissible)
    return x * factors[:, None], c


__all__ = ["capped_clip_factors", "clip_factors", "median_norm_clip"]
