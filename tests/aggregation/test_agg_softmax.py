"""SABFL softmax aggregation: median over validators, softmax(-L/T), θ + Σ w (θ_i − θ)."""

import math

import pytest
import torch

from poft.aggregation import get_rule
from poft.aggregation.softmax import (
    approximate_population_loss,
    softmax_aggregate,
    softmax_rule,
    softmax_weights,
)


def f64(x):
    return torch.tensor(x, dtype=torch.float64)


def test_population_loss_is_the_median_over_validators():
    losses = f64([[1.0, 5.0], [2.0, 100.0], [3.0, 7.0]])
    assert torch.equal(approximate_population_loss(losses), f64([2.0, 7.0]))


def test_population_loss_averages_the_two_middle_reports_for_an_even_count():
    assert torch.equal(approximate_population_loss(f64([[1.0], [3.0]])), f64([2.0]))


def test_one_nan_report_counts_as_inf_and_cannot_move_the_median_out_of_range():
    losses = f64([[1.0, 5.0], [2.0, 100.0], [3.0, math.nan]])
    assert torch.equal(approximate_population_loss(losses), f64([2.0, 100.0]))


def test_a_majority_of_non_finite_reports_makes_the_loss_infinite():
    losses = f64([[1.0, math.nan], [1.0, math.inf], [1.0, 2.0]])
    assert approximate_population_loss(losses).tolist() == [1.0, math.inf]
    # (-inf + inf) / 2 would be NaN; the contract is finite or ±inf
    assert approximate_population_loss(f64([[-math.inf], [math.inf]])).tolist() == [math.inf]


def test_equal_losses_give_uniform_weights():
    w = softmax_weights(f64([[0.7, 0.7, 0.7, 0.7]]), 0.3)
    assert w.dtype == torch.float64
    assert torch.allclose(w, torch.full((4,), 0.25, dtype=torch.float64), atol=1e-15)


def test_weights_follow_exp_of_minus_loss_over_temperature():
    w = softmax_weights(f64([1.0, 2.0]), 1.0)
    e = math.exp(-1.0)
    assert w.tolist() == pytest.approx([1 / (1 + e), e / (1 + e)], abs=1e-15)
    # temperature 2: exp(-1/2) ratio
    w2 = softmax_weights(f64([1.0, 2.0]), 2.0)
    assert float(w2[1] / w2[0]) == pytest.approx(math.exp(-0.5), rel=1e-14)


def test_one_huge_loss_gets_almost_no_weight():
    w = softmax_weights(f64([0.5, 0.6, 60.0]), 1.0)
    assert float(w[2]) < 1e-25
    assert float(w.sum()) == pytest.approx(1.0, abs=1e-15)


def test_non_finite_losses_get_exactly_zero_weight():
    w = softmax_weights(f64([1.0, math.inf, math.nan, -math.inf]), 1.0)
    assert w.tolist() == [1.0, 0.0, 0.0, 0.0]


def test_large_losses_do_not_underflow_thanks_to_the_min_shift():
    # exp(-1000) underflows to 0 without subtracting the minimum first
    w = softmax_weights(f64([1000.0, 1001.0]), 1.0)
    assert torch.allclose(w, softmax_weights(f64([0.0, 1.0]), 1.0), atol=1e-15)


def test_high_temperature_tends_to_uniform_and_low_to_argmin():
    assert torch.allclose(softmax_weights(f64([1.0, 2.0, 3.0]), 1e9), torch.full((3,), 1 / 3, dtype=torch.float64))
    assert softmax_weights(f64([1.0, 2.0, 3.0]), 1e-3).tolist() == [1.0, 0.0, 0.0]


def test_softmax_aggregate_moves_theta_by_the_weighted_deltas():
    theta = torch.tensor([1.0, 1.0])
    cands = torch.tensor([[3.0, 1.0], [1.0, 5.0]])
    new, w = softmax_aggregate(theta, cands, f64([1.0, 2.0]), 1.0)
    e = math.exp(-1.0)
    w0, w1 = 1 / (1 + e), e / (1 + e)
    assert new.dtype == torch.float64 and w.dtype == torch.float64
    assert new.tolist() == pytest.approx([1 + 2 * w0, 1 + 4 * w1], abs=1e-15)


