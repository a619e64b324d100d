"""What every driver sets up the same way from a config and its seed.

The in-process driver, the no-ledger simulation and the node driver must train
the same participants on the same data from the same genesis model with the
same random streams, so that one config and `--seed` give comparable (and,
where the protocol allows, identical) numbers under all of them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from poft.attacks import DATA_ATTACKS
from poft.config.experiment import ExperimentConfig, NetworkSection
from poft.config.population import NetworkPlan, ParticipantPlan
from poft.learning.datasets import ArrayDataset, load_dataset
from poft.learning.models import build_model
from poft.protocol.aggregate import AggregationSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExperimentData:
    train: ArrayDataset
    test: ArrayDataset


def load_experiment_data(config: ExperimentConfig) -> ExperimentData:
    """The (subsampled) training and test sets. Digits' split and the convex data
    are drawn from the seed; the subsamples by one torch generator seeded with it,
    training set first."""
    d, seed = config.data, config.experiment.seed
    options = {"data_dir": d.data_dir} if d.data_dir else {}
    if d.dataset != "fashion_mnist":
        options = {"seed": seed}
    train = load_dataset(d.dataset, "train", **options)
    test = load_dataset(d.dataset, "test", **options)
    generator = torch.Generator().manual_seed(seed)
    for key, size, split in (("train_samples", d.train_samples, train),
                             ("test_samples", d.test_samples, test)):
        if size is not None and size > len(split):
            kind = "training" if key == "train_samples" else "test"
            log.warning("data.%s = %d is more than the %d samples of the %s %s set; using "
                        "all %d", key, size, len(split), d.dataset, kind, len(split))
    return ExperimentData(train=_subsample(train, d.train_samples, generator),
                          test=_subsample(test, d.test_samples, generator))


def _subsample(data: ArrayDataset, size: int | None, generator: torch.Generator
               ) -> ArrayDataset:
    if size is None or size >= len(data):
        return data     # a size above the data's was warned about by the caller
    return data.subset(torch.randperm(len(data), generator=generator)[:size].sort().values)


def initial_model(config: ExperimentConfig, data: ArrayDataset) -> torch.nn.Module:
    """The genesis model of every network (torch seeded with the experiment seed),
    leaving torch's global RNG as it was."""
    options = {"hidden": config.model.hidden} if config.model.name == "mlp" else {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.experiment.seed)
        return build_model(config.model.name, tuple(data.x.shape[1:]), data.num_classes,
                           **options)


def participant_seed(config: ExperimentConfig, plan: NetworkPlan, who: ParticipantPlan) -> int:
    """Each participant's own RNG seed (batch order, poisoning, noise)."""
    kind = 0 if who.kind == "worker" else 1
    return (config.experiment.seed * 1_000_003 + plan.network_index * 10_007
            + kind * 1009 + who.index)


def spec_of(config: ExperimentConfig, net: NetworkSection, rule: str | None = None
            ) -> AggregationSpec:
    """The network's aggregation rule and its parameters (`rule` overrides the config's)."""
    agg = config.aggregation
    return AggregationSpec(rule=rule or config.rule_of(net), temperature=agg.temperature,
                           params=dict(agg.params), tolerance=agg.tolerance,
                           assumed_byzantine=net.byzantine_workers)


def poisoned(data: ArrayDataset, net: NetworkSection, seed: int) -> ArrayDataset:
    """A Byzantine worker's data under a data attack (label flipping, backdoor); the
    backdoor draws its poisoned samples from a generator of its own."""
    params = dict(net.attack_params)
    if net.attack == "backdoor":
        params.setdefault("target", 0)
        params.setdefault("generator", torch.Generator().manual_seed(seed))
    return DATA_ATTACKS[net.attack](data, **params)
