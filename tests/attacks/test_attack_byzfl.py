"""Cross-check against ByzFL 0.0.11 (``byzfl.attacks.attacks``) on the same honest updates.

Parameter mapping (from ByzFL 0.0.11's source):

* sign_flip(scale=1)     <-> ``SignFlipping()``                 (−mean)
* ipm(epsilon=e)         <-> ``InnerProductManipulation(tau=e)`` (−e·mean)
* alie(z=z)              <-> ``ALittleIsEnough(tau=-z)``  (ByzFL sends mean + tau·std,
  std with ``correction=1``; ALIE's paper form is mean − z·std)
* gaussian(mu, sigma, generator=torch.Generator().manual_seed(s))
  <-> ``Gaussian(mu, sigma)`` after ``torch.manual_seed(s)``: ByzFL draws
  ``torch.randn(d) * sigma + mu`` from the global RNG; a fresh CPU generator
  seeded with ``s`` yields the same float32 stream, so the vectors agree (up
  to the float32 vs float64 arithmetic). The global RNG is restored after.
"""


import pytest
import torch

from byzfl_loader import load as load_byzfl  # tests/ is on pytest's pythonpath
from poft.attacks.alie import alie
from poft.attacks.gaussian import gaussian
from poft.attacks.ipm import ipm
from poft.attacks.sign_flip import sign_flip


@pytest.fixture(scope="module")
def byz():
    return load_byzfl("attacks.attacks")


CASES = [(s, h) for s in range(4) for h in (8, 12)]
D = 50


def honest(seed, h):
    g = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(h, D, generator=g) + torch.randn(D, generator=g)


def same(ours, theirs, tol=1e-6):
    theirs = torch.as_tensor(theirs).to(ours.dtype)
    assert ours.shape == theirs.shape
    assert torch.allclose(ours, theirs, rtol=tol, atol=tol), float((ours - theirs).abs().max())


@pytest.mark.parametrize("seed,h", CASES)
def test_sign_flip_and_ipm(byz, seed, h):
    x = honest(seed, h)
    same(sign_flip(x), byz.SignFlipping()(x))
    for eps in (0.1, 2.0, 100.0):
        same(ipm(x, epsilon=eps), byz.InnerProductManipulation(tau=eps)(x), tol=1e-5)


@pytest.mark.parametrize("seed,h", CASES)
def test_alie(byz, seed, h):
    x = honest(seed, h)
    for z in (0.25, 1.0, 1.5, -1.5):
        same(alie(x, z=z), byz.ALittleIsEnough(tau=-z)(x))


@pytest.mark.parametrize("seed,h", CASES)
def test_gaussian(byz, seed, h):
    x = honest(seed, h)
    for mu, sigma in ((0.0, 1.0), (0.5, 200.0)):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1000 + seed)
            theirs = byz.Gaussian(mu=mu, sigma=sigma)(x)
        ours = gaussian(x, mu=mu, sigma=sigma, generator=torch.Generator().manual_seed(1000 + seed))
        same(ours, theirs, tol=1e-5)
