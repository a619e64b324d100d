"""Assembling a network for the in-process driver from its population plan.

Deploys the network's contracts on its own embedded EVM with the genesis model,
funds and registers every participant with its own key, and gives each its
roles: workers (honest, poisoned-data, or colluding Byzantine), and stakers
that act as validator or miner whenever the chain samples them.
"""

from __future__ import annotations

import copy

import torch

from poft.attacks import DATA_ATTACKS, UPDATE_ATTACKS
from poft.drivers.network import NetworkRuntime, Staker
from poft.drivers.setup import participant_seed, poisoned, spec_of
from poft.experiment.config import ExperimentConfig, NetworkSection
from poft.experiment.population import NetworkPlan, ParticipantPlan
from poft.learning.datasets import ArrayDataset
from poft.learning.params import flatten
from poft.ledger import (
    EmbeddedBackend,
    LedgerClient,
    NetworkParams,
    deploy_network,
    derive_accounts,
)
from poft.protocol.miner import Miner
from poft.protocol.models_io import ModelCodec
from poft.protocol.timing import PhaseTimer, Timed
from poft.protocol.validator import Validator
from poft.protocol.worker import ByzantineWorker, TrainingSettings, Worker

ETHER = 10**18
GAS_MONEY = 10 * ETHER   # each participant's allowance for transaction fees


def ether(amount: float) -> int:
    return int(round(amount * ETHER))


def training_settings(config: ExperimentConfig) -> TrainingSettings:
    t = config.training
    return TrainingSettings(epochs=t.local_epochs, batch_size=t.batch_size, lr=t.lr,
                            momentum=t.momentum, weight_decay=t.weight_decay)


def network_params(config: ExperimentConfig, net: NetworkSection, genesis) -> NetworkParams:
    led = config.ledger
    return NetworkParams(
        name=net.name, k_validators=net.validators, n_miners=net.miners,
        phase_blocks=max(led.phase_blocks, net.workers + 8),
        min_stake=ether(led.min_stake), slash_bps=led.slash_bps,
        reward_per_round=ether(led.reward_per_round),
        validator_reward=ether(led.validator_reward),
        genesis_root=genesis.commitment.root, genesis_fingerprint=genesis.commitment.fingerprint,
        genesis_uri=genesis.uri, initial_pool=ether(led.reward_pool))


def build_network(config: ExperimentConfig, plan: NetworkPlan, train: ArrayDataset,
                  test: ArrayDataset, model: torch.nn.Module, store) -> NetworkRuntime:
    """Deploy, fund, register and give roles to one network's participants."""
    net, seed = plan.config, config.experiment.seed
    if config.rule_of(net) == "fltrust":
        raise ValueError(f"network {net.name!r}: rule 'fltrust' needs a reference update "
                         "trained on the validators' data, which the on-chain protocol does "
                         "not commit yet; compare it with `poft bench robustness` (no ledger)")
    timer = PhaseTimer()
    codec = ModelCodec(model.state_dict())
    genesis = codec.publish(store, flatten(model.state_dict()))
    backend = EmbeddedBackend(seed=seed * 1000 + plan.network_index)
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
    for s in plan.stakers:
        client, s_seed = clients[s.name], participant_seed(config, plan, s)
        stakers[client.account.address] = Staker(
            Validator(client, store, codec, scratch, train.subset(s.data_indices), spec,
                      lying=s.lying, seed=s_seed, timer=timer),
            Miner(client, store, codec, spec,
                  malicious=net.malicious_miner and s.index == 0, seed=s_seed, timer=timer))
    anyone = Timed(LedgerClient.for_deployment(backend, deployment, backend.operator),
                   timer, "ledger")
    return NetworkRuntime(name=net.name, backend=backend, deployment=deployment, anyone=anyone,
                          workers=workers, stakers=stakers, byzantine=byzantine, codec=codec,
                          store=store, test_set=test, eval_model=copy.deepcopy(model),
                          timer=timer, spec=spec, genesis_uri=genesis.uri,
                          import_policy=net.import_policy)


def make_worker(config, plan, who: ParticipantPlan, client, store, codec, model, data,
                settings, byzantine: set[str], timer) -> Worker:
    net, seed = plan.config, participant_seed(config, plan, who)
    if who.byzantine and net.attack in DATA_ATTACKS:
        data = poisoned(data, net, seed)
    if who.byzantine and net.attack in UPDATE_ATTACKS:
        return ByzantineWorker(client, store, codec, model, data, settings, seed,
                               timer=timer, attack=net.attack,
                               attack_params=net.attack_params, colluders=byzantine)
    return Worker(client, store, codec, model, data, settings, seed, timer=timer)
