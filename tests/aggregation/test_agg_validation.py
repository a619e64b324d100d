"""Parameter and input validation: each error says what was wrong and what is allowed."""

import math

import pytest
import torch

from poft.aggregation import RULES
from poft.aggregation.bulyan import bulyan
from poft.aggregation.centered_clipping import centered_clipping
from poft.aggregation.fltrust import fltrust
from poft.aggregation.geometric_median import geometric_median
from poft.aggregation.krum import krum, multi_krum
from poft.aggregation.mean import mean
from poft.aggregation.trimmed_mean import trimmed_mean

X = torch.arange(12.0).reshape(6, 2)


def test_krum_needs_n_greater_than_2f_plus_2():
    krum(torch.zeros(5, 2), f=1)  # 5 > 4: fine
    with pytest.raises(ValueError, match=r"krum needs n > 2f \+ 2.*got n=4, f=1.*allows f <= 0"):
        krum(torch.zeros(4, 2), f=1)
    with pytest.raises(ValueError, match="no f at all"):
        krum(torch.zeros(2, 2), f=0)


def test_multi_krum_checks_m():
    with pytest.raises(ValueError, match="m must be an integer >= 1; got 0"):
        multi_krum(X, f=1, m=0)
    with pytest.raises(ValueError, match="multi_krum needs 1 <= m <= n; got m=7, n=6"):
        multi_krum(X, f=1, m=7)


def test_trimmed_mean_needs_n_greater_than_2f():
    with pytest.raises(ValueError, match=r"trimmed_mean needs n > 2f.*got n=6, f=3.*allows f <= 2"):
        trimmed_mean(X, f=3)


def test_bulyan_needs_n_at_least_4f_plus_3():
    bulyan(torch.randn(7, 2), f=1)
    with pytest.raises(ValueError, match=r"bulyan needs n >= 4f \+ 3.*got n=6, f=1"):
        bulyan(X, f=1)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "1", None])
def test_f_must_be_a_non_negative_integer(bad):
    with pytest.raises((TypeError, ValueError), match="f must be an integer >= 0"):
        trimmed_mean(X, f=bad)


def test_deltas_must_be_a_finite_matrix():
    with pytest.raises(ValueError, match=r"2-D \(n, d\) matrix.*got shape \(3,\)"):
        mean(torch.zeros(3))
    with pytest.raises(ValueError, match="at least one row and one column"):
        mean(torch.zeros(0, 3))
    bad = torch.zeros(4, 2)
    bad[1, 0] = math.nan
    bad[3, 1] = math.inf
    for name, rule in RULES.items():
        if name in ("softmax", "robust_softmax"):
            # softmax skips non-finite rows of weight 0 (tested in test_agg_softmax);
            # robust_softmax takes the validators' reports too (test_agg_robust_softmax)
            continue
        kwargs = {"reference": torch.ones(2)} if name == "fltrust" else {}
        with pytest.raises(ValueError, match=r"rows \[1, 3\] contain NaN or Inf"):
            rule(bad, f=0, **kwargs)


def test_geometric_median_parameters():
    with pytest.raises(ValueError, match="nu must be a finite number > 0"):
        geometric_median(X, nu=0.0)
    with pytest.raises(ValueError, match="max_iter must be an integer >= 0"):
        geometric_median(X, max_iter=-1)
    with pytest.raises(ValueError, match="tol must be a finite number >= 0"):
        geometric_median(X, tol=-1e-3)
    with pytest.raises(ValueError, match=r"init must be one of \('mean', 'zero'\)"):
        geometric_median(X, init="median")


def test_centered_clipping_parameters():
    with pytest.raises(ValueError, match="tau must be a finite number > 0"):
        centered_clipping(X, tau=0.0)
    with pytest.raises(ValueError, match="iterations must be an integer >= 1"):
        centered_clipping(X, iterations=0)
    with pytest.raises(ValueError, match=r"center must be a vector of shape \(2,\)"):
        centered_clipping(X, center=torch.zeros(3))


def test_fltrust_needs_a_usable_reference():
    with pytest.raises(TypeError, match="reference"):
        fltrust(X)  # missing keyword
    with pytest.raises(ValueError, match="fltrust needs reference="):
        fltrust(X, reference=None)
    with pytest.raises(ValueError, match="reference has norm 0"):
        fltrust(X, reference=torch.zeros(2))
    with pytest.raises(ValueError, match=r"reference must be a vector of shape \(2,\)"):
        fltrust(X, reference=torch.ones(5))
