"""report.html and summary.json's accounting, from synthetic records; rendered in headless
Chromium where it is installed (/usr/bin/chromium; Debian's `chromium` package)."""

import os
import re
import shutil
import subprocess
from collections import namedtuple
from pathlib import Path

import pytest

from poft.config.experiment import parse_config
from poft.outputs.economics import gas_by_role, round_money
from poft.outputs.report import render_report
from poft.outputs.summary import build_summary

CHROMIUM = "/usr/bin/chromium"
ETHER = 10**18
HONEST, BYZ, VAL, MINER = "0xaa", "0xbb", "0xcc", "0xdd"


def config():
    return parse_config({
        "experiment": {"name": "report-test", "rounds": 2},
        "aggregation": {"rule": "softmax", "temperature": 0.1},
        "crosschain": {"enabled": True, "links": [{"source": "alpha", "target": "beta"}]},
        "networks": [{"name": "alpha", "workers": 2, "byzantine_fraction": 0.5,
                      "attack": "sign_flip", "malicious_miner": True},
                     {"name": "beta", "workers": 2, "rule": "mean",
                      "partition": "dirichlet", "alpha": 0.3}]})


def record(network, r, *, weights, byzantine, imported=None, finalized=True, tried=1,
           rewards=None, slashed=None):
    n = len(weights)
    return {"network": network, "round": r, "accuracy": 0.5 + 0.1 * r, "loss": 1.0 / r,
            "model_root": f"{r:02d}" * 32, "finalized": finalized,
            "candidates": [f"0x{i:040x}" for i in range(n)], "byzantine": byzantine,
            "imported": imported or [False] * n, "weights": weights,
            "committee": [VAL], "miners_tried": [MINER] * tried,
            "seconds": {"train": 1.0, "ledger": 0.5},
            "gas": {"submit_update": 100_000 * n, "report_losses": 80_000, "propose": 50_000 * tried,
                    "settle": 40_000, "open_round": 30_000, "import_checkpoint": 70_000},
            "rewards": rewards or {}, "slashed": slashed or {}}


RECORDS = [
    record("alpha", 1, weights=[0.9, 0.1], byzantine=[False, True], tried=2,
           rewards={"honest_workers": 0.9, "byzantine_workers": 0.1, "validators": 0.01},
           slashed={"miners": 3.2}),
    record("beta", 1, weights=[0.5, 0.5], byzantine=[False, False],
           rewards={"honest_workers": 1.0, "validators": 0.01}),
    record("alpha", 2, weights=[0.0, 0.0], byzantine=[False, True], finalized=False, tried=2,
           slashed={"miners": 3.2, "validators": 3.2}),
    record("beta", 2, weights=[0.4, 0.4, 0.2], byzantine=[False, False, False],
           imported=[False, False, True], rewards={"honest_workers": 0.8, "validators": 0.01}),
]


class FakeDriver:
    timer = namedtuple("Timer", "totals")({"train": 4.0, "ledger": 2.0})

    def model_path(self, out, network, round_id):
        return out / "models" / network / f"round-{round_id}.safetensors"

    def crosschain_summary(self, total_s):
        return {"imports": 1, "rejected": 0, "overhead_fraction": 0.1,
                "breakdown_s": {"sign": 0.1, "relay": 0.1, "verify": 0.1, "fetch": 0.1}}

    def gas_summary(self):
        return {"alpha": {"propose": {"total": 200_000}, "register": {"total": 9}},
                "beta": {"import_checkpoint": {"total": 70_000}}}


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    summary = build_summary(config(), out, RECORDS, FakeDriver(), 10.0)
    return out, summary, render_report("report-test", summary, RECORDS)


