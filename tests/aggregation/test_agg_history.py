"""The workers' history test (poft.aggregation.history) and its place in robust_softmax:
the sketch, the likeness outliers, and the weights through aggregate_round."""

import pytest
import torch

from poft.aggregation.history import history_factors, max_likeness, sketch
from poft.protocol.aggregate import AggregationSpec, RoundInputs, aggregate_round


def test_small_models_are_kept_exactly_and_refused_rows_add_nothing():
    x = torch.randn(3, 10, dtype=torch.float64)
    x[1, 4] = float("nan")
    out = sketch(x, width=16)
    assert torch.equal(out[0], x[0]) and torch.equal(out[2], x[2])
    assert torch.equal(out[1], torch.zeros(10, dtype=torch.float64))


def test_the_sketch_is_linear_seeded_and_keeps_cosines():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4, 20_000, generator=g, dtype=torch.float64)
    b = torch.randn(4, 20_000, generator=g, dtype=torch.float64)
    # The sketch of a sum is the sum of the sketches: histories can be kept as sketches.
    assert torch.allclose(sketch(a + b, 1024), sketch(a, 1024) + sketch(b, 1024), atol=1e-9)
    assert torch.equal(sketch(a, 1024), sketch(a.clone(), 1024))        # same buckets every call
    # Cosines survive to O(1/sqrt(k)): a near copy stays near, strangers stay apart.
    near = torch.cat([a[:1], a[:1] + 0.3 * b[:1], b[:2]])
    exact, approx = max_likeness(near), max_likeness(sketch(near, 1024))
    assert (exact - approx).abs().max() < 0.1
    assert approx[0] > 0.9 and approx[3] < 0.2


def test_alike_histories_stand_out_and_honest_ones_do_not():
    g = torch.Generator().manual_seed(1)
    honest = torch.randn(14, 300, generator=g, dtype=torch.float64) + 0.5   # cosines ~0.2
    goal = torch.randn(1, 300, generator=g, dtype=torch.float64)
    colluders = goal + 0.2 * torch.randn(6, 300, generator=g, dtype=torch.float64)
    factors = history_factors(torch.cat([honest, colluders]))
    assert factors == [1.0] * 14 + [0.0] * 6
    assert history_factors(honest) == [1.0] * 14
    assert history_factors(honest[:2]) == [1.0, 1.0]          # too few to tell an outlier
    with pytest.raises(ValueError, match="history_mads"):
        history_factors(honest, mads=0)


def round_inputs(past):
    """Ten honest unit updates and three alike ones, all past the gate with equal scores;
    each worker's history is its ``past`` row plus this update (None: no history)."""
    g = torch.Generator().manual_seed(2)
    rows = torch.randn(13, 200, generator=g)
    rows[10:] = rows[10] + 0.01 * torch.randn(3, 200, generator=g)
    rows = rows / rows.norm(dim=1, keepdim=True)
    reports = torch.tensor([[0.0] * 13 + [1.0] * 13], dtype=torch.float64)
    history = None if past is None else past + sketch(rows)
    return RoundInputs(torch.zeros(200), rows, reports, history=history)


def test_aggregate_round_gives_alike_histories_no_weight():
    spec = AggregationSpec(rule="robust_softmax", params={"gate_z": 0.0})
    past = torch.zeros(13, 200, dtype=torch.float64)
    weights = aggregate_round(round_inputs(past), spec).weights.tolist()
    assert weights == pytest.approx([0.1] * 10 + [0.0] * 3)
    # The history counts, not only this round: give honest rows 0 and 1 a shared past
    # and they stand out too.
    shared = past.clone()
    shared[:2] = 50 * torch.ones(200)
    weights = aggregate_round(round_inputs(shared), spec).weights.tolist()
    assert weights[:2] == [0.0, 0.0] and weights[2] == pytest.approx(1 / 8)
    # Off, or with no history given, the three keep their weight.
    off = AggregationSpec(rule="robust_softmax", params={"gate_z": 0.0, "history": False})
    assert aggregate_round(round_inputs(past), off).weights.tolist() == pytest.approx([1 / 13] * 13)
    assert aggregate_round(round_inputs(None), spec).weights.tolist() == pytest.approx([1 / 13] * 13)


def test_the_history_test_never_refuses_every_candidate_past_the_gate():
    spec = AggregationSpec(rule="robust_softmax", params={"gate_z": 0.0})
    inputs = round_inputs(torch.zeros(13, 200, dtype=torch.float64))
    # Only the three alike candidates pass the gate: the test steps aside, as the
    # round would otherwise have no proposal at all.
    inputs = RoundInputs(inputs.global_vec, inputs.candidates,
                         torch.tensor([[0.0] * 13 + [-1.0] * 10 + [1.0] * 3], dtype=torch.float64),
                         history=inputs.history)
    assert aggregate_round(inputs, spec).weights.tolist() == pytest.approx([0.0] * 10 + [1 / 3] * 3)


def test_likenesses_closer_than_a_random_cosine_are_no_evidence():
    # IID-like histories, all about equally alike (cosines 0.915-0.928): their MAD is
    # tiny, so the MAD alone would cut the most alike pair; the spread's floor
    # 1/sqrt(k) (a random cosine's standard deviation) keeps everyone.
    g = torch.Generator().manual_seed(3)
    common = torch.randn(1, 400, generator=g, dtype=torch.float64)
    rows = common + 0.3 * torch.randn(12, 400, generator=g, dtype=torch.float64)
    v = max_likeness(rows)
    mad_limit = v.median() + 3 * 1.4826 * (v - v.median()).abs().median()
    assert int((v > mad_limit).sum()) == 2
    assert history_factors(rows) == [1.0] * 12


def test_likeness_to_the_third_most_alike_spares_pairs_and_finds_groups():
    g = torch.Generator().manual_seed(5)
    honest = torch.randn(14, 300, generator=g, dtype=torch.float64)
    honest[1] = honest[0] + 0.1 * torch.randn(300, generator=g, dtype=torch.float64)  # a pair
    goal = torch.randn(1, 300, generator=g, dtype=torch.float64)
    group = goal + 0.3 * torch.randn(6, 300, generator=g, dtype=torch.float64)
    rows = torch.cat([honest, group])
    # The nearest history: the honest pair is as alike as the group, so both go.
    assert history_factors(rows) == [0.0, 0.0] + [1.0] * 12 + [0.0] * 6
    # The third nearest: a pair has no third alike history, a group of six has four more.
    assert history_factors(rows, neighbours=3) == [1.0] * 14 + [0.0] * 6
    assert max_likeness(rows[:3], neighbours=5).shape == (3,)       # capped at n - 1
    with pytest.raises(ValueError, match="history_neighbours"):
        history_factors(rows, neighbours=0)
