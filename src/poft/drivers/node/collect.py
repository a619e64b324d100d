"""The outputs of a node-mode run, read back from the chains, the store and the logs.

Node mode has no driver holding every network in memory, so the run's record
is rebuilt from what every participant could check: per network and round the
chain gives the committee, the candidates, whether the round finalized and
with which miner attempt, and the global model's root; the store gives the
models (each checked against its root), from which the test accuracy and the
aggregation weights (`recompute_round`, the validators' own recomputation) are
computed. Wall time per phase and gas come from the nodes' JSON logs. The files
written are the in-process driver's: metrics.jsonl, summary.json (through the
same `build_summary`), report.html and models/<network>/round-<r>.safetensors.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

from poft.commitment import commit_bytes
from poft.config.experiment import ExperimentConfig
from poft.config.population import plan_population
from poft.drivers.chain.deployment import DeploymentFile
from poft.drivers.exchange import PARTS
from poft.drivers.node.log import read_events
from poft.drivers.setup import initial_model, load_experiment_data
from poft.learning.training import evaluate
from poft.ledger import BridgeClient, LedgerClient, RpcBackend
from poft.outputs.economics import round_money
from poft.outputs.metrics import ChainRoundRecord
from poft.outputs.report import render_report
from poft.outputs.summary import build_summary
from poft.protocol.aggregate import AggregationSpec
from poft.protocol.finals import finalized_rounds
from poft.protocol.models_io import ModelCodec
from poft.protocol.round_replay import recompute_round
from poft.protocol.timing import PhaseTimer
from poft.protocol.worker_history import WorkerHistory
from poft.store import LocalStore, parse_location


class NodeModeResults:
    """What `build_summary` asks of a driver, from the nodes' logs and the chains."""

    def __init__(self, dep: DeploymentFile, logs: list[Path]):
        self.dep = dep
        self.timer = PhaseTimer()
        self.gas: dict[str, dict] = defaultdict(dict)
        self.round_seconds: dict[tuple[str, int], dict] = defaultdict(lambda: defaultdict(float))
        self.relay_refused = 0
        for path in logs:
            self._read(path)

    def _read(self, path: Path) -> None:
        for event in read_events(path):
            kind, network = event.get("event"), str(event.get("node", "")).split("/")[0]
            if kind == "summary":
                for phase, seconds in event.get("seconds", {}).items():
                    self.timer.totals[phase] += seconds
                for net, rows in event.get("gas", {}).items():
                    _merge_gas(self.gas[net], rows)
            elif kind == "round_time":
                for phase, seconds in event.get("seconds", {}).items():
                    self.round_seconds[(network, event["round"])][phase] += seconds
            elif kind == "relay_refused":
                self.relay_refused += 1

    def model_path(self, out: Path, network: str, round_id: int) -> Path:
        return out / "models" / network / f"round-{round_id}.safetensors"

    def crosschain_summary(self, total_s: float) -> dict:
        imports = 0
        for name in self.dep.network_names:
            backend = RpcBackend(self.dep.rpc_url(name))
            imports += BridgeClient.for_deployment(
                backend, self.dep.deployment(name)).contract.call("import_count")
        parts = {p: self.timer.totals.get(p, 0.0) for p in PARTS}
        spent = sum(parts.values())
        return {"imports": imports, "rejected": self.relay_refused,
                "overhead_fraction": spent / total_s if total_s > 0 else 0.0,
                "breakdown_s": parts}

    def gas_summary(self) -> dict:
        return dict(self.gas)


def _merge_gas(into: dict, rows: dict) -> None:
    for kind, row in rows.items():
        have = into.get(kind)
        if have is None:
            into[kind] = dict(row)
            continue
        calls = have["calls"] + row["calls"]
        have.update(calls=calls, total=have["total"] + row["total"], min=min(have["min"], row["min"]),
                    max=max(have["max"], row["max"]))
        have["mean"] = have["total"] / calls if calls else 0.0


def collect_outputs(config: ExperimentConfig, out: Path, dep: DeploymentFile, nodes,
                    total_s: float) -> dict:
    """Write metrics.jsonl, models/, summary.json, report.html; return the summary."""
    results = NodeModeResults(dep, [c.log_path for c in nodes])
    data = load_experiment_data(config)
    plans = {p.name: p for p in plan_population(config, data.train.y.numpy())}
    model = initial_model(config, data.train)
    store = LocalStore(out / "blobs")
    records = []
    for name in dep.network_names:
        records += NetworkHistory(dep, name, plans[name], store, model, data.test,
                                  results).records(config.experiment.rounds, out)
    with (out / "metrics.jsonl").open("w") as metrics:
        for record in records:
            metrics.write(json.dumps(record) + "\n")
    ordered = sorted(records, key=lambda r: (r["round"], dep.network_names.index(r["network"])))
    kind = dep.node_kind()
    summary = build_summary(config, out, ordered, results, total_s, backend=kind)
    summary["backend"] = kind
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "report.html").write_text(render_report(config.experiment.name, summary, ordered))
    return summary


