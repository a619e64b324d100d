"""Scale: 4 networks x 10 / 50 / 100 workers per network x 10 rounds, the full
protocol (`poft run`: embedded EVMs, in-process driver, cross-chain ring).

    python -m bench.scale [--quick] [--sizes 10,50,100] [--rounds N] [--repeats N]
                          [--config FILE]
    python -m bench.scale --thousand     # 4 networks x 1,000 workers x 3 rounds

Each size runs `poft run` in a child process of its own, so its peak resident
memory (measured inside the child by ``bench.child_peak``: the high-water mark of
its own address space and of its training pool's processes) and CPU time (from
``wait4``) are its own. The
configs are made from ``examples/scale.toml`` (written for 100 workers per
network) by changing the workers of every network and keeping each worker's
share of the data fixed (``train_samples`` grows with the workers; the stakers'
scoring data, the test set and the model stay the same), so the work per worker
is the same at every size and the time should grow linearly.

Goals: the 100-workers-per-network run completes (every network finalizes every
round and writes its final model) in < 8 GB of peak RSS, and the time per
worker-round at 100 workers is at most 1.5x that at 10, and the time each added
worker costs from 50 to 100 at most 1.2x what it costs from 10 to 50 (fixed
set-up costs cancel there; 1 = linear). Both growth figures use the child's CPU
time (user + system), which other work on a shared machine disturbs much less
than wall time; wall times are printed beside them. "s/round" in the table is
the child's wall time over its rounds, set-up and interpreter start included.
A full run makes 3 passes over the sizes, alternating their order (smallest
first, then largest first); each growth figure is the median of the passes'
ratios, and the peak memory the largest of any pass.

Measured (2 idle cores, seed 0, one torch thread, `make bench`): 10 / 50 / 100
workers per network took 28 / 67 / 115 s wall, peak RSS 1.20 / 1.20 / 1.58 GB,
final accuracy 0.695 / 0.703 / 0.702 (mean of networks); marginal growth 0.99x.
Again on 2026-11-30 (robust_softmax, machine busy with two grid cells): 82 / 182 /
257 s wall, 40 / 98 / 170 s CPU, peak 0.75 / 0.96 / 1.21 GB, marginal growth
0.97x; 4 x 1,000 x 3 completed in 874 s at a peak of 4.62 GB. Later that day
(the clip discount and the duplicate split, machine quiet): 34 / 85 / 151 s wall,
37 / 92 / 165 s CPU, peak 0.75 / 0.96 / 1.27 GB, marginal growth 1.05x; 4 x
1,000 x 3 in 531 s at 4.61 GB. With the workers' history test (2026-12-01, quiet
machine): 4 x 1,000 x 3 in 540 s at 5.68 GB (each network keeps a 131 MB sketch of
its workers' sums, and one of the round's updates).
On 2026-12-01 (early afternoon, quiet machine, peak memory from inside the
child, medians of 3 passes): 32 / 75 / 145 s wall, 33 / 80 / 154 s CPU, peak 0.75 /
1.09 / 1.51 GB; marginal growth 1.28 (1.19 in a full `make bench` an hour before):
the evaluate, review and aggregate phases pass over the round's (n, d) float64
matrix, 41 MB at 100 workers, and such a pass costs 1.75x more per row from 100
rows on here. 4 x 1,000 x 3 in 517 s at 5.38 GB.
Peak memory before 2026-12-01 (late morning) came from ``wait4``'s ``ru_maxrss``,
which also counts the memory of this benchmark process, copied into the child
until it execs: the 0.75 GB of the 10- and 50-worker runs above were this
process's, and under ``make bench`` (after Flower and Ray) every size showed at
least 1.74 GB. The 1,000-worker figures, far above either, stand.
(Before the in-process driver read the global model once per round for all
workers it was 1.27x: one read per worker, on ever deeper state tries.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

# Before torch loads OpenMP (here and in the children, which inherit it).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
from bench.figures import Figure, at_least, at_most, context, repeats_arg, table  # noqa: E402
from poft.config.experiment import dump_config, parse_config  # noqa: E402

CONFIG = REPO / "examples" / "scale.toml"
SIZES, ROUNDS = (10, 50, 100), 10
THOUSAND, THOUSAND_ROUNDS = 1000, 3     # the large run: completes in < 8 GB on 2 cores
QUICK_SIZES, QUICK_ROUNDS = (4, 12, 20), 2
RSS_GOAL_GB, GROWTH_GOAL, MARGINAL_GOAL = 8.0, 1.5, 1.2
REPEATS = 3                 # alternating passes over the sizes in a full run
GB = 1e9


@dataclass
class RunResult:
    workers: int                 # per network
    networks: int
    rounds: int
    wall_s: float                # the child process, start to exit
    cpu_s: float                 # its user + system CPU time
    peak_rss_gb: float           # its peak resident set size
    completed: bool              # exit 0, every round finalized, final models written
    run_s: float = float("nan")  # poft's own total (set-up + rounds, no interpreter start)
    accuracy: dict | None = None # network -> final accuracy
    phases_s: dict | None = None
    error: str = ""

    @property
    def worker_rounds(self) -> int:
        return self.networks * self.workers * self.rounds

    def per_worker_round(self, cpu: bool = True) -> float:
        return (self.cpu_s if cpu else self.wall_s) / self.worker_rounds


def scaled_table(base: dict, workers: int, rounds: int) -> dict:
    """The base config with `workers` per network and each worker's data share kept:
    train_samples = sum over networks of (stakers x validator_samples + workers x share)."""
    table = json.loads(json.dumps(base))        # a deep copy of plain TOML data
    data, nets = table.setdefault("data", {}), table["networks"]
    staker_samples = sum(n.get("stakers", 5) * data.get("validator_samples", 500) for n in nets)
    base_workers = sum(n.get("workers", 10) for n in nets)
    if "train_samples" not in data:
        raise ValueError(f"{CONFIG.name}: the scale bench needs data.train_samples, the "
                         "subsample whose worker share it keeps per worker")
    share = (data["train_samples"] - staker_samples) / base_workers
    for net in nets:
        net["workers"] = workers
    data["train_samples"] = staker_samples + int(round(share * workers * len(nets)))
    table.setdefault("experiment", {})["rounds"] = rounds
    table["experiment"]["name"] = f"{table['experiment'].get('name', 'scale')}-{workers}"
    return table


def write_config(base_path: Path, workers: int, rounds: int, folder: Path) -> Path:
    base = tomllib.loads(base_path.read_text())
    config = parse_config(scaled_table(base, workers, rounds))     # validated
    path = folder / f"scale-{workers}.toml"
    path.write_text(dump_config(config))
    return path


def run_size(base_path: Path, workers: int, rounds: int, folder: Path) -> RunResult:
    """`poft run` of the scaled config in a child process; its wall, CPU and peak RSS."""
    config = write_config(base_path, workers, rounds, folder)
    out, log = folder / f"run-{workers}", folder / f"run-{workers}.log"
    networks = len(tomllib.loads(config.read_text())["networks"])
    peak = folder / f"run-{workers}.peak.json"
    peak.unlink(missing_ok=True)
    # bench.child_peak measures the child's peak memory itself: wait4's ru_maxrss would
    # also count this (grown) process's memory, which the child copies until it execs.
    command = [sys.executable, "-m", "bench.child_peak", str(peak), "run", str(config),
               "--out", str(out), "--rounds", str(rounds), "--no-progress", "--overwrite"]
    with log.open("w") as sink:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)       # this child's own CPU time
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    result = RunResult(workers=workers, networks=networks, rounds=rounds, wall_s=wall,
                       cpu_s=usage.ru_utime + usage.ru_stime,
                       peak_rss_gb=peak_bytes(peak) / GB, completed=False)
    summary_path = out / "summary.json"
    if child.returncode != 0 or not summary_path.is_file():
        tail = log.read_text()[-2000:]
        result.error = f"exit {child.returncode}: {tail.strip().splitlines()[-1:] or ''}"
        print(f"scale: {workers} workers/network failed (exit {child.returncode}); "
              f"log tail:\n{tail}", file=sys.stderr)
        return result
    summary = json.loads(summary_path.read_text())
    nets = summary["networks"]
    result.accuracy = {name: s["final_accuracy"] for name, s in nets.items()}
    result.run_s = summary["timing"]["total_s"]
    result.phases_s = summary["timing"]["phases_s"]
    result.completed = len(nets) == networks and all(
        s["rounds"] == rounds and s["finalized_rounds"] == rounds
        and Path(s["final_model"]).is_file() for s in nets.values())
    if not result.completed:
        result.error = "not every round of every network finalized with a final model"
    return result


def peak_bytes(path: Path) -> float:
    """The largest process of the child's tree, as bench.child_peak wrote it (NaN when
    the child died before writing it)."""
    try:
        peak = json.loads(path.read_text())
    except (OSError, ValueError):
        return float("nan")
    return max(peak["self"], peak["children"])


def measure(sizes=SIZES, rounds: int = ROUNDS, config: Path = CONFIG,
            show: bool = False) -> list[RunResult]:
    results = []
    with tempfile.TemporaryDirectory(prefix="poft-scale-") as tmp:
        for workers in sizes:
            r = run_size(config, workers, rounds, Path(tmp))
            results.append(r)
            if show:
                print(row(r), flush=True)
    return results


def marginal_growth(small: RunResult, mid: RunResult, large: RunResult) -> float:
    """CPU seconds per added worker from mid to large over those from small to mid."""
    low = (mid.cpu_s - small.cpu_s) / (mid.workers - small.workers)
    high = (large.cpu_s - mid.cpu_s) / (large.workers - mid.workers)
    return high / low if low > 0 else float("nan")   # low <= 0: noise swamped it


def figures(quick: bool = False) -> list[Figure]:
    sizes, rounds = (QUICK_SIZES, QUICK_ROUNDS) if quick else (SIZES, ROUNDS)
    out = figures_of(measure_repeats(sizes, rounds, 1 if quick else REPEATS))
    if not quick:       # about 10 minutes on 2 idle cores: full runs only
        out += thousand_figures(measure((THOUSAND,), THOUSAND_ROUNDS)[0])
    return out


def measure_repeats(sizes=SIZES, rounds: int = ROUNDS, repeats: int = REPEATS,
                    config: Path = CONFIG, show: bool = False) -> list[list[RunResult]]:
    """`repeats` passes over the sizes, in alternating order (smallest first, then
    largest first); each pass's results listed by size, smallest first."""
    passes = []
    for repeat in range(repeats):
        order = tuple(sizes) if repeat % 2 == 0 else tuple(reversed(sizes))
        by_size = {r.workers: r for r in measure(order, rounds, config, show)}
        passes.append([by_size[w] for w in sizes])
    return passes


