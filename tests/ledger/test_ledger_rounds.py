"""Phase rules, deadlines, committee duties and miner failover of FederatedLedger (both backends)."""

from __future__ import annotations

import math

import pytest

from ledger_support import ETH, FP, GENESIS_ROOT, TEST_PARAMS, transact_raw_strings
from poft.ledger import ContractRevert, NetworkParams, Phase, deploy_network
from poft.ledger.client import LedgerClient
from poft.ledger.fixed import LOSS_NONFINITE

ROOT = b"\x42" * 32


def blob(n: int) -> str:
    """A well-formed blob uri (only its 32-byte digest goes on chain)."""
    return f"sha256:{n:064x}"


# --- open ----------------------------------------------------------------------------------

def test_open_round_samples_a_committee_of_eligible_stakers(net):
    block_before = net.backend.block_number
    r, committee = net.open()
    assert r == 1 and net.reader.phase() == Phase.TRAIN
    assert net.reader.deadline() == block_before + 1 + TEST_PARAMS.deadlines[0]
    assert len(committee.validators) == 3 and len(committee.miners) == 2
    members = committee.validators + committee.miners
    assert len(set(members)) == 5, "committee members must be distinct"
    assert all(net.reader.stake(m) >= ETH for m in members), "only stakers >= min_stake are eligible"
    assert committee.stakes == [net.reader.stake(v) for v in committee.validators]
    opened = net.reader.events("RoundOpened", round=r)[0]
    assert opened["validators"] == committee.validators and opened["miners"] == committee.miners
    assert net.reader.round_state().current_miner == committee.miners[0]


def test_open_round_twice_reverts(net):
    net.open()
    with net.reverts("previous round is not settled or failed yet"):
        net.reader.open_round()


