"""ModelBridge: checkpoint import from network A into B, every refusal, validator-set rotation.

On the embedded backend A and B are two EVMs with the *same* chain id (and, as
they are deployed alike, the same ledger address): only the network-id salt
tells their EIP-712 domains apart. On anvil they are two nodes.
"""

from __future__ import annotations

import pytest
from eth_utils import keccak

from ledger_support import TEST_PARAMS, build_net
from poft.ledger import BridgeClient, ContractRevert, Phase, relay_checkpoint, trust_network
from poft.ledger.accounts import SECP256K1_N, derive_accounts
from poft.ledger.eip712 import Domain, checkpoint_digest, sign_checkpoint, sign_validator_set
from poft.ledger.types import Signature

ROOT = b"\x42" * 32


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

    def sign_all(self, domain: Domain, round: int, root: bytes, parent: bytes) -> list[Signature]:
        digest = checkpoint_digest(domain, round, root, parent)
        return sorted((Signature(a, acct.sign_digest(digest)) for a, acct in self.member_accounts.items()),
                      key=lambda s: int(s.signer, 16))

    def import_(self, signatures, round=None, root=None, parent=None, network_id=None) -> int:
        return self.bridge.import_checkpoint(
            network_id or self.network_id, self.round if round is None else round,
            root or self.cp.model_root, parent or self.cp.parent_root, signatures, self.cp.uri)


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


def test_replayed_round_reverts(pair):
    pair.import_(pair.member_sigs)
    with reverts("round already imported"):
        pair.import_(pair.member_sigs)


def test_unknown_network_reverts(pair):
    with reverts("unknown network"):
        pair.import_(pair.member_sigs, network_id=keccak(b"nobody"))


def test_forged_signature_reverts(pair):
    outsider = derive_accounts(999, 1)[0]
    digest = checkpoint_digest(pair.a.reader.domain, pair.round, pair.cp.model_root, pair.cp.parent_root)
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


@pytest.mark.parametrize("field", ["root", "parent", "round"])
def test_altered_checkpoint_reverts(pair, field):
    altered = {"root": {"root": b"\x13" * 32}, "parent": {"parent": b"\x14" * 32},
               "round": {"round": pair.round + 1}}[field]
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
    old = sorted(pair.member_accounts.values(), key=lambda a: int(a.address, 16))

    def update_sigs(signers, nonce):
        return [Signature(a.address, sign_validator_set(a, domain, nonce, new_validators, new_stakes))
                for a in signers]

    with reverts("below 2/3 of stake"):
        pair.bridge.update_validator_set(pair.network_id, new_validators, new_stakes, 1, update_sigs(old[:4], 1))
    with reverts("signer not in validator set"):  # signed for another nonce
        pair.bridge.update_validator_set(pair.network_id, new_validators, new_stakes, 1, update_sigs(old, 2))
    pair.bridge.update_validator_set(pair.network_id, new_validators, new_stakes, 1, update_sigs(old[:5], 1))
    assert pair.bridge.network(pair.network_id).nonce == 1
    assert pair.bridge.member_stake(pair.network_id, old[0].address) == 0
    with reverts("nonce must increase"):
        pair.bridge.update_validator_set(pair.network_id, new_validators, new_stakes, 1, update_sigs(new_set, 1))

    with reverts("signer not in validator set"):  # the old set no longer counts
        pair.import_(pair.member_sigs)
    digest = checkpoint_digest(domain, pair.round, pair.cp.model_root, pair.cp.parent_root)
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
                           {"name": "modelRoot", "type": "bytes32"}, {"name": "parentRoot", "type": "bytes32"}],
        },
        "primaryType": "Checkpoint",
        "domain": {"name": "poft", "version": "1", "chainId": domain.chain_id,
                   "verifyingContract": domain.ledger, "salt": domain.network_id},
        "message": {"networkId": domain.network_id, "round": pair.round,
                    "modelRoot": pair.cp.model_root, "parentRoot": pair.cp.parent_root},
    }
    reference = EthAccount.sign_message(encode_typed_data(full_message=typed), account.private_key)
    ours = sign_checkpoint(account, domain, pair.round, pair.cp.model_root, pair.cp.parent_root)
    assert ours == bytes(reference.signature)
    assert pair.a.reader.call("checkpoint_digest", pair.round, pair.cp.model_root, pair.cp.parent_root) == \
        checkpoint_digest(domain, pair.round, pair.cp.model_root, pair.cp.parent_root)
