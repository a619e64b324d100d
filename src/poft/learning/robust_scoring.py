r"""What a validator reports for the robust SABFL rule (:mod:`poft.aggregation.robust_softmax`).

:func:`robust_report` is a pure function of the global model ``θ``, the round's
candidates, the validator's own data and the validator's own reference update
``r`` (:func:`reference_update`: one local training run from ``θ`` on the
validator's data, with the workers' training settings). It returns the ``2n``
vector ``[v_1..v_n, cos_1..cos_n]`` of the rule's docstring:

* ``cos_i = cos(δ_i, r)`` (0 for a zero update);
* ``v_i``: the leave-one-out contribution of the clipped ``δ̄_i`` to the mean
  ``A`` of the clipped updates with ``cos > gate_z/√d`` (value of keeping it when it is
  in, of adding it when it is out), as a loss difference on the validator's
  data, divided by the population std of the ``u`` or by ``score_floor`` times
  the loss of ``θ + A``, whichever is larger.

A refused candidate (non-finite parameters) reports NaN in both halves and is
left out of the median norm and of ``A``. Cost: one local training run and
``n + 1`` loss evaluations (today's validator: ``n`` evaluations).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from poft.aggregation.robust_softmax import (
    DEFAULT_GATE_Z,
    DEFAULT_SCORE_FLOOR,
    gate_threshold,
    median_norm_clip,
)
from poft.learning.batched_eval import batched_losses
from poft.learning.datasets import ArrayDataset
from poft.learning.params import flatten, unflatten
from poft.learning.training import local_train

DTYPE = torch.float64


def reference_update(model: nn.Module, theta: torch.Tensor, data: ArrayDataset, *,
                     epochs: int, batch_size: int, lr: float, momentum: float = 0.0,
                     weight_decay: float = 0.0, generator: torch.Generator | None = None
                     ) -> torch.Tensor:
    """The validator's own update ``r = θ_local − θ`` (float64 ``(d,)``)."""
    local = copy.deepcopy(model)
    local.load_state_dict(unflatten(theta, model))
    local_train(local, data, epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
                weight_decay=weight_decay, generator=generator)
    return flatten(local.state_dict()).to(DTYPE) - theta.to(DTYPE)


def _stacked(vectors: torch.Tensor, model: nn.Module) -> dict[str, torch.Tensor]:
    template = model.state_dict()
    out, offset, n = {}, 0, vectors.shape[0]
    for key in sorted(template):
        like = template[key]
        out[key] = vectors[:, offset:offset + like.numel()].reshape(n, *like.shape).to(like.dtype)
        offset += like.numel()
    return out


def robust_report(model: nn.Module, theta: torch.Tensor, candidates: torch.Tensor,
                  data: ArrayDataset, reference: torch.Tensor,
                  gate_z: float = DEFAULT_GATE_Z, gate: bool = True,
                  score_floor: float = DEFAULT_SCORE_FLOOR) -> torch.Tensor:
    """The validator's ``(2n,)`` float64 report ``[v, cos]`` (see the module docstring).

    ``model`` supplies the architecture only; ``theta`` ``(d,)`` and ``candidates``
    ``(n, d)`` are flat models (``poft.learning.params.flatten`` order). ``gate=False``
    (the rule's ablation) builds ``A`` from every usable candidate.
    """
    theta64 = theta.to(DTYPE)
    n = candidates.shape[0]
    usable = torch.isfinite(candidates).all(dim=1)
    report = torch.full((2 * n,), math.nan, dtype=DTYPE)
    if not bool(usable.any()):
        return report
    idx = torch.nonzero(usable).flatten().tolist()
    deltas = candidates[usable].to(DTYPE) - theta64
    ref = reference.to(DTYPE)
    norms = torch.linalg.vector_norm(deltas, dim=1)
    rnorm = float(torch.linalg.vector_norm(ref))
    cos = torch.where(norms > 0, deltas @ ref / (norms.clamp(min=1e-300) * max(rnorm, 1e-300)),
                      torch.zeros_like(norms))
    clipped, _ = median_norm_clip(deltas)
    inside = cos > gate_threshold(deltas.shape[1], gate_z) if gate else torch.ones_like(cos, dtype=torch.bool)
    m = int(inside.sum())
    total = clipped[inside].sum(dim=0) if m else torch.zeros(deltas.shape[1], dtype=DTYPE)
    base = total / m if m else total
    variants = []
    for k in range(len(idx)):
        if bool(inside[k]):
            variants.append((total - clipped[k]) / (m - 1) if m > 1 else torch.zeros_like(total))
        else:
            variants.append((total + clipped[k]) / (m + 1))
    models = theta64 + torch.stack([base] + variants)
    losses = batched_losses(model, _stacked(models.to(torch.float32), model), data)
    loss_base, loss_var = float(losses[0]), losses[1:]
    u = torch.where(inside, loss_var - loss_base, loss_base - loss_var)
    u = torch.where(torch.isfinite(u), u, torch.full_like(u, -1e3))  # diverging variant: harmful
    spread = float(u.std(correction=0)) if len(idx) > 1 else 0.0
    if math.isfinite(loss_base):
        # Differences under score_floor of the loss count as ties: the scores shrink
        # with them, so the weights become uniform as the updates agree (what lets the
        # rule converge in the convex study; see the rule's docstring).
        spread = max(spread, score_floor * abs(loss_base))
    v = u / spread if spread > 0 else torch.zeros_like(u)
    for k, i in enumerate(idx):
        report[i] = float(v[k])
        report[n + i] = float(cos[k])
    return report


__all__ = ["reference_update", "robust_report"]
