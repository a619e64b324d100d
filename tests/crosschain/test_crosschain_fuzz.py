"""Cross-chain fuzz: >= 1,000 bad checkpoint submissions to a ModelBridge, none accepted.

Network A (source) and network B (target) run on two EmbeddedBackend EVMs that
share a chain id and, deployed alike, even the ledger address: only the
network-id salt of the EIP-712 domain tells them apart. A has 8 participants:
7 stakers with different stakes (the set B's bridge registers for A) and one
below A's minimum stake (a key of A that B does not trust). B's bridge also
trusts a third network C with the *same* validators, chain id and ledger
address as A (stakers active on two networks): only the salt and the struct's
networkId keep A's signatures from counting for C and the other way round.

A finalizes rounds 1 and 2 and every participant signs both checkpoints.
Round 1 is imported into B by the honest relay path (the control) and replaying
it fails. Round 2 is the target: its genuine quorum would be accepted (eth_call
before and after the fuzz, and a real import at the end), and so is the genuine
quorum each forged, re-domained or altered submission was derived from, so each
refusal is due to the defect the submission carries. A seeded generator draws
PER_FAMILY submissions of each family, its kinds in turn:

- forged: keys B does not trust (fresh keys, A's under-staked participant, B's
  stakers) signing the right digest in place of members; a random 65-byte blob,
  one flipped bit, the high-s (malleable) twin of a genuine signature, v as a
  raw recovery id (0/1), a truncated or an oversized blob in a genuine quorum.
- replayed: the imported round 1 again: the very signatures, re-ordered,
  another quorum, fresh ECDSA nonces, another uri.
- re-domained: genuine signers of round 2 under B's domain, C's domain, another
  verifying contract or another chain id (struct networkId A's or the other
  network's); or a few such signatures mixed into a genuine quorum.
- under-threshold: genuine signatures of every subset of A's stakers below 2/3
  of the registered stake (empty set included), and the maximal ones (one more
  member would reach 2/3) again with fresh-nonce signatures.
- duplicate-signer: a below-2/3 set plus a second copy of one member's
  signature or a second valid signature (other nonce) by that member, which
  counted twice would reach 2/3; the copy next to it or elsewhere; or a full
  quorum plus a duplicate.
- altered: a genuine quorum with model_root, parent_root, round or network_id
  changed (one bit or at random; network_id also C's), or its signers out of
  ascending order.
- re-located: a genuine quorum (signed with the checkpoint's uri) submitted
  under another uri: another blob, one flipped bit, empty, the uri with a
  prefix or suffix, round 1's uri, bytes that are not UTF-8. The uri is part of
  the signed Checkpoint, so a relayer cannot pick where B fetches the model
  (nor take the round with a uri of its choosing before the honest relay).

Every submission goes through B's bridge as an eth_call of import_checkpoint
(the contract code runs as in a transaction; a revert is a refusal);
TX_PER_FAMILY of each family are also sent as real transactions by a third-party
relayer and must be mined and revert. Each refusal reason must equal the one a
Python model of the bridge predicts (`expected_refusal`) and be one of the
reasons the contract documents for the family. Afterwards B's bridge (imports,
the control record, registered networks, events, storage root) and B's ledger
(state, balance, storage root) are unchanged.

A second test fuzzes validator-set rotations the same way (`ROTATION_KINDS`):
after a genuine rotation 1 that hands a former minority (which had signed
rotations of its own, below 2/3, against the first set) all the weight, every
stale, replayed, under-threshold, forged, re-domained, altered, malformed or
overflowing rotation is refused for the reason a Python model of
`update_validator_set` predicts, and B's bridge is unchanged.
"""

from __future__ import annotations

import itertools
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import coincurve
import pytest
from eth_abi import encode
from eth_utils import keccak, to_canonical_address, to_checksum_address

import poft.ledger
from ledger_support import ETH, TEST_PARAMS, Net, build_net, transact_raw_strings
from poft.ledger import (
    BridgeClient,
    Checkpoint,
    ContractRevert,
    EmbeddedBackend,
    Phase,
    relay_checkpoint,
    trust_network,
)
from poft.ledger.accounts import SECP256K1_N, Account, derive_accounts, recover_signer
from poft.ledger.eip712 import (
    CHECKPOINT_TYPEHASH,
    VALIDATOR_SET_TYPEHASH,
    checkpoint_digest,
    domain_separator,
    typed_digest,
    validators_hash,
)
from poft.ledger.errors import decode_revert_data

SEED = 20_260_611
PER_FAMILY = 200
TX_PER_FAMILY = 50
IMPORTED, TARGET = 1, 2  # A's rounds: imported by the control / target of the fuzz
A_STAKES = [int(x * ETH) for x in (7.5, 6, 5, 4, 3, 2, 1.5)] + [ETH // 2]  # last: below min_stake
HALF_N = SECP256K1_N // 2

# ModelBridge.vy / signatures.vy refusal reasons, matched exactly.
UNKNOWN_NETWORK = "unknown network"
ALREADY_IMPORTED = "round already imported"
NOT_MEMBER = "signer not in validator set"
NOT_ASCENDING = "signers not strictly ascending"
BELOW_TWO_THIRDS = "below 2/3 of stake"
BAD_LENGTH = "bad signature: length is not 65 bytes"
HIGH_S = "bad signature: high s (malleable)"
BAD_V = "bad signature: v is not 27 or 28"
BAD_SIGNATURE = "bad signature"
CONTRACT_REASONS = (UNKNOWN_NETWORK, ALREADY_IMPORTED, NOT_MEMBER, NOT_ASCENDING, BELOW_TWO_THIRDS,
                    BAD_LENGTH, HIGH_S, BAD_V, BAD_SIGNATURE)
# A signature longer than Bytes[65] fails vyper's calldata bound before any assert: a revert
# without data, which the embedded backend reports as one of these.
OVERSIZED = "<reverted without data: Bytes[65] bound>"
EMPTY_REVERTS = {"Revert: b''", decode_revert_data(b"")}

FAMILY_REASONS = {
    "forged": {NOT_MEMBER, BAD_LENGTH, HIGH_S, BAD_V, BAD_SIGNATURE, OVERSIZED},
    "replayed": {ALREADY_IMPORTED},
    "re-domained": {NOT_MEMBER},
    "under-threshold": {BELOW_TWO_THIRDS},
    "duplicate-signer": {NOT_ASCENDING},
    "altered": {NOT_MEMBER, UNKNOWN_NETWORK, NOT_ASCENDING},
    "re-located": {NOT_MEMBER},
}
KINDS = {
    "forged": ("outsider-key", "random-blob", "bit-flip", "high-s", "raw-v", "truncated", "oversized"),
    "replayed": ("exact", "reordered", "other-uri", "other-quorum", "fresh-nonce"),
    "re-domained": ("b-domain", "third-network", "other-contract", "other-chain", "mixed"),
    "under-threshold": ("every-subset", "just-below"),
    "duplicate-signer": ("same-signature", "second-signature", "duplicate-apart", "quorum-plus-duplicate"),
    "altered": ("model-root-bit", "model-root-random", "parent-root-bit", "parent-root-random", "round-bit",
                "round-random", "network-bit", "network-random", "network-third", "unsorted"),
    "re-located": ("other-blob", "uri-bit", "empty", "prefixed", "suffixed", "round-1-uri", "not-utf8"),
}


# === signatures ===================================================================
def as_bytes(uri: str | bytes) -> bytes:
    return uri.encode() if isinstance(uri, str) else uri


def raw_checkpoint_digest(separator: bytes, network_id: bytes, round: int, model_root: bytes,
                          parent_root: bytes, uri: str | bytes) -> bytes:
    """EIP-712 Checkpoint digest with the domain separator and the struct's networkId chosen apart."""
    struct_hash = keccak(encode(["bytes32", "bytes32", "uint256", "bytes32", "bytes32", "bytes32"],
                                [CHECKPOINT_TYPEHASH, network_id, round, model_root, parent_root,
                                 keccak(as_bytes(uri))]))
    return typed_digest(separator, struct_hash)


def sign_with_nonce(account: Account, digest: bytes, rng: random.Random) -> bytes:
    """A valid low-s signature with a random ECDSA nonce (not RFC 6979's): another signature, same signer."""
    d, z = int.from_bytes(account.private_key, "big"), int.from_bytes(digest, "big")
    while True:
        k = rng.randrange(1, SECP256K1_N)
        point = coincurve.PrivateKey(k.to_bytes(32, "big")).public_key.format(compressed=False)
        x, y = int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:], "big")
        r = x % SECP256K1_N
        s = pow(k, -1, SECP256K1_N) * (z + r * d) % SECP256K1_N
        if x >= SECP256K1_N or r == 0 or s == 0:
            continue
        recid = y & 1
        if s > HALF_N:
            s, recid = SECP256K1_N - s, recid ^ 1
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([27 + recid])
        assert recover_signer(digest, sig) == account.address
        return sig