def test_open_round_needs_k_plus_miners_eligible_stakers(chains):
    backend = chains.new(seed=3)
    deployment = deploy_network(backend, NetworkParams(name="small", k_validators=3, n_miners=2))
    accounts = backend.funded_accounts(5)
    for account, stake in zip(accounts, [ETH, ETH, ETH, ETH, ETH // 2]):  # only 4 eligible
        LedgerClient.for_deployment(backend, deployment, account).register(True, stake)
    reader = LedgerClient.for_deployment(backend, deployment, accounts[0])
    with pytest.raises(ContractRevert, match="not enough eligible stakers"):
        reader.open_round()


def test_register_twice_reverts(net):
    with net.reverts("already registered"):
        net.reader.register(True, ETH)


# --- TRAIN ---------------------------------------------------------------------------------

def test_one_submission_per_worker(net):
    r, _ = net.open()
    worker = net.workers()[0]
    assert worker.submit_update(r, b"\x01" * 32, blob(1)) == 0
    with net.reverts("already submitted this round"):
        worker.submit_update(r, b"\x02" * 32, blob(2))


def test_only_the_blob_digest_goes_on_chain_and_reads_back_as_its_uri(net):
    """A submission carries the blob's 32-byte SHA-256 digest, not the 71-character uri;
    whatever 32 bytes a worker sends read back as a well-formed uri."""
    r, _ = net.open()
    workers = net.workers()
    digest = bytes(range(32))
    transact_raw_strings(workers[0].contract, workers[0].account, "submit_update", r, b"\x01" * 32, digest)
    workers[1].submit_update(r, b"\x02" * 32, "SHA256:" + "AB" * 32)
    first, second = net.reader.candidates(r)
    assert first.uri == "sha256:" + digest.hex() and second.uri == "sha256:" + "ab" * 32
    assert net.reader.events("UpdateSubmitted", round=r)[0]["blob"] == digest


@pytest.mark.parametrize("uri", ["u", "sha256:1", "sha256:" + "g" * 64, "sha256:" + "a" * 66,
                                 "http://x/" + "a" * 64])
def test_a_malformed_blob_uri_is_refused_before_sending(net, uri):
    r, _ = net.open()
    with pytest.raises(ValueError, match="malformed blob location"):
        net.workers()[0].submit_update(r, b"\x01" * 32, uri)
    assert net.reader.candidates(r) == []


def test_round_mismatch_and_non_worker(net):
    r, _ = net.open()
    with net.reverts("round mismatch"):
        net.workers()[0].submit_update(r + 1, b"\x01" * 32, blob(1))
    non_worker = next(c for a, c in net.clients.items() if not net.is_worker[a])
    with net.reverts("not a registered worker"):
        non_worker.submit_update(r, b"\x01" * 32, blob(1))


def test_train_ends_early_when_every_worker_submitted(net):
    r, _ = net.open()
    workers = net.workers()
    net.submit_all(r, workers[:-1])
    assert net.reader.phase() == Phase.TRAIN
    net.submit_all(r, workers[-1:])
    assert net.reader.phase() == Phase.EVALUATE
    candidates = net.reader.candidates(r)
    assert [c.owner for c in candidates] == [w.account.address for w in workers[:-1]] + [workers[-1].account.address]
    assert [c.index for c in candidates] == list(range(len(workers)))
    assert not any(c.is_import for c in candidates)


def test_advance_before_deadline_reverts_and_after_deadline_moves_on(net):
    r, _ = net.open()
    net.submit_all(r, net.workers()[:2])
    with net.reverts("deadline not reached"):
        net.reader.advance()
    net.pass_deadline()
    with net.reverts("phase deadline passed"):
        net.workers()[3].submit_update(r, b"\x03" * 32, blob(3))
    net.reader.advance()
    assert net.reader.phase() == Phase.EVALUATE
    assert len(net.reader.candidates(r)) == 2


def test_train_deadline_without_candidates_fails_the_round(net):
    r, _ = net.open()
    net.pass_deadline()
    result = net.reader.advance()
    assert "no candidates" in result.event("RoundFailed")["reason"]
    assert net.reader.phase() == Phase.IDLE
    assert net.reader.global_model().root == GENESIS_ROOT
    assert net.reader.open_round() == r + 1


def test_advance_with_nothing_to_advance_reverts(net):
    with net.reverts("no round in progress"):
        net.reader.advance()


# --- EVALUATE ------------------------------------------------------------------------------

def test_report_rules(net):
    r, committee = net.open()
    validator = net.client(committee.validators[0])
    with net.reverts("not in EVALUATE phase"):
        validator.report_losses(r, [0.1])
    net.submit_all(r)
    n = len(net.reader.candidates(r))
    with net.reverts("not a committee validator"):
        net.outsider(committee).report_losses(r, [0.1] * n)
    with net.reverts("report length is not scores_per_candidate x the candidate count"):
        validator.report_losses(r, [0.1] * (n - 1))
    validator.report_losses(r, [math.nan, math.inf] + [0.25] * (n - 2))
    with net.reverts("already reported this round"):
        validator.report_losses(r, [0.1] * n)
    reports = net.reader.reports(r)
    assert reports[validator.account.address][:3] == [math.inf, math.inf, 0.25]
    assert net.reader.reports_fixed(r)[validator.account.address][0] == LOSS_NONFINITE
    assert net.reader.phase() == Phase.EVALUATE


def test_evaluate_ends_when_all_validators_reported(net):
    r, committee = net.to_aggregate()
    assert net.reader.phase() == Phase.AGGREGATE
    assert set(net.reader.reports(r)) == set(committee.validators)


def test_evaluate_deadline_with_one_report_moves_to_aggregate(net):
    r, committee = net.to_evaluate()
    net.report_all(r, committee, committee.validators[:1])
    net.pass_deadline()
    net.reader.advance()
    assert net.reader.phase() == Phase.AGGREGATE


def test_evaluate_deadline_without_reports_fails_and_slashes_validators(net):
    r, committee = net.to_evaluate()
    stakes = {v: net.reader.stake(v) for v in committee.validators}
    net.pass_deadline()
    result = net.reader.advance()
    assert "no loss reports" in result.event("RoundFailed")["reason"]
    for v in committee.validators:
        assert net.reader.stake(v) == stakes[v] * 9 // 10
    assert net.reader.phase() == Phase.IDLE
    net.assert_conserved()


# --- AGGREGATE / ATTEST ----------------------------------------------------------------------

def test_only_the_current_miner_proposes(net):
    r, committee = net.to_aggregate()
    weights = net.uniform_weights(r)
    with net.reverts("not the current miner"):
        net.client(committee.miners[1]).propose(r, ROOT, "sha256:agg", weights)
    with net.reverts("not the current miner"):
        net.outsider(committee).propose(r, ROOT, "sha256:agg", weights)
    net.client(committee.miners[0]).propose(r, ROOT, "sha256:agg", weights)
    assert net.reader.phase() == Phase.ATTEST
    proposal = net.reader.proposal(r)
    assert proposal.miner == committee.miners[0] and proposal.model_root == ROOT and proposal.attempt == 0


def test_attest_signature_checks(net):
    r, committee = net.to_attest(ROOT)
    v0, v1 = (net.client(v) for v in committee.validators[:2])
    with net.reverts("signature is not the sender's over this checkpoint"):
        v0.attest(r, model_root=b"\x13" * 32)  # signed a different root
    with net.reverts("signature is not the sender's over this checkpoint"):
        v0.attest(r, uri="sha256:elsewhere")  # signed another location of the proposal
    someone_elses = v1.checkpoint_signature(r, ROOT, GENESIS_ROOT, "sha256:agg")
    with net.reverts("signature is not the sender's over this checkpoint"):
        v0.attest_with_signature(r, someone_elses)
    with net.reverts("bad signature: length is not 65 bytes"):
        v0.attest_with_signature(r, b"\x01" * 64)
    with net.reverts("not a committee validator"):
        net.outsider(committee).attest(r)
    v0.attest(r)
    with net.reverts("already voted on this proposal"):
        v0.reject(r)


def test_finality_at_two_thirds_of_committee_stake(net):
    r, committee = net.to_attest(ROOT)
    net.client(committee.validators[0]).attest(r)
    assert net.reader.phase() == Phase.ATTEST  # 1/3
    result = net.client(committee.validators[1]).attest(r)  # 2/3
    final = result.event("RoundFinalized")
    assert final["model_root"] == ROOT and final["parent_root"] == GENESIS_ROOT
    assert net.reader.phase() == Phase.FINAL
    model = net.reader.global_model()
    assert (model.root, model.fingerprint, model.uri, model.round) == (ROOT, FP, "sha256:agg", r)
    cp = net.reader.checkpoint(r)
    assert cp.model_root == ROOT and cp.parent_root == GENESIS_ROOT and cp.miner == committee.miners[0]
    assert [a.signer for a in net.reader.attestations(r)] == committee.validators[:2]


def test_rejection_above_one_third_slashes_miner_and_backup_finalizes(net):
    r, committee = net.to_attest(ROOT)
    miner, backup = committee.miners
    stake = net.reader.stake(miner)
    net.client(committee.validators[0]).reject(r)
    assert net.reader.phase() == Phase.ATTEST  # exactly 1/3 is not > 1/3
    result = net.client(committee.validators[1]).reject(r)
    slashed = result.event("MinerSlashed")
    assert slashed["miner"] == miner and slashed["amount"] == stake // 10
    assert net.reader.stake(miner) == stake - stake // 10
    assert net.reader.phase() == Phase.AGGREGATE
    assert net.reader.round_state().current_miner == backup
    assert net.reader.attestations(r) == []  # votes start afresh
    backup_root = b"\x77" * 32
    net.client(backup).propose(r, backup_root, "sha256:backup", net.uniform_weights(r))
    for v in committee.validators[:2]:
        net.client(v).attest(r)
    assert net.reader.checkpoint(r).miner == backup
    assert net.reader.global_model().root == backup_root
    net.assert_conserved()


def test_aggregate_deadline_slashes_miner_and_hands_over(net):
    r, committee = net.to_aggregate()
    with net.reverts("deadline not reached"):
        net.reader.advance()
    net.pass_deadline()
    result = net.reader.advance()
    assert result.event("MinerSlashed")["miner"] == committee.miners[0]
    assert net.reader.phase() == Phase.AGGREGATE
    assert net.reader.round_state().current_miner == committee.miners[1]


def test_attest_deadline_slashes_miner(net):
    r, committee = net.to_attest(ROOT)
    net.client(committee.validators[0]).attest(r)
    net.pass_deadline()
    result = net.reader.advance()
    assert "not attested" in result.event("MinerSlashed")["reason"]
    assert net.reader.phase() == Phase.AGGREGATE


def test_all_miners_failing_fails_the_round_and_keeps_the_model(net):
    r, committee = net.to_aggregate()
    for _ in committee.miners:
        net.pass_deadline()
        result = net.reader.advance()
    assert "no miner" in result.event("RoundFailed")["reason"]
    assert net.reader.phase() == Phase.IDLE
    assert net.reader.global_model().root == GENESIS_ROOT
    assert net.reader.checkpoint(r) is None
    net.assert_conserved()
    assert net.reader.open_round() == r + 1


def test_out_of_phase_calls_name_the_phase(net):
    r, committee = net.open()
    miner = net.client(committee.miners[0])
    with net.reverts("not in AGGREGATE phase"):
        miner.propose(r, ROOT, "x", [1.0])
    with net.reverts("not in ATTEST phase"):
        net.client(committee.validators[0]).attest_with_signature(r, b"\0" * 65)
    with net.reverts("not in FINAL phase"):
        miner.settle(r, [1.0])
    with net.reverts("round is not final"):
        miner.sign_checkpoint_with_signature(r, b"\0" * 65)
