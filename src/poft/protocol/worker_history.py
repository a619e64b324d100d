"""Each candidate owner's update history, derived from what the chain committed.

robust_softmax's history test (`poft.aggregation.history`) needs, for every
candidate of a round, the sum of its owner's updates ``θ_i − θ`` over the
network's *earlier final* rounds. Nothing new goes on chain for it: each final
round's candidates are in the store under the roots the chain fixed, and its
parent is the model of the final round before it (or the genesis model), so
any party can rebuild the sums. Miner, validators, `poft verify --recompute`
and the no-ledger simulation all fold the same rounds in the same order into
the same sketches, and so get the same weights.

`WorkerHistory` keeps the sums incrementally, one per owner: a round's
sketches are computed once, when a role reads the round's candidates anyway,
and folded once the chain shows the round final; a round no role sharing the
history saw is fetched from the store. A round that failed on chain adds
nothing.
"""

from __future__ import annotations

import torch

from poft.aggregation.history import SKETCH_DIM, sketch
from poft.protocol.finals import finalized_rounds, parent_uri
from poft.protocol.models_io import ModelCodec
from poft.protocol.round_inputs import CandidateCache, load_candidates


def owner_key(candidate) -> str:
    """Whose history a candidate adds to: its worker; each cross-chain import is its
    own (the bridge submits them all, and they are no worker's)."""
    return f"import:{candidate.import_id}" if candidate.is_import else candidate.owner.lower()


def round_sketches(records, parent: torch.Tensor, candidates: torch.Tensor,
                   width: int = SKETCH_DIM) -> dict[str, torch.Tensor]:
    """Each owner's sketched update ``θ_i − θ`` in one round (refused candidates: 0)."""
    deltas = candidates.to(torch.float64) - parent.to(torch.float64)
    rows = sketch(deltas, width)
    return {owner_key(c): rows[i] for i, c in enumerate(records)}


class WorkerHistory:
    """Sketched sums of each owner's updates over one network's final rounds."""

    def __init__(self, genesis_uri: str, width: int = SKETCH_DIM, *,
                 keep_rounds: bool = False) -> None:
        """`keep_rounds`: keep every round's sketches, for a reader that goes back to
        earlier rounds (`poft verify` walks a lineage from its tip)."""
        self.genesis_uri = genesis_uri
        self.width = width
        self.keep_rounds = keep_rounds
        self.sums: dict[str, torch.Tensor] = {}
        self.through = 0                       # every round <= through is folded
        self.known: dict[int, dict[str, torch.Tensor]] = {}   # round -> its sketches

    def sums_through(self, ledger, store, codec: ModelCodec, round_id: int,
                     fingerprint: bytes, records, parent: torch.Tensor,
                     candidates: torch.Tensor) -> torch.Tensor:
        """``(n, k)`` histories of round `round_id`'s candidates (`records`, their
        vectors `candidates`, the round's `parent`): each owner's sum over the final
        rounds before it plus its update in this round."""
        self.fold_until(ledger, store, codec, round_id, fingerprint)
        current = self.known.get(round_id)
        if current is None:       # computed once per round, whichever role reads it first
            current = self.known[round_id] = round_sketches(records, parent, candidates,
                                                            self.width)
        keys = [owner_key(c) for c in records]
        rows = [current[k] + self.sums[k] if k in self.sums else current[k] for k in keys]
        return (torch.stack(rows) if rows
                else torch.empty((0, min(self.width, codec.dim)), dtype=torch.float64))

    def fold_until(self, ledger, store, codec: ModelCodec, round_id: int,
                   fingerprint: bytes) -> None:
        """Fold every final round before `round_id` not yet folded, in round order."""
        if round_id <= self.through:      # asked about an earlier round: start over
            self.sums, self.through = {}, 0
        if round_id - 1 == self.through:  # nothing new: the miner and each validator of
            return                        # a round ask, and the chain's events are not free
        finals = finalized_rounds(ledger)
        for r in sorted(r for r in finals if self.through < r < round_id):
            sketches = self.known.get(r)
            if sketches is None:
                sketches = self.fetch_round(ledger, store, codec, r, fingerprint, finals)
                self.known[r] = sketches
            for key, row in sketches.items():
                self.sums[key] = self.sums[key] + row if key in self.sums else row.clone()
        self.through = max(self.through, round_id - 1)
        if not self.keep_rounds:
            self.known = {r: s for r, s in self.known.items() if r > self.through}

    def fetch_round(self, ledger, store, codec: ModelCodec, round_id: int, fingerprint: bytes,
                    finals: dict[int, dict]) -> dict[str, torch.Tensor]:
        """A final round's sketches from the store: its candidates and its parent."""
        event = finals[round_id]
        uri = parent_uri(ledger, event["parent_root"], round_id, self.genesis_uri, finals)
        parent = codec.fetch(store, event["parent_root"], uri, fingerprint)
        records = ledger.candidates(round_id)
        candidates = load_candidates(ledger, store, codec, round_id, fingerprint,
                                     CandidateCache(), records)
        return round_sketches(records, parent, candidates, self.width)
