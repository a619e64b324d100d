"""Who a `poft node` process is, checked before any training code is loaded.

`identify` reads the deployment file, loads the key, reaches the network's
JSON-RPC node, checks that the deployment's contracts are really on that chain,
finds the participant the key belongs to and checks the requested roles
against it. Each failure is a `NodeSetupError` whose message says what is wrong
and how to fix it; `poft node` prints it and exits with status 2 within a
second or two, instead of failing later in the middle of a round.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from poft.drivers.chain.deployment import DeploymentError, DeploymentFile, Participant
from poft.drivers.chain.keys import KeyLoadError, dev_key, load_keystore, read_password
from poft.errors import InputError
from poft.ledger import Account, Deployment, LedgerClient, NodeError, RpcBackend

ROLES = ("worker", "validator", "miner", "relayer")
RECEIPT_TIMEOUT_S = 30.0   # a node retries the whole duty rather than wait minutes


class NodeSetupError(InputError):
    """The node cannot start; the message says what was wrong and how to fix it."""


@dataclass(frozen=True)
class KeySource:
    keystore: Path | None = None
    password_file: Path | None = None
    dev_index: int | None = None


@dataclass
class Identity:
    """The checked facts a node runs on."""

    dep: DeploymentFile
    network: str
    deployment: Deployment
    backend: RpcBackend
    account: Account
    participant: Participant
    roles: frozenset[str]

    @property
    def node_name(self) -> str:
        return self.participant.name


def parse_roles(text: str) -> frozenset[str]:
    roles = frozenset(r.strip() for r in text.split(",") if r.strip())
    unknown = sorted(roles - set(ROLES))
    if unknown or not roles:
        what = repr(unknown[0]) if unknown else "(none)"
        raise NodeSetupError(f"--roles {text!r}: unknown role {what}; choose from "
                             f"{','.join(ROLES)} (comma-separated)")
    return roles


def load_deployment(path: str | Path, network: str) -> DeploymentFile:
    try:
        dep = DeploymentFile.load(path)
        dep.entry(network)
        dep.deployment(network)
        dep.rpc_url(network)
    except DeploymentError as exc:
        raise NodeSetupError(str(exc)) from None
    return dep


def load_account(dep: DeploymentFile, network: str, source: KeySource) -> Account:
    if (source.keystore is None) == (source.dev_index is None):
        raise NodeSetupError("give exactly one of --key KEYSTORE or --dev-key INDEX")
    try:
        if source.keystore is not None:
            return load_keystore(source.keystore, read_password(source.password_file))
        entry = dep.entry(network)
        count = len(entry.get("participants", []))
        return dev_key(entry.get("dev_keys"), network, source.dev_index, count,
                       dep.is_local_chain(network))
    except KeyLoadError as exc:
        raise NodeSetupError(str(exc)) from None


def connect(dep: DeploymentFile, network: str) -> tuple[RpcBackend, Deployment]:
    """The network's chain, after checking it is the one the deployment file describes."""
    url, deployment = dep.rpc_url(network), dep.deployment(network)
    try:
        backend = RpcBackend(url, seed=0, receipt_timeout=RECEIPT_TIMEOUT_S)
    except NodeError as exc:
        raise NodeSetupError(
            f"cannot reach network {network!r}'s JSON-RPC node at {url} ({exc}); start it "
            f"(`poft chain restart --deployment {dep.path}`) or fix rpc_url in {dep.path}"
        ) from None
    if backend.chain_id != deployment.chain_id:
        raise NodeSetupError(
            f"the node at {url} is chain {backend.chain_id}, but {dep.path} says network "
            f"{network!r} is chain {deployment.chain_id}: wrong deployment file or rpc_url")
    for label, address in (("FederatedLedger", deployment.ledger_address),
                           ("ModelBridge", deployment.bridge_address)):
        if not backend.get_code(address):
            raise NodeSetupError(
                f"no {label} contract at {address} on {url}: {dep.path} does not describe "
                "this chain (a stale deployment file, or the chain was restarted without "
                "its state file)")
    return backend, deployment


def find_participant(dep: DeploymentFile, network: str, account: Account, index: int | None,
                     config) -> Participant:
    """The participant `account` is; with `--index` only, a new participant joining."""
    known = dep.participant_by_address(network, account.address)
    if known is not None:
        if index is not None and index != known.index:
            raise NodeSetupError(
                f"--index {index} does not match the key: {account.address} is participant "
                f"{known.index} ({known.name}) of network {network!r}")
        return known
    if index is None:
        raise NodeSetupError(
            f"the key's address {account.address} is not a participant of network {network!r} "
            f"in {dep.path}: wrong key, or wrong network; to join as a new participant pass "
            "--index I (position in the config's population plan)")
    net = config.network(network)
    if not 0 <= index < net.workers + net.stakers:
        raise NodeSetupError(f"--index {index} is out of range: network {network!r} plans "
                             f"{net.workers} workers + {net.stakers} stakers")
    kind, position = ("worker", index) if index < net.workers else ("staker", index - net.workers)
    return Participant(index, f"{network}/{kind}-{position}", kind, account.address)


def check_roles(roles: frozenset[str], participant: Participant) -> None:
    if "worker" in roles and participant.kind != "worker":
        raise NodeSetupError(f"{participant.name} is a staker, not a worker: drop 'worker' "
                             "from --roles (stakers take validator,miner,relayer)")
    staking = roles & {"validator", "miner"}
    if staking and participant.kind != "staker":
        raise NodeSetupError(f"{participant.name} is a worker: {','.join(sorted(staking))} "
                             "need a staker (committee-eligible) participant")


def ensure_registered(ledger: LedgerClient, participant: Participant, stake_wei: int,
                      log) -> None:
    """Register a participant that is not registered yet (deploy-only chains)."""
    address = participant.address
    if ledger.call("is_registered", address):
        return
    balance = ledger.backend.get_balance(address)
    if balance <= stake_wei:
        raise NodeSetupError(
            f"{address} is not registered on network {ledger.network_id.hex()[:12]} and holds "
            f"{balance} wei; fund it with more than the stake ({stake_wei} wei) plus gas")
    ledger.register(is_worker=participant.kind == "worker", stake=stake_wei)
    log("registered", stake_wei=stake_wei)
