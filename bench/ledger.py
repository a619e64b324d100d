"""Ledger benchmark: one full round (20 workers, 5 validators, 2 miners) on the embedded EVM
and on anvil (automine), in the same run: gas per call kind and transactions per second.

    .venv/bin/python -m bench.ledger [--workers 20] [--validators 5] [--miners 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.figures import Figure, context  # noqa: E402
from poft.ledger import (  # noqa: E402
    AnvilNode,
    AnvilNotFound,
    EmbeddedBackend,
    LedgerClient,
    NetworkParams,
    Phase,
    RpcBackend,
    deploy_network,
    find_anvil,
)
from poft.ledger.backends import LedgerBackend  # noqa: E402

ETH = 10**18


@dataclass
class BackendResult:
    name: str
    setup_s: float = 0.0
    round_s: float = 0.0
    setup_txs: int = 0
    round_txs: int = 0
    gas: dict = field(default_factory=dict)

    @property
    def round_tps(self) -> float:
        return self.round_txs / self.round_s if self.round_s else 0.0

    @property
    def overall_tps(self) -> float:
        total = self.setup_s + self.round_s
        return (self.setup_txs + self.round_txs) / total if total else 0.0


def run_round(backend: LedgerBackend, name: str, workers: int, validators: int, miners: int) -> BackendResult:
    """Deploy, fund and register (setup), then one round open -> settle (timed apart)."""
    result = BackendResult(name)
    t0 = time.perf_counter()
    params = NetworkParams(name=f"bench-{name}", k_validators=validators, n_miners=miners,
                           phase_blocks=10 * workers, min_stake=ETH, initial_pool=100 * ETH,
                           genesis_fingerprint=b"\xf1" * 32)
    deployment = deploy_network(backend, params)
    accounts = backend.funded_accounts(workers)
    clients = {a.address: LedgerClient.for_deployment(backend, deployment, a) for a in accounts}
    for client in clients.values():
        client.register(is_worker=True, stake=2 * ETH)
    result.setup_s = time.perf_counter() - t0
    result.setup_txs = backend.gas_report.transactions() + workers  # + the funding transfers

    before = backend.gas_report.transactions()
    t1 = time.perf_counter()
    reader = next(iter(clients.values()))
    r = reader.open_round()
    committee = reader.committee(r)
    for i, client in enumerate(clients.values()):
        client.submit_update(r, i.to_bytes(32, "big"), f"sha256:{i:064x}")
    for v in committee.validators:
        clients[v].report_losses(r, [0.5 + 0.01 * i for i in range(workers)])
    weights = [1.0 / workers] * workers
    clients[committee.miners[0]].propose(r, b"\x42" * 32, "sha256:aggregate", weights)
    for v in committee.validators:
        if reader.phase() == Phase.ATTEST:
            clients[v].attest(r)
    reader.settle(r, weights)
    result.round_s = time.perf_counter() - t1
    result.round_txs = backend.gas_report.transactions() - before
    assert reader.phase() == Phase.IDLE and reader.balance_conserved()
    result.gas = backend.gas_report.to_dict()
    return result


def gas_table(results: list[BackendResult]) -> str:
    kinds = sorted({k for r in results for k in r.gas})
    header = f"{'call kind':<24} {'calls':>6}" + "".join(f" {r.name + ' gas':>16}" for r in results)
    lines = [header, "-" * len(header)]
    for kind in kinds:
        calls = max(r.gas.get(kind, {}).get("calls", 0) for r in results)
        cells = "".join(
            f" {r.gas[kind]['mean']:>16,.0f}" if kind in r.gas else f" {'-':>16}" for r in results
        )
        lines.append(f"{kind:<24} {calls:>6}{cells}")
    return "\n".join(lines)


def speed_table(results: list[BackendResult]) -> str:
    header = f"{'backend':<10} {'setup txs':>9} {'setup s':>8} {'round txs':>9} {'round s':>8} {'round tx/s':>10} {'all tx/s':>9}"
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(f"{r.name:<10} {r.setup_txs:>9} {r.setup_s:>8.2f} {r.round_txs:>9} "
                     f"{r.round_s:>8.2f} {r.round_tps:>10.1f} {r.overall_tps:>9.1f}")
    return "\n".join(lines)


def figures(quick: bool = False) -> list[Figure]:
    """One round's transactions on the embedded EVM and on anvil, timed alike."""
    from poft.ledger.compile import load_artifact

    load_artifact("FederatedLedger"), load_artifact("ModelBridge")
    workers = 10 if quick else 20
    embedded = run_round(EmbeddedBackend(seed=0), "embedded", workers, 5, 2)
    out = [context("ledger_round_s_embedded", embedded.round_s, "s",
                   f"one round, {embedded.round_txs} transactions, {workers} workers, py-evm")]
    try:
        find_anvil()
        with AnvilNode.start(chain_id=31337) as node:
            anvil = run_round(RpcBackend(node.url), "anvil", workers, 5, 2)
    except AnvilNotFound:
        return out
    return out + [context("ledger_round_s_anvil", anvil.round_s, "s",
                          f"the same {anvil.round_txs} transactions on anvil over JSON-RPC"),
                  context("ledger_embedded_vs_anvil", embedded.round_s / anvil.round_s, "x",
                          "how much slower py-evm executes the same round")]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--validators", type=int, default=5)
    parser.add_argument("--miners", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    from poft.ledger.compile import load_artifact

    load_artifact("FederatedLedger"), load_artifact("ModelBridge")  # compile outside the timings
    results = [run_round(EmbeddedBackend(seed=0), "embedded", args.workers, args.validators, args.miners)]
    try:
        find_anvil()
        with AnvilNode.start(chain_id=31337) as node:
            results.append(run_round(RpcBackend(node.url), "anvil", args.workers, args.validators, args.miners))
    except AnvilNotFound as exc:
        print(f"anvil skipped: {exc}")

    print(f"one round: {args.workers} workers, {args.validators} validators, {args.miners} miners\n")
    print(gas_table(results))
    print()
    print(speed_table(results))
    report = {r.name: {"setup_s": r.setup_s, "round_s": r.round_s, "setup_txs": r.setup_txs,
                       "round_txs": r.round_txs, "round_tps": r.round_tps, "overall_tps": r.overall_tps,
                       "gas": r.gas} for r in results}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
