"""Cross-chain exchange overhead: the time PoFT's exchange takes (stakers sign
the checkpoint, the relayer relays it, the bridge verifies the signatures on
chain, the receiver fetches and checks the bytes) as a share of the run's time.

    python -m bench.crosschain [--rounds N] [--repeats N]

Runs ``examples/two-networks.toml`` (two networks, an exchange after every
round) with the full protocol on the embedded EVM and reads the exchange's
timed parts from the run's summary. Goal: <= 1% of the time. The share is
measured within each run (the exchange's parts over the run's total); a full
run repeats it 3 times and reports the median run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from bench.figures import Figure, at_most, context, median_item, repeats_arg  # noqa: E402
from poft.config.experiment import load_config  # noqa: E402
from poft.experiment.run import run_experiment  # noqa: E402

CONFIG = "examples/two-networks.toml"
GOAL_PERCENT = 1.0


def measure(rounds: int) -> dict:
    config = load_config(CONFIG).with_overrides(rounds=rounds)
    with tempfile.TemporaryDirectory() as out:
        summary = run_experiment(config, Path(out), progress=False)
    exchange = summary["crosschain"]
    return {"rounds": rounds, "total_s": summary["timing"]["total_s"],
            "exchange_s": summary["timing"]["crosschain_s"],
            "percent": 100 * exchange["overhead_fraction"], "imports": exchange["imports"],
            "breakdown_s": exchange["breakdown_s"],
            "accuracy": {n: s["final_accuracy"] for n, s in summary["networks"].items()}}


def median_run(rounds: int, repeats: int) -> dict:
    """The run whose exchange share is the median of `repeats` runs (the lower middle
    one for an even count), with every run's share under ``"percents"``."""
    runs = [measure(rounds) for _ in range(repeats)]
    return {**median_item(runs, lambda r: r["percent"]),
            "percents": sorted(r["percent"] for r in runs)}


def figures(quick: bool = False) -> list[Figure]:
    r = median_run(1 if quick else 4, 1 if quick else 3)
    parts = ", ".join(f"{k} {v:.2f} s" for k, v in r["breakdown_s"].items())
    runs = ", ".join(f"{p:.2f}" for p in r["percents"])
    return [at_most("crosschain_exchange_share", r["percent"], GOAL_PERCENT, "%",
                    f"{r['imports']} imports in {r['rounds']} rounds of two-networks: {parts}; "
                    f"the median of {len(r['percents'])} runs ({runs} %)"),
            context("crosschain_run_s", r["total_s"], "s", "the whole run, both networks")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--repeats", type=repeats_arg, default=3, help="runs; the median is shown (3)")
    args = parser.parse_args(argv)
    r = median_run(args.rounds, args.repeats)
    print(f"{CONFIG}, {args.rounds} rounds: {r['total_s']:.1f} s, {r['imports']} imports, "
          f"final accuracy {r['accuracy']}")
    for part, seconds in r["breakdown_s"].items():
        print(f"  {part:<16} {seconds:7.2f} s")
    print(f"exchange: {r['exchange_s']:.2f} s = {r['percent']:.2f}% of the run "
          f"(goal <= {GOAL_PERCENT}%); the median of {args.repeats} runs: "
          + ", ".join(f"{p:.2f}%" for p in r["percents"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
