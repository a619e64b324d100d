"""Input checks shared by the aggregation rules.

Every rule receives the ``(n, d)`` delta matrix (row ``i`` = ``θ_i − θ``) and
computes in float64 on the CPU, so that the miner and the validators who
recompute an aggregate get bit-identical results from the same inputs. The
checks here turn a wrong input into an error that says what was wrong and what
is allowed, instead of a shape error deep inside torch.
"""

from __future__ import annotations

import math
import numbers

import torch

DTYPE = torch.float64
_INT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)


def as_matrix(deltas, *, name: str = "deltas") -> torch.Tensor:
    """``deltas`` as a finite float64 ``(n, d)`` CPU tensor with ``n, d >= 1``.

    Updates with NaN/Inf are refused upstream (docs/architecture.md, "Errors"); a rule that
    silently absorbed them would hide the fault, so here they are an error that
    names the offending rows.
    """
    x = torch.as_tensor(deltas)
    if x.dim() != 2:
        raise ValueError(
            f"{name} must be a 2-D (n, d) matrix, one update per row; got shape {tuple(x.shape)}"
        )
    n, d = x.shape
    if n < 1 or d < 1:
        raise ValueError(f"{name} must have at least one row and one column; got shape ({n}, {d})")
    if not (x.is_floating_point() or x.dtype in _INT_DTYPES):
        raise TypeError(f"{name} must hold real numbers; got dtype {x.dtype}")
    x = x.detach().to(device="cpu", dtype=DTYPE)
    finite = torch.isfinite(x).all(dim=1)
    if not bool(finite.all()):
        bad = torch.nonzero(~finite).flatten().tolist()
        raise ValueError(
            f"{name} rows {bad} contain NaN or Inf; only finite updates can be aggregated "
            "(refuse such updates before aggregation)"
        )
    return x


def as_vector(vec, d: int, *, name: str) -> torch.Tensor:
    """``vec`` as a finite float64 ``(d,)`` CPU tensor."""
    v = torch.as_tensor(vec)
    if v.dim() != 1 or v.shape[0] != d:
        raise ValueError(f"{name} must be a vector of shape ({d},); got shape {tuple(v.shape)}")
    v = v.detach().to(device="cpu", dtype=DTYPE)
    if not bool(torch.isfinite(v).all()):
        raise ValueError(f"{name} contains NaN or Inf; it must be finite")
    return v


def check_int(value, *, name: str, minimum: int = 0) -> int:
    """``value`` as an int ``>= minimum`` (bools are refused: ``f=True`` is a typo)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    return value


def check_positive(value, *, name: str, allow_zero: bool = False) -> float:
    """``value`` as a finite float ``> 0`` (or ``>= 0`` with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    value = float(value)
    ok = value >= 0 if allow_zero else value > 0
    if not ok or value != value or value == float("inf"):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}; got {value}")
    return value


def check_f(f, n: int, *, rule: str, condition: str, max_f: int) -> int:
    """Validate ``f`` (the number of Byzantine updates ``rule`` must tolerate).

    ``condition`` is the rule's requirement in words (e.g. ``"n > 2f + 2"``) and
    ``max_f`` the largest ``f`` it allows for this ``n`` (negative: none).
    """
    f = check_int(f, name="f")
    if f > max_f:
        allowed = f"f <= {max_f}" if max_f >= 0 else "no f at all (too few updates)"
        raise ValueError(
            f"{rule} needs {condition}; got n={n}, f={f}; with n={n} it allows {allowed}"
        )
    return f


def pairwise_sq_dists(x: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances between the rows of ``x`` (float64, exact).

    ``torch.cdist`` in its direct mode avoids the ``|a|² + |b|² − 2a·b``
    expansion, whose cancellation would make near-equal updates look apart and
    break ties differently on different machines.
    """
    dist = torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist")
    return dist * dist


def averaged_median(x: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Median along ``dim``; for an even count, the mean of the two middle values.

    (``torch.median`` returns the *lower* middle value; the averaged median is
    the textbook definition, ``numpy.median``'s and ``torch.quantile(q=0.5)``'s.)
    """
    k = x.shape[dim]
    s = torch.sort(x, dim=dim).values
    lo = s.select(dim, (k - 1) // 2)
    hi = s.select(dim, k // 2)
    return (lo + hi) / 2


# Parameter checks for a rule's ``PARAMS`` table: each gives why a value is wrong, or None.

def number_problem(low: float, high: float | None = None, *, low_open: bool = False,
                   high_open: bool = False):
    def problem(value) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return "must be a number"
        if value < low or (low_open and value == low):
            return f"must be {'>' if low_open else '>='} {low:g}"
        if high is not None and (value > high or (high_open and value == high)):
            return f"must be {'<' if high_open else '<='} {high:g}"
        return None
    return problem


def integer_problem(low: int):
    def problem(value) -> str | None:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            return "must be an integer"
        return None if value >= low else f"must be >= {low}"
    return problem


def boolean_problem(value) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def one_of_problem(*choices):
    def problem(value) -> str | None:
        return None if value in choices else f"must be one of {', '.join(map(repr, choices))}"
    return problem