def thousand_figures(r: RunResult) -> list[Figure]:
    """The 1,000-workers-per-network run: it completes, and within the memory goal."""
    shape = f"{r.networks} networks x {r.workers} workers x {r.rounds} rounds"
    return [
        at_least(f"scale_completes_{r.workers}", 1.0 if r.completed else 0.0, 1.0, "bool",
                 f"{shape}: every network finalized every round"
                 + (f" ({r.error})" if r.error else "")),
        at_most(f"scale_peak_rss_gb_{r.workers}", r.peak_rss_gb, RSS_GOAL_GB, "GB",
                f"peak RSS of the `poft run` child (one process of its pool), {shape}"),
        context(f"scale_wall_s_{r.workers}", r.wall_s, "s", f"{shape}, child wall time"),
    ]


def figures_of(passes: list[list[RunResult]]) -> list[Figure]:
    """The figures of `measure_repeats`' passes: each growth ratio the median of the
    passes' ratios, times their medians, peak memory the largest of any pass."""
    first = passes[0]
    small, large = first[0], first[-1]
    nets, rounds = large.networks, large.rounds
    shape = f"{nets} networks x {large.workers} workers x {rounds} rounds"
    ok = all(r.completed for results in passes for r in results)
    median = lambda values: statistics.median(values) if ok else float("nan")  # noqa: E731
    of = f" (median of {len(passes)} alternating passes)" if len(passes) > 1 else ""
    out = [
        at_least("scale_completes", 1.0 if all(p[-1].completed for p in passes) else 0.0,
                 1.0, "bool",
                 f"{shape}: every network finalized every round, final models written"
                 + "".join(f" ({p[-1].error})" for p in passes if p[-1].error)),
        at_most("scale_peak_rss_gb", max(p[-1].peak_rss_gb for p in passes), RSS_GOAL_GB,
                "GB", f"peak RSS of the `poft run` child, {shape} (1 GB = 1e9 bytes)"),
        at_most(f"scale_growth_{large.workers}_vs_{small.workers}",
                median(p[-1].per_worker_round() / p[0].per_worker_round() for p in passes),
                GROWTH_GOAL, "x",
                f"CPU s per worker-round at {large.workers} vs {small.workers} workers/network; "
                f"1 = linear (< 1: fixed costs spread wider){of}"),
    ]
    if len(first) >= 3:
        m = len(first) // 2
        out.append(context(
            f"scale_growth_{first[m].workers}_vs_{small.workers}",
            median(p[m].per_worker_round() / p[0].per_worker_round() for p in passes), "x",
            f"CPU s per worker-round at {first[m].workers} vs {small.workers} workers/network"))
        out.append(at_most(
            "scale_marginal_growth", median(marginal_growth(p[0], p[m], p[-1]) for p in passes),
            MARGINAL_GOAL, "x",
            f"CPU s per added worker {first[m].workers}->{large.workers} over "
            f"{small.workers}->{first[m].workers} workers/network; fixed costs cancel; "
            f"1 = linear{of}"))
    for i, r in enumerate(first):
        w, runs = r.workers, [p[i] for p in passes]
        out += [context(f"scale_wall_s_{w}", statistics.median(x.wall_s for x in runs), "s",
                        f"{r.networks} x {w} workers x {r.rounds} rounds, child wall time"),
                context(f"scale_cpu_s_{w}", statistics.median(x.cpu_s for x in runs), "s",
                        "child CPU time (user + system)"),
                context(f"scale_peak_rss_gb_{w}", max(x.peak_rss_gb for x in runs), "GB",
                        "child peak RSS")]
        if r.accuracy:
            accs = list(r.accuracy.values())
            out.append(context(f"scale_accuracy_{w}", sum(accs) / len(accs), "",
                               "final test accuracy, mean of networks "
                               f"(min {min(accs):.3f}, max {max(accs):.3f})"))
    return out


