"""The relayer role: carry a finalized checkpoint from one network to another.

PoFT's verifiable exchange (docs/architecture.md, "Cross-chain exchange"): after a round
is final on network A, A's stakers sign the checkpoint (EIP-712, A's domain);
the relayer — any party, trusted for nothing — reads the signatures from A and
submits `(checkpoint, signatures)` to B's `ModelBridge`, which accepts it only
with valid signatures of ≥ 2/3 of A's registered stake. The relayer then
fetches the model's bytes and checks them against the imported root, and, on
B, nominates the import as a candidate of B's next round (import policy
`candidate`), where B's validators score it like any worker update.

Each part is timed separately (sign, relay, verify, fetch) for the overhead
breakdown the design asks for.
"""

from __future__ import annotations

from dataclasses import dataclass

from poft.ledger import Checkpoint, MemberStakes, relay_checkpoint
from poft.protocol.models_io import ModelCodec
from poft.protocol.timing import PhaseTimer


@dataclass(frozen=True)
class ImportedModel:
    import_id: int
    source_round: int
    root: bytes
    uri: str


class Relayer:
    def __init__(self, source_ledger, target_bridge, target_ledger, store, codec: ModelCodec,
                 timer: PhaseTimer):
        self.source, self.bridge, self.target = source_ledger, target_bridge, target_ledger
        self.store, self.codec, self.timer = store, codec, timer
        # The target's stakes of the source's members, kept between relays; made at the
        # first relay (node mode's nominator has no source and never relays).
        self.members: MemberStakes | None = None

    def relay(self, round_id: int, checkpoint: Checkpoint | None = None) -> ImportedModel:
        """Submit round `round_id`'s checkpoint of the source to the target's bridge,
        then fetch the model and check it against the root the bridge accepted.
        `checkpoint`: that final checkpoint, when the caller has read it."""
        if self.members is None:
            self.members = MemberStakes(self.bridge, self.source.network_id)
        import_id, timing = relay_checkpoint(self.source, round_id, self.bridge, checkpoint,
                                             self.members)
        self.timer.totals["relay"] += timing.read_s
        self.timer.totals["verify"] += timing.import_s
        record = self.bridge.import_record(import_id)
        with self.timer.phase("fetch"):
            self.codec.fetch(self.store, record.model_root, record.uri,
                             self.target.global_model().fingerprint)
        return ImportedModel(import_id, round_id, record.model_root, record.uri)

    def nominate(self, round_id: int, imported: ImportedModel) -> None:
        """Make the import a candidate of the target's round (policy `candidate`)."""
        with self.timer.phase("verify"):
            self.target.submit_import(round_id, imported.import_id)
