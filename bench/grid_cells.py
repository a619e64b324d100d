"""Robustness-grid cells per hour: ``--jobs 1``, ``--jobs 2`` and a local Ray.

    python -m bench.grid_cells [--quick] [--repeats N]

Six tiny cells (the 8x8 digits, the small CNN, 6 workers, 10 rounds; 3
aggregators x 2 seeds) are run by `poft.experiment.robustness.run_cells` -- the grid's own
loop -- three ways, through the one executor (`poft.drivers.executor`):

* ``jobs1``: one after the other in this process (``--jobs 1``; each cell trains
  its workers in its own pool of one process per core, the config's default);
* ``jobs2``: a pool of 2 spawned processes, one torch thread each (``--jobs 2``),
  its start-up counted;
* ``ray``: Ray actors, one CPU each, on a Ray started here once beforehand with
  one CPU per core (as a running cluster would be: `ray start` is not counted;
  starting the actors is), i.e. ``--cluster auto``.

The three run in alternating order, ``repeats`` times; each figure is the median.
Every way must give the same rows (timings aside), checked on each run. Context
figures only: on a 2-core machine shared with other work, the pools' gain over
``--jobs 1`` is bounded by 2 and eaten by their start-up on cells this small;
the point of Ray is more machines. Skipped without Ray (the ``cluster`` extra).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from bench.figures import Figure, context, repeats_arg, table  # noqa: E402
from poft.experiment.robustness import run_cell, run_cells  # noqa: E402
from poft.experiment.robustness_grid import cell_config, load_robustness_config  # noqa: E402

GRID = """
[experiment]
name = "bench-grid"
rounds = {rounds}
threads = 1

[data]
dataset = "digits"
validator_samples = 100

[model]
name = "{model}"
hidden = 32

[[networks]]
name = "digits"
workers = 6
stakers = 4
validators = 3
miners = 1

[grid]
aggregators = {aggregators}
attacks = ["sign_flip"]
byzantine_fractions = [0.3]
partitions = ["iid"]
seeds = {seeds}
"""
TIMINGS = {"seconds", "train_s", "evaluate_s", "aggregate_s"}


def tiny_grid(quick: bool) -> list:
    """The cells and their configs (6 cells of ~1 s on an idle core; 2 smaller with
    ``quick``)."""
    aggregators = '["softmax", "median", "mean"]' if not quick else '["softmax"]'
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "grid.toml"
        path.write_text(GRID.format(aggregators=aggregators, seeds="[0, 1]", model="cnn",
                                    rounds=3 if quick else 10))
        base, grid = load_robustness_config(path)
    return [(cell, cell_config(base, grid, cell)) for cell in grid.cells()]


def timed(todo: list, jobs: int, cluster: str | None) -> tuple[float, list[dict]]:
    started = time.perf_counter()
    rows = list(run_cells(todo, jobs, cluster))
    seconds = time.perf_counter() - started
    rows = sorted(({k: v for k, v in r.items() if k not in TIMINGS} for r in rows),
                  key=lambda r: (r["aggregator"], r["seed"]))
    return seconds, rows


def start_ray():
    """A local Ray (one CPU per core) and its start-up seconds, or (None, 0) without Ray."""
    try:
        import ray
    except ImportError:
        print("   (Ray is not installed: the ray figures are skipped; make cluster-setup)")
        return None, 0.0
    from poft.drivers.ray_executor import _init_args

    started = time.perf_counter()
    if not ray.is_initialized():
        ray.init(**_init_args("local"))
    return ray, time.perf_counter() - started


def measure(quick: bool = False, repeats: int = 3) -> dict:
    todo = tiny_grid(quick)
    run_cell(*todo[0])                  # this process's own warm-up (imports, first ops)
    ray, ray_start = start_ray()
    modes = {"jobs1": (1, None), "jobs2": (2, None)}
    if ray is not None:
        modes["ray"] = (2, "auto")      # 2 actors: one per CPU of this machine
    seconds: dict[str, list[float]] = {mode: [] for mode in modes}
    reference = None
    try:
        for repeat in range(repeats):
            order = list(modes) if repeat % 2 == 0 else list(reversed(modes))
            for mode in order:
                took, rows = timed(todo, *modes[mode])
                if reference is None:
                    reference = rows
                elif rows != reference:
                    raise RuntimeError(f"{mode} gave other rows than the first run")
                seconds[mode].append(took)
                print(f"   repeat {repeat + 1}: {mode:5} {took:6.1f} s", flush=True)
    finally:
        if ray is not None:
            ray.shutdown()
    return {"cells": len(todo), "ray_start_s": ray_start,
            "median_s": {m: statistics.median(s) for m, s in seconds.items()},
            "seconds": seconds}


def ratio(seconds: dict[str, list[float]], mode: str) -> float:
    """``mode``'s speed over ``jobs1``'s: the median of each repeat's ratio."""
    return statistics.median(a / b for a, b in zip(seconds["jobs1"], seconds[mode]))


def figures(quick: bool = False, repeats: int = 3) -> list[Figure]:
    r = measure(quick, repeats=1 if quick else repeats)
    cells, med = r["cells"], r["median_s"]
    rate = {m: 3600 * cells / s for m, s in med.items()}
    out = [context("grid_cells_per_hour_jobs1", rate["jobs1"], "cells/h",
                   f"{cells} tiny cells in turn, median {med['jobs1']:.1f} s"),
           context("grid_cells_per_hour_jobs2", rate["jobs2"], "cells/h",
                   f"a pool of 2 processes (start-up counted), median {med['jobs2']:.1f} s")]
    if "ray" in rate:
        out += [context("grid_cells_per_hour_ray", rate["ray"], "cells/h",
                        f"2 Ray actors on a local Ray (actors' start counted), median "
                        f"{med['ray']:.1f} s"),
                context("grid_ray_start_s", r["ray_start_s"], "s",
                        "ray.init of the local Ray (not counted above, like a running cluster)")]
    for mode in ("jobs2", "ray"):
        if mode in rate:
            out.append(context(f"grid_{mode}_vs_jobs1", ratio(r["seconds"], mode), "x",
                               "cells/h, the same tiny cells: median of the repeats' ratios"))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 cells, one repeat")
    parser.add_argument("--repeats", type=repeats_arg, default=3, help="alternating repeats (3)")
    args = parser.parse_args(argv)
    print(table(figures(args.quick, args.repeats)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
