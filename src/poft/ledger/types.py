"""Typed results of the ledger client (small frozen dataclasses)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from enum import IntEnum

from eth_utils import keccak

ZERO32 = b"\0" * 32
BLOB_SCHEME = "sha256:"     # the store's content address of a blob (poft.store.location)


def blob_digest(uri: str) -> bytes:
    """The 32-byte SHA-256 digest a ``sha256:<64 hex>`` uri names (what goes on chain)."""
    if not (isinstance(uri, str) and uri.lower().startswith(BLOB_SCHEME)
            and re.fullmatch(r"[0-9a-fA-F]{64}", uri[len(BLOB_SCHEME):])):
        raise ValueError(f"malformed blob location {uri!r:.80}: expected "
                         f"'{BLOB_SCHEME}<64 hex chars>'")
    return bytes.fromhex(uri[len(BLOB_SCHEME):])


def blob_uri(digest: bytes) -> str:
    """The ``sha256:<hex>`` uri of a 32-byte digest read from the chain."""
    return BLOB_SCHEME + bytes(digest).hex()


class Phase(IntEnum):
    """FederatedLedger.phase values."""

    IDLE = 0
    TRAIN = 1
    EVALUATE = 2
    AGGREGATE = 3
    ATTEST = 4
    FINAL = 5


@dataclass(frozen=True)
class NetworkParams:
    """Constructor parameters of one network's FederatedLedger.

    `phase_blocks` is one deadline for every phase or (train, evaluate,
    aggregate, attest). With an automining chain every transaction is a block,
    so TRAIN needs at least as many blocks as there are workers.
    """

    name: str = "net"
    network_id: bytes | None = None  # default: keccak("poft-network:" + name)
    k_validators: int = 3
    n_miners: int = 2
    scores_per_candidate: int = 1   # numbers per candidate in a validator's report
    phase_blocks: int | tuple[int, int, int, int] = 200
    min_stake: int = 10**18
    slash_bps: int = 1000
    reward_per_round: int = 10**18
    validator_reward: int = 10**17
    genesis_root: bytes = ZERO32
    genesis_fingerprint: bytes = ZERO32
    genesis_uri: str = ""
    initial_pool: int = 0  # wei the deployer puts into the reward pool

    @property
    def resolved_network_id(self) -> bytes:
        return self.network_id or keccak(f"poft-network:{self.name}".encode())

    @property
    def deadlines(self) -> tuple[int, int, int, int]:
        if isinstance(self.phase_blocks, int):
            return (self.phase_blocks,) * 4
        if len(self.phase_blocks) != 4:
            raise ValueError("phase_blocks is one int or 4 ints (train, evaluate, aggregate, attest)")
        return tuple(self.phase_blocks)


ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


@dataclass(frozen=True)
class Deployment:
    """Where one network's contracts live."""

    name: str
    network_id: bytes
    chain_id: int
    ledger_address: str
    bridge_address: str
    owner: str
    deploy_block: int
    backend: str
    rpc_url: str | None = None

    def to_json(self) -> dict:
        data = asdict(self)
        data["network_id"] = "0x" + self.network_id.hex()
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Deployment":
        """From `to_json`'s dict; ValueError names a field of the wrong shape."""
        data = dict(data)
        data["network_id"] = bytes.fromhex(data["network_id"].removeprefix("0x"))
        for key in ("ledger_address", "bridge_address", "owner"):
            if not (isinstance(data.get(key), str) and ADDRESS.fullmatch(data[key])):
                raise ValueError(f"{key} {data.get(key)!r} is not an address (0x and 40 hex digits)")
        return cls(**data)


@dataclass(frozen=True)
class Committee:
    validators: list[str]
    stakes: list[int]
    miners: list[str]  # ordered: the first is the miner, the rest back it up

    @property
    def total_stake(self) -> int:
        return sum(self.stakes)


@dataclass(frozen=True)
class Candidate:
    index: int
    owner: str  # the worker, or the bridge for an imported model
    root: bytes  # no fingerprint: a candidate must have the global model's architecture
    uri: str
    is_import: bool
    import_id: int = 0


@dataclass(frozen=True)
class Proposal:
    round: int
    attempt: int  # index of the proposing miner in the committee's miner list
    miner: str
    model_root: bytes
    uri: str
    weights_hash: bytes


@dataclass(frozen=True)
class Checkpoint:
    round: int
    model_root: bytes
    parent_root: bytes
    weights_hash: bytes
    miner: str
    uri: str


@dataclass(frozen=True)
class GlobalModel:
    root: bytes
    fingerprint: bytes
    uri: str
    round: int  # round that finalized it; 0 = genesis


@dataclass(frozen=True)
class Signature:
    """An EIP-712 Checkpoint signature and who made it."""

    signer: str
    signature: bytes


@dataclass(frozen=True)
class RoundState:
    round: int
    phase: Phase
    deadline: int
    block_number: int
    current_miner: str | None


@dataclass(frozen=True)
class RemoteNetwork:
    network_id: bytes
    chain_id: int
    ledger: str
    domain_separator: bytes
    total_stake: int
    validator_count: int
    nonce: int
    validators_hash: bytes  # of the current set: what the next rotation is signed over


@dataclass(frozen=True)
class ImportRecord:
    import_id: int
    network_id: bytes
    round: int
    model_root: bytes
    parent_root: bytes
    uri: str
    signer_stake: int
    total_stake: int
    block_number: int


@dataclass(frozen=True)
class LossReport:
    validator: str
    losses: list[float]  # non-finite reported losses come back as math.inf
    fixed: list[int] = field(repr=False, default_factory=list)