def high_s_twin(sig: bytes) -> bytes:
    """(r, n - s, flipped v): the malleable twin, a valid ECDSA signature by the same key."""
    s = int.from_bytes(sig[32:64], "big")
    return sig[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - sig[64]])


def flip_bit(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(out)


def by_address(account: Account) -> int:
    return int(account.address, 16)


# === the two networks ===============================================================
@dataclass(frozen=True)
class RemoteSet:
    """A network as B's bridge registered it (the model's view)."""

    separator: bytes
    stakes: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.stakes.values())


@dataclass
class World:
    a: Net
    b: Net
    owner_bridge: BridgeClient  # B's bridge as its owner
    relayer: BridgeClient  # B's bridge as a funded third party, trusted for nothing
    members: list[Account]  # A's stakers as registered on B, ascending by address
    outsiders: list[Account]  # keys B does not trust for A
    third_id: bytes  # network C: registered on B with A's validators, chain id and ledger address
    registered: dict[bytes, RemoteSet]
    checkpoints: dict[int, Checkpoint]
    imported_rounds: set[int] = field(default_factory=set)
    imported_signatures: tuple[bytes, ...] = ()  # what the control import sent, in order
    _signatures: dict[tuple[str, int], bytes] = field(default_factory=dict)

    @property
    def network_id(self) -> bytes:
        return self.a.reader.network_id

    @property
    def separator(self) -> bytes:
        return self.registered[self.network_id].separator

    def stake(self, accounts) -> int:
        stakes = self.registered[self.network_id].stakes
        return sum(stakes[a.address] for a in accounts)

    def reaches(self, accounts) -> bool:
        return 3 * self.stake(accounts) >= 2 * self.registered[self.network_id].total

    def digest(self, round: int) -> bytes:
        cp = self.checkpoints[round]
        return raw_checkpoint_digest(self.separator, self.network_id, round, cp.model_root, cp.parent_root,
                                     cp.uri)

    def sign(self, account: Account, round: int) -> bytes:
        """`account`'s (RFC 6979) signature of A's genuine checkpoint of `round`."""
        key = (account.address, round)
        if key not in self._signatures:
            self._signatures[key] = account.sign_digest(self.digest(round))
        return self._signatures[key]


def final_round(net: Net, root: bytes) -> int:
    """Play one round to FINAL and settle it; then every participant signs its checkpoint."""
    r, committee = net.open()
    net.submit_all(r)
    net.report_all(r, committee)
    net.client(committee.miners[0]).propose(r, root, f"sha256:{root.hex()}", net.uniform_weights(r))
    for v in committee.validators:  # unequal stakes: attest until 2/3 of the committee's stake
        if net.reader.phase() == Phase.ATTEST:
            net.client(v).attest(r)
    assert net.reader.phase() == Phase.FINAL
    net.reader.settle(r, net.uniform_weights(r))
    signed = {s.signer for s in net.reader.checkpoint_signatures(r)}
    for address, client in net.clients.items():
        if address not in signed:
            client.sign_checkpoint(r)
    return r


@pytest.fixture(scope="module")
def world() -> World:
    a = build_net(EmbeddedBackend(seed=51), TEST_PARAMS, A_STAKES, [True] * len(A_STAKES))
    b_params = TEST_PARAMS.__class__(**{**TEST_PARAMS.__dict__, "name": "b"})
    b = build_net(EmbeddedBackend(seed=52), b_params, [2 * ETH] * 3, [True] * 3)
    owner_bridge = b.bridge()
    relayer = BridgeClient.for_deployment(b.backend, b.deployment, b.backend.funded_accounts(1)[0])

    trust_network(owner_bridge, a.reader)  # A's stakers with stake >= min_stake, their current stakes
    registered_a = dict(a.reader.stakers())
    third_id = keccak(b"poft-network:fuzz-third")
    owner_bridge.register_network(third_id, a.backend.chain_id, a.reader.address,
                                  list(registered_a), list(registered_a.values()))
    assert (final_round(a, b"\x11" * 32), final_round(a, b"\x22" * 32)) == (IMPORTED, TARGET)

    by_addr = {acct.address: acct for acct in a.accounts}
    chain_id, ledger = a.backend.chain_id, a.reader.address
    return World(
        a=a, b=b, owner_bridge=owner_bridge, relayer=relayer,
        members=sorted((by_addr[m] for m in registered_a), key=by_address),
        outsiders=([acct for acct in a.accounts if acct.address not in registered_a]
                   + derive_accounts(SEED, 6, label="fuzz-outsider") + b.accounts),
        third_id=third_id,
        registered={a.reader.network_id: RemoteSet(domain_separator(chain_id, ledger, a.reader.network_id),
                                                   registered_a),
                    third_id: RemoteSet(domain_separator(chain_id, ledger, third_id), registered_a)},
        checkpoints={r: a.reader.checkpoint(r) for r in (IMPORTED, TARGET)},
    )


