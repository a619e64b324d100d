"""Moving models between roles: by commitment through the blob store.

Every role fetches a model by the root the chain fixed and checks the bytes
against it before use (`fetch_model`), and publishes a model by putting its
canonical bytes in the store and naming the blob in the on-chain `uri`
(`publish_model`). The model itself travels as a flat float32 vector in the
sorted-key order of `poft.learning.params`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from poft.commitment import ModelCommitment, commit, open_model
from poft.learning.params import flatten, unflatten
from poft.store import BlobStore, parse_location


@dataclass(frozen=True)
class PublishedModel:
    commitment: ModelCommitment
    uri: str


class ModelCodec:
    """Turns flat vectors into committed blobs and back, for one architecture."""

    def __init__(self, template_state: dict[str, torch.Tensor]):
        self.template = {k: v.detach().clone() for k, v in template_state.items()}
        self.dim = sum(t.numel() for t in self.template.values())

    def to_state(self, vec: torch.Tensor) -> dict[str, torch.Tensor]:
        return unflatten(vec, self.template)

    def publish(self, store: BlobStore, vec: torch.Tensor) -> PublishedModel:
        commitment, blob = commit(self.to_state(vec))
        digest = store.put(blob)
        return PublishedModel(commitment, store.location(digest))

    def fetch(self, store: BlobStore, root: bytes, uri: str,
              fingerprint: bytes | None = None) -> torch.Tensor:
        """The model committed to `root`, verified; raises if the bytes do not match."""
        blob = store.get(parse_location(uri))
        return flatten(open_model(blob, root, fingerprint))
