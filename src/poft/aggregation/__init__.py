"""Aggregation rules: pure functions over the ``(n, d)`` delta matrix.

Row ``i`` of ``deltas`` is ``θ_i − θ`` (worker model minus the round's global
model); a rule returns the aggregated delta ``(d,)`` and the new model is
``θ + delta``. Every rule computes in float64 on the CPU and returns float64
(cast to the model's dtype when writing the state_dict), is deterministic
(ties broken by row index), and refuses non-finite updates and bad parameters
with a ``ValueError``/``TypeError`` that says what is allowed.

Uniform signature: ``rule(deltas, *, f=..., **params) -> Tensor(d)``. ``f`` is
the number of Byzantine updates to tolerate; rules that do not use it accept
and ignore it. Some rules need round context that the miner must supply as a
keyword (see :data:`CONTEXT`):

* ``softmax``: ``losses`` — validators' reports ``(v, n)`` (or approximated
  losses ``(n,)``), plus the parameter ``temperature``;
* ``fltrust``: ``reference`` — the server/validators' own update ``(d,)``
  (required);
* ``centered_clipping``: ``center`` — the previous round's aggregate ``(d,)``
  (optional; zero when absent).
"""

from __future__ import annotations

import inspect
from typing import Callable

import torch

# The submodules are bound under their own names (``aggregation.softmax`` is
# the module, as docs/interfaces.md uses it); the rule functions, which share
# those names, are reached through RULES or the module
# (``aggregation.krum.multi_krum``), never re-exported over a module name.
from poft.aggregation import (
    bulyan,
    centered_clipping,
    fltrust,
    geometric_median,
    krum,
    mean,
    median,
    robust_softmax,
    softmax,
    trimmed_mean,
)
from poft.aggregation.fltrust import fltrust_scores
from poft.aggregation.softmax import (
    approximate_population_loss,
    softmax_aggregate,
    softmax_rule,
    softmax_weights,
)

Rule = Callable[..., torch.Tensor]

RULES: dict[str, Rule] = {
    "mean": mean.mean,
    "median": median.median,
    "trimmed_mean": trimmed_mean.trimmed_mean,
    "krum": krum.krum,
    "multi_krum": krum.multi_krum,
    "geometric_median": geometric_median.geometric_median,
    "centered_clipping": centered_clipping.centered_clipping,
    "fltrust": fltrust.fltrust,
    "bulyan": bulyan.bulyan,
    "softmax": softmax.softmax,
    "robust_softmax": robust_softmax.robust_softmax,
}

# Round context (keyword -> required?) a rule takes besides deltas, f and its
# fixed parameters; the miner looks here to know what to pass.
CONTEXT: dict[str, dict[str, bool]] = {
    "softmax": {"losses": True},
    "robust_softmax": {"reports": True},
    "fltrust": {"reference": True},
    "centered_clipping": {"center": False},
}


# Largest f each f-rule allows for n candidates (Krum: n > 2f + 2; trimmed mean:
# n > 2f; Bulyan: n >= 4f + 3).
MAX_F: dict[str, Callable[[int], int]] = {
    "krum": lambda n: (n - 3) // 2, "multi_krum": lambda n: (n - 3) // 2,
    "trimmed_mean": lambda n: (n - 1) // 2, "bulyan": lambda n: (n - 3) // 4}


def rule_parameters(name: str) -> list[str]:
    """The parameters a config may set for rule ``name`` (``[aggregation] params``):
    its keywords but the round's context; robust_softmax's are its ``PARAMS``."""
    if name == "robust_softmax":
        return list(robust_softmax.PARAMS)
    _, *keywords = inspect.signature(get_rule(name)).parameters
    return [k for k in keywords if k not in CONTEXT.get(name, {})]


def get_rule(name: str) -> Rule:
    """The rule registered under ``name``; ``KeyError`` lists the known names."""
    try:
        return RULES[name]
    except (KeyError, TypeError):
        raise KeyError(f"unknown aggregation rule {name!r}; known rules: {sorted(RULES)}") from None


__all__ = [
    "CONTEXT",
    "MAX_F",
    "RULES",
    "Rule",
    "approximate_population_loss",
    "fltrust_scores",
    "get_rule",
    "rule_parameters",
    "softmax_aggregate",
    "softmax_rule",
    "softmax_weights",
]
