"""Canonical bytes of a model: a safetensors file with one fixed layout.

A model is committed by its parameters, so two parties holding the same
parameters must produce the same bytes in any process, on any machine. The
canonical form of a state dict (``name -> tensor``) is:

* dtypes fixed per kind: floating point -> ``F32``; integer (e.g. BatchNorm's
  ``num_batches_tracked``) -> ``I64``; bool -> ``BOOL``. Complex, quantized and
  sparse tensors are refused;
* data little-endian, C-contiguous, copied from the CPU;
* tensors ordered by dtype alignment (I64, then F32, then BOOL) and by name
  (code point order) within a dtype, which is exactly how ``safetensors`` lays
  out a file, so every tensor is aligned and the stock library writes the same
  bytes for the canonicalized dict;
* header: compact JSON ``{"<name>":{"dtype":..,"shape":[..],"data_offsets":[b,e]},..}``
  in the data order, no ``__metadata__`` (nothing that varies: no timestamps,
  no versions), padded with spaces to a multiple of 8 bytes.

The bytes are written here, not by the library, so that the format is fixed by
this module and cannot drift with a safetensors upgrade; decoding goes through
``safetensors.torch.load``, so every read also checks interoperability.
A reader checks the header is *exactly* the canonical one (``read_layout``):
anything else is refused with :class:`CorruptModel` saying what was wrong.
"""

from __future__ import annotations

import json
import math
import struct
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from .errors import CorruptModel, NonFiniteParameters

__all__ = [
    "CANONICAL_DTYPES",
    "TensorLayout",
    "canonical_dtype",
    "canonicalize",
    "canonical_bytes",
    "read_layout",
    "load_canonical",
    "check_finite",
]

# code -> (torch dtype, item size in bytes); the order is the layout order.
CANONICAL_DTYPES: dict[str, tuple[torch.dtype, int]] = {
    "I64": (torch.int64, 8),
    "F32": (torch.float32, 4),
    "BOOL": (torch.bool, 1),
}
_DTYPE_RANK = {code: rank for rank, code in enumerate(CANONICAL_DTYPES)}
_LE_NUMPY = {"I64": np.dtype("<i8"), "F32": np.dtype("<f4"), "BOOL": np.dtype("u1")}
_HEADER_LEN = struct.Struct("<Q")
# safetensors refuses larger headers; a bigger length prefix means garbage.
_MAX_HEADER = 100_000_000
_RESERVED = "__metadata__"


@dataclass(frozen=True)
class TensorLayout:
    """Where one tensor lies in a canonical blob (offsets relative to the data area)."""

    name: str
    dtype: str  # canonical code: "I64", "F32" or "BOOL"
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def canonical_dtype(name: str, tensor: torch.Tensor) -> str:
    """The canonical dtype code (``"F32"``, ``"I64"``, ``"BOOL"``) of a tensor."""
    dt = tensor.dtype
    if dt == torch.bool:
        return "BOOL"
    if dt.is_complex:
        raise TypeError(
            f"tensor '{name}' is complex ({dt}); canonical bytes hold real floats (F32), "
            "integers (I64) and bools: store real and imaginary parts as two tensors"
        )
    if dt.is_floating_point:
        return "F32"
    if dt in (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
              torch.uint16, torch.uint32, torch.uint64):
        return "I64"
    raise TypeError(
        f"tensor '{name}' has dtype {dt}, which has no canonical form; "
        "dequantize it to float first"
    )


def state_tensor(name: object, value: object) -> torch.Tensor:
    """Check one state dict entry and return it as a tensor (numpy arrays are wrapped)."""
    if not isinstance(name, str):
        raise TypeError(f"state dict keys must be str, got {type(name).__name__} {name!r}")
    if name == _RESERVED:
        raise ValueError(f"a tensor may not be named '{_RESERVED}' (reserved by safetensors)")
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"state dict value '{name}' is a {type(value).__name__}, expected a torch.Tensor "
            "(pass model.state_dict())"
        )
    if value.layout != torch.strided:
        raise TypeError(f"tensor '{name}' is {value.layout}; call .to_dense() first")
    return value


