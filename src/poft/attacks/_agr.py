r"""Shared parts of the AGR-agnostic attacks of Shejwalkar & Houmansadr 2021
("Manipulating the Byzantine: Optimizing Model Poisoning Attacks and Defenses
for Federated Learning", NDSS): the perturbation directions and the search
for the largest scaling ``γ`` that still meets a distance constraint.

The colluders send ``μ − γ p`` (``μ`` the honest mean). ``p``:

* ``"unit"``: ``μ / ‖μ‖`` (the paper's *inverse unit vector*; its code's default);
* ``"std"``: the coordinate-wise (unbiased, ``torch.std``) standard deviation
  of the honest updates (*inverse standard deviation*);
* ``"sign"``: ``sign(μ)`` (*inverse sign*).

``γ`` is found as in the authors' code: start at ``γ_0``, then ``step = γ_0``
and ``γ ← γ ± step/2``, ``step ← step/2`` (up when the constraint holds, down
otherwise) until two successive values differ by at most ``tol``; the result is
the last ``γ`` that met the constraint (0 when none did).
"""

from __future__ import annotations

from typing import Callable

import torch

from poft.attacks._checks import as_honest, check_real

DIRECTIONS = ("unit", "std", "sign")


def direction(x: torch.Tensor, kind: str) -> torch.Tensor:
    mu = x.mean(dim=0)
    if kind == "unit":
        norm = torch.linalg.vector_norm(mu)
        return mu / norm if float(norm) > 0 else mu
    if kind == "std":
        return torch.std(x, dim=0, correction=1) if x.shape[0] > 1 else torch.zeros_like(mu)
    if kind == "sign":
        return torch.sign(mu)
    raise ValueError(f"unknown perturbation {kind!r}; choose one of {DIRECTIONS}")


def search_gamma(ok: Callable[[float], bool], gamma0: float, tol: float) -> float:
    """The authors' halving search for the largest ``γ`` with ``ok(γ)`` (see the module docstring)."""
    gamma, step, good = gamma0, gamma0, 0.0
    while abs(good - gamma) > tol:
        if ok(gamma):
            good = gamma
            gamma = gamma + step / 2
        else:
            gamma = gamma - step / 2
        step = step / 2
    return good


def agr_attack(honest_deltas, *, perturbation: str, gamma0: float, tol: float,
               ok_factory) -> torch.Tensor:
    x, dtype = as_honest(honest_deltas)
    gamma0 = check_real(gamma0, name="gamma0", minimum=0.0, strict=True)
    tol = check_real(tol, name="tol", minimum=0.0, strict=True)
    mu = x.mean(dim=0)
    p = direction(x, perturbation)
    ok = ok_factory(x, mu, p)
    gamma = search_gamma(ok, gamma0, tol)
    return (mu - gamma * p).to(dtype)


def sq_dists_to(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return ((x - v) ** 2).sum(dim=1)


def pairwise_sq(x: torch.Tensor) -> torch.Tensor:
    return torch.stack([sq_dists_to(x, row) for row in x])
