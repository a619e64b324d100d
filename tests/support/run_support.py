"""A tiny one-network config for end-to-end protocol tests (digits, an MLP, the
embedded chain, the default rule)."""

from poft.config.experiment import parse_config


def tiny(rounds: int = 2, params: dict | None = None, **network):
    base = {"name": "alpha", "workers": 6, "stakers": 5, "validators": 3, "miners": 2}
    return parse_config({
        "experiment": {"name": "tiny", "rounds": rounds, "seed": 0},
        "data": {"dataset": "digits", "validator_samples": 100},
        "model": {"name": "mlp", "hidden": 32},
        "training": {"lr": 0.05, "batch_size": 32},
        "aggregation": {"temperature": 0.05, "params": params or {}},
        "ledger": {"phase_blocks": 40},
        "networks": [{**base, **network}],
    })
