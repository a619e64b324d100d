r"""Centered clipping (Karimireddy, He & Jaggi 2021, "Learning from History for
Byzantine Robust Optimization", ICML).

Starting from a center ``v_0`` (the previous round's aggregate — the paper's
"history" — or zero), each of ``L`` iterations moves the center by the mean of
the updates' offsets, each offset clipped to norm at most ``τ``:

.. math::

    v_{l+1} = v_l + \frac{1}{n} \sum_{i=1}^{n} (\delta_i - v_l)
              \min\!\left(1, \frac{\tau}{\lVert \delta_i - v_l \rVert}\right)

The paper uses ``L = 1`` (the default here) with ``τ`` of the order of the
honest updates' spread; ``τ`` depends on the scale of the deltas, so set it per
experiment. ByzFL's ``CenteredClipping(m, L, tau)`` is ``center=m,
iterations=L, tau=tau``.
"""

from __future__ import annotations

import torch

from poft.aggregation._checks import DTYPE, as_matrix, as_vector, check_int, check_positive


def centered_clipping(
    deltas,
    *,
    f: int = 0,
    tau: float = 10.0,
    iterations: int = 1,
    center=None,
) -> torch.Tensor:
    """Centered-clipping aggregate, float64 ``(d,)``.

    ``center``: the previous aggregate ``(d,)`` (context the miner supplies);
    ``None`` starts from zero. ``f`` is accepted for the uniform rule signature
    and not used.
    """
    check_int(f, name="f")
    tau = check_positive(tau, name="tau")
    iterations = check_int(iterations, name="iterations", minimum=1)
    x = as_matrix(deltas)
    d = x.shape[1]
    v = torch.zeros(d, dtype=DTYPE) if center is None else as_vector(center, d, name="center")
    for _ in range(iterations):
        diff = x - v
        norm = torch.linalg.vector_norm(diff, dim=1)
        # min(1, τ/‖·‖) written with `where`: a zero offset keeps factor 1
        # instead of dividing by zero.
        scale = torch.where(norm > tau, tau / norm, torch.ones_like(norm))
        v = v + (diff * scale[:, None]).mean(dim=0)
    return v
