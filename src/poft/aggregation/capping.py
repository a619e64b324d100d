"""Water-filling: shares in proportion to some terms, none above a cap.

robust_softmax's ``cap`` ablation (``params.cap``) bounds every weight by
``cap / m`` this way; ``cap = 1`` gives the uniform shares.
"""

from __future__ import annotations

import math


def capped_shares(terms: list[float], cap: float) -> list[float]:
    """``terms`` (non-negative, some positive) normalised to sum 1 with no share above
    ``cap / m`` (``m``: the number of positive terms; ``cap >= 1``): shares over the cap
    are fixed at it and the rest is shared out again in proportion to the terms
    (water-filling), in a fixed order with Python floats."""
    live = [i for i, t in enumerate(terms) if t > 0.0]
    limit = cap / len(live)
    shares = [0.0] * len(terms)
    fixed: set[int] = set()
    while True:
        free = [i for i in live if i not in fixed]
        mass = 1.0 - limit * len(fixed)
        if not free or mass <= 0.0:
            break
        total = math.fsum(terms[i] for i in free)
        over = [i for i in free if terms[i] / total * mass > limit]
        if not over:
            for i in free:
                shares[i] = terms[i] / total * mass
            break
        fixed.update(over)
    for i in fixed:
        shares[i] = limit
    total = math.fsum(shares)
    return [x / total for x in shares]
