"""Fixed-point encodings shared with the contract, and the hashes it stores.

* losses: int256 = round(loss * LOSS_SCALE); a non-finite loss (NaN/Inf) is
  LOSS_NONFINITE (max int256). Reports are stored as
  keccak256(abi_encode(int256[])).
* weights: uint256 = floor(w * WEIGHT_SCALE), summing to <= WEIGHT_SCALE. The
  miner proposes weights_hash = keccak256(abi_encode(uint256[])) and settle()
  must present the same vector.
"""

from __future__ import annotations

import math
import numbers
from typing import Sequence

from eth_abi import encode
from eth_utils import keccak

LOSS_SCALE = 10**9
LOSS_NONFINITE = 2**255 - 1
WEIGHT_SCALE = 10**18
_LOSS_MAX = LOSS_NONFINITE - 1  # finite losses never collide with the sentinel


def loss_to_fixed(loss: float) -> int:
    if not math.isfinite(loss):
        return LOSS_NONFINITE
    value = round(float(loss) * LOSS_SCALE)
    return max(-_LOSS_MAX, min(_LOSS_MAX, value))


def losses_to_fixed(losses: Sequence[float]) -> list[int]:
    return [loss_to_fixed(x) for x in losses]


def fixed_to_loss(value: int) -> float:
    """Back to a float; the non-finite sentinel becomes math.inf."""
    return math.inf if value == LOSS_NONFINITE else value / LOSS_SCALE


def losses_hash(fixed_losses: Sequence[int]) -> bytes:
    return keccak(encode(["int256[]"], [list(fixed_losses)]))


def weights_to_fixed(weights: Sequence[float]) -> list[int]:
    """Fractions -> fixed point; non-finite or negative -> 0; the sum never exceeds WEIGHT_SCALE."""
    fixed = [
        int(math.floor(float(w) * WEIGHT_SCALE)) if math.isfinite(w) and w > 0 else 0
        for w in weights
    ]
    excess = sum(fixed) - WEIGHT_SCALE
    while excess > 0:  # float rounding left a few units too many: trim the largest
        i = max(range(len(fixed)), key=fixed.__getitem__)
        cut = min(excess, fixed[i])
        fixed[i] -= cut
        excess -= cut
    return fixed


def as_fixed_weights(weights: Sequence[float | int]) -> list[int]:
    """Integers are taken as fixed point already; anything else (floats) as fractions."""
    if all(isinstance(w, numbers.Integral) and not isinstance(w, bool) for w in weights):
        fixed = [int(w) for w in weights]
        if any(w < 0 for w in fixed) or sum(fixed) > WEIGHT_SCALE:
            raise ValueError(
                f"fixed-point weights must be >= 0 and sum to <= {WEIGHT_SCALE}; got sum {sum(fixed)}"
            )
        return fixed
    return weights_to_fixed([float(w) for w in weights])


def weights_hash(fixed_weights: Sequence[int]) -> bytes:
    return keccak(encode(["uint256[]"], [list(fixed_weights)]))
