r"""Coordinate-wise median (Yin, Chen, Ramchandran & Bartlett 2018,
"Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates").

.. math::

    \mathrm{Median}(\delta_1, \dots, \delta_n)_k = \operatorname{median}(\delta_{1,k}, \dots, \delta_{n,k})

For an even ``n`` the averaged median (mean of the two middle values) is used,
as in ``numpy.median`` and ByzFL's ``Median`` (``torch.quantile(q=0.5)``).
"""

from __future__ import annotations

import torch

from poft.aggregation._checks import as_matrix, averaged_median, check_int


def median(deltas, *, f: int = 0) -> torch.Tensor:
    """Coordinate-wise averaged median of the ``(n, d)`` rows, float64 ``(d,)``.

    ``f`` is accepted for the uniform rule signature and not used (the median
    tolerates any ``f < n / 2`` without being told).
    """
    check_int(f, name="f")
    return averaged_median(as_matrix(deltas), dim=0)
