"""Architecture fingerprint: what a model's tensors are, not what they hold.

The fingerprint of a state dict is::

    SHA-256( canonical JSON of
             {"poft_architecture": 1,
              "tensors": [[name, [shape...], dtype], ...]} )   # sorted by name

with compact separators, ASCII escapes and the *canonical* dtype codes
(``F32``, ``I64``, ``BOOL``; see :mod:`.canonical`), so a float64 state and its
float32 canonical bytes share a fingerprint, and it can be computed from a
blob's header alone (:meth:`Architecture.from_layouts`) without decoding.
It goes on chain next to the Merkle root, so a reader can refuse an update of
the wrong shape before loading it into a model.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

import torch

from .canonical import TensorLayout, canonical_dtype, state_tensor

__all__ = [
    "TensorSpec",
    "Architecture",
    "architecture_of",
    "architecture_fingerprint",
    "num_params",
    "describe_architecture",
]

_VERSION = 1
_MAX_DIFF_LINES = 20


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape and canonical dtype of one tensor."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def __str__(self) -> str:
        return f"{tuple(self.shape)} {self.dtype}"


@dataclass(frozen=True)
class Architecture:
    """The sorted tensor specs of a model; its fingerprint, size and description."""

    tensors: tuple[TensorSpec, ...]

    @classmethod
    def of_state(cls, state: Mapping[str, torch.Tensor]) -> Architecture:
        specs = []
        for name, value in state.items():
            tensor = state_tensor(name, value)
            specs.append(TensorSpec(name, tuple(int(s) for s in tensor.shape), canonical_dtype(name, tensor)))
        return cls.from_specs(specs)

    @classmethod
    def from_layouts(cls, layouts: Iterable[TensorLayout]) -> Architecture:
        """From a canonical blob's header (:func:`.canonical.read_layout`)."""
        return cls.from_specs(TensorSpec(lay.name, lay.shape, lay.dtype) for lay in layouts)

    @classmethod
    def from_specs(cls, specs: Iterable[TensorSpec]) -> Architecture:
        return cls(tuple(sorted(specs, key=lambda s: s.name)))

    def canonical_json(self) -> bytes:
        doc = {
            "poft_architecture": _VERSION,
            "tensors": [[s.name, list(s.shape), s.dtype] for s in self.tensors],
        }
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=True).encode("ascii")

    @cached_property
    def fingerprint(self) -> bytes:
        """32-byte SHA-256 of :meth:`canonical_json`."""
        return hashlib.sha256(self.canonical_json()).digest()

    @property
    def num_params(self) -> int:
        """Number of scalars in all tensors (parameters and buffers alike)."""
        return sum(s.numel for s in self.tensors)

    def describe(self) -> str:
        """Human-readable table: one line per tensor, then the totals."""
        width = max((len(s.name) for s in self.tensors), default=0)
        lines = [f"{s.name:<{width}}  {str(list(s.shape)):<18} {s.dtype:<4} {s.numel:>12,}" for s in self.tensors]
        lines.append(
            f"{len(self.tensors)} tensors, {self.num_params:,} parameters, "
            f"fingerprint 0x{self.fingerprint.hex()}"
        )
        return "\n".join(lines)

    def diff(self, actual: Architecture) -> list[str]:
        """What differs from ``self`` (expected) to ``actual``, one line per tensor."""
        want = {s.name: s for s in self.tensors}
        got = {s.name: s for s in actual.tensors}
        out = [f"missing tensor '{n}' (expected {want[n]})" for n in sorted(want.keys() - got.keys())]
        out += [f"unexpected tensor '{n}' {got[n]}" for n in sorted(got.keys() - want.keys())]
        out += [
            f"tensor '{n}': expected {want[n]}, got {got[n]}"
            for n in sorted(want.keys() & got.keys())
            if want[n] != got[n]
        ]
        if len(out) > _MAX_DIFF_LINES:
            out = out[:_MAX_DIFF_LINES] + [f"... and {len(out) - _MAX_DIFF_LINES} more differences"]
        return out


def architecture_of(state: Mapping[str, torch.Tensor]) -> Architecture:
    """The :class:`Architecture` of a state dict."""
    return Architecture.of_state(state)


def architecture_fingerprint(state: Mapping[str, torch.Tensor]) -> bytes:
    """32-byte fingerprint of sorted (name, shape, canonical dtype) of a state dict."""
    return Architecture.of_state(state).fingerprint


def num_params(state: Mapping[str, torch.Tensor]) -> int:
    """Number of scalars in a state dict (buffers included, as they are committed too)."""
    return Architecture.of_state(state).num_params


def describe_architecture(state: Mapping[str, torch.Tensor]) -> str:
    """Human-readable table of a state dict's tensors, parameter count and fingerprint."""
    return Architecture.of_state(state).describe()
