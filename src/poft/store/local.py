"""Blob store in a local directory.

Layout: ``<root>/<hex[0:2]>/<hex[2:4]>/<hex>``; the fan-out keeps directories
small. Writes are atomic: the bytes go to a temporary file in the blob's own
directory (``.<hex prefix>.*.tmp``, hence the same file system) and are moved
into place with ``os.replace``, so a reader sees either no file or the whole
blob, and concurrent puts of the same blob simply replace one complete copy
with another. ``fsync=True`` also flushes file and directory to disk, for
stores that must survive a power loss (slower).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .base import BlobStore, Data, digest_of, normalize_digest, verify_blob
from .errors import BlobNotFound

__all__ = ["LocalStore"]


class LocalStore(BlobStore):
    """Content-addressed blobs under a directory (created if missing)."""

    def __init__(self, path: str | os.PathLike, *, fsync: bool = False):
        self.root = Path(path)
        self.fsync = fsync
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def path_for(self, digest: str) -> Path:
        """Where the blob with this digest lives (whether or not it exists)."""
        hexd = normalize_digest(digest)
        return self.root / hexd[:2] / hexd[2:4] / hexd

    def put(self, data: Data) -> str:
        """Store ``data`` atomically; a blob already present (same size) is left as is.

        A present file of the wrong size (a damaged copy) is replaced.
        """
        digest = digest_of(data)
        final = self.path_for(digest)
        try:
            if final.stat().st_size == len(memoryview(data).cast("B")):
                return digest
        except FileNotFoundError:
            pass
        final.parent.mkdir(parents=True, exist_ok=True)
        self._write_atomic(final, data, prefix=f".{digest[:16]}.")
        return digest

    def _write_atomic(self, final: Path, data: Data, prefix: str) -> None:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=final.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                if self.fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; blobs are public content
            os.replace(tmp, final)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        if self.fsync:
            self._fsync_dir(final.parent)

    @staticmethod
    def _fsync_dir(path: Path) -> None:
        # Makes the rename itself durable; not possible on every platform.
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def get(self, digest: str) -> bytes:
        """The blob's bytes, checked against the digest on every read."""
        hexd = normalize_digest(digest)
        path = self.path_for(hexd)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(hexd, str(path)) from None
        verify_blob(data, hexd, str(path))
        return data

    def has(self, digest: str) -> bool:
        return self.path_for(digest).is_file()

    def __iter__(self) -> Iterator[str]:
        """Digests of the stored blobs (temporary files excluded)."""
        for path in sorted(self.root.glob("??/??/*")):
            name = path.name
            if len(name) == 64 and not name.startswith(".") and path.is_file():
                yield name
