"""Reading one round's committed inputs off the ledger and the store.

Miner, validators and `poft verify --recompute` all aggregate from exactly this:
the parent model, the candidates in on-chain order, and the reported losses in
committee order. A candidate whose blob is missing, corrupt, substituted or of
another architecture becomes a NaN row, which `aggregate_round` treats as
inadmissible (weight 0) instead of failing the round.
"""

from __future__ import annotations

import logging

import torch

from poft.protocol.aggregate import RoundInputs
from poft.protocol.models_io import ModelCodec
from poft.store import StoreError

log = logging.getLogger(__name__)


class CandidateCache:
    """Verified candidate vectors by root, so each blob is fetched once per role."""

    def __init__(self) -> None:
        self._vectors: dict[bytes, torch.Tensor | None] = {}

    def load(self, codec: ModelCodec, store, root: bytes, uri: str,
             fingerprint: bytes | None) -> torch.Tensor | None:
        if root not in self._vectors:
            try:
                self._vectors[root] = codec.fetch(store, root, uri, fingerprint)
            except (StoreError, ValueError) as exc:  # CommitmentError, malformed uri
                log.warning("candidate %s refused: %s", root.hex()[:16], exc)
                self._vectors[root] = None
        return self._vectors[root]

    def forget_all_but(self, keep: set[bytes]) -> None:
        self._vectors = {k: v for k, v in self._vectors.items() if k in keep}

    def clear(self) -> None:
        """Drop every vector (a round's candidates are not needed after it settles)."""
        self._vectors = {}


def load_candidates(ledger, store, codec: ModelCodec, round_id: int,
                    fingerprint: bytes, cache: CandidateCache, records=None) -> torch.Tensor:
    """(n, d) candidate matrix in on-chain order; refused candidates are NaN rows.
    `records`: the round's `ledger.candidates(round_id)` when the caller has read them."""
    rows = []
    dim = codec.dim
    candidates = ledger.candidates(round_id) if records is None else records
    cache.forget_all_but({c.root for c in candidates})  # keep only this round's blobs
    for cand in candidates:
        vec = cache.load(codec, store, cand.root, cand.uri, fingerprint)
        rows.append(vec if vec is not None else torch.full((dim,), float("nan")))
    return torch.stack(rows) if rows else torch.empty((0, dim))


def load_reports(ledger, round_id: int) -> torch.Tensor:
    """(v, n) losses of the validators that reported, in committee order."""
    reports = ledger.reports(round_id)
    order = [v for v in ledger.committee(round_id).validators if v in reports]
    if not order:
        raise ValueError(f"round {round_id}: no validator has reported losses")
    return torch.tensor([reports[v] for v in order], dtype=torch.float64)


def previous_step(ledger, store, codec: ModelCodec, round_id: int, parent_vec: torch.Tensor,
                  fingerprint: bytes) -> torch.Tensor | None:
    """θ_t − θ_{t−1} (float64) for round `round_id`, whose parent is θ_t: the step
    between the two latest models final before it, both read from the chain's
    checkpoints and fetched by their committed roots; None until two rounds of this
    network have finalized (the genesis model is no round's result)."""
    finals = []
    for r in range(round_id - 1, 0, -1):
        cp = ledger.checkpoint(r)
        if cp is not None:
            finals.append(cp)
            if len(finals) == 2:
                break
    if len(finals) < 2:
        return None
    latest, before = finals
    if latest.parent_root != before.model_root:
        raise ValueError(f"round {latest.round}'s parent is not round {before.round}'s model")
    grandparent = codec.fetch(store, before.model_root, before.uri, fingerprint)
    return parent_vec.to(torch.float64) - grandparent.to(torch.float64)


def collect_round_inputs(ledger, store, codec: ModelCodec, round_id: int,
                         parent_vec: torch.Tensor, fingerprint: bytes,
                         cache: CandidateCache, *, with_previous_step: bool = False,
                         history=None) -> RoundInputs:
    """The committed inputs of round `round_id`; `with_previous_step` adds the last
    step between final models (robust_softmax's momentum needs it), `history` (a
    `protocol.worker_history.WorkerHistory`) each candidate's owner's history."""
    step = (previous_step(ledger, store, codec, round_id, parent_vec, fingerprint)
            if with_previous_step else None)
    records = ledger.candidates(round_id)
    candidates = load_candidates(ledger, store, codec, round_id, fingerprint, cache, records)
    sums = None
    if history is not None:
        sums = history.sums_through(ledger, store, codec, round_id, fingerprint, records,
                                    parent_vec, candidates)
    return RoundInputs(global_vec=parent_vec, candidates=candidates,
                       losses=load_reports(ledger, round_id), previous_delta=step,
                       history=sums)
