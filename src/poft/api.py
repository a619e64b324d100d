"""Run poft from Python with your own model and data.

    import poft.api as poft

    result = poft.run(
        {"experiment": {"rounds": 3}, "networks": [{"name": "alpha", "workers": 6}]},
        model_fn=lambda input_shape, num_classes: MyNet(input_shape, num_classes),
        train=(x_train, y_train), test=(x_test, y_test),
        out="runs/mine")
    print(result.summary["networks"]["alpha"]["final_accuracy"])
    assert result.verify(recompute=True).ok

`run` is `poft run` with the config's dataset and model replaced by yours: the
same protocol (stake-sampled validators score every update on their own data,
the miner aggregates, validators recompute and attest, the chain finalizes and
settles), the same output folder (config.toml, metrics.jsonl, summary.json,
report.html, models/, deployment.json, blobs/, chain/) and the same
verification (`poft verify MODEL --deployment OUT/deployment.json --recompute`,
or `result.verify()`), which needs neither your model code nor your data: it
checks the committed parameter bytes against the chain.

- `config`: an `ExperimentConfig`, a dict shaped like the TOML file, or the path
  of a TOML file (docs/config.md lists every key). Everything in it applies,
  except `[data] dataset` / `data_dir` when you pass `train`/`test` and
  `[model]` when you pass `model_fn`.
- `model_fn(input_shape, num_classes) -> nn.Module`: called once, with torch
  seeded by the experiment's seed, for the genesis model every network starts
  from. The module must hold float parameters only (no persistent buffers such
  as BatchNorm's running statistics: the chain commits a model by its
  parameters) and map a batch to logits of shape `(batch, num_classes)`.
- `train`, `test`: a `poft.learning.datasets.ArrayDataset`, an `(x, y)` pair of
  tensors or numpy arrays (integer labels), or a map-style `torch` Dataset of
  `(x, y)` items. `num_classes` defaults to one more than the largest label.
- Who holds which data is the config's, drawn from the seed
  (`poft.config.population`): the training set is split between the networks
  (`[data] network_partition`); inside a network each staker (validator or
  miner when sampled) takes `[data] validator_samples` samples of it as its own
  scoring data, and the rest is split among the workers (`partition`).
  `[data] train_samples` / `test_samples` subsample your sets as they do the
  built-in ones. The test set only measures the global model's accuracy.

The API drives the embedded backend (every network on its own in-process EVM).
Node mode (`poft run --backend anvil` or `hardhat`) starts one process per
participant that loads data and model from the config, so it runs the built-in
datasets and models only: `run(config, backend="anvil")` (or "hardhat") without
`model_fn`/`train`/`test`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from poft.commitment import load_canonical
from poft.config.experiment import ExperimentConfig, load_config, parse_config
from poft.config.schema import ConfigError
from poft.drivers.setup import ExperimentInputs, initial_model, load_experiment_data
from poft.errors import InputError
from poft.experiment.run import run_experiment
from poft.experiment.verify import VerifyResult, verify_model
from poft.learning.datasets import ArrayDataset
from poft.learning.user_data import as_array_dataset

ModelFn = Callable[[tuple[int, ...], int], torch.nn.Module]

__all__ = ["run", "verify", "RunResult", "ArrayDataset", "ExperimentConfig"]


@dataclass
class RunResult:
    """A finished run: its output folder, summary (summary.json) and resolved config."""

    out: Path
    summary: dict
    config: ExperimentConfig
    model_fn: ModelFn | None = None
    input_shape: tuple[int, ...] = ()
    num_classes: int = 0

    @property
    def deployment(self) -> Path:
        return self.out / "deployment.json"

    def final_model_path(self, network: str | None = None) -> Path:
        """The final global model of `network` (default: the first), canonical bytes."""
        return Path(self.summary["networks"][self._network(network)]["final_model"])

    def model(self, network: str | None = None) -> torch.nn.Module:
        """The final global model of `network` as a module (your `model_fn`'s, or the
        config's architecture) with the finalized parameters loaded."""
        state = load_canonical(self.final_model_path(network).read_bytes())
        with torch.random.fork_rng(devices=[]):
            if self.model_fn is not None:
                module = self.model_fn(self.input_shape, self.num_classes)
            else:
                data = ArrayDataset(torch.zeros((1, *self.input_shape)), torch.zeros(1),
                                    self.num_classes)
                module = initial_model(self.config, data)
        module.load_state_dict(state)
        return module.eval()

    def verify(self, network: str | None = None, *, recompute: bool = False) -> VerifyResult:
        """`poft verify` on the final model of `network` (default: the first)."""
        return verify(self.final_model_path(network), self.deployment, recompute=recompute)

    def _network(self, network: str | None) -> str:
        names = list(self.summary["networks"])
        if network is None:
            return names[0]
        if network not in names:
            raise InputError(f"no network {network!r}; networks are: {', '.join(names)}")
        return network


def load(config: ExperimentConfig | dict | str | Path) -> ExperimentConfig:
    """A config from an `ExperimentConfig`, a TOML-shaped dict or a TOML file path."""
    if isinstance(config, ExperimentConfig):
        return config
    if isinstance(config, dict):
        return parse_config(config)
    if isinstance(config, (str, Path)):
        return load_config(config)
    raise ConfigError(f"config must be an ExperimentConfig, a dict or a TOML path, "
                      f"got {type(config).__name__}")


def run(config: ExperimentConfig | dict | str | Path, *, model_fn: ModelFn | None = None,
        train: Any = None, test: Any = None, num_classes: int | None = None,
        out: str | Path | None = None, seed: int | None = None, rounds: int | None = None,
        crosschain: bool = True, backend: str = "embedded", progress: bool = False
        ) -> RunResult:
    """Run an experiment; see the module's docstring. Returns a `RunResult` once every
    round of every network has run and the outputs are written to `out` (default:
    runs/<experiment name>)."""
    cfg = load(config).with_overrides(seed=seed, rounds=rounds, crosschain=crosschain)
    folder = Path(out) if out is not None else Path("runs") / cfg.experiment.name
    if backend not in ("embedded", "anvil", "hardhat"):
        raise InputError(f"backend {backend!r} is not allowed; choose 'embedded', 'anvil' "
                         "or 'hardhat'")
    if backend in ("anvil", "hardhat"):
        if model_fn is not None or train is not None or test is not None:
            raise InputError(f"node mode (backend={backend!r}) runs the config's dataset and model "
                             "in separate processes; own model_fn/train/test need the "
                             "embedded backend")
        from poft.drivers.node.runner import run_node_mode

        summary = run_node_mode(cfg, folder, progress=progress, node=backend)
        return _result(folder, summary, cfg, None, None)
    inputs = _inputs(model_fn, train, test, num_classes)
    summary = run_experiment(cfg, folder, progress=progress, inputs=inputs)
    return _result(folder, summary, cfg, inputs, model_fn)


def verify(model_file: str | Path, deployment: str | Path, *, recompute: bool = False
           ) -> VerifyResult:
    """`poft verify`: the model's lineage on chain; `.ok`, `.reason`, `.render()`."""
    return verify_model(model_file, deployment, recompute=recompute)


def _inputs(model_fn, train, test, num_classes) -> ExperimentInputs | None:
    if model_fn is None and train is None and test is None:
        return None
    if model_fn is not None and not callable(model_fn):
        raise InputError(f"model_fn must be callable (input_shape, num_classes) -> nn.Module, "
                         f"got {type(model_fn).__name__}")
    if (train is None) != (test is None):
        raise InputError("pass both train= and test= (or neither, for the config's dataset)")
    if train is not None:
        train = as_array_dataset(train, num_classes, "train")
        test = as_array_dataset(test, num_classes, "test")
        if num_classes is None:
            classes = max(train.num_classes, test.num_classes)
            train = dataclasses.replace(train, num_classes=classes)
            test = dataclasses.replace(test, num_classes=classes)
        if train.input_shape != test.input_shape:
            raise InputError(f"train samples have shape {train.input_shape}, test samples "
                             f"{test.input_shape}; they must match")
    label = getattr(model_fn, "__qualname__", None) or type(model_fn).__name__
    return ExperimentInputs(train=train, test=test, model_fn=model_fn,
                            model_label=f"own model ({label})" if model_fn else None,
                            data_label=(f"own data ({len(train)} train, {len(test)} test, "
                                        f"{train.num_classes} classes)") if train else None)


def _result(folder: Path, summary: dict, cfg: ExperimentConfig,
            inputs: ExperimentInputs | None, model_fn) -> RunResult:
    data = load_experiment_data(cfg, inputs) if inputs is None or inputs.train is None else None
    train = inputs.train if inputs is not None and inputs.train is not None else data.train
    return RunResult(out=folder, summary=summary, config=cfg, model_fn=model_fn,
                     input_shape=train.input_shape, num_classes=train.num_classes)
