"""ModelBridge: checkpoint import from network A into B, every refusal, validator-set rotation.

The signed Checkpoint covers the uri (a relayer cannot pick where B fetches the
bytes); a remote set's total stake is bounded by max/3 (the 2/3 check cannot
overflow); a rotation is bound to the set it replaces and to the next nonce.

On the embedded backend A and B are two EVMs with the *same* chain id (and, as
they are deployed alike, the same ledger address): only the network-id salt
tells their EIP-712 domains apart. On anvil they are two nodes.
"""

from __future__ import annotations

import pytest
from eth_utils import keccak

from ledger_support import TEST_PARAMS, build_net, transact_raw_strings
from poft.ledger import BridgeClient, ContractRevert, MemberStakes, Phase, relay_checkpoint, trust_network
from poft.ledger.accounts import SECP256K1_N, derive_accounts
from poft.ledger.eip712 import Domain, checkpoint_digest, sign_checkpoint, sign_validator_set, validators_hash
from poft.ledger.types import Signature

ROOT = b"\x42" * 32
MAX_UINT = 2**256 - 1
MAX_TOTAL_STAKE = MAX_UINT // 3  # ModelBridge.MAX_TOTAL_STAKE
BOGUS_URI = "sha256:" + "66" * 32  # a genuine-looking location the signers never signed


class Pair:
    """Network A (source, one final round) and network B (trusts A's stakers)."""

    def __init__(self, chains):
        self.a = build_net(chains.new(seed=21, chain_id=41001), TEST_PARAMS)
        self.b = build_net(chains.new(seed=22, chain_id=41002),
                           TEST_PARAMS.__class__(**{**TEST_PARAMS.__dict__, "name": "b"}))
        self.members = self.a.reader.stakers()  # eligible stakers of A: the set B trusts
        self.bridge = self.b.bridge()  # B's bridge, as its owner
        trust_network(self.bridge, self.a.reader, self.members)
        self.round, committee = self.a.to_final(ROOT)
        for address, client in self.a.clients.items():
            if address not in committee.validators[:2]:  # attesters already signed
                client.sign_checkpoint(self.round)
        self.cp = self.a.reader.checkpoint(self.round)
        self.signatures = sorted(self.a.reader.checkpoint_signatures(self.round), key=lambda s: int(s.signer, 16))
        member_set = {m for m, _ in self.members}
        self.member_sigs = [s for s in self.signatures if s.signer in member_set]
        self.member_accounts = {a.address: a for a in self.a.accounts if a.address in member_set}

    @property
    def network_id(self) -> bytes:
        return self.a.reader.network_id

    def sign_all(self, domain: Domain, round: int, root: bytes, parent: bytes,
                 uri: str | bytes | None = None) -> list[Signature]:
        digest = checkpoint_digest(domain, round, root, parent, self.cp.uri if uri is None else uri)
        return sorted((Signature(a, acct.sign_digest(digest)) for a, acct in self.member_accounts.items()),
                      key=lambda s: int(s.signer, 16))

    def import_(self, signatures, round=None, root=None, parent=None, network_id=None, uri=None,
                bridge=None) -> int:
        return (bridge or self.bridge).import_checkpoint(
            network_id or self.network_id, self.round if round is None else round,
            root or self.cp.model_root, parent or self.cp.parent_root, signatures,
            self.cp.uri if uri is None else uri)

    def stranger(self) -> BridgeClient:
        """B's bridge as a funded third party: anyone can relay."""
        return BridgeClient(self.b.backend, self.bridge.address, self.b.accounts[0])

    def rotation_sigs(self, signers, nonce, validators, stakes, previous=None) -> list[Signature]:
        """ValidatorSetUpdate signatures; `previous` defaults to the bridge's current set hash."""
        domain = self.bridge.remote_domain(self.network_id)
        previous = self.bridge.network(self.network_id).validators_hash if previous is None else previous
        return [Signature(a.address, sign_validator_set(a, domain, nonce, previous, validators, stakes))
                for a in signers]

    def old_members(self):
        return sorted(self.member_accounts.values(), key=lambda a: int(a.address, 16))


@pytest.fixture(scope="module")
def base_pair(chains):
    return Pair(chains)


