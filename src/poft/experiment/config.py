"""The experiment config: TOML, validated on load.

An experiment is one or more *networks* (each its own chain, ledger and
participants) trained for a number of rounds, optionally exchanging finalized
models across chains. `load_config(path)` reads a TOML file and returns an
`ExperimentConfig`; any unknown key or bad value raises `ConfigError` naming the
key, the value and what is allowed (see `poft.experiment.schema`).

Example (examples/quickstart.toml)::

    [experiment]
    name = "quickstart"
    rounds = 8

    [data]
    dataset = "fashion_mnist"

    [[networks]]
    name = "alpha"
    workers = 10
    byzantine_fraction = 0.2
    attack = "sign_flip"
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from poft.experiment.schema import ConfigError, bounded, fail, load_section, to_table

Dataset = Literal["fashion_mnist", "digits", "convex"]
ModelName = Literal["logreg", "mlp", "cnn"]
RuleName = Literal["softmax", "mean", "median", "trimmed_mean", "krum", "multi_krum",
                   "geometric_median", "centered_clipping", "fltrust", "bulyan", "robust_softmax"]
AttackName = Literal["none", "label_flip", "sign_flip", "gaussian", "scaling", "alie",
                     "ipm", "backdoor", "min_max", "min_sum", "gate_edge", "score_match"]
PartitionName = Literal["iid", "dirichlet", "label_skew"]
WorkerPartition = Literal["iid", "dirichlet"]
Backend = Literal["embedded", "anvil"]
ImportPolicy = Literal["candidate", "init", "merge"]


@dataclass
class ExperimentSection:
    name: str = "poft"
    seed: int = bounded(0, min=0)
    rounds: int = bounded(10, min=1, max=10_000)
    # torch threads (0: torch's default, one per core). One by default: local training
    # in batches of 32 ran 1.5x faster on one thread than on two on a 2-core machine
    # (0.075 vs 0.111 s per CNN update; idle threads wake up for every small op).
    threads: int = bounded(1, min=0, max=256)


@dataclass
class DataSection:
    dataset: Dataset = "fashion_mnist"
    data_dir: str | None = None
    train_samples: int | None = bounded(None, min=10)   # subsample of the training set
    test_samples: int | None = bounded(None, min=10)    # subsample of the test set
    validator_samples: int = bounded(500, min=10)       # each staker's own scoring data
    network_partition: PartitionName = "iid"            # how the networks share the data
    network_alpha: float = bounded(0.5, min=1e-6)       # Dirichlet concentration across networks


@dataclass
class ModelSection:
    name: ModelName = "cnn"
    hidden: int = bounded(128, min=1)                   # MLP hidden width


@dataclass
class TrainingSection:
    local_epochs: int = bounded(1, min=1, max=1000)
    batch_size: int = bounded(32, min=1)
    lr: float = bounded(0.05, min=0.0)
    momentum: float = bounded(0.9, min=0.0, max=1.0)
    weight_decay: float = bounded(0.0, min=0.0)


@dataclass
class AggregationSection:
    rule: RuleName = "softmax"
    temperature: float = bounded(0.05, min=1e-9)        # softmax temperature T
    params: dict = field(default_factory=dict)          # extra rule parameters (f, m, tau...)
    tolerance: float = bounded(1e-5, min=0.0)           # validators' recompute tolerance


@dataclass
class LedgerSection:
    phase_blocks: int = bounded(1000, min=2)            # deadline of each phase, in blocks
    stake: float = bounded(32.0, min=0.0)               # each staker's stake (ether)
    worker_stake: float = bounded(0.0, min=0.0)         # each worker's stake (ether)
    min_stake: float = bounded(1.0, min=0.0)            # committee eligibility (ether)
    slash_bps: int = bounded(1000, min=0, max=10_000)   # share of stake slashed
    reward_per_round: float = bounded(1.0, min=0.0)     # paid to workers by weight (ether)
    validator_reward: float = bounded(0.01, min=0.0)    # per timely report (ether)
    reward_pool: float = bounded(100.0, min=0.0)        # funded at deployment (ether)


@dataclass
class NetworkSection:
    name: str
    backend: Backend = "embedded"
    workers: int = bounded(10, min=1, max=200)
    stakers: int = bounded(5, min=1, max=50)            # committee-eligible participants
    validators: int = bounded(3, min=1, max=32)         # committee size k
    miners: int = bounded(2, min=1, max=8)              # miner + backups
    classes: list[int] = field(default_factory=list)    # data.network_partition = "label_skew"
    partition: WorkerPartition = "iid"                  # split among this network's workers
    alpha: float = bounded(0.5, min=1e-6)               # Dirichlet concentration (workers)
    byzantine_fraction: float = bounded(0.0, min=0.0, max=0.9)
    attack: AttackName = "none"
    attack_params: dict = field(default_factory=dict)
    lying_validators: int = bounded(0, min=0)           # stakers that report random losses
    malicious_miner: bool = False                       # first miner proposes a wrong aggregate
    import_policy: ImportPolicy = "candidate"
    rule: RuleName | None = None                        # overrides [aggregation].rule

    def check(self, path: str) -> None:
        if self.validators + self.miners > self.stakers:
            fail(f"{path}.stakers", f"{self.stakers} stakers cannot fill a committee of "
                 f"{self.validators} validators + {self.miners} miners; raise stakers "
                 f"or lower validators/miners")
        if self.lying_validators > self.stakers:
            fail(f"{path}.lying_validators", f"{self.lying_validators} is more than the "
                 f"{self.stakers} stakers")
        if self.byzantine_fraction > 0 and self.attack == "none":
            fail(f"{path}.attack", "byzantine_fraction > 0 needs an attack, e.g. 'sign_flip'")

    @property
    def byzantine_workers(self) -> int:
        return int(round(self.byzantine_fraction * self.workers))


@dataclass
class LinkSection:
    source: str
    target: str


@dataclass
class CrosschainSection:
    enabled: bool = False
    every: int = bounded(1, min=1)                      # export every N rounds
    links: list[LinkSection] = field(default_factory=list)


@dataclass
class ExperimentConfig:
    networks: list[NetworkSection]
    experiment: ExperimentSection = field(default_factory=ExperimentSection)
    data: DataSection = field(default_factory=DataSection)
    model: ModelSection = field(default_factory=ModelSection)
    training: TrainingSection = field(default_factory=TrainingSection)
    aggregation: AggregationSection = field(default_factory=AggregationSection)
    ledger: LedgerSection = field(default_factory=LedgerSection)
    crosschain: CrosschainSection = field(default_factory=CrosschainSection)

    def check(self, path: str) -> None:
        if not self.networks:
            fail("networks", "at least one [[networks]] table is required")
        names = [n.name for n in self.networks]
        if self.data.network_partition == "label_skew":
            for i, net in enumerate(self.networks):
                if not net.classes:
                    fail(f"networks[{i}].classes", "data.network_partition = 'label_skew' "
                         "needs each network's classes, e.g. classes = [0, 1, 2, 3, 4]")
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate:
            fail("networks", f"network name {duplicate!r} is used twice; names must be unique")
        for i, link in enumerate(self.crosschain.links):
            for end in ("source", "target"):
                if getattr(link, end) not in names:
                    fail(f"crosschain.links[{i}].{end}", f"{getattr(link, end)!r} is not a "
                         f"network; networks are: {', '.join(names)}")
            if link.source == link.target:
                fail(f"crosschain.links[{i}]", "a network cannot import from itself")
        if self.crosschain.enabled and not self.crosschain.links:
            fail("crosschain.links", "crosschain.enabled = true needs at least one link")

    def network(self, name: str) -> NetworkSection:
        for net in self.networks:
            if net.name == name:
                return net
        raise KeyError(name)

    def rule_of(self, network: NetworkSection) -> str:
        return network.rule or self.aggregation.rule

    def with_overrides(self, *, seed: int | None = None, rounds: int | None = None,
                       crosschain: bool = True) -> "ExperimentConfig":
        """The config with the command line's overrides (`crosschain=False` isolates)."""
        experiment = dataclasses.replace(
            self.experiment,
            seed=self.experiment.seed if seed is None else seed,
            rounds=self.experiment.rounds if rounds is None else rounds)
        exchange = self.crosschain if crosschain else dataclasses.replace(
            self.crosschain, enabled=False)
        return dataclasses.replace(self, experiment=experiment, crosschain=exchange)


