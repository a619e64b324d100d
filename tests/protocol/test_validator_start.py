"""Where a robust_softmax validator trains its reference from: where the round's honest
workers start (`poft.protocol.validator.training_start`)."""

import math

import torch

from poft.protocol.validator import training_start


def test_no_import_policy_or_no_import_starts_from_theta():
    theta, cands = torch.zeros(3), torch.ones(2, 3)
    assert training_start(theta, cands, [False, True], None) is theta
    assert training_start(theta, cands, [False, False], 0.5) is theta


def test_merge_and_init_blend_with_the_last_import_as_the_workers_do():
    theta = torch.zeros(3)
    cands = torch.tensor([[9.0, 9, 9], [2.0, 4, 6], [4.0, 8, 12]])
    assert training_start(theta, cands, [False, True, True], 0.5).tolist() == [2.0, 4.0, 6.0]
    assert training_start(theta, cands, [False, True, False], 1.0).tolist() == [2.0, 4.0, 6.0]


def test_a_refused_import_leaves_theta():
    theta = torch.zeros(2)
    cands = torch.tensor([[1.0, 1.0], [math.nan, math.nan]])
    assert training_start(theta, cands, [False, True], 0.5) is theta
