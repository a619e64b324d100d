"""The robustness grid: its ``[grid]`` table, its cells, and slices of it.

A *cell* is one (aggregator, attack, byzantine_fraction, partition, seed); the
grid is their product, less the combinations that do not make sense (the attack
"none" runs only at fraction 0, every other attack only at fractions > 0).
`cell_config` turns a cell into the experiment config that `simulate` runs, and
`slice_grid` keeps part of a grid (see `poft.experiment.robustness` for the
runner and the command line).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

from poft.attacks import param_problem as attack_param_problem
from poft.config.experiment import (
    AttackName,
    ConfigError,
    ExperimentConfig,
    RuleName,
    parse_config,
    read_toml,
)
from poft.config.rule_params import check_rule_params
from poft.config.schema import fail, load_section
from poft.errors import InputError
from poft.experiment.robustness_report import cell_key

PARTITION_FORMAT = re.compile(r"^dirichlet:([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)$")
PARTITION_HELP = "use 'iid' or 'dirichlet:<alpha>' with alpha > 0, e.g. 'dirichlet:0.5'"


@dataclass
class GridSection:
    aggregators: list[RuleName] = field(default_factory=lambda: ["softmax", "mean"])
    attacks: list[AttackName] = field(default_factory=lambda: ["none", "sign_flip"])
    byzantine_fractions: list[float] = field(default_factory=lambda: [0.0, 0.2])
    partitions: list[str] = field(default_factory=lambda: ["iid"])
    seeds: list[int] = field(default_factory=lambda: [0])
    attack_params: dict = field(default_factory=dict)    # attack name -> parameter table
    rule_params: dict = field(default_factory=dict)      # rule name -> parameter table

    def check(self, path: str) -> None:
        for name in ("aggregators", "attacks", "byzantine_fractions", "partitions", "seeds"):
            values = getattr(self, name)
            if not values:
                fail(f"{path}.{name}", "must list at least one value")
            repeated = next((v for v in values if values.count(v) > 1), None)
            if repeated is not None:
                fail(f"{path}.{name}", f"{repeated!r} is listed twice; list each value once")
        for i, fraction in enumerate(self.byzantine_fractions):
            if not 0.0 <= fraction <= 0.9:
                fail(f"{path}.byzantine_fractions[{i}]", f"{fraction!r} is outside [0, 0.9]")
        for i, partition in enumerate(self.partitions):
            parse_partition(partition, f"{path}.partitions[{i}]")
        for i, seed in enumerate(self.seeds):
            if seed < 0:
                fail(f"{path}.seeds[{i}]", f"{seed!r} is negative; seeds are integers >= 0")
        _check_named_tables(self.attack_params, f"{path}.attack_params", AttackName)
        for attack, params in self.attack_params.items():
            if (problem := attack_param_problem(attack, params)) is not None:
                fail(f"{path}.attack_params.{attack}", problem)
        _check_named_tables(self.rule_params, f"{path}.rule_params", RuleName)
        if not self.cells():
            fail(path, "the grid has no cell: 'none' runs only at byzantine fraction 0 and "
                       "the other attacks only at fractions > 0; list 'none' with 0, or an "
                       "attack with a fraction > 0")

    def cells(self) -> list["Cell"]:
        """Every meaningful cell, seed-major so that early rows already cover the grid."""
        return [Cell(aggregator, attack, fraction, partition, seed)
                for seed in self.seeds for partition in self.partitions
                for fraction in self.byzantine_fractions for attack in self.attacks
                for aggregator in self.aggregators
                if (attack == "none") == (fraction == 0.0)]


def _check_named_tables(tables: dict, path: str, names) -> None:
    allowed = names.__args__
    for name, params in tables.items():
        if name not in allowed:
            fail(f"{path}.{name}", f"unknown name; choose one of: "
                                   f"{', '.join(repr(a) for a in allowed)}")
        if not isinstance(params, dict):
            fail(f"{path}.{name}", f"expected a table of parameters, got {params!r}")


def parse_partition(text: str, path: str = "partition") -> tuple[str, float | None]:
    """'iid' -> ('iid', None); 'dirichlet:0.5' -> ('dirichlet', 0.5)."""
    if text == "iid":
        return "iid", None
    match = PARTITION_FORMAT.match(text)
    if match is None or float(match.group(1)) <= 0:
        fail(path, f"{text!r} is not allowed; {PARTITION_HELP}")
    return "dirichlet", float(match.group(1))


@dataclass(frozen=True)
class Cell:
    aggregator: str
    attack: str
    byzantine_fraction: float
    partition: str
    seed: int

    @property
    def key(self) -> tuple:
        return cell_key(self.aggregator, self.attack, self.byzantine_fraction,
                        self.partition, self.seed)

    def label(self) -> str:
        return (f"{self.aggregator}/{self.attack}@{self.byzantine_fraction:g}/"
                f"{self.partition}/s{self.seed}")


def load_robustness_config(path: str | Path) -> tuple[ExperimentConfig, GridSection]:
    """The base experiment config and the validated ``[grid]`` table."""
    return parse_robustness_config(read_toml(path, "examples/robustness-small.toml"))


def parse_robustness_config(table: dict) -> tuple[ExperimentConfig, GridSection]:
    table = dict(table)
    if "grid" not in table:
        fail("grid", "a robustness config needs a [grid] table (aggregators, attacks, "
                     "byzantine_fractions, partitions, seeds)")
    grid = load_section(GridSection, table.pop("grid"), "grid")
    base = parse_config(table)
    if len(base.networks) != 1:
        fail("networks", f"a robustness grid runs on exactly one network; got "
                         f"{len(base.networks)} [[networks]] tables")
    net = base.networks[0]
    for rule, params in grid.rule_params.items():     # as a config's, on the grid's network
        check_rule_params(params, [(net.name, rule, net.workers)], f"grid.rule_params.{rule}")
    workers = net.workers
    for i, fraction in enumerate(grid.byzantine_fractions):
        if fraction > 0 and round(fraction * workers) == 0:
            fail(f"grid.byzantine_fractions[{i}]", f"{fraction:g} of {workers} workers is "
                 f"0 Byzantine workers; raise networks[0].workers or the fraction")
    return base, grid


def cell_config(base: ExperimentConfig, grid: GridSection, cell: Cell) -> ExperimentConfig:
    """The experiment config of one cell: the base with the cell's five values."""
    net = base.networks[0]
    partition, alpha = parse_partition(cell.partition)
    attack_params = grid.attack_params.get(
        cell.attack, net.attack_params if net.attack == cell.attack else {})
    network = dataclasses.replace(
        net, attack=cell.attack, byzantine_fraction=cell.byzantine_fraction,
        attack_params=dict(attack_params), partition=partition,
        alpha=net.alpha if alpha is None else alpha, rule=None)
    aggregation = dataclasses.replace(base.aggregation, rule=cell.aggregator,
                                      params=dict(grid.rule_params.get(cell.aggregator, {})))
    experiment = dataclasses.replace(base.experiment, seed=cell.seed)
    return dataclasses.replace(base, networks=[network], aggregation=aggregation,
                               experiment=experiment)


