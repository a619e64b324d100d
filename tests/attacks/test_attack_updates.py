"""Update attacks on small honest matrices whose result is worked out by hand."""

import math
from statistics import NormalDist

import pytest
import torch

from poft.attacks import CONTEXT, UPDATE_ATTACKS, get_update_attack
from poft.attacks.alie import alie, alie_z
from poft.attacks.gaussian import gaussian
from poft.attacks.ipm import ipm
from poft.attacks.scaling import scaling
from poft.attacks.sign_flip import sign_flip

H = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # mean [2, 3]


def test_sign_flip_sends_minus_the_honest_mean():
    out = sign_flip(H)
    assert out.dtype == torch.float32
    assert out.tolist() == [-2.0, -3.0]
    assert sign_flip(H, scale=2.0).tolist() == [-4.0, -6.0]


def test_ipm_sends_minus_epsilon_times_the_honest_mean():
    assert ipm(H, epsilon=0.5).tolist() == [-1.0, -1.5]
    assert ipm(H.double()).dtype == torch.float64


def test_scaling_boosts_the_attackers_own_delta():
    assert scaling(H, own_delta=torch.tensor([1.0, -2.0]), factor=3.0).tolist() == [3.0, -6.0]


def test_alie_is_mean_minus_z_unbiased_std():
    h = torch.tensor([[0.0, 1.0], [2.0, 1.0]])  # mean [1, 1], std (h-1) [sqrt2, 0]
    out = alie(h, z=1.0)
    assert out.tolist() == pytest.approx([1 - math.sqrt(2), 1.0])


def test_alie_z_follows_the_paper():
    # n=10, f=2: s = floor(10/2 + 1) - 2 = 4, z = Phi^-1((10 - 4) / 10) = Phi^-1(0.6)
    assert alie_z(10, 2) == pytest.approx(NormalDist().inv_cdf(0.6))
    assert alie_z(10, 2) == pytest.approx(0.2533471, abs=1e-6)
    # n=50, f=12: s = 26 - 12 = 14, z = Phi^-1(36/50)
    assert alie_z(50, 12) == pytest.approx(NormalDist().inv_cdf(0.72))
    h = torch.tensor([[0.0], [2.0], [4.0]])  # mean 2, std 2
    assert alie(h, n=10, f=2).tolist() == pytest.approx([2 - 2 * alie_z(10, 2)], rel=1e-6)


def test_gaussian_is_reproducible_from_the_generator():
    a = gaussian(torch.zeros(3, 1000), mu=1.0, sigma=0.5, generator=torch.Generator().manual_seed(7))
    b = gaussian(torch.zeros(3, 1000), mu=1.0, sigma=0.5, generator=torch.Generator().manual_seed(7))
    c = gaussian(torch.zeros(3, 1000), mu=1.0, sigma=0.5, generator=torch.Generator().manual_seed(8))
    assert a.shape == (1000,) and torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.mean()) == pytest.approx(1.0, abs=0.1)
    assert float(a.std()) == pytest.approx(0.5, abs=0.05)


def test_gaussian_with_zero_sigma_is_the_constant_mu():
    assert gaussian(torch.zeros(1, 4), mu=-2.0, sigma=0.0).tolist() == [-2.0] * 4


def test_registry():
    assert set(UPDATE_ATTACKS) == {"sign_flip", "gaussian", "scaling", "alie", "ipm",
                                  "min_max", "min_sum", "gate_edge", "score_match"}
    assert get_update_attack("alie") is alie
    assert CONTEXT["scaling"] == {"own_delta": True}
    with pytest.raises(KeyError, match="unknown update attack 'signflip'.*sign_flip"):
        get_update_attack("signflip")


def test_every_update_attack_returns_one_vector_in_the_honest_dtype():
    h = torch.randn(5, 8, generator=torch.Generator().manual_seed(0))
    ctx = {"scaling": {"own_delta": h[0]}, "alie": {"n": 7, "f": 2}, "gaussian": {"generator": torch.Generator()}}
    for name, attack in UPDATE_ATTACKS.items():
        out = attack(h, **ctx.get(name, {}))
        assert out.shape == (8,) and out.dtype == torch.float32, name


# --- validation -------------------------------------------------------------


def test_honest_deltas_must_be_a_finite_matrix():
    with pytest.raises(ValueError, match=r"2-D \(h, d\) matrix"):
        sign_flip(torch.zeros(3))
    with pytest.raises(ValueError, match="at least 1 honest update"):
        ipm(torch.zeros(0, 3))
    with pytest.raises(ValueError, match="NaN or Inf"):
        sign_flip(torch.tensor([[math.nan, 0.0]]))


def test_parameter_errors():
    with pytest.raises(ValueError, match="scale must be > 0"):
        sign_flip(H, scale=0.0)
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        ipm(H, epsilon=-1.0)
    with pytest.raises(ValueError, match="sigma must be >= 0"):
        gaussian(H, sigma=-1.0)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        gaussian(H, generator=3)
    with pytest.raises(TypeError, match="own_delta"):
        scaling(H)
    with pytest.raises(ValueError, match=r"own_delta must have shape \(2,\)"):
        scaling(H, own_delta=torch.zeros(3))
    with pytest.raises(ValueError, match="alie needs z=, or n= and f="):
        alie(H)
    with pytest.raises(ValueError, match="either z= or"):
        alie(H, z=1.0, n=10, f=2)
    with pytest.raises(ValueError, match="at least 2 honest"):
        alie(H[:1], z=1.0)
    with pytest.raises(ValueError, match="f < n"):
        alie_z(3, 3)
    # n=1, f=0: s = 1, (n - s)/n = 0 -> Phi^-1(0) undefined
    with pytest.raises(ValueError, match=r"undefined for n=1, f=0"):
        alie_z(1, 0)