@pytest.fixture
def pair(base_pair):
    snaps = (base_pair.a.backend.snapshot(), base_pair.b.backend.snapshot())
    yield base_pair
    base_pair.a.backend.revert(snaps[0])
    base_pair.b.backend.revert(snaps[1])


def reverts(reason):
    return pytest.raises(ContractRevert, match=reason)


def test_valid_checkpoint_imports(pair):
    import_id, _ = relay_checkpoint(pair.a.reader, pair.round, pair.bridge)
    record = pair.bridge.import_record(import_id)
    assert (record.network_id, record.round, record.model_root, record.parent_root, record.uri) == (
        pair.network_id, pair.round, pair.cp.model_root, pair.cp.parent_root, pair.cp.uri)
    assert 3 * record.signer_stake >= 2 * record.total_stake
    assert record.total_stake == sum(s for _, s in pair.members)
    assert pair.bridge.imported_id(pair.network_id, pair.round) == import_id
    assert pair.bridge.imports() == [record]
    assert pair.bridge.events("CheckpointImported")[0]["import_id"] == import_id


def test_relay_with_kept_member_stakes_reads_each_member_once(pair, monkeypatch):
    members = MemberStakes(pair.bridge, pair.network_id)
    reads = []
    real = pair.bridge.member_stake
    monkeypatch.setattr(pair.bridge, "member_stake", lambda n, v: reads.append(v) or real(n, v))
    import_id, _ = relay_checkpoint(pair.a.reader, pair.round, pair.bridge, members=members)
    assert pair.bridge.import_record(import_id).model_root == pair.cp.model_root
    signers = {s.signer for s in pair.signatures}
    assert sorted(reads) == sorted(signers)
    members.refresh()                                   # the set has not moved: kept
    assert all(members.of(s) == dict(pair.members).get(s, 0) for s in signers)
    assert sorted(reads) == sorted(signers)


def test_kept_member_stakes_are_read_again_after_a_rotation(pair):
    members = MemberStakes(pair.bridge, pair.network_id)
    old = pair.old_members()
    members.refresh()
    stake = members.of(old[0].address)
    assert stake == dict(pair.members)[old[0].address] > 0
    new_set = derive_accounts(778, 3)
    validators, stakes = [a.address for a in new_set], [5, 5, 5]
    pair.bridge.update_validator_set(pair.network_id, validators, stakes, 1,
                                     pair.rotation_sigs(old, 1, validators, stakes))
    assert members.of(old[0].address) == stake         # kept until the next refresh
    members.refresh()
    assert members.of(old[0].address) == 0 and members.of(validators[0]) == 5


def test_replayed_round_reverts(pair):
    pair.import_(pair.member_sigs)
    with reverts("round already imported"):
        pair.import_(pair.member_sigs)


def test_unknown_network_reverts(pair):
    with reverts("unknown network"):
        pair.import_(pair.member_sigs, network_id=keccak(b"nobody"))


def test_forged_signature_reverts(pair):
    outsider = derive_accounts(999, 1)[0]
    digest = checkpoint_digest(pair.a.reader.domain, pair.round, pair.cp.model_root, pair.cp.parent_root,
                               pair.cp.uri)
    forged = pair.member_sigs[1:] + [Signature(outsider.address, outsider.sign_digest(digest))]
    with reverts("signer not in validator set"):
        pair.import_(forged)


def test_malformed_and_malleable_signatures_revert(pair):
    sig = pair.member_sigs[0].signature
    rest = [s.signature for s in pair.member_sigs[1:]]
    with reverts("bad signature: v is not 27 or 28"):
        pair.import_([sig[:64] + bytes([29])] + rest)
    s = int.from_bytes(sig[32:64], "big")
    high_s = sig[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - sig[64]])
    with reverts("bad signature: high s"):
        pair.import_([high_s] + rest)
    with reverts("bad signature"):
        pair.import_([b"\0" * 64 + bytes([27])] + rest)


