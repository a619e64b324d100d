"""Settlement, rewards, slashing, value conservation and checkpoint signing (both backends)."""

from __future__ import annotations

from ledger_support import ETH, TEST_PARAMS, build_net
from poft.ledger import Phase
from poft.ledger.fixed import WEIGHT_SCALE, weights_to_fixed

ROOT = b"\x42" * 32


def _final_with(net, weights, reporters=None):
    """Run a round to FINAL with `weights` proposed; `reporters` (default all) report losses."""
    r, committee = net.to_evaluate()
    net.report_all(r, committee, reporters)
    if reporters is not None and len(reporters) < len(committee.validators):
        net.pass_deadline()
        net.reader.advance()
    net.client(committee.miners[0]).propose(r, ROOT, "sha256:agg", weights)
    for v in committee.validators[:2]:
        net.client(v).attest(r)
    assert net.reader.phase() == Phase.FINAL
    return r, committee


def test_settle_needs_the_proposed_weights(net):
    r, committee = _final_with(net, [0.5, 0.5] + [0.0] * 5)
    settler = net.outsider(committee)
    with net.reverts("weights length does not match the candidate count"):
        settler.settle(r, [0.5, 0.5])
    with net.reverts("weights do not match the proposal's weights_hash"):
        settler.settle(r, [0.4, 0.6] + [0.0] * 5)
    settler.settle(r, [0.5, 0.5] + [0.0] * 5)  # anyone may settle
    assert net.reader.phase() == Phase.IDLE


def test_rewards_follow_weights_and_absent_validator_is_slashed(net):
    weights = [0.5, 0.3, 0.2, 0.0, 0.0, 0.0, 0.0]
    r, committee = net.open()  # one validator stays silent through EVALUATE
    net.submit_all(r)
    reporters, absent = committee.validators[:2], committee.validators[2]
    net.report_all(r, committee, reporters)
    net.pass_deadline()
    net.reader.advance()
    net.client(committee.miners[0]).propose(r, ROOT, "sha256:agg", weights)
    for v in reporters:
        net.client(v).attest(r)

    addresses = list(net.clients)
    before = {a: net.reader.claimable(a) for a in addresses}
    absent_stake = net.reader.stake(absent)
    pool = net.reader.reward_pool()
    result = net.reader.settle(r, weights)

    fixed = weights_to_fixed(weights)
    owners = [c.owner for c in net.reader.candidates(r)]
    expected = {a: 0 for a in addresses}
    for owner, w in zip(owners, fixed):
        expected[owner] += TEST_PARAMS.reward_per_round * w // WEIGHT_SCALE
    for v in reporters:
        expected[v] += TEST_PARAMS.validator_reward
    assert {a: net.reader.claimable(a) - before[a] for a in addresses} == expected
    slash = absent_stake // 10
    assert net.reader.stake(absent) == absent_stake - slash
    assert result.event("Slashed")["account"] == absent
    paid = sum(expected.values())
    assert result.event("Settled")["paid"] == paid
    assert net.reader.reward_pool() == pool + slash - paid
    net.assert_conserved()


