"""One executor for a round's training and the grid's cells: serially, in a process
pool or on Ray, the same config and seed give the same results.

The Ray tests run on a local Ray (``ray.init(num_cpus=2)``, started once for the
module). `make test` installs Ray (the optional `cluster` extra); elsewhere they are
skipped, with the reason.
"""

import csv
import sys
import textwrap

import pytest
import torch

from poft.config.experiment import ConfigError, parse_config
from poft.drivers.executor import SerialExecutor, TrainJob, open_executor
from poft.experiment.robustness import main as robustness_main
from poft.experiment.robustness import run_robustness
from poft.experiment.run import run_experiment
from training_support import trainers_and_start

GRID = """
[experiment]
name = "cluster-grid"
rounds = 2
threads = 1

[data]
dataset = "digits"
validator_samples = 100

[model]
name = "mlp"
hidden = 16

[[networks]]
name = "digits"
workers = 6
stakers = 4
validators = 3
miners = 1

[grid]
aggregators = ["softmax", "median"]
attacks = ["sign_flip"]
byzantine_fractions = [0.3]
partitions = ["iid"]
seeds = [0]
"""
TIMINGS = {"seconds", "train_s", "evaluate_s", "aggregate_s"}


def tiny(**experiment) -> dict:
    net = {"name": "alpha", "workers": 5, "stakers": 4, "validators": 3, "miners": 1,
           "byzantine_fraction": 0.2, "attack": "alie"}
    return {
        "experiment": {"name": "tiny", "rounds": 2, "seed": 0, **experiment},
        "data": {"dataset": "digits", "validator_samples": 100},
        "model": {"name": "mlp", "hidden": 16},
        "ledger": {"phase_blocks": 40},
        "networks": [net],
    }


def train_with(executor, start):
    generators = [torch.Generator().manual_seed(10 + i) for i in range(3)]
    with executor:
        vectors = executor.train([TrainJob(i, start, generators[i]) for i in range(3)])
    return vectors, [torch.rand(1, generator=g) for g in generators]


def grid_rows(out) -> list[dict]:
    with (out / "robustness.csv").open() as handle:
        rows = [{k: v for k, v in row.items() if k not in TIMINGS} for row in csv.DictReader(handle)]
    return sorted(rows, key=lambda r: r["aggregator"])


def _square(shared, item):
    return shared * item * item


# ---------------------------------------------------------------- without Ray

def test_executors_map_in_order_and_unordered():
    with open_executor(3, 1) as serial:
        assert isinstance(serial, SerialExecutor)
        assert list(serial.map(_square, [1, 2, 3])) == [3, 12, 27]
    with open_executor(3, 2, fork=False) as pool:
        assert list(pool.map(_square, range(6))) == [3 * i * i for i in range(6)]
        assert sorted(pool.map_unordered(_square, range(6))) == [3 * i * i for i in range(6)]


def test_grid_jobs_2_writes_the_same_rows_as_jobs_1(tmp_path):
    (tmp_path / "grid.toml").write_text(GRID)
    run_robustness(tmp_path / "grid.toml", tmp_path / "one", progress=False, jobs=1)
    run_robustness(tmp_path / "grid.toml", tmp_path / "two", progress=False, jobs=2)
    assert len(grid_rows(tmp_path / "one")) == 2
    assert grid_rows(tmp_path / "two") == grid_rows(tmp_path / "one")


@pytest.mark.parametrize("cluster", ["auto", "local", "ray://head:10001", "10.0.0.5:6379"])
def test_cluster_addresses_accepted(cluster):
    assert parse_config(tiny(cluster=cluster)).experiment.cluster == cluster


@pytest.mark.parametrize("cluster", ["", "head", "ray://head", "http://x:y"])
def test_bad_cluster_address_is_refused(cluster):
    with pytest.raises(ConfigError, match="experiment.cluster"):
        parse_config(tiny(cluster=cluster))


def test_grid_refuses_a_bad_cluster_address(tmp_path, capsys):
    (tmp_path / "grid.toml").write_text(GRID)
    with pytest.raises(SystemExit) as exit_:
        robustness_main([str(tmp_path / "grid.toml"), "--cluster", "nowhere"])
    assert exit_.value.code == 2
    assert "not a Ray cluster" in capsys.readouterr().err


def test_without_ray_the_error_says_how_to_install_it(monkeypatch):
    from poft.drivers.ray_executor import import_ray
    from poft.errors import InputError

    monkeypatch.setitem(sys.modules, "ray", None)     # `import ray` raises ImportError
    with pytest.raises(InputError, match=r"poft\[cluster\]"):
        import_ray()


# ---------------------------------------------------------------- on a local Ray

@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="Ray is not installed (the optional `cluster` "
                                            "extra: make cluster-setup)")
    from poft.drivers.ray_executor import _init_args

    if ray.is_initialized():
        ray.shutdown()
    ray.init(**{**_init_args("local"), "num_cpus": 2})
    yield ray
    ray.shutdown()


def test_ray_trains_the_same_vectors_and_generators_as_serial(local_ray):
    trainers, start = trainers_and_start()
    serial, after_serial = train_with(SerialExecutor(trainers), start)
    on_ray, after_ray = train_with(open_executor(trainers, 2, cluster="auto"), start)
    assert all(torch.equal(a, b) for a, b in zip(serial, on_ray))
    assert after_serial == after_ray


def test_ray_run_finalizes_the_same_root_as_serial(local_ray, tmp_path):
    serial = run_experiment(parse_config(tiny(parallel_workers=1)), tmp_path / "serial",
                            progress=False)
    on_ray = run_experiment(parse_config(tiny(parallel_workers=2, cluster="auto")),
                            tmp_path / "ray", progress=False)
    assert on_ray["networks"]["alpha"]["finalized_rounds"] == 2
    assert on_ray["networks"]["alpha"]["final_root"] == serial["networks"]["alpha"]["final_root"]
    assert 'cluster = "auto"' in (tmp_path / "ray" / "config.toml").read_text()


def test_grid_on_ray_writes_the_same_rows_as_jobs_1(local_ray, tmp_path):
    (tmp_path / "grid.toml").write_text(textwrap.dedent(GRID))
    run_robustness(tmp_path / "grid.toml", tmp_path / "one", progress=False, jobs=1)
    run_robustness(tmp_path / "grid.toml", tmp_path / "ray", progress=False, cluster="auto")
    assert len(grid_rows(tmp_path / "one")) == 2
    assert grid_rows(tmp_path / "ray") == grid_rows(tmp_path / "one")
