"""Ledger overhead: `poft run` (full protocol on the embedded EVM) vs the same
federated training with no ledger (`poft.drivers.simulation.simulate`: same data,
model, local training, validator scoring and aggregation), measured in one run.

    python -m bench.overhead [CONFIG] [--rounds N]

Prints both wall and CPU times, the ratios (goal <= 1.05x) and where the protocol
run's time goes, phase by phase. On a machine shared with other work, the CPU-time
ratio is the steadier figure: wall time then mostly measures the neighbours.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.figures import Figure, at_most, context  # noqa: E402
from poft.config.experiment import load_config
from poft.drivers.simulation import simulate
from poft.experiment.run import run_experiment

GOAL = 1.05
BLOCK_GAS = 30_000_000          # Ethereum mainnet's block gas limit
# Which ledger calls each role makes in a round (the in-process driver's opener
# is "anyone": any party may open a round or advance a late phase).
ROLE_CALLS = {"worker": ("submit_update",), "validator": ("report_losses", "attest"),
              "miner": ("propose", "settle"), "anyone": ("open_round", "advance")}


def measure(config_path: str, rounds: int | None) -> dict:
    # Workers train serially in both runs: this measures what the ledger adds, and a
    # training pool's CPU time would not show in this process's `process_time`.
    config = load_config(config_path).with_overrides(rounds=rounds, parallel_workers=1)
    start, cpu = time.perf_counter(), time.process_time()
    plain = simulate(config)
    plain_s, plain_cpu = time.perf_counter() - start, time.process_time() - cpu
    with tempfile.TemporaryDirectory() as out:
        start, cpu = time.perf_counter(), time.process_time()
        summary = run_experiment(config, Path(out), progress=False)
        ledger_s, ledger_cpu = time.perf_counter() - start, time.process_time() - cpu
    name = config.networks[0].name
    return {"gas_per_role": gas_per_role(summary["gas"][name], config),
            "rounds": config.experiment.rounds,
            "plain_s": plain_s, "protocol_s": ledger_s, "ratio": ledger_s / plain_s,
            "plain_cpu_s": plain_cpu, "protocol_cpu_s": ledger_cpu,
            "cpu_ratio": ledger_cpu / plain_cpu,
            "plain_accuracy": plain.network(name).final_accuracy,
            "protocol_accuracy": summary["networks"][name]["final_accuracy"],
            "phases_s": summary["timing"]["phases_s"]}


def gas_per_role(gas: dict, config) -> dict[str, float]:
    """Mean gas one participant of each role spends per round."""
    net, rounds = config.networks[0], config.experiment.rounds
    members = {"worker": net.workers, "validator": net.validators, "miner": 1, "anyone": 1}
    return {role: sum(gas.get(kind, {}).get("total", 0) for kind in kinds) / (rounds * members[role])
            for role, kinds in ROLE_CALLS.items()}


def figures(quick: bool = False) -> list[Figure]:
    r = measure("examples/quickstart.toml", 2 if quick else 4)
    out = [at_most("ledger_overhead", r["ratio"], GOAL, "x",
                   f"poft run (embedded EVM) {r['protocol_s']:.1f} s vs no ledger "
                   f"{r['plain_s']:.1f} s, quickstart"),
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
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    r = measure(args.config, args.rounds)
    print(f"{'':14} {'wall s':>8} {'CPU s':>8}  final accuracy")
    print(f"no ledger      {r['plain_s']:8.1f} {r['plain_cpu_s']:8.1f}  {r['plain_accuracy']:.4f}")
    print(f"full protocol  {r['protocol_s']:8.1f} {r['protocol_cpu_s']:8.1f}  "
          f"{r['protocol_accuracy']:.4f}")
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
