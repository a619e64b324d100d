"""The in-process driver: every role of every network in one process.

Each network runs on its own embedded EVM; all share one content-addressed
store (the run's `blobs/` folder). Rounds are stepped network by network,
phases in order, through the same role code the node driver runs as separate
processes.

After every round `save_progress` writes the chains' journals, deployment.json
and `chain/resume.json` (rounds done, each chain's journal length and head, the
participants' random generators, the cross-chain exchange's pending imports);
`resume` brings a freshly built driver (which deploys the same contracts the
same way under the same seed) back to that point by executing the rest of each
journal, so a resumed run goes on exactly as an uninterrupted one would.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from poft.config.experiment import ExperimentConfig
from poft.config.population import plan_population
from poft.drivers.executor import make_executor
from poft.drivers.inprocess.assembly import build_network
from poft.drivers.inprocess.crosschain import CrossChainExchange
from poft.drivers.inprocess.network import NetworkRuntime
from poft.drivers.setup import ExperimentInputs, initial_model, load_experiment_data
from poft.errors import InputError
from poft.outputs.metrics import ChainRoundRecord
from poft.protocol.relayer import ImportedModel
from poft.protocol.timing import PhaseTimer
from poft.store import LocalStore, parse_location

RESUME_FILE = Path("chain") / "resume.json"


class InProcessDriver:
    def __init__(self, config: ExperimentConfig, out_dir: Path,
                 inputs: ExperimentInputs | None = None):
        """`inputs`: the user's own data and model (the Python API), else the config's."""
        if config.experiment.threads:
            torch.set_num_threads(config.experiment.threads)
        self.config = config
        self.store = LocalStore(out_dir / "blobs")
        data = load_experiment_data(config, inputs)
        train, test = data.train, data.test
        self.data = data
        plans = plan_population(config, train.y.numpy())
        model = initial_model(config, train, inputs.model_fn if inputs else None)
        self.networks: list[NetworkRuntime] = [
            build_network(config, plan, train, test, model, self.store) for plan in plans]
        self.exchange = CrossChainExchange(config, self.networks)
        self.rounds_done = 0
        # One training pool for the whole run, started last so that it inherits (or is
        # shipped) every worker's model and data once; only parameters travel per round.
        trainers = {key: t for net in self.networks for key, t in net.trainers().items()}
        self.executor = make_executor(trainers, config.experiment.parallel_workers,
                                      config.experiment.cluster)
        if self.executor.remote:
            for net in self.networks:
                net.executor = self.executor

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.executor.__exit__(*exc)
        for net in self.networks:
            net.backend.close()

    def run_round(self) -> list[ChainRoundRecord]:
        records = [net.run_round() for net in self.networks]
        self.rounds_done += 1
        self.exchange.after_round(self.rounds_done)
        for net in self.networks:
            net.seal()      # the exchange's signatures and imports: one block
        return records

    @property
    def timer(self) -> PhaseTimer:
        total = PhaseTimer()
        for net in self.networks:
            for phase, seconds in net.timer.totals.items():
                total.totals[phase] += seconds
        return total

    def model_path(self, out, network: str, round_id: int):
        return out / "models" / network / f"round-{round_id}.safetensors"

    def save_model(self, out, record: ChainRoundRecord) -> None:
        """Write the round's global model (its canonical bytes) under models/."""
        net = next(n for n in self.networks if n.name == record.network)
        head = net.anyone.global_model()
        path = self.model_path(out, record.network, record.round)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.store.get(parse_location(head.uri)))

    def deployment_info(self, out: Path) -> dict:
        """deployment.json: per network its contracts, chain, aggregation spec and (for the
        embedded backend) the chain journal that `poft verify` replays."""
        networks = {}
        for net in self.networks:
            journal = out / "chain" / f"{net.name}.journal"
            journal.parent.mkdir(parents=True, exist_ok=True)
            net.backend.save_journal(journal)
            networks[net.name] = {
                **net.deployment.to_json(),
                "journal": str(journal.relative_to(out)),
                "genesis_uri": net.genesis_uri,
                "aggregation": dataclasses.asdict(net.spec),
            }
        return {"store": str(self.store.root.relative_to(out)), "networks": networks}

    def crosschain_summary(self, total_s: float) -> dict:
        return self.exchange.summary(total_s)

    def gas_summary(self) -> dict:
        return {net.name: net.backend.gas_report.to_dict() for net in self.networks}

    # --- progress on disk: deployment.json, journals, resume state ----------------------
    def save_progress(self, out: Path) -> None:
        """Write the journals, chain/resume.json and deployment.json (each atomically;
        resume.json names how much of each journal belongs to the rounds it records)."""
        info = self.deployment_info(out)
        state = {"rounds_done": self.rounds_done,
                 "networks": {net.name: _network_state(net) for net in self.networks},
                 "crosschain": {
                     "imports": self.exchange.imports, "rejected": self.exchange.rejected,
                     "pending": [[{**dataclasses.asdict(m), "root": m.root.hex()}
                                  for m in link.pending] for link in self.exchange.links]}}
        _write_atomically(out / RESUME_FILE, json.dumps(state))
        _write_atomically(out / "deployment.json", json.dumps(info, indent=2))

    def resume(self, out: Path) -> int:
        """Bring this freshly built driver to the state `save_progress` wrote into `out`;
        returns the rounds done."""
        path = out / RESUME_FILE
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot resume from {out}: {path} is missing or unreadable "
                             f"({exc}); start again with --overwrite") from None
        for net in self.networks:
            saved = state["networks"].get(net.name)
            if saved is None:
                raise InputError(f"cannot resume from {out}: it has no network {net.name!r}; "
                                 "the config differs from the interrupted run's")
            _restore_network(net, saved, out)
        crosschain = state["crosschain"]
        self.exchange.imports = crosschain["imports"]
        self.exchange.rejected = crosschain["rejected"]
        for link, pending in zip(self.exchange.links, crosschain["pending"]):
            link.pending = [ImportedModel(p["import_id"], p["source_round"],
                                          bytes.fromhex(p["root"]), p["uri"]) for p in pending]
        self.rounds_done = state["rounds_done"]
        return self.rounds_done


