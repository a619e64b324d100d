"""A network's participants as both drivers build them: funds, chain parameters, workers.

The in-process driver (`poft.drivers.inprocess.assembly`) and the node driver
(`poft.drivers.node.roles`, `poft.drivers.chain.commands`) give every participant
the same allowance, the same chain parameters and the same worker role from the
same population plan, so one config runs the same protocol under both.
"""

from __future__ import annotations

from poft.attacks import DATA_ATTACKS, UPDATE_ATTACKS
from poft.config.experiment import ExperimentConfig, NetworkSection
from poft.config.population import ParticipantPlan
from poft.drivers.setup import participant_seed, poisoned
from poft.ledger import NetworkParams
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
        scores_per_candidate=2 if config.rule_of(net) == "robust_softmax" else 1,
        phase_blocks=max(led.phase_blocks, net.workers + 8),
        min_stake=ether(led.min_stake), slash_bps=led.slash_bps,
        reward_per_round=ether(led.reward_per_round),
        validator_reward=ether(led.validator_reward),
        genesis_root=genesis.commitment.root, genesis_fingerprint=genesis.commitment.fingerprint,
        genesis_uri=genesis.uri, initial_pool=ether(led.reward_pool))


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
