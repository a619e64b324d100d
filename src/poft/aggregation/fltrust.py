r"""FLTrust (Cao, Fang, Liu & Gong 2021, "FLTrust: Byzantine-robust Federated
Learning via Trust Bootstrapping", NDSS).

The server holds a small clean root dataset and computes its own update
``δ_0`` (here: the ``reference``, e.g. an update the validators compute on
their data). Each worker update gets a trust score, the ReLU of its cosine
similarity with the reference, and is rescaled to the reference's norm:

.. math::

    TS_i = \max\!\left(0, \frac{\langle \delta_i, \delta_0 \rangle}
           {\lVert \delta_i \rVert \lVert \delta_0 \rVert}\right), \qquad
    \bar\delta_i = \frac{\lVert \delta_0 \rVert}{\lVert \delta_i \rVert} \delta_i, \qquad
    \mathrm{FLTrust} = \frac{\sum_i TS_i \bar\delta_i}{\sum_i TS_i}

An update of norm 0 has no direction and gets trust 0. When no update has
positive trust, the aggregate is the zero vector (the model does not move).
"""

from __future__ import annotations

import torch

from poft.aggregation._checks import DTYPE, as_matrix, as_vector, check_int


def _prepare(deltas, reference) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    x = as_matrix(deltas)
    if reference is None:
        raise ValueError("fltrust needs reference= (the server/validators' own update, shape (d,))")
    ref = as_vector(reference, x.shape[1], name="reference")
    ref_norm = torch.linalg.vector_norm(ref)
    if float(ref_norm) == 0.0:
        raise ValueError("fltrust reference has norm 0; it must be a non-zero update to measure directions against")
    norms = torch.linalg.vector_norm(x, dim=1)
    return x, ref, ref_norm, norms


def _scores(x, ref, ref_norm, norms) -> torch.Tensor:
    safe = torch.where(norms > 0, norms, torch.ones_like(norms))
    cos = (x @ ref) / (safe * ref_norm)
    return torch.where(norms > 0, cos.clamp(min=0.0), torch.zeros_like(cos))


def fltrust_scores(deltas, reference) -> torch.Tensor:
    """Trust scores ``ReLU(cos(δ_i, δ_0))``, float64 ``(n,)``."""
    return _scores(*_prepare(deltas, reference))


def fltrust(deltas, *, f: int = 0, reference) -> torch.Tensor:
    """FLTrust aggregate, float64 ``(d,)``; needs ``reference`` ``(d,)`` as context.

    ``f`` is accepted for the uniform rule signature and not used.
    """
    check_int(f, name="f")
    x, ref, ref_norm, norms = _prepare(deltas, reference)
    ts = _scores(x, ref, ref_norm, norms)
    total = ts.sum()
    if float(total) == 0.0:
        return torch.zeros(x.shape[1], dtype=DTYPE)
    # ts is 0 wherever the norm is 0, so the placeholder norm 1 never matters.
    safe = torch.where(norms > 0, norms, torch.ones_like(norms))
    weights = ts * ref_norm / safe
    return (x * weights[:, None]).sum(dim=0) / total
