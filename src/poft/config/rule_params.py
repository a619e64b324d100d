"""The aggregation rules' parameters in a config (``[aggregation] params``), checked
before anything runs: a name no rule in use takes, an ``f`` a rule cannot take with
a network's workers, a bad robust_softmax value. Without these checks each one
surfaced in the first round as an error from inside the rule."""

from __future__ import annotations

from poft.aggregation import MAX_F, robust_softmax, rule_parameters
from poft.config.schema import fail


def check_rule_params(params: dict, networks: list[tuple[str, str, int]],
                      path: str = "aggregation.params") -> None:
    """`ConfigError` for the first of the ``params`` (the table at ``path``) that no
    network's rule can take; ``networks``: each network's name, rule and workers. The
    rules share one table."""
    rules = sorted({rule for _, rule, _ in networks})
    for name, value in params.items():
        if not any(name in rule_parameters(rule) for rule in rules):
            takes = {rule: ", ".join(rule_parameters(rule)) or "none" for rule in rules}
            if len(rules) == 1:
                fail(f"{path}.{name}", f"{rules[0]} has no parameter {name!r}; "
                     f"it takes {takes[rules[0]]}")
            fail(f"{path}.{name}", "no rule in use takes it (" + "; ".join(
                f"{rule} takes {t}" for rule, t in takes.items()) + ")")
        if name == "f":
            check_f(value, networks, path)
        if name in robust_softmax.PARAMS and "robust_softmax" in rules:
            problem = robust_softmax.param_problem(name, value)
            if problem:
                fail(f"{path}.{name}", problem)


def check_f(f, networks: list[tuple[str, str, int]], path: str = "aggregation.params") -> None:
    """An explicit `f` that some network's rule cannot take with its workers."""
    if isinstance(f, bool) or not isinstance(f, int) or f < 0:
        fail(f"{path}.f", f"f must be an integer >= 0 (the Byzantine updates "
             f"the rule tolerates), got {f!r}")
    for network, rule, workers in networks:
        if rule in MAX_F and f > MAX_F[rule](workers):
            fail(f"{path}.f", f"{rule} with the {workers} workers of network "
                 f"{network!r} allows f <= {max(0, MAX_F[rule](workers))}, got {f}; "
                 "lower f or raise workers")
