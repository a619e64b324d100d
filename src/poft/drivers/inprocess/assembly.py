"""Assembling a network for the in-process driver from its population plan.

Deploys the network's contracts on its own embedded EVM with the genesis model,
funds and registers every participant with its own key, and gives each its
roles: workers (honest, poisoned-data, or colluding Byzantine), and stakers
that act as validator or miner whenever the chain samples them.
"""

from __future__ import annotations

import copy

import torch

from poft.config.experiment import ExperimentConfig
from poft.config.population import NetworkPlan
from poft.drivers.exchange import IMPORT_MIX
from poft.drivers.inprocess.network import NetworkRuntime, Staker
from poft.drivers.participants import GAS_MONEY, ether, make_worker, network_params, training_settings
from poft.drivers.setup import participant_seed, spec_of
from poft.errors import InputError
from poft.learning.datasets import ArrayDataset
from poft.learning.params import flatten
from poft.ledger import EmbeddedBackend, LedgerClient, deploy_network, derive_accounts
from poft.protocol.miner import Miner
from poft.protocol.models_io import ModelCodec
from poft.protocol.timing import PhaseTimer, Timed
from poft.protocol.validator import Validator
from poft.protocol.worker_history import WorkerHistory


def build_network(config: ExperimentConfig, plan: NetworkPlan, train: ArrayDataset,
                  test: ArrayDataset, model: torch.nn.Module, store) -> NetworkRuntime:
    """Deploy, fund, register and give roles to one network's participants."""
    net, seed = plan.config, config.experiment.seed
    if config.rule_of(net) == "fltrust":
        raise InputError(f"network {net.name!r}: rule 'fltrust' needs a reference update "
                         "trained on the validators' data, which the on-chain protocol does "
                         "not commit yet; compare it with `poft bench robustness` (no ledger)")
    timer = PhaseTimer()
    codec = ModelCodec(model.state_dict())
    genesis = codec.publish(store, flatten(model.state_dict()))
    # One block per protocol step (automine=False): a step's transactions (set-up, all
    # updates of a round, all loss reports...) share a pending block, sealed by
    # NetworkRuntime.seal, whose state root and tries are computed once.
    backend = EmbeddedBackend(seed=seed * 1000 + plan.network_index, automine=False)
    deployment = deploy_network(backend, network_params(config, net, genesis))
    everyone = plan.workers + plan.stakers
    accounts = derive_accounts(seed, len(everyone), label=f"poft:{net.name}")
    clients = {}
    for who, account in zip(everyone, accounts):
        stake = ether(config.ledger.worker_stake if who.kind == "worker" else config.ledger.stake)
        backend.fund(account.address, stake + GAS_MONEY)
        client = LedgerClient.for_deployment(backend, deployment, account)
        client.register(is_worker=who.kind == "worker", stake=stake)
        clients[who.name] = Timed(client, timer, "ledger")
    scratch = copy.deepcopy(model)   # roles run one at a time here, so they share one module
    spec, settings = spec_of(config, net), training_settings(config)
    byzantine = {clients[w.name].account.address for w in plan.workers if w.byzantine}
    workers = [make_worker(config, plan, w, clients[w.name], store, codec, scratch,
                           train.subset(w.data_indices), settings, byzantine, timer)
               for w in plan.workers]
    stakers = {}
    # One history per network: it is a function of public data, and roles run one at
    # a time here, so they share it (as they share `scratch`).
    history = WorkerHistory(genesis.uri) if spec.uses_history else None
    for s in plan.stakers:
        client, s_seed = clients[s.name], participant_seed(config, plan, s)
        stakers[client.account.address] = Staker(
            Validator(client, store, codec, scratch, train.subset(s.data_indices), spec,
                      lying=s.lying, seed=s_seed, timer=timer, settings=settings,
                      import_mix=IMPORT_MIX.get(net.import_policy), history=history),
            Miner(client, store, codec, spec,
                  malicious=net.malicious_miner and s.index == 0, seed=s_seed, timer=timer,
                  history=history))
    anyone = Timed(LedgerClient.for_deployment(backend, deployment, backend.operator),
                   timer, "ledger")
    backend.seal()
    return NetworkRuntime(name=net.name, backend=backend, deployment=deployment, anyone=anyone,
                          workers=workers, stakers=stakers, byzantine=byzantine, codec=codec,
                          store=store, test_set=test, eval_model=copy.deepcopy(model),
                          timer=timer, spec=spec, genesis_uri=genesis.uri,
                          import_policy=net.import_policy)
