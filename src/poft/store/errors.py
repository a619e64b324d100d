"""Errors of the blob store.

Each names the blob (``sha256:<hex>``) and the source (a file path or a URL)
and says what to do. ``BlobNotFound`` is a ``LookupError`` and ``BlobCorrupt``
a ``ValueError``, so generic handlers still catch them sensibly.
"""

from __future__ import annotations

from poft.errors import PoftError

__all__ = ["StoreError", "BlobNotFound", "BlobCorrupt", "StoreUnavailable", "StoreReadOnly"]


class StoreError(PoftError):
    """Base class of every blob store error."""


class BlobNotFound(StoreError, LookupError):
    """The store does not hold the blob."""

    def __init__(self, digest: str, source: str, detail: str = ""):
        self.digest = digest
        self.source = source
        detail = f" ({detail})" if detail else ""
        super().__init__(
            f"blob sha256:{digest} not found at {source}{detail}; put it in this store "
            "first, or fetch it from a store that has it"
        )

    def __str__(self) -> str:  # LookupError would otherwise repr() the message
        return str(self.args[0])


class BlobCorrupt(StoreError, ValueError):
    """The bytes the store returned do not hash to the requested digest."""

    def __init__(self, digest: str, source: str, actual: str):
        self.digest = digest
        self.source = source
        self.actual = actual
        super().__init__(
            f"blob sha256:{digest} from {source} is corrupt or substituted: its bytes hash "
            f"to sha256:{actual}; do not use them: delete the stored copy and put the blob "
            "again, or fetch it from another source"
        )


class StoreUnavailable(StoreError):
    """The store could not be reached or answered with an unexpected error."""

    def __init__(self, source: str, reason: str):
        self.source = source
        self.reason = reason
        super().__init__(
            f"blob store {source} is unavailable: {reason}; check the location and that "
            "the server is running, then retry"
        )


class StoreReadOnly(StoreError):
    """The store does not accept writes."""

    def __init__(self, source: str, reason: str = ""):
        self.source = source
        super().__init__(
            f"blob store {source} does not accept writes{f' ({reason})' if reason else ''}; "
            "put the blob in a writable store (e.g. a LocalStore) and serve it from there"
        )
