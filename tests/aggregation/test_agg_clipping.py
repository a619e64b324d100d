"""poft.aggregation.clipping: the radius, capped by every admissible row's median."""

import math

import pytest
import torch

from poft.aggregation.clipping import capped_clip_factors, clip_factors


def test_the_radius_is_the_passing_median_unless_over_the_margin():
    # Norms 1, 1, 1, 40, 50, 60; the last three pass with one of the first.
    x = torch.diag(torch.tensor([1.0, 1.0, 1.0, 40.0, 50.0, 60.0], dtype=torch.float64))
    passing = [True, False, False, True, True, True]
    _, uncapped = clip_factors(x, torch.tensor(passing))
    assert uncapped == 45.0
    factors, c = capped_clip_factors(x, passing)
    assert c == pytest.approx(2 * 20.5)    # twice the median of all six norms
    assert factors.tolist() == pytest.approx([1.0, 1.0, 1.0, 1.0, 41 / 50, 41 / 60])
    # Under the margin the cap changes nothing.
    _, loose = capped_clip_factors(x, passing, margin=3.0)
    assert loose == uncapped


def test_non_finite_rows_and_empty_pools_fall_back():
    x = torch.tensor([[1.0, 0.0], [math.nan, 0.0], [0.0, 3.0]], dtype=torch.float64)
    admissible = torch.tensor([True, False, True])
    # Nothing finite passes: the median over the admissible rows, as clip_factors.
    factors, c = capped_clip_factors(x, [False, True, False], admissible)
    assert c == 2.0 and factors[2].item() == pytest.approx(2 / 3)
    assert capped_clip_factors(x, [True, False, True], admissible)[1] == 2.0
