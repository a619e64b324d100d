"""Merkle root and chunk proofs: the construction, binding, proofs, tampering."""

import dataclasses
import hashlib
import os
import struct

import pytest

from poft.commitment import (
    DEFAULT_CHUNK_SIZE,
    MerkleProof,
    MerkleTree,
    chunk_count,
    chunk_proof,
    merkle_root,
    verify_chunk,
)


def H(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def reference_root(data: bytes, cs: int) -> bytes:
    """The documented construction, written out independently."""
    chunks = [data[i : i + cs] for i in range(0, len(data), cs)] or [b""]
    level = [H(b"\x00" + c) for c in chunks]
    while len(level) > 1:
        nxt = [H(b"\x01" + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = nxt + ([level[-1]] if len(level) % 2 else [])
    return H(b"\x02" + struct.pack(">QQ", len(data), cs) + level[0])


@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 48, 80, 100, 129])
def test_root_follows_the_documented_construction(n):
    data = os.urandom(n)
    assert merkle_root(data, chunk_size=16) == reference_root(data, 16)
    assert MerkleTree(data, 16).root == reference_root(data, 16)


def test_default_chunk_size_and_input_types():
    data = os.urandom(3 * DEFAULT_CHUNK_SIZE + 5)
    root = merkle_root(data)
    assert len(root) == 32 and root == reference_root(data, DEFAULT_CHUNK_SIZE)
    assert merkle_root(bytearray(data)) == root == merkle_root(memoryview(data))
    assert chunk_count(len(data)) == 4 and chunk_count(0) == 1


def test_length_and_chunk_size_are_bound():
    data = b"\x00" * 64
    roots = {merkle_root(data[:n], 16) for n in range(65)}
    assert len(roots) == 65  # zero padding never collides
    assert merkle_root(data, 16) != merkle_root(data, 32)


def test_odd_node_is_promoted_not_duplicated():
    # With duplication, chunks [a, b, c] and [a, b, c, c] would share a top hash.
    a, b, c = b"a" * 16, b"b" * 16, b"c" * 16
    tree3, tree4 = MerkleTree(a + b + c, 16), MerkleTree(a + b + c + c, 16)
    assert tree3.levels[-1] != tree4.levels[-1]
    assert tree3.levels[1][1] == tree3.levels[0][2]  # c promoted unchanged


def test_every_flipped_bit_changes_the_root():
    data = bytearray(os.urandom(200))
    root = merkle_root(data, 64)
    for pos in range(0, len(data) * 8, 7):
        data[pos // 8] ^= 1 << (pos % 8)
        assert merkle_root(data, 64) != root
        data[pos // 8] ^= 1 << (pos % 8)
    assert merkle_root(data, 64) == root


@pytest.mark.parametrize("n_chunks", [1, 2, 3, 5, 7, 8, 9])
def test_proofs_verify_for_first_middle_last(n_chunks):
    cs = 32
    data = os.urandom(cs * n_chunks - 3)  # short last chunk
    tree = MerkleTree(data, cs)
    for i in {0, n_chunks // 2, n_chunks - 1}:
        proof = tree.proof(i)
        chunk = data[i * cs : (i + 1) * cs]
        assert verify_chunk(tree.root, chunk, proof), i
        assert chunk_proof(data, i, cs) == proof
        assert proof.chunk_bounds() == (i * cs, min((i + 1) * cs, len(data)))


def test_proof_of_empty_data():
    proof = chunk_proof(b"", 0)
    assert verify_chunk(merkle_root(b""), b"", proof)
    assert not verify_chunk(merkle_root(b""), b"\x00", proof)


def test_tampered_proofs_fail():
    cs = 32
    data = os.urandom(cs * 7)
    tree = MerkleTree(data, cs)
    i = 3
    proof, chunk = tree.proof(i), data[i * cs : (i + 1) * cs]
    assert verify_chunk(tree.root, chunk, proof)
    flipped = bytes([chunk[0] ^ 1]) + chunk[1:]
    assert not verify_chunk(tree.root, flipped, proof)  # tampered chunk
    assert not verify_chunk(tree.root, data[4 * cs : 5 * cs], proof)  # wrong chunk
    assert not verify_chunk(tree.root, chunk, dataclasses.replace(proof, index=4))  # wrong index
    assert not verify_chunk(tree.root, chunk, dataclasses.replace(proof, index=99))
    sib = list(proof.siblings)
    sib[1] = bytes([sib[1][0] ^ 1]) + sib[1][1:]
    assert not verify_chunk(tree.root, chunk, dataclasses.replace(proof, siblings=tuple(sib)))
    assert not verify_chunk(tree.root, chunk, dataclasses.replace(proof, siblings=proof.siblings[:-1]))
    assert not verify_chunk(tree.root, chunk, dataclasses.replace(proof, siblings=proof.siblings + (b"\0" * 32,)))
    assert not verify_chunk(tree.root, chunk, dataclasses.replace(proof, total_length=len(data) + 1))
    assert not verify_chunk(tree.root, chunk, dataclasses.replace(proof, chunk_count=8))
    assert not verify_chunk(tree.root, chunk, dataclasses.replace(proof, chunk_size=64))
    assert not verify_chunk(tree.root, chunk, dataclasses.replace(proof, siblings=("nope",) * 3))
    assert not verify_chunk(tree.root, chunk, dataclasses.replace(proof, total_length=2**70))
    other = merkle_root(os.urandom(cs * 7), cs)
    assert not verify_chunk(other, chunk, proof)  # proof against another root


def test_a_leaf_cannot_pass_for_a_node():
    # Second-preimage attempt: present an inner node's children as a "chunk".
    cs = 64
    data = os.urandom(cs * 4)
    tree = MerkleTree(data, cs)
    fake_chunk = tree.levels[0][0] + tree.levels[0][1]  # 64 bytes, the size of a chunk
    fake = MerkleProof(0, (tree.levels[1][1],), 2, 2 * cs, cs)
    assert not verify_chunk(tree.root, fake_chunk, fake)


def test_proof_serializes_and_rejects_bad_requests():
    data = os.urandom(1000)
    tree = MerkleTree(data, 100)
    proof = tree.proof(-1)
    assert proof.index == 9
    assert MerkleProof.from_dict(proof.to_dict()) == proof
    with pytest.raises(IndexError, match="10 chunks"):
        tree.proof(10)
    with pytest.raises(ValueError, match="chunk_size"):
        merkle_root(data, 0)
    with pytest.raises(ValueError, match="32 bytes"):
        verify_chunk(b"short", data[:100], proof)
