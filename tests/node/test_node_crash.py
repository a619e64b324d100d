"""Crashes in node mode: a validator, the miner, a chain; the protocol carries on.

The tests share one network and run in file order, each on the next round.
"""

from __future__ import annotations

import pytest

from node_support import poft_run
from poft.ledger import Phase

pytestmark = pytest.mark.anvil

NODE_ARGS = ("--open-rounds", "none")


def test_a_killed_validator_restarts_and_its_round_finalizes(crash_cluster):
    c = crash_cluster
    reader = c.reader("solo")
    r = c.open_round("solo")
    committee = reader.committee(r)
    victim_address, other = committee.validators
    victim = c.name_of("solo", victim_address)
    c.kill(victim)                                     # mid-round: TRAIN has just begun
    c.wait_for("the surviving validator's report", lambda: other in reader.reports(r))
    assert reader.current_round() == r and reader.checkpoint(r) is None
    c.restart(victim, "solo", "validator,miner", *NODE_ARGS)
    c.wait_settled("solo", r)
    assert reader.checkpoint(r) is not None
    # 2 validators of equal stake: finality (>= 2/3) needed the restarted one's vote.
    assert victim_address in {a.signer for a in reader.attestations(r)}
    assert c.events(victim, "attested"), "the restarted validator resumed from chain state"


def test_a_killed_miner_is_replaced_by_the_backup_after_the_deadline(crash_cluster):
    c = crash_cluster
    reader = c.reader("solo")
    r = c.open_round("solo")
    committee = reader.committee(r)
    first, backup = committee.miners
    victim = c.name_of("solo", first)
    c.kill(victim)
    c.wait_settled("solo", r, timeout=150)             # waits out the AGGREGATE deadline
    checkpoint = reader.checkpoint(r)
    assert checkpoint is not None and checkpoint.miner == backup
    slashed = reader.events("MinerSlashed", round=r)
    assert [e["miner"] for e in slashed] == [first]
    assert "no proposal before the AGGREGATE deadline" in slashed[0]["reason"]
    c.restart(victim, "solo", "validator,miner", *NODE_ARGS)
    c.wait_ready()


def test_a_restarted_chain_keeps_its_final_rounds_and_training_continues(crash_cluster):
    c = crash_cluster
    reader = c.reader("solo")
    final_before = {r: reader.checkpoint(r) for r in range(1, reader.current_round() + 1)}
    assert all(cp is not None for cp in final_before.values())
    r = c.open_round("solo")
    c.wait_for("the round's evaluation", lambda: reader.phase() >= Phase.EVALUATE)
    down = poft_run("chain", "down", "--deployment", str(c.deployment))
    assert down.returncode == 0, down.stderr
    c.wait_for("nodes noticing the chain is gone",
               lambda: any(c.events(n, "chain_unavailable") for n in c.nodes), timeout=30)
    up = poft_run("chain", "restart", "--deployment", str(c.deployment))
    assert up.returncode == 0, up.stderr
    c.forget_readers()
    reader = c.reader("solo")
    for round_id, cp in final_before.items():
        assert reader.checkpoint(round_id) == cp, f"final round {round_id} changed"
    c.wait_settled("solo", r)
    assert reader.checkpoint(r) is not None
    nxt = c.open_round("solo")                          # and training goes on
    c.wait_settled("solo", nxt)
    assert reader.checkpoint(nxt) is not None
    assert reader.global_model().round == nxt
    # The configured 4 rounds are over: every node finishes on its own, with status 0.
    c.wait_for("all nodes done", lambda: all(n.exited() == 0 for n in c.nodes.values()),
               timeout=30)

