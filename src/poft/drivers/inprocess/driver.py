"""The in-process driver: every role of every network in one process.

Each network runs on its own embedded EVM; all share one content-addressed
store (the run's `blobs/` folder). Rounds are stepped network by network,
phases in order, through the same role code the node driver runs as separate
processes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from poft.config.experiment import ExperimentConfig
from poft.config.population import plan_population
from poft.drivers.executor import make_executor
from poft.drivers.inprocess.assembly import build_network
from poft.drivers.inprocess.crosschain import CrossChainExchange
from poft.drivers.inprocess.network import NetworkRuntime
from poft.drivers.setup import ExperimentInputs, initial_model, load_experiment_data
from poft.outputs.metrics import ChainRoundRecord
from poft.protocol.timing import PhaseTimer
from poft.store import LocalStore, parse_location


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
