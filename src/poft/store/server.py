"""`poft store serve DIR --port P`: a blob server for node mode (aiohttp).

Serves a :class:`LocalStore` directory over HTTP with the protocol
:class:`HttpStore` speaks:

* ``GET /blobs/<hex>``  the blob (404 when absent); the stored bytes are hashed
  before they are sent, so a damaged copy is answered with 500, never served;
* ``HEAD /blobs/<hex>`` whether the blob is there;
* ``PUT /blobs/<hex>``  stores the body only if it hashes to ``<hex>``
  (400 otherwise); 201 when stored, 200 when it was already there;
* ``GET /health``       ``ok`` (for supervisors waiting for the server).

Clients verify what they read anyway (the store is trusted for nothing); the
server's own checks keep a bad upload or a rotted file from spreading.
aiohttp is a maintained asyncio HTTP server (already installed with web3);
file reads and hashing run in a thread pool so one large blob does not stall
the other requests.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sys
from pathlib import Path

from aiohttp import web

from .errors import BlobCorrupt, BlobNotFound
from .local import LocalStore

__all__ = ["make_app", "serve"]

MAX_BLOB_BYTES = 1 << 30      # refuse uploads above 1 GiB (a model is far smaller)
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def _digest_of(request: web.Request) -> str:
    digest = request.match_info["digest"]
    if not _HEX64.fullmatch(digest):
        raise web.HTTPBadRequest(text="expected /blobs/<64 hex chars of SHA-256>\n")
    return digest.lower()


def make_app(store: LocalStore, *, allow_put: bool = True) -> web.Application:
    """The aiohttp application serving `store` at /blobs/<hex>."""

    async def get_blob(request: web.Request) -> web.Response:
        digest = _digest_of(request)
        try:
            data = await asyncio.to_thread(store.get, digest)   # verified against the digest
        except BlobNotFound:
            raise web.HTTPNotFound(text=f"no blob sha256:{digest}\n") from None
        except BlobCorrupt:
            raise web.HTTPInternalServerError(
                text=f"stored copy of sha256:{digest} is corrupt; put the blob again\n") from None
        return web.Response(body=data, content_type="application/octet-stream")

    async def head_blob(request: web.Request) -> web.Response:
        digest = _digest_of(request)
        if not store.has(digest):
            raise web.HTTPNotFound()
        return web.Response(content_type="application/octet-stream")

    async def put_blob(request: web.Request) -> web.Response:
        digest = _digest_of(request)
        if not allow_put:
            raise web.HTTPMethodNotAllowed("PUT", ["GET", "HEAD"], text="read-only blob server\n")
        body = await request.read()
        actual = await asyncio.to_thread(lambda: hashlib.sha256(body).hexdigest())
        if actual != digest:
            raise web.HTTPBadRequest(
                text=f"body hashes to sha256:{actual}, not to sha256:{digest} in the URL\n")
        existed = store.has(digest)
        await asyncio.to_thread(store.put, body)
        return web.Response(status=200 if existed else 201)

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    app = web.Application(client_max_size=MAX_BLOB_BYTES)
    app.router.add_route("GET", "/blobs/{digest}", get_blob)
    app.router.add_route("HEAD", "/blobs/{digest}", head_blob)
    app.router.add_route("PUT", "/blobs/{digest}", put_blob)
    app.router.add_get("/health", health, allow_head=True)
    return app


def serve(directory: str | Path, host: str = "127.0.0.1", port: int = 8640, *,
          read_only: bool = False) -> None:
    """Serve `directory` until SIGINT/SIGTERM (blocking)."""
    store = LocalStore(directory)
    sys.stderr.write(json.dumps({"event": "store_serving", "url": f"http://{host}:{port}",
                                 "directory": str(store.root)}) + "\n")
    sys.stderr.flush()
    web.run_app(make_app(store, allow_put=not read_only), host=host, port=port, print=None,
                access_log=None, handle_signals=True)
