"""Convex study: the optimum is a true optimum and softmax's gap shrinks."""

import csv

import pytest

from poft.config.experiment import ConfigError
from poft.experiment.convex import load_convex_config, run_convex

CONFIG = """
[experiment]
rounds = 6
threads = 1

[data]
dataset = "convex"
train_samples = 6000
test_samples = 500
validator_samples = 300

[model]
name = "logreg"

[training]
local_epochs = 5
batch_size = 6000
lr = 1.0
momentum = 0.9

[aggregation]
temperature = 0.5

[[networks]]
name = "convex"
workers = 6
stakers = 4
validators = 3
miners = 1
byzantine_fraction = 0.34
attack = "gaussian"

[convex]
rules = ["softmax", "mean"]
"""


def test_softmax_gap_decreases_and_beats_mean_under_gaussian_attack(tmp_path):
    path = tmp_path / "convex.toml"
    path.write_text(CONFIG)
    summary = run_convex(path, tmp_path / "out", progress=False)
    assert summary["gradient_norm"] < 1e-6                # θ* is a stationary point
    gaps = summary["rules"]["softmax"]["gaps"]
    assert len(gaps) == 7                                  # round 0 and 6 rounds
    assert min(gaps) >= -1e-9                              # nothing beats the optimum
    assert gaps[-1] < gaps[0] / 20
    assert gaps[-1] < gaps[2] < gaps[0]
    assert gaps[-1] < summary["rules"]["mean"]["final_gap"]
    with (tmp_path / "out" / "convex.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 14 and {r["rule"] for r in rows} == {"softmax", "mean"}
    assert (tmp_path / "out" / "convex_gap.png").stat().st_size > 0


def test_convex_study_refuses_a_non_convex_model(tmp_path):
    path = tmp_path / "convex.toml"
    path.write_text(CONFIG.replace('name = "logreg"', 'name = "mlp"'))
    with pytest.raises(ConfigError, match="model.name.*'logreg'"):
        load_convex_config(path)