def test_short_pool_pays_pro_rata(chains):
    params = TEST_PARAMS.__class__(**{**TEST_PARAMS.__dict__, "name": "short", "initial_pool": ETH // 2})
    net = build_net(chains.new(seed=5), params)
    weights = [1 / 7] * 7
    r, committee = _final_with(net, weights)
    before = {a: net.reader.claimable(a) for a in net.clients}
    net.reader.settle(r, weights)
    due = {a: 0 for a in net.clients}
    for c, w in zip(net.reader.candidates(r), weights_to_fixed(weights)):
        due[c.owner] += params.reward_per_round * w // WEIGHT_SCALE
    for v in committee.validators:
        due[v] += params.validator_reward
    total_due = sum(due.values())
    pool = ETH // 2
    for a in net.clients:
        assert net.reader.claimable(a) - before[a] == due[a] * pool // total_due
    assert 0 <= net.reader.reward_pool() < len(net.clients)  # only rounding dust is left
    net.assert_conserved()


def test_value_is_conserved_after_every_step(net):
    net.assert_conserved()
    r, committee = net.open()
    net.assert_conserved()
    for i, w in enumerate(net.workers()):
        w.submit_update(r, w.account.address.encode()[:32].ljust(32, b"\0"), f"sha256:{i:064x}")
        net.assert_conserved()
    for v in committee.validators:
        net.client(v).report_losses(r, [0.1] * 7)
        net.assert_conserved()
    weights = [0.25, 0.25, 0.25, 0.25, 0.0, 0.0, 0.0]
    net.client(committee.miners[0]).propose(r, ROOT, "agg", weights)
    net.assert_conserved()
    for v in committee.validators[:2]:
        net.client(v).reject(r)  # miner slashed, into the pool
        net.assert_conserved()
    net.pass_deadline()
    net.reader.advance()  # backup miner missed AGGREGATE too: round fails
    net.assert_conserved()
    assert net.reader.phase() == Phase.IDLE

    r, committee = net.open()
    net.submit_all(r)
    net.report_all(r, committee)
    net.client(committee.miners[0]).propose(r, ROOT, "agg", weights)
    for v in committee.validators:  # stakes differ after the slashing: attest until final
        if net.reader.phase() == Phase.ATTEST:
            net.client(v).attest(r)
            net.assert_conserved()
    net.reader.settle(r, weights)
    net.assert_conserved()
    for client in net.clients.values():
        if client.claimable() > 0:
            client.withdraw()
            net.assert_conserved()
    net.owner.fund(ETH)
    net.reader.add_stake(ETH)
    net.assert_conserved()


def test_withdraw_pays_claimable_once(net):
    weights = [1.0] + [0.0] * 6
    r, _ = _final_with(net, weights)
    net.reader.settle(r, weights)
    worker = net.client(net.reader.candidates(r)[0].owner)
    claim = worker.claimable()
    assert claim >= TEST_PARAMS.reward_per_round
    balance = net.backend.get_balance(worker.account.address)
    assert worker.withdraw() == claim
    assert worker.claimable() == 0
    gained = net.backend.get_balance(worker.account.address) - balance
    assert claim - ETH // 100 < gained <= claim  # minus the gas
    with net.reverts("nothing to withdraw"):
        worker.withdraw()
    with net.reverts("no value sent"):
        worker.fund(0)


def test_sign_checkpoint_for_export(net):
    r, committee = net.to_final(ROOT)
    cp = net.reader.checkpoint(r)
    signer = net.outsider(committee)
    result = signer.sign_checkpoint(r)
    assert result.event("CheckpointSigned")["signer"] == signer.account.address
    with net.reverts("already signed this checkpoint"):
        signer.sign_checkpoint(r)
    other = next(c for a, c in net.clients.items()
                 if a != signer.account.address and a not in committee.validators[:2])
    forged = signer.checkpoint_signature(r, cp.model_root, cp.parent_root, cp.uri)
    with net.reverts("signature is not the sender's over this checkpoint"):
        other.sign_checkpoint_with_signature(r, forged)
    wrong_parent = other.checkpoint_signature(r, cp.model_root, b"\x01" * 32, cp.uri)
    with net.reverts("signature is not the sender's over this checkpoint"):
        other.sign_checkpoint_with_signature(r, wrong_parent)
    wrong_uri = other.checkpoint_signature(r, cp.model_root, cp.parent_root, "sha256:" + "ab" * 32)
    with net.reverts("signature is not the sender's over this checkpoint"):
        other.sign_checkpoint_with_signature(r, wrong_uri)
    signatures = net.reader.checkpoint_signatures(r)
    assert {s.signer for s in signatures} == {signer.account.address, *committee.validators[:2]}
    assert net.reader.events("CheckpointSigned", round=r)[0]["signature"] == signatures[0].signature


def _settle_gas(workers: int) -> int:
    """Gas of one settle paying `workers` unstaked workers (the driver's default) and
    three validators, on the embedded EVM."""
    from ledger_support import build_net
    from poft.ledger import EmbeddedBackend

    stakes = [0] * workers + [2 * ETH] * 5
    net = build_net(EmbeddedBackend(seed=1), stakes=stakes,
                    workers=[True] * workers + [False] * 5)
    weights = [1 / workers] * workers
    r, committee = net.to_evaluate()
    net.report_all(r, committee)
    net.client(committee.miners[0]).propose(r, ROOT, "sha256:agg", weights)
    for v in committee.validators[:2]:
        net.client(v).attest(r)
    return net.reader.settle(r, weights).gas_used


def test_settle_pays_the_largest_round_within_one_block():
    """Each further candidate costs settle one storage read and one write to a word
    already set (the worker's registration), even for a worker without stake: the
    1,100 candidates the contract allows fit a 30M block with room to spare."""
    small, large = _settle_gas(4), _settle_gas(12)
    per_candidate = (large - small) / 8
    assert per_candidate < 12_000, per_candidate
    assert small + 1_100 * per_candidate < 15_000_000
