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


class MemberStakes:
    """A target bridge's stakes of one source set's members, kept between relays.

    A registered set changes only through `update_validator_set`, which moves its nonce
    and hash: `refresh` reads the network's record (one read) and forgets the stakes
    when either moved, so a relayer reads each member's stake once per set, not once
    per signature and relay."""

    def __init__(self, bridge: BridgeClient, network_id: bytes):
        self.bridge, self.network_id = bridge, network_id
        self._version: tuple | None = None
        self._stakes: dict[str, int] = {}

    def refresh(self) -> None:
        net = self.bridge.network(self.network_id)
        version = None if net is None else (net.nonce, net.validators_hash)
        if version != self._version:
            self._version, self._stakes = version, {}

    def of(self, signer: str) -> int:
        if signer not in self._stakes:
            self._stakes[signer] = self.bridge.member_stake(self.network_id, signer)
        return self._stakes[signer]


def relay_checkpoint(source: LedgerClient, round: int, target: BridgeClient,
                     checkpoint: Checkpoint | None = None,
                     members: MemberStakes | None = None) -> tuple[int, RelayTiming]:
    """Import `source`'s final checkpoint of `round` into `target`; returns (import id, timing).

    Keeps the signatures of members of the target's view of the source set, sorted by signer.
    `checkpoint`: the round's final checkpoint, when the caller has read it; `members`: the
    stakes a relayer keeps between relays of this link (refreshed here)."""
    t0 = time.perf_counter()
    cp = checkpoint or source.checkpoint(round)
    if cp is None:
        raise LedgerError(f"round {round} of network 0x{source.network_id.hex()} is not final")
    if members is None:
        members = MemberStakes(target, source.network_id)
    else:
        members.refresh()
    signatures = [
        sig for sig in source.checkpoint_signatures(round, known_final=True)
        if members.of(sig.signer) > 0
    ]
    t1 = time.perf_counter()
    import_id = target.import_checkpoint(source.network_id, round, cp.model_root, cp.parent_root,
                                         _sorted(signatures), cp.uri)
    return import_id, RelayTiming(t1 - t0, time.perf_counter() - t1)


def _sorted(signatures: list[Signature]) -> list[Signature]:
    return sorted(signatures, key=lambda s: int(s.signer, 16))
