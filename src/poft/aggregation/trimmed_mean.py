r"""Coordinate-wise trimmed mean (Yin, Chen, Ramchandran & Bartlett 2018,
"Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates").

For each coordinate ``k``, sort ``δ_{1,k} ≤ … ≤ δ_{n,k}`` (order statistics
``δ_{(1),k} ≤ … ≤ δ_{(n),k}``), drop the ``f`` smallest and the ``f`` largest, and
average the rest:

.. math::

    \mathrm{TrMean}_f(\delta_1, \dots, \delta_n)_k = \frac{1}{n - 2f} \sum_{i=f+1}^{n-f} \delta_{(i),k}

The paper states the trimmed share as a fraction β; here ``f = βn`` is the
*count* trimmed at each end (ByzFL's ``TrMean(f)`` uses the same count).
Requires ``n > 2f``; ``f = 0`` is the mean.
"""

from __future__ import annotations

import torch

from poft.aggregation._checks import as_matrix, check_f


def trimmed_mean(deltas, *, f: int) -> torch.Tensor:
    """Mean of each coordinate after dropping its ``f`` lowest and ``f`` highest values."""
    x = as_matrix(deltas)
    n = x.shape[0]
    f = check_f(f, n, rule="trimmed_mean", condition="n > 2f (f trimmed at each end)", max_f=(n - 1) // 2)
    kept = torch.sort(x, dim=0).values[f : n - f]
    return kept.mean(dim=0)