def test_signatures_for_another_domain_revert(pair):
    a_domain = pair.a.reader.domain
    b_domain = pair.b.reader.domain
    if pair.a.backend.kind == "embedded":  # the trap: same chain id, same ledger address
        assert a_domain.chain_id == b_domain.chain_id
        assert a_domain.ledger == b_domain.ledger
    assert a_domain.separator != b_domain.separator
    assert pair.a.reader.call("domain_separator") == a_domain.separator
    third = Domain(a_domain.chain_id, a_domain.ledger, keccak(b"poft-network:third"))
    for domain in (b_domain, third):
        with reverts("signer not in validator set"):
            pair.import_(pair.sign_all(domain, pair.round, pair.cp.model_root, pair.cp.parent_root))
    pair.import_(pair.sign_all(a_domain, pair.round, pair.cp.model_root, pair.cp.parent_root))


def test_stake_threshold_is_two_thirds(pair):
    sigs = pair.member_sigs  # 7 members with equal stake
    assert len(sigs) == 7
    with reverts("below 2/3 of stake"):
        pair.import_(sigs[:4])  # 4/7 < 2/3
    with reverts("below 2/3 of stake"):
        pair.import_([])
    pair.import_(sigs[:5])  # 5/7 >= 2/3


def test_duplicate_and_unsorted_signers_revert(pair):
    sigs = [s.signature for s in pair.member_sigs]
    with reverts("signers not strictly ascending"):
        pair.import_([sigs[0], sigs[0]] + sigs[1:])
    with reverts("signers not strictly ascending"):
        pair.import_(list(reversed(sigs)))


@pytest.mark.parametrize("field", ["root", "parent", "round", "uri"])
def test_altered_checkpoint_reverts(pair, field):
    altered = {"root": {"root": b"\x13" * 32}, "parent": {"parent": b"\x14" * 32},
               "round": {"round": pair.round + 1}, "uri": {"uri": BOGUS_URI}}[field]
    with reverts("signer not in validator set"):
        pair.import_(pair.member_sigs, **altered)


def test_registration_is_owner_only_and_once(pair):
    stranger = BridgeClient(pair.b.backend, pair.bridge.address, pair.b.accounts[0])
    with reverts("only the owner can register networks"):
        stranger.register_network(keccak(b"x"), 1, pair.a.reader.address, [pair.a.accounts[0].address], [1])
    with reverts("network already registered"):
        trust_network(pair.bridge, pair.a.reader, pair.members)
    assert pair.bridge.network(pair.network_id).validator_count == len(pair.members)


def test_validator_set_rotation(pair):
    domain = pair.bridge.remote_domain(pair.network_id)
    assert domain.separator == pair.a.reader.domain.separator
    new_set = derive_accounts(777, 3)
    new_validators = [a.address for a in new_set]
    new_stakes = [5, 5, 5]
    old = pair.old_members()
    registered_hash = validators_hash([m for m, _ in pair.members], [s for _, s in pair.members])
    assert pair.bridge.network(pair.network_id).validators_hash == registered_hash

    def update_sigs(signers, nonce):
        return pair.rotation_sigs(signers, nonce, new_validators, new_stakes)

    with reverts("below 2/3 of stake"):
        pair.bridge.update_validator_set(pair.network_id, new_validators, new_stakes, 1, update_sigs(old[:4], 1))
    with reverts("signer not in validator set"):  # signed for another nonce
        pair.bridge.update_validator_set(pair.network_id, new_validators, new_stakes, 1, update_sigs(old, 2))
    pair.bridge.update_validator_set(pair.network_id, new_validators, new_stakes, 1, update_sigs(old[:5], 1))
    net = pair.bridge.network(pair.network_id)
    assert net.nonce == 1 and net.validators_hash == validators_hash(new_validators, new_stakes)
    updated = pair.bridge.events("ValidatorSetUpdated")[-1]
    assert (updated["nonce"], updated["previous_validators_hash"]) == (1, registered_hash)
    assert pair.bridge.member_stake(pair.network_id, old[0].address) == 0
    with reverts("nonce is not the next one"):
        pair.bridge.update_validator_set(pair.network_id, new_validators, new_stakes, 1, update_sigs(new_set, 1))

    with reverts("signer not in validator set"):  # the old set no longer counts
        pair.import_(pair.member_sigs)
    digest = checkpoint_digest(domain, pair.round, pair.cp.model_root, pair.cp.parent_root, pair.cp.uri)
    new_sigs = [Signature(a.address, a.sign_digest(digest)) for a in new_set]
    import_id = pair.import_(new_sigs)
    assert pair.bridge.import_record(import_id).total_stake == 15


