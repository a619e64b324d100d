"""What every driver sets up the same way from a config and its seed.

The in-process driver, the no-ledger simulation and the node driver must train
the same participants on the same data from the same genesis model with the
same random streams, so that one config and `--seed` give comparable (and,
where the protocol allows, identical) numbers under all of them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import torch

from poft.attacks import DATA_ATTACKS
from poft.config.experiment import ExperimentConfig, NetworkSection
from poft.config.population import NetworkPlan, ParticipantPlan
from poft.errors import InputError
from poft.learning.datasets import ArrayDataset, load_dataset
from poft.learning.models import build_model
from poft.protocol.aggregate import AggregationSpec

# Builds a model for samples of `input_shape` and `num_classes` classes (build_model's shape).
ModelFactory = Callable[[tuple[int, ...], int], torch.nn.Module]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExperimentData:
    train: ArrayDataset
    test: ArrayDataset


@dataclass(frozen=True)
class ExperimentInputs:
    """What the Python API (`poft.api`) passes in place of the config's `[data] dataset`
    and `[model]`: the user's own training and test sets and model factory. Either part
    may be absent (the config's choice is used); the protocol is the same."""

    train: ArrayDataset | None = None
    test: ArrayDataset | None = None
    model_fn: ModelFactory | None = None
    model_label: str | None = None    # what summary.json says the model was
    data_label: str | None = None     # likewise for the data

    def __post_init__(self) -> None:
        if (self.train is None) != (self.test is None):
            raise InputError("give both a training and a test set, or neither")


def load_experiment_data(config: ExperimentConfig, inputs: ExperimentInputs | None = None
                         ) -> ExperimentData:
    """The (subsampled) training and test sets: the config's dataset, or the user's own
    (`inputs`). Digits' split and the convex data are drawn from the seed; the
    subsamples by one torch generator seeded with it, training set first."""
    d, seed = config.data, config.experiment.seed
    if inputs is not None and inputs.train is not None:
        train, test = inputs.train, inputs.test
    else:
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


def initial_model(config: ExperimentConfig, data: ArrayDataset,
                  model_fn: ModelFactory | None = None) -> torch.nn.Module:
    """The genesis model of every network (torch seeded with the experiment seed),
    leaving torch's global RNG as it was: the config's `[model]`, or `model_fn`'s."""
    options = {"hidden": config.model.hidden} if config.model.name == "mlp" else {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.experiment.seed)
        if model_fn is None:
            return build_model(config.model.name, data.input_shape, data.num_classes,
                               **options)
        return check_model(model_fn(data.input_shape, data.num_classes), data)


def check_model(model, data: ArrayDataset) -> torch.nn.Module:
    """A user's model must be an `nn.Module` of float parameters only (the chain commits a
    model by its parameters) that maps a batch to `(batch, num_classes)` logits."""
    if not isinstance(model, torch.nn.Module):
        raise InputError(f"the model factory returned {type(model).__name__}, not a "
                         "torch.nn.Module")
    buffers = [name for name, _ in model.named_buffers()
               if name in model.state_dict()]
    if buffers:
        raise InputError(f"the model has buffers ({', '.join(buffers[:3])}): poft commits and "
                         "aggregates a model by its parameters only; use a norm without "
                         "running statistics (LayerNorm, GroupNorm) or register buffers "
                         "with persistent=False")
    if not model.state_dict():
        raise InputError("the model has no parameters")
    model.eval()
    with torch.no_grad():
        out = model(data.x[:2])
    model.train()
    expected = (min(2, len(data)), data.num_classes)
    if tuple(out.shape) != expected:
        raise InputError(f"the model maps a batch of {expected[0]} samples to shape "
                         f"{tuple(out.shape)}; expected logits of shape {expected}")
    return model


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
