"""Asking for more samples than the dataset has is said, not silently capped."""

import logging

from poft.config.experiment import parse_config
from poft.drivers.setup import load_experiment_data


def config(**data):
    return parse_config({"experiment": {"name": "t"},
                         "data": {"dataset": "digits", **data},
                         "networks": [{"name": "a"}]})


def test_train_samples_above_the_dataset_warns_with_key_and_numbers(caplog):
    with caplog.at_level(logging.WARNING, logger="poft"):
        data = load_experiment_data(config(train_samples=100_000, test_samples=50))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "data.train_samples = 100000" in warnings[0]
    assert f"the {len(data.train)} samples of the digits training set" in warnings[0]
    assert len(data.test) == 50


def test_fitting_sizes_do_not_warn(caplog):
    with caplog.at_level(logging.WARNING, logger="poft"):
        load_experiment_data(config(train_samples=200))
    assert not caplog.records
