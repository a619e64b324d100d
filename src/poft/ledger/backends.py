"""Ledger backends: one interface, two chains — an embedded EVM and a JSON-RPC node.

`LedgerBackend` is what the client needs from a chain: sign-and-send with
locally managed nonces (type-2 transactions signed by each participant's own
key), receipts with the revert reason, calls, logs, mining, funding. Two
implementations:

* `EmbeddedBackend(seed)` (embedded.py): py-evm in process, one block per
  transaction (or, with ``automine=False``, per sealed pending block),
  deterministic under a seed.
* `RpcBackend(url)` (rpc.py): any Ethereum JSON-RPC node (anvil, geth, Besu, ...).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable

from eth_utils import keccak, to_canonical_address, to_checksum_address

from .accounts import Account, derive_accounts
from .errors import ContractRevert, FeeTooLow, LedgerError
from .gas import GasReport

DEFAULT_FUNDING = 100 * 10**18  # wei given to each participant by funded_accounts
TRANSFER_GAS = 21_000


@dataclass(frozen=True)
class RawLog:
    address: str
    topics: tuple[bytes, ...]
    data: bytes
    block_number: int
    tx_hash: bytes
    log_index: int


@dataclass(frozen=True)
class TxReceipt:
    """What the client needs from a mined transaction."""

    tx_hash: bytes
    status: int  # 1 success, 0 reverted
    gas_used: int
    gas_limit: int
    block_number: int
    logs: tuple[RawLog, ...]
    revert_reason: str | None = None

    @property
    def out_of_gas(self) -> bool:
        return self.status == 0 and self.gas_used >= self.gas_limit * 63 // 64


class LedgerBackend(ABC):
    """One chain, as the ledger client sees it."""

    kind: str = "abstract"
    chain_id: int
    operator: Account  # funded account that deploys contracts and funds participants

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.gas_report = GasReport()
        self.gas_limits: dict[str, int] = {}  # call kind -> gas limit that worked (see contract.py)
        self._nonces: dict[str, int] = {}
        self._next_account_index = 0
        self._lock = threading.RLock()  # nonce bookkeeping is shared by all clients of a chain

    # --- chain primitives (per implementation) --------------------------------
    @property
    @abstractmethod
    def w3(self):
        """A web3.Web3 bound to this chain (for reads and tooling)."""

    @property
    @abstractmethod
    def block_number(self) -> int:
        """Number of the latest mined block."""

    @abstractmethod
    def mine(self, n: int = 1) -> None:
        """Mine `n` empty blocks (moves deadlines)."""

    @abstractmethod
    def get_balance(self, address: str) -> int: ...

    @abstractmethod
    def get_code(self, address: str) -> bytes: ...

    @abstractmethod
    def get_nonce(self, address: str) -> int: ...

    @abstractmethod
    def block_hash(self, number: int) -> bytes: ...

    @abstractmethod
    def call(self, to: str, data: bytes, sender: str | None = None, value: int = 0,
             block: int | str = "latest") -> bytes:
        """eth_call; raises ContractRevert with the contract's reason."""

    @abstractmethod
    def estimate_gas(self, to: str | None, data: bytes, sender: str, value: int = 0) -> int:
        """eth_estimateGas; raises ContractRevert with the contract's reason."""

    @abstractmethod
    def get_logs(self, address: str, topics: list[bytes | None] | None = None,
                 from_block: int = 0, to_block: int | None = None) -> list[RawLog]: ...

    @abstractmethod
    def fee_params(self) -> tuple[int, int]:
        """(max_fee_per_gas, max_priority_fee_per_gas) for the next transaction."""

    @property
    @abstractmethod
    def block_gas_limit(self) -> int: ...

    @abstractmethod
    def _broadcast(self, raw: bytes, tx_hash: bytes, sender: str, to: str | None, data: bytes,
                   value: int, gas: int) -> Callable[[], TxReceipt]:
        """Send a signed transaction; returns a function that waits for its receipt
        (revert reason filled in). Raises TransactionRejected if the node refuses it."""

    @abstractmethod
    def snapshot(self):
        """A token to return to this chain state with revert()."""

    @abstractmethod
    def _revert_chain(self, token) -> None: ...

    def seal(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Mine the pending block, if the backend holds one (see `EmbeddedBackend`'s
        ``automine=False``); a node that mines every transaction has none."""

    def close(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Release resources (nothing to do for most backends)."""

    # --- shared behaviour ------------------------------------------------------
    def revert(self, token) -> None:
        """Return to a snapshot; local nonces are re-read afterwards."""
        with self._lock:
            self._revert_chain(token)
            self._nonces.clear()

    def _take_nonce(self, address: str) -> int:
        with self._lock:
            nonce = self._nonces.get(address)
            if nonce is None:
                nonce = self.get_nonce(address)
            self._nonces[address] = nonce + 1
            return nonce

    def forget_nonce(self, address: str) -> None:
        """Re-read the account's nonce from the chain before its next transaction."""
        with self._lock:
            self._nonces.pop(address, None)

    def send_transaction(self, account: Account, to: str | None, data: bytes = b"",
                         *, value: int = 0, gas: int) -> TxReceipt:
        """Sign (type 2, the account's own key) and send; returns the mined receipt.

        The chain lock covers nonce, signing and broadcast only; waiting for the
        receipt happens outside it, so other clients keep sending meanwhile."""
        with self._lock:
            nonce = self._take_nonce(account.address)
            try:
                pending = self._sign_and_broadcast(account, nonce, to, data, value, gas)
            except Exception:  # not sent or state unknown: re-read the nonce next time
                self.forget_nonce(account.address)
                raise
        return pending()

    def _sign_and_broadcast(self, account, nonce, to, data, value, gas):
        for attempt in range(2):
            max_fee, priority_fee = self.fee_params()
            raw, tx_hash = account.sign_transaction(
                chain_id=self.chain_id, nonce=nonce, to=to, data=data, gas=gas,
                max_fee=max_fee, priority_fee=priority_fee, value=value,
            )
            try:
                return self._broadcast(raw, tx_hash, account.address, to, data, value, gas)
            except FeeTooLow:
                if attempt:
                    raise
                self._refresh_fees()  # the base fee rose: re-sign with a fresh one

    def _refresh_fees(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Forget any cached fee so fee_params() reads the chain again."""

    def deploy(self, account: Account, creation_code: bytes, gas: int | None = None) -> tuple[str, TxReceipt]:
        """Deploy a contract; returns (address, receipt)."""
        if gas is None:
            gas = min(self.block_gas_limit, self.estimate_gas(None, creation_code, account.address) * 5 // 4)
        with self._lock:
            nonce = self._nonces.get(account.address)
            if nonce is None:
                nonce = self.get_nonce(account.address)
            receipt = self.send_transaction(account, None, creation_code, gas=gas)
        if receipt.status != 1:
            raise ContractRevert(receipt.revert_reason or "deployment failed", method="deploy")
        return contract_address(account.address, nonce), receipt

    def fund(self, address: str, wei: int) -> None:
        """Send `wei` from the operator account to `address`."""
        receipt = self.send_transaction(self.operator, address, value=wei, gas=TRANSFER_GAS)
        if receipt.status != 1:
            raise LedgerError(f"funding {address} with {wei} wei failed")

    def funded_accounts(self, n: int, wei: int = DEFAULT_FUNDING) -> list[Account]:
        """`n` new participant accounts derived from the backend's seed, each funded with `wei`."""
        with self._lock:
            accounts = derive_accounts(self.seed, n, start=self._next_account_index)
            self._next_account_index += n
        for account in accounts:
            self.fund(account.address, wei)
        return accounts


def contract_address(deployer: str, nonce: int) -> str:
    """Address of the contract created by `deployer` at `nonce` (CREATE)."""
    import rlp

    return to_checksum_address(keccak(rlp.encode([to_canonical_address(deployer), nonce]))[-20:])


def topics_match(log_topics: tuple[bytes, ...], wanted: list[bytes | None] | None) -> bool:
    """Whether a log's topics match a filter (`None` matches any topic at its position)."""
    if not wanted:
        return True
    if len(wanted) > len(log_topics):
        return False
    return all(w is None or w == t for w, t in zip(wanted, log_topics))

__all__ = ["LedgerBackend", "TxReceipt", "RawLog", "DEFAULT_FUNDING", "topics_match"]
