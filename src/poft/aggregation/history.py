r"""Each worker's update *history*: who keeps sending what another sends.

Backdoor colluders train toward one shared goal, so on heterogeneous data their
updates stop standing out within a round after a few rounds, but their *sums*
keep pointing the same way (FoolsGold, Fung, Yoon & Beschastnikh 2020, "The
Limitations of Federated Learning in Sybil Settings", RAID). With ``H_i`` the
sum of worker ``i``'s updates over the network's final rounds so far, this one
included, and ``cos`` the cosine between two histories:

.. math::

    v_i = \max_{j \ne i} \cos(H_i, H_j),\qquad
    s = \max\!\left(1.4826\,\operatorname{median}_k |v_k - \operatorname{median}_l v_l|,\
        \frac{1}{\sqrt k}\right),\qquad
    f_i = \begin{cases} 0 & v_i > \operatorname{median}_k v_k + m\,s \\
          1 & \text{otherwise} \end{cases}

(``m`` MADs, ``params.history_mads``, 3 by default): a worker whose history is
far more alike to another's than the honest workers' are to each other gets
weight 0 in :func:`poft.aggregation.robust_softmax.robust_weights`. The spread
``s`` is the scaled MAD, but never under ``1/√k`` (``k``: the sketch's width, or
``d``), the standard deviation of the cosine of two random directions and of
the sketch's error: on IID data the honest histories' likenesses can sit within
0.005 of each other, and without the floor the pair that happened to be most
alike was cut (the quickstart lost one to three honest workers a round from
round 6 on). ``params.history_neighbours`` ``r`` (an ablation, 1 by default)
takes ``v_i`` as the cosine with the ``r``-th most alike history instead, which
spares honest pairs and still sees groups; on the Fashion-MNIST slice ``r = 3``
cost more than it found (docs/results/sabfl-research.md). FoolsGold's
own weights (``1 − v_i`` through a logit) cut honest one-class specialists on
Dirichlet 0.1 by 8 points; the outlier test only fires on what stands out
(measured in docs/results/sabfl-research.md).

The histories are kept as *sketches* of ``k = 16384`` buckets: coordinate
``j`` times a fixed, seeded random sign ``σ_j = ±1``, added into bucket
``j mod k`` (a count sketch, Charikar, Chen & Farach-Colton 2002, with random
signs and a fixed bucket map). It is linear, so the sketch of a sum is the sum
of the sketches, and the random signs keep inner products unbiased with an
error of ``O(1/√k)``. A network of 1,000 workers keeps 131 MB of history
instead of ``1000 × d`` floats; sketching 1,000 updates of 51k parameters
takes 1.4 s on one core. Models of ``d <= k`` parameters are kept exactly.
(The fixed map was chosen at 4,096 buckets, where it was 5x faster than a
random one; at 16,384 a random map takes 1.25 s. The slices were measured
with the fixed map.) At ``k = 4096`` the sketch's error was enough to cost
(Fashion-MNIST CNN, ``d`` = 40k): backdoor success on Dirichlet 0.5 seed 0
0.05 exact → 0.21, clean Dirichlet 0.1 seed 1 0.775 → 0.752; at
``k = 16384`` 0.07 and 0.775.
"""

from __future__ import annotations

import functools

import torch

from poft.aggregation._checks import DTYPE, check_int, check_positive

SKETCH_DIM = 16384
SKETCH_SEED = 0x5AB1F
MAD_SCALE = 1.4826           # a scaled MAD estimates the standard deviation of normal data
DEFAULT_HISTORY_MADS = 3.0
DEFAULT_HISTORY_NEIGHBOURS = 1
_ROWS_PER_CHUNK = 64         # bounds the padded copy at 64 x d floats


@functools.lru_cache(maxsize=8)
def _signs(dim: int, width: int) -> torch.Tensor:
    """The sketch's fixed random signs for ``dim`` parameters, padded with zeros to a
    multiple of ``width``."""
    generator = torch.Generator().manual_seed(SKETCH_SEED + dim)
    signs = torch.randint(0, 2, (dim,), generator=generator).to(DTYPE) * 2 - 1
    return torch.nn.functional.pad(signs, (0, -dim % width))


def sketch(deltas: torch.Tensor, width: int = SKETCH_DIM) -> torch.Tensor:
    """``(n, k)`` float64 sketches of the ``(n, d)`` ``deltas``: the rows themselves
    when ``d <= width``, else ``Σ_{j ≡ b mod k} σ_j x_j`` in bucket ``b``. Non-finite
    rows count as zero (a refused update adds nothing to a history)."""
    x = torch.as_tensor(deltas).detach().to(device="cpu", dtype=DTYPE)
    if x.dim() != 2:
        raise ValueError(f"deltas must be an (n, d) matrix; got shape {tuple(x.shape)}")
    x = torch.where(torch.isfinite(x).all(dim=1, keepdim=True), x, torch.zeros_like(x))
    n, dim = x.shape
    if dim <= width:
        return x.clone()
    signs = _signs(dim, width)
    out = torch.empty((n, width), dtype=DTYPE)
    for start in range(0, n, _ROWS_PER_CHUNK):
        rows = x[start:start + _ROWS_PER_CHUNK]
        signed = torch.nn.functional.pad(rows, (0, len(signs) - dim)) * signs
        out[start:start + len(rows)] = signed.reshape(len(rows), -1, width).sum(dim=1)
    return out


def max_likeness(history: torch.Tensor, neighbours: int = 1) -> torch.Tensor:
    """``v_i``: each row's ``neighbours``-th largest cosine with another row (the
    largest by default; 0 for a zero row; at most the ``n − 1``-th)."""
    h = torch.as_tensor(history).to(DTYPE)
    unit = h / torch.linalg.vector_norm(h, dim=1, keepdim=True).clamp_min(1e-300)
    cos = unit @ unit.T
    cos.fill_diagonal_(-1.0)
    rank = min(neighbours, len(h) - 1)
    return cos.topk(rank, dim=1).values[:, rank - 1]


def history_factors(history: torch.Tensor, mads: float = DEFAULT_HISTORY_MADS,
                    neighbours: int = DEFAULT_HISTORY_NEIGHBOURS) -> list[float]:
    """``f_i`` (the module docstring): 0.0 for a row whose ``v_i`` is more than ``mads``
    spreads ``s`` above the median ``v``, else 1.0; all 1.0 under three rows."""
    mads = check_positive(mads, name="history_mads")
    h = torch.as_tensor(history).to(DTYPE)
    if h.dim() != 2:
        raise ValueError(f"history must be an (n, k) matrix; got shape {tuple(h.shape)}")
    if h.shape[0] < 3:
        return [1.0] * h.shape[0]
    likeness = max_likeness(h, check_int(neighbours, name="history_neighbours", minimum=1))
    median = likeness.median()
    spread = max(float(MAD_SCALE * (likeness - median).abs().median()), h.shape[1] ** -0.5)
    limit = float(median + mads * spread)
    return [0.0 if v > limit else 1.0 for v in likeness.tolist()]


__all__ = ["DEFAULT_HISTORY_MADS", "DEFAULT_HISTORY_NEIGHBOURS", "SKETCH_DIM", "history_factors",
           "max_likeness", "sketch"]