def test_imported_checkpoint_becomes_a_candidate_on_b(pair):
    import_id, _ = relay_checkpoint(pair.a.reader, pair.round, pair.bridge)
    b = pair.b
    r, committee = b.open()
    with b.reverts("unknown import"):
        b.reader.submit_import(r, import_id + 1)
    index = b.reader.submit_import(r, import_id)
    with b.reverts("import already used as a candidate"):
        b.reader.submit_import(r, import_id)
    candidate = b.reader.candidates(r)[index]
    assert candidate.is_import and candidate.import_id == import_id
    assert candidate.owner == pair.bridge.address and candidate.root == pair.cp.model_root
    assert candidate.uri == pair.cp.uri
    b.submit_all(r)
    assert b.reader.phase() == Phase.EVALUATE
    assert len(b.reader.candidates(r)) == 1 + len(b.workers())


def test_signature_helpers_agree_with_eth_account(pair):
    from eth_account import Account as EthAccount
    from eth_account.messages import encode_typed_data

    domain = pair.a.reader.domain
    account = next(iter(pair.member_accounts.values()))
    typed = {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"},
                             {"name": "verifyingContract", "type": "address"},
                             {"name": "salt", "type": "bytes32"}],
            "Checkpoint": [{"name": "networkId", "type": "bytes32"}, {"name": "round", "type": "uint256"},
                           {"name": "modelRoot", "type": "bytes32"}, {"name": "parentRoot", "type": "bytes32"},
                           {"name": "uri", "type": "string"}],
        },
        "primaryType": "Checkpoint",
        "domain": {"name": "poft", "version": "1", "chainId": domain.chain_id,
                   "verifyingContract": domain.ledger, "salt": domain.network_id},
        "message": {"networkId": domain.network_id, "round": pair.round,
                    "modelRoot": pair.cp.model_root, "parentRoot": pair.cp.parent_root, "uri": pair.cp.uri},
    }
    reference = EthAccount.sign_message(encode_typed_data(full_message=typed), account.private_key)
    ours = sign_checkpoint(account, domain, pair.round, pair.cp.model_root, pair.cp.parent_root, pair.cp.uri)
    assert ours == bytes(reference.signature)
    args = (pair.round, pair.cp.model_root, pair.cp.parent_root, pair.cp.uri)
    assert pair.a.reader.call("checkpoint_digest", *args) == checkpoint_digest(domain, *args) == \
        pair.bridge.contract.call("checkpoint_digest", pair.network_id, *args)

    previous, validators, stakes = b"\x07" * 32, [account.address], [3]
    typed_update = {
        "types": {
            "EIP712Domain": typed["types"]["EIP712Domain"],
            "ValidatorSetUpdate": [{"name": "networkId", "type": "bytes32"}, {"name": "nonce", "type": "uint256"},
                                   {"name": "previousValidatorsHash", "type": "bytes32"},
                                   {"name": "validatorsHash", "type": "bytes32"}],
        },
        "primaryType": "ValidatorSetUpdate",
        "domain": typed["domain"],
        "message": {"networkId": domain.network_id, "nonce": 4, "previousValidatorsHash": previous,
                    "validatorsHash": validators_hash(validators, stakes)},
    }
    reference = EthAccount.sign_message(encode_typed_data(full_message=typed_update), account.private_key)
    assert sign_validator_set(account, domain, 4, previous, validators, stakes) == bytes(reference.signature)


# --- the uri is signed: a relayer cannot choose it ---------------------------------------------

def test_a_relayer_cannot_import_a_genuine_checkpoint_under_its_own_uri(pair):
    """Anyone holding the public signatures tries to import the round first with a uri of its choice:
    refused, and the honest relay still imports the round with the signed uri."""
    stranger = pair.stranger()
    for uri in (BOGUS_URI, "", pair.cp.uri + " ", "https://attacker.example/" + pair.cp.uri):
        with reverts("signer not in validator set"):
            pair.import_(pair.member_sigs, uri=uri, bridge=stranger)
    assert pair.bridge.imported_id(pair.network_id, pair.round) == 0
    import_id, _ = relay_checkpoint(pair.a.reader, pair.round, pair.bridge)
    assert pair.bridge.import_record(import_id).uri == pair.cp.uri


