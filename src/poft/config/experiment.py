"""The experiment config: TOML, validated on load.

An experiment is one or more *networks* (each its own chain, ledger and
participants) trained for a number of rounds, optionally exchanging finalized
models across chains. `load_config(path)` reads a TOML file and returns an
`ExperimentConfig`; any unknown key or bad value raises `ConfigError` naming the
key, the value and what is allowed (see `poft.config.schema`).

Example (examples/quickstart.toml)::

    [experiment]
    name = "quickstart"
    rounds = 8               # on Fashion-MNIST, the default dataset

    [[networks]]
    name = "alpha"
    workers = 10
    byzantine_fraction = 0.2
    attack = "sign_flip"
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from poft.attacks import param_problem as attack_param_problem
from poft.config.rule_params import check_rule_params
from poft.config.schema import (
    ConfigError,
    bounded,
    fail,
    load_section,
    option,
    path_name_problem,
    read_toml,
    to_table,
)
from poft.config.toml_text import to_toml

Dataset = Literal["fashion_mnist", "digits", "convex"]
ModelName = Literal["logreg", "mlp", "cnn"]
RuleName = Literal["softmax", "mean", "median", "trimmed_mean", "krum", "multi_krum",
                   "geometric_median", "centered_clipping", "fltrust", "bulyan", "robust_softmax"]
AttackName = Literal["none", "label_flip", "sign_flip", "gaussian", "scaling", "alie",
                     "ipm", "backdoor", "min_max", "min_sum", "gate_edge", "score_match"]
PartitionName = Literal["iid", "dirichlet", "label_skew"]
WorkerPartition = Literal["iid", "dirichlet"]
Backend = Literal["embedded", "anvil", "hardhat"]
ImportPolicy = Literal["candidate", "init", "merge"]


@dataclass
class ExperimentSection:
    """The run as a whole."""

    name: str = option("poft", doc="the run's name: the default output folder is "
                       "runs/<name>, and the report's title; letters, digits, '.', '_', '-'")
    seed: int = bounded(0, min=0, max=2**32 - 1, doc="seeds everything: data split, population plan, genesis "
                        "model, participants' RNGs and the embedded chains (`poft run --seed`)")
    rounds: int = bounded(10, min=1, max=10_000, doc="federated rounds per network "
                          "(`poft run --rounds`)")
    # One by default: local training in batches of 32 ran 1.5x faster on one thread than
    # on two on a 2-core machine (0.075 vs 0.111 s per CNN update; idle threads wake up
    # for every small op).
    threads: int = bounded(1, min=0, max=256, doc="torch threads (0: torch's default, one "
                           "per core)")
    parallel_workers: int = bounded(0, min=0, max=256, doc="processes that train a round's "
                                    "workers side by side, one torch thread each (0: one per "
                                    "core; 1: in this process, one after the other); the same "
                                    "config and seed give the same models either way when "
                                    "`threads` is 1, the default (a reduction over two "
                                    "threads rounds differently) (`poft run --parallel`)")
    cluster: str | None = option(None, doc="a Ray cluster that trains a round's workers "
                                 "(`parallel_workers` actors, 0: one per CPU of the "
                                 "cluster): \"auto\" (the cluster this machine belongs to), "
                                 "\"ray://host:port\" (Ray Client), \"host:port\" (a "
                                 "cluster's GCS address) or \"local\" (a Ray started here); "
                                 "needs the `cluster` extra, the same models either way "
                                 "(`poft run --cluster`)")

    def check(self, path: str) -> None:
        if (problem := path_name_problem(self.name)) is not None:
            fail(f"{path}.name", problem)
        if self.cluster is not None:
            check_cluster(self.cluster, f"{path}.cluster")


@dataclass
class DataSection:
    """The data set and who holds which part of it (`poft.config.population`)."""

    dataset: Dataset = option("fashion_mnist", doc="fashion_mnist: Fashion-MNIST from local "
                              "IDX files (28x28 images, 10 classes; never downloaded); digits: "
                              "scikit-learn's bundled 8x8 digits; convex: synthetic multinomial "
                              "logistic-regression data. Ignored when the Python API is given "
                              "its own train/test sets")
    data_dir: str | None = option(None, doc="folder of the Fashion-MNIST IDX files (default: "
                                  "$POFT_DATA_DIR, else /usr/share/datasets/fashion-mnist)")
    train_samples: int | None = bounded(None, min=10, doc="random subsample of the training "
                                        "set (default: all of it)")
    test_samples: int | None = bounded(None, min=10, doc="random subsample of the test set "
                                       "(default: all of it)")
    validator_samples: int = bounded(500, min=10, doc="samples of its network's training "
                                     "share each staker keeps as its own scoring data (taken "
                                     "before the workers' split)")
    network_partition: PartitionName = option("iid", doc="how the networks share the training "
                                              "set: iid, dirichlet (label shares drawn with "
                                              "`network_alpha`) or label_skew (each network "
                                              "the classes listed in its `classes`)")
    network_alpha: float = bounded(0.5, min=1e-6, doc="Dirichlet concentration across "
                                   "networks (smaller: more skewed)")


@dataclass
class ModelSection:
    """The architecture every network trains (the Python API's `model_fn` replaces it)."""

    name: ModelName = option("cnn", doc="logreg: multinomial logistic regression; mlp: one "
                             "hidden ReLU layer; cnn: two 3x3 conv + 2x2 max-pool stages, "
                             "then linear (image data only)")
    hidden: int = bounded(128, min=1, doc="hidden width of `mlp`")


@dataclass
class TrainingSection:
    """Workers' local training (SGD) in each round."""

    local_epochs: int = bounded(1, min=1, max=1000, doc="passes over the worker's own data "
                                "per round")
    batch_size: int = bounded(32, min=1, doc="SGD mini-batch size")
    lr: float = bounded(0.05, above=0.0, doc="SGD learning rate")
    momentum: float = bounded(0.9, min=0.0, max=1.0, doc="SGD momentum")
    weight_decay: float = bounded(0.0, min=0.0, doc="SGD weight decay (L2)")


@dataclass
class AggregationSection:
    """How the miner combines the round's candidates (every network, unless a network sets
    its own `rule`)."""

    rule: RuleName = option("robust_softmax", doc="robust_softmax (default): SABFL with robust "
                            "scores: validators report each candidate's contribution to a "
                            "robust aggregate and its cosine with their own update; the miner "
                            "weights the candidates that pass the direction gate by softmax of "
                            "the median contribution, on updates clipped to the median norm "
                            "(params: temperature, gate_z, clamp, gate, clip, clip_discount, "
                            "split_duplicates, duplicate_power, history, history_mads, "
                            "history_neighbours, cap_radius, discount_admissible, score_floor, cap, "
                            "momentum); "
                            "softmax: the paper's SABFL, w = softmax(-L/T) of each candidate's "
                            "validator-scored loss; mean: FedAvg (the plain average); median, "
                            "trimmed_mean, krum, multi_krum, geometric_median, centered_clipping, "
                            "bulyan: robust baselines over the admissible updates (rewarded "
                            "uniformly); fltrust: `poft bench robustness` only (no ledger)")
    temperature: float = bounded(0.05, min=1e-9, doc="softmax temperature T (smaller: "
                                 "weight concentrates on the lowest losses)")
    params: dict = option(default_factory=dict, doc="extra parameters of the baseline rules, "
                          "e.g. {f = 2} (updates to tolerate: median, trimmed_mean, krum, "
                          "multi_krum, bulyan; default: the network's Byzantine workers), "
                          "{m = 3} (multi_krum), {tau = 10.0, iterations = 1} "
                          "(centered_clipping)")
    tolerance: float = bounded(1e-5, min=0.0, doc="largest |difference| the validators "
                               "accept between their recomputed aggregate and the miner's")


@dataclass
class LedgerSection:
    """The FederatedLedger contract's economics and deadlines (amounts in ether)."""

    phase_blocks: int = bounded(1000, min=2, doc="deadline of each phase, in blocks (raised "
                                "to workers + 8 where that is more); anyone may advance a "
                                "phase past it")
    stake: float = bounded(32.0, min=0.0, doc="each staker's stake")
    worker_stake: float = bounded(0.0, min=0.0, doc="each worker's stake")
    min_stake: float = bounded(1.0, min=0.0, doc="least stake to be sampled for the committee")
    slash_bps: int = bounded(1000, min=0, max=10_000, doc="share of the stake slashed for "
                             "misbehaviour, in basis points (1000 = 10%): a rejected or late "
                             "proposal (miner), a missing report (validator)")
    reward_per_round: float = bounded(1.0, min=0.0, doc="paid to the workers each finalized "
                                      "round, by their aggregation weights")
    validator_reward: float = bounded(0.01, min=0.0, doc="paid to each validator per timely "
                                      "report")
    reward_pool: float = bounded(100.0, min=0.0, doc="funded at deployment; rewards are paid "
                                 "from it (pro rata when short), slashed stake goes into it")


@dataclass
class NetworkSection:
    """One network: its own chain, ledger, participants and data share (`[[networks]]`,
    one table per network)."""

    name: str = option(doc="unique name of the network (output folders, links): letters, "
                       "digits, '.', '_' and '-'")
    backend: Backend = option("embedded", doc="not read by `poft run`: the backend of every "
                              "network is chosen on the command line (`poft run --backend "
                              "embedded|anvil|hardhat`)")
    workers: int = bounded(10, min=1, max=1000, doc="participants that train "
                         "(the contract holds 1,100 participants)")
    stakers: int = bounded(5, min=1, max=50, doc="committee-eligible participants (validator "
                           "or miner when sampled); at least validators + miners")
    validators: int = bounded(3, min=1, max=32, doc="committee size k: validators sampled by "
                              "stake each round")
    miners: int = bounded(2, min=1, max=8, doc="miners sampled each round: the first proposes, "
                          "the others back it up in order")
    classes: list[int] = option(default_factory=list, doc="the network's classes when "
                                "`data.network_partition = \"label_skew\"`")
    partition: WorkerPartition = option("iid", doc="how the network's workers split its data: "
                                        "iid or dirichlet (label shares drawn with `alpha`)")
    alpha: float = bounded(0.5, min=1e-6, doc="Dirichlet concentration among the workers")
    byzantine_fraction: float = bounded(0.0, min=0.0, max=0.9, doc="share of the workers that "
                                        "are Byzantine (rounded to whole workers), chosen by "
                                        "the seed; needs an `attack`")
    attack: AttackName = option("none", doc="what the Byzantine workers do: label_flip, "
                                "backdoor (poisoned data); sign_flip, gaussian, scaling, alie, "
                                "ipm (crafted updates, colluding)")
    attack_params: dict = option(default_factory=dict, doc="the attack's parameters, e.g. "
                                 "{factor = 10.0} (scaling), {scale = 1.0} (sign_flip), "
                                 "{mu = 0.0, sigma = 1.0} (gaussian), {epsilon = 0.1} (ipm), "
                                 "{target = 0} (backdoor)")
    lying_validators: int = bounded(0, min=0, doc="stakers that report random losses")
    malicious_miner: bool = option(False, doc="the first staker proposes a wrong aggregate "
                                   "whenever it is the round's miner (it is rejected and "
                                   "slashed; a backup miner takes over)")
    import_policy: ImportPolicy = option("candidate", doc="use of an imported cross-chain "
                                         "model: candidate (one more candidate, weighted like "
                                         "any update); init (workers also start from it); "
                                         "merge (workers start from the midpoint of the "
                                         "global model and the import)")
    rule: RuleName | None = option(None, doc="this network's aggregation rule, overriding "
                                   "`aggregation.rule`")

    def check(self, path: str) -> None:
        if (problem := path_name_problem(self.name)) is not None:
            fail(f"{path}.name", problem)
        if self.validators + self.miners > self.stakers:
            fail(f"{path}.stakers", f"{self.stakers} stakers cannot fill a committee of "
                 f"{self.validators} validators + {self.miners} miners; raise stakers "
                 f"or lower validators/miners")
        if self.lying_validators > self.stakers:
            fail(f"{path}.lying_validators", f"{self.lying_validators} is more than the "
                 f"{self.stakers} stakers")
        if (problem := attack_param_problem(self.attack, self.attack_params)) is not None:
            fail(f"{path}.attack_params", problem)
        if self.byzantine_fraction > 0 and self.attack == "none":
            fail(f"{path}.attack", "byzantine_fraction > 0 needs an attack, e.g. 'sign_flip'")
        if self.attack != "none" and self.byzantine_workers == 0:
            # Else the run reads as "robust to this attack" with no attacker in it.
            fail(f"{path}.byzantine_fraction", f"{self.byzantine_fraction} of "
                 f"{self.workers} workers makes no Byzantine worker, so attack "
                 f"{self.attack!r} would not run; use at least {1 / self.workers:.3g} "
                 f"(one worker) or attack = 'none'")

    @property
    def byzantine_workers(self) -> int:
        return int(round(self.byzantine_fraction * self.workers))


@dataclass
class LinkSection:
    """One direction of the cross-chain exchange: `target` imports `source`'s models."""

    source: str = option(doc="the exporting network's name")
    target: str = option(doc="the importing network's name")


@dataclass
class CrosschainSection:
    """The PoFT exchange of finalized models between networks."""

    enabled: bool = option(False, doc="exchange models (`poft run --no-crosschain` turns it "
                           "off)")
    every: int = bounded(1, min=1, doc="export a source's finalized model every N rounds")
    links: list[LinkSection] = option(default_factory=list, doc="the links, e.g. "
                                      "[{source = \"alpha\", target = \"beta\"}]")


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
        check_rule_params(self.aggregation.params,
                          [(n.name, self.rule_of(n), n.workers) for n in self.networks])
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
                       crosschain: bool = True, parallel_workers: int | None = None,
                       cluster: str | None = None) -> "ExperimentConfig":
        """The config with the command line's overrides (`crosschain=False` isolates)."""
        overrides = {k: v for k, v in (("seed", seed), ("rounds", rounds),
                                       ("parallel_workers", parallel_workers),
                                       ("cluster", cluster)) if v is not None}
        table = dataclasses.asdict(self.experiment)
        # Checked like the file's own values (`--rounds 0` is refused, not run). The file's
        # own values passed already, so an error is an override's: it names the flag.
        try:
            experiment = load_section(type(self.experiment), {**table, **overrides},
                                      "experiment")
        except ConfigError as exc:
            for key, value in overrides.items():
                where = f"config error at 'experiment.{key}'"
                if where in str(exc):
                    raise ConfigError(str(exc).replace(
                        where, f"{OVERRIDE_FLAGS[key]} {value} (overrides experiment.{key})"
                    )) from None
            raise
        exchange = self.crosschain if crosschain else dataclasses.replace(
            self.crosschain, enabled=False)
        return dataclasses.replace(self, experiment=experiment, crosschain=exchange)


# The `poft run` flag that overrides each [experiment] key (named in its errors).
OVERRIDE_FLAGS = {"seed": "--seed", "rounds": "--rounds", "parallel_workers": "--parallel",
                  "cluster": "--cluster"}


def check_cluster(cluster: str, path: str = "cluster") -> str:
    """``cluster`` if it names a Ray cluster, else `ConfigError`."""
    host, _, port = cluster.removeprefix("ray://").rpartition(":")
    if cluster not in ("auto", "local") and not (host and port.isdigit()):
        fail(path, f"{cluster!r} is not a Ray cluster; use \"auto\", \"local\", "
                   f"\"ray://host:port\" or \"host:port\"")
    return cluster


def parse_config(table: dict[str, Any]) -> ExperimentConfig:
    """Validate a TOML-shaped dict into an `ExperimentConfig`."""
    return load_section(ExperimentConfig, table, "")


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate a TOML config file."""
    return parse_config(read_toml(path))


def dump_config(config: ExperimentConfig) -> str:
    """The resolved config as TOML text (written to the run's output folder)."""
    return to_toml(to_table(config))


__all__ = ["ConfigError", "ExperimentConfig", "NetworkSection", "load_config",
           "parse_config", "dump_config"]
