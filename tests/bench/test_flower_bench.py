"""bench/flower.py without Flower: its error when Flower is missing, its workload
(the quick and full configs fit, and its clients reproduce poft's training), and
its figures. The Flower run itself is `python bench/flower.py --quick`."""

import importlib.util

import numpy as np
import pytest
import torch

import bench.flower as flower  # noqa: E402  (bench/flower.py)
from poft.config.experiment import parse_config  # noqa: E402
from poft.drivers.simulation import simulate  # noqa: E402
from poft.learning.params import flatten  # noqa: E402
from poft.learning.training import local_train  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")   # tests/conftest.py


def test_missing_flower_points_to_make_bench_setup(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("flwr", "ray") else real(name, *a))
    with pytest.raises(flower.FlowerMissing, match="make bench-setup"):
        flower.figures(quick=True)          # before any poft run starts
    assert flower.main(["--quick"]) == 2


@pytest.mark.parametrize("quick", [False, True])
def test_workloads_fit_their_population(quick):
    config = flower.workload(quick=quick)
    net = config.networks[0]
    assert (net.workers, net.byzantine_workers, config.rule_of(net)) == (10, 0, "mean")
    labels = np.arange(config.data.train_samples) % 10
    plan = flower.plan_population(config, labels)[0]
    sizes = {len(w.data_indices) for w in plan.workers}
    assert len(sizes) == 1, "equal shards: FedAvg's sample-count weights = poft's mean"


def test_flower_clients_train_as_poft_workers():
    """The ClientApp's training (shards, batch orders) plus FedAvg over equal shards
    gives poft's global model, here against the no-ledger driver on digits."""
    config = parse_config({
        "experiment": {"rounds": 2, "seed": 3},
        "data": {"dataset": "digits", "validator_samples": 20},
        "model": {"name": "mlp", "hidden": 16},
        "training": {"local_epochs": 2, "batch_size": 16},
        "aggregation": {"rule": "mean"},
        "networks": [{"name": "n", "workers": 4, "stakers": 2, "validators": 1, "miners": 1}]})
    expected = simulate(config).network().final_model
    work = flower.client_workload(config)
    model, plan, t = work["model"], work["plan"], config.training
    global_state = {k: v.clone() for k, v in model.state_dict().items()}
    for round_id in (1, 2):
        states = []
        for index, shard in enumerate(work["shards"]):
            model.load_state_dict(global_state)
            local_train(model, shard, epochs=t.local_epochs, batch_size=t.batch_size, lr=t.lr,
                        momentum=t.momentum, generator=flower.batch_order(
                            config, plan, index, round_id, len(shard)))
            states.append({k: v.clone() for k, v in model.state_dict().items()})
        sizes = torch.tensor([len(s) for s in work["shards"]], dtype=torch.float64)
        global_state = {k: (torch.stack([s[k].double() for s in states])
                            * (sizes / sizes.sum()).view(-1, *[1] * states[0][k].dim())
                            ).sum(0).float() for k in global_state}
    assert torch.allclose(flatten(global_state), expected, atol=1e-3)


def _run(poft_wall: float, flower_rounds: float, default_rounds: float) -> dict:
    flower = {"version": "1.41.0", "updates": 50, "wall_s": 40.0, "startup_s": 20.0,
              "load_s": 3.0, "actors": 2, "accuracy": 0.8}
    return {"poft": {"updates": 50, "wall_s": poft_wall, "setup_s": 2.0,
                     "rounds_s": poft_wall - 2.0, "accuracy": 0.8,
                     "phases_s": {"ledger": 1.0, "train": 4.0, "review": 0.01}},
            "flower": {**flower, "rounds_s": flower_rounds},
            "flower_default": {**flower, "actors": 1, "rounds_s": default_rounds}}


def test_figures_are_the_median_repeat_against_one_cpu_clients():
    r = {"shape": {"clients": 10, "rounds": 5, "updates": 50},
         "runs": [_run(10.0, 25.0, 30.0), _run(10.0, 5.0, 40.0), _run(20.0, 25.0, 20.0)]}
    figures = {f.name: f for f in flower.to_figures(r)}
    assert len(figures) == len(flower.to_figures(r))
    # speedups against 1 CPU per client: 2.5, 0.5, 1.25 -> the median repeat is the third
    speedup = figures["flower_speedup"]
    assert speedup.target == 2.0 and speedup.value == pytest.approx(1.25)
    assert not speedup.holds
    assert figures["flower_speedup_rounds_only"].value == pytest.approx(25 / 18)
    assert figures["flower_poft_rate"].value == pytest.approx(50 / 20)
    assert figures["flower_poft_rate"].note.endswith("; train 4.0 s; ledger 1.0 s")
    # against Flower's default: 3.0, 4.0, 1.0 -> its own median
    assert figures["flower_speedup_vs_default_clients"].value == pytest.approx(3.0)
    assert figures["flower_flwr_startup_s"].value == 20.0


def test_figures_hold_when_poft_is_twice_as_fast():
    r = {"shape": {"clients": 10, "rounds": 5, "updates": 50}, "runs": [_run(10.0, 25.0, 30.0)]}
    assert {f.name: f for f in flower.to_figures(r)}["flower_speedup"].holds
