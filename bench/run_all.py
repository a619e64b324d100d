"""`make bench`: every benchmark, one table, and ``bench/results.json``.

    python -m bench.run_all [--quick] [--only NAME ...] [--out bench/results.json]

Each benchmark module here exposes ``figures(quick) -> list[Figure]`` (see
``bench/figures.py``); every figure is a ratio or amount measured side by side
in the same run. A benchmark that fails is reported with its error and the
others still run; the exit status is 1 then. ``--quick`` shrinks every
benchmark to a smoke test (its figures are not comparable with a full run,
so they go to ``bench/results-quick.json`` unless ``--out`` says otherwise).
"""

from __future__ import annotations

import argparse
import importlib
import os
import time
import traceback
from pathlib import Path

# Before torch loads: idle OpenMP threads sleep instead of spinning, so a
# benchmark's threads do not steal the cores from the next one's.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

HERE = Path(__file__).resolve().parent

from bench.figures import Figure, table, write_results  # noqa: E402

# Order: quick, self-contained ones first; the long runs last.
BENCHMARKS = {
    "commitment": "Merkle commitment vs raw SHA-256",
    "onchain_bytes": "on-chain bytes per model vs raw-weight fragments",
    "batched_eval": "batched vs looped validator evaluation",
    "overhead": "ledger overhead and gas per role (quickstart)",
    "ledger": "one round's transactions, embedded EVM vs anvil",
    "crosschain": "cross-chain exchange share (two-networks)",
    "grid_cells": "robustness-grid cells per hour: --jobs 1, --jobs 2, local Ray",
    "flower": "poft vs Flower FedAvg, client-updates per second",
    "scale": "4 networks x 10/50/100 workers x 10 rounds",
}


def run_one(name: str, quick: bool) -> tuple[list[Figure], str | None]:
    started = time.perf_counter()
    print(f"== {name}: {BENCHMARKS[name]}", flush=True)
    try:
        module = importlib.import_module(f"bench.{name}")
        figures = module.figures(quick=quick)
    except Exception as exc:     # one broken benchmark must not hide the others
        traceback.print_exc()
        return [], f"{type(exc).__name__}: {exc}"
    print(table(figures))
    print(f"   ({time.perf_counter() - started:.0f} s)\n", flush=True)
    return figures, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), metavar="NAME",
                        help=f"run only these ({', '.join(BENCHMARKS)})")
    parser.add_argument("--out", type=Path, help="results file (default bench/results.json, "
                                                 "bench/results-quick.json with --quick)")
    args = parser.parse_args(argv)
    out = args.out or HERE / ("results-quick.json" if args.quick else "results.json")
    names = [n for n in BENCHMARKS if not args.only or n in args.only]

    all_figures, failures = [], {}
    for name in names:
        figures, error = run_one(name, args.quick)
        all_figures += figures
        if error:
            failures[name] = error
    write_results(all_figures, out)

    print("== all benchmarks" + (" (quick: smoke-test sizes, not the real figures)"
                                 if args.quick else ""))
    print(table(all_figures))
    targeted = [f for f in all_figures if f.target is not None]
    held = sum(bool(f.holds) for f in targeted)
    print(f"\n{held} of {len(targeted)} targets hold; written to {out}")
    for name, error in failures.items():
        print(f"FAILED {name}: {error}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
