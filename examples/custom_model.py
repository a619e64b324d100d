"""Your own model and data through poft's Python API (`poft.api`).

A small MLP, defined here, learns scikit-learn's bundled breast-cancer data set
(569 samples, 30 features, 2 classes; nothing is downloaded) on one network of
six workers, one of them Byzantine (sign flipping), with SABFL's softmax
aggregation on the embedded chain. The run writes the same files as `poft run`
(summary.json, report.html, models/, deployment.json, ...), and its final model
verifies on chain like any other:

    python examples/custom_model.py --out runs/custom-model
    poft verify runs/custom-model/models/alpha/round-3.safetensors \\
        --deployment runs/custom-model/deployment.json --recompute
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer
from torch import nn

import poft.api

# The experiment: anything of the TOML config (docs/config.md), as a dict.
CONFIG = {
    "experiment": {"name": "custom-model", "rounds": 3, "seed": 0},
    "data": {"validator_samples": 40},         # each staker's own scoring data
    "training": {"lr": 0.05, "batch_size": 16},
    "aggregation": {"rule": "softmax", "temperature": 0.05},
    "networks": [{"name": "alpha", "workers": 6, "stakers": 4, "validators": 2, "miners": 2,
                  "byzantine_fraction": 1 / 6, "attack": "sign_flip"}],
}


class TabularMLP(nn.Module):
    """Two hidden layers with LayerNorm (no running statistics: a model is its parameters)."""

    def __init__(self, features: int, classes: int, hidden: int = 32):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(features, hidden), nn.LayerNorm(hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def make_model(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """poft calls this once, seeded, for the genesis model every network starts from."""
    return TabularMLP(input_shape[0], num_classes)


class BreastCancer(torch.utils.data.Dataset):
    """A map-style torch Dataset: standardised features (by the training split's
    statistics) and integer labels; a seeded 75/25 split."""

    def __init__(self, split: str, seed: int = 0):
        x, y = load_breast_cancer(return_X_y=True)
        order = np.random.default_rng(seed).permutation(len(y))
        cut = int(0.75 * len(y))
        train = order[:cut]
        mean, std = x[train].mean(axis=0), x[train].std(axis=0) + 1e-8
        rows = train if split == "train" else order[cut:]
        self.x = torch.tensor((x[rows] - mean) / std, dtype=torch.float32)
        self.y = torch.tensor(y[rows], dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


def main(argv: list[str] | None = None) -> poft.api.RunResult:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/custom-model", help="output folder")
    parser.add_argument("--rounds", type=int, help="override the number of rounds")
    parser.add_argument("--progress", action="store_true", help="show a progress bar")
    args = parser.parse_args(argv)
    result = poft.api.run(CONFIG, model_fn=make_model, train=BreastCancer("train"),
                          test=BreastCancer("test"), out=args.out, rounds=args.rounds,
                          progress=args.progress)
    alpha = result.summary["networks"]["alpha"]
    print(f"final accuracy {alpha['final_accuracy']:.3f} after {alpha['rounds']} rounds; "
          f"Byzantine share of the workers' rewards {result.summary['byzantine_reward_share']:.3f}")
    print(f"final model: {result.final_model_path()}")
    print(f"report: {result.out / 'report.html'}")
    print(f"verify: poft verify {result.final_model_path()} --deployment {result.deployment} "
          "--recompute")
    return result


if __name__ == "__main__":
    main()