class NetworkHistory:
    """One network's rounds as `ChainRoundRecord`s, from its chain and the store."""

    def __init__(self, dep, name, plan, store, model, test_set, results: NodeModeResults):
        self.name, self.store, self.test_set, self.results = name, store, test_set, results
        self.reader = LedgerClient.for_deployment(RpcBackend(dep.rpc_url(name)),
                                                  dep.deployment(name))
        entry = dep.entry(name)
        self.genesis_uri = entry["genesis_uri"]
        self.spec = AggregationSpec(**entry["aggregation"])
        self.worker_history = (WorkerHistory(self.genesis_uri)   # rounds are read in order
                               if self.spec.uses_history else None)
        self.model, self.codec = model, ModelCodec(model.state_dict())
        byzantine = {w.name for w in plan.workers if w.byzantine}
        self.byzantine = {p.address for p in dep.participants(name) if p.name in byzantine}
        self.workers = {p.address for p in dep.participants(name) if p.kind == "worker"}
        self.finals = finalized_rounds(self.reader)
        self.gas = round_gas(self.reader, self.reader.backend)

    def records(self, rounds: int, out: Path) -> list[dict]:
        genesis = self.store.get(parse_location(self.genesis_uri))
        head = (commit_bytes(genesis).root, self.genesis_uri)    # the model before round 1
        found = []
        for r in range(1, min(rounds, self.reader.current_round()) + 1):
            if r in self.finals:
                head = (self.finals[r]["model_root"], self.finals[r]["uri"])
            found.append(asdict(self.record(r, head, out)))
        return found

    def record(self, r: int, head: tuple[bytes, str], out: Path) -> ChainRoundRecord:
        root, uri = head
        blob = self.store.get(parse_location(uri))
        path = self.results.model_path(out, self.name, r)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
        with self.results.timer.phase("test"):
            self.model.load_state_dict(self.codec.to_state(
                self.codec.fetch(self.store, root, uri)))
            loss, accuracy = evaluate(self.model, self.test_set)
        committee = self.reader.committee(r)
        candidates = self.reader.candidates(r)
        finalized = r in self.finals
        weights = (recompute_round(self.reader, self.store, self.codec, self.spec, r,
                                   self.genesis_uri, self.finals,
                                   history=self.worker_history).weights.tolist()
                   if finalized else [0.0] * len(candidates))
        attempts = min(self.reader.call("miner_index", r) + 1, len(committee.miners))
        rewards, slashed = round_money(self.reader, r, self.workers, self.byzantine)
        return ChainRoundRecord(
            network=self.name, round=r, accuracy=accuracy, loss=loss, model_root=root.hex(),
            finalized=finalized, candidates=[c.owner for c in candidates],
            byzantine=[c.owner in self.byzantine for c in candidates],
            imported=[c.is_import for c in candidates], weights=weights,
            committee=list(committee.validators), miners_tried=committee.miners[:attempts],
            seconds=dict(self.results.round_seconds.get((self.name, r), {})),
            gas=dict(self.gas.get(r, {})), rewards=rewards, slashed=slashed)


def round_gas(reader: LedgerClient, backend) -> dict[int, dict[str, int]]:
    """Gas used per round and call kind, read from the chain: every transaction to the
    network's ledger or bridge from the block that opened round r up to the block that
    opened r + 1 (settling r and relaying its checkpoint included), keyed by the
    method it called (`"<method> (reverted)"` for a reverted one), as the in-process
    driver's records name them."""
    opened = sorted((e["round"], e.block_number) for e in reader.events("RoundOpened"))
    if not opened:
        return {}
    ledger = reader.address.lower()
    kinds = {fn.selector: name for name, fn in reader.contract.interface.functions.items()}
    bridge = reader.call("bridge")
    contracts = {ledger}
    if bridge and int(bridge, 16):
        contracts.add(bridge.lower())
        bridge_client = BridgeClient(backend, bridge)
        kinds.update({fn.selector: name for name, fn in
                      bridge_client.contract.interface.functions.items()})
    last = backend.block_number
    starts = [block for _, block in opened] + [last + 1]
    gas: dict[int, dict[str, int]] = {}
    for (round_id, first), end in zip(opened, starts[1:]):
        per_kind: dict[str, int] = defaultdict(int)
        for number in range(first, end):
            block = backend.rpc("eth_getBlockByNumber", hex(number), True) or {}
            for tx in block.get("transactions", []):
                if (tx.get("to") or "").lower() not in contracts:
                    continue
                receipt = backend.rpc("eth_getTransactionReceipt", tx["hash"])
                data = tx.get("input") or tx.get("data") or "0x"
                kind = kinds.get(bytes.fromhex(data[2:10]), "unknown")
                if int(receipt["status"], 16) != 1:
                    kind += " (reverted)"
                per_kind[kind] += int(receipt["gasUsed"], 16)
        gas[round_id] = dict(per_kind)
    return gas
