"""Giving one node process its role objects, exactly as the in-process driver does.

The node rebuilds the experiment's data split and population plan from the
config and its seed (`plan_population`), takes the part of the participant it
is, and builds the same `Worker` / `ByzantineWorker` / `Validator` / `Miner` /
`Relayer` objects `poft.drivers.participants` builds, on a ledger client signed
with its own key. Byzantine, lying and malicious behaviour come from the plan
for that participant, as in-process.
"""

from __future__ import annotations

import copy
import gc
from dataclasses import dataclass, field

import torch

from poft.commitment import commit
from poft.config.experiment import ExperimentConfig
from poft.config.population import plan_population
from poft.drivers.exchange import IMPORT_MIX
from poft.drivers.node.identity import Identity, NodeSetupError
from poft.drivers.participants import make_worker, training_settings
from poft.drivers.setup import initial_model, load_experiment_data, participant_seed, spec_of
from poft.ledger import BridgeClient, LedgerClient, NodeError, RpcBackend
from poft.protocol.aggregate import AggregationSpec
from poft.protocol.miner import Miner
from poft.protocol.models_io import ModelCodec
from poft.protocol.relayer import Relayer
from poft.protocol.timing import PhaseTimer, Timed
from poft.protocol.validator import Validator
from poft.protocol.worker import Worker
from poft.protocol.worker_history import WorkerHistory


@dataclass
class NodeRoles:
    """Everything a node's duties act through."""

    ledger: object                      # own key, own network; calls timed as "ledger"
    reader: LedgerClient                # untimed reads (polling is waiting, not ledger work)
    bridge: BridgeClient                # this network's bridge (reads)
    store: object
    codec: ModelCodec
    spec: AggregationSpec
    timer: PhaseTimer
    genesis_uri: str
    history: WorkerHistory | None = None  # the workers' histories, when the rule weighs them
    worker: Worker | None = None
    validator: Validator | None = None
    miner: Miner | None = None
    nominator: Relayer | None = None    # adds imports as candidates on this network
    relayers: dict[str, Relayer] = field(default_factory=dict)        # target -> relayer out
    target_bridges: dict[str, BridgeClient] = field(default_factory=dict)
    source_info: dict[str, tuple] = field(default_factory=dict)  # source -> (rpc url, Deployment)
    honest: set[str] = field(default_factory=set)      # addresses of the honest workers
    byzantine: set[str] = field(default_factory=set)
    import_mix: float | None = None     # workers start from an import (policies init/merge)
    export_every: int = 1
    exports: bool = False               # this network is the source of some link
    _sources: dict[str, LedgerClient] = field(default_factory=dict)

    def source(self, name: str) -> LedgerClient | None:
        """A reader of linked source network `name` (connected lazily; None while down)."""
        if name not in self._sources:
            url, deployment = self.source_info[name]
            try:
                backend = RpcBackend(url)
            except NodeError:
                return None
            self._sources[name] = LedgerClient.for_deployment(backend, deployment)
        return self._sources[name]


