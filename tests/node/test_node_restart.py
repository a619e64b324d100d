"""`poft run --backend anvil` restarts a node that crashes: the run goes on and
completes, and the restart is logged (logs/supervisor.log)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from node_support import ANVIL, ANVIL_SKIP, config_toml
from poft.drivers.chain.commands import chain_down
from poft.drivers.node.log import read_events
from poft.drivers.node.supervisor import poft_command

pytestmark = pytest.mark.anvil


def test_a_killed_node_is_restarted_and_the_run_completes(tmp_path):
    if ANVIL is None:
        pytest.skip(ANVIL_SKIP)
    config = tmp_path / "solo.toml"
    config.write_text(config_toml([{"name": "solo", "workers": 2, "stakers": 3,
                                    "validators": 2, "miners": 1}], rounds=2,
                                  phase_blocks=20))
    out = tmp_path / "out"
    run = subprocess.Popen(poft_command("run", str(config), "--backend", "anvil", "--out",
                                        str(out), "--no-progress"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        victim_log = None
        deadline = time.monotonic() + 400
        while victim_log is None:              # a worker node that is up and running
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "no node got ready"
            victim_log = next((p for p in sorted((out / "logs").glob("*worker-*.log"))
                               if read_events(p, "ready")), None) if (out / "logs").is_dir() \
                else None
            time.sleep(0.5)
        pid = read_events(victim_log, "ready")[-1]["pid"]
        os.kill(pid, signal.SIGKILL)           # the node crashes mid-run
        stdout, stderr = run.communicate(timeout=600)
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGINT)
            run.communicate(timeout=120)
        if (out / "deployment.json").is_file():
            chain_down(out / "deployment.json", log=lambda *_: None)
    assert run.returncode == 0, stdout + stderr
    notes = [json.loads(line) for line in
             (out / "logs" / "supervisor.log").read_text().splitlines()]
    assert any(n["event"] == "restarted" and n["status"] == -signal.SIGKILL for n in notes)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["networks"]["solo"]["rounds"] == 2
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert all(r["gas"] for r in records)      # per-round gas from the chain (item 6)
