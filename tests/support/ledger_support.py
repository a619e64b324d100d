"""Shared helpers of the ledger tests: chain factory, a deployed test network and its driver."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from eth_abi import encode

from poft.ledger import (
    AnvilNode,
    AnvilNotFound,
    ContractRevert,
    EmbeddedBackend,
    HardhatNode,
    HardhatNotFound,
    LedgerClient,
    NetworkParams,
    RpcBackend,
    deploy_network,
    find_anvil,
    find_hardhat,
)
from poft.ledger.accounts import Account
from poft.ledger.backends import LedgerBackend
from poft.ledger.bridge_client import BridgeClient
from poft.ledger.contract import BoundContract, TxResult
from poft.ledger.types import Committee, Deployment

ETH = 10**18
FP = b"\xf1" * 32  # the test networks' genesis architecture fingerprint
GENESIS_ROOT = b"\x67" * 32

try:
    ANVIL_PATH = find_anvil()
    ANVIL_SKIP = ""
except AnvilNotFound as exc:
    ANVIL_PATH = None
    ANVIL_SKIP = f"anvil binary absent ({exc})"

try:
    HARDHAT_PATH = find_hardhat()[1]
    HARDHAT_SKIP = ""
except HardhatNotFound as exc:
    HARDHAT_PATH = None
    HARDHAT_SKIP = f"hardhat absent ({exc})"

BACKEND_PARAMS = ["embedded", pytest.param("anvil", marks=pytest.mark.anvil),
                  pytest.param("hardhat", marks=pytest.mark.hardhat)]
# Why a local node kind is skipped here ("" when it is installed).
NODE_SKIPS = {"anvil": ANVIL_SKIP if ANVIL_PATH is None else "",
              "hardhat": HARDHAT_SKIP if HARDHAT_PATH is None else ""}


class ChainFactory:
    """Fresh chains of one kind: EmbeddedBackend(seed), or an anvil or hardhat node + RpcBackend."""

    def __init__(self, kind: str):
        self.kind = kind
        self.nodes: list[AnvilNode | HardhatNode] = []

    def new(self, seed: int = 0, chain_id: int | None = None) -> LedgerBackend:
        if self.kind == "embedded":
            return EmbeddedBackend(seed=seed)
        node_class = HardhatNode if self.kind == "hardhat" else AnvilNode
        node = node_class.start(chain_id=chain_id or 31337 + len(self.nodes))
        self.nodes.append(node)
        return RpcBackend(node.url, seed=seed)

    def close(self) -> None:
        for node in self.nodes:
            node.stop()


@dataclass
class Net:
    """A deployed network with funded, registered participants, and helpers to drive rounds."""

    backend: LedgerBackend
    deployment: Deployment
    params: NetworkParams
    accounts: list[Account]
    clients: dict[str, LedgerClient] = field(default_factory=dict)
    is_worker: dict[str, bool] = field(default_factory=dict)

    @property
    def reader(self) -> LedgerClient:
        return next(iter(self.clients.values()))

    @property
    def owner(self) -> LedgerClient:
        return LedgerClient.for_deployment(self.backend, self.deployment, self.backend.operator)

    def bridge(self, account: Account | None = None) -> BridgeClient:
        return BridgeClient.for_deployment(self.backend, self.deployment, account or self.backend.operator)

    def client(self, address: str) -> LedgerClient:
        return self.clients[address]

    def workers(self) -> list[LedgerClient]:
        return [c for a, c in self.clients.items() if self.is_worker[a]]

    def outsider(self, committee: Committee) -> LedgerClient:
        """A registered participant who is neither validator nor miner."""
        inside = set(committee.validators) | set(committee.miners)
        return next(c for a, c in self.clients.items() if a not in inside)

    def reverts(self, reason: str):
        """pytest.raises for a ContractRevert whose reason contains `reason`."""
        return pytest.raises(ContractRevert, match=re.escape(reason))

    def assert_conserved(self) -> None:
        reader = self.reader
        assert reader.contract_balance() == reader.accounted_balance(), "value created or lost"

    # --- driving a round ------------------------------------------------------
    def open(self) -> tuple[int, Committee]:
        r = self.reader.open_round()
        return r, self.reader.committee(r)

    def submit_all(self, r: int, workers: list[LedgerClient] | None = None) -> None:
        for i, w in enumerate(workers if workers is not None else self.workers()):
            w.submit_update(r, bytes([i + 1]) * 32, f"sha256:{i + 1:064x}")

    def report_all(self, r: int, committee: Committee, validators: list[str] | None = None) -> None:
        n = len(self.reader.candidates(r))
        for v in validators if validators is not None else committee.validators:
            self.client(v).report_losses(r, [0.5 + 0.1 * i for i in range(n)])

    def to_evaluate(self) -> tuple[int, Committee]:
        r, committee = self.open()
        self.submit_all(r)
        return r, committee

    def to_aggregate(self) -> tuple[int, Committee]:
        r, committee = self.to_evaluate()
        self.report_all(r, committee)
        return r, committee

    def uniform_weights(self, r: int) -> list[float]:
        n = len(self.reader.candidates(r))
        return [1.0 / n] * n

    def to_attest(self, root: bytes = b"\x42" * 32) -> tuple[int, Committee]:
        r, committee = self.to_aggregate()
        self.client(committee.miners[0]).propose(r, root, "sha256:agg", self.uniform_weights(r))
        return r, committee

    def to_final(self, root: bytes = b"\x42" * 32) -> tuple[int, Committee]:
        r, committee = self.to_attest(root)
        for v in committee.validators[:2]:  # 2 of 3 equal stakes = 2/3
            self.client(v).attest(r)
        return r, committee

    def pass_deadline(self) -> None:
        gap = self.reader.deadline() - self.backend.block_number + 1
        if gap > 0:
            self.backend.mine(gap)


TEST_PARAMS = NetworkParams(
    name="test", k_validators=3, n_miners=2, phase_blocks=20, min_stake=ETH, slash_bps=1000,
    reward_per_round=ETH, validator_reward=ETH // 10, genesis_root=GENESIS_ROOT,
    genesis_fingerprint=FP, genesis_uri="sha256:genesis", initial_pool=10 * ETH,
)
# 8 participants: 6 committee-eligible workers, one worker below min_stake,
# one non-worker staker. Equal eligible stakes keep 2/3 thresholds exact.
TEST_STAKES = [2 * ETH] * 6 + [ETH // 2, 2 * ETH]
TEST_WORKERS = [True] * 7 + [False]


def transact_raw_strings(contract: BoundContract, account: Account, method: str, *args) -> TxResult:
    """Send `method(*args)` with its `string` arguments given as raw bytes, ABI-encoded alike:
    what any caller can send, UTF-8 or not (the client's own encoder only takes str)."""
    fn = contract.interface.function(method)
    data = fn.selector + encode([t.replace("string", "bytes") for t in fn.inputs], list(args))
    gas = min(contract.backend.block_gas_limit, 5_000_000)
    receipt = contract.backend.send_transaction(account, contract.address, data, gas=gas)
    contract.backend.gas_report.record(method if receipt.status == 1 else f"{method} (reverted)",
                                       receipt.gas_used)
    if receipt.status != 1:
        raise ContractRevert(receipt.revert_reason or "reverted", method=method, contract=contract.name,
                             tx_hash="0x" + receipt.tx_hash.hex())
    return TxResult("0x" + receipt.tx_hash.hex(), receipt.block_number, receipt.gas_used,
                    contract.decode_receipt(receipt))


def build_net(backend: LedgerBackend, params: NetworkParams = TEST_PARAMS,
              stakes: list[int] = TEST_STAKES, workers: list[bool] = TEST_WORKERS) -> Net:
    deployment = deploy_network(backend, params)
    accounts = backend.funded_accounts(len(stakes))
    net = Net(backend, deployment, params, accounts)
    for account, stake, is_worker in zip(accounts, stakes, workers):
        client = LedgerClient.for_deployment(backend, deployment, account)
        client.register(is_worker=is_worker, stake=stake)
        net.clients[account.address] = client
        net.is_worker[account.address] = is_worker
    return net
