r"""Mean of the updates: FedAvg with equal weights (McMahan et al. 2017,
"Communication-Efficient Learning of Deep Networks from Decentralized Data").

.. math::

    \mathrm{Mean}(\delta_1, \dots, \delta_n) = \frac{1}{n} \sum_{i=1}^{n} \delta_i

Not robust: one Byzantine update moves the result arbitrarily far. It is the
baseline every robust rule is compared with.
"""

from __future__ import annotations

import torch

from poft.aggregation._checks import as_matrix, check_int


def mean(deltas, *, f: int = 0) -> torch.Tensor:
    """Coordinate-wise average of the ``(n, d)`` rows, float64 ``(d,)``.

    ``f`` is accepted for the uniform rule signature and not used.
    """
    check_int(f, name="f")
    return as_matrix(deltas).mean(dim=0)
