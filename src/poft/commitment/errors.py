"""Errors of the commitment layer.

Every error a reader can hit while checking or opening a committed model
subclasses :class:`CommitmentError`, itself a ``ValueError``: the input (a blob,
a root, a state dict) was wrong, not the program. Each message says what was
wrong and what to do about it.
"""

from __future__ import annotations

from poft.errors import PoftError

__all__ = [
    "CommitmentError",
    "CorruptModel",
    "CommitmentMismatch",
    "ArchitectureMismatch",
    "NonFiniteParameters",
]


class CommitmentError(PoftError, ValueError):
    """Base class: a model blob or state dict does not meet its commitment."""


class CorruptModel(CommitmentError):
    """The bytes are not a canonical safetensors model (truncated, garbage, non-canonical)."""


class CommitmentMismatch(CommitmentError):
    """The blob's Merkle root differs from the expected (committed) root."""

    def __init__(self, expected: bytes, actual: bytes, size: int, hint: str | None = None):
        self.expected = bytes(expected)
        self.actual = bytes(actual)
        self.size = size
        hint = hint or (
            "the blob was corrupted or substituted in the store or in transit; fetch it "
            "again (from another source if possible), and check that the expected root is "
            "the one committed for this model"
        )
        super().__init__(
            f"Merkle root mismatch for a {size}-byte blob: expected 0x{self.expected.hex()}, "
            f"got 0x{self.actual.hex()}; {hint}"
        )


class ArchitectureMismatch(CommitmentError):
    """The model's architecture fingerprint differs from the expected one."""

    def __init__(self, expected: bytes, actual: bytes, differences: list[str], detail: str = ""):
        self.expected = bytes(expected)
        self.actual = bytes(actual)
        self.differences = list(differences)
        lines = [
            f"architecture mismatch: expected fingerprint 0x{self.expected.hex()}, "
            f"got 0x{self.actual.hex()}"
        ]
        lines += [f"  {d}" for d in self.differences]
        if detail:
            lines.append(detail)
        super().__init__("\n".join(lines))


class NonFiniteParameters(CommitmentError):
    """Some floating-point parameter holds NaN or +/-Inf."""

    def __init__(self, counts: dict[str, tuple[int, int, int]]):
        # counts: tensor name -> (nan, inf, numel)
        self.counts = dict(counts)
        shown = [
            f"'{name}' has {nan} NaN and {inf} Inf of {numel} values"
            for name, (nan, inf, numel) in list(self.counts.items())[:10]
        ]
        more = len(self.counts) - len(shown)
        if more > 0:
            shown.append(f"... and {more} more tensors")
        super().__init__(
            f"non-finite parameters in {len(self.counts)} tensor(s): "
            + "; ".join(shown)
            + "; the update diverged or was crafted: refuse it (or lower the learning rate)"
        )

    @property
    def tensors(self) -> list[str]:
        """Names of the tensors holding NaN or Inf."""
        return list(self.counts)
