"""bench/scale.py: the scaled configs, and one tiny `poft run` child measured."""

from __future__ import annotations

import math
import tomllib

import pytest

from poft.config.experiment import load_config


@pytest.fixture(scope="module")
def scale():
    import bench.scale
    return bench.scale


def test_base_config_is_the_100_worker_run(scale):
    config = load_config(scale.CONFIG)
    assert len(config.networks) == 4
    assert {n.workers for n in config.networks} == {100}
    assert config.crosschain.enabled and len(config.crosschain.links) == 4


def test_scaling_keeps_each_workers_share_of_data(scale, tmp_path):
    sizes = {}
    for workers in (10, 50, 100):
        config = load_config(scale.write_config(scale.CONFIG, workers, 3, tmp_path))
        assert {n.workers for n in config.networks} == {workers}
        assert config.experiment.rounds == 3
        sizes[workers] = config.data.train_samples
    base = tomllib.loads(scale.CONFIG.read_text())["data"]["train_samples"]
    assert sizes[100] == base
    # 4 networks x 4 stakers x 100 scoring samples, then 60 samples per worker
    assert sizes[10] == 1600 + 4 * 10 * 60 and sizes[50] == 1600 + 4 * 50 * 60


def test_one_tiny_run_is_measured(scale, tmp_path):
    result = scale.run_size(scale.CONFIG, 1, 1, tmp_path)
    assert result.completed, result.error
    assert result.networks == 4 and result.worker_rounds == 4
    assert 0.05 < result.peak_rss_gb < 8 and result.cpu_s > 0 and result.wall_s > 0
    assert set(result.accuracy) == {"alpha", "beta", "gamma", "delta"}
    figures = {f.name: f for f in scale.figures_of([[result]])}
    assert figures["scale_completes"].holds and figures["scale_peak_rss_gb"].holds
    assert math.isclose(figures["scale_growth_1_vs_1"].value, 1.0)


def test_child_peak_leaves_out_the_parents_memory(tmp_path):
    """wait4's ru_maxrss of a child counts the parent's memory the child copied until
    exec; bench.child_peak's figure is the child's own."""
    import json
    import os
    import subprocess
    import sys

    ballast = bytearray(600_000_000)
    ballast[::4096] = b"\x01" * len(range(0, len(ballast), 4096))     # resident
    out = tmp_path / "peak.json"
    child = subprocess.Popen([sys.executable, "-m", "bench.child_peak", str(out), "--help"],
                             stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    peak = json.loads(out.read_text())
    assert peak["exit"] == 0 and 0 < peak["self"] < 500_000_000
    assert usage.ru_maxrss * 1024 > 600_000_000         # what the old figure counted
    del ballast