# === submissions and the model of the bridge ==========================================
@dataclass(frozen=True)
class Submission:
    family: str
    kind: str
    network_id: bytes
    round: int
    model_root: bytes
    parent_root: bytes
    signatures: tuple[bytes, ...]
    uri: str | bytes  # bytes: sent raw (not necessarily UTF-8)
    base: tuple[bytes, ...] | None = None  # the genuine round-2 quorum it was derived from

    @property
    def args(self) -> tuple:
        return (self.network_id, self.round, self.model_root, self.parent_root, list(self.signatures), self.uri)

    @property
    def label(self) -> str:
        return f"{self.family}/{self.kind}"


def signature_refusal(digest: bytes, sig: bytes) -> tuple[str | None, str | None]:
    """signatures.recover() modelled: (refusal reason, None) or (None, recovered signer)."""
    if len(sig) != 65:
        return BAD_LENGTH, None
    if int.from_bytes(sig[32:64], "big") > HALF_N:
        return HIGH_S, None
    if sig[64] not in (27, 28):
        return BAD_V, None
    try:
        return None, recover_signer(digest, sig)
    except Exception:  # r or s out of range, r not on the curve: ecrecover gives address 0
        return BAD_SIGNATURE, None


def expected_refusal(w: World, sub: Submission) -> str | None:
    """ModelBridge.import_checkpoint modelled in Python: its refusal reason, or None for an import."""
    if any(len(sig) > 65 for sig in sub.signatures):
        return OVERSIZED
    net = w.registered.get(sub.network_id)
    if net is None:
        return UNKNOWN_NETWORK
    if sub.round in w.imported_rounds:
        return ALREADY_IMPORTED
    digest = raw_checkpoint_digest(net.separator, sub.network_id, sub.round, sub.model_root, sub.parent_root,
                                   sub.uri)
    previous, signed = 0, 0
    for sig in sub.signatures:
        reason, signer = signature_refusal(digest, sig)
        if reason:
            return reason
        if net.stakes.get(signer, 0) == 0:
            return NOT_MEMBER
        if int(signer, 16) <= previous:
            return NOT_ASCENDING
        previous, signed = int(signer, 16), signed + net.stakes[signer]
    return BELOW_TWO_THIRDS if 3 * signed < 2 * net.total else None


def reason_matches(actual: str, expected: str) -> bool:
    return actual in EMPTY_REVERTS if expected == OVERSIZED else actual == expected


