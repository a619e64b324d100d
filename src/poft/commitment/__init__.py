"""poft.commitment: embedding a model by its parameters.

A model's commitment is the SHA-256 Merkle root of its canonical safetensors
bytes, plus an architecture fingerprint and its parameter count:

* :mod:`.canonical`   canonical bytes (fixed dtypes and layout), decoding, finiteness
* :mod:`.merkle`      Merkle root over 64 KiB chunks, per-chunk proofs
* :mod:`.fingerprint` architecture fingerprint (names, shapes, dtypes)
* :mod:`.model`       ``ModelCommitment``, ``commit``, ``open_model``
* :mod:`.errors`      ``CommitmentError`` and its subclasses

Typical use::

    commitment, blob = commit(model.state_dict())   # writer
    digest = store.put(blob)
    state = open_model(store.get(digest), commitment.root, commitment.fingerprint)  # reader

This layer depends on torch, numpy, safetensors and hashlib only (never on the
ledger).
"""

from .canonical import canonical_bytes, canonicalize, check_finite, load_canonical, read_layout
from .errors import (
    ArchitectureMismatch,
    CommitmentError,
    CommitmentMismatch,
    CorruptModel,
    NonFiniteParameters,
)
from .fingerprint import (
    Architecture,
    TensorSpec,
    architecture_fingerprint,
    architecture_of,
    describe_architecture,
    num_params,
)
from .merkle import (
    DEFAULT_CHUNK_SIZE,
    MerkleProof,
    MerkleTree,
    chunk_count,
    chunk_proof,
    merkle_root,
    verify_chunk,
)
from .model import ModelCommitment, commit, commit_bytes, open_model

__all__ = [
    "canonical_bytes",
    "canonicalize",
    "load_canonical",
    "read_layout",
    "check_finite",
    "DEFAULT_CHUNK_SIZE",
    "MerkleProof",
    "MerkleTree",
    "chunk_count",
    "merkle_root",
    "chunk_proof",
    "verify_chunk",
    "Architecture",
    "TensorSpec",
    "architecture_of",
    "architecture_fingerprint",
    "num_params",
    "describe_architecture",
    "ModelCommitment",
    "commit",
    "commit_bytes",
    "open_model",
    "CommitmentError",
    "CorruptModel",
    "CommitmentMismatch",
    "ArchitectureMismatch",
    "NonFiniteParameters",
]
