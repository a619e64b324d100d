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

``jitter`` ``j`` (default 0) answers the rule's duplicate split: each colluder
``k`` sends its own copy ``(v + j‖v‖ξ̂_k)/√(1 + j²)``, ``ξ̂_k`` a unit random
direction orthogonal to ``v`` drawn from its own ``generator``, so two copies
have cosine ``1/(1 + j²)`` (0.8 at ``j = 0.5``) and the norm stays ``c``; the
price is ``1/√(1 + j²)`` of the projection and of the harm.
"""

from __future__ import annotations

import math

import torch

from poft.attacks._checks import as_honest, check_real
from poft.attacks.gate_edge import harm_direction


def score_match(honest_deltas, *, scale: float = 1.0, harm: str = "std", jitter: float = 0.0,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """The score-match vector, shape ``(d,)`` in the honest dtype (this colluder's copy
    when ``jitter > 0``)."""
    scale = check_real(scale, name="scale", minimum=0.0)
    jitter = check_real(jitter, name="jitter", minimum=0.0)
    x, dtype = as_honest(honest_deltas)
    mu = x.mean(dim=0)
    norms = torch.linalg.vector_norm(x, dim=1)
    c = float(norms.median())
    clipped = x * torch.where(norms > c, c / norms.clamp(min=1e-300), torch.ones_like(norms))[:, None]
    norm_mu = torch.linalg.vector_norm(mu)
    mu_hat = mu / norm_mu if float(norm_mu) > 0 else mu
    target = min(c, scale * float((clipped @ mu_hat).median()))
    rest = math.sqrt(max(0.0, c * c - target * target))
    v = target * mu_hat + rest * harm_direction(x, mu, harm)
    if jitter > 0:
        v = jittered(v, jitter, generator)
    return v.to(dtype)


def jittered(v: torch.Tensor, jitter: float, generator: torch.Generator | None) -> torch.Tensor:
    """``(v + j‖v‖ξ̂)/√(1 + j²)``: ``ξ̂`` a unit random direction orthogonal to ``v``."""
    xi = torch.randn(v.shape[0], generator=generator, dtype=torch.float32).to(v.dtype)
    norm_v = torch.linalg.vector_norm(v)
    if float(norm_v) == 0.0:
        return v
    xi = xi - (xi @ v) / (norm_v * norm_v) * v
    xi = xi / torch.linalg.vector_norm(xi).clamp(min=1e-300)
    return (v + jitter * norm_v * xi) / math.sqrt(1.0 + jitter * jitter)