def build_roles(ident: Identity, config: ExperimentConfig, store) -> NodeRoles:
    """The role objects of `ident.participant` under `config` (loads data and model)."""
    torch.set_num_threads(config.experiment.threads or 1)   # one participant per process
    data = load_experiment_data(config)
    plans = {p.name: p for p in plan_population(config, data.train.y.numpy())}
    plan = plans[ident.network]
    model = initial_model(config, data.train)
    _check_same_model(ident, model)
    codec = ModelCodec(model.state_dict())
    timer = PhaseTimer()
    reader = LedgerClient.for_deployment(ident.backend, ident.deployment)
    client = Timed(LedgerClient.for_deployment(ident.backend, ident.deployment, ident.account),
                   timer, "ledger")
    net = plan.config
    roles = NodeRoles(
        ledger=client, reader=reader, store=store, codec=codec, spec=spec_of(config, net),
        timer=timer, genesis_uri=ident.dep.entry(ident.network)["genesis_uri"],
        bridge=BridgeClient.for_deployment(ident.backend, ident.deployment),
        export_every=config.crosschain.every)
    if roles.spec.uses_history:
        roles.history = WorkerHistory(roles.genesis_uri)
    _mark_workers(roles, ident, plan)
    who = (plan.workers if ident.participant.kind == "worker" else plan.stakers)[
        ident.participant.plan_index]
    scratch = copy.deepcopy(model)
    own_data = data.train.subset(who.data_indices)
    seed = participant_seed(config, plan, who)
    if "worker" in ident.roles:
        roles.worker = make_worker(config, plan, who, client, store, codec, scratch, own_data,
                                   training_settings(config), roles.byzantine, timer)
    if "validator" in ident.roles:
        roles.validator = Validator(client, store, codec, scratch, own_data, roles.spec,
                                    lying=who.lying, seed=seed, timer=timer,
                                    settings=training_settings(config),
                                    import_mix=IMPORT_MIX.get(net.import_policy),
                                    history=roles.history)
    if "miner" in ident.roles:
        roles.miner = Miner(client, store, codec, roles.spec,
                            malicious=net.malicious_miner and who.index == 0, seed=seed,
                            timer=timer, history=roles.history)
    _wire_crosschain(roles, ident, config)
    del data, plans
    _release_dataset_cache()
    return roles


def _release_dataset_cache() -> None:
    """Drop the loader's cached copy of the whole dataset: a node keeps only its own
    share, and many nodes on one machine would otherwise each hold all of it."""
    from poft.learning import datasets

    for value in vars(datasets).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()
    gc.collect()


def _check_same_model(ident: Identity, model: torch.nn.Module) -> None:
    commitment, _ = commit(model.state_dict())
    on_chain = LedgerClient.for_deployment(ident.backend, ident.deployment).global_model()
    if commitment.fingerprint != on_chain.fingerprint:
        raise NodeSetupError(
            f"the config's model does not match network {ident.network!r}: its architecture "
            "fingerprint differs from the chain's global model; pass the config the chain was "
            "deployed with (--config, default: the one named in the deployment file)")


def _mark_workers(roles: NodeRoles, ident: Identity, plan) -> None:
    byzantine_names = {w.name for w in plan.workers if w.byzantine}
    for p in ident.dep.participants(ident.network):
        if p.kind == "worker":
            (roles.byzantine if p.name in byzantine_names else roles.honest).add(p.address)
    if ident.participant.name in byzantine_names:
        roles.byzantine.add(ident.account.address)


def _wire_crosschain(roles: NodeRoles, ident: Identity, config: ExperimentConfig) -> None:
    """Readers of the networks exporting to this one; relayers to the ones it exports to."""
    if not config.crosschain.enabled:
        return
    me, dep = ident.network, ident.dep
    for source, target in dep.links():
        if target == me:
            roles.source_info[source] = (dep.rpc_url(source), dep.deployment(source))
            roles.import_mix = IMPORT_MIX.get(config.network(me).import_policy)
        roles.exports = roles.exports or source == me
    if "relayer" not in ident.roles:
        return
    roles.nominator = Relayer(None, roles.bridge, roles.ledger, roles.store, roles.codec,
                              roles.timer)
    for source, target in dep.links():
        if source == me:
            roles.relayers[target] = _relayer_to(roles, ident, target)


def _relayer_to(roles: NodeRoles, ident: Identity, target: str) -> Relayer:
    from poft.drivers.node.identity import connect

    backend, deployment = connect(ident.dep, target)
    if backend.get_balance(ident.account.address) == 0:
        raise NodeSetupError(
            f"the relayer {ident.account.address} has no gas on network {target!r}: fund it "
            "there (`poft chain up` funds every staker of a source network on its targets)")
    bridge = BridgeClient.for_deployment(backend, deployment, ident.account)
    roles.target_bridges[target] = bridge
    target_reader = LedgerClient.for_deployment(backend, deployment)
    source_reader = LedgerClient.for_deployment(ident.backend, ident.deployment)
    return Relayer(source_reader, bridge, target_reader, roles.store, roles.codec, roles.timer)
