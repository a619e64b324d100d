"""poft.store: content-addressed blobs, verified on every read.

``put(bytes) -> digest`` (hex SHA-256), ``get(digest) -> bytes``; a blob's
location on chain is ``sha256:<hex>``. Backends: :class:`LocalStore` (a
directory, atomic writes) and :class:`HttpStore` (``GET {base}/blobs/<hex>``).
:func:`open_store` picks one from a location string. This layer uses the
standard library only (no torch, no web3).
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

from poft.errors import InputError

from .base import URI_SCHEME, BlobStore, digest_of, location, normalize_digest, parse_location, verify_blob
from .errors import BlobCorrupt, BlobNotFound, StoreError, StoreReadOnly, StoreUnavailable
from .http import BlobServer, HttpStore, serve_blobs
from .local import LocalStore

__all__ = [
    "BlobStore",
    "LocalStore",
    "HttpStore",
    "open_store",
    "serve_blobs",
    "BlobServer",
    "URI_SCHEME",
    "digest_of",
    "normalize_digest",
    "location",
    "parse_location",
    "verify_blob",
    "StoreError",
    "BlobNotFound",
    "BlobCorrupt",
    "StoreUnavailable",
    "StoreReadOnly",
]


def open_store(location: str | os.PathLike, **options) -> BlobStore:
    """A store from its location: ``http(s)://...`` -> :class:`HttpStore`,
    ``file:///dir`` or a plain path -> :class:`LocalStore`.

    ``options`` go to the store's constructor (e.g. ``timeout``, ``fsync``).
    """
    if isinstance(location, os.PathLike):
        return LocalStore(location, **options)
    if not isinstance(location, str) or not location:
        raise InputError(f"store location must be a URL or a directory path, got {location!r:.80}")
    lowered = location.lower()
    if lowered.startswith(("http://", "https://")):
        return HttpStore(location, **options)
    if lowered.startswith(URI_SCHEME):
        raise InputError(
            f"{location!r:.80} is a blob location, not a store location; pass a directory "
            "or an http(s):// URL, and give the blob's digest to get()"
        )
    if lowered.startswith("file://"):
        return LocalStore(unquote(urlparse(location).path), **options)
    if "://" in location:
        raise InputError(
            f"unsupported store location {location!r:.80}: use http(s)://, file:// or a directory path"
        )
    return LocalStore(location, **options)
