"""Cross-check against ByzFL 0.0.11 (``byzfl.aggregators.aggregators``).

Same random matrices (float32, n in 10..15, d = 50, several seeds) through our
rule and ByzFL's. ByzFL computes in float32, we in float64, hence the
tolerances. Parameter mapping, read from ByzFL 0.0.11's source:

* mean                      <-> ``Average()``
* median                    <-> ``Median()`` (``torch.quantile(q=0.5)``: averaged median)
* trimmed_mean(f)           <-> ``TrMean(f)`` (same count trimmed at each end)
* krum(f)                   <-> ``Krum(f + 1)``: ByzFL scores by the mean of the
  ``n − f_b − 1`` nearest squared distances; Blanchard's ``n − f − 2``
  neighbours means ``f_b = f + 1`` (mean vs sum does not change the argmin).
  Both then require ``n > 2f + 2``.
* multi_krum(f, m = n − f − 1) <-> ``MultiKrum(f + 1)``: same scores, and
  ByzFL averages the ``n − f_b`` best.
* geometric_median(nu, max_iter=T, tol=0, init="zero") <-> ``GeometricMedian(nu, T)``
  (ByzFL starts from zero and runs exactly ``T`` smoothed-Weiszfeld steps).
* centered_clipping(tau, iterations=L, center=m) <-> ``CenteredClipping(L=L, tau=tau)``
  with the center set through its ``.m`` attribute (its constructor's type
  check rejects every non-None ``m``; ``.m`` is the state it carries between
  calls, so setting it is its own mechanism).
"""


import pytest
import torch

from byzfl_loader import load as load_byzfl  # tests/ is on pytest's pythonpath
from poft.aggregation.centered_clipping import centered_clipping
from poft.aggregation.geometric_median import geometric_median
from poft.aggregation.krum import krum, multi_krum
from poft.aggregation.mean import mean
from poft.aggregation.median import median
from poft.aggregation.trimmed_mean import trimmed_mean

SEEDS = [0, 1, 2, 3, 4]
SIZES = [10, 11, 13, 15]
D = 50


@pytest.fixture(scope="module")
def byz():
    return load_byzfl("aggregators.aggregators")


def matrix(seed, n):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, D, generator=g)
    # a few far-off rows so the robust rules have something to reject
    x[: n // 4] = 5.0 * torch.randn(n // 4, D, generator=g) + 3.0
    return x


def cases():
    return [(s, n) for s in SEEDS for n in SIZES]


def same(ours, theirs, tol=1e-5):
    theirs = torch.as_tensor(theirs, dtype=torch.float64)
    assert ours.shape == theirs.shape
    assert torch.allclose(ours, theirs, rtol=tol, atol=tol), float((ours - theirs).abs().max())


@pytest.mark.parametrize("seed,n", cases())
def test_mean_median_trimmed_mean(byz, seed, n):
    x = matrix(seed, n)
    same(mean(x), byz.Average()(x))
    same(median(x), byz.Median()(x))
    for f in (0, 1, (n - 1) // 2):
        same(trimmed_mean(x, f=f), byz.TrMean(f=f)(x))


@pytest.mark.parametrize("seed,n", cases())
def test_krum_and_multi_krum(byz, seed, n):
    x = matrix(seed, n)
    for f in range(0, (n - 3) // 2 + 1):
        f_byzfl = f + 1
        # Krum returns one of the rows: the choice must be identical
        assert torch.equal(krum(x, f=f), byz.Krum(f=f_byzfl)(x).double())
        same(multi_krum(x, f=f, m=n - f - 1), byz.MultiKrum(f=f_byzfl)(x))


@pytest.mark.parametrize("seed,n", cases())
@pytest.mark.parametrize("nu,T", [(0.1, 3), (1e-3, 40)])
def test_geometric_median(byz, seed, n, nu, T):
    x = matrix(seed, n)
    ours = geometric_median(x, nu=nu, max_iter=T, tol=0.0, init="zero")
    same(ours, byz.GeometricMedian(nu=nu, T=T)(x), tol=1e-4)


@pytest.mark.parametrize("seed,n", cases())
@pytest.mark.parametrize("tau,L", [(1.0, 1), (5.0, 3), (100.0, 1)])
def test_centered_clipping(byz, seed, n, tau, L):
    x = matrix(seed, n)
    same(centered_clipping(x, tau=tau, iterations=L), byz.CenteredClipping(L=L, tau=tau)(x))
    center = torch.randn(D, generator=torch.Generator().manual_seed(100 + seed))
    cc = byz.CenteredClipping(L=L, tau=tau)
    cc.m = center.clone()
    same(centered_clipping(x, tau=tau, iterations=L, center=center), cc(x))
