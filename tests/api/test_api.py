"""The Python API (`poft.api`): own model and data, same outputs and verification as `poft run`."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import poft.api
from poft.cli import main as poft_cli
from poft.config.schema import ConfigError
from poft.errors import InputError
from poft.learning.training import evaluate
from poft.learning.user_data import as_array_dataset

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_model.py"


def load_example():
    spec = importlib.util.spec_from_file_location("custom_model_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("custom")
    previous = torch.get_num_threads()
    try:
        result = load_example().main(["--out", str(out), "--rounds", "2"])
    finally:
        torch.set_num_threads(previous)
    return out, result


def test_the_example_writes_the_usual_outputs(example_run):
    out, result = example_run
    for name in ("config.toml", "metrics.jsonl", "summary.json", "report.html", "deployment.json",
                 "models/alpha/round-1.safetensors", "models/alpha/round-2.safetensors"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary == json.loads(json.dumps(result.summary))
    assert summary["setup"]["model"] == "own model (make_model)"
    assert summary["setup"]["data"].startswith("own data (426 train, 143 test, 2 classes)")
    assert (out / "config.toml").read_text().startswith("# data: own data")
    alpha = summary["networks"]["alpha"]
    assert alpha["rounds"] == 2 and alpha["finalized_rounds"] == 2
    assert alpha["final_accuracy"] > 0.8
    # every round paid reward_per_round (1 ether) to the workers by weight; the
    # Byzantine worker (sign flipping) got a small share of it
    paid = alpha["rewards"]["honest_workers"] + alpha["rewards"]["byzantine_workers"]
    assert paid == pytest.approx(2.0, abs=1e-9)
    assert 0 <= summary["byzantine_reward_share"] < 0.2
    assert "What ran" in (out / "report.html").read_text()


def test_the_final_model_verifies_with_recompute(example_run, capsys):
    out, result = example_run
    model = out / "models" / "alpha" / "round-2.safetensors"
    assert poft_cli(["verify", str(model), "--deployment", str(out / "deployment.json"),
                     "--recompute"]) == 0
    assert "VERIFIED" in capsys.readouterr().out
    assert result.verify().ok


def test_the_result_gives_back_the_trained_module(example_run):
    _, result = example_run
    example = load_example()
    module = result.model()
    assert type(module).__name__ == "TabularMLP"
    _, accuracy = evaluate(module, as_array_dataset(example.BreastCancer("test")))
    assert accuracy == pytest.approx(result.summary["networks"]["alpha"]["final_accuracy"])


# ---- input checks: refused before anything is deployed

CONFIG = {"experiment": {"rounds": 1}, "data": {"validator_samples": 10},
          "networks": [{"name": "alpha", "workers": 2, "stakers": 3, "validators": 1, "miners": 1}]}


def pairs(n=80, features=5, classes=3):
    rng = np.random.default_rng(0)
    return (rng.normal(size=(n, features)), rng.integers(0, classes, n))


def test_a_model_with_running_statistics_is_refused(tmp_path):
    def with_batchnorm(shape, classes):
        return nn.Sequential(nn.Linear(shape[0], 8), nn.BatchNorm1d(8), nn.Linear(8, classes))

    with pytest.raises(InputError, match="buffers.*running_mean"):
        poft.api.run(CONFIG, model_fn=with_batchnorm, train=pairs(), test=pairs(20),
                     out=tmp_path)


def test_a_model_with_the_wrong_output_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"expected logits of shape \(2, 3\)"):
        poft.api.run(CONFIG, model_fn=lambda shape, classes: nn.Linear(shape[0], 7),
                     train=pairs(), test=pairs(20), out=tmp_path)


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(ConfigError, match="experiment.round"):
        poft.api.run({"experiment": {"round": 1}, "networks": [{"name": "a"}]}, out=tmp_path)
    with pytest.raises(InputError, match="both train= and test="):
        poft.api.run(CONFIG, train=pairs(), out=tmp_path)
    with pytest.raises(InputError, match="embedded backend"):
        poft.api.run(CONFIG, train=pairs(), test=pairs(20), backend="anvil", out=tmp_path)
    with pytest.raises(InputError, match="labels must be integers"):
        as_array_dataset((np.zeros((3, 2)), np.array([0.5, 1.0, 2.0])))


def test_datasets_tensors_and_arrays_become_array_datasets():
    x, y = pairs(10)
    from_arrays = as_array_dataset((x, y))
    from_tensors = as_array_dataset((torch.tensor(x), torch.tensor(y)), num_classes=4)
    items = [(torch.tensor(x[i]), int(y[i])) for i in range(10)]
    from_items = as_array_dataset(items)
    assert from_arrays.input_shape == (5,) and from_arrays.x.dtype == torch.float32
    assert from_tensors.num_classes == 4
    assert torch.equal(from_items.x, from_arrays.x) and torch.equal(from_items.y, from_arrays.y)
