"""`poft store serve`: PUT and GET by digest, the digest checked both ways."""

from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.request

import pytest

from poft.drivers.node.supervisor import Supervisor, poft_command
from poft.ledger.anvil import free_port
from poft.store import BlobNotFound, HttpStore, LocalStore, StoreUnavailable


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    port = free_port()
    with Supervisor(folder / "logs") as sup:
        child = sup.start("store", poft_command("store", "serve", str(folder / "blobs"),
                                                "--port", str(port)))
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1).close()
                break
            except OSError:
                assert child.exited() is None, child.tail()
                time.sleep(0.05)
        yield url, LocalStore(folder / "blobs")


def request(url: str, method: str, body: bytes | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, method=method),
                                    timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_put_then_get_round_trips_through_http_store(server):
    url, _ = server
    store = HttpStore(url)
    digest = store.put(b"model bytes")
    assert digest == hashlib.sha256(b"model bytes").hexdigest()
    assert store.get(digest) == b"model bytes" and store.has(digest)
    assert request(f"{url}/blobs/{digest}", "PUT", b"model bytes")[0] == 200  # already there


def test_put_refuses_a_body_that_does_not_hash_to_the_url(server):
    url, local = server
    wrong = hashlib.sha256(b"something else").hexdigest()
    status, text = request(f"{url}/blobs/{wrong}", "PUT", b"model bytes!")
    assert status == 400 and b"hashes to" in text
    assert not local.has(wrong)


def test_get_refuses_a_stored_copy_that_rotted(server):
    url, local = server
    digest = local.put(b"will rot")
    local.path_for(digest).write_bytes(b"rotten!!")
    status, text = request(f"{url}/blobs/{digest}", "GET")
    assert status == 500 and b"corrupt" in text
    with pytest.raises(StoreUnavailable, match="HTTP 500"):
        HttpStore(url).get(digest)


def test_missing_and_malformed_names(server):
    url, _ = server
    with pytest.raises(BlobNotFound):
        HttpStore(url).get("ab" * 32)
    assert request(f"{url}/blobs/not-a-digest", "GET")[0] == 400
    assert not HttpStore(url).has("cd" * 32)