# === the generator =====================================================================
class Fuzzer:
    """Draws bad submissions of each family from a seeded random.Random."""

    def __init__(self, w: World, rng: random.Random):
        self.w, self.rng = w, rng
        subsets = [list(c) for k in range(len(w.members) + 1) for c in itertools.combinations(w.members, k)]
        # below 2/3, heaviest first (the empty set last)
        self.below = sorted((s for s in subsets if not w.reaches(s)), key=w.stake, reverse=True)
        self.just_below = [s for s in self.below if all(w.reaches(s + [m]) for m in w.members if m not in s)]
        # (below-2/3 set, one of its members) such that counting that member twice reaches 2/3
        self.dup_pairs = [(s, m) for s in self.below for m in s if w.reaches(s + [m])]
        self.below_seen: set[tuple[str, ...]] = set()

    def make(self, family: str, kind: str, j: int) -> Submission:
        return getattr(self, family.replace("-", "_"))(kind, j)

    def target(self, family: str, kind: str, signatures, *, base=None, **changes) -> Submission:
        cp = self.w.checkpoints[TARGET]
        fields = dict(network_id=self.w.network_id, round=TARGET, model_root=cp.model_root,
                      parent_root=cp.parent_root, uri=cp.uri)
        fields.update(changes)
        return Submission(family, kind, signatures=tuple(signatures),
                          base=None if base is None else tuple(base), **fields)

    def quorum(self) -> list[Account]:
        """A random subset of A's stakers with >= 2/3 of the stake, ascending."""
        order = self.rng.sample(self.w.members, len(self.w.members))
        chosen = []
        for i, member in enumerate(order):
            chosen.append(member)
            if self.w.reaches(chosen):
                chosen += [m for m in order[i + 1:] if self.rng.random() < 0.3]
                break
        return sorted(chosen, key=by_address)

    def genuine(self, accounts, round: int = TARGET) -> list[bytes]:
        return [self.w.sign(acct, round) for acct in accounts]

    def fresh(self, accounts, round: int = TARGET) -> list[bytes]:
        return [sign_with_nonce(acct, self.w.digest(round), self.rng) for acct in accounts]

    # --- families ------------------------------------------------------------------------
    def forged(self, kind: str, j: int) -> Submission:
        rng, quorum = self.rng, self.quorum()
        base = sigs = self.genuine(quorum)
        if kind == "outsider-key":  # 1-3 members replaced by keys B does not trust, signing the right digest
            k = rng.randint(1, 3)
            replaced = rng.sample(quorum, k)
            signers = [m for m in quorum if m not in replaced] + rng.sample(self.w.outsiders, k)
            return self.target("forged", kind, self.genuine(sorted(signers, key=by_address)), base=base)
        sigs = list(sigs)
        i = rng.randrange(len(sigs))
        if kind == "random-blob":
            if rng.random() < 0.5:
                sigs[i] = rng.randbytes(65)
            else:  # shaped like a signature: low s, v 27/28
                sigs[i] = (rng.randbytes(32) + rng.randrange(1, HALF_N).to_bytes(32, "big")
                           + bytes([rng.choice((27, 28))]))
        elif kind == "bit-flip":
            sigs[i] = flip_bit(sigs[i], rng.randrange(65 * 8))
        elif kind == "high-s":
            sigs[i] = high_s_twin(sigs[i])
            assert recover_signer(self.w.digest(TARGET), sigs[i]) == quorum[i].address  # a true twin
        elif kind == "raw-v":
            sigs[i] = sigs[i][:64] + bytes([sigs[i][64] - 27])
        elif kind == "truncated":
            sigs[i] = sigs[i][:rng.randrange(65)]
        elif kind == "oversized":
            sigs[i] = sigs[i] + rng.randbytes(rng.randint(1, 40))
        return self.target("forged", kind, sigs, base=base)

    def replayed(self, kind: str, j: int) -> Submission:
        rng, cp = self.rng, self.w.checkpoints[IMPORTED]
        imported = list(self.w.imported_signatures)
        uri = cp.uri
        if kind == "exact":
            sigs = imported
        elif kind == "reordered":
            sigs = imported
            while sigs == imported:
                sigs = rng.sample(imported, len(imported))
        elif kind == "other-uri":
            sigs, uri = imported, f"sha256:{rng.randbytes(32).hex()}"
        elif kind == "other-quorum":
            sigs = self.genuine(self.quorum(), IMPORTED)
        else:  # fresh-nonce
            sigs = self.fresh(self.quorum(), IMPORTED)
        return self.target("replayed", kind, sigs, round=IMPORTED, model_root=cp.model_root,
                           parent_root=cp.parent_root, uri=uri)

    def foreign_domain(self, kind: str) -> tuple[bytes, bytes]:
        """(domain separator, struct networkId) of a domain that is not A's."""
        rng, w = self.rng, self.w
        chain_id, ledger, a_id = w.a.backend.chain_id, w.a.reader.address, w.network_id
        b_id = w.b.reader.network_id
        if kind == "b-domain":
            sep, struct_id = domain_separator(chain_id, w.b.reader.address, b_id), rng.choice((a_id, b_id))
        elif kind == "third-network":
            sep, struct_id = domain_separator(chain_id, ledger, w.third_id), rng.choice((a_id, w.third_id))
        elif kind == "other-contract":
            contract = rng.choice((w.b.deployment.bridge_address, w.a.deployment.bridge_address,
                                   to_checksum_address(rng.randbytes(20))))
            sep, struct_id = domain_separator(chain_id, contract, a_id), a_id
        else:  # other-chain
            other = rng.choice((chain_id + 1, chain_id - 1, 1, 31337, rng.randrange(2**64)))
            sep, struct_id = domain_separator(other, ledger, a_id), a_id
        assert sep != w.separator
        return sep, struct_id

    def re_domained(self, kind: str, j: int) -> Submission:
        quorum, cp = self.quorum(), self.w.checkpoints[TARGET]
        base = self.genuine(quorum)
        foreign = set(quorum) if kind != "mixed" else set(self.rng.sample(quorum, self.rng.randint(1, 2)))
        domain_kind = kind if kind != "mixed" else self.rng.choice(KINDS["re-domained"][:4])
        sigs = []
        for member, sig in zip(quorum, base):
            if member in foreign:
                sep, struct_id = self.foreign_domain(domain_kind)
                sig = member.sign_digest(raw_checkpoint_digest(sep, struct_id, TARGET, cp.model_root,
                                                               cp.parent_root, cp.uri))
            sigs.append(sig)
        return self.target("re-domained", kind, sigs, base=base)

    def under_threshold(self, kind: str, j: int) -> Submission:
        if kind == "every-subset":
            subset = self.below[j % len(self.below)]
            self.below_seen.add(tuple(a.address for a in subset))
            sigs = self.genuine(subset)
        else:  # just-below, with fresh-nonce signatures
            subset = self.rng.choice(self.just_below)
            sigs = self.fresh(subset)
        assert not self.w.reaches(subset)
        return self.target("under-threshold", kind, sigs)

    def duplicate_signer(self, kind: str, j: int) -> Submission:
        rng = self.rng
        if kind == "quorum-plus-duplicate":
            signers = self.quorum()
            member = rng.choice(signers)
        else:
            signers, member = rng.choice(self.dup_pairs)
            assert not self.w.reaches(signers) and self.w.reaches(signers + [member])
        sigs = self.genuine(signers)
        i = signers.index(member)
        other_nonce = self.fresh([member])[0]
        assert other_nonce != sigs[i]
        second = {"same-signature": sigs[i], "second-signature": other_nonce}.get(
            kind, rng.choice((sigs[i], other_nonce)))
        if kind == "duplicate-apart":
            slots = [k for k in range(len(sigs) + 1) if k not in (i, i + 1)] or [i + 1]
            sigs.insert(rng.choice(slots), second)
        else:
            sigs.insert(i + rng.randint(0, 1), second)
        return self.target("duplicate-signer", kind, sigs)

    def altered(self, kind: str, j: int) -> Submission:
        rng, w = self.rng, self.w
        quorum = self.quorum()
        base = sigs = self.genuine(quorum)
        cp = w.checkpoints[TARGET]
        field_name, how = kind.rsplit("-", 1) if kind != "unsorted" else ("signers", "unsorted")
        changes: dict = {}
        if field_name in ("model-root", "parent-root"):
            name = field_name.replace("-", "_")
            value = getattr(cp, name)
            changes[name] = flip_bit(value, rng.randrange(256)) if how == "bit" else rng.randbytes(32)
        elif field_name == "round":
            new = TARGET
            while new in (TARGET, *w.imported_rounds):
                new = (TARGET ^ (1 << rng.randrange(256)) if how == "bit"
                       else rng.choice((TARGET + 1, TARGET + 2, 0, rng.randrange(2**256))))
            changes["round"] = new
        elif field_name == "network":
            changes["network_id"] = {"bit": flip_bit(w.network_id, rng.randrange(256)),
                                     "random": rng.randbytes(32), "third": w.third_id}[how]
        else:  # signers out of ascending order
            while sigs == base:
                sigs = rng.sample(base, len(base))
        return self.target("altered", kind, sigs, base=base, **changes)

    def re_located(self, kind: str, j: int) -> Submission:
        rng, w = self.rng, self.w
        quorum = self.quorum()
        base = self.genuine(quorum)
        signed = w.checkpoints[TARGET].uri
        if kind == "other-blob":
            uri = f"sha256:{rng.randbytes(32).hex()}"
        elif kind == "uri-bit":
            uri = flip_bit(signed.encode(), rng.randrange(8 * len(signed)))
            uri = uri.decode() if uri.isascii() else uri
        elif kind == "empty":
            uri = ""
        elif kind == "prefixed":
            uri = rng.choice(("https://relay.example/", "ipfs://", " ", "file:///tmp/")) + signed
        elif kind == "suffixed":
            uri = signed + rng.choice(("#", "?v=2", "/", "\n", "0" * rng.randint(1, 8)))
        elif kind == "round-1-uri":
            uri = w.checkpoints[IMPORTED].uri
        else:  # not-utf8
            uri = signed.encode()[:rng.randrange(len(signed))] + rng.randbytes(rng.randint(1, 16)) + b"\xff"
        assert as_bytes(uri) != signed.encode()
        return self.target("re-located", kind, base, base=base, uri=uri)


