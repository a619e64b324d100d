"""Local Hardhat nodes (npm package `hardhat` 2.x, pinned in package.json): a second
JSON-RPC implementation beside anvil (Hardhat Network, on Nomic's Rust EDR).

    with HardhatNode.start(chain_id=31338) as node:
        backend = RpcBackend(node.url)

Hardhat takes its chain settings from a config file, not from flags: each node
gets a generated `hardhat.config.js` (chain id, dev-account balance, mining)
and runs `node <hardhat cli> --config FILE node --hostname 127.0.0.1 --port P`
in the folder that holds `node_modules/hardhat` (Hardhat refuses to run from a
folder where it is not installed locally). What differs from anvil, and how
this module bridges it:

* chain id: `networks.hardhat.chainId` (anvil: `--chain-id`);
* balance of the 20 dev accounts (the same "test ... junk" mnemonic as anvil's, so
  `RpcBackend`'s default funder works on both): `accounts.accountsBalance` in wei;
* mining: `mining.auto` (a block per transaction) and `mining.interval` (ms), both
  at once for anvil's `--block-time N --mixed-mining`;
* a reverted transaction: Hardhat's default rejects it at `eth_sendRawTransaction`
  (`throwOnTransactionFailures`); set to false it is mined with status 0, as on
  anvil and geth, and the reason comes from replaying it with `eth_call`;
* no state file: Hardhat keeps its chain in memory only (no `--state`, no
  `hardhat_dumpState`), so a stopped chain cannot be restarted;
* logging of every request is off (`loggingEnabled: false`; `hardhat node` turns it
  on by default).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .anvil import REPO_ROOT, LocalNode, free_port
from .errors import HardhatNotFound

ETHER = 10**18


def find_hardhat() -> tuple[str, str]:
    """(node binary, hardhat's cli script): $POFT_HARDHAT (the script), else the repo's
    node_modules; node from PATH."""
    node = shutil.which("node")
    env = os.environ.get("POFT_HARDHAT")
    script = Path(env) if env else REPO_ROOT / "node_modules" / "hardhat" / "internal" / "cli" / "cli.js"
    if node is None or not script.is_file():
        missing = "node is not on PATH" if node is None else f"{script} does not exist"
        raise HardhatNotFound(
            f"hardhat not found ({missing}): run `npm ci` (or `make setup`) in {REPO_ROOT}, "
            "or set POFT_HARDHAT to node_modules/hardhat/internal/cli/cli.js")
    return node, str(script)


def project_folder(script: str) -> str:
    """The folder whose node_modules holds hardhat (where it must run): .../node_modules/hardhat/internal/cli/cli.js."""
    return str(Path(script).resolve().parents[4])


def hardhat_config(chain_id: int, *, automine: bool = True, block_time: float | None = None,
                   balance_eth: int = 1_000_000) -> str:
    """The text of a hardhat.config.js for one local chain."""
    mining: dict = {"auto": automine}
    if block_time:
        mining["interval"] = int(round(block_time * 1000))
    network = {
        "chainId": chain_id,
        "accounts": {"accountsBalance": str(balance_eth * ETHER)},
        "mining": mining,
        "throwOnTransactionFailures": False,
        "loggingEnabled": False,
    }
    return ("// written by poft (poft.ledger.hardhat): one local chain\n"
            f"module.exports = {json.dumps({'networks': {'hardhat': network}}, indent=2)};\n")


def hardhat_command(config_file: str | os.PathLike, port: int) -> tuple[list[str], str]:
    """(argv, working folder) of a hardhat node on 127.0.0.1:`port` with `config_file`."""
    node, script = find_hardhat()
    args = [node, script, "--config", str(config_file), "node", "--hostname", "127.0.0.1",
            "--port", str(port)]
    return args, project_folder(script)


def hardhat_env() -> dict:
    """The environment of a hardhat node: no telemetry prompt, no colours in the log."""
    return {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true", "NO_COLOR": "1",
            "FORCE_COLOR": "0"}


@dataclass
class HardhatNode(LocalNode):
    """A running hardhat node (its config in a temporary folder, removed on stop)."""

    config_dir: str = ""
    name = "hardhat"

    @classmethod
    def start(cls, port: int | None = None, chain_id: int = 31337, block_time: float | None = None,
              automine: bool | None = None, balance_eth: int = 1_000_000, timeout: float = 60.0
              ) -> "HardhatNode":
        """Start a hardhat node and wait until its RPC answers.

        `block_time`: seconds per interval block; alone it replaces automine (as anvil's
        `--block-time`), with `automine=True` both run (anvil's `--mixed-mining`).
        Default: automine only (a block per transaction)."""
        chosen = port or free_port()
        auto = automine if automine is not None else block_time is None
        folder = tempfile.mkdtemp(prefix=f"poft-hardhat-{chosen}-")
        config = Path(folder) / "hardhat.config.js"
        config.write_text(hardhat_config(chain_id, automine=auto, block_time=block_time,
                                         balance_eth=balance_eth))
        try:
            args, cwd = hardhat_command(config, chosen)
            return cls._launch(args, chosen, chain_id, timeout, cwd=cwd, env=hardhat_env(),
                               config_dir=folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)
        if self.config_dir:
            shutil.rmtree(self.config_dir, ignore_errors=True)

    def __enter__(self) -> "HardhatNode":
        return self


def local_node_class(kind: str) -> type[LocalNode]:
    """AnvilNode or HardhatNode by name."""
    from .anvil import AnvilNode

    classes = {"anvil": AnvilNode, "hardhat": HardhatNode}
    if kind not in classes:
        raise ValueError(f"unknown local node {kind!r}; choose one of {sorted(classes)}")
    return classes[kind]
