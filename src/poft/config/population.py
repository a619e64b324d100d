"""Who takes part in an experiment, and which data each participant holds.

A pure, seeded plan from the config: the training set is split between the
networks (`data.network_partition`), then inside each network the stakers
(committee-eligible validators/miners) each take `data.validator_samples` as
their own scoring data and the rest is split among the workers
(`networks[i].partition`). Byzantine workers and lying validators are chosen
by the same seed. Both drivers build their roles from this plan, so an
in-process run and a node-mode run of one config have the same participants.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from poft.config.experiment import ExperimentConfig, NetworkSection
from poft.errors import InputError
from poft.learning.partition import split_indices


@dataclass(frozen=True)
class ParticipantPlan:
    network: str
    kind: str                 # "worker" or "staker"
    index: int                # position among the network's workers / stakers
    data_indices: np.ndarray  # into the (subsampled) training set
    byzantine: bool = False   # worker running the network's attack
    lying: bool = False       # staker reporting random losses

    @property
    def name(self) -> str:
        return f"{self.network}/{self.kind}-{self.index}"


@dataclass(frozen=True)
class NetworkPlan:
    config: NetworkSection
    network_index: int
    workers: list[ParticipantPlan] = field(default_factory=list)
    stakers: list[ParticipantPlan] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def byzantine_indices(self) -> list[int]:
        return [w.index for w in self.workers if w.byzantine]


def plan_population(config: ExperimentConfig, train_labels: np.ndarray) -> list[NetworkPlan]:
    """Split the data and mark adversaries, deterministically from the seed."""
    rng = np.random.default_rng(config.experiment.seed)
    shares = split_between_networks(config, train_labels, rng)
    return [plan_network(i, net, shares[i], train_labels, config.data.validator_samples, rng)
            for i, net in enumerate(config.networks)]


def split_between_networks(config: ExperimentConfig, labels: np.ndarray,
                           rng: np.random.Generator) -> list[np.ndarray]:
    n = len(config.networks)
    scheme = config.data.network_partition
    everything = np.arange(len(labels))
    if n == 1:
        return [everything]
    if scheme == "label_skew":
        return split_indices(everything, labels, "label_skew", n, rng,
                             class_groups=[net.classes for net in config.networks])
    if scheme == "dirichlet":
        return split_indices(everything, labels, "dirichlet", n, rng,
                             alpha=config.data.network_alpha)
    return split_indices(everything, labels, "iid", n, rng)


def plan_network(position: int, net: NetworkSection, indices: np.ndarray, labels: np.ndarray,
                 validator_samples: int, rng: np.random.Generator) -> NetworkPlan:
    needed = net.stakers * validator_samples + net.workers
    if len(indices) < needed:
        raise InputError(
            f"network {net.name!r} holds {len(indices)} training samples but needs at least "
            f"{needed} ({net.stakers} stakers x {validator_samples} validator samples + one "
            f"per worker); lower data.validator_samples or raise data.train_samples")
    shuffled = rng.permutation(indices)
    staker_pool = shuffled[: net.stakers * validator_samples]
    worker_pool = shuffled[net.stakers * validator_samples:]
    staker_parts = [np.sort(p) for p in np.split(staker_pool, net.stakers)]
    options = {"alpha": net.alpha} if net.partition == "dirichlet" else {}
    worker_parts = split_indices(worker_pool, labels, net.partition, net.workers, rng,
                                 **options)
    byzantine = set(rng.choice(net.workers, size=net.byzantine_workers, replace=False).tolist())
    lying = set(rng.choice(net.stakers, size=net.lying_validators, replace=False).tolist())
    workers = [ParticipantPlan(net.name, "worker", i, part, byzantine=i in byzantine)
               for i, part in enumerate(worker_parts)]
    stakers = [ParticipantPlan(net.name, "staker", i, part, lying=i in lying)
               for i, part in enumerate(staker_parts)]
    return NetworkPlan(net, position, workers, stakers)


__all__ = ["ParticipantPlan", "NetworkPlan", "plan_population"]