def parse_config(table: dict[str, Any]) -> ExperimentConfig:
    """Validate a TOML-shaped dict into an `ExperimentConfig`."""
    return load_section(ExperimentConfig, table, "")


def read_toml(path: str | Path, example: str = "examples/quickstart.toml") -> dict:
    """A TOML file as a dict; a missing file or bad TOML is a ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist; see examples/ for "
                          f"ready configs, e.g. {example}")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate a TOML config file."""
    return parse_config(read_toml(path))


def dump_config(config: ExperimentConfig) -> str:
    """The resolved config as TOML text (written to the run's output folder)."""
    return _to_toml(to_table(config))


def _to_toml(table: dict, prefix: str = "") -> str:
    scalars, tables, arrays = [], [], []
    for key, value in table.items():
        if isinstance(value, dict) and key not in ("params", "attack_params"):
            tables.append((key, value))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            arrays.append((key, value))
        else:
            scalars.append(f"{key} = {_toml_value(value)}")
    out = "\n".join(scalars) + ("\n" if scalars else "")
    for key, value in tables:
        name = f"{prefix}{key}"
        out += f"\n[{name}]\n" + _to_toml(value, f"{name}.")
    for key, items in arrays:
        name = f"{prefix}{key}"
        for item in items:
            out += f"\n[[{name}]]\n" + _to_toml(item, f"{name}.")
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


__all__ = ["ConfigError", "ExperimentConfig", "NetworkSection", "load_config",
           "parse_config", "dump_config"]
