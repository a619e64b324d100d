"""aggregate_round: the one computation miner, validators and verify share."""

import math

import pytest
import torch

from poft.ledger import WEIGHT_SCALE
from poft.protocol.aggregate import (
    AggregationSpec,
    RoundInputs,
    aggregate_round,
    matches,
)


def inputs(candidates, losses, theta=None):
    candidates = torch.tensor(candidates, dtype=torch.float32)
    theta = torch.zeros(candidates.shape[1]) if theta is None else torch.tensor(theta)
    return RoundInputs(global_vec=theta, candidates=candidates,
                       losses=torch.tensor(losses, dtype=torch.float64))


def test_softmax_uses_median_over_validators():
    # Validator 3 lies about candidate 0; the median ignores it.
    agg = aggregate_round(inputs([[1.0, 0.0], [0.0, 1.0]],
                                 [[0.1, 1.0], [0.1, 1.0], [9.0, 1.0]]),
                          AggregationSpec(temperature=0.1))
    expected_w0 = 1 / (1 + math.exp(-(1.0 - 0.1) / 0.1))
    assert agg.weights[0].item() == pytest.approx(expected_w0)
    assert agg.model.tolist() == pytest.approx([expected_w0, 1 - expected_w0], rel=1e-6)


def test_nonfinite_loss_or_parameters_get_zero_weight():
    nan = float("nan")
    agg = aggregate_round(inputs([[1.0], [nan], [3.0]], [[1.0, 1.0, math.inf]]),
                          AggregationSpec(temperature=1.0))
    assert agg.weights.tolist() == [1.0, 0.0, 0.0]
    assert agg.model.tolist() == [1.0]


def test_no_admissible_candidate_is_an_error():
    with pytest.raises(ValueError, match="no admissible candidate"):
        aggregate_round(inputs([[1.0]], [[math.inf]]), AggregationSpec())


def test_baseline_rule_applies_to_deltas_from_theta():
    agg = aggregate_round(inputs([[1.0], [2.0], [100.0]], [[1.0, 1.0, 1.0]], theta=[1.0]),
                          AggregationSpec(rule="median"))
    assert agg.model.tolist() == [2.0]            # θ + median(0, 1, 99)
    assert agg.weights.tolist() == pytest.approx([1 / 3] * 3)


def test_loss_shape_must_match_candidates():
    with pytest.raises(ValueError, match="losses must have shape"):
        aggregate_round(inputs([[1.0], [2.0]], [[1.0, 1.0, 1.0]]), AggregationSpec())


def test_fixed_weights_never_exceed_scale():
    agg = aggregate_round(inputs([[1.0], [2.0], [3.0]], [[1.0, 1.0, 1.0]]), AggregationSpec())
    fixed = agg.fixed_weights
    assert sum(fixed) <= WEIGHT_SCALE and sum(fixed) > WEIGHT_SCALE - 1000


def test_matches_within_tolerance_only():
    a = torch.tensor([1.0, 2.0])
    assert matches(a + 1e-7, a, 1e-6)
    assert not matches(a + 1e-3, a, 1e-6)
    assert not matches(torch.tensor([float("nan"), 2.0]), a, 1.0)