def _network_state(net: NetworkRuntime) -> dict:
    return {"journal_entries": len(net.backend.journal), "head": net.backend.head_hash(),
            "workers": [_generator_state(w.generator) for w in net.workers],
            "validators": [_generator_state(s.validator.generator) for s in net.stakers.values()],
            "miners": [_generator_state(s.miner.generator) for s in net.stakers.values()]}


def _restore_network(net: NetworkRuntime, saved: dict, out: Path) -> None:
    journal = out / "chain" / f"{net.name}.journal"
    try:
        entries = json.loads(journal.read_text())["entries"][:saved["journal_entries"]]
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"cannot resume from {out}: journal {journal} is missing or "
                         f"unreadable ({exc})") from None
    built = [list(e) for e in net.backend.journal]
    if [list(e) for e in entries[:len(built)]] != built:
        raise InputError(f"cannot resume from {out}: network {net.name!r} was deployed "
                         "differently (another config or seed); start again with --overwrite")
    net.backend.apply_journal(entries[len(built):])
    if net.backend.head_hash() != saved["head"]:
        raise InputError(f"cannot resume from {out}: replaying {journal} does not reproduce "
                         "its recorded head block; start again with --overwrite")
    if (len(saved["workers"]) != len(net.workers)
            or len(saved["validators"]) != len(net.stakers)):
        raise InputError(f"cannot resume from {out}: network {net.name!r} has other "
                         "participants than the interrupted run")
    for worker, state in zip(net.workers, saved["workers"]):
        _set_generator_state(worker.generator, state)
    for staker, v_state, m_state in zip(net.stakers.values(), saved["validators"],
                                        saved["miners"]):
        _set_generator_state(staker.validator.generator, v_state)
        _set_generator_state(staker.miner.generator, m_state)


def _generator_state(generator: torch.Generator) -> str:
    return generator.get_state().numpy().tobytes().hex()


def _set_generator_state(generator: torch.Generator, state: str) -> None:
    generator.set_state(torch.frombuffer(bytearray.fromhex(state), dtype=torch.uint8).clone())


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)
