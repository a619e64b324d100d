r"""Gate-edge attack: an omniscient attack on the direction gate of robust SABFL
(:mod:`poft.aggregation.robust_softmax`), designed for this project.

The rule drops candidates whose median cosine with the validators' own updates
is not positive, and clips every update to the median norm. The colluders know
this and the honest updates (not the validators' data): they take the honest
mean ``μ`` as the validators' reference direction and the median honest norm
``c`` as the clipping radius, and all send the vector of norm ``c`` that has
cosine exactly ``κ`` with ``μ`` (just inside the gate) and puts the rest of its
norm along a harmful direction ``h`` orthogonal to ``μ``:

.. math::

    v = c\left(\kappa\,\hat\mu + \sqrt{1-\kappa^2}\,\hat h_\perp\right), \quad
    h_\perp = h - \langle h, \hat\mu\rangle \hat\mu, \quad \hat x = x / \lVert x\rVert

``h``: ``"std"`` is ``−σ`` (the coordinate-wise std of the honest updates:
ALIE's direction, Baruch et al. 2019), ``"sign"`` is ``−sign(μ)`` (Fang et al.
2020's deviation). It is the largest step away from the honest direction
that a cosine gate at 0 with median-norm clipping lets through — the
"orthogonal" attack family that FLTrust's authors discuss (Cao et al. 2021,
NDSS, adaptive attack section), here aimed at the gate of this rule.
"""

from __future__ import annotations

import math

import torch

from poft.attacks._checks import as_honest, check_real

HARM = ("std", "sign")


def harm_direction(x: torch.Tensor, mu: torch.Tensor, kind: str) -> torch.Tensor:
    """Unit ``h_⊥``: the harmful direction ``h`` with its ``μ`` component removed."""
    if kind == "std":
        h = -torch.std(x, dim=0, correction=1) if x.shape[0] > 1 else -mu.abs()
    elif kind == "sign":
        h = -torch.sign(mu)
    else:
        raise ValueError(f"unknown harm direction {kind!r}; choose one of {HARM}")
    norm_mu = torch.linalg.vector_norm(mu)
    if float(norm_mu) > 0:
        unit = mu / norm_mu
        h = h - (h @ unit) * unit
    norm = torch.linalg.vector_norm(h)
    return h / norm if float(norm) > 0 else h


def aligned_vector(x: torch.Tensor, kappa: float, harm: str) -> torch.Tensor:
    """``c (κ μ̂ + √(1−κ²) ĥ_⊥)`` with ``c`` the median honest norm (float64)."""
    mu = x.mean(dim=0)
    c = float(torch.linalg.vector_norm(x, dim=1).median())
    norm_mu = torch.linalg.vector_norm(mu)
    mu_hat = mu / norm_mu if float(norm_mu) > 0 else mu
    return c * (kappa * mu_hat + math.sqrt(max(0.0, 1.0 - kappa * kappa)) * harm_direction(x, mu, harm))


def gate_edge(honest_deltas, *, kappa: float = 0.1, harm: str = "std") -> torch.Tensor:
    """The gate-edge vector, shape ``(d,)`` in the honest dtype; ``0 < κ <= 1``."""
    kappa = check_real(kappa, name="kappa", minimum=0.0, strict=True)
    if kappa > 1.0:
        raise ValueError(f"kappa is a cosine: it must be in (0, 1]; got {kappa}")
    x, dtype = as_honest(honest_deltas)
    return aligned_vector(x, kappa, harm).to(dtype)