def test_a_uri_that_is_not_utf8_never_breaks_a_read(pair):
    """A checkpoint signed with a uri of arbitrary bytes imports (the signers vouched for it) and every
    read of it, on the bridge and as a candidate on B's ledger, works (undecodable bytes as U+FFFD)."""
    raw_uri = b"sha256:\xff\xfe" + bytes(range(0x80, 0x90))
    sigs = pair.sign_all(pair.a.reader.domain, pair.round, pair.cp.model_root, pair.cp.parent_root, raw_uri)
    with reverts("signer not in validator set"):  # the signatures cover those bytes, not another uri
        pair.import_(sigs)
    result = transact_raw_strings(pair.bridge.contract, pair.bridge.account, "import_checkpoint",
                                  pair.network_id, pair.round, pair.cp.model_root, pair.cp.parent_root,
                                  [s.signature for s in sigs], raw_uri)
    import_id = result.event("CheckpointImported")["import_id"]
    shown = raw_uri.decode("utf-8", errors="replace")
    assert "\ufffd" in shown
    assert pair.bridge.import_record(import_id).uri == shown
    assert [r.uri for r in pair.bridge.imports()] == [shown]
    assert pair.bridge.events("CheckpointImported")[0]["uri"] == shown
    b = pair.b
    r, _ = b.open()
    index = b.reader.submit_import(r, import_id)
    assert b.reader.candidates(r)[index].uri == shown


# --- total stake bounded by max/3 --------------------------------------------------------------

