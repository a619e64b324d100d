"""Each baseline rule on small inputs whose result is worked out by hand."""

import math

import pytest
import torch

from poft.aggregation import CONTEXT, RULES, get_rule
from poft.aggregation.bulyan import bulyan, bulyan_select
from poft.aggregation.centered_clipping import centered_clipping
from poft.aggregation.fltrust import fltrust, fltrust_scores
from poft.aggregation.geometric_median import geometric_median
from poft.aggregation.krum import krum, krum_scores, multi_krum
from poft.aggregation.mean import mean
from poft.aggregation.median import median
from poft.aggregation.trimmed_mean import trimmed_mean


def t(rows):
    return torch.tensor(rows, dtype=torch.float32)


def close(a, b, tol=1e-12):
    return torch.allclose(a, torch.as_tensor(b, dtype=torch.float64), atol=tol, rtol=0)


def test_mean_is_the_coordinate_average_in_float64():
    out = mean(t([[1, 2], [3, 4], [5, 12]]))
    assert out.dtype == torch.float64
    assert close(out, [3, 6])


def test_median_ignores_one_extreme_value():
    assert close(median(t([[1], [2], [100]])), [2])


def test_median_of_an_even_count_averages_the_two_middle_values():
    assert close(median(t([[1, 0], [2, 0], [4, 1], [100, 1]])), [3, 0.5])


def test_trimmed_mean_drops_f_extremes_per_coordinate():
    # column 0 sorted: -50 1 2 3 100 -> keep 1 2 3; column 1: -9 0 0 1 7 -> keep 0 0 1
    x = t([[1, 0], [2, 7], [3, -9], [100, 0], [-50, 1]])
    assert close(trimmed_mean(x, f=1), [2, 1 / 3])


def test_trimmed_mean_with_f_zero_is_the_mean():
    x = t([[1, 2], [3, 4], [5, 12]])
    assert close(trimmed_mean(x, f=0), mean(x))


# Points on a line, with n=5, f=1 -> n-f-2 = 2 neighbours.
# scores: 0 -> 1+4=5 ; 1 -> 1+1=2 ; 2 -> 1+2.25=3.25 ; 3.5 -> 2.25+6.25=8.5 ; 100 -> huge
LINE = [[100.0], [3.5], [0.0], [2.0], [1.0]]


def test_krum_scores_sum_the_nearest_squared_distances():
    scores = krum_scores(torch.tensor(LINE, dtype=torch.float64), 2)
    assert close(scores[1:], [8.5, 5.0, 3.25, 2.0])
    assert float(scores[0]) == pytest.approx(96.5**2 + 98**2)


def test_krum_picks_the_most_clustered_update():
    assert close(krum(t(LINE), f=1), [1.0])


def test_multi_krum_averages_the_m_best_scored_updates():
    assert close(multi_krum(t(LINE), f=1, m=3), [(1 + 2 + 0) / 3])
    # default m = n - f = 4 keeps everything but the outlier
    assert close(multi_krum(t(LINE), f=1), [(1 + 2 + 0 + 3.5) / 4])
    assert close(multi_krum(t(LINE), f=1, m=1), krum(t(LINE), f=1))


def test_krum_breaks_ties_by_lower_row_index():
    x = t([[0.0], [1.0], [0.0], [1.0], [0.5]])  # rows 0 and 2 identical, 1 and 3 too
    k = krum(x, f=1)  # 2 neighbours: 0.5 -> 0.25+0.25 ; 0 -> 0+0.25 ; 1 -> 0+0.25
    assert close(k, [0.0])


def test_geometric_median_of_a_triangle_is_its_fermat_point():
    # all angles < 120 degrees: the Fermat point of an equilateral triangle is its centroid
    x = t([[0, 0], [1, 0], [0.5, math.sqrt(3) / 2]])
    out = geometric_median(x, nu=1e-9, max_iter=1000, tol=1e-12)
    assert close(out, [0.5, math.sqrt(3) / 6], tol=1e-6)


def test_geometric_median_in_one_dimension_is_the_median_and_resists_outliers():
    out = geometric_median(t([[0.0], [1.0], [1e6]]), nu=1e-9, max_iter=1000, tol=1e-15)
    assert close(out, [1.0], tol=1e-4)


def test_geometric_median_stops_early_when_converged():
    x = t([[0.0, 0.0], [2.0, 0.0]])  # mean (1, 0) is already optimal
    assert close(geometric_median(x, max_iter=5), [1.0, 0.0])


