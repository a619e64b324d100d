r"""Gaussian attack (the "Gaussian Byzantine" of Blanchard, El Mhamdi,
Guerraoui & Stainer 2017, "Machine Learning with Adversaries: Byzantine
Tolerant Gradient Descent"; ByzFL's ``Gaussian``).

The Byzantine worker sends pure noise of the update's dimension:

.. math::

    \mathrm{Gaussian}_{\mu,\sigma} = \mu + \sigma z, \qquad z \sim \mathcal{N}(0, I_d)

Parametrisation = ByzFL's ``Gaussian(mu, sigma)``: ``mu`` is the mean of every
coordinate, ``sigma`` its standard deviation (not the variance). ByzFL draws
``torch.randn(d) * sigma + mu`` from torch's global RNG; here ``z`` is drawn the
same way (``torch.randn(d)`` in float32) but from the ``generator`` passed in,
so a generator seeded like the global RNG reproduces ByzFL's vector exactly.
"""

from __future__ import annotations

import torch

from poft.attacks._checks import DTYPE, as_honest, check_real


def gaussian(
    honest_deltas,
    *,
    mu: float = 0.0,
    sigma: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``mu + sigma · N(0, I_d)``, shape ``(d,)`` in the honest dtype.

    ``honest_deltas`` only fixes ``d`` and the dtype. ``generator`` (a CPU
    ``torch.Generator``) makes the draw reproducible; ``None`` uses torch's
    global RNG.
    """
    mu = check_real(mu, name="mu")
    sigma = check_real(sigma, name="sigma", minimum=0.0)
    x, dtype = as_honest(honest_deltas)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None; got {type(generator).__name__}")
    # float32 draw: the same stream of values as ByzFL's torch.randn(d).
    z = torch.randn(x.shape[1], generator=generator, dtype=torch.float32)
    return (mu + sigma * z.to(DTYPE)).to(dtype)