def test_softmax_aggregate_with_validator_matrix_and_equal_losses_is_fedavg():
    theta = torch.zeros(2)
    cands = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    new, w = softmax_aggregate(theta, cands, f64([[0.3, 0.3], [0.9, 0.9], [0.1, 0.1]]), 0.5)
    assert torch.allclose(new, f64([0.5, 0.5]), atol=1e-15)


def test_softmax_aggregate_is_the_fixed_order_float64_sum():
    g = torch.Generator().manual_seed(3)
    theta = torch.randn(50, generator=g)
    cands = theta + 0.01 * torch.randn(7, 50, generator=g)
    losses = torch.rand(4, 7, generator=g)
    new, w = softmax_aggregate(theta, cands, losses, 0.2)
    t64 = theta.double()
    acc = torch.zeros(50, dtype=torch.float64)
    for i in range(7):
        acc = acc + (cands[i].double() - t64) * float(w[i])
    assert torch.equal(new, t64 + acc)
    new2, w2 = softmax_aggregate(theta.clone(), cands.clone(), losses.clone(), 0.2)
    assert torch.equal(new, new2) and torch.equal(w, w2)


def test_a_nan_candidate_with_zero_weight_is_skipped():
    theta = torch.zeros(2)
    cands = torch.tensor([[1.0, 2.0], [math.nan, 0.0]])
    new, w = softmax_aggregate(theta, cands, f64([[0.5, math.nan]]), 1.0)
    assert w.tolist() == [1.0, 0.0]
    assert new.tolist() == [1.0, 2.0]


def test_a_nan_candidate_with_nonzero_weight_is_an_error():
    with pytest.raises(ValueError, match="candidate 1 has weight .* NaN or Inf"):
        softmax_aggregate(torch.zeros(2), torch.tensor([[1.0, 2.0], [math.nan, 0.0]]), f64([0.5, 0.5]), 1.0)


def test_softmax_rule_is_the_weighted_sum_of_deltas():
    out = softmax_rule(torch.tensor([[1.0, 0.0], [0.0, 2.0]]), f64([0.25, 0.75]))
    assert out.tolist() == [0.25, 1.5]


def test_registry_softmax_equals_rule_of_weights():
    d = torch.tensor([[1.0, 0.0], [0.0, 2.0], [4.0, 4.0]])
    losses = f64([[0.1, 0.2, 0.3], [0.2, 0.1, 9.0]])
    out = get_rule("softmax")(d, losses=losses, temperature=0.5)
    assert torch.equal(out, softmax_rule(d, softmax_weights(losses, 0.5)))


@pytest.mark.parametrize("temperature", [0, -1.0, math.inf, math.nan])
def test_temperature_must_be_finite_and_positive(temperature):
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        softmax_weights(f64([1.0]), temperature)


def test_all_non_finite_losses_are_an_error():
    with pytest.raises(ValueError, match="no candidate has a finite approximated loss"):
        softmax_weights(f64([[math.nan, math.inf]]), 1.0)


def test_losses_must_match_the_candidates():
    with pytest.raises(ValueError, match="losses have 3 columns but there are 2 candidates"):
        softmax_aggregate(torch.zeros(2), torch.zeros(2, 2), f64([[1.0, 2.0, 3.0]]), 1.0)
    with pytest.raises(ValueError, match="losses have 1 columns but deltas have 2 rows"):
        get_rule("softmax")(torch.zeros(2, 2), losses=f64([1.0]), temperature=1.0)


def test_shapes_are_checked():
    with pytest.raises(ValueError, match=r"losses must have shape \(v, n\)"):
        approximate_population_loss(f64([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"global_vec must be a vector of shape \(3,\)"):
        softmax_aggregate(torch.zeros(2), torch.zeros(2, 3), f64([1.0, 2.0]), 1.0)
    with pytest.raises(ValueError, match="candidates must be a non-empty 2-D"):
        softmax_aggregate(torch.zeros(3), torch.zeros(3), f64([1.0]), 1.0)
    with pytest.raises(ValueError, match=r"weights must have shape \(2,\)"):
        softmax_rule(torch.zeros(2, 3), f64([1.0]))
    with pytest.raises(ValueError, match="weights must be finite and >= 0"):
        softmax_rule(torch.zeros(2, 3), f64([1.5, -0.5]))
