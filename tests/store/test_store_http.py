"""HttpStore against real ThreadingHTTPServers on 127.0.0.1 (port 0)."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from poft.store import (
    BlobCorrupt,
    BlobNotFound,
    HttpStore,
    LocalStore,
    StoreReadOnly,
    StoreUnavailable,
    digest_of,
    open_store,
    serve_blobs,
)

BLOB = b"\x00\x01model" * 5000


@pytest.fixture
def local(tmp_path):
    store = LocalStore(tmp_path)
    store.put(BLOB)
    return store


@pytest.fixture
def server(local):
    with serve_blobs(local) as srv:
        yield srv


def test_get_and_has(server):
    store = open_store(server.url + "/")
    assert isinstance(store, HttpStore) and store.base_url == server.url
    digest = digest_of(BLOB)
    assert store.get(digest) == BLOB
    assert store.get(store.location(digest)) == BLOB
    assert store.has(digest) and not store.has("0" * 64)


def test_missing_blob_is_not_found_naming_the_url(server):
    store = HttpStore(server.url, timeout=5)
    with pytest.raises(BlobNotFound) as info:
        store.get("ab" * 32)
    assert info.value.source == f"{server.url}/blobs/{'ab' * 32}"
    assert info.value.source in str(info.value)


def test_malformed_digest_never_reaches_the_server(server):
    with pytest.raises(ValueError, match="64 hex chars"):
        HttpStore(server.url).get("../etc/passwd")


class LyingHandler(BaseHTTPRequestHandler):
    """Answers every blob request with the same wrong bytes."""

    def do_GET(self):  # noqa: N802
        body = b"substituted bytes"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def liar():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), LyingHandler)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_wrong_bytes_from_the_server_are_corrupt_naming_the_url(liar):
    digest = digest_of(BLOB)
    with pytest.raises(BlobCorrupt) as info:
        HttpStore(liar).get(digest)
    url = f"{liar}/blobs/{digest}"
    assert info.value.source == url and url in str(info.value)
    assert info.value.actual == digest_of(b"substituted bytes")


def test_server_refuses_to_serve_its_own_corrupt_copy(local, server):
    digest = digest_of(BLOB)
    local.path_for(digest).write_bytes(b"rot" + BLOB[3:])
    with pytest.raises(StoreUnavailable, match="HTTP 500"):
        HttpStore(server.url).get(digest)


def test_put_read_only_and_writable(local, tmp_path):
    with serve_blobs(local) as srv:
        with pytest.raises(StoreReadOnly, match="does not accept writes"):
            HttpStore(srv.url).put(b"new")
    target = LocalStore(tmp_path / "target")
    with serve_blobs(target, allow_put=True) as srv:
        remote = HttpStore(srv.url)
        digest = remote.put(b"new blob")
        assert target.get(digest) == b"new blob" and remote.get(digest) == b"new blob"


def test_unreachable_server_is_unavailable():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{port}"):
        HttpStore(f"http://127.0.0.1:{port}", timeout=2).get(digest_of(BLOB))


def test_max_bytes_guard(server):
    with pytest.raises(StoreUnavailable, match="max_bytes"):
        HttpStore(server.url, max_bytes=100).get(digest_of(BLOB))


def test_base_url_must_be_http():
    with pytest.raises(ValueError, match="http"):
        HttpStore("/tmp/blobs")
