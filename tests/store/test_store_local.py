"""LocalStore: content addressing, verification on read, atomic writes, bad input."""

import hashlib
import os
import threading

import pytest

from poft.store import (
    BlobCorrupt,
    BlobNotFound,
    LocalStore,
    StoreError,
    digest_of,
    location,
    normalize_digest,
    open_store,
    parse_location,
)

BLOB = b"model bytes " * 1000
DIGEST = hashlib.sha256(BLOB).hexdigest()


def files_under(path):
    return sorted(os.path.relpath(os.path.join(d, f), path) for d, _, fs in os.walk(path) for f in fs)


def test_put_get_has_location(tmp_path):
    store = LocalStore(tmp_path / "blobs")
    assert store.put(BLOB) == DIGEST == digest_of(BLOB)
    assert store.get(DIGEST) == BLOB
    assert store.get("sha256:" + DIGEST.upper()) == BLOB  # uri form, any case
    assert store.has(DIGEST) and DIGEST in store
    assert not store.has("0" * 64)
    assert store.location(DIGEST) == f"sha256:{DIGEST}" == location(DIGEST)
    assert parse_location(store.location(DIGEST)) == DIGEST
    assert files_under(tmp_path / "blobs") == [f"{DIGEST[:2]}/{DIGEST[2:4]}/{DIGEST}"]
    assert list(store) == [DIGEST]
    assert store.put(bytearray(b"")) == hashlib.sha256(b"").hexdigest()
    assert store.get(hashlib.sha256(b"").hexdigest()) == b""


def test_put_of_an_existing_blob_is_a_no_op(tmp_path):
    store = LocalStore(tmp_path)
    store.put(BLOB)
    path = store.path_for(DIGEST)
    before = os.stat(path)
    assert store.put(BLOB) == DIGEST
    after = os.stat(path)
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_put_repairs_a_damaged_copy_of_the_wrong_size(tmp_path):
    store = LocalStore(tmp_path)
    store.put(BLOB)
    store.path_for(DIGEST).write_bytes(BLOB[:10])
    with pytest.raises(BlobCorrupt):
        store.get(DIGEST)
    store.put(BLOB)
    assert store.get(DIGEST) == BLOB


def test_flipped_byte_on_disk_is_corrupt(tmp_path):
    store = LocalStore(tmp_path)
    store.put(BLOB)
    path = store.path_for(DIGEST)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(raw)
    with pytest.raises(BlobCorrupt) as info:
        store.get(DIGEST)
    err = info.value
    assert err.digest == DIGEST and err.source == str(path) and err.actual == digest_of(raw)
    assert DIGEST in str(err) and str(path) in str(err) and "put the blob" in str(err)


def test_substituted_blob_is_corrupt(tmp_path):
    store = LocalStore(tmp_path)
    other = store.put(b"another blob")
    store.put(BLOB)
    # someone copies the other blob's file over this blob's name
    store.path_for(DIGEST).write_bytes(store.path_for(other).read_bytes())
    with pytest.raises(BlobCorrupt, match=f"hash to sha256:{other}"):
        store.get(DIGEST)


def test_missing_blob_names_digest_and_path(tmp_path):
    store = LocalStore(tmp_path)
    with pytest.raises(BlobNotFound) as info:
        store.get(DIGEST)
    assert info.value.digest == DIGEST
    assert str(store.path_for(DIGEST)) in str(info.value) and DIGEST in str(info.value)
    assert isinstance(info.value, LookupError) and isinstance(info.value, StoreError)


@pytest.mark.parametrize("bad", ["", "abc", "g" * 64, "0" * 63, "0" * 65, "sha256:xyz", "../" + "0" * 61, None, 42])
def test_malformed_digest_is_a_value_error(tmp_path, bad):
    store = LocalStore(tmp_path)
    with pytest.raises(ValueError, match="expected .*64 hex chars"):
        store.get(bad)
    with pytest.raises(ValueError, match="64 hex chars"):
        normalize_digest(bad)
    if isinstance(bad, str):
        with pytest.raises(ValueError):
            store.has(bad)


def test_parse_location_requires_the_scheme():
    with pytest.raises(ValueError, match="sha256:<64 hex chars>"):
        parse_location(DIGEST)
    with pytest.raises(ValueError, match="64 hex chars"):
        parse_location("sha256:1234")


def test_no_temporary_files_are_left_behind(tmp_path):
    store = LocalStore(tmp_path, fsync=True)
    for i in range(5):
        store.put(os.urandom(100 + i))
    assert all(not name.split("/")[-1].startswith(".") for name in files_under(tmp_path))
    assert len(files_under(tmp_path)) == 5


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    store = LocalStore(tmp_path)

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        store.put(BLOB)
    monkeypatch.undo()
    assert files_under(tmp_path) == []  # neither a partial blob nor a temp file
    assert not store.has(DIGEST)


def test_concurrent_puts_of_the_same_blob(tmp_path):
    store = LocalStore(tmp_path)
    big = os.urandom(2_000_000)
    errors, barrier = [], threading.Barrier(8)

    def put():
        try:
            barrier.wait()
            assert store.put(big) == digest_of(big)
            assert store.get(digest_of(big)) == big  # a reader never sees a partial file
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert files_under(tmp_path) == [f"{digest_of(big)[:2]}/{digest_of(big)[2:4]}/{digest_of(big)}"]


def test_open_store_picks_the_backend(tmp_path):
    assert isinstance(open_store(str(tmp_path)), LocalStore)
    assert isinstance(open_store(tmp_path), LocalStore)
    store = open_store(f"file://{tmp_path}/x")
    assert isinstance(store, LocalStore) and store.root == tmp_path / "x"
    with pytest.raises(ValueError, match="blob location, not a store location"):
        open_store(f"sha256:{DIGEST}")
    with pytest.raises(ValueError, match="unsupported store location"):
        open_store("ftp://example.org/blobs")
