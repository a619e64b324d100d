r"""Inner Product Manipulation, IPM (Xie, Koyejo & Gupta 2020, "Fall of Empires:
Breaking Byzantine-tolerant SGD by Inner Product Manipulation", UAI).

Every Byzantine worker sends

.. math::

    \mathrm{IPM}_\varepsilon(\delta_1, \dots, \delta_h) = -\varepsilon \cdot \frac{1}{h} \sum_{i=1}^{h} \delta_i

so that the aggregate's inner product with the true update turns negative. The
paper studies a small ``ε`` (0.1, the default: passes median/Krum-type rules)
and a large one (e.g. 100, against mean-type rules). ByzFL's
``InnerProductManipulation(tau)`` is ``epsilon = tau`` (ByzFL default 2.0).
"""

from __future__ import annotations

import torch

from poft.attacks._checks import as_honest, check_real


def ipm(honest_deltas, *, epsilon: float = 0.1) -> torch.Tensor:
    """``−ε × mean(honest_deltas)``, shape ``(d,)`` in the honest dtype."""
    epsilon = check_real(epsilon, name="epsilon", minimum=0.0, strict=True)
    x, dtype = as_honest(honest_deltas)
    return (-epsilon * x.mean(dim=0)).to(dtype)