HEADER = (f"{'workers/net':>11} {'worker-rounds':>13} {'wall s':>8} {'s/round':>8} "
          f"{'CPU s':>8} {'CPU ms/worker-round':>19} {'peak RSS GB':>11}  accuracy (per network)")


def row(r: RunResult) -> str:
    accs = " ".join(f"{a:.3f}" for a in r.accuracy.values()) if r.accuracy else r.error
    return (f"{r.workers:>11} {r.worker_rounds:>13} {r.wall_s:8.1f} {r.wall_s / r.rounds:8.2f} "
            f"{r.cpu_s:8.1f} {1000 * r.per_worker_round():19.1f} {r.peak_rss_gb:11.2f}  {accs}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"sizes {QUICK_SIZES}, {QUICK_ROUNDS} rounds (a smoke test)")
    parser.add_argument("--sizes", help="workers per network, comma-separated "
                                        f"(default {','.join(map(str, SIZES))})")
    parser.add_argument("--rounds", type=int, help=f"rounds (default {ROUNDS})")
    parser.add_argument("--config", type=Path, default=CONFIG, help="base config")
    parser.add_argument("--repeats", type=repeats_arg, help=f"alternating passes over the sizes "
                                                    f"(default {REPEATS}; 1 with --quick)")
    parser.add_argument("--thousand", action="store_true",
                        help=f"only the {THOUSAND}-workers-per-network run "
                             f"({THOUSAND_ROUNDS} rounds)")
    args = parser.parse_args(argv)
    if args.thousand:
        result = measure((THOUSAND,), args.rounds or THOUSAND_ROUNDS, args.config,
                         show=True)[0]
        print(table(thousand_figures(result)))
        return 0 if result.completed else 1
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else (
        QUICK_SIZES if args.quick else SIZES)
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS)
    print(f"{args.config.relative_to(REPO) if args.config.is_relative_to(REPO) else args.config}"
          f": sizes {sizes} workers/network, {rounds} rounds, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(HEADER, flush=True)
    passes = measure_repeats(sizes, rounds, args.repeats or (1 if args.quick else REPEATS),
                             args.config, show=True)
    print()
    print(table(figures_of(passes)))
    largest = passes[-1][-1]
    if largest.phases_s:
        print(f"\ntime by phase at {largest.workers} workers/network "
              f"(poft's total {largest.run_s:.1f} s, set-up included):")
        for phase, seconds in sorted(largest.phases_s.items(), key=lambda kv: -kv[1]):
            print(f"  {phase:<10} {seconds:8.1f} s  {seconds / largest.run_s:6.1%}")
    return 0 if all(r.completed for results in passes for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
