"""Blob store over HTTP (stdlib ``urllib`` only), and a minimal blob server.

Protocol: ``GET {base}/blobs/<hex>`` returns the blob's bytes (404 when absent);
``HEAD`` the same without a body; ``PUT`` with the bytes as body stores them
(optional: a read-only server answers 405). The client verifies every blob it
reads against its digest, so the server is trusted for nothing: wrong bytes
raise :class:`BlobCorrupt` naming the URL.

:func:`serve_blobs` serves any :class:`BlobStore` this way from a
``ThreadingHTTPServer`` in a background thread: enough for tests and local
multi-process runs, not a hardened public server.
"""

from __future__ import annotations

import re
import threading
import urllib.error
import urllib.request
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .base import BlobStore, Data, digest_of, normalize_digest, verify_blob
from .errors import BlobCorrupt, BlobNotFound, StoreError, StoreReadOnly, StoreUnavailable

__all__ = ["HttpStore", "BlobServer", "serve_blobs"]

_CHUNK = 1 << 20


class HttpStore(BlobStore):
    """Reads (and optionally writes) blobs at ``{base_url}/blobs/<hex>``.

    ``timeout`` (seconds) applies to connecting and to each read;
    ``max_bytes`` refuses larger blobs (a guard against hostile servers).
    """

    def __init__(self, base_url: str, timeout: float = 30.0, *, max_bytes: int | None = None,
                 headers: dict[str, str] | None = None):
        if not isinstance(base_url, str) or not re.match(r"(?i)https?://[^/]", base_url):
            raise ValueError(f"HttpStore needs an http(s):// base URL, got {base_url!r:.80}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"HttpStore({self.base_url!r})"

    def url_for(self, digest: str) -> str:
        return f"{self.base_url}/blobs/{normalize_digest(digest)}"

    def _open(self, url: str, method: str, body: bytes | None = None):
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/octet-stream"
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        return urllib.request.urlopen(request, timeout=self.timeout)

    def _read(self, response, hexd: str, url: str) -> bytes:
        limit = self.max_bytes
        parts, size = [], 0
        while chunk := response.read(_CHUNK):
            size += len(chunk)
            if limit is not None and size > limit:
                raise StoreUnavailable(url, f"blob sha256:{hexd} exceeds max_bytes={limit}")
            parts.append(chunk)
        return b"".join(parts)

    def get(self, digest: str) -> bytes:
        """Fetch and verify; ``BlobNotFound`` on 404, ``BlobCorrupt`` on wrong bytes."""
        hexd = normalize_digest(digest)
        url = self.url_for(hexd)
        try:
            with self._open(url, "GET") as response:
                data = self._read(response, hexd, url)
        except urllib.error.HTTPError as exc:
            if exc.code == HTTPStatus.NOT_FOUND:
                raise BlobNotFound(hexd, url) from None
            raise StoreUnavailable(url, f"HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise StoreUnavailable(url, str(getattr(exc, "reason", exc))) from None
        verify_blob(data, hexd, url)
        return data

    def has(self, digest: str) -> bool:
        url = self.url_for(digest)
        try:
            with self._open(url, "HEAD"):
                return True
        except urllib.error.HTTPError as exc:
            if exc.code == HTTPStatus.NOT_FOUND:
                return False
            raise StoreUnavailable(url, f"HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise StoreUnavailable(url, str(getattr(exc, "reason", exc))) from None

    def put(self, data: Data) -> str:
        """PUT the blob; ``StoreReadOnly`` if the server does not take writes."""
        body = bytes(data)
        hexd = digest_of(body)
        url = self.url_for(hexd)
        try:
            with self._open(url, "PUT", body):
                return hexd
        except urllib.error.HTTPError as exc:
            if exc.code in (HTTPStatus.METHOD_NOT_ALLOWED, HTTPStatus.NOT_IMPLEMENTED, HTTPStatus.FORBIDDEN):
                raise StoreReadOnly(self.base_url, f"HTTP {exc.code} {exc.reason}") from None
            raise StoreUnavailable(url, f"PUT failed: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise StoreUnavailable(url, str(getattr(exc, "reason", exc))) from None


class _BlobHandler(BaseHTTPRequestHandler):
    """Serves ``self.server.store`` at /blobs/<hex>."""

    server: BlobServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - keep test output quiet
        pass

    def _digest(self) -> str | None:
        match = re.fullmatch(r"/blobs/([0-9a-fA-F]{64})", self.path)
        if match is None:
            self._reply(HTTPStatus.NOT_FOUND if not self.path.startswith("/blobs/") else HTTPStatus.BAD_REQUEST,
                        b"expected /blobs/<64 hex chars>\n")
            return None
        return match.group(1).lower()

    def _reply(self, status: int, body: bytes, *, head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _serve(self, head: bool) -> None:
        hexd = self._digest()
        if hexd is None:
            return
        try:
            data = self.server.store.get(hexd)
        except BlobNotFound:
            self._reply(HTTPStatus.NOT_FOUND, b"no such blob\n", head=head)
        except BlobCorrupt:
            self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, b"stored copy is corrupt\n", head=head)
        except StoreError as exc:  # e.g. a backing HttpStore that is down
            self._reply(HTTPStatus.BAD_GATEWAY, str(exc).encode(), head=head)
        else:
            self._reply(HTTPStatus.OK, data, head=head)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._serve(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head=True)

    def do_PUT(self) -> None:  # noqa: N802
        hexd = self._digest()
        if hexd is None:
            return
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not self.server.allow_put:
            self._reply(HTTPStatus.METHOD_NOT_ALLOWED, b"read-only blob server\n")
        elif digest_of(body) != hexd:
            self._reply(HTTPStatus.BAD_REQUEST, b"body does not hash to the digest in the URL\n")
        else:
            try:
                self.server.store.put(body)
            except StoreError as exc:
                self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, str(exc).encode())
            else:
                self._reply(HTTPStatus.CREATED, b"")


class BlobServer(ThreadingHTTPServer):
    """A running blob server; ``.url`` is its base URL. Use as a context manager."""

    daemon_threads = True

    def __init__(self, store: BlobStore, host: str, port: int, allow_put: bool):
        super().__init__((host, port), _BlobHandler)
        self.store = store
        self.allow_put = allow_put
        # A short poll interval makes close() (shutdown) return promptly.
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="poft-blob-server", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> BlobServer:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self.shutdown()
            self._thread.join()
        self.server_close()

    def __enter__(self) -> BlobServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def serve_blobs(store: BlobStore, host: str = "127.0.0.1", port: int = 0, *,
                allow_put: bool = False) -> BlobServer:
    """Serve ``store`` at ``http://host:port/blobs/<hex>`` from a background thread.

    ``port=0`` picks a free port (see ``.url``). Call ``.close()`` (or use
    ``with``) to stop it.
    """
    return BlobServer(store, host, port, allow_put).start()
