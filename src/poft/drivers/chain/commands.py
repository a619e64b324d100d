"""`poft chain up|down|restart`: the chains of a node-mode run and their deployment file.

`chain_up` starts one local node per network of the config, anvil (default)
or hardhat (`node="hardhat"`), with its own free port, chain id and (anvil)
state file in `<deployment folder>/chain/`, deploys both contracts per
network with the config's genesis model (committed and put in the blob store),
funds and registers every participant of the population plan with its stake,
funds each source network's stakers with gas on the networks they export to
(they relay there), registers on every target's bridge the validator set of
each linked source, optionally writes one encrypted keystore per participant,
and writes the deployment file (see `deployment_file`).

Against existing nodes (`rpc_urls`, e.g. geth, Besu, a test network) it only
deploys: participants then join by themselves (`poft node` registers its
account with the configured stake when it is not registered yet) and bridges
must be told whom to trust by their owner.

`chain_down` stops exactly the node processes the file records, by PID;
`chain_restart` starts stopped anvils again from their state files, on the same
ports, so nodes reconnect to the same URLs (a hardhat chain lives in memory only:
once stopped it is gone, and `chain_restart` says so).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from poft.config.experiment import ExperimentConfig, dump_config
from poft.config.population import NetworkPlan, plan_population
from poft.drivers.chain.deployment import FORMAT, DeploymentError, DeploymentFile
from poft.drivers.chain.keys import dev_accounts, write_keystore
from poft.drivers.chain.processes import NodeSpec, is_our_node, new_spec, start_node, stop_pid
from poft.drivers.participants import GAS_MONEY, ether, network_params
from poft.drivers.setup import initial_model, load_experiment_data, spec_of
from poft.errors import InputError
from poft.learning.params import flatten
from poft.ledger import (
    Account,
    BridgeClient,
    LedgerClient,
    RpcBackend,
    deploy_network,
    trust_network,
)
from poft.protocol.models_io import ModelCodec
from poft.store import open_store

FIRST_CHAIN_ID = 33001    # network i gets chain id FIRST_CHAIN_ID + i


def chain_up(config: ExperimentConfig, out: str | os.PathLike, *, block_time: float = 1.0,
             rpc_urls: list[str] | None = None, funder: Account | None = None,
             password: str | None = None, kdf_iterations: int | None = None,
             store: str | None = None, config_file: str | os.PathLike | None = None,
             node: str = "anvil", log=print) -> DeploymentFile:
    """Start (or connect to) the chains, deploy, register; write and return the file.

    `node`: the kind of local node started per network without `rpc_urls`,
    "anvil" or "hardhat"."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if rpc_urls and len(rpc_urls) != len(config.networks):
        raise InputError(f"--rpc was given {len(rpc_urls)} times but the config has "
                         f"{len(config.networks)} networks; pass one --rpc URL per network")
    dep = DeploymentFile(out, {"format": FORMAT, "networks": {}, "links": [
        {"source": l.source, "target": l.target} for l in config.crosschain.links]
        if config.crosschain.enabled else []})
    store_location = store or str(out.parent / "blobs")
    dep.data["store"] = store_location if "://" in store_location else dep.relative(store_location)
    dep.data["config"] = dep.relative(_config_copy(config, out, config_file))
    blobs = open_store(store_location)
    data = load_experiment_data(config)
    model = initial_model(config, data.train)
    genesis = ModelCodec(model.state_dict()).publish(blobs, flatten(model.state_dict()))
    plans = plan_population(config, data.train.y.numpy())
    started: list[tuple[NodeSpec, int]] = []     # (spec, pid) of the nodes started here
    try:
        backends = {}
        for i, plan in enumerate(plans):
            url = rpc_urls[i] if rpc_urls else None
            backends[plan.name] = _up_network(dep, config, plan, i, genesis, url, funder,
                                              block_time, started, log, node)
        if not rpc_urls:
            _link_bridges(dep, config, plans, backends)
            if password is not None:
                _write_keystores(dep, config, plans, password, kdf_iterations)
        dep.save()
    except BaseException:
        for spec, pid in started:   # leave nothing running behind a failed chain up
            stop_pid(pid, spec.port)
        raise
    return dep


def _config_copy(config: ExperimentConfig, out: Path, given) -> Path:
    """The config the nodes read: `given` when it sits next to the deployment file,
    else a resolved copy `<stem>.config.toml` there."""
    if given is not None and Path(given).resolve().parent == out.parent.resolve():
        return Path(given)
    copy = out.with_name(f"{out.stem}.config.toml")
    copy.write_text(dump_config(config))
    return copy


def _up_network(dep, config, plan: NetworkPlan, position: int, genesis, url, funder,
                block_time, started, log, node="anvil"):
    net, local = plan.config, url is None
    if local:
        spec = new_spec(dep.folder / "chain", net.name, FIRST_CHAIN_ID + position, block_time,
                        kind=node)
        if spec.state_file is not None and spec.state_file.exists():
            raise DeploymentError(f"{spec.state_file} exists from an earlier chain: use "
                                  "`poft chain restart` for it, or a fresh --out folder")
        pid = start_node(spec)
        started.append((spec, pid))
        url = spec.url
    backend = RpcBackend(url, funder_key=funder.private_key if funder else None,
                         seed=config.experiment.seed)
    deployment = deploy_network(backend, network_params(config, net, genesis))
    entry = {**deployment.to_json(), "genesis_uri": genesis.uri,
             "aggregation": _spec_json(config, net), "participants": []}
    if local:
        entry[spec.kind] = _node_json(dep, spec, pid)
        entry["dev_keys"] = {"seed": config.experiment.seed, "label": f"poft:{net.name}"}
        entry["participants"] = _register_participants(config, plan, backend, deployment)
    dep.data["networks"][net.name] = entry
    log(f"network {net.name}: chain {backend.chain_id} at {url}, ledger "
        f"{deployment.ledger_address}, {len(entry['participants'])} participants registered")
    return backend


