"""Parallel local training gives the same models as serial training, bit for bit.

The same config and seed, run with the workers trained one after the other in
this process (`parallel_workers = 1`) and side by side in a pool of processes
(`poft run --parallel 2`), must finalize the same model roots on every network:
the pool draws each worker's batches from the same generator state, on one
thread, and the updates are submitted in the serial order (honest workers
first, colluding attackers crafting from them after).
"""

import json

import pytest
import torch

from poft.cli import main as poft
from poft.config.experiment import dump_config, parse_config
from poft.drivers.executor import ProcessExecutor, SerialExecutor, TrainJob
from poft.drivers.simulation import simulate
from poft.experiment.run import run_experiment
from training_support import trainers_and_start


def tiny(parallel: int) -> dict:
    net = {"name": "alpha", "workers": 6, "stakers": 5, "validators": 3, "miners": 2,
           "byzantine_fraction": 0.34, "attack": "alie"}
    return {
        "experiment": {"name": "tiny", "rounds": 2, "seed": 0, "parallel_workers": parallel},
        "data": {"dataset": "digits", "validator_samples": 100},
        "model": {"name": "mlp", "hidden": 32},
        "ledger": {"phase_blocks": 40},
        "networks": [net, {**net, "name": "beta", "import_policy": "merge"}],
        "crosschain": {"enabled": True, "links": [{"source": "alpha", "target": "beta"},
                                                   {"source": "beta", "target": "alpha"}]},
    }


def test_parallel_run_finalizes_the_same_models_as_serial(tmp_path):
    # report=False (what bench/overhead.py times) skips the HTML report and nothing else.
    serial = run_experiment(parse_config(tiny(1)), tmp_path / "serial", progress=False,
                            report=False)
    assert not (tmp_path / "serial" / "report.html").exists()
    assert (tmp_path / "serial" / "summary.json").exists()
    config = tmp_path / "tiny.toml"
    config.write_text(dump_config(parse_config(tiny(1))))
    assert poft(["run", str(config), "--out", str(tmp_path / "parallel"), "--parallel", "2",
                 "--no-progress"]) == 0
    parallel = json.loads((tmp_path / "parallel" / "summary.json").read_text())
    assert "parallel_workers = 2" in (tmp_path / "parallel" / "config.toml").read_text()
    assert (tmp_path / "parallel" / "report.html").exists()
    for name in ("alpha", "beta"):
        assert parallel["networks"][name]["final_root"] == serial["networks"][name]["final_root"]
        assert parallel["networks"][name]["finalized_rounds"] == 2


def test_parallel_simulation_gives_the_same_models_as_serial():
    serial, parallel = (simulate(parse_config(tiny(n))) for n in (1, 2))
    for name in ("alpha", "beta"):
        assert torch.equal(serial.network(name).final_model, parallel.network(name).final_model)


@pytest.mark.parametrize("fork", [True, False], ids=["fork", "spawn"])
def test_pool_leaves_each_generator_where_serial_training_does(fork, one_torch_thread):
    # The children train on one torch thread, so the serial run must too: a sum over
    # two threads rounds differently. Both start methods: the pool forks only where the
    # parent runs one thread, and spawns otherwise.
    trainers, start = trainers_and_start()

    def run(executor):
        generators = [torch.Generator().manual_seed(10 + i) for i in range(3)]
        with executor:
            vectors = executor.train([TrainJob(i, start, generators[i]) for i in range(3)])
        return vectors, [torch.rand(1, generator=g) for g in generators]

    (serial, after_serial) = run(SerialExecutor(trainers))
    (pooled, after_pooled) = run(ProcessExecutor(trainers, processes=2, fork=fork))
    assert all(torch.equal(a, b) for a, b in zip(serial, pooled))
    assert after_serial == after_pooled
