"""Min-Max, Min-Sum (Shejwalkar & Houmansadr 2021) and the two attacks aimed at
robust SABFL (gate-edge, score-match): their defining constraints, checked on
random honest matrices, and a naive re-implementation of the gamma search.

ByzFL 0.0.11 has none of these four attacks (its attacks module: SignFlipping,
InnerProductManipulation, Optimal_InnerProductManipulation, ALittleIsEnough,
Optimal_ALittleIsEnough, Mimic, Inf, Gaussian, LabelFlipping), so there is no
cross-check against it; the checks below pin the papers' formulas instead.
"""

import math

import pytest
import torch

from poft.attacks import UPDATE_ATTACKS, get_update_attack
from poft.attacks._agr import direction, search_gamma
from poft.attacks.gate_edge import gate_edge
from poft.attacks.min_max import min_max
from poft.attacks.min_sum import min_sum
from poft.attacks.score_match import score_match


def honest(seed, h=12, d=40, spread=1.0):
    g = torch.Generator().manual_seed(seed)
    return (spread * torch.randn(h, d, generator=g) + 0.5 * torch.randn(d, generator=g)).double()


def sq(x, v):
    return ((x - v) ** 2).sum(dim=1)


def naive_gamma(ok, gamma0, tol):
    # The authors' loop, written out (lamda, lamda_fail, lamda_succ).
    lamda, fail, succ = gamma0, gamma0, 0.0
    while abs(succ - lamda) > tol:
        if ok(lamda):
            succ = lamda
            lamda = lamda + fail / 2
        else:
            lamda = lamda - fail / 2
        fail = fail / 2
    return succ


def test_registered():
    for name in ("min_max", "min_sum", "gate_edge", "score_match"):
        assert get_update_attack(name) is UPDATE_ATTACKS[name]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("perturbation", ["unit", "std", "sign"])
def test_min_max_is_the_largest_gamma_inside_the_honest_diameter(seed, perturbation):
    x = honest(seed)
    v = min_max(x, perturbation=perturbation)
    bound = float(torch.cdist(x, x).max() ** 2)
    assert float(sq(x, v).max()) <= bound * (1 + 1e-12)
    mu, p = x.mean(0), direction(x, perturbation)
    gamma = naive_gamma(lambda g: float(sq(x, mu - g * p).max()) <= bound, 30.0, 1e-5)
    assert gamma > 0
    assert torch.allclose(v, mu - gamma * p)
    # tight: a slightly larger gamma breaks the constraint
    assert float(sq(x, mu - (gamma + 1e-3) * p).max()) > bound


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("bound", ["max", "min"])
def test_min_sum_is_the_largest_gamma_under_the_honest_sum(seed, bound):
    x = honest(seed)
    v = min_sum(x, bound=bound)
    sums = (torch.cdist(x, x) ** 2).sum(dim=1)
    limit = float(sums.max() if bound == "max" else sums.min())
    assert float(sq(x, v).sum()) <= limit * (1 + 1e-12)
    mu, p = x.mean(0), direction(x, "unit")
    assert float(sq(x, mu - (float((mu - v).norm()) + 1e-3) * p).sum()) > limit


def test_min_sum_min_bound_is_stealthier_than_max():
    x = honest(0)
    mu = x.mean(0)
    assert float((min_sum(x, bound="min") - mu).norm()) < float((min_sum(x) - mu).norm())


def test_search_gamma_matches_the_authors_loop_and_saturates():
    for threshold in (0.3, 7.7, 59.0):
        ok = lambda g, threshold=threshold: g <= threshold  # noqa: E731
        assert search_gamma(ok, 30.0, 1e-5) == naive_gamma(ok, 30.0, 1e-5)
    assert search_gamma(lambda g: g <= 0.3, 30.0, 1e-5) == pytest.approx(0.3, abs=1e-4)
    assert search_gamma(lambda g: False, 30.0, 1e-5) == 0.0
    assert search_gamma(lambda g: True, 30.0, 1e-5) == pytest.approx(60.0, abs=1e-4)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("harm", ["std", "sign"])
def test_gate_edge_has_cosine_kappa_and_the_median_norm(seed, harm):
    x = honest(seed)
    for kappa in (0.05, 0.1, 0.5):
        v = gate_edge(x, kappa=kappa, harm=harm)
        mu = x.mean(0)
        assert float(v @ mu / (v.norm() * mu.norm())) == pytest.approx(kappa, abs=1e-9)
        assert float(v.norm()) == pytest.approx(float(x.norm(dim=1).median()), rel=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_score_match_projects_like_the_median_honest_update(seed):
    x = honest(seed)
    v = score_match(x)
    mu = x.mean(0)
    mu_hat = mu / mu.norm()
    norms = x.norm(dim=1)
    c = float(norms.median())
    clipped = x * torch.clamp(c / norms, max=1.0)[:, None]
    assert float(v @ mu_hat) == pytest.approx(float((clipped @ mu_hat).median()), rel=1e-9)
    assert float(v.norm()) == pytest.approx(c, rel=1e-9)
    # the rest is orthogonal to mu and opposite to the std direction
    rest = v - (v @ mu_hat) * mu_hat
    assert float(rest @ torch.std(x, dim=0)) < 0


def test_dtype_and_errors():
    x = honest(0).float()
    for name in ("min_max", "min_sum", "gate_edge", "score_match"):
        out = UPDATE_ATTACKS[name](x)
        assert out.dtype == torch.float32 and out.shape == (x.shape[1],)
        assert bool(torch.isfinite(out).all())
    with pytest.raises(ValueError):
        min_max(x, perturbation="nope")
    with pytest.raises(ValueError):
        gate_edge(x, kappa=1.5)
    with pytest.raises(ValueError):
        gate_edge(x, harm="nope")
    with pytest.raises(ValueError):
        min_sum(x, bound="median")
    with pytest.raises(ValueError):
        min_max(torch.tensor([[math.nan, 1.0]]))


def test_score_match_jitter_gives_each_colluder_its_own_copy_at_the_same_norm():
    x = honest(7, d=4000)
    v = score_match(x)
    assert torch.equal(score_match(x, jitter=0.0, generator=torch.Generator().manual_seed(1)), v)
    a = score_match(x, jitter=0.5, generator=torch.Generator().manual_seed(1))
    b = score_match(x, jitter=0.5, generator=torch.Generator().manual_seed(2))
    again = score_match(x, jitter=0.5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, again)                                 # reproducible per colluder
    cos = lambda p, q: float(p @ q / (p.norm() * q.norm()))
    assert float(a.norm()) == pytest.approx(float(v.norm()))
    assert cos(a, v) == pytest.approx(1 / math.sqrt(1.25))       # 1/√(1 + j²)
    assert cos(a, b) == pytest.approx(1 / 1.25, abs=0.03)        # 1/(1 + j²), d large
    with pytest.raises(ValueError, match="jitter"):
        score_match(x, jitter=-0.1)