@pytest.mark.parametrize("stakes", [[MAX_TOTAL_STAKE, 1], [MAX_TOTAL_STAKE // 2 + 1] * 2, [2**255, 2**255],
                                    [MAX_UINT, 1], [1, MAX_UINT]])
def test_registration_refuses_a_set_whose_stake_passes_a_third_of_max(pair, stakes):
    validators = [m for m, _ in pair.members][:len(stakes)]
    with reverts("total stake exceeds max_value"):
        pair.bridge.register_network(keccak(b"heavy"), pair.a.backend.chain_id, pair.a.reader.address,
                                     validators, stakes)
    assert pair.bridge.network(keccak(b"heavy")) is None


def test_a_set_of_exactly_a_third_of_max_registers_and_imports(pair):
    """The bound is inclusive: total = max // 3 keeps 3 * total in range, imports work."""
    heavy_id = keccak(b"heavy")
    members = pair.old_members()
    stakes = [MAX_TOTAL_STAKE - (len(members) - 1)] + [1] * (len(members) - 1)
    pair.bridge.register_network(heavy_id, pair.a.backend.chain_id, pair.a.reader.address,
                                 [m.address for m in members], stakes)
    assert pair.bridge.network(heavy_id).total_stake == MAX_TOTAL_STAKE
    domain = Domain(pair.a.backend.chain_id, pair.a.reader.address, heavy_id)
    with reverts("below 2/3 of stake"):  # every member but the heavy one
        pair.import_([s for s in pair.sign_all(domain, pair.round, pair.cp.model_root, pair.cp.parent_root)
                      if s.signer != members[0].address], network_id=heavy_id)
    import_id = pair.import_(pair.sign_all(domain, pair.round, pair.cp.model_root, pair.cp.parent_root),
                             network_id=heavy_id)
    assert pair.bridge.import_record(import_id).signer_stake == MAX_TOTAL_STAKE


def test_rotation_refuses_a_set_whose_stake_passes_a_third_of_max(pair):
    old = pair.old_members()
    heavy = derive_accounts(778, 2)
    validators = [a.address for a in heavy]
    for stakes in ([MAX_TOTAL_STAKE, 1], [2**255, 2**255]):
        with reverts("total stake exceeds max_value"):
            pair.bridge.update_validator_set(pair.network_id, validators, stakes, 1,
                                             pair.rotation_sigs(old[:5], 1, validators, stakes))
    assert pair.bridge.network(pair.network_id).nonce == 0
    stakes = [MAX_TOTAL_STAKE - 1, 1]  # the bound itself is fine, and the new set imports
    pair.bridge.update_validator_set(pair.network_id, validators, stakes, 1,
                                     pair.rotation_sigs(old[:5], 1, validators, stakes))
    digest = checkpoint_digest(pair.a.reader.domain, pair.round, pair.cp.model_root, pair.cp.parent_root,
                               pair.cp.uri)
    sigs = sorted((Signature(a.address, a.sign_digest(digest)) for a in heavy), key=lambda s: int(s.signer, 16))
    import_id = pair.import_(sigs)
    assert pair.bridge.import_record(import_id).total_stake == MAX_TOTAL_STAKE


# --- a rotation is bound to the set it replaces and to the next nonce --------------------------

def test_a_stale_rotation_is_refused_after_its_signers_gained_weight(pair):
    """4 of 7 equal members sign a rotation to their own set X: below 2/3, refused. After a genuine
    rotation gives those 4 all the weight, the stale rotation (signed over the first set) stays refused."""
    old = pair.old_members()
    cabal = old[:4]
    x_validators, x_stakes = [a.address for a in derive_accounts(779, 2)], [1, 1]
    s0 = pair.bridge.network(pair.network_id).validators_hash
    stale = {nonce: pair.rotation_sigs(cabal, nonce, x_validators, x_stakes) for nonce in (1, 2)}
    with reverts("below 2/3 of stake"):
        pair.bridge.update_validator_set(pair.network_id, x_validators, x_stakes, 1, stale[1])
    with reverts("nonce is not the next one"):  # the bridge is at nonce 0
        pair.bridge.update_validator_set(pair.network_id, x_validators, x_stakes, 2, stale[2])

    s1_validators, s1_stakes = [a.address for a in cabal], [5, 5, 5, 5]
    pair.bridge.update_validator_set(pair.network_id, s1_validators, s1_stakes, 1,
                                     pair.rotation_sigs(old[2:], 1, s1_validators, s1_stakes))
    assert pair.bridge.network(pair.network_id).validators_hash == validators_hash(s1_validators, s1_stakes) != s0
    with reverts("nonce is not the next one"):  # signed for nonce 1, now spent
        pair.bridge.update_validator_set(pair.network_id, x_validators, x_stakes, 1, stale[1])
    with reverts("signer not in validator set"):  # nonce 2 is next, but it was signed over the first set
        pair.bridge.update_validator_set(pair.network_id, x_validators, x_stakes, 2, stale[2])
    assert pair.bridge.network(pair.network_id).nonce == 1
    for a in cabal:
        assert pair.bridge.member_stake(pair.network_id, a.address) == 5
    # the same cabal signing over the set it now is replaces it: that is a legitimate rotation
    pair.bridge.update_validator_set(pair.network_id, x_validators, x_stakes, 2,
                                     pair.rotation_sigs(cabal, 2, x_validators, x_stakes))
    assert pair.bridge.network(pair.network_id).validators_hash == validators_hash(x_validators, x_stakes)


def test_a_rotation_must_carry_the_next_nonce_and_the_current_set(pair):
    old = pair.old_members()
    new_validators, new_stakes = [a.address for a in derive_accounts(780, 3)], [1, 2, 3]
    for nonce in (0, 2, 7, 2**256 - 1):
        with reverts("nonce is not the next one"):
            pair.bridge.update_validator_set(pair.network_id, new_validators, new_stakes, nonce,
                                             pair.rotation_sigs(old, nonce, new_validators, new_stakes))
    for previous in (b"\0" * 32, validators_hash(new_validators, new_stakes), keccak(b"another set")):
        with reverts("signer not in validator set"):
            pair.bridge.update_validator_set(pair.network_id, new_validators, new_stakes, 1,
                                             pair.rotation_sigs(old, 1, new_validators, new_stakes, previous))
    sigs = pair.rotation_sigs(old, 1, new_validators, new_stakes)
    pair.bridge.update_validator_set(pair.network_id, new_validators, new_stakes, 1, sigs)
    with reverts("nonce is not the next one"):  # replayed as is
        pair.bridge.update_validator_set(pair.network_id, new_validators, new_stakes, 1, sigs)
