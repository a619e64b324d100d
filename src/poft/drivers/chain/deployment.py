"""The node-mode deployment file (`poft chain up --out deployment.json`).

One JSON file says where everything of a multi-network run lives. Its
per-network entries keep the format `poft verify` reads (`backend`, `rpc_url`,
the `Deployment` fields, `genesis_uri`, `aggregation`) and the top-level
`store`, and add what node processes and `poft chain down` need:

    {
      "format": "poft-deployment/1",
      "store": "blobs",                       # blob store: a folder (relative to this file) or URL
      "config": "deployment.config.toml",     # the resolved experiment config of the run
      "links": [{"source": "alpha", "target": "beta"}],
      "networks": {
        "alpha": {
          "backend": "rpc", "rpc_url": "http://127.0.0.1:40123", "chain_id": 33001,
          "name": "alpha", "network_id": "0x...", "ledger_address": "0x...",
          "bridge_address": "0x...", "owner": "0x...", "deploy_block": 1,
          "genesis_uri": "sha256:...", "aggregation": {"rule": "softmax", ...},
          "anvil": {"pid": 1234, "port": 40123, "state_file": "chain/alpha.state.json",
                    "log_file": "chain/alpha.anvil.log", "block_time": 1.0},
          "dev_keys": {"seed": 0, "label": "poft:alpha"},
          "participants": [{"index": 0, "name": "alpha/worker-0", "kind": "worker",
                            "address": "0x...", "keystore": "keys/alpha/worker-0.json"}, ...]
        }
      }
    }

`anvil` is present only for chains that `poft chain up` started (and so may
stop); a chain started as a hardhat node (`poft chain up --node hardhat`) has
`hardhat` instead, with the same fields less `state_file` (hardhat keeps its
chain in memory only) and `config_file` (its generated hardhat.config.js); `dev_keys` only where the participants' keys are the public, seed-derived
development keys. Paths are relative to the file's folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from poft.errors import InputError
from poft.ledger import Deployment

FORMAT = "poft-deployment/1"
LOCAL_NODE_KINDS = ("anvil", "hardhat")


class DeploymentError(InputError):
    """The deployment file is missing, malformed, or does not name what was asked."""


@dataclass(frozen=True)
class Participant:
    index: int          # position in the network's population: workers first, then stakers
    name: str           # e.g. "alpha/staker-2"
    kind: str           # "worker" or "staker"
    address: str
    keystore: str | None = None

    @property
    def plan_index(self) -> int:
        """Index among the network's workers or stakers (the population plan's numbering)."""
        return int(self.name.rsplit("-", 1)[1])


class DeploymentFile:
    """A parsed deployment file; `entry(name)` is one network's JSON entry."""

    def __init__(self, path: str | os.PathLike, data: dict):
        self.path = Path(path)
        self.data = data

    @classmethod
    def load(cls, path: str | os.PathLike) -> "DeploymentFile":
        path = Path(path)
        if not path.is_file():
            raise DeploymentError(f"deployment file {str(path)!r} does not exist; create one "
                                  "with `poft chain up --out deployment.json`")
        try:
            data = json.loads(path.read_text())
        except ValueError as exc:
            raise DeploymentError(f"deployment file {path} is not JSON ({exc}); pass the file "
                                  "that `poft chain up --out` wrote") from None
        if not isinstance(data, dict) or not isinstance(data.get("networks"), dict):
            raise DeploymentError(f"deployment file {path} has no 'networks' table; pass the "
                                  "file that `poft chain up --out` wrote")
        return cls(path, data)

    def save(self) -> None:
        """Write atomically, so a reader never sees half a file."""
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(self.data, indent=2) + "\n")
        os.replace(tmp, self.path)

    @property
    def folder(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        p = Path(relative)
        return p if p.is_absolute() else self.folder / p

    def relative(self, path: str | os.PathLike) -> str:
        """`path` relative to the file's folder when inside it, else absolute."""
        p = Path(path).resolve()
        try:
            return str(p.relative_to(self.folder.resolve()))
        except ValueError:
            return str(p)

    # --- networks ----------------------------------------------------------------
    @property
    def network_names(self) -> list[str]:
        return list(self.data["networks"])

    def entry(self, name: str) -> dict:
        try:
            return self.data["networks"][name]
        except KeyError:
            raise DeploymentError(
                f"network {name!r} is not in deployment file {self.path}; it holds: "
                f"{', '.join(self.network_names) or 'no networks'}") from None

    def deployment(self, name: str) -> Deployment:
        entry = self.entry(name)
        fields = Deployment.__dataclass_fields__
        try:
            return Deployment.from_json({k: v for k, v in entry.items() if k in fields})
        except (TypeError, ValueError) as exc:
            raise DeploymentError(f"network {name!r} in {self.path} is malformed: {exc}") from None

    def rpc_url(self, name: str) -> str:
        url = self.entry(name).get("rpc_url")
        if not url:
            raise DeploymentError(f"network {name!r} in {self.path} has no rpc_url: node mode "
                                  "needs a JSON-RPC chain (`poft chain up`), not the embedded EVM")
        return url

    def participants(self, name: str) -> list[Participant]:
        return [Participant(**p) for p in self.entry(name).get("participants", [])]

    def participant_by_address(self, name: str, address: str) -> Participant | None:
        return next((p for p in self.participants(name)
                     if p.address.lower() == address.lower()), None)

    def links(self) -> list[tuple[str, str]]:
        return [(link["source"], link["target"]) for link in self.data.get("links", [])]

    def store_location(self) -> str:
        """The blob store: an http(s) URL as is, a folder resolved against this file."""
        store = self.data.get("store")
        if not store:
            raise DeploymentError(f"deployment file {self.path} names no blob store ('store')")
        if "://" in store:
            return store
        return str(self.resolve(store))

    def config_path(self) -> Path | None:
        config = self.data.get("config")
        return self.resolve(config) if config else None

    def local_node(self, name: str) -> tuple[str, dict] | None:
        """(kind, record) of the node `poft chain up` started for network `name`
        (kind "anvil" or "hardhat"), or None for a chain it did not start."""
        entry = self.entry(name)
        for kind in LOCAL_NODE_KINDS:
            if entry.get(kind):
                return kind, entry[kind]
        return None

    def node_kind(self) -> str:
        """"anvil" or "hardhat" when every chain was started by `poft chain up` as that
        kind of node; else "rpc"."""
        kinds = {(self.local_node(n) or ("rpc",))[0] for n in self.network_names}
        return kinds.pop() if len(kinds) == 1 else "rpc"

    def is_local_chain(self, name: str) -> bool:
        """A chain this deployment started itself (dev keys are acceptable only there)."""
        return self.local_node(name) is not None
