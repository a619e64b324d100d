r"""A Little Is Enough, ALIE (Baruch, Baruch & Goldberg 2019, "A Little Is
Enough: Circumventing Defenses For Distributed Learning", NeurIPS).

The colluders estimate the coordinate-wise mean ``μ`` and standard deviation
``σ`` of the honest updates and all send a vector that stays within the
honest spread on every coordinate, so robust rules keep it:

.. math::

    \mathrm{ALIE}_z = \mu - z\,\sigma

The paper picks the largest ``z`` for which the Byzantine vector still looks
closer to the mean than enough honest workers: with ``n`` workers of which
``f`` Byzantine, ``s = \lfloor n/2 + 1 \rfloor - f`` honest workers must be
"recruited" and

.. math::

    z_{max} = \Phi^{-1}\!\left(\frac{n - s}{n}\right)

(``Φ`` the standard normal CDF). ``σ`` is the unbiased (``h − 1``) sample
standard deviation, ByzFL's convention, so at least two honest updates are
needed. ByzFL's ``ALittleIsEnough(tau)`` sends ``μ + τσ``: it is ``z = −tau``.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import torch

from poft.attacks._checks import as_honest, check_int, check_real


def alie_z(n: int, f: int) -> float:
    """The paper's ``z_max`` for ``n`` workers of which ``f`` are Byzantine."""
    n = check_int(n, name="n", minimum=1)
    f = check_int(f, name="f", minimum=0)
    if f >= n:
        raise ValueError(f"ALIE needs f < n (some honest workers); got n={n}, f={f}")
    s = math.floor(n / 2 + 1) - f
    p = (n - s) / n
    if not 0.0 < p < 1.0:
        raise ValueError(
            f"ALIE's z_max = Phi^-1((n - s) / n) with s = floor(n/2 + 1) - f is undefined "
            f"for n={n}, f={f} ((n - s) / n = {p}); it needs 0 < (n - s) / n < 1, "
            "i.e. 0 < s < n; pass z= explicitly instead"
        )
    return NormalDist().inv_cdf(p)


def alie(honest_deltas, *, z: float | None = None, n: int | None = None, f: int | None = None) -> torch.Tensor:
    """``mean − z · std`` over the honest rows, shape ``(d,)`` in the honest dtype.

    Give ``z`` directly, or ``n`` (all workers of the round) and ``f`` (the
    Byzantine ones) to use the paper's ``z_max``; not both.
    """
    if z is None:
        if n is None or f is None:
            raise ValueError("alie needs z=, or n= and f= to compute the paper's z_max")
        z = alie_z(n, f)
    elif n is not None or f is not None:
        raise ValueError("alie takes either z= or (n=, f=), not both")
    z = check_real(z, name="z")
    x, dtype = as_honest(honest_deltas, min_rows=2)
    std = torch.std(x, dim=0, correction=1)
    return (x.mean(dim=0) - z * std).to(dtype)
