"""Ledger backends: one interface, two chains — an embedded EVM and a JSON-RPC node.

`LedgerBackend` is what the client needs from a chain: sign-and-send with
locally managed nonces (type-2 transactions signed by each participant's own
key), receipts with the revert reason, calls, logs, mining, funding. Two
implementations:

* `EmbeddedBackend(seed)`: py-evm through eth-tester, driven directly (no
  polling, no web3 middleware). One transaction per block, like an automining
  node. Deterministic under a seed: fixed genesis, block timestamps pinned to
  `genesis_timestamp + 12 * number`, prevrandao = keccak(seed, number), accounts
  derived from the seed — two runs with the same seed give the same block hashes.
* `RpcBackend(url)`: any Ethereum JSON-RPC node (anvil, geth, Besu, ...).
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable
from pathlib import Path

from eth_utils import keccak, to_canonical_address, to_checksum_address

from .accounts import EMBEDDED_RICH_KEY, Account, derive_accounts
from .errors import ContractRevert, FeeTooLow, LedgerError, TransactionRejected, decode_revert_data
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

    def close(self) -> None:
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

    def _refresh_fees(self) -> None:
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


# =============================================================================
# embedded: py-evm via eth-tester
# =============================================================================

GENESIS_TIMESTAMP = 1_700_000_000
BLOCK_INTERVAL = 12  # seconds between pinned block timestamps


def _pinned_pyevm_class():
    """A PyEVMBackend whose blocks have pinned timestamps and seeded prevrandao."""
    from eth_tester import PyEVMBackend

    class PinnedPyEVMBackend(PyEVMBackend):
        def __init__(self, seed: int, genesis_timestamp: int):
            self._seed = seed
            self._genesis_timestamp = genesis_timestamp
            params = PyEVMBackend.generate_genesis_params(
                overrides={"timestamp": genesis_timestamp}
            )
            super().__init__(genesis_parameters=params)
            self.pin_pending_header()

        def prevrandao(self, number: int) -> bytes:
            return keccak(b"poft-prevrandao" + self._seed.to_bytes(32, "big") + number.to_bytes(32, "big"))

        def pin_pending_header(self) -> None:
            """Pending block: timestamp and mix hash from (genesis time, seed, number), not the clock."""
            header = self.chain.header
            number = header.block_number
            self.chain.header = header.copy(
                timestamp=self._genesis_timestamp + BLOCK_INTERVAL * number,
                mix_hash=self.prevrandao(number),
            )

        def mine_blocks(self, num_blocks=1, coinbase=None):
            hashes = []
            for _ in range(num_blocks):
                block = self.chain.mine_block(mix_hash=self.chain.header.mix_hash)
                self.pin_pending_header()
                hashes.append(block.hash)
            return tuple(hashes)

        def time_travel(self, to_timestamp):
            raise NotImplementedError("block timestamps are pinned for determinism")

        def revert_to_snapshot(self, snapshot):
            super().revert_to_snapshot(snapshot)
            self.pin_pending_header()

    return PinnedPyEVMBackend


class EmbeddedBackend(LedgerBackend):
    """An in-process EVM (py-evm), one instance per network; deterministic under `seed`."""

    kind = "embedded"

    def __init__(self, seed: int = 0, genesis_timestamp: int = GENESIS_TIMESTAMP):
        super().__init__(seed)
        self._evm = _pinned_pyevm_class()(seed, genesis_timestamp)
        self.chain_id = self._evm.chain.chain_id
        self.operator = Account.from_key(EMBEDDED_RICH_KEY)
        self._logs: dict[str, list[RawLog]] = {}  # contract address -> its logs in order
        self._w3 = None
        self._genesis_timestamp = genesis_timestamp
        # Everything that changed the chain, in order: ("tx", raw hex) or ("mine", n).
        # Replaying it on a fresh EVM with the same seed rebuilds the same chain, which is
        # how `poft verify` reads an embedded run after its process has ended.
        self.journal: list[tuple[str, str | int]] = []

    @property
    def chain(self):
        return self._evm.chain

    @property
    def w3(self):
        """web3 over eth-tester; use it to read. Transactions sent through it bypass the log index."""
        if self._w3 is None:
            from eth_tester import EthereumTester
            from web3 import EthereumTesterProvider, Web3

            self._w3 = Web3(EthereumTesterProvider(EthereumTester(backend=self._evm)))
        return self._w3

    @property
    def block_number(self) -> int:
        return self.chain.header.block_number - 1

    @property
    def block_gas_limit(self) -> int:
        return self.chain.header.gas_limit

    def mine(self, n: int = 1) -> None:
        self._evm.mine_blocks(n)
        self.journal.append(("mine", n))

    def save_journal(self, path) -> None:
        """Write the chain journal (seed, every transaction and mined block, head hash)."""
        record = {"seed": self.seed, "genesis_timestamp": self._genesis_timestamp,
                  "entries": self.journal, "head": self.block_hash(self.block_number).hex()}
        Path(path).write_text(json.dumps(record))

    @classmethod
    def replay(cls, path) -> "EmbeddedBackend":
        """A new embedded chain rebuilt from a journal; it must end on the recorded head."""
        record = json.loads(Path(path).read_text())
        backend = cls(seed=record["seed"], genesis_timestamp=record["genesis_timestamp"])
        for kind, value in record["entries"]:
            if kind == "tx":
                raw = bytes.fromhex(value)
                backend._submit(raw, keccak(raw), "", 0)
            else:
                backend.mine(int(value))
        head = backend.block_hash(backend.block_number).hex()
        if head != record["head"]:
            raise LedgerError(f"chain journal {path} does not reproduce its recorded head block "
                              f"(got 0x{head[:16]}…, recorded 0x{record['head'][:16]}…): it was "
                              "altered or written by another version")
        return backend

    def block_hash(self, number: int) -> bytes:
        return self.chain.get_canonical_block_header_by_number(number).hash

    def _state(self):
        return self.chain.get_vm().state

    def get_balance(self, address: str) -> int:
        return self._state().get_balance(to_canonical_address(address))

    def get_code(self, address: str) -> bytes:
        return self._state().get_code(to_canonical_address(address))

    def get_nonce(self, address: str) -> int:
        return self._state().get_nonce(to_canonical_address(address))

    def fee_params(self) -> tuple[int, int]:
        base = self.chain.header.base_fee_per_gas
        return 2 * base + 1, 1

    def _execute(self, to, data, sender, value, block="latest"):
        """Run a message on top of `block` and throw the state away; returns (computation, gas limit)."""
        from eth.vm.spoof import SpoofTransaction
        from eth_tester.backends.pyevm.main import _execute_and_revert_transaction

        gas = self.block_gas_limit
        request = {
            "from": to_canonical_address(sender or self.operator.address),
            "to": to_canonical_address(to) if to else b"",
            "data": data, "value": value, "gas": gas,
        }
        unsigned = self._evm._get_normalized_and_unsigned_evm_transaction(request, block)
        tx = SpoofTransaction(unsigned, from_=request["from"])
        return _execute_and_revert_transaction(self.chain, tx, block), gas

    def call(self, to, data, sender=None, value=0, block="latest") -> bytes:
        computation, _ = self._execute(to, data, sender, value, block)
        if computation.is_error:
            raise ContractRevert(_computation_reason(computation))
        return computation.output

    def estimate_gas(self, to, data, sender, value=0) -> int:
        """Gas used by one execution with the block's gas limit (py-evm's own estimator
        binary-searches with a dozen executions; callers add a margin instead)."""
        computation, gas = self._execute(to, data, sender, value)
        if computation.is_error:
            raise ContractRevert(_computation_reason(computation))
        return gas - computation.get_gas_remaining()  # intrinsic + execution, before refunds

    def _broadcast(self, raw, tx_hash, sender, to, data, value, gas):
        receipt = self._submit(raw, tx_hash, sender, gas)
        return lambda: receipt

    def _submit(self, raw, tx_hash, sender, gas) -> TxReceipt:
        """Execute the transaction and mine its block (automine)."""
        from eth_utils import ValidationError

        tx = self.chain.get_transaction_builder().decode(raw)
        try:
            _, receipt, computation = self.chain.apply_transaction(tx)
        except ValidationError as exc:
            raise TransactionRejected(f"transaction from {sender} rejected: {exc}") from None
        self.journal.append(("tx", bytes(raw).hex()))
        number = self.chain.header.block_number
        self._evm.mine_blocks(1)  # automine: one transaction per block
        logs = tuple(
            RawLog(to_checksum_address(log.address),
                   tuple(t.to_bytes(32, "big") for t in log.topics),
                   log.data, number, tx_hash, i)
            for i, log in enumerate(receipt.logs)
        )
        for log in logs:
            self._logs.setdefault(log.address, []).append(log)
        reason = _computation_reason(computation) if computation.is_error else None
        return TxReceipt(tx_hash, 0 if computation.is_error else 1, receipt.gas_used, gas,
                         number, logs, reason)

    def get_logs(self, address, topics=None, from_block=0, to_block=None) -> list[RawLog]:
        last = self.block_number if to_block is None else to_block
        found = []
        for log in self._logs.get(to_checksum_address(address), ()):
            if from_block <= log.block_number <= last and _topics_match(log.topics, topics):
                found.append(log)
        return found

    def snapshot(self):
        return self._evm.take_snapshot(), self.block_number, len(self.journal)

    def _revert_chain(self, token) -> None:
        block_hash, number, journal_length = token
        self._evm.revert_to_snapshot(block_hash)
        del self.journal[journal_length:]
        for address, logs in self._logs.items():
            self._logs[address] = [log for log in logs if log.block_number <= number]


def _computation_reason(computation) -> str:
    if computation.output:
        return decode_revert_data(computation.output)
    return f"{type(computation.error).__name__}: {computation.error}"


def _topics_match(log_topics: tuple[bytes, ...], wanted: list[bytes | None] | None) -> bool:
    if not wanted:
        return True
    if len(wanted) > len(log_topics):
        return False
    return all(w is None or w == t for w, t in zip(wanted, log_topics))


from .rpc import RpcBackend  # noqa: E402  (re-exported: the JSON-RPC backend lives in rpc.py)

__all__ = ["LedgerBackend", "EmbeddedBackend", "RpcBackend", "TxReceipt", "RawLog", "DEFAULT_FUNDING"]
