"""The default rule, robust_softmax, in node mode: every participant its own process on
an anvil chain, validators report 2n numbers per round, and `poft verify --recompute`
re-executes the aggregation from the chain and the store."""

from __future__ import annotations

import json

import pytest

from node_support import config_toml, poft_run, skip_unless_installed
from poft.drivers.chain.commands import chain_down

NETWORK = {"name": "solo", "workers": 5, "stakers": 4, "validators": 3, "miners": 1,
           "byzantine_fraction": 0.2, "attack": "sign_flip"}        # one attacker


@pytest.mark.anvil
def test_robust_softmax_runs_in_node_mode_and_verifies_with_recompute(tmp_path):
    skip_unless_installed("anvil")
    config = tmp_path / "robust.toml"
    config.write_text(config_toml([NETWORK], rounds=2, phase_blocks=30, partition="iid",
                                  rule="robust_softmax"))
    out = tmp_path / "out"
    done = poft_run("run", str(config), "--backend", "anvil", "--out", str(out),
                    "--no-progress", timeout=480)
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        summary = json.loads((out / "summary.json").read_text())
        assert summary["setup"]["networks"]["solo"]["rule"] == "robust_softmax"
        assert summary["networks"]["solo"]["finalized_rounds"] == 2
        records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        for rec in records:
            byzantine = [w for w, b in zip(rec["weights"], rec["byzantine"]) if b]
            assert byzantine == [0.0], rec       # the sign flip fails the direction gate
            assert sum(rec["weights"]) == pytest.approx(1.0, abs=1e-6)
        assert summary["networks"]["solo"]["byzantine_reward_share"] == 0.0
        deployment = str(out / "deployment.json")
        restarted = poft_run("chain", "restart", "--deployment", deployment)
        assert restarted.returncode == 0, restarted.stderr
        result = poft_run("verify", str(out / "models/solo/round-2.safetensors"),
                          "--deployment", deployment, "--recompute")
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith("VERIFIED")
    finally:
        if (out / "deployment.json").is_file():
            chain_down(out / "deployment.json", log=lambda *_: None)
