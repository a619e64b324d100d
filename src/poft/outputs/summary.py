"""summary.json: a run's results per network, its cross-chain exchange, timing and gas.

Both drivers call `build_summary` with what they recorded: the in-process driver
as it runs (`poft.experiment.run`), the node driver after the fact from the
chains and the logs (`poft.drivers.node.collect`). The driver passed in offers
`model_path`, `timer`, `crosschain_summary` and `gas_summary`.

Besides the results, the summary says what ran (`setup`: the resolved rule and
its parameters, attack, Byzantine fraction, partitions, seed, backend, import
policy, model and data) and what it cost: per network the rewards and slashing
by participant class, the Byzantine workers' weight per round and their share
of the workers' rewards (`byzantine_reward_share`, also over all networks at
the top level), failed proposals, imports with their weights, and gas by role.
"""

from __future__ import annotations

from pathlib import Path

from poft.aggregation.robust_softmax import DEFAULTS as ROBUST_SOFTMAX_DEFAULTS
from poft.config.experiment import ExperimentConfig, NetworkSection
from poft.outputs.economics import CLASSES, ROLES, gas_by_role


def build_summary(config: ExperimentConfig, out: Path, records: list[dict], driver,
                  total_s: float, *, backend: str = "embedded", model: str | None = None,
                  data: str | None = None) -> dict:
    """The summary.json of a run from its per-round records (dicts of `ChainRoundRecord`).
    `model` and `data` say what stood in for the config's `[model]` and dataset (the
    Python API's own model and data), if anything did."""
    networks = {}
    for net in config.networks:
        recs = [r for r in records if r["network"] == net.name]
        last = recs[-1]
        networks[net.name] = {
            "final_accuracy": last["accuracy"],
            "rounds": len(recs),
            "finalized_rounds": sum(r["finalized"] for r in recs),
            "failed_proposals": sum(len(r["miners_tried"]) - bool(r["finalized"]) for r in recs),
            "accuracy_by_round": [r["accuracy"] for r in recs],
            "byzantine_weight_by_round": [byzantine_weight(r) for r in recs],
            "final_model": str(driver.model_path(out, net.name, last["round"])),
            "final_root": last["model_root"],
            **money(recs),
            "imports": [{"round": r["round"], "weight": w} for r in recs
                        for w, imported in zip(r["weights"], r["imported"]) if imported],
        }
    timer = driver.timer.totals
    crosschain = driver.crosschain_summary(total_s)
    gas = driver.gas_summary()
    return {
        "name": config.experiment.name,
        "seed": config.experiment.seed,
        "setup": describe_setup(config, backend=backend, model=model, data=data),
        "byzantine_reward_share": share(sum(n["rewards"]["byzantine_workers"]
                                            for n in networks.values()),
                                        sum(worker_rewards(n["rewards"])
                                            for n in networks.values())),
        "networks": networks,
        "crosschain": crosschain,
        "timing": {"total_s": total_s,
                   "train_s": timer.get("train", 0.0),
                   "ledger_s": timer.get("ledger", 0.0),
                   "crosschain_s": sum(crosschain.get("breakdown_s", {}).values()),
                   "phases_s": dict(timer)},
        "gas": gas,
        "gas_by_role": {name: gas_by_role({k: row["total"] for k, row in rows.items()})
                        for name, rows in gas.items()},
    }


def byzantine_weight(record: dict) -> float:
    """The Byzantine workers' total aggregation weight in one round."""
    return float(sum(w for w, byz in zip(record["weights"], record["byzantine"]) if byz))


def worker_rewards(rewards: dict) -> float:
    return rewards.get("honest_workers", 0.0) + rewards.get("byzantine_workers", 0.0)


def share(part: float, whole: float) -> float:
    return part / whole if whole > 0 else 0.0


def money(recs: list[dict]) -> dict:
    """A network's rewards and slashing over all rounds (ether, by class)."""
    rewards = {c: sum(r.get("rewards", {}).get(c, 0.0) for r in recs) for c in CLASSES}
    slashed = {c: sum(r.get("slashed", {}).get(c, 0.0) for r in recs) for c in CLASSES}
    return {"rewards": rewards, "slashed": slashed,
            "byzantine_reward_share": share(rewards["byzantine_workers"], worker_rewards(rewards)),
            "gas_by_role_by_round": [
                {role: used for role, used in gas_by_role(r.get("gas", {})).items()
                 if role in ROLES} for r in recs]}


def describe_setup(config: ExperimentConfig, *, backend: str, model: str | None,
                   data: str | None) -> dict:
    """What ran, resolved from the config (defaults filled in, per-network overrides applied)."""
    m, d = config.model, config.data
    return {
        "backend": backend,
        "seed": config.experiment.seed,
        "rounds": config.experiment.rounds,
        "model": model or (f"mlp (hidden {m.hidden})" if m.name == "mlp" else m.name),
        "data": data or d.dataset,
        "network_partition": (f"dirichlet (alpha {d.network_alpha})"
                              if d.network_partition == "dirichlet" else d.network_partition),
        "validator_samples": d.validator_samples,
        "crosschain": ({"every": config.crosschain.every,
                        "links": [f"{link.source} -> {link.target}"
                                  for link in config.crosschain.links]}
                       if config.crosschain.enabled else None),
        "networks": {net.name: describe_network(config, net) for net in config.networks},
    }


def describe_network(config: ExperimentConfig, net: NetworkSection) -> dict:
    rule, agg = config.rule_of(net), config.aggregation
    if rule == "softmax":
        params = {"temperature": agg.temperature, **agg.params}
    elif rule == "robust_softmax":      # its defaults are the rule's, not the section's
        params = {**ROBUST_SOFTMAX_DEFAULTS, **agg.params}
    else:
        params = dict(agg.params)
    return {
        "rule": "mean (FedAvg)" if rule == "mean" else rule,
        "rule_params": params,
        "tolerance": agg.tolerance,
        "workers": net.workers,
        "byzantine_workers": net.byzantine_workers,
        "byzantine_fraction": net.byzantine_fraction,
        "attack": net.attack,
        "attack_params": dict(net.attack_params),
        "partition": f"dirichlet (alpha {net.alpha})" if net.partition == "dirichlet"
                     else net.partition,
        "stakers": net.stakers,
        "validators": net.validators,
        "miners": net.miners,
        "lying_validators": net.lying_validators,
        "malicious_miner": net.malicious_miner,
        "import_policy": net.import_policy,
    }
