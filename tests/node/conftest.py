"""Fixtures of the node-mode tests (real anvil processes, real `poft node` processes).

`crash_cluster`: one network (2 workers, 4 stakers, 2 validators, 2 miners) whose
rounds the tests open themselves (`--open-rounds none`), so each test can crash
a process at a known point of a round. Every process is stopped by PID at
teardown, also when a test fails.
"""

from __future__ import annotations

import pytest

from node_support import ANVIL, ANVIL_SKIP, Cluster, config_toml  # noqa: E402

CRASH_NETWORK = {"name": "solo", "workers": 2, "stakers": 4, "validators": 2, "miners": 2}


@pytest.fixture(scope="module")
def crash_cluster(tmp_path_factory):
    if ANVIL is None:
        pytest.skip(ANVIL_SKIP)
    folder = tmp_path_factory.mktemp("crash")
    cluster = Cluster(folder, config_toml([CRASH_NETWORK], rounds=4, phase_blocks=20))
    try:
        cluster.start_network("solo", "--open-rounds", "none")
        cluster.wait_ready()
        yield cluster
    finally:
        cluster.close()
