"""Each worker's history as the roles derive it from the chain and the store
(poft.protocol.worker_history): what a role remembers from the rounds it read is
what any other party rebuilds from the committed blobs, bit for bit."""

import pytest
import torch

from poft.drivers.inprocess.driver import InProcessDriver
from poft.protocol.miner import Miner
from poft.protocol.worker_history import WorkerHistory, owner_key
from run_support import tiny


@pytest.fixture(scope="module")
def three_rounds(tmp_path_factory):
    """A finished 3-round run on the embedded chain (robust_softmax, history on)."""
    config = tiny(rounds=3, byzantine_fraction=0.34, attack="alie")
    with InProcessDriver(config, tmp_path_factory.mktemp("history")) as driver:
        for _ in range(3):
            driver.run_round()
        yield driver.networks[0]


def test_the_roles_share_one_history_that_a_fresh_reader_rebuilds(three_rounds):
    net = three_rounds
    staker = next(iter(net.stakers.values()))
    shared = staker.miner.history
    assert shared is staker.validator.history and shared.through == 2
    ledger, fingerprint = net.anyone, net.anyone.global_model().fingerprint
    fresh = WorkerHistory(net.genesis_uri)
    fresh.fold_until(ledger, net.store, net.codec, 3, fingerprint)
    assert shared.sums.keys() == fresh.sums.keys() == {w.address.lower() for w in net.workers}
    assert all(torch.equal(shared.sums[k], fresh.sums[k]) for k in fresh.sums)
    # The sums are the workers' updates over rounds 1 and 2 (the MLP is under the
    # sketch width, so they are kept exactly).
    expected = {}
    for r in (1, 2):
        cp = ledger.checkpoint(r)
        parent_uri = net.genesis_uri if r == 1 else ledger.checkpoint(r - 1).uri
        parent = net.codec.fetch(net.store, cp.parent_root, parent_uri).double()
        for cand in ledger.candidates(r):
            delta = net.codec.fetch(net.store, cand.root, cand.uri).double() - parent
            key = owner_key(cand)
            expected[key] = expected.get(key, 0) + delta
    assert all(torch.allclose(fresh.sums[k], expected[k], atol=1e-9) for k in expected)


def test_going_back_to_an_earlier_round_starts_over(three_rounds):
    net = three_rounds
    ledger, fingerprint = net.anyone, net.anyone.global_model().fingerprint
    history = WorkerHistory(net.genesis_uri)
    history.fold_until(ledger, net.store, net.codec, 4, fingerprint)
    history.fold_until(ledger, net.store, net.codec, 2, fingerprint)   # round 1 only
    only_first = WorkerHistory(net.genesis_uri)
    only_first.fold_until(ledger, net.store, net.codec, 2, fingerprint)
    assert history.through == 1
    assert all(torch.equal(history.sums[k], only_first.sums[k]) for k in only_first.sums)


def test_a_role_without_the_history_the_rule_needs_is_refused(three_rounds):
    net = three_rounds
    with pytest.raises(ValueError, match="needs the network's WorkerHistory"):
        Miner(net.anyone, net.store, net.codec, net.spec)
