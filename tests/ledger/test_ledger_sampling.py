"""Committee sampling is stake-weighted without replacement; the embedded chain is deterministic."""

from __future__ import annotations

import itertools
import json
import math

import pytest
from eth_utils import keccak

from ledger_support import ETH, TEST_PARAMS, build_net
from poft.ledger import EmbeddedBackend, LedgerError, NetworkParams

STAKES = [1, 1, 2, 2, 3, 4, 6, 8]  # ETH; heavy skew so uniform sampling is far off
K, MINERS = 3, 1
SEEDS = 2000


def inclusion_probabilities(stakes: list[int], k: int, miners: int) -> tuple[list[float], list[float]]:
    """Exact P(i among the k validators) and P(i among the miners) for sequential
    stake-weighted draws without replacement (enumerating all ordered draws)."""
    n, total = len(stakes), sum(stakes)
    p_validator, p_miner = [0.0] * n, [0.0] * n
    for order in itertools.permutations(range(n), k + miners):
        p, remaining = 1.0, total
        for i in order:
            p *= stakes[i] / remaining
            remaining -= stakes[i]
        for position, i in enumerate(order):
            (p_validator if position < k else p_miner)[i] += p
    return p_validator, p_miner


def assert_matches(counts: list[int], expected_p: list[float], uniform_p: float, label: str) -> None:
    """Every count within 4.5 sigma of its expectation; and uniform sampling could not pass."""
    sigma = [math.sqrt(SEEDS * p * (1 - p)) for p in expected_p]
    for i, (c, p, s) in enumerate(zip(counts, expected_p, sigma)):
        assert abs(c - SEEDS * p) <= 4.5 * s, f"{label} {i}: {c} vs expected {SEEDS * p:.0f} ± {s:.0f}"
    # uniform selection would land > 8 sigma off for some participant: it cannot pass the 4.5 sigma band
    worst = max(abs(SEEDS * uniform_p - SEEDS * p) / s for p, s in zip(expected_p, sigma))
    assert worst > 8, f"{label}: test too weak to tell stake-weighted from uniform ({worst:.1f} sigma)"


def test_committee_sampling_is_stake_weighted_without_replacement(chains):
    params = NetworkParams(name="sampling", k_validators=K, n_miners=MINERS, min_stake=ETH)
    net = build_net(chains.new(seed=31), params, [s * ETH for s in STAKES], [True] * len(STAKES))
    index = {a.address: i for i, a in enumerate(net.accounts)}
    validator_counts, miner_counts = [0] * len(STAKES), [0] * len(STAKES)
    for s in range(SEEDS):
        committee = net.reader.sample_committee(keccak(s.to_bytes(32, "big")))
        members = committee.validators + committee.miners
        assert len(set(members)) == K + MINERS
        assert committee.stakes == [STAKES[index[v]] * ETH for v in committee.validators]
        for v in committee.validators:
            validator_counts[index[v]] += 1
        for m in committee.miners:
            miner_counts[index[m]] += 1
    p_validator, p_miner = inclusion_probabilities(STAKES, K, MINERS)
    assert_matches(validator_counts, p_validator, K / len(STAKES), "validator")
    assert_matches(miner_counts, p_miner, MINERS / len(STAKES), "miner")


def _run(seed: int):
    backend = EmbeddedBackend(seed=seed)
    net = build_net(backend, TEST_PARAMS)
    r, committee = net.to_final()
    hashes = [backend.block_hash(n) for n in range(backend.block_number + 1)]
    return committee, hashes, net.reader.call("round_seed", r), backend


def test_embedded_chain_is_deterministic_under_a_seed():
    committee_a, hashes_a, seed_a, backend = _run(seed=7)
    committee_b, hashes_b, seed_b, _ = _run(seed=7)
    assert committee_a == committee_b
    assert seed_a == seed_b
    assert hashes_a == hashes_b
    header = backend.chain.get_canonical_block_header_by_number(5)
    assert header.timestamp == 1_700_000_000 + 12 * 5  # pinned, not wall time
    _, hashes_c, seed_c, _ = _run(seed=8)
    assert seed_c != seed_a and hashes_c[1:] != hashes_a[1:]


def test_embedded_journal_replays_to_the_same_chain(tmp_path):
    committee, hashes, _, backend = _run(seed=9)
    path = tmp_path / "chain.journal"
    backend.save_journal(path)
    replayed = EmbeddedBackend.replay(path)
    assert [replayed.block_hash(n) for n in range(len(hashes))] == hashes
    record = json.loads(path.read_text())
    record["entries"] = record["entries"][:-1]  # drop the last transaction
    path.write_text(json.dumps(record))
    with pytest.raises(LedgerError, match="does not reproduce"):
        EmbeddedBackend.replay(path)


def test_embedded_w3_reads_the_same_chain():
    backend = EmbeddedBackend(seed=4)
    backend.funded_accounts(2)
    w3 = backend.w3
    assert w3.eth.block_number == backend.block_number
    assert bytes(w3.eth.get_block(1)["hash"]) == backend.block_hash(1)
