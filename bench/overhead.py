"""Ledger overhead: `poft run` (full protocol on the embedded EVM) vs the same
federated training with no ledger (`poft.drivers.simulation.simulate`: same data,
model, local training, validator scoring and aggregation).

    python -m bench.overhead [CONFIG] [--rounds N] [--repeats N]

Each run is timed in a fresh process, so each pays its own first-time costs (the
protocol run imports py-evm and deploys the contracts; both load the data), and
the two alternate `repeats` times: the ratios are the medians of the repeats'
ratios. Both processes import the same poft modules before their clock starts; the
protocol run writes everything but report.html, whose plots the no-ledger run has
no counterpart for. Prints wall and CPU times, the ratios (goal <= 1.05x) and where
the protocol run's time goes, phase by phase. On a machine shared with other work,
the CPU-time ratio is the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.figures import Figure, at_most, context, repeats_arg  # noqa: E402
from poft.config.experiment import load_config
from poft.drivers.simulation import simulate
from poft.experiment.run import run_experiment

ROOT = Path(__file__).resolve().parent.parent
GOAL = 1.05
BLOCK_GAS = 30_000_000          # Ethereum mainnet's block gas limit
# Which ledger calls each role makes in a round (the in-process driver's opener
# is "anyone": any party may open a round or advance a late phase).
ROLE_CALLS = {"worker": ("submit_update",), "validator": ("report_losses", "attest"),
              "miner": ("propose", "settle"), "anyone": ("open_round", "advance")}


def measure(config_path: str, rounds: int | None, repeats: int = 3) -> dict:
    runs: dict[str, list[dict]] = {"plain": [], "protocol": []}
    for repeat in range(repeats):
        order = ("plain", "protocol") if repeat % 2 == 0 else ("protocol", "plain")
        for kind in order:
            runs[kind].append(timed_child(kind, config_path, rounds))
            print(f"   repeat {repeat + 1}: {kind:8} {runs[kind][-1]['wall_s']:6.1f} s",
                  flush=True)
    plain, protocol = runs["plain"], runs["protocol"]
    if {r["accuracy"] for r in plain + protocol} != {plain[0]["accuracy"]}:
        raise RuntimeError("the runs ended on different accuracies: not the same training")
    config = load_config(config_path).with_overrides(rounds=rounds)
    last = protocol[-1]
    return {"gas_per_role": gas_per_role(last["gas"], config),
            "rounds": config.experiment.rounds,
            "plain_s": _median(plain, "wall_s"), "protocol_s": _median(protocol, "wall_s"),
            "ratio": statistics.median(b["wall_s"] / a["wall_s"] for a, b in zip(plain, protocol)),
            "plain_cpu_s": _median(plain, "cpu_s"), "protocol_cpu_s": _median(protocol, "cpu_s"),
            "cpu_ratio": statistics.median(b["cpu_s"] / a["cpu_s"] for a, b in zip(plain, protocol)),
            "accuracy": plain[0]["accuracy"], "repeats": repeats,
            "phases_s": {k: statistics.median(r["phases_s"].get(k, 0.0) for r in protocol)
                         for k in last["phases_s"]}}


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def timed_child(kind: str, config_path: str, rounds: int | None) -> dict:
    """One run ("plain" or "protocol") in a fresh Python process; its JSON result."""
    command = [sys.executable, "-m", "bench.overhead", "--child", kind, config_path]
    if rounds is not None:
        command += ["--rounds", str(rounds)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"the {kind} run failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(kind: str, config_path: str, rounds: int | None) -> dict:
    """Time one run in this (fresh) process. Workers train serially in both runs: this
    measures what the ledger adds, and a training pool's CPU time would not show in
    this process's `process_time`."""
    config = load_config(config_path).with_overrides(rounds=rounds, parallel_workers=1)
    with tempfile.TemporaryDirectory() as out:
        start, cpu = time.perf_counter(), time.process_time()
        if kind == "plain":
            result = simulate(config)
        else:
            summary = run_experiment(config, Path(out), progress=False, report=False)
        wall_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    name = config.networks[0].name
    if kind == "plain":
        return {"wall_s": wall_s, "cpu_s": cpu_s,
                "accuracy": result.network(name).final_accuracy}
    return {"wall_s": wall_s, "cpu_s": cpu_s,
            "accuracy": summary["networks"][name]["final_accuracy"],
            "gas": summary["gas"][name], "phases_s": summary["timing"]["phases_s"]}


def gas_per_role(gas: dict, config) -> dict[str, float]:
    """Mean gas one participant of each role spends per round."""
    net, rounds = config.networks[0], config.experiment.rounds
    members = {"worker": net.workers, "validator": net.validators, "miner": 1, "anyone": 1}
    return {role: sum(gas.get(kind, {}).get("total", 0) for kind in kinds) / (rounds * members[role])
            for role, kinds in ROLE_CALLS.items()}


def figures(quick: bool = False) -> list[Figure]:
    r = measure("examples/quickstart.toml", 2 if quick else 4, 1 if quick else 3)
    out = [at_most("ledger_overhead", r["ratio"], GOAL, "x",
                   f"poft run (embedded EVM) {r['protocol_s']:.1f} s vs no ledger "
                   f"{r['plain_s']:.1f} s, quickstart; median of {r['repeats']} "
                   "alternating fresh-process repeats"),
           context("ledger_overhead_cpu", r["cpu_ratio"], "x", "the same in CPU seconds"),
           context("ledger_phase_s_per_round", r["phases_s"].get("ledger", 0.0) / r["rounds"], "s",
                   "transactions and reads on the embedded EVM, per round (of "
                   f"{r['protocol_s'] / r['rounds']:.2f} s)")]
    for role, gas in r["gas_per_role"].items():
        out.append(at_most(f"gas_per_round_{role}", gas, BLOCK_GAS, "gas",
                           f"{'+'.join(ROLE_CALLS[role])}; goal: fits one mainnet block"))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="examples/quickstart.toml")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (the config's)")
    parser.add_argument("--repeats", type=repeats_arg, default=3, help="alternating repeats (3)")
    parser.add_argument("--child", choices=("plain", "protocol"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.config, args.rounds)))
        return 0
    r = measure(args.config, args.rounds, args.repeats)
    print(f"{'':14} {'wall s':>8} {'CPU s':>8}  final accuracy")
    print(f"no ledger      {r['plain_s']:8.1f} {r['plain_cpu_s']:8.1f}  {r['accuracy']:.4f}")
    print(f"full protocol  {r['protocol_s']:8.1f} {r['protocol_cpu_s']:8.1f}  {r['accuracy']:.4f}"
          f"   (medians of {r['repeats']} repeats)")
    verdict = "holds" if r["ratio"] <= GOAL else "does not hold"
    print(f"ratio (wall)   {r['ratio']:8.3f} x  (goal <= {GOAL}: {verdict})")
    print(f"ratio (CPU)    {r['cpu_ratio']:8.3f} x  (steadier on a shared machine)")
    print("gas per round, one participant of each role:")
    for role, gas in r["gas_per_role"].items():
        print(f"  {role:<10} {gas:12,.0f}  ({' + '.join(ROLE_CALLS[role])})")
    print("protocol time by phase:")
    for phase, seconds in sorted(r["phases_s"].items(), key=lambda kv: -kv[1]):
        print(f"  {phase:<10} {seconds:8.2f} s  {seconds / r['protocol_s']:6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
