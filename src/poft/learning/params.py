"""Model parameters as state dicts and as flat vectors.

A model's parameters travel between layers as a ``state_dict``
(``dict[str, Tensor]``, float32) or as a flat vector of shape ``(d,)`` that
concatenates the tensors in *sorted key order* -- the same order the canonical
(safetensors) bytes use, so a vector index means the same parameter everywhere.

Everything received from elsewhere (another worker, another chain) is checked
with :func:`check_compatible` before use: a state dict that does not fit the
model's architecture is refused with a message naming what differs.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

__all__ = [
    "flatten",
    "unflatten",
    "flatten_many",
    "num_params",
    "check_compatible",
    "check_finite",
    "copy_state",
    "load_state",
]

State = Mapping[str, torch.Tensor]


def flatten(state: State) -> torch.Tensor:
    """Concatenate the tensors of ``state`` in sorted-key order into one float32 vector."""
    if not state:
        raise ValueError("cannot flatten an empty state dict")
    return torch.cat([state[key].detach().reshape(-1).to(torch.float32) for key in sorted(state)])


def flatten_many(states: Sequence[State]) -> torch.Tensor:
    """Matrix ``(n, d)`` whose row ``i`` is ``flatten(states[i])``; all must share one architecture."""
    if not states:
        raise ValueError("flatten_many needs at least one state dict")
    for i, state in enumerate(states[1:], start=1):
        check_compatible(state, states[0], what=f"state {i}")
    return torch.stack([flatten(state) for state in states])


def num_params(state_or_model: State | nn.Module) -> int:
    """Number of scalars in a state dict (or a model's state dict): the length ``d`` of its vector."""
    state = _template_of(state_or_model)
    return sum(t.numel() for t in state.values())


def unflatten(vec: torch.Tensor, template_state: State | nn.Module) -> dict[str, torch.Tensor]:
    """Inverse of :func:`flatten`: cut ``vec`` into tensors shaped and typed like ``template_state``.

    Works for float64 vectors too (aggregation computes in float64): each tensor
    is cast to the template's dtype. Returns new tensors, in the template's key order.
    """
    template = _template_of(template_state)
    vec = torch.as_tensor(vec)
    expected = sum(t.numel() for t in template.values())
    if vec.dim() != 1:
        raise ValueError(f"unflatten expects a 1-D vector, got shape {tuple(vec.shape)}")
    if vec.numel() != expected:
        raise ValueError(
            f"vector has {vec.numel()} entries but the architecture has {expected} parameters; "
            "the vector comes from a different model (or was truncated)"
        )
    pieces: dict[str, torch.Tensor] = {}
    offset = 0
    for key in sorted(template):
        like = template[key]
        size = like.numel()
        pieces[key] = vec[offset : offset + size].reshape(like.shape).to(like.dtype).clone()
        offset += size
    return {key: pieces[key] for key in template}


def check_compatible(state: State, model_or_template: State | nn.Module, what: str = "state dict") -> None:
    """Raise ValueError unless ``state`` has exactly the template's keys, shapes and dtypes."""
    template = _template_of(model_or_template)
    if not isinstance(state, Mapping):
        raise ValueError(f"{what} must be a mapping of names to tensors, got {type(state).__name__}")
    missing = sorted(set(template) - set(state))
    extra = sorted(set(state) - set(template))
    problems = []
    if missing:
        problems.append(f"missing keys {missing}")
    if extra:
        problems.append(f"unexpected keys {extra}")
    for key in sorted(set(template) & set(state)):
        got, want = state[key], template[key]
        if not isinstance(got, torch.Tensor):
            problems.append(f"{key}: not a tensor ({type(got).__name__})")
        elif tuple(got.shape) != tuple(want.shape):
            problems.append(f"{key}: shape {tuple(got.shape)}, expected {tuple(want.shape)}")
        elif got.dtype != want.dtype:
            problems.append(f"{key}: dtype {got.dtype}, expected {want.dtype}")
    if problems:
        raise ValueError(
            f"{what} does not fit the model's architecture: " + "; ".join(problems)
            + ". It was produced by a different model; check the model name and options."
        )


def check_finite(state: State, what: str = "state dict") -> None:
    """Raise ValueError naming the tensors of ``state`` that hold NaN or Inf."""
    bad = sorted(
        key for key, t in state.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())
    )
    if bad:
        raise ValueError(f"{what} holds NaN or Inf values in {bad}")


def copy_state(model_or_state: nn.Module | State) -> dict[str, torch.Tensor]:
    """A detached deep copy of a model's (or a state dict's) tensors, safe to keep across training."""
    return {key: t.detach().clone() for key, t in _template_of(model_or_state).items()}


def load_state(model: nn.Module, state: State) -> nn.Module:
    """Check ``state`` against ``model`` and copy it in; returns the model."""
    check_compatible(state, model)
    model.load_state_dict(state, strict=True)
    return model


def _template_of(model_or_state: State | nn.Module) -> State:
    if isinstance(model_or_state, nn.Module):
        return model_or_state.state_dict()
    return model_or_state