def test_centered_clipping_clips_each_offset_to_tau():
    # [3, 4] has norm 5 -> clipped to [0.6, 0.8]; [0, 0.5] has norm 0.5 < 1 -> kept
    out = centered_clipping(t([[3, 4], [0, 0.5]]), tau=1.0)
    assert close(out, [0.3, 0.65])


def test_centered_clipping_starts_from_the_given_center_and_iterates():
    x = t([[3, 4], [3, 4]])
    # center = the point itself: offsets are zero, nothing moves
    assert close(centered_clipping(x, tau=1.0, center=torch.tensor([3.0, 4.0])), [3, 4])
    # from zero, each iteration moves 1 (tau) along [0.6, 0.8] until within tau
    assert close(centered_clipping(x, tau=1.0, iterations=3), [1.8, 2.4])
    assert close(centered_clipping(x, tau=1.0, iterations=10), [3, 4], tol=1e-12)


def test_fltrust_gives_zero_trust_to_an_update_opposite_to_the_reference():
    ref = torch.tensor([1.0, 0.0])
    x = t([[2, 0], [-3, 0], [0, 5], [1, 1]])
    scores = fltrust_scores(x, ref)
    assert close(scores, [1.0, 0.0, 0.0, 1 / math.sqrt(2)])
    # rescaled to |ref| = 1: [1, 0] (trust 1) and [1, 1]/sqrt2 (trust 1/sqrt2)
    s = 1 / math.sqrt(2)
    expected = [(1 + s * s) / (1 + s), (s * s) / (1 + s)]
    assert close(fltrust(x, reference=ref), expected)


def test_fltrust_with_no_trusted_update_does_not_move():
    out = fltrust(t([[-1, 0], [0, 0]]), reference=torch.tensor([1.0, 0.0]))
    assert close(out, [0, 0])


def test_fltrust_rescales_to_the_reference_norm():
    out = fltrust(t([[100, 0]]), reference=torch.tensor([0.5, 0.0]))
    assert close(out, [0.5, 0])


def test_bulyan_selects_by_recursive_krum_then_averages_around_the_median():
    # n=7, f=1: theta=5 selected, beta=3 averaged. Worked out in bulyan.py's
    # terms: Krum picks 2, then 1 (tie with 3, lower position), 3, 0 (tie with
    # 4), 4; the outliers 100 and -100 are never selected.
    x = t([[0], [1], [2], [3], [4], [100], [-100]])
    assert bulyan_select(x.double(), 1) == [2, 1, 3, 0, 4]
    # median of {0..4} is 2; the 3 closest are 2, 1, 3 -> 2
    assert close(bulyan(x, f=1), [2.0])


def test_bulyan_is_coordinate_wise_after_selection():
    x = t([[0, 10], [1, 11], [2, 12], [3, 13], [4, 14], [100, -100], [-100, 100]])
    assert close(bulyan(x, f=1), [2.0, 12.0])


def test_rules_are_deterministic_and_float64():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(11, 20, generator=g)
    ref = torch.randn(20, generator=g)
    ctx = {"fltrust": {"reference": ref}, "softmax": {"losses": torch.rand(3, 11, generator=g), "temperature": 0.5},
           "robust_softmax": {"reports": torch.rand(3, 22, generator=g)}}
    for name, rule in RULES.items():
        a = rule(x, f=2, **ctx.get(name, {}))
        b = rule(x.clone(), f=2, **ctx.get(name, {}))
        assert a.dtype == torch.float64 and a.shape == (20,), name
        assert torch.equal(a, b), name


def test_registry_names_and_context():
    assert set(RULES) == {
        "mean", "median", "trimmed_mean", "krum", "multi_krum", "geometric_median",
        "centered_clipping", "fltrust", "bulyan", "softmax", "robust_softmax",
    }
    assert get_rule("krum") is RULES["krum"]
    assert CONTEXT["fltrust"] == {"reference": True}
    assert CONTEXT["centered_clipping"] == {"center": False}
    with pytest.raises(KeyError, match="unknown aggregation rule 'krun'.*krum"):
        get_rule("krun")


def test_the_package_exposes_the_softmax_module_as_documented():
    from poft import aggregation

    assert callable(aggregation.softmax.softmax_weights)
    assert callable(aggregation.softmax.softmax_aggregate)
