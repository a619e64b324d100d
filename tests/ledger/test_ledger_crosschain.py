"""A full round on network A, its checkpoint relayed to B, and B's round with the import as a candidate.

6 workers (all stakers), 3 validators and 2 miners per network; on the embedded
backend the two networks are two EVMs sharing a chain id, on anvil two nodes.
"""

from __future__ import annotations

import math
import statistics

from ledger_support import ETH, FP, TEST_PARAMS, build_net
from poft.ledger import Phase, relay_checkpoint, trust_network
from poft.ledger.fixed import WEIGHT_SCALE, weights_to_fixed

STAKES = [2 * ETH] * 6


def softmax_weights(reports: dict[str, list[float]], temperature: float = 0.1) -> list[float]:
    """Median over validators, then softmax(-L/T) (what the miner role computes)."""
    losses = [statistics.median(col) for col in zip(*reports.values())]
    exps = [math.exp(-(x - min(losses)) / temperature) for x in losses]
    return [e / sum(exps) for e in exps]


def play_round(net, root: bytes, losses_of, before_workers=None):
    """Open, (optionally do something first), all workers submit, validators report, the miner
    proposes softmax weights, all validators attest, anyone settles. Returns (round, weights)."""
    r, committee = net.open()
    net.assert_conserved()
    if before_workers:
        before_workers(r)
    net.submit_all(r)
    assert net.reader.phase() == Phase.EVALUATE
    n = len(net.reader.candidates(r))
    for v in committee.validators:
        net.client(v).report_losses(r, losses_of(v, n))
        net.assert_conserved()
    assert net.reader.phase() == Phase.AGGREGATE
    weights = softmax_weights(net.reader.reports(r))
    net.client(committee.miners[0]).propose(r, root, f"sha256:{root.hex()}", weights)
    for v in committee.validators:
        if net.reader.phase() == Phase.ATTEST:
            net.client(v).attest(r)
    assert net.reader.phase() == Phase.FINAL
    net.assert_conserved()
    return r, weights


def test_full_round_and_cross_network_import(chains):
    params = TEST_PARAMS
    a = build_net(chains.new(seed=41, chain_id=42001), params, STAKES, [True] * 6)
    b = build_net(chains.new(seed=42, chain_id=42002),
                  params.__class__(**{**params.__dict__, "name": "b"}), STAKES, [True] * 6)

    # network A: one full round, settled, checkpoint signed by every staker
    root_a = b"\xaa" * 32
    r_a, w_a = play_round(a, root_a, lambda v, n: [0.3 + 0.05 * i for i in range(n)])
    a.reader.settle(r_a, w_a)
    assert a.reader.phase() == Phase.IDLE
    for client in a.clients.values():
        if client.account.address not in {s.signer for s in a.reader.checkpoint_signatures(r_a)}:
            client.sign_checkpoint(r_a)
    a.assert_conserved()
    assert a.reader.global_model().root == root_a

    # relay to B, which trusts A's stakers
    bridge_b = b.bridge()
    trust_network(bridge_b, a.reader)
    import_id, timing = relay_checkpoint(a.reader, r_a, bridge_b)
    assert timing.read_s >= 0 and timing.import_s >= 0
    assert bridge_b.import_record(import_id).model_root == root_a

    # network B: the import is one more candidate, scored best by B's validators
    root_b = b"\xbb" * 32
    pool_before = b.reader.reward_pool()
    claim_before = {addr: b.reader.claimable(addr) for addr in b.clients}
    r_b, w_b = play_round(
        b, root_b, lambda v, n: [0.1] + [0.5 + 0.05 * i for i in range(n - 1)],
        before_workers=lambda r: b.reader.submit_import(r, import_id),
    )
    candidates = b.reader.candidates(r_b)
    assert candidates[0].is_import and candidates[0].root == root_a
    assert w_b[0] == max(w_b)
    result = b.reader.settle(r_b, w_b)

    fixed = weights_to_fixed(w_b)
    worker_paid = sum(params.reward_per_round * w // WEIGHT_SCALE for w in fixed[1:])
    validators_paid = params.k_validators * params.validator_reward
    assert result.event("Settled")["paid"] == worker_paid + validators_paid
    # the import's share (weights[0]) stays in the pool
    assert b.reader.reward_pool() == pool_before - worker_paid - validators_paid
    assert b.reader.claimable(bridge_b.address) == 0
    gained = sum(b.reader.claimable(addr) - claim_before[addr] for addr in b.clients)
    assert gained == worker_paid + validators_paid
    b.assert_conserved()
    model = b.reader.global_model()
    assert (model.root, model.fingerprint, model.round) == (root_b, FP, r_b)
    assert b.reader.checkpoint(r_b).parent_root == params.genesis_root

    kinds = {row.kind for row in b.backend.gas_report.rows()}
    assert {"register", "open_round", "submit_import", "submit_update", "report_losses", "propose",
            "attest", "settle"} <= kinds
    assert "import_checkpoint" in kinds and "sign_checkpoint" in {r.kind for r in a.backend.gas_report.rows()}
