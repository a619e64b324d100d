"""finite_rows: what colluding attackers can build on when some honest updates diverged."""

import math

import torch

from poft.attacks import finite_rows


def test_non_finite_rows_are_dropped_and_none_means_nothing_left():
    deltas = torch.tensor([[1.0, 2.0], [math.nan, 0.0], [3.0, math.inf], [4.0, 5.0]])
    assert torch.equal(finite_rows(deltas), torch.tensor([[1.0, 2.0], [4.0, 5.0]]))
    assert finite_rows(deltas[1:3]) is None
    assert finite_rows(None) is None
