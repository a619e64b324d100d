r"""Geometric median by the smoothed Weiszfeld algorithm — Robust Federated
Aggregation, RFA (Pillutla, Kakade & Harchaoui 2022, "Robust Aggregation for
Federated Learning", IEEE TSP).

The geometric median minimises :math:`g(z) = \sum_i \alpha_i \lVert z - \delta_i \rVert`
(here :math:`\alpha_i = 1/n`). Each smoothed Weiszfeld step is

.. math::

    \beta_i = \frac{\alpha_i}{\max(\nu, \lVert z - \delta_i \rVert)}, \qquad
    z \leftarrow \frac{\sum_i \beta_i \delta_i}{\sum_i \beta_i}

where ``ν > 0`` keeps the step defined when ``z`` lands on an update. RFA
starts from the mean (``init="mean"``, the default) and stops when the
objective's relative decrease ``|g(z_old) − g(z_new)| < tol · g(z_new)`` or
after ``max_iter`` steps. ``tol = 0`` runs exactly ``max_iter`` steps;
``init="zero"`` starts from the zero vector (ByzFL's ``GeometricMedian(nu, T)``
is ``init="zero", max_iter=T, tol=0``).
"""

from __future__ import annotations

import torch

from poft.aggregation._checks import DTYPE, as_matrix, check_int, check_positive

INITS = ("mean", "zero")


def _objective(x: torch.Tensor, z: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(x - z, dim=1).mean())


def geometric_median(
    deltas,
    *,
    f: int = 0,
    nu: float = 1e-6,
    max_iter: int = 100,
    tol: float = 1e-6,
    init: str = "mean",
) -> torch.Tensor:
    """Smoothed-Weiszfeld approximation of the geometric median, float64 ``(d,)``.

    ``f`` is accepted for the uniform rule signature and not used (the
    geometric median has breakdown point 1/2 without being told ``f``).
    """
    check_int(f, name="f")
    nu = check_positive(nu, name="nu")
    max_iter = check_int(max_iter, name="max_iter", minimum=0)
    tol = check_positive(tol, name="tol", allow_zero=True)
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}; got {init!r}")
    x = as_matrix(deltas)
    z = x.mean(dim=0) if init == "mean" else torch.zeros(x.shape[1], dtype=DTYPE)
    alpha = 1.0 / x.shape[0]
    g = _objective(x, z)
    for _ in range(max_iter):
        dist = torch.linalg.vector_norm(x - z, dim=1).clamp(min=nu)
        beta = (alpha / dist)[:, None]
        z = (beta * x).sum(dim=0) / beta.sum()
        g_new = _objective(x, z)
        if abs(g - g_new) < tol * g_new:
            break
        g = g_new
    return z
