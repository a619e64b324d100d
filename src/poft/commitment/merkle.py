"""SHA-256 Merkle tree over fixed-size chunks of a byte string.

Construction (``H`` = SHA-256, ``||`` = concatenation, ``u64`` = 8-byte big-endian)::

    chunks   c_0 .. c_{n-1}: consecutive ``chunk_size``-byte slices of the data,
             the last one possibly shorter; empty data is one empty chunk (n = 1)
    leaf     L_i   = H(0x00 || c_i)
    node     N     = H(0x01 || left || right)
    level    pairs (0,1), (2,3), ... are hashed into the next level; an odd
             last node is PROMOTED unchanged to the next level (not duplicated:
             duplicating lets two different leaf lists share a top hash, the
             Bitcoin CVE-2012-2459 mutation)
    top      the single node left
    root     R = H(0x02 || u64(total_length) || u64(chunk_size) || top)

The distinct prefixes keep leaves, nodes and roots apart (a leaf can never pass
for a node), and the final step binds the data length and the chunk size into
the root, so blobs of different lengths never share a root and a proof's
chunk geometry is fixed by the root alone.

A :class:`MerkleProof` for chunk ``i`` carries the sibling hashes from the leaf
up (levels where the node was promoted contribute none) plus ``index``,
``chunk_count``, ``total_length`` and ``chunk_size``; :func:`verify_chunk`
proves one chunk against a 32-byte root without the rest of the data.

Speed: leaves are hashed from ``memoryview`` slices (no copies) with a copied
pre-fed hash object, so the only per-chunk Python work is a few calls; with the
default 64 KiB chunks this runs at ~0.98x the speed of one ``hashlib.sha256``
over the same bytes (see bench/commitment.py).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MerkleProof",
    "MerkleTree",
    "chunk_count",
    "merkle_root",
    "chunk_proof",
    "verify_chunk",
]

DEFAULT_CHUNK_SIZE = 64 * 1024  # 64 KiB: ~0.98x raw SHA-256 speed, 32 B per proof level
_LEAF, _NODE, _ROOT = b"\x00", b"\x01", b"\x02"
_U64 = struct.Struct(">Q")
_LEAF_HASH = hashlib.sha256(_LEAF)  # copied per leaf: saves re-hashing the prefix


def chunk_count(total_length: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
    """Number of chunks (leaves) for ``total_length`` bytes; at least 1."""
    _check_chunk_size(chunk_size)
    return max(1, -(-total_length // chunk_size))


def _check_chunk_size(chunk_size: int) -> None:
    if not isinstance(chunk_size, int) or chunk_size <= 0:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")


def _leaf(chunk) -> bytes:
    h = _LEAF_HASH.copy()
    h.update(chunk)
    return h.digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE + left + right).digest()


def _root(top: bytes, total_length: int, chunk_size: int) -> bytes:
    return hashlib.sha256(_ROOT + _U64.pack(total_length) + _U64.pack(chunk_size) + top).digest()


def _next_level(level: list[bytes]) -> list[bytes]:
    nxt = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        nxt.append(level[-1])  # promote the odd node
    return nxt


@dataclass(frozen=True)
class MerkleProof:
    """Inclusion proof of chunk ``index`` (see the module docstring)."""

    index: int
    siblings: tuple[bytes, ...]
    chunk_count: int
    total_length: int
    chunk_size: int = DEFAULT_CHUNK_SIZE

    def chunk_bounds(self) -> tuple[int, int]:
        """Byte range ``[begin, end)`` of the proven chunk in the committed data."""
        begin = self.index * self.chunk_size
        return begin, min(begin + self.chunk_size, self.total_length)

    def to_dict(self) -> dict:
        """JSON-friendly form (hashes in hex)."""
        return {
            "index": self.index,
            "siblings": [s.hex() for s in self.siblings],
            "chunk_count": self.chunk_count,
            "total_length": self.total_length,
            "chunk_size": self.chunk_size,
        }

    @classmethod
    def from_dict(cls, d: dict) -> MerkleProof:
        return cls(
            index=int(d["index"]),
            siblings=tuple(bytes.fromhex(s) for s in d["siblings"]),
            chunk_count=int(d["chunk_count"]),
            total_length=int(d["total_length"]),
            chunk_size=int(d.get("chunk_size", DEFAULT_CHUNK_SIZE)),
        )


class MerkleTree:
    """All levels of the tree over ``data``; gives the root and any chunk's proof."""

    def __init__(self, data: bytes | bytearray | memoryview, chunk_size: int = DEFAULT_CHUNK_SIZE):
        _check_chunk_size(chunk_size)
        view = memoryview(data).cast("B")
        self.total_length = len(view)
        self.chunk_size = chunk_size
        self.chunk_count = chunk_count(self.total_length, chunk_size)
        leaves = [_leaf(view[i : i + chunk_size]) for i in range(0, self.total_length, chunk_size)]
        self.levels: list[list[bytes]] = [leaves or [_leaf(b"")]]
        while len(self.levels[-1]) > 1:
            self.levels.append(_next_level(self.levels[-1]))
        self.root = _root(self.levels[-1][0], self.total_length, chunk_size)

    def proof(self, index: int) -> MerkleProof:
        """Proof of chunk ``index`` (0-based; negative counts from the end)."""
        if not isinstance(index, int):
            raise TypeError(f"chunk index must be an int, got {type(index).__name__}")
        if index < 0:
            index += self.chunk_count
        if not 0 <= index < self.chunk_count:
            raise IndexError(f"chunk index out of range: the data has {self.chunk_count} chunks")
        siblings, pos = [], index
        for level in self.levels[:-1]:
            sib = pos ^ 1
            if sib < len(level):  # otherwise pos is the promoted odd node
                siblings.append(level[sib])
            pos //= 2
        return MerkleProof(index, tuple(siblings), self.chunk_count, self.total_length, self.chunk_size)


