r"""Sign flipping (Allen-Zhu, Ebrahimian, Li & Alistarh 2021, "Byzantine-Resilient
Non-Convex Stochastic Gradient Descent", ICLR; ByzFL's ``SignFlipping``).

Every Byzantine worker sends the honest mean, reversed and scaled:

.. math::

    \mathrm{SignFlip}(\delta_1, \dots, \delta_h) = -s \cdot \frac{1}{h} \sum_{i=1}^{h} \delta_i

``scale = 1`` is ByzFL's ``SignFlipping()`` (``−mean``). Omniscient: the
colluders see all honest deltas of the round.
"""

from __future__ import annotations

import torch

from poft.attacks._checks import as_honest, check_real


def sign_flip(honest_deltas, *, scale: float = 1.0) -> torch.Tensor:
    """``−scale × mean(honest_deltas)``, shape ``(d,)`` in the honest dtype."""
    scale = check_real(scale, name="scale", minimum=0.0, strict=True)
    x, dtype = as_honest(honest_deltas)
    return (-scale * x.mean(dim=0)).to(dtype)
