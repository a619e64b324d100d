r"""Score-match attack: an omniscient attack on the contribution score of robust
SABFL (:mod:`poft.aggregation.robust_softmax`), designed for this project.

The rule weights candidates by a softmax of their leave-one-out contribution
to a reference aggregate, as a loss difference on the validators' data. The
colluders do not have that data; they use the first-order surrogate
``ℓ(θ + a) ≈ ℓ(θ) − ⟨μ, a⟩`` (the honest mean ``μ`` as the descent
direction), under which a candidate's contribution is, up to a common
factor, its projection ``π_i = ⟨δ̄_i, μ̂⟩`` (``δ̄_i`` clipped to the median
honest norm ``c``). They all send the vector of norm ``c`` whose projection
equals the *median honest projection* — so that, to first order, it scores
like the median honest worker and keeps an honest share of the weight — and
spend the rest of the norm on a harmful direction orthogonal to ``μ`` (as
:mod:`poft.attacks.gate_edge`):

.. math::

    v = \pi_{med}\,\hat\mu + \sqrt{c^2 - \pi_{med}^2}\;\hat h_\perp,
    \qquad \pi_{med} = \operatorname{median}_i \langle \bar\delta_i, \hat\mu\rangle

``scale`` (default 1) multiplies the projection target (``< 1``: more harm,
lower score). This is the "mimic the score, maximise the deviation"
construction of adaptive attacks (Fang et al. 2020, USENIX Security, "Local
Model Poisoning Attacks to Byzantine-Robust FL"; Shejwalkar & Houmansadr
2021) against this rule's score.
"""

from __future__ import annotations

import math

import torch

from poft.attacks._checks import as_honest, check_real
from poft.attacks.gate_edge import harm_direction


def score_match(honest_deltas, *, scale: float = 1.0, harm: str = "std") -> torch.Tensor:
    """The score-match vector, shape ``(d,)`` in the honest dtype."""
    scale = check_real(scale, name="scale", minimum=0.0)
    x, dtype = as_honest(honest_deltas)
    mu = x.mean(dim=0)
    norms = torch.linalg.vector_norm(x, dim=1)
    c = float(norms.median())
    clipped = x * torch.where(norms > c, c / norms.clamp(min=1e-300), torch.ones_like(norms))[:, None]
    norm_mu = torch.linalg.vector_norm(mu)
    mu_hat = mu / norm_mu if float(norm_mu) > 0 else mu
    target = min(c, scale * float((clipped @ mu_hat).median()))
    rest = math.sqrt(max(0.0, c * c - target * target))
    return (target * mu_hat + rest * harm_direction(x, mu, harm)).to(dtype)
