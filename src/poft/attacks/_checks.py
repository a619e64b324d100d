"""Input checks shared by the update attacks.

Attacks compute in float64 and return the Byzantine vector in the dtype of the
honest deltas, so it can be stacked with them into the round's update matrix.
"""

from __future__ import annotations

import numbers

import torch

from poft.aggregation._checks import check_int  # noqa: F401  (shared validation)

DTYPE = torch.float64


def as_honest(honest_deltas, *, min_rows: int = 1) -> tuple[torch.Tensor, torch.dtype]:
    """``(float64 (h, d) CPU matrix, dtype to return)`` for the honest deltas."""
    x = torch.as_tensor(honest_deltas)
    if x.dim() != 2 or x.shape[1] < 1:
        raise ValueError(
            f"honest_deltas must be a 2-D (h, d) matrix, one honest update per row; got shape {tuple(x.shape)}"
        )
    if x.shape[0] < min_rows:
        raise ValueError(f"this attack needs at least {min_rows} honest update(s); got {x.shape[0]}")
    out_dtype = x.dtype if x.is_floating_point() else torch.float32
    x = x.detach().to(device="cpu", dtype=DTYPE)
    if not bool(torch.isfinite(x).all()):
        raise ValueError("honest_deltas contain NaN or Inf; honest updates must be finite")
    return x, out_dtype


def check_real(value, *, name: str, minimum: float | None = None, strict: bool = False) -> float:
    """``value`` as a finite float (``>= minimum``, or ``> minimum`` when ``strict``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite; got {value}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        op = ">" if strict else ">="
        raise ValueError(f"{name} must be {op} {minimum}; got {value}")
    return value