def generate(w: World, seed: int) -> tuple[list[Submission], Fuzzer]:
    fuzzer = Fuzzer(w, random.Random(seed))
    subs = [fuzzer.make(family, kinds[i % len(kinds)], i // len(kinds))
            for family, kinds in KINDS.items() for i in range(PER_FAMILY)]
    return subs, fuzzer


# === submitting ===========================================================================
def raw_call_data(contract, method: str, args) -> bytes:
    """Calldata with every `string` argument given as raw bytes (same ABI encoding, any bytes)."""
    fn = contract.interface.function(method)
    return fn.selector + encode([t.replace("string", "bytes") for t in fn.inputs], list(args))


def refusal_by_call(w: World, sub: Submission, method: str = "import_checkpoint") -> str | None:
    """eth_call of `method` from the relayer: the revert reason, None if it would go through."""
    contract = w.relayer.contract
    try:
        if isinstance(sub.args[-1], bytes):  # a raw (possibly non-UTF-8) uri
            contract.backend.call(contract.address, raw_call_data(contract, method, sub.args),
                                  w.relayer.account.address)
        else:
            contract.call(method, *sub.args, sender=w.relayer.account.address)
    except ContractRevert as exc:
        return exc.reason
    return None


def refusal_by_transaction(w: World, sub: Submission, method: str = "import_checkpoint") -> str | None:
    """A real transaction from the relayer (raw signatures, in the order given)."""
    try:
        if isinstance(sub.args[-1], bytes):
            transact_raw_strings(w.relayer.contract, w.relayer.account, method, *sub.args)
        else:
            getattr(w.relayer, method)(*sub.args)
    except ContractRevert as exc:
        assert exc.tx_hash, f"{sub.label}: refused before it was sent ({exc.reason}), not mined"
        return exc.reason
    return None


def storage_root(backend: EmbeddedBackend, address: str) -> bytes:
    """The account's storage trie root (py-evm internals): any storage write changes it."""
    return backend.chain.get_vm().state._account_db._get_storage_root(to_canonical_address(address))


def bridge_state(w: World) -> dict:
    bridge = w.owner_bridge
    keys = [m.address for m in w.members + w.outsiders]
    return {
        "import_count": bridge.contract.call("import_count"),
        "imports": bridge.imports(),
        "imported_ids": {(n, r): bridge.imported_id(n, r) for n in w.registered for r in range(4)},
        "networks": {n: bridge.network(n) for n in w.registered},
        "member_stakes": {(n, k): bridge.member_stake(n, k) for n in w.registered for k in keys},
        "events": len(bridge.events("CheckpointImported")),
        "storage_root": storage_root(w.b.backend, bridge.address),
    }


def ledger_state(net: Net) -> dict:
    reader = net.reader
    return {
        "global_model": reader.global_model(), "round": reader.current_round(), "phase": reader.phase(),
        "reward_pool": reader.reward_pool(), "total_stake": reader.total_stake(),
        "accounted": reader.accounted_balance(), "balance": reader.contract_balance(),
        "stakers": reader.stakers(), "bridge": reader.call("bridge"),
        "storage_root": storage_root(net.backend, reader.address),
    }


# === tests ===================================================================================
def test_expected_reasons_are_the_contracts():
    """The reasons this module expects are strings the bridge (or its signatures module) asserts."""
    contracts = Path(poft.ledger.__file__).parent / "contracts"
    source = (contracts / "ModelBridge.vy").read_text() + (contracts / "signatures.vy").read_text()
    asserted = set(re.findall(r'assert [^\n]*, "([^"]+)"', source))
    assert set(CONTRACT_REASONS) <= asserted, set(CONTRACT_REASONS) - asserted
    rotation_reasons = set().union(*ROTATION_REASONS.values())
    assert rotation_reasons <= asserted, rotation_reasons - asserted


def test_no_forged_replayed_redomained_underthreshold_duplicate_or_altered_checkpoint_is_imported(world):
    w, started = world, time.perf_counter()
    a, b, bridge = w.a, w.b, w.owner_bridge

    # --- the trap and the model agree with the chain ---------------------------------------
    assert a.backend.chain_id == b.backend.chain_id and a.reader.address == b.reader.address
    assert a.reader.domain.separator != b.reader.domain.separator
    for network_id, remote in w.registered.items():
        assert bridge.network(network_id).domain_separator == remote.separator
        assert bridge.network(network_id).total_stake == remote.total
    assert w.separator == a.reader.call("domain_separator") == a.reader.domain.separator
    assert len(w.members) == 7 and len(set(w.registered[w.network_id].stakes.values())) == 7
    for r, cp in w.checkpoints.items():
        assert w.digest(r) == checkpoint_digest(a.reader.domain, r, cp.model_root, cp.parent_root, cp.uri)
        assert w.digest(r) == bridge.contract.call("checkpoint_digest", w.network_id, r, cp.model_root,
                                                   cp.parent_root, cp.uri)
        published = {s.signer: s.signature for s in a.reader.checkpoint_signatures(r)}
        assert published == {acct.address: w.sign(acct, r) for acct in a.accounts}

    # --- control: the honest relay imports round 1 once; replaying it fails -------------------
    import_id, _ = relay_checkpoint(a.reader, IMPORTED, bridge)
    w.imported_rounds.add(IMPORTED)
    control = bridge.import_record(import_id)
    cp1 = w.checkpoints[IMPORTED]
    assert (import_id, control.network_id, control.round, control.model_root, control.parent_root,
            control.uri) == (1, w.network_id, IMPORTED, cp1.model_root, cp1.parent_root, cp1.uri)
    assert control.signer_stake == control.total_stake == w.registered[w.network_id].total
    w.imported_signatures = tuple(w.sign(m, IMPORTED) for m in w.members)  # what the relay sent
    with pytest.raises(ContractRevert, match=re.escape(ALREADY_IMPORTED)):
        relay_checkpoint(a.reader, IMPORTED, w.relayer)

    # --- the fuzz target is importable: round 2's genuine quorum would be accepted --------------
    genuine_target = Fuzzer(w, random.Random(0)).target("genuine", "all-members",
                                                        [w.sign(m, TARGET) for m in w.members])
    assert expected_refusal(w, genuine_target) is None
    assert refusal_by_call(w, genuine_target) is None

    bridge_before, ledger_before = bridge_state(w), ledger_state(b)
    subs, fuzzer = generate(w, SEED)

    # --- what was generated --------------------------------------------------------------------
    families = Counter(s.family for s in subs)
    kinds = Counter(s.label for s in subs)
    assert families == {f: PER_FAMILY for f in KINDS} and len(subs) >= 1000
    assert all(kinds[f"{f}/{k}"] >= PER_FAMILY // len(ks) for f, ks in KINDS.items() for k in ks)
    assert len({(s.args[:4], s.signatures, s.uri) for s in subs}) >= 1000, "too few distinct submissions"
    assert fuzzer.below_seen == {tuple(a.address for a in s) for s in fuzzer.below}  # all 98 subsets
    assert () in fuzzer.below_seen and len(fuzzer.just_below) >= 3
    predicted = {}
    for sub in subs:
        predicted[sub] = expected_refusal(w, sub)
        assert predicted[sub] in FAMILY_REASONS[sub.family], (sub.label, predicted[sub])
    bases = {s.base for s in subs if s.base is not None}
    for base in bases:  # near misses: each is a genuine round-2 quorum but for its one defect
        assert refusal_by_call(w, Fuzzer(w, random.Random(0)).target("genuine", "base", base)) is None

    # --- submit: all by eth_call, TX_PER_FAMILY per family also as real transactions ------------
    rng = random.Random(SEED + 1)
    as_tx = {id(s) for f in KINDS for s in rng.sample([s for s in subs if s.family == f], TX_PER_FAMILY)}
    accepted, wrong_reason, reasons_by_family = [], [], {f: Counter() for f in KINDS}
    block_before = b.backend.block_number
    for n, sub in enumerate(subs):
        paths = [("call", refusal_by_call)] + ([("tx", refusal_by_transaction)] if id(sub) in as_tx else [])
        for path, submit in paths:
            reason = submit(w, sub)
            if reason is None:
                accepted.append((path, n, sub.label))
            elif not reason_matches(reason, predicted[sub]):
                wrong_reason.append((path, n, sub.label, reason, predicted[sub]))
            else:
                reasons_by_family[sub.family][predicted[sub]] += 1
    elapsed = time.perf_counter() - started
    print(f"\nfuzz: {len(subs)} submissions, {len(as_tx)} also as transactions, {elapsed:.1f} s")
    for family in KINDS:
        print(f"  {family:17s} {families[family]:4d}  refusals: {dict(reasons_by_family[family])}")

    assert not accepted, f"{len(accepted)} bad checkpoints accepted (path, index, family/kind): {accepted[:10]}"
    assert not wrong_reason, f"{len(wrong_reason)} refused for another reason: {wrong_reason[:10]}"
    assert len(as_tx) == TX_PER_FAMILY * len(KINDS)
    assert b.backend.block_number == block_before + len(as_tx)  # every transaction was mined, one per block
    reverted = {row.kind: row.calls for row in b.backend.gas_report.rows()}
    assert reverted.get("import_checkpoint (reverted)") == len(as_tx) + 1  # + the replayed control

    # --- nothing changed on B ---------------------------------------------------------------------
    assert bridge_state(w) == bridge_before
    assert bridge.imports() == [control] and bridge.imported_id(w.network_id, TARGET) == 0
    assert ledger_state(b) == ledger_before

    # --- and the bridge still imports the honest round 2 -------------------------------------------
    assert refusal_by_call(w, genuine_target) is None
    second, _ = relay_checkpoint(a.reader, TARGET, w.relayer)
    assert second == 2 and bridge.import_record(2).model_root == w.checkpoints[TARGET].model_root


# === validator-set rotations ===================================================================
ROTATIONS_PER_FAMILY = 60
ROTATION_TX_PER_FAMILY = 10
NOT_NEXT = "nonce is not the next one"
LENGTHS_DIFFER = "validators and stakes differ in length"
EMPTY_SET = "empty validator set"
EMPTY_ADDRESS = "empty validator address"
ZERO_STAKE = "validator stake must be positive"
DUPLICATE = "duplicate validator"
TOO_HEAVY = "total stake exceeds max_value(uint256) / 3"
MAX_TOTAL_STAKE = (2**256 - 1) // 3
ZERO_ADDRESS = "0x" + "00" * 20
ROTATION_REASONS = {
    "stale": {NOT_NEXT, NOT_MEMBER},
    "replayed": {NOT_NEXT},
    "under-threshold": {BELOW_TWO_THIRDS},
    "forged": {NOT_MEMBER, BAD_LENGTH, HIGH_S, BAD_V, BAD_SIGNATURE},
    "re-domained": {NOT_MEMBER},
    "altered": {NOT_MEMBER, UNKNOWN_NETWORK, NOT_ASCENDING},
    "malformed": {LENGTHS_DIFFER, EMPTY_SET, EMPTY_ADDRESS, ZERO_STAKE, DUPLICATE},
    "overflow": {TOO_HEAVY},
}
ROTATION_KINDS = {
    # signed by today's weight, but against the first set, or for a spent / skipped / far nonce
    "stale": ("minority-presigned", "over-first-set", "spent-nonce", "skipped-nonce", "far-nonce"),
    "replayed": ("exact", "reordered", "other-quorum"),
    "under-threshold": ("below", "one-member"),
    "forged": ("outsider-key", "bit-flip", "high-s", "truncated"),
    "re-domained": ("b-domain", "third-network", "other-chain"),
    "altered": ("stake", "validator", "dropped", "network-random", "network-third", "unsorted"),
    "malformed": ("lengths", "empty", "zero-address", "zero-stake", "duplicate"),
    "overflow": ("one-heavy", "two-halves", "just-past", "max"),
}


def raw_rotation_digest(separator: bytes, network_id: bytes, nonce: int, previous: bytes,
                        validators, stakes) -> bytes:
    struct_hash = keccak(encode(["bytes32", "bytes32", "uint256", "bytes32", "bytes32"],
                                [VALIDATOR_SET_TYPEHASH, network_id, nonce, previous,
                                 validators_hash(validators, stakes)]))
    return typed_digest(separator, struct_hash)


@dataclass(frozen=True)
class Rotation:
    family: str
    kind: str
    network_id: bytes
    validators: tuple[str, ...]
    stakes: tuple[int, ...]
    nonce: int
    signatures: tuple[bytes, ...]

    @property
    def args(self) -> tuple:
        return (self.network_id, list(self.validators), list(self.stakes), self.nonce, list(self.signatures))

    @property
    def label(self) -> str:
        return f"{self.family}/{self.kind}"


@dataclass
class SetState:
    """A remote network on B's bridge, as the model sees it."""

    separator: bytes
    stakes: dict[str, int]
    nonce: int
    hash: bytes


def expected_rotation_refusal(states: dict[bytes, SetState], rot: Rotation) -> str | None:
    """ModelBridge.update_validator_set modelled in Python."""
    state = states.get(rot.network_id)
    if state is None:
        return UNKNOWN_NETWORK
    if rot.nonce != state.nonce + 1:
        return NOT_NEXT
    digest = raw_rotation_digest(state.separator, rot.network_id, rot.nonce, state.hash, rot.validators, rot.stakes)
    previous, signed = 0, 0
    for sig in rot.signatures:
        reason, signer = signature_refusal(digest, sig)
        if reason:
            return reason
        if state.stakes.get(signer, 0) == 0:
            return NOT_MEMBER
        if int(signer, 16) <= previous:
            return NOT_ASCENDING
        previous, signed = int(signer, 16), signed + state.stakes[signer]
    if 3 * signed < 2 * sum(state.stakes.values()):
        return BELOW_TWO_THIRDS
    if len(rot.validators) != len(rot.stakes):
        return LENGTHS_DIFFER
    if not rot.validators:
        return EMPTY_SET
    seen, total = set(), 0
    for v, stake in zip(rot.validators, rot.stakes):
        if v == ZERO_ADDRESS:
            return EMPTY_ADDRESS
        if stake == 0:
            return ZERO_STAKE
        if v in seen:
            return DUPLICATE
        if stake > MAX_TOTAL_STAKE - total:
            return TOO_HEAVY
        seen.add(v)
        total += stake
    return None


class RotationFuzzer:
    """Bad rotations of A's set on B's bridge, with A's set S1 (nonce 1) current."""

    def __init__(self, w: World, states: dict[bytes, SetState], s1: list[Account], first: SetState,
                 first_members: list[Account], presigned: list[Rotation], applied: Rotation, rng: random.Random):
        self.w, self.states, self.s1, self.rng = w, states, s1, rng
        self.first, self.first_members, self.first_hash = first, first_members, first.hash
        self.presigned, self.applied = presigned, applied
        self.fresh_keys = derive_accounts(SEED + 7, 12, label="fuzz-rotation")

    @property
    def state(self) -> SetState:
        return self.states[self.w.network_id]

    def make(self, family: str, kind: str) -> Rotation:
        return getattr(self, "r_" + family.replace("-", "_"))(kind)

    def new_set(self) -> tuple[list[str], list[int]]:
        accounts = self.rng.sample(self.fresh_keys, self.rng.randint(1, 5))
        return [a.address for a in accounts], [self.rng.randint(1, 10 * ETH) for _ in accounts]

    def quorum(self) -> list[Account]:
        order = self.rng.sample(self.s1, len(self.s1))
        stakes, total, chosen = self.state.stakes, sum(self.state.stakes.values()), []
        for member in order:
            chosen.append(member)
            if 3 * sum(stakes[m.address] for m in chosen) >= 2 * total:
                break
        return sorted(chosen, key=by_address)

    def sign(self, signers, validators, stakes, nonce=None, previous=None, separator=None, network_id=None):
        nonce = self.state.nonce + 1 if nonce is None else nonce
        digest = raw_rotation_digest(separator or self.state.separator, network_id or self.w.network_id, nonce,
                                     self.state.hash if previous is None else previous, validators, stakes)
        return [m.sign_digest(digest) for m in signers]

    def rotation(self, family, kind, validators, stakes, signatures, nonce=None, network_id=None) -> Rotation:
        return Rotation(family, kind, network_id or self.w.network_id, tuple(validators), tuple(stakes),
                        self.state.nonce + 1 if nonce is None else nonce, tuple(signatures))

    # --- families --------------------------------------------------------------------------------
    def r_stale(self, kind):
        validators, stakes = self.new_set()
        quorum, nonce = self.quorum(), self.state.nonce + 1
        if kind == "minority-presigned":
            return self.rng.choice(self.presigned)
        if kind == "over-first-set":
            return self.rotation("stale", kind, validators, stakes,
                                 self.sign(quorum, validators, stakes, previous=self.first_hash))
        nonce = {"spent-nonce": self.rng.choice((0, nonce - 1)), "skipped-nonce": nonce + 1,
                 "far-nonce": self.rng.choice((nonce + 2 + self.rng.randrange(1000), 2**256 - 1))}[kind]
        return self.rotation("stale", kind, validators, stakes, self.sign(quorum, validators, stakes, nonce=nonce),
                             nonce=nonce)

    def r_replayed(self, kind):
        a = self.applied
        if kind == "exact":
            sigs = a.signatures
        elif kind == "reordered":
            sigs = a.signatures
            while list(sigs) == list(a.signatures):
                sigs = tuple(self.rng.sample(a.signatures, len(a.signatures)))
        else:  # another quorum of the set that signed it, same message
            first = self.first
            sigs = [sign_with_nonce(m, raw_rotation_digest(first.separator, a.network_id, a.nonce, first.hash,
                                                           a.validators, a.stakes), self.rng)
                    for m in self.first_members]
        return Rotation("replayed", kind, a.network_id, a.validators, a.stakes, a.nonce, tuple(sigs))

    def r_under_threshold(self, kind):
        validators, stakes = self.new_set()
        if kind == "below":  # a random maximal set below 2/3 of S1 (possibly empty)
            stake_of, total = self.state.stakes, sum(self.state.stakes.values())
            signers = []
            for m in self.rng.sample(self.s1, len(self.s1)):
                if self.rng.random() < 0.8 and \
                        3 * (sum(stake_of[s.address] for s in signers) + stake_of[m.address]) < 2 * total:
                    signers.append(m)
            signers = sorted(signers, key=by_address)
        else:  # any one member of S1
            signers = [self.rng.choice(self.s1)]
        return self.rotation("under-threshold", kind, validators, stakes, self.sign(signers, validators, stakes))

    def r_forged(self, kind):
        validators, stakes = self.new_set()
        quorum = self.quorum()
        sigs = self.sign(quorum, validators, stakes)
        i = self.rng.randrange(len(sigs))
        if kind == "outsider-key":
            outsider = self.rng.choice(self.w.outsiders + [m for m in self.first_members if m not in self.s1])
            signers = sorted([m for k, m in enumerate(quorum) if k != i] + [outsider], key=by_address)
            sigs = self.sign(signers, validators, stakes)
        elif kind == "bit-flip":
            sigs[i] = flip_bit(sigs[i], self.rng.randrange(65 * 8))
        elif kind == "high-s":
            sigs[i] = high_s_twin(sigs[i])
        else:
            sigs[i] = sigs[i][:self.rng.randrange(65)]
        return self.rotation("forged", kind, validators, stakes, sigs)

    def r_re_domained(self, kind):
        validators, stakes = self.new_set()
        w, a_id = self.w, self.w.network_id
        chain_id, ledger = w.a.backend.chain_id, w.a.reader.address
        if kind == "b-domain":
            sep = domain_separator(chain_id, w.b.reader.address, w.b.reader.network_id)
            return self.rotation("re-domained", kind, validators, stakes,
                                 self.sign(self.quorum(), validators, stakes, separator=sep))
        if kind == "third-network":  # signed for A, submitted for C (which still holds the first set)
            signers = sorted(self.first_members, key=by_address)
            sigs = self.sign(signers, validators, stakes, nonce=1, previous=self.first_hash,
                             separator=self.first.separator)
            return self.rotation("re-domained", kind, validators, stakes, sigs, nonce=1, network_id=w.third_id)
        sep = domain_separator(self.rng.choice((chain_id + 1, 1, 31337)), ledger, a_id)
        return self.rotation("re-domained", kind, validators, stakes,
                             self.sign(self.quorum(), validators, stakes, separator=sep))

    def r_altered(self, kind):
        validators, stakes = self.new_set()
        quorum = self.quorum()
        sigs = self.sign(quorum, validators, stakes)
        sent_v, sent_s, network_id = list(validators), list(stakes), None
        i = self.rng.randrange(len(validators))
        if kind == "stake":
            sent_s[i] += self.rng.choice((1, -1 if sent_s[i] > 1 else 2, ETH))
        elif kind == "validator":
            sent_v[i] = self.rng.choice([a.address for a in self.fresh_keys if a.address not in validators])
        elif kind == "dropped":  # a member dropped (or, from a one-member set, one added)
            if len(validators) > 1:
                sent_v, sent_s = validators[:i] + validators[i + 1:], stakes[:i] + stakes[i + 1:]
            else:
                extra = next(a.address for a in self.fresh_keys if a.address not in validators)
                sent_v, sent_s = validators + [extra], stakes + [1]
        elif kind == "network-random":
            network_id = self.rng.randbytes(32)
        elif kind == "network-third":
            network_id = self.w.third_id
            return self.rotation("altered", kind, validators, stakes, sigs, nonce=1, network_id=network_id)
        else:  # signers out of ascending order (a quorum of S1 has >= 2 members)
            ordered = list(sigs)
            while sigs == ordered:
                sigs = self.rng.sample(ordered, len(ordered))
        return self.rotation("altered", kind, sent_v, sent_s, sigs, network_id=network_id)

    def r_malformed(self, kind):
        validators, stakes = self.new_set()
        if kind == "lengths":
            stakes = stakes + [1] if self.rng.random() < 0.5 or len(stakes) == 1 else stakes[:-1]
        elif kind == "empty":
            validators, stakes = [], []
        elif kind == "zero-address":
            validators[self.rng.randrange(len(validators))] = ZERO_ADDRESS
        elif kind == "zero-stake":
            stakes[self.rng.randrange(len(stakes))] = 0
        else:
            i = self.rng.randrange(len(validators))
            validators, stakes = validators + [validators[i]], stakes + [self.rng.randint(1, ETH)]
        return self.rotation("malformed", kind, validators, stakes, self.sign(self.quorum(), validators, stakes))

    def r_overflow(self, kind):
        validators, _ = self.new_set()
        while len(validators) < 2:
            validators, _ = self.new_set()
        n = len(validators)
        if kind == "one-heavy":
            stakes = [1] * n
            stakes[self.rng.randrange(n)] = MAX_TOTAL_STAKE - self.rng.randrange(n - 1)  # + (n - 1) ones
        elif kind == "two-halves":
            stakes = [MAX_TOTAL_STAKE // 2 + 1, MAX_TOTAL_STAKE // 2 + 1] + [1] * (n - 2)
        elif kind == "just-past":
            stakes = [MAX_TOTAL_STAKE // n] * n
            stakes[-1] += MAX_TOTAL_STAKE % n + 1
        else:
            stakes = [2**256 - 1] + [1] * (n - 1)
            self.rng.shuffle(stakes)
        assert sum(stakes) > MAX_TOTAL_STAKE
        return self.rotation("overflow", kind, validators, stakes, self.sign(self.quorum(), validators, stakes))


def rotation_state(w: World) -> dict:
    bridge = w.owner_bridge
    keys = [m.address for m in w.members + w.outsiders]
    return {
        "networks": {n: bridge.network(n) for n in w.registered},
        "member_stakes": {(n, k): bridge.member_stake(n, k) for n in w.registered for k in keys},
        "events": len(bridge.events("ValidatorSetUpdated")),
        "storage_root": storage_root(w.b.backend, bridge.address),
    }


def test_no_stale_replayed_underthreshold_forged_altered_malformed_or_overflowing_rotation_is_accepted(world):
    w, bridge = world, world.owner_bridge
    snapshot = w.b.backend.snapshot()
    try:
        rng = random.Random(SEED + 2)
        a_id = w.network_id
        first = SetState(w.separator, dict(w.registered[a_id].stakes), 0,
                         validators_hash(list(w.registered[a_id].stakes), list(w.registered[a_id].stakes.values())))
        third = SetState(w.registered[w.third_id].separator, dict(first.stakes), 0, first.hash)
        assert bridge.network(a_id).validators_hash == first.hash and bridge.network(a_id).nonce == 0
        states = {a_id: first, w.third_id: third}

        # a minority of the first set (below 2/3) signs rotations to a set of its own: refused
        stakes0, total0 = first.stakes, sum(first.stakes.values())
        minority = []
        for m in sorted(w.members, key=lambda m: -stakes0[m.address]):
            if 3 * (sum(stakes0[x.address] for x in minority) + stakes0[m.address]) < 2 * total0:
                minority.append(m)
        minority = sorted(minority, key=by_address)
        assert len(minority) >= 2
        own = derive_accounts(SEED + 8, 2, label="fuzz-minority-own")
        own_v, own_s = [a.address for a in own], [1, 1]
        presigned = [
            Rotation("stale", "minority-presigned", a_id, tuple(own_v), tuple(own_s), nonce,
                     tuple(m.sign_digest(raw_rotation_digest(first.separator, a_id, nonce, first.hash, own_v, own_s))
                           for m in minority))
            for nonce in (1, 2, 3)
        ]
        assert expected_rotation_refusal(states, presigned[0]) == BELOW_TWO_THIRDS
        assert refusal_by_call(w, presigned[0], "update_validator_set") == BELOW_TWO_THIRDS

        # the genuine rotation 1: S1 = that minority, now holding all the weight
        s1 = minority
        s1_v, s1_s = [m.address for m in s1], [stakes0[m.address] for m in s1]
        quorum0 = sorted(w.members, key=by_address)
        applied = Rotation("genuine", "rotation-1", a_id, tuple(s1_v), tuple(s1_s), 1,
                           tuple(m.sign_digest(raw_rotation_digest(first.separator, a_id, 1, first.hash, s1_v, s1_s))
                                 for m in quorum0))
        assert expected_rotation_refusal(states, applied) is None
        bridge.update_validator_set(*applied.args)
        states[a_id] = SetState(first.separator, dict(zip(s1_v, s1_s)), 1, validators_hash(s1_v, s1_s))
        assert bridge.network(a_id).validators_hash == states[a_id].hash and bridge.network(a_id).nonce == 1

        fuzzer = RotationFuzzer(w, states, s1, first, quorum0, presigned, applied, rng)
        before = rotation_state(w)
        rots = [fuzzer.make(family, kinds[i % len(kinds)])
                for family, kinds in ROTATION_KINDS.items() for i in range(ROTATIONS_PER_FAMILY)]
        assert len(rots) >= 400 and {r.kind for r in rots} >= {k for ks in ROTATION_KINDS.values() for k in ks}
        as_tx = {id(r) for f in ROTATION_KINDS
                 for r in rng.sample([r for r in rots if r.family == f], ROTATION_TX_PER_FAMILY)}
        accepted, wrong, counts = [], [], Counter()
        for n, rot in enumerate(rots):
            predicted = expected_rotation_refusal(states, rot)
            assert predicted in ROTATION_REASONS[rot.family], (rot.label, predicted)
            paths = [refusal_by_call] + ([refusal_by_transaction] if id(rot) in as_tx else [])
            for submit in paths:
                reason = submit(w, rot, "update_validator_set")
                if reason is None:
                    accepted.append((n, rot.label))
                elif reason != predicted:
                    wrong.append((n, rot.label, reason, predicted))
                else:
                    counts[(rot.family, reason)] += 1
        print(f"\nrotation fuzz: {len(rots)} rotations, {len(as_tx)} also as transactions")
        for family in ROTATION_KINDS:
            print(f"  {family:16s} {dict((r, c) for (f, r), c in counts.items() if f == family)}")
        assert not accepted, f"{len(accepted)} bad rotations accepted: {accepted[:10]}"
        assert not wrong, f"{len(wrong)} refused for another reason: {wrong[:10]}"
        assert rotation_state(w) == before

        # the stale minority rotation (nonce 2 is next now) is refused; signed over S1 it is a real rotation
        assert refusal_by_call(w, presigned[1], "update_validator_set") == NOT_MEMBER
        honest = fuzzer.rotation("genuine", "rotation-2", own_v, own_s, fuzzer.sign(s1, own_v, own_s))
        assert expected_rotation_refusal(states, honest) is None
        bridge.update_validator_set(*honest.args)
        assert bridge.network(a_id).nonce == 2 and bridge.network(a_id).validators_hash == validators_hash(own_v, own_s)
    finally:
        w.b.backend.revert(snapshot)
