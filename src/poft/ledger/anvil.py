"""Local anvil nodes (npm package @foundry-rs/anvil, pinned in package.json).

`LocalNode` is what anvil and hardhat (hardhat.py) nodes share: a process, a
port, a chain id, a log, readiness by `eth_chainId`, stop by PID.

    with AnvilNode.start(chain_id=31338) as node:
        backend = RpcBackend(node.url)

One process per network, each with its own port, chain id and optional state
file. The node is stopped by its PID (terminate, then kill), never by name.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from .errors import AnvilNotFound, NodeError

REPO_ROOT = Path(__file__).resolve().parents[3]
_PLATFORM_PACKAGE = {
    ("Linux", "x86_64"): "anvil-linux-amd64",
    ("Linux", "aarch64"): "anvil-linux-arm64",
    ("Darwin", "x86_64"): "anvil-darwin-amd64",
    ("Darwin", "arm64"): "anvil-darwin-arm64",
}


def find_anvil() -> str:
    """Path of the anvil binary: $POFT_ANVIL, the repo's node_modules, then PATH.

    Prefers the native binary over the npm `bin.mjs` wrapper, so the PID we
    hold is anvil itself."""
    env = os.environ.get("POFT_ANVIL")
    if env and Path(env).is_file():
        return env
    modules = REPO_ROOT / "node_modules"
    package = _PLATFORM_PACKAGE.get((platform.system(), platform.machine()))
    candidates = []
    if package:
        candidates.append(modules / "@foundry-rs" / package / "bin" / "anvil")
    candidates.append(modules / ".bin" / "anvil")
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    on_path = shutil.which("anvil")
    if on_path:
        return on_path
    raise AnvilNotFound(
        f"anvil not found in {modules} or on PATH: run `npm ci` (or `make setup`) in {REPO_ROOT}, "
        "or set POFT_ANVIL to the binary"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalNode:
    """A local JSON-RPC node process we started (anvil here, hardhat in hardhat.py)."""

    process: subprocess.Popen
    port: int
    chain_id: int
    state_file: str | None = None
    log_path: str = ""
    _log_file: object = field(default=None, repr=False)
    name = "node"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    def _launch(cls, args: list[str], port: int, chain_id: int, timeout: float, *,
                cwd: str | None = None, env: dict | None = None, state_file=None, **fields):
        """Start `args`, logging into a temp file, and wait until it answers with `chain_id`."""
        log = tempfile.NamedTemporaryFile("w+b", prefix=f"{cls.name}-{port}-", suffix=".log",
                                          delete=False)
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=cwd, env=env)
        node = cls(process, port, chain_id, str(state_file) if state_file else None, log.name,
                   log, **fields)
        try:
            node._wait_ready(timeout)
        except BaseException:
            node.stop()
            raise
        return node

    def _rpc(self, method: str, params: list | None = None):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
        request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=2) as response:
            return json.loads(response.read())["result"]

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise NodeError(f"{self.name} exited with code {self.process.returncode}: {self.log_tail()}")
            try:
                if int(self._rpc("eth_chainId"), 16) == self.chain_id:
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise NodeError(f"{self.name} on port {self.port} did not answer within {timeout:.0f}s: {self.log_tail()}")

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def is_running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate this process (SIGTERM lets anvil write its state file), kill it if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> "LocalNode":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class AnvilNode(LocalNode):
    """A running anvil process."""

    name = "anvil"

    @classmethod
    def start(cls, port: int | None = None, chain_id: int = 31337, state_file: str | os.PathLike | None = None,
              block_time: float | None = None, balance_eth: int = 1_000_000, timeout: float = 30.0,
              extra_args: list[str] = ()) -> "AnvilNode":
        """Start anvil and wait until its RPC answers.

        `state_file`: loaded at start if it exists and written on stop (anvil --state).
        `block_time`: seconds per block; default automine (a block per transaction).
        `balance_eth`: balance of each dev account (the funder of many participants)."""
        binary = find_anvil()
        chosen = port or free_port()
        args = [binary, "--host", "127.0.0.1", "--port", str(chosen), "--chain-id", str(chain_id),
                "--balance", str(balance_eth)]
        if state_file is not None:
            args += ["--state", str(state_file)]
        if block_time is not None:
            args += ["--block-time", str(block_time)]
        args += list(extra_args)
        return cls._launch(args, chosen, chain_id, timeout, state_file=state_file)

    def __enter__(self) -> "AnvilNode":
        return self
