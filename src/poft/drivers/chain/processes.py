"""Local node processes (anvil or hardhat) of `poft chain up|down|restart`, started
and stopped by PID.

Each network's node runs in its own session (so a Ctrl-C meant for the
command that started it does not kill the chain) and logs into the chain folder
next to the deployment file. Anvil keeps its state in `--state FILE` (loaded at
start when present, written on SIGTERM and every few seconds, so a crash loses
at most the last few seconds). Hardhat keeps its chain in memory only: it gets a
generated `<network>.hardhat.config.js` there (chain id, balances, mining; see
poft.ledger.hardhat) and cannot be restarted once stopped.

Mining: every transaction is mined at once (automine) *and* a block is mined
every `block_time` seconds (anvil `--mixed-mining`; hardhat `mining.auto` and
`mining.interval`), because phase deadlines are
counted in blocks: without interval blocks a quiet chain would never reach a
deadline, and without automine every transaction would wait for the next tick.

Stopping goes by the recorded PID only, after checking that the PID is still
that node (its command line names anvil, or hardhat's cli, and the port): a PID
reused by an unrelated process after a reboot is left alone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from poft.ledger import NodeError, find_anvil
from poft.ledger.anvil import free_port
from poft.ledger.hardhat import hardhat_command, hardhat_config, hardhat_env

NODE_KINDS = ("anvil", "hardhat")

STATE_INTERVAL_S = 5       # also dump the state this often (crash insurance)
BALANCE_ETH = 1_000_000    # each dev account's balance: the funder of all participants


@dataclass(frozen=True)
class NodeSpec:
    """How to (re)start one network's local node (`kind` anvil or hardhat)."""

    port: int
    chain_id: int
    state_file: Path | None      # anvil only; hardhat keeps no state
    log_file: Path
    block_time: float
    kind: str = "anvil"

    @property
    def config_file(self) -> Path:
        """Hardhat's generated config, next to the log."""
        return self.log_file.with_name(self.log_file.name.replace(".hardhat.log", "")
                                       + ".hardhat.config.js")

    def args(self) -> list[str]:
        if self.kind == "hardhat":
            return hardhat_command(self.config_file, self.port)[0]
        args = [find_anvil(), "--host", "127.0.0.1", "--port", str(self.port),
                "--chain-id", str(self.chain_id), "--balance", str(BALANCE_ETH),
                "--state", str(self.state_file), "--state-interval", str(STATE_INTERVAL_S)]
        if self.block_time > 0:
            args += ["--block-time", _seconds(self.block_time), "--mixed-mining"]
        return args

    def prepare(self) -> tuple[str | None, dict | None]:
        """Write what the node reads at start; (working folder, environment) to start it in."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        if self.kind != "hardhat":
            return None, None
        self.config_file.write_text(hardhat_config(
            self.chain_id, automine=True, block_time=self.block_time or None,
            balance_eth=BALANCE_ETH))
        return hardhat_command(self.config_file, self.port)[1], hardhat_env()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


AnvilSpec = NodeSpec   # the name before hardhat joined


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def start_node(spec: NodeSpec, timeout: float = 60.0) -> int:
    """Start the node detached in its own session; wait until it answers; return its PID."""
    cwd, env = spec.prepare()
    with open(spec.log_file, "ab") as log:
        process = subprocess.Popen(spec.args(), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True,
                                   cwd=cwd, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NodeError(f"{spec.kind} on port {spec.port} exited with code "
                            f"{process.returncode}; see {spec.log_file}: {_tail(spec.log_file)}")
        if chain_id_at(spec.url) == spec.chain_id:
            return process.pid
        time.sleep(0.05)
    stop_pid(process.pid, spec.port)
    raise NodeError(f"{spec.kind} on port {spec.port} did not answer within {timeout:.0f}s; "
                    f"see {spec.log_file}")


start_anvil = start_node


def chain_id_at(url: str) -> int | None:
    """The chain id answered at `url`, or None when nothing answers."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return int(json.loads(response.read())["result"], 16)
    except (OSError, ValueError, KeyError):
        return None


def new_spec(folder: Path, name: str, chain_id: int, block_time: float,
             kind: str = "anvil") -> NodeSpec:
    if kind not in NODE_KINDS:
        raise ValueError(f"unknown local node {kind!r}; choose one of {', '.join(NODE_KINDS)}")
    state = folder / f"{name}.state.json" if kind == "anvil" else None
    return NodeSpec(port=free_port(), chain_id=chain_id, state_file=state,
                    log_file=folder / f"{name}.{kind}.log", block_time=block_time, kind=kind)


def is_our_node(pid: int, port: int) -> bool:
    """Whether `pid` is alive and is an anvil or hardhat node listening on `port`
    (not a reused PID)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        args = raw.decode(errors="replace").split("\0")
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    if "\nState:\tZ" in status:     # exited, waiting to be reaped: not running
        return False
    anvil = any(Path(a).name == "anvil" for a in args[:1])
    hardhat = len(args) > 1 and "hardhat" in Path(args[1]).parts and "node" in args[2:]
    return (anvil or hardhat) and "--port" in args and str(port) in args


is_our_anvil = is_our_node


def stop_pid(pid: int, port: int, timeout: float = 15.0) -> bool:
    """SIGTERM (anvil writes its state), then SIGKILL if it lingers; False if not ours."""
    if not is_our_node(pid, port):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not is_our_node(pid, port):
            return True
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    _reap(pid)
    return True


def _reap(pid: int) -> None:
    """Collect the exit status when the process is our own child (else nothing to do)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _tail(path: Path, chars: int = 800) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""
