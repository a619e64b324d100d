"""Helpers of the node-mode tests: a small deployment, its node processes, waits.

`Cluster` brings up real anvil chains with `poft chain up` (a subprocess, as a
user would), starts `poft node` processes with encrypted keystores, and lets a
test open rounds, kill and restart processes and wait for chain states. Every
process it starts is stopped by PID in `close()` (the fixtures' teardown), and
the chains with `poft chain down`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from poft.drivers.chain.commands import chain_down
from poft.drivers.chain.deployment import DeploymentFile
from poft.drivers.node.log import read_events
from poft.drivers.node.supervisor import Child, Supervisor, poft_command
from poft.ledger import LedgerClient, Phase, RpcBackend

try:
    from poft.ledger import find_anvil

    ANVIL = find_anvil()
except Exception:  # AnvilNotFound: npm packages not installed
    ANVIL = None
ANVIL_SKIP = "anvil not installed (run `npm ci` / `make setup`)"

try:
    from poft.ledger import find_hardhat

    HARDHAT = find_hardhat()[1]
except Exception:  # HardhatNotFound: npm packages (or node) not installed
    HARDHAT = None
HARDHAT_SKIP = "hardhat not installed (run `npm ci` / `make setup`; needs node)"
# The local node kinds of node mode, skipped with the reason where absent.
NODE_PARAMS = [pytest.param("anvil", marks=pytest.mark.anvil),
               pytest.param("hardhat", marks=pytest.mark.hardhat)]


def skip_unless_installed(kind: str) -> None:
    if kind == "anvil" and ANVIL is None:
        pytest.skip(ANVIL_SKIP)
    if kind == "hardhat" and HARDHAT is None:
        pytest.skip(HARDHAT_SKIP)

PASSWORD = "correct horse battery staple"


def config_toml(networks: list[dict], *, rounds: int, phase_blocks: int, crosschain=None,
                partition: str = "iid", rule: str = "softmax") -> str:
    """A small digits/MLP config as TOML text."""
    lines = [
        "[experiment]", 'name = "node-test"', "seed = 0", f"rounds = {rounds}", "",
        "[data]", 'dataset = "digits"', "validator_samples = 40",
        f'network_partition = "{partition}"', "",
        "[model]", 'name = "mlp"', "hidden = 32", "",
        "[ledger]", f"phase_blocks = {phase_blocks}", "",
        # The paper's rule by default: most node tests are about node mode's mechanics;
        # on their tiny label-skewed networks robust_softmax's direction gate can refuse
        # every update of a round (the round then fails, by design). test_node_robust
        # runs robust_softmax on an IID network.
        "[aggregation]", f'rule = "{rule}"', "",
    ]
    if crosschain:
        links = ", ".join(f'{{ source = "{a}", target = "{b}" }}' for a, b in crosschain)
        lines += ["[crosschain]", "enabled = true", f"links = [{links}]", ""]
    for net in networks:
        lines.append("[[networks]]")
        for key, value in net.items():
            lines.append(f"{key} = {json.dumps(value)}")
        lines.append("")
    return "\n".join(lines)


def poft_run(*args: str, timeout: float = 120, env: dict | None = None
             ) -> subprocess.CompletedProcess:
    return subprocess.run(poft_command(*args), capture_output=True, text=True, timeout=timeout,
                          env=env or dict(os.environ))


class Cluster:
    """One deployment (`poft chain up`) and its node processes."""

    def __init__(self, folder: Path, config_text: str, block_time: float = 1.0):
        self.folder = folder
        self.config = folder / "config.toml"
        self.config.write_text(config_text)
        self.deployment = folder / "deployment.json"
        self.password_file = folder / "password"
        self.password_file.write_text(PASSWORD + "\n")
        self.sup = Supervisor(folder / "logs")
        self.nodes: dict[str, Child] = {}
        self.killed: set[int] = set()       # PIDs the test killed on purpose
        done = poft_run("chain", "up", "--config", str(self.config), "--out",
                        str(self.deployment), "--keystores", "--password-file",
                        str(self.password_file), "--kdf-iterations", "16384",
                        "--block-time", str(block_time), timeout=180)
        if done.returncode != 0:
            self.close()
            raise RuntimeError(f"poft chain up failed:\n{done.stdout}\n{done.stderr}")
        self.dep = DeploymentFile.load(self.deployment)
        self._readers: dict[str, LedgerClient] = {}

    # --- processes ---------------------------------------------------------------
    def node_args(self, network: str, name: str, roles: str, *extra: str) -> list[str]:
        p = next(p for p in self.dep.participants(network) if p.name == name)
        return ["node", "--deployment", str(self.deployment), "--network", network,
                "--key", str(self.dep.resolve(p.keystore)), "--password-file",
                str(self.password_file), "--roles", roles, "--poll-max", "0.5", *extra]

    def start_node(self, network: str, name: str, roles: str, *extra: str) -> Child:
        child = self.sup.start(name, poft_command(*self.node_args(network, name, roles, *extra)))
        self.nodes[name] = child
        return child

    def start_network(self, network: str, *extra: str) -> None:
        for p in self.dep.participants(network):
            roles = "worker" if p.kind == "worker" else "validator,miner"
            self.start_node(network, p.name, roles, *extra)

    def wait_ready(self, timeout: float = 240) -> None:
        self.sup.wait_for_event(list(self.nodes.values()), "ready", timeout)

    def kill(self, name: str) -> None:
        """A crash: SIGKILL, no chance to clean up."""
        child = self.nodes[name]
        self.killed.add(child.pid)
        os.kill(child.pid, signal.SIGKILL)
        child.process.wait(10)

    def restart(self, name: str, network: str, roles: str, *extra: str) -> Child:
        old = self.nodes[name]
        shutil.move(str(old.log_path), str(old.log_path) + f".{int(time.time() * 1000)}")
        return self.start_node(network, name, roles, *extra)

    def events(self, name: str, event: str) -> list[dict]:
        return read_events(self.nodes[name].log_path, event)

    # --- chain -------------------------------------------------------------------
    def reader(self, network: str) -> LedgerClient:
        if network not in self._readers:
            backend = RpcBackend(self.dep.rpc_url(network))
            self._readers[network] = LedgerClient.for_deployment(
                backend, self.dep.deployment(network))
        return self._readers[network]

    def forget_readers(self) -> None:
        self._readers.clear()

    def open_round(self, network: str) -> int:
        backend = RpcBackend(self.dep.rpc_url(network))
        client = LedgerClient.for_deployment(backend, self.dep.deployment(network),
                                             backend.operator)
        return client.open_round()

    def name_of(self, network: str, address: str) -> str:
        return self.dep.participant_by_address(network, address).name

    def wait_for(self, what: str, predicate, timeout: float = 90, poll: float = 0.1):
        """Poll `predicate` until truthy (returned); fail naming `what` and crashed nodes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            crashed = [n for n, c in self.nodes.items()
                       if c.exited() not in (None, 0) and c.pid not in self.killed]
            if crashed:
                raise AssertionError(f"waiting for {what}: node {crashed[0]} exited:\n"
                                     f"{self.nodes[crashed[0]].tail()}")
            try:
                value = predicate()
            except Exception:  # chain briefly unreachable (restart tests)
                value = None
            if value:
                return value
            time.sleep(poll)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")

    def wait_settled(self, network: str, round_id: int, timeout: float = 120) -> None:
        reader = self.reader(network)
        self.wait_for(f"{network} round {round_id} settled", lambda: (
            reader.current_round() == round_id and reader.phase() == Phase.IDLE
        ) or reader.current_round() > round_id, timeout)

    def close(self) -> None:
        self.sup.stop_all()
        if self.deployment.is_file():
            chain_down(self.deployment, log=lambda *_: None)

