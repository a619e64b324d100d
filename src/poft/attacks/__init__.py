"""Byzantine worker behaviours, as pure functions.

*Update attacks* ``attack(honest_deltas: Tensor(h, d), **params) -> Tensor(d)``
return the vector every Byzantine worker of the round sends (as a delta
``θ_i − θ``), in the honest deltas' dtype. The omniscient ones (sign flip,
ALIE, IPM, Min-Max, Min-Sum, and gate-edge and score-match, which are aimed at
robust SABFL) see all honest deltas of the round. Context a caller must supply
besides fixed parameters is listed in :data:`CONTEXT`:

* ``scaling``: ``own_delta`` — the attacker's own honestly trained delta (required);
* ``gaussian``: ``generator`` — a seeded ``torch.Generator`` (optional; global RNG otherwise);
* ``alie``: ``n``, ``f`` — workers and Byzantine workers of the round, when ``z`` is not fixed;
* ``score_match``: ``generator`` — the colluder's own (optional; its ``jitter`` draws from it).

*Data attacks* ``attack(dataset, **params) -> dataset`` transform a
Byzantine worker's ``ArrayDataset`` before it trains honestly on it
(``label_flip``; ``backdoor`` with ``target``, ``fraction``, ``generator``).
"""

from __future__ import annotations

import inspect
from typing import Callable

import torch

# Submodules stay bound under their own names; the attack functions, which
# share them, are reached through the registries or the module.
from poft.attacks import (
    alie,
    backdoor,
    gate_edge,
    gaussian,
    ipm,
    label_flip,
    min_max,
    min_sum,
    scaling,
    score_match,
    sign_flip,
)
from poft.attacks.alie import alie_z
from poft.attacks.backdoor import apply_trigger, attack_success_rate, nontarget, poison
from poft.attacks.label_flip import flip_labels

UpdateAttack = Callable[..., torch.Tensor]
DataAttack = Callable[..., object]

UPDATE_ATTACKS: dict[str, UpdateAttack] = {
    "sign_flip": sign_flip.sign_flip,
    "gaussian": gaussian.gaussian,
    "scaling": scaling.scaling,
    "alie": alie.alie,
    "ipm": ipm.ipm,
    "min_max": min_max.min_max,
    "min_sum": min_sum.min_sum,
    "gate_edge": gate_edge.gate_edge,
    "score_match": score_match.score_match,
}

DATA_ATTACKS: dict[str, DataAttack] = {
    "label_flip": label_flip.label_flip,
    "backdoor": backdoor.backdoor,
}

# Round context (keyword -> required?) an attack takes besides its parameters.
CONTEXT: dict[str, dict[str, bool]] = {
    "scaling": {"own_delta": True},
    "gaussian": {"generator": False},
    "alie": {"n": False, "f": False},
    "backdoor": {"generator": False},
    "score_match": {"generator": False},
}


# Attacks whose **kwargs are another function's parameters.
FORWARDS: dict[str, Callable] = {"backdoor": apply_trigger}


def _keywords(fn: Callable) -> list[str]:
    return [p.name for p in inspect.signature(fn).parameters.values()
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def param_problem(name: str, params: dict) -> str | None:
    """Why attack ``name`` cannot take ``params`` (None: it can): a key that is not one
    of its parameters, or one the run supplies (:data:`CONTEXT`). Checked when a config
    loads, so that a typo stops the run before it starts, not in its first round."""
    attack = UPDATE_ATTACKS.get(name) or DATA_ATTACKS.get(name)
    if attack is None or not params:
        return None
    _, *takes = _keywords(attack)
    if name in FORWARDS:            # its **kwargs go on to another function
        takes += _keywords(FORWARDS[name])[1:]
    takes = [p for p in takes if p not in CONTEXT.get(name, {})]
    unknown = sorted(set(params) - set(takes))
    if not unknown:
        return None
    return (f"{name} has no parameter {unknown[0]!r}; it takes "
            f"{', '.join(takes) if takes else 'none'}")


def finite_rows(deltas: torch.Tensor | None) -> torch.Tensor | None:
    """The rows of an ``(h, d)`` delta matrix an attacker can build on: the finite ones.

    ``None`` when there are none. A diverged honest worker (NaN/Inf update) is
    refused by every validator anyway; the colluders imitate the others.
    """
    if deltas is None:
        return None
    kept = deltas[torch.isfinite(deltas).all(dim=1)]
    return kept if len(kept) else None


def get_update_attack(name: str) -> UpdateAttack:
    """The update attack registered under ``name``; ``KeyError`` lists the known names."""
    try:
        return UPDATE_ATTACKS[name]
    except (KeyError, TypeError):
        raise KeyError(f"unknown update attack {name!r}; known: {sorted(UPDATE_ATTACKS)}") from None


def get_data_attack(name: str) -> DataAttack:
    """The data attack registered under ``name``; ``KeyError`` lists the known names."""
    try:
        return DATA_ATTACKS[name]
    except (KeyError, TypeError):
        raise KeyError(f"unknown data attack {name!r}; known: {sorted(DATA_ATTACKS)}") from None


__all__ = [
    "CONTEXT",
    "DATA_ATTACKS",
    "UPDATE_ATTACKS",
    "param_problem",
    "alie_z",
    "apply_trigger",
    "attack_success_rate",
    "finite_rows",
    "flip_labels",
    "get_data_attack",
    "get_update_attack",
    "nontarget",
    "poison",
]