def test_summary_accounts_rewards_slashing_and_failures(page):
    _, summary, _ = page
    alpha, beta = summary["networks"]["alpha"], summary["networks"]["beta"]
    assert alpha["finalized_rounds"] == 1 and alpha["failed_proposals"] == 3
    assert alpha["byzantine_weight_by_round"] == [0.1, 0.0]
    assert alpha["rewards"]["byzantine_workers"] == pytest.approx(0.1)
    assert alpha["slashed"] == {"honest_workers": 0.0, "byzantine_workers": 0.0,
                                "validators": 3.2, "miners": pytest.approx(6.4)}
    assert alpha["byzantine_reward_share"] == pytest.approx(0.1)
    assert beta["imports"] == [{"round": 2, "weight": 0.2}]
    # over all networks: 0.1 of 0.9 + 0.1 + 1.0 + 0.8 ether paid to workers
    assert summary["byzantine_reward_share"] == pytest.approx(0.1 / 2.8)
    setup = summary["setup"]["networks"]
    assert setup["alpha"]["rule_params"] == {"temperature": 0.1}
    assert setup["beta"]["rule"] == "mean (FedAvg)" and setup["beta"]["partition"] == "dirichlet (alpha 0.3)"
    assert setup["alpha"]["byzantine_workers"] == 1
    assert summary["gas_by_role"] == {"alpha": {"miners": 200_000, "setup": 9},
                                      "beta": {"relayer": 70_000}}


def test_the_page_says_what_ran_and_what_it_cost(page):
    _, _, text = page
    for heading in ("What ran", "Results", "Accuracy by round", "Byzantine weight by round",
                    "Weights: alpha", "Rewards and slashing", "Gas by role", "Imports",
                    "Model roots", "Time", "Cross-chain exchange"):
        assert f"<h2>{heading}</h2>" in text, heading
    assert "mean (FedAvg)" in text and "sign_flip" in text and "temperature=0.1" in text
    assert "0x" + "02" * 32 in text                        # full roots, copyable
    assert text.count("<p class='how'>") >= 9              # a sentence under each plot
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', text)
    assert len(images) == 9 and all(len(b) > 1000 for b in images)


def test_money_by_class_from_ledger_events():
    class Ledger:
        events_by_name = {
            "Rewarded": [{"account": HONEST, "amount": ETHER}, {"account": BYZ, "amount": ETHER // 4},
                         {"account": VAL, "amount": ETHER // 100}],
            "MinerSlashed": [{"miner": MINER, "amount": 3 * ETHER}],
            "Slashed": [{"account": MINER, "amount": 3 * ETHER},       # the miner slash again
                        {"account": MINER, "amount": 2 * ETHER},       # then absent as validator
                        {"account": VAL, "amount": ETHER}],
        }

        def events(self, name, round):
            return self.events_by_name[name]

    rewards, slashed = round_money(Ledger(), 1, workers={HONEST, BYZ}, byzantine={BYZ})
    assert rewards == {"honest_workers": 1.0, "byzantine_workers": 0.25, "validators": 0.01,
                       "miners": 0.0}
    assert slashed == {"honest_workers": 0.0, "byzantine_workers": 0.0, "validators": 3.0,
                       "miners": 3.0}
    assert gas_by_role({"attest": 5, "sign_checkpoint": 1, "deploy FederatedLedger": 7}) == {
        "validators": 6, "setup": 7}


CHECK_IMAGES = """<script>window.addEventListener('load', () => {
  const sizes = [...document.images].map(i => i.complete ? i.naturalWidth : 0);
  document.body.setAttribute('data-image-widths', sizes.join(','));
});</script>"""


@pytest.mark.skipif(not Path(CHROMIUM).exists(),
                    reason=f"{CHROMIUM} is missing (Debian: apt-get install chromium; `make setup` "
                           "tries it as root)")
def test_the_page_renders_in_chromium_without_errors(page, tmp_path):
    _, _, text = page
    probe = tmp_path / "report.html"
    probe.write_text(text.replace("</body>", CHECK_IMAGES + "</body>"))
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
             "--v=0", "--virtual-time-budget=5000"]
    done = subprocess.run(flags + ["--dump-dom", probe.as_uri()], capture_output=True, text=True,
                          timeout=120)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    widths = re.search(r'data-image-widths="([^"]*)"', done.stdout)
    assert widths, done.stdout[-500:] + done.stderr[-2000:]
    sizes = [int(w) for w in widths.group(1).split(",")]
    assert len(sizes) == 9 and min(sizes) > 100, sizes
    shot = tmp_path / "report.png"
    subprocess.run(flags + ["--window-size=1100,6000", f"--screenshot={shot}", probe.as_uri()],
                   capture_output=True, timeout=120, cwd=tmp_path)
    assert shot.is_file() and shot.stat().st_size > 50_000
    if keep := os.environ.get("POFT_REPORT_SCREENSHOT"):
        shutil.copy(shot, keep)
