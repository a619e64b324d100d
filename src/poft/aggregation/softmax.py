r"""Softmax aggregation of SABFL (Wu & Klabjan 2023, arXiv:2311.07027).

Validators report the loss of every candidate model on their own data. The
miner approximates each candidate's *population loss* by the median over
validators and weights the candidates by a softmax of the negated losses:

.. math::

    L_i = \operatorname{median}_{j=1..v} \ell_{j,i}, \qquad
    w_i = \frac{\exp(-L_i / T)}{\sum_{k:\,L_k \text{ finite}} \exp(-L_k / T)}, \qquad
    \theta' = \theta + \sum_{i=1}^{n} w_i\,(\theta_i - \theta)

A candidate whose approximated loss is not finite gets weight exactly 0.

Median convention: for an even number of validators the *averaged* median
(mean of the two middle reports) is used, as in ``numpy.median``. A NaN report
is read as ``+inf`` (a model whose loss cannot be computed is as bad as it
gets), so one broken or lying validator cannot move a candidate's median to a
non-finite value, while a majority of them can — and then that candidate is
excluded (weight 0).

Determinism (validators recompute the miner's aggregate): the weights are
computed with Python scalars (``math.exp``, ``math.fsum``: a correctly rounded
sum, independent of order), and the model sum is accumulated in float64, one
candidate after the other in their given order, with separate multiply and add
(no fused multiply-add whose rounding would differ between CPUs).
"""

from __future__ import annotations

import math

import torch

from poft.aggregation._checks import DTYPE, as_vector, averaged_median, check_int, check_positive


def _as_losses(losses, *, allow_1d: bool) -> torch.Tensor:
    t = torch.as_tensor(losses)
    if t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"losses must be real numbers; got dtype {t.dtype}")
    t = t.detach().to(device="cpu", dtype=DTYPE)
    dims = "(v, n) or (n,)" if allow_1d else "(v, n)"
    if t.dim() not in ((1, 2) if allow_1d else (2,)):
        raise ValueError(
            f"losses must have shape {dims} (validators x candidates); got shape {tuple(t.shape)}"
        )
    if t.numel() == 0:
        raise ValueError(f"losses must have at least one validator and one candidate; got shape {tuple(t.shape)}")
    return t


def approximate_population_loss(losses) -> torch.Tensor:
    """Per candidate, the averaged median over validators of the reported losses.

    ``losses`` has shape ``(v, n)``: row ``j`` is validator ``j``'s report,
    column ``i`` candidate ``i``. Returns float64 ``(n,)``; NaN reports count as
    ``+inf`` (see the module docstring), so the result is finite or ``±inf``.
    """
    t = _as_losses(losses, allow_1d=False)
    t = torch.where(torch.isnan(t), torch.full_like(t, math.inf), t)
    med = averaged_median(t, dim=0)
    # (-inf + inf) / 2 is NaN: keep the documented "finite or ±inf" contract.
    return torch.where(torch.isnan(med), torch.full_like(med, math.inf), med)


def softmax_weights(losses, temperature) -> torch.Tensor:
    """Softmax weights ``softmax(−L / T)`` over the candidates with finite ``L``.

    ``losses``: ``(v, n)`` validator reports (reduced by
    :func:`approximate_population_loss`) or ``(n,)`` already approximated
    losses. Non-finite losses get weight exactly 0. Raises ``ValueError`` when
    ``T`` is not a finite positive number or no candidate has a finite loss.
    Returns float64 ``(n,)`` summing to 1.
    """
    temperature = check_positive(temperature, name="temperature")
    t = _as_losses(losses, allow_1d=True)
    pop = approximate_population_loss(t) if t.dim() == 2 else t
    values = pop.tolist()
    finite = [math.isfinite(x) for x in values]
    if not any(finite):
        raise ValueError(
            f"no candidate has a finite approximated loss (losses {values}); "
            "softmax weights need at least one finite loss"
        )
    # Subtracting the minimum makes the largest term exp(0) = 1: no overflow,
    # and the denominator is >= 1, so no division by zero or by a denormal.
    low = min(x for x, ok in zip(values, finite) if ok)
    terms = [math.exp(-(x - low) / temperature) if ok else 0.0 for x, ok in zip(values, finite)]
    total = math.fsum(terms)
    return torch.tensor([term / total for term in terms], dtype=DTYPE)