def _spec_json(config, net) -> dict:
    """The aggregation spec as `poft verify` rebuilds it (`AggregationSpec(**...)`)."""
    return dataclasses.asdict(spec_of(config, net))


def _node_json(dep: DeploymentFile, spec: NodeSpec, pid: int) -> dict:
    record = {"pid": pid, "port": spec.port, "log_file": dep.relative(spec.log_file),
              "block_time": spec.block_time}
    if spec.state_file is not None:
        record["state_file"] = dep.relative(spec.state_file)
    if spec.kind == "hardhat":
        record["config_file"] = dep.relative(spec.config_file)
    return record


def _register_participants(config, plan: NetworkPlan, backend, deployment) -> list[dict]:
    """Fund and register every planned participant with its dev account (as in-process)."""
    everyone = plan.workers + plan.stakers
    accounts = dev_accounts(config.experiment.seed, plan.name, len(everyone))
    rows = []
    for index, (who, account) in enumerate(zip(everyone, accounts)):
        is_worker = who.kind == "worker"
        stake = ether(config.ledger.worker_stake if is_worker else config.ledger.stake)
        backend.fund(account.address, stake + GAS_MONEY)
        LedgerClient.for_deployment(backend, deployment, account).register(
            is_worker=is_worker, stake=stake)
        rows.append({"index": index, "name": who.name, "kind": who.kind,
                     "address": account.address, "keystore": None})
    return rows


def _link_bridges(dep: DeploymentFile, config, plans, backends) -> None:
    """Each target's bridge trusts each linked source's stakers; those stakers get gas
    on the target (any of them may relay there)."""
    for source, target in dep.links():
        src, dst = backends[source], backends[target]
        reader = LedgerClient.for_deployment(src, dep.deployment(source))
        owner = BridgeClient.for_deployment(dst, dep.deployment(target), dst.operator)
        trust_network(owner, reader)
        for p in dep.participants(source):
            if p.kind == "staker":
                dst.fund(p.address, GAS_MONEY)


def _write_keystores(dep: DeploymentFile, config, plans, password: str, iterations: int | None) -> None:
    for plan in plans:
        entry = dep.entry(plan.name)
        accounts = dev_accounts(config.experiment.seed, plan.name, len(entry["participants"]))
        for row, account in zip(entry["participants"], accounts):
            path = dep.folder / "keys" / plan.name / f"{row['name'].split('/')[1]}.json"
            write_keystore(path, account, password, iterations)
            row["keystore"] = dep.relative(path)


# --- down and restart --------------------------------------------------------------
def _spec_of(dep: DeploymentFile, name: str) -> NodeSpec | None:
    local = dep.local_node(name)
    if local is None:
        return None
    kind, record = local
    state = record.get("state_file")
    return NodeSpec(port=record["port"], chain_id=dep.entry(name)["chain_id"],
                    state_file=dep.resolve(state) if state else None,
                    log_file=dep.resolve(record["log_file"]),
                    block_time=float(record.get("block_time", 1.0)), kind=kind)


def chain_down(path: str | os.PathLike, names: list[str] | None = None, log=print) -> list[str]:
    """Stop the recorded node processes (by PID); returns the networks stopped."""
    dep = DeploymentFile.load(path)
    stopped = []
    for name in names or dep.network_names:
        local = dep.local_node(name)
        if not local:
            log(f"network {name}: not started by `poft chain up` (no node PID): left alone")
            continue
        kind, record = local
        pid = record.get("pid")
        if pid and stop_pid(pid, record["port"]):
            stopped.append(name)
            kept = (f"state in {record['state_file']}" if record.get("state_file")
                    else "its chain is gone (hardhat keeps no state file)")
            log(f"network {name}: stopped {kind} {pid}; {kept}")
        else:
            log(f"network {name}: {kind} {pid} was not running")
        record["pid"] = None
    dep.save()
    return stopped


def chain_restart(path: str | os.PathLike, names: list[str] | None = None,
                  log=print) -> list[str]:
    """Start again, from their state files, the recorded anvils that are not running
    (a stopped hardhat chain cannot come back: DeploymentError)."""
    dep = DeploymentFile.load(path)
    names = names or dep.network_names
    if all(dep.local_node(name) is None for name in names):
        raise DeploymentError(
            f"nothing to restart in {str(path)!r}: none of its networks ran on a node that "
            "`poft chain up` started (an embedded run's chains live in its folder, where "
            "`poft verify` reads them; nothing runs to be restarted)")
    restarted = []
    for name in names:
        spec = _spec_of(dep, name)
        if spec is None:
            log(f"network {name}: not started by `poft chain up` (no node PID): left alone")
            continue
        record = dep.local_node(name)[1]
        if record.get("pid") and is_our_node(record["pid"], spec.port):
            log(f"network {name}: {spec.kind} {record['pid']} is running")
            continue
        if spec.state_file is None:
            raise DeploymentError(
                f"network {name} ran on a {spec.kind} node, which keeps its chain in memory "
                "only (no state file): once stopped it cannot be restarted. Use anvil "
                "(`poft chain up --node anvil`, `poft run --backend anvil`) for chains that "
                "`poft chain restart` can bring back")
        record["pid"] = start_node(spec)
        restarted.append(name)
        log(f"network {name}: anvil {record['pid']} restarted from {record['state_file']}")
    dep.save()
    return restarted