def canonicalize(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Cast, move and order a state dict into its canonical form (layout order).

    The values are detached contiguous CPU tensors of the canonical dtypes; a
    tensor that already is one is returned as is (no copy).
    """
    items = []
    for name, value in state.items():
        tensor = state_tensor(name, value)
        code = canonical_dtype(name, tensor)
        target = CANONICAL_DTYPES[code][0]
        # resolve_neg: a negative-bit view has no numpy buffer to read.
        tensor = tensor.detach().resolve_neg().to(device="cpu", dtype=target).contiguous()
        items.append((_DTYPE_RANK[code], name, tensor))
    items.sort(key=lambda item: (item[0], item[1]))
    return {name: tensor for _, name, tensor in items}


def _layouts(canon: Mapping[str, torch.Tensor]) -> list[TensorLayout]:
    out, offset = [], 0
    for name, tensor in canon.items():
        code = canonical_dtype(name, tensor)
        size = tensor.numel() * CANONICAL_DTYPES[code][1]
        out.append(TensorLayout(name, code, tuple(int(s) for s in tensor.shape), offset, offset + size))
        offset += size
    return out


def _header(layouts: list[TensorLayout]) -> bytes:
    """Length prefix + padded JSON header for tensors in layout order."""
    entries = {
        lay.name: {"dtype": lay.dtype, "shape": list(lay.shape), "data_offsets": [lay.begin, lay.end]}
        for lay in layouts
    }
    # ensure_ascii=False: safetensors (serde_json) writes names as raw UTF-8.
    text = json.dumps(entries, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return _HEADER_LEN.pack(len(text)) + text


def _data_view(code: str, tensor: torch.Tensor) -> memoryview:
    """Zero-copy little-endian byte view of a canonical CPU tensor."""
    arr = tensor.reshape(-1).numpy()
    if code == "BOOL":
        arr = arr.view(np.uint8)
    elif sys.byteorder != "little":  # pragma: no cover - big-endian hosts only
        arr = arr.astype(_LE_NUMPY[code])
    return memoryview(arr).cast("B")


def canonical_bytes(state: Mapping[str, torch.Tensor]) -> bytes:
    """The canonical safetensors bytes of a state dict (see the module docstring).

    Identical parameters give identical bytes in any process; the bytes load
    with ``safetensors.torch.load`` and with :func:`load_canonical`.
    """
    canon = canonicalize(state)
    layouts = _layouts(canon)
    parts = [_header(layouts)]
    parts += [_data_view(lay.dtype, canon[lay.name]) for lay in layouts]
    # One copy: join reads the tensors' own memory through the views.
    return b"".join(parts)


def _entry_layout(name: str, entry: object) -> TensorLayout:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise CorruptModel(
            f"safetensors header entry '{name}' is malformed: expected keys dtype, shape, "
            f"data_offsets, got {entry!r:.200}"
        )
    code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if code not in CANONICAL_DTYPES:
        raise CorruptModel(
            f"not canonical: tensor '{name}' has dtype {code!r}; canonical blobs hold only "
            f"{', '.join(CANONICAL_DTYPES)}: re-serialize the model with canonical_bytes()"
        )
    ints = lambda xs: isinstance(xs, list) and all(type(x) is int and x >= 0 for x in xs)  # noqa: E731
    if not ints(shape) or not ints(offsets) or len(offsets) != 2 or offsets[0] > offsets[1]:
        raise CorruptModel(
            f"safetensors header entry '{name}' has a malformed shape {shape!r:.100} "
            f"or data_offsets {offsets!r:.100}"
        )
    lay = TensorLayout(name, code, tuple(shape), offsets[0], offsets[1])
    need = lay.numel * CANONICAL_DTYPES[code][1]
    if lay.end - lay.begin != need:
        raise CorruptModel(
            f"tensor '{name}': data_offsets span {lay.end - lay.begin} bytes but shape "
            f"{list(shape)} of {code} needs {need}"
        )
    return lay


def read_layout(blob: bytes | bytearray | memoryview) -> list[TensorLayout]:
    """Parse and check the header of a canonical blob, without touching the data.

    Raises :class:`CorruptModel` when the blob is truncated, is not safetensors,
    or is safetensors but not in the canonical layout.
    """
    view = memoryview(blob).cast("B")
    size = len(view)
    if size < 8:
        raise CorruptModel(
            f"truncated safetensors blob: {size} bytes, but it must start with an 8-byte "
            "header length (empty or cut-off download?)"
        )
    (hlen,) = _HEADER_LEN.unpack(view[:8])
    if hlen > size - 8:
        raise CorruptModel(
            f"truncated safetensors header: expected {hlen} bytes, got {size - 8} "
            "(the blob is cut off, or it is not a safetensors file)"
        )
    if hlen > _MAX_HEADER:
        raise CorruptModel(f"safetensors header length {hlen} is implausibly large; not a model blob")
    raw = bytes(view[8 : 8 + hlen])
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptModel(f"safetensors header is not valid UTF-8 JSON ({exc}); not a model blob") from None
    if not isinstance(header, dict):
        raise CorruptModel(f"safetensors header must be a JSON object, got {type(header).__name__}")
    if _RESERVED in header:
        raise CorruptModel(
            "not canonical: the header carries __metadata__; canonical bytes have none "
            "(re-serialize with canonical_bytes())"
        )
    layouts = [_entry_layout(name, entry) for name, entry in header.items()]
    return _check_canonical(view, hlen, raw, layouts)


def _check_canonical(view: memoryview, hlen: int, raw: bytes, layouts: list[TensorLayout]) -> list[TensorLayout]:
    data_size = len(view) - 8 - hlen
    need = sum(lay.end - lay.begin for lay in layouts)
    if data_size < need:
        raise CorruptModel(
            f"truncated tensor data: the header describes {need} bytes, the blob holds "
            f"{data_size} (cut-off download?)"
        )
    if data_size > need:
        raise CorruptModel(f"{data_size - need} trailing bytes after the tensor data; not a canonical blob")
    ordered = sorted(layouts, key=lambda lay: (_DTYPE_RANK[lay.dtype], lay.name))
    expected, offset = [], 0
    for lay in ordered:
        expected.append(TensorLayout(lay.name, lay.dtype, lay.shape, offset, offset + lay.end - lay.begin))
        offset = expected[-1].end
    if _header(expected)[8:] != raw:
        raise CorruptModel(
            "not canonical: the safetensors header differs from the canonical layout "
            "(tensors ordered by dtype then name, compact JSON, no metadata); "
            "re-serialize the model with canonical_bytes()"
        )
    return expected


def load_canonical(blob: bytes | bytearray | memoryview) -> dict[str, torch.Tensor]:
    """Decode canonical bytes into a state dict (CPU tensors, sorted by name).

    Raises :class:`CorruptModel` on truncated, garbage or non-canonical bytes.
    NaN/Inf values are returned as they are; see :func:`check_finite`.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    read_layout(blob)
    try:
        state = load(bytes(blob))
    except SafetensorError as exc:  # the header check above should make this unreachable
        raise CorruptModel(f"safetensors could not decode the blob: {exc}") from None
    return {name: state[name] for name in sorted(state)}


def check_finite(state: Mapping[str, torch.Tensor]) -> None:
    """Raise :class:`NonFiniteParameters` naming every tensor that holds NaN or Inf."""
    bad: dict[str, tuple[int, int, int]] = {}
    for name in sorted(state):
        tensor = state_tensor(name, state[name])
        if not (tensor.dtype.is_floating_point or tensor.dtype.is_complex):
            continue
        if bool(torch.isfinite(tensor).all()):
            continue
        nan = int(torch.isnan(tensor).sum())
        bad[name] = (nan, int(torch.isinf(tensor).sum()), tensor.numel())
    if bad:
        raise NonFiniteParameters(bad)