def _check_weights(weights, n: int) -> torch.Tensor:
    w = torch.as_tensor(weights).detach().to(device="cpu", dtype=DTYPE)
    if w.dim() != 1 or w.shape[0] != n:
        raise ValueError(f"weights must have shape ({n},), one per candidate; got shape {tuple(w.shape)}")
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        raise ValueError(f"weights must be finite and >= 0; got {w.tolist()}")
    return w


def softmax_rule(deltas, weights) -> torch.Tensor:
    """The weighted sum ``Σ w_i δ_i`` of the delta rows, in float64 (``(d,)``).

    ``weights`` are used as given (not renormalised). A row may contain NaN/Inf
    only if its weight is exactly 0 (such a candidate is skipped); a non-finite
    row with a non-zero weight is an error.
    """
    x = torch.as_tensor(deltas)
    if x.dim() != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"deltas must be a non-empty 2-D (n, d) matrix; got shape {tuple(x.shape)}")
    x = x.detach().to(device="cpu", dtype=DTYPE)
    w = _check_weights(weights, x.shape[0])
    acc = torch.zeros(x.shape[1], dtype=DTYPE)
    for i, wi in enumerate(w.tolist()):
        if wi == 0.0:
            continue
        row = x[i]
        if not bool(torch.isfinite(row).all()):
            raise ValueError(
                f"candidate {i} has weight {wi} but contains NaN or Inf; "
                "only candidates with weight 0 may be non-finite"
            )
        # Separate multiply and add: two IEEE roundings, identical on every CPU.
        acc = acc + row * wi
    return acc


def softmax_aggregate(global_vec, candidates, losses, temperature) -> tuple[torch.Tensor, torch.Tensor]:
    """SABFL step 4: ``(θ', w)`` from the global model and the candidate models.

    ``global_vec``: flat ``θ`` ``(d,)``; ``candidates``: full candidate models
    ``(n, d)`` (not deltas); ``losses``: ``(v, n)`` validator reports or ``(n,)``
    approximated losses; ``temperature`` ``T > 0``. Returns float64
    ``θ' = θ + Σ w_i (θ_i − θ)`` and the float64 weights ``w``.
    """
    c = torch.as_tensor(candidates)
    if c.dim() != 2 or c.shape[0] < 1 or c.shape[1] < 1:
        raise ValueError(
            f"candidates must be a non-empty 2-D (n, d) matrix of flat models; got shape {tuple(c.shape)}"
        )
    n, d = c.shape
    theta = as_vector(global_vec, d, name="global_vec")
    t = _as_losses(losses, allow_1d=True)
    if t.shape[-1] != n:
        raise ValueError(
            f"losses have {t.shape[-1]} columns but there are {n} candidates; "
            "losses must have shape (v, n) or (n,) with one column per candidate"
        )
    weights = softmax_weights(t, temperature)
    deltas = c.detach().to(device="cpu", dtype=DTYPE) - theta
    return theta + softmax_rule(deltas, weights), weights


def softmax(deltas, *, f: int = 0, losses, temperature) -> torch.Tensor:
    """Registry form: the softmax-weighted delta for ``losses`` at ``temperature``.

    Needs the round's validator ``losses`` (``(v, n)`` or ``(n,)``) as context.
    ``f`` is accepted for the uniform rule signature and not used (softmax
    weighting needs no bound on the number of Byzantine workers).
    """
    check_int(f, name="f")
    x = torch.as_tensor(deltas)
    t = _as_losses(losses, allow_1d=True)
    if x.dim() == 2 and t.shape[-1] != x.shape[0]:
        raise ValueError(
            f"losses have {t.shape[-1]} columns but deltas have {x.shape[0]} rows; "
            "one loss column per update"
        )
    return softmax_rule(x, softmax_weights(t, temperature))
