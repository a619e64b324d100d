"""summary.json: a run's results per network, its cross-chain exchange, timing and gas.

Both drivers call `build_summary` with what they recorded: the in-process driver
as it runs (`poft.experiment.run`), the node driver after the fact from the
chains and the logs (`poft.drivers.node.collect`). The driver passed in offers
`model_path`, `timer`, `crosschain_summary` and `gas_summary`.
"""

from __future__ import annotations

from pathlib import Path

from poft.config.experiment import ExperimentConfig


def build_summary(config: ExperimentConfig, out: Path, records: list[dict], driver,
                  total_s: float) -> dict:
    """The summary.json of a run from its per-round records (dicts of `ChainRoundRecord`)."""
    networks = {}
    for net in config.networks:
        recs = [r for r in records if r["network"] == net.name]
        last = recs[-1]
        networks[net.name] = {
            "final_accuracy": last["accuracy"],
            "rounds": len(recs),
            "finalized_rounds": sum(r["finalized"] for r in recs),
            "accuracy_by_round": [r["accuracy"] for r in recs],
            "final_model": str(driver.model_path(out, net.name, last["round"])),
            "final_root": last["model_root"],
        }
    timer = driver.timer.totals
    crosschain = driver.crosschain_summary(total_s)
    return {
        "name": config.experiment.name,
        "seed": config.experiment.seed,
        "networks": networks,
        "crosschain": crosschain,
        "timing": {"total_s": total_s,
                   "train_s": timer.get("train", 0.0),
                   "ledger_s": timer.get("ledger", 0.0),
                   "crosschain_s": sum(crosschain.get("breakdown_s", {}).values()),
                   "phases_s": dict(timer)},
        "gas": driver.gas_summary(),
    }