def merkle_root(data: bytes | bytearray | memoryview, chunk_size: int = DEFAULT_CHUNK_SIZE) -> bytes:
    """The 32-byte Merkle root of ``data`` (construction in the module docstring)."""
    _check_chunk_size(chunk_size)
    view = memoryview(data).cast("B")
    level = [_leaf(view[i : i + chunk_size]) for i in range(0, len(view), chunk_size)] or [_leaf(b"")]
    while len(level) > 1:
        level = _next_level(level)
    return _root(level[0], len(view), chunk_size)


def chunk_proof(
    data: bytes | bytearray | memoryview, index: int, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> MerkleProof:
    """Proof that chunk ``index`` of ``data`` is under ``merkle_root(data, chunk_size)``.

    To prove many chunks of one blob, build a :class:`MerkleTree` once instead.
    """
    return MerkleTree(data, chunk_size).proof(index)


def _geometry_ok(proof: MerkleProof, chunk_len: int) -> bool:
    """Is the proof self-consistent, and is the chunk as long as its position needs?"""
    if proof.chunk_size <= 0 or proof.total_length < 0:
        return False
    if proof.chunk_count != max(1, -(-proof.total_length // proof.chunk_size)):
        return False
    if not 0 <= proof.index < proof.chunk_count:
        return False
    begin, end = proof.chunk_bounds()
    return chunk_len == max(0, end - begin)


def verify_chunk(root: bytes, chunk: bytes | bytearray | memoryview, proof: MerkleProof) -> bool:
    """True iff ``chunk`` is chunk ``proof.index`` of the data committed by ``root``.

    Needs only the 32-byte root, the chunk and the proof. A wrong chunk, index,
    sibling, length or chunk size gives False (never an exception) so that
    proofs from untrusted parties can be checked directly.
    """
    if len(root) != 32:
        raise ValueError(f"root must be 32 bytes, got {len(root)}")
    try:
        view = memoryview(chunk).cast("B")
        if not _geometry_ok(proof, len(view)):
            return False
        node, pos, width = _leaf(view), proof.index, proof.chunk_count
        siblings = iter(proof.siblings)
        while width > 1:
            if pos % 2 == 1:
                node = _node(next(siblings), node)
            elif pos + 1 < width:
                node = _node(node, next(siblings))
            # else: odd last node, promoted without a sibling
            pos, width = pos // 2, (width + 1) // 2
        if next(siblings, None) is not None:
            return False  # extra siblings: not the proof of this position
        computed = _root(node, proof.total_length, proof.chunk_size)
    except (StopIteration, TypeError, ValueError, AttributeError, struct.error):
        return False  # too few siblings, siblings that are not bytes, absurd lengths
    return hmac.compare_digest(computed, bytes(root))
