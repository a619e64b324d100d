"""`poft run --backend anvil|hardhat`: the in-process experiment, as separate processes.

1. `poft chain up` (a child process): one anvil (or hardhat) node per network, contracts,
   participants registered, an encrypted keystore per participant (random
   password in a 0600 file of the output folder, never on a command line);
2. `poft store serve OUT/blobs` (a child): the blob server every node uses;
3. one `poft node` per participant (workers: `worker`; stakers:
   `validator,miner`, plus `relayer` for each network's first staker when the
   cross-chain exchange is on), each with its own key and log in OUT/logs/,
   started a few at a time (loading data is each node's memory peak);
4. once every node is ready, round 1 is opened on every network; the nodes
   open the later ones themselves, and exit when their network's rounds and
   exports are done;
5. the outputs of the in-process driver are collected from the chains, the
   store and the nodes' logs (`node_collect`), and everything started is
   stopped, also on errors and Ctrl-C (the chains last, `chain down`, which
   writes anvil's state files: restart them with `poft chain restart` to run
   `poft verify` later; hardhat chains live in memory only and are gone).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from pathlib import Path

from tqdm import tqdm

from poft.config.experiment import ExperimentConfig, dump_config
from poft.drivers.chain.commands import chain_down
from poft.drivers.chain.deployment import DeploymentFile
from poft.drivers.node.collect import collect_outputs
from poft.drivers.node.log import read_events
from poft.drivers.node.supervisor import Child, RunFailed, Supervisor, poft_command
from poft.ledger import LedgerClient, Phase, RpcBackend
from poft.ledger.anvil import free_port

KDF_ITERATIONS = 2**14     # throwaway keys of one local run, behind a random password
READY_TIMEOUT_S = 600.0    # many processes importing torch on few cores take a while
STARTING_AT_ONCE = 4            # nodes loading data at the same time (memory peak)
MAX_RESTARTS = 3                # a crashed node is started again at most this often


def run_node_mode(config: ExperimentConfig, out_dir: str | Path, *, progress: bool = True,
                  block_time: float = 1.0, node: str = "anvil") -> dict:
    """Run `config` in node mode on `node` chains ("anvil" or "hardhat"); return the
    summary (also written to disk)."""
    out = Path(out_dir)
    if (out / "chain").exists() or (out / "deployment.json").exists():
        raise RunFailed(f"{out} already holds a node-mode run (chain state, deployment.json); "
                        "pass a fresh --out folder, or delete that one")
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.toml").write_text(dump_config(config))
    started = time.perf_counter()
    deployment = out / "deployment.json"
    with _stopped_cleanly(), Supervisor(out / "logs") as sup:
        try:
            password_file = _password_file(out)
            sup.run_to_end("chain-up", poft_command(
                "chain", "up", "--config", str(out / "config.toml"), "--out", str(deployment),
                "--keystores", "--password-file", str(password_file),
                "--kdf-iterations", str(KDF_ITERATIONS), "--block-time", str(block_time),
                "--node", node),
                timeout=600)
            dep = DeploymentFile.load(deployment)
            store_url = _start_store(sup, out)
            nodes = _start_nodes(sup, dep, config, password_file, store_url)
            _open_first_rounds(dep)
            _watch(sup, dep, config, nodes, progress, block_time)
            summary = collect_outputs(config, out, dep, nodes, time.perf_counter() - started)
        finally:
            sup.stop_all()
            if deployment.is_file():
                chain_down(deployment, log=lambda *_: None)
    return summary


@contextlib.contextmanager
def _stopped_cleanly():
    """SIGTERM and SIGINT unwind the run (so `finally` stops every child) instead of
    killing the supervisor and orphaning its nodes and chains."""
    def unwind(signum, _frame):
        raise KeyboardInterrupt(f"stopped by signal {signum}")

    previous = {s: signal.signal(s, unwind) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _password_file(out: Path) -> Path:
    path = out / "keys.password"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(24) + "\n")
    return path


def _start_store(sup: Supervisor, out: Path) -> str:
    port = free_port()
    child = sup.start("store", poft_command("store", "serve", str(out / "blobs"),
                                            "--port", str(port)))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    import urllib.request

    while time.monotonic() < deadline:
        sup.check_alive([child], allow_done=False)
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return url
        except OSError:
            time.sleep(0.1)
    raise RunFailed(f"the blob server did not answer at {url}; log {child.log_path}")


def node_roles(config: ExperimentConfig, kind: str, plan_index: int) -> str:
    if kind == "worker":
        return "worker"
    relayer = config.crosschain.enabled and plan_index == 0
    return "validator,miner,relayer" if relayer else "validator,miner"


def _start_nodes(sup: Supervisor, dep: DeploymentFile, config, password_file: Path,
                 store_url: str) -> list[Child]:
    """Start every participant's node, a few at a time, and wait until all are ready.

    Loading data and model is the memory and CPU peak of a node; starting them in
    waves keeps that peak to STARTING_AT_ONCE processes instead of all of them."""
    waiting = [(p.name, poft_command(
        "node", "--deployment", str(dep.path), "--network", name,
        "--key", str(dep.resolve(p.keystore)), "--password-file", str(password_file),
        "--roles", node_roles(config, p.kind, p.plan_index),
        "--store", store_url, "--open-rounds", "after-first"))
        for name in dep.network_names for p in dep.participants(name)]
    nodes: list[Child] = []
    starting: list[Child] = []
    deadline = time.monotonic() + READY_TIMEOUT_S
    while waiting or starting:
        sup.restart_crashed(nodes, MAX_RESTARTS)
        starting = [c for c in starting if not read_events(c.log_path, "ready")]
        while waiting and len(starting) < STARTING_AT_ONCE:
            child = sup.start(*waiting.pop(0))
            nodes.append(child)
            starting.append(child)
        if time.monotonic() > deadline:
            raise RunFailed(f"{starting[0].name} was not ready within {READY_TIMEOUT_S:.0f}s; "
                            f"log {starting[0].log_path}:\n{starting[0].tail()}")
        time.sleep(0.2)
    return nodes


def _open_first_rounds(dep: DeploymentFile) -> None:
    """Round 1 opens once every node is ready (anyone may open; the deployer does)."""
    for name in dep.network_names:
        backend = RpcBackend(dep.rpc_url(name))
        LedgerClient.for_deployment(backend, dep.deployment(name), backend.operator).open_round()


def _watch(sup: Supervisor, dep: DeploymentFile, config, nodes: list[Child], progress: bool,
           block_time: float) -> None:
    """Wait until every node has exited 0 (its rounds done); a crashed node is restarted
    (at most MAX_RESTARTS times, then the run fails with its log)."""
    rounds = config.experiment.rounds
    readers = {n: LedgerClient.for_deployment(RpcBackend(dep.rpc_url(n)), dep.deployment(n))
               for n in dep.network_names}
    phase_s = config.ledger.phase_blocks * max(block_time, 0.1)
    limit = time.monotonic() + rounds * (6 * phase_s + 60) + 300
    bar = tqdm(total=rounds * len(readers), disable=not progress, unit="round",
               desc=config.experiment.name, dynamic_ncols=True)
    done_rounds = {n: 0 for n in readers}
    with bar:
        while not all(c.exited() == 0 for c in nodes):
            sup.restart_crashed(nodes, MAX_RESTARTS)   # nodes resume from chain state
            for name, reader in readers.items():
                decided = _decided_rounds(reader)
                if decided > done_rounds[name]:
                    bar.update(decided - done_rounds[name])
                    done_rounds[name] = decided
            if time.monotonic() > limit:
                stuck = [c.name for c in nodes if c.exited() is None]
                raise RunFailed(f"the run did not finish in time; still running: "
                                f"{', '.join(stuck)}; logs in {sup.log_dir}")
            time.sleep(0.5)


def _decided_rounds(reader: LedgerClient) -> int:
    current, phase = reader.current_round(), reader.phase()
    return current if phase == Phase.IDLE else current - 1
