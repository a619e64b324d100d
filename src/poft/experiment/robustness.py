"""`poft bench robustness CONFIG --out DIR`: aggregators against attacks, as a grid.

The config is an experiment config with one network (the base every cell
starts from) plus a ``[grid]`` table::

    [grid]
    aggregators = ["softmax", "mean", "median"]
    attacks = ["none", "sign_flip", "alie"]      # "none" = the clean baseline
    byzantine_fractions = [0.0, 0.2, 0.4]
    partitions = ["iid", "dirichlet:0.5"]        # the workers' split inside the network
    seeds = [0, 1]

    [grid.attack_params.backdoor]                # per-attack parameters (optional)
    target = 0
    [grid.rule_params.centered_clipping]         # per-rule parameters (optional)
    tau = 5.0

A *cell* is one (aggregator, attack, byzantine_fraction, partition, seed); the
grid is their product, less the combinations that do not make sense: the
attack "none" runs only at fraction 0 and every other attack only at
fractions > 0 (an attack with no attacker is the clean run; the table, the
cells and slices are `poft.experiment.robustness_grid`). Each cell is one
`simulate` run (the no-ledger driver, same computation as `poft run`) and one
row of ``robustness.csv``, appended as soon as the cell is done, so an
interrupted grid resumes where it stopped: cells already in the CSV are skipped.

Outputs in DIR: ``robustness.csv``, ``summary.md`` / ``summary.csv`` (per
aggregator: clean accuracy, mean and worst-case accuracy over attacks, overall
and per (byzantine_fraction, partition); seeds are averaged first),
``heatmap.png`` (aggregator x attack at the largest fraction),
``accuracy_by_round.png`` (per attack at the largest fraction), and
``base.toml`` (the resolved base config: a resumed run refuses to mix cells of
a different base). ``--jobs N`` runs N cells side by side, each in its own
process with one torch thread; ``--cluster ADDRESS`` runs them on a Ray cluster
(one CPU a cell; ``--jobs`` cells at a time, else one per CPU of the cluster),
through the same executor (`poft.drivers.executor`) that trains a run's workers.
Every node loads its cells' data itself: the data must be at the same place on
every node (``POFT_DATA_DIR``).

A *slice* runs part of a config's grid into the same folder: ``--fractions 0,0.3
--partitions iid,dirichlet:0.1 --seeds 0`` keeps only those values (each must be
one the config lists), so slices of the reference grid add up to the full grid
and never run a cell twice.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import time
from pathlib import Path

from tqdm import tqdm

from poft.config.experiment import ConfigError, ExperimentConfig, check_cluster, dump_config
from poft.drivers.executor import open_executor
from poft.drivers.simulation import SimulationResult, simulate
from poft.errors import InputError
from poft.experiment.robustness_grid import (
    Cell,
    GridSection,
    cell_config,
    load_robustness_config,
    parse_robustness_config,
    slice_grid,
)
from poft.experiment.robustness_report import COLUMNS, KEY_COLUMNS, row_key, write_reports
from poft.interrupts import raise_if_interrupted
from poft.outputs.folder import output_path

# ---------------------------------------------------------------- the CSV

def read_rows(csv_path: Path) -> list[dict]:
    if not csv_path.is_file() or csv_path.stat().st_size == 0:
        return []
    with csv_path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in KEY_COLUMNS + ["final_accuracy"] if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{csv_path} lacks the columns {missing}; it was not written by "
                             f"`poft bench robustness`; choose another --out folder")
        return list(reader)


def result_row(cell: Cell, result: SimulationResult, seconds: float) -> dict:
    net = result.network()
    last_weights = net.weights_by_round[-1]
    byzantine_weight = sum(w for w, bad in zip(last_weights, net.byzantine) if bad)
    backdoor = net.backdoor_success
    return {
        "aggregator": cell.aggregator, "attack": cell.attack,
        "byzantine_fraction": f"{cell.byzantine_fraction:g}", "partition": cell.partition,
        "seed": cell.seed,
        "final_accuracy": f"{net.final_accuracy:.6f}",
        "worst_round_accuracy": f"{net.worst_round_accuracy:.6f}",
        "backdoor_success": "" if backdoor is None else f"{backdoor:.6f}",
        "byzantine_weight": f"{byzantine_weight:.6f}",
        "byzantine_reward_share": f"{byzantine_reward_share(net):.6f}",
        "rounds": len(net.accuracy_by_round),
        "seconds": f"{seconds:.3f}",
        **{k: f"{result.timing[k]:.3f}" for k in ("train_s", "evaluate_s", "aggregate_s")},
        "accuracy_by_round": " ".join(f"{a:.4f}" for a in net.accuracy_by_round),
    }


def byzantine_reward_share(net) -> float:
    """The Byzantine workers' share of the workers' rewards over the run, as the ledger
    pays them: every settled round shares the same reward in proportion to the
    weights, so the share is Σ_rounds Byzantine weight / Σ_rounds total weight (a
    failed round pays nothing; 0 when no round settled)."""
    byzantine = sum(w for weights in net.weights_by_round
                    for w, bad in zip(weights, net.byzantine) if bad)
    total = sum(sum(weights) for weights in net.weights_by_round)
    return byzantine / total if total > 0 else 0.0


def append_row(csv_path: Path, row: dict) -> None:
    new = not csv_path.is_file() or csv_path.stat().st_size == 0
    # Resuming into a CSV of an older poft: keep its header (a new column is left out).
    fields = COLUMNS if new else _header(csv_path)
    with csv_path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)


def _header(csv_path: Path) -> list[str]:
    with csv_path.open(newline="") as handle:
        return next(csv.reader(handle))


def check_same_base(out: Path, base: ExperimentConfig) -> None:
    """Refuse to resume into a folder whose cells came from a different base config."""
    resolved = dump_config(base)
    marker = out / "base.toml"
    if marker.is_file() and marker.read_text() != resolved:
        raise ConfigError(f"{out} holds a grid run from a different base config (see "
                          f"{marker}); its cells would not be comparable. Use another "
                          f"--out folder, or delete {out} to start over")
    marker.write_text(resolved)


# ---------------------------------------------------------------- summary

def run_robustness(config_path: str | Path, out_dir: str | Path, *, progress: bool = True,
                   jobs: int | None = None, keep: dict | None = None,
                   cluster: str | None = None) -> list[dict]:
    """Run the grid's missing cells, then write the summary and plots.

    ``jobs > 1`` runs that many cells side by side in separate processes (each
    with one torch thread); ``cluster`` runs them on that Ray cluster (``jobs`` at a
    time, default one per CPU of the cluster). Rows are appended in the order
    cells finish; a cell's row is the same wherever it ran (but its timings).
    ``keep`` slices the grid (see `slice_grid`); the summary then covers the slice.
    Returns the CSV rows of the grid's cells (finished earlier or now).
    """
    base, grid = load_robustness_config(config_path)
    grid = slice_grid(grid, **(keep or {}))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    check_same_base(out, base)
    csv_path = out / "robustness.csv"
    done = {row_key(r) for r in read_rows(csv_path)}
    cells = grid.cells()
    todo = [(cell, cell_config(base, grid, cell)) for cell in cells if cell.key not in done]
    with tqdm(total=len(cells), initial=len(cells) - len(todo), disable=not progress,
              unit="cell", desc="robustness", dynamic_ncols=True) as bar:
        for row in run_cells(todo, jobs, cluster):
            append_row(csv_path, row)
            raise_if_interrupted()      # a swallowed Ctrl-C: stop, the finished cell kept
            bar.update(1)
            bar.set_postfix_str(f"{row['aggregator']}/{row['attack']}@"
                                f"{row['byzantine_fraction']} acc={row['final_accuracy'][:5]}")
    wanted = {c.key for c in cells}
    rows = [r for r in read_rows(csv_path) if row_key(r) in wanted]
    table = write_reports(rows, out)
    print(table)
    return rows


def run_cell(cell: Cell, config: ExperimentConfig) -> dict:
    """One cell: a `simulate` run, as a CSV row."""
    started = time.perf_counter()
    result = simulate(config)
    return result_row(cell, result, time.perf_counter() - started)


def _run_cell_alone(_shared, todo: tuple[Cell, ExperimentConfig]) -> dict:
    # In a pool process or a Ray actor: one thread each and no pool of its own, so
    # cells side by side share the cores evenly.
    cell, config = todo
    config = dataclasses.replace(config, experiment=dataclasses.replace(
        config.experiment, threads=1, parallel_workers=1, cluster=None))
    return run_cell(cell, config)


def run_cells(todo: list[tuple[Cell, ExperimentConfig]], jobs: int | None = 1,
              cluster: str | None = None):
    """Each (cell, config)'s CSV row, as cells finish: here in turn (``jobs`` 1), in a
    pool of ``jobs`` processes, or on the Ray cluster at ``cluster``."""
    if not cluster and ((jobs or 1) <= 1 or len(todo) <= 1):
        for cell, config in todo:
            yield run_cell(cell, config)
        return
    # Spawn, not fork, for a local pool: a forked torch (its thread pools) can hang.
    with open_executor(None, jobs or 0, cluster=cluster, fork=False,
                       at_most=len(todo)) as executor:
        yield from executor.map_unordered(_run_cell_alone, todo)


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _numbers(kind):
    def parse(text: str) -> list:
        try:
            return [kind(part) for part in _names(text)]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a comma-separated list of {kind.__name__} values") from None
    return parse


def main(argv: list[str] | None = None) -> int:
    """``poft bench robustness CONFIG [--out DIR] [--jobs N] [--cluster ADDRESS]
    [--no-progress]``;
    returns 0; bad input raises InputError, which `poft` says in one line (exit 2)."""
    parser = argparse.ArgumentParser(
        prog="poft bench robustness",
        description="Run a grid of aggregator x attack x Byzantine fraction x partition x "
                    "seed cells (no ledger) and write robustness.csv, summary.md/.csv, "
                    "heatmap.png and accuracy_by_round.png. Resumable: cells already in "
                    "robustness.csv are skipped.")
    parser.add_argument("config", help="robustness config (TOML with a [grid] table), e.g. "
                                       "examples/robustness-small.toml")
    parser.add_argument("--out", type=output_path,
                        help="output folder (default: runs/robustness-<name>)")
    parser.add_argument("--jobs", type=int,
                        help="cells run side by side in separate processes (default 1; "
                             "with --cluster: one per CPU of the cluster)")
    parser.add_argument("--cluster", metavar="ADDRESS",
                        help="run the cells on a Ray cluster: auto, ray://host:port, "
                             "host:port or local (needs the `cluster` extra; the data must "
                             "be at the same place on every node: POFT_DATA_DIR)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    slicing = parser.add_argument_group(
        "slice", "run only part of the config's grid (comma-separated values, each one the "
                 "config lists); slices share the folder and add up to the whole grid")
    slicing.add_argument("--aggregators", type=_names, metavar="A,B",
                         help="e.g. softmax,mean: softmax is SABFL, mean is FedAvg; also "
                              "median, trimmed_mean, krum, multi_krum, geometric_median, "
                              "centered_clipping, fltrust, bulyan")
    slicing.add_argument("--attacks", type=_names, metavar="A,B",
                         help="'none' is the clean baseline (fraction 0)")
    slicing.add_argument("--fractions", type=_numbers(float), metavar="F,G",
                         help="Byzantine fractions, e.g. 0,0.3")
    slicing.add_argument("--partitions", type=_names, metavar="P,Q",
                         help="e.g. iid,dirichlet:0.1")
    slicing.add_argument("--seeds", type=_numbers(int), metavar="S,T", help="e.g. 0,1")
    args = parser.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    if args.cluster is not None:
        try:
            check_cluster(args.cluster, "--cluster")
        except ConfigError as exc:
            parser.error(str(exc))
    keep = {"aggregators": args.aggregators, "attacks": args.attacks,
            "byzantine_fractions": args.fractions, "partitions": args.partitions,
            "seeds": args.seeds}
    # Bad input (InputError, a missing file) goes up to `poft`'s main, which says it in one
    # line; a plain ValueError from here on is a bug and is reported as one.
    out = args.out
    if out is None:
        base, _ = load_robustness_config(args.config)
        out = Path("runs") / f"robustness-{base.experiment.name}"
    run_robustness(args.config, out, progress=not args.no_progress, jobs=args.jobs,
                   keep=keep, cluster=args.cluster)
    print(f"results: {Path(out) / 'robustness.csv'}, {Path(out) / 'summary.md'}")
    return 0


__all__ = ["GridSection", "Cell", "load_robustness_config", "parse_robustness_config",
           "slice_grid", "cell_config", "run_robustness", "run_cells", "main"]
