"""Cross-chain plumbing between two networks' clients: trust a remote, relay a checkpoint.

The relayer is trusted for nothing: it only moves signatures that the target
bridge verifies on its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .bridge_client import BridgeClient
from .client import LedgerClient
from .errors import LedgerError
from .types import Checkpoint, Signature


@dataclass(frozen=True)
class RelayTiming:
    """Seconds spent reading from the source and verifying on the target."""

    read_s: float
    import_s: float


def trust_network(target: BridgeClient, source: LedgerClient,
                  validators: list[tuple[str, int]] | None = None) -> None:
    """Register `source`'s network on `target` with `validators` [(address, stake)],
    by default the source's committee-eligible stakers and their current stakes."""
    members = validators if validators is not None else source.stakers()
    if not members:
        raise LedgerError("the source network has no eligible stakers to trust")
    target.register_network(source.network_id, source.backend.chain_id, source.address,
                            [a for a, _ in members], [s for _, s in members])


def relay_checkpoint(source: LedgerClient, round: int, target: BridgeClient,
                     checkpoint: Checkpoint | None = None) -> tuple[int, RelayTiming]:
    """Import `source`'s final checkpoint of `round` into `target`; returns (import id, timing).

    Keeps the signatures of members of the target's view of the source set, sorted by signer.
    `checkpoint`: the round's final checkpoint, when the caller has read it."""
    t0 = time.perf_counter()
    cp = checkpoint or source.checkpoint(round)
    if cp is None:
        raise LedgerError(f"round {round} of network 0x{source.network_id.hex()} is not final")
    signatures = [
        sig for sig in source.checkpoint_signatures(round, known_final=True)
        if target.member_stake(source.network_id, sig.signer) > 0
    ]
    t1 = time.perf_counter()
    import_id = target.import_checkpoint(source.network_id, round, cp.model_root, cp.parent_root,
                                         _sorted(signatures), cp.uri)
    return import_id, RelayTiming(t1 - t0, time.perf_counter() - t1)


def _sorted(signatures: list[Signature]) -> list[Signature]:
    return sorted(signatures, key=lambda s: int(s.signer, 16))
