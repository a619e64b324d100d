"""`poft run --backend anvil` stops everything it started when interrupted."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from node_support import ANVIL, ANVIL_SKIP, config_toml
from poft.drivers.chain.processes import is_our_anvil
from poft.drivers.node.supervisor import poft_command

pytestmark = pytest.mark.anvil


def processes_mentioning(text: str) -> dict[int, str]:
    """{PID: command line} of the live processes whose command line names `text` (the
    test's unique output folder)."""
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            zombie = "\nState:\tZ" in (proc / "status").read_text()
        except OSError:
            continue
        if text in cmdline and not zombie:
            found[int(proc.name)] = cmdline.replace("\0", " ")
    return found


def test_ctrl_c_stops_nodes_store_and_chains(tmp_path):
    if ANVIL is None:
        pytest.skip(ANVIL_SKIP)
    config = tmp_path / "one.toml"
    config.write_text(config_toml([{"name": "solo", "workers": 2, "stakers": 3,
                                    "validators": 2, "miners": 1}], rounds=3, phase_blocks=20))
    out = tmp_path / "interrupted-run"
    runner = subprocess.Popen(poft_command("run", str(config), "--backend", "anvil", "--out",
                                           str(out), "--no-progress"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(list((out / "logs").glob("solo-*.log"))) < 3:
            assert runner.poll() is None, runner.communicate()
            assert time.monotonic() < deadline, "the run did not start its nodes"
            time.sleep(0.2)
        assert processes_mentioning(str(out))             # nodes, store and chains are up
        runner.send_signal(signal.SIGINT)                  # what Ctrl-C delivers
        _, err = runner.communicate(timeout=90)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 130 and "interrupted" in err
    # Everything it started must be gone; a grandchild still unwinding when the
    # runner returns gets a few seconds (on a loaded machine, CI once saw one).
    deadline = time.monotonic() + 10
    while processes_mentioning(str(out)) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = processes_mentioning(str(out))
    assert left == {}, left
    anvil = json.loads((out / "deployment.json").read_text())["networks"]["solo"]["anvil"]
    assert anvil["pid"] is None and not is_our_anvil(anvil.get("pid") or 0, anvil["port"])
