"""Committing to a model by its parameters, and opening a commitment.

``commit(state)`` turns a state dict into its canonical bytes and a
:class:`ModelCommitment`: the Merkle root of those bytes (:mod:`.merkle`), the
architecture fingerprint (:mod:`.fingerprint`) and the parameter count. Only
the 32-byte root and fingerprint go on chain; the bytes go to the store.

``open_model(blob, root)`` is the reader's side, in this order, cheapest and
most trust-relevant first:

1. the Merkle root of the raw bytes must equal the committed root: nothing
   from an unverified blob is parsed (:class:`CommitmentMismatch`);
2. the header must be canonical safetensors (:class:`CorruptModel`);
3. the architecture, read from the header, must match the expected
   fingerprint or template, if one is given (:class:`ArchitectureMismatch`);
4. then the tensors are decoded (and, if asked, checked to be finite).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from .canonical import canonical_bytes, check_finite, load_canonical, read_layout
from .errors import ArchitectureMismatch, CommitmentMismatch, CorruptModel
from .fingerprint import Architecture
from .merkle import merkle_root

__all__ = ["ModelCommitment", "commit", "commit_bytes", "open_model", "as_bytes32"]

Blob = bytes | bytearray | memoryview
ExpectedArchitecture = bytes | str | Architecture | Mapping[str, torch.Tensor]


def as_bytes32(value: bytes | str, what: str = "hash") -> bytes:
    """Accept 32 raw bytes or 64 hex chars (optionally ``0x``-prefixed)."""
    if isinstance(value, str):
        text = value[2:] if value[:2] in ("0x", "0X") else value
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
        if len(raw) != 32 or len(text) != 64:
            raise ValueError(f"{what} must be 32 bytes or 64 hex chars, got {value!r:.80}")
        return raw
    if isinstance(value, (bytes, bytearray, memoryview)) and len(value) == 32:
        return bytes(value)
    raise ValueError(f"{what} must be 32 bytes or 64 hex chars, got {value!r:.80}")


@dataclass(frozen=True, repr=False)
class ModelCommitment:
    """What goes on chain for a model: Merkle root, architecture fingerprint, size."""

    root: bytes
    fingerprint: bytes
    num_params: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", as_bytes32(self.root, "root"))
        object.__setattr__(self, "fingerprint", as_bytes32(self.fingerprint, "fingerprint"))
        if not isinstance(self.num_params, int) or self.num_params < 0:
            raise ValueError(f"num_params must be a non-negative int, got {self.num_params!r}")

    def __repr__(self) -> str:
        return (
            f"ModelCommitment(root={self.root_hex}, fingerprint={self.fingerprint_hex}, "
            f"num_params={self.num_params})"
        )

    @property
    def root_hex(self) -> str:
        """``0x``-prefixed hex of the root (the form a contract call takes)."""
        return "0x" + self.root.hex()

    @property
    def fingerprint_hex(self) -> str:
        return "0x" + self.fingerprint.hex()

    def to_dict(self) -> dict:
        return {"root": self.root_hex, "fingerprint": self.fingerprint_hex, "num_params": self.num_params}

    @classmethod
    def from_dict(cls, d: Mapping) -> ModelCommitment:
        return cls(d["root"], d["fingerprint"], int(d["num_params"]))


def commit_bytes(blob: Blob) -> ModelCommitment:
    """The commitment of canonical bytes (as made by :func:`canonical_bytes`).

    Reads only the header to get the architecture; raises :class:`CorruptModel`
    if the bytes are not a canonical model, since such a commitment could
    never be opened.
    """
    arch = Architecture.from_layouts(read_layout(blob))
    return ModelCommitment(merkle_root(blob), arch.fingerprint, arch.num_params)


def commit(state: Mapping[str, torch.Tensor]) -> tuple[ModelCommitment, bytes]:
    """Commit to a state dict: returns ``(commitment, canonical_bytes)``.

    The bytes are returned so the caller can put them in the store without
    serializing the model a second time.
    """
    blob = canonical_bytes(state)
    return commit_bytes(blob), blob


def _expected_architecture(expected: ExpectedArchitecture) -> tuple[bytes, Architecture | None]:
    if isinstance(expected, Architecture):
        return expected.fingerprint, expected
    if isinstance(expected, Mapping):
        arch = Architecture.of_state(expected)
        return arch.fingerprint, arch
    return as_bytes32(expected, "expected_fingerprint"), None


def _check_architecture(actual: Architecture, expected: ExpectedArchitecture) -> None:
    want_fp, want = _expected_architecture(expected)
    if actual.fingerprint == want_fp:
        return
    if want is not None:
        raise ArchitectureMismatch(want_fp, actual.fingerprint, want.diff(actual))
    raise ArchitectureMismatch(
        want_fp,
        actual.fingerprint,
        [],
        "the blob's model is:\n" + actual.describe()
        + "\n(pass the expected template state dict as expected_fingerprint for a "
        "name-by-name diff)",
    )


def open_model(
    blob: Blob,
    expected_root: bytes | str,
    expected_fingerprint: ExpectedArchitecture | None = None,
    *,
    require_finite: bool = False,
) -> dict[str, torch.Tensor]:
    """Verify ``blob`` against its commitment, then decode it into a state dict.

    ``expected_root``: 32 bytes or hex. ``expected_fingerprint``: 32 bytes or
    hex, or a template (state dict or :class:`Architecture`) which also gives a
    name-by-name diff on mismatch. ``require_finite``: also refuse NaN/Inf
    (:class:`NonFiniteParameters`). See the module docstring for the order of
    checks; every failure is a :class:`CommitmentError`.
    """
    want_root = as_bytes32(expected_root, "expected_root")
    actual_root = merkle_root(blob)
    if actual_root != want_root:
        raise CommitmentMismatch(want_root, actual_root, len(memoryview(blob).cast("B")))
    try:
        layouts = read_layout(blob)
    except CorruptModel as exc:
        raise CorruptModel(
            f"{exc} [the blob matches the committed root 0x{want_root.hex()}, so the committer "
            "published bytes that are not a canonical model: refuse this commitment]"
        ) from None
    if expected_fingerprint is not None:
        _check_architecture(Architecture.from_layouts(layouts), expected_fingerprint)
    state = load_canonical(blob)
    if require_finite:
        check_finite(state)
    return state
