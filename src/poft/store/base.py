"""Content-addressed blob store: the interface and the digest rules.

A blob is named by the SHA-256 of its bytes, written as 64 lowercase hex chars
(the *digest*); its location on chain is the URI ``sha256:<hex>``. Every
backend verifies the bytes against the digest on every read, so a reader never
has to trust the store: a corrupt or substituted blob raises
:class:`BlobCorrupt` instead of being returned.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod

from .errors import BlobCorrupt

__all__ = ["BlobStore", "URI_SCHEME", "digest_of", "normalize_digest", "location", "parse_location", "verify_blob"]

URI_SCHEME = "sha256:"
_HEX64 = re.compile(r"[0-9a-f]{64}")

Data = bytes | bytearray | memoryview


def digest_of(data: Data) -> str:
    """Hex SHA-256 of ``data``: the name of the blob."""
    return hashlib.sha256(data).hexdigest()


def normalize_digest(digest: str) -> str:
    """Lowercase 64-hex digest from ``<hex>`` or ``sha256:<hex>`` (any case).

    Raises ``ValueError`` for anything else, so that a malformed name never
    reaches a file path or a URL.
    """
    if not isinstance(digest, str):
        raise ValueError(
            f"malformed blob digest {digest!r:.80}: expected a str of 64 hex chars (SHA-256)"
        )
    text = digest.strip()
    if text.lower().startswith(URI_SCHEME):
        text = text[len(URI_SCHEME):]
    text = text.lower()
    if not _HEX64.fullmatch(text):
        raise ValueError(
            f"malformed blob digest {digest!r:.80}: expected 64 hex chars (SHA-256), "
            f"optionally as '{URI_SCHEME}<hex>'"
        )
    return text


def location(digest: str) -> str:
    """The on-chain location URI of a blob: ``sha256:<hex>``."""
    return URI_SCHEME + normalize_digest(digest)


def parse_location(uri: str) -> str:
    """The digest in a ``sha256:<hex>`` location URI; ``ValueError`` if malformed."""
    if not isinstance(uri, str) or not uri.lower().startswith(URI_SCHEME):
        raise ValueError(f"malformed blob location {uri!r:.80}: expected '{URI_SCHEME}<64 hex chars>'")
    return normalize_digest(uri)


def verify_blob(data: Data, digest: str, source: str) -> None:
    """Raise :class:`BlobCorrupt` unless ``data`` hashes to ``digest``."""
    actual = digest_of(data)
    if actual != digest:
        raise BlobCorrupt(digest, source, actual)


class BlobStore(ABC):
    """put/get bytes by their SHA-256; reads are verified.

    Methods accept a digest as ``<hex>`` or ``sha256:<hex>``.
    """

    @abstractmethod
    def put(self, data: Data) -> str:
        """Store ``data``; return its hex SHA-256 digest. Idempotent."""

    @abstractmethod
    def get(self, digest: str) -> bytes:
        """The blob's bytes, verified; raises ``BlobNotFound`` / ``BlobCorrupt``."""

    @abstractmethod
    def has(self, digest: str) -> bool:
        """Whether the store holds a blob of that name (not verified)."""

    def location(self, digest: str) -> str:
        """``sha256:<hex>``: where the blob lives, independent of the store."""
        return location(digest)

    def __contains__(self, digest: object) -> bool:
        return isinstance(digest, str) and self.has(digest)
