"""The no-ledger driver is the same computation as `poft run`'s in-process driver.

With a rule whose result does not depend on which stakers the chain samples as
validators (every rule but softmax uses the losses only to admit candidates),
both drivers must produce the same global models, hence the same accuracies.
"""

import pytest

from poft.config.experiment import parse_config
from poft.drivers.inprocess import driver as inprocess
from poft.drivers.simulation import simulate


def config(rule, attack, **extra):
    return parse_config({
        "experiment": {"seed": 1, "rounds": 2, "threads": 1},
        "data": {"dataset": "digits", "validator_samples": 100, "train_samples": 1000},
        "model": {"name": "cnn"},
        "training": {"lr": 0.1, "local_epochs": 1},
        "aggregation": {"rule": rule, "params": extra},
        "ledger": {"phase_blocks": 50},
        "networks": [{"name": "a", "workers": 6, "stakers": 4, "validators": 3, "miners": 1,
                      "byzantine_fraction": 0.34, "attack": attack}]})


@pytest.mark.parametrize("rule, attack, extra", [
    ("mean", "sign_flip", {}),
    ("trimmed_mean", "label_flip", {"f": 2}),
])
def test_same_models_as_the_on_chain_protocol(rule, attack, extra, tmp_path):
    c = config(rule, attack, **extra)
    with inprocess.InProcessDriver(c, tmp_path) as driver:
        chain = [driver.run_round()[0].accuracy for _ in range(c.experiment.rounds)]
    assert simulate(c).network().accuracy_by_round == chain