SLICE_AXES = ("aggregators", "attacks", "byzantine_fractions", "partitions", "seeds")


def slice_grid(grid: GridSection, **keep: list | None) -> GridSection:
    """The grid restricted to the listed values of some axes (``None`` keeps an axis).

    Every kept value must be one the grid lists: a slice is part of *this* grid,
    so its cells are comparable with the rest and resume into the same CSV.
    """
    unknown = set(keep) - set(SLICE_AXES)
    if unknown:
        raise InputError(f"cannot slice by {sorted(unknown)}; axes: {', '.join(SLICE_AXES)}")
    changes = {}
    for axis, values in keep.items():
        if values is None:
            continue
        listed = getattr(grid, axis)
        missing = [v for v in values if v not in listed]
        if missing:
            raise ConfigError(f"slice {axis}: {', '.join(map(str, missing))} not in the "
                              f"config's grid.{axis} {listed}; a slice picks from those")
        changes[axis] = [v for v in listed if v in values]     # the config's order
    sliced = dataclasses.replace(grid, **changes)
    if not sliced.cells():
        raise ConfigError("the slice has no cell: 'none' runs only at byzantine fraction 0 "
                          "and the other attacks only at fractions > 0")
    return sliced


__all__ = ["GridSection", "Cell", "SLICE_AXES", "parse_partition", "load_robustness_config",
           "parse_robustness_config", "cell_config", "slice_grid"]
