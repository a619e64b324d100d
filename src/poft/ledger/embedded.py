"""Embedded backend: an in-process EVM (py-evm through eth-tester), one instance per network.

Driven directly (no polling, no web3 middleware): a transaction is executed and
its block mined at once, like an automining node — or, with ``automine=False``,
transactions go into the pending block until `seal()` (or `mine()`) mines it, so
a driver can put a whole protocol phase in one block: a block's state root is
computed once instead of once per transaction, which was about 40% of a
transaction's cost. Reads see the pending block, so every role still sees every
transaction sent before it; each transaction's gas is the same either way
(warm/cold access and refunds are per transaction). Deterministic under a seed:
fixed genesis, block timestamps pinned to `genesis_timestamp + 12 * number`,
prevrandao = keccak(seed, number), accounts derived from the seed, so two runs
with the same seed give the same block hashes. A journal of every transaction
lets `replay()` rebuild the same chain in another process (`poft verify`).
"""

from __future__ import annotations

import json
from pathlib import Path

from eth_utils import keccak, to_canonical_address, to_checksum_address

from .accounts import EMBEDDED_RICH_KEY, Account
from .backends import LedgerBackend, RawLog, TxReceipt, topics_match
from .errors import ContractRevert, LedgerError, TransactionRejected, decode_revert_data

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

    def __init__(self, seed: int = 0, genesis_timestamp: int = GENESIS_TIMESTAMP,
                 automine: bool = True):
        super().__init__(seed)
        self.automine = automine
        self._pending = 0        # transactions in the pending block (automine=False)
        self._pending_logs = 0   # and the logs they wrote
        self._evm = _pinned_pyevm_class()(seed, genesis_timestamp)
        self.chain_id = self._evm.chain.chain_id
        self.operator = Account.from_key(EMBEDDED_RICH_KEY)
        self._logs: dict[str, list[RawLog]] = {}  # contract address -> its logs in order
        self._block: _PendingBlock | None = None  # the block being filled, if any
        # eth_call results while the state stays the same: (to, data, sender, value, block)
        # -> (output, error reason or None, gas used); cleared by every transaction.
        self._reads: dict = {}
        self._head_vm = None     # a VM on the head block's state, for reads at "latest"
        self._w3 = None
        self._genesis_timestamp = genesis_timestamp
        # Everything that changed the chain, in order: ("tx", raw hex: executed and mined
        # in a block of its own), ("ptx", raw hex: executed in the pending block) or
        # ("mine", n).
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
        """Mine `n` blocks; the first holds the pending transactions, if any."""
        with self._lock:  # py-evm is not thread-safe: one chain mutation or read at a time
            self._mine_pending()
            if n > 1:
                self._evm.mine_blocks(n - 1)
            self.journal.append(("mine", n))
            self._forget_reads()

    def seal(self) -> None:
        """Mine the pending block if it holds transactions (automine=False)."""
        if self._pending:
            self.mine(1)

    def save_journal(self, path) -> None:
        """Write the chain journal (seed, every transaction and mined block, head hash);
        atomically, so an interrupted run leaves the previous journal whole."""
        record = {"seed": self.seed, "genesis_timestamp": self._genesis_timestamp,
                  "entries": self.journal, "head": self.head_hash()}
        path = Path(path)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(record))
        partial.replace(path)

    def head_hash(self) -> str:
        return self.block_hash(self.block_number).hex()

    def apply_journal(self, entries) -> None:
        """Execute journal entries (("tx", raw hex) or ("mine", n)) on this chain, in order;
        local nonces are re-read afterwards."""
        for kind, value in entries:
            if kind in ("tx", "ptx"):     # ptx: a transaction left pending (automine off)
                raw = bytes.fromhex(value)
                self._submit(raw, keccak(raw), "", 0, automine=kind == "tx")
            else:
                self.mine(int(value))
        with self._lock:
            self._nonces.clear()

    @classmethod
    def replay(cls, path) -> "EmbeddedBackend":
        """A new embedded chain rebuilt from a journal; it must end on the recorded head."""
        record = json.loads(Path(path).read_text())
        backend = cls(seed=record["seed"], genesis_timestamp=record["genesis_timestamp"])
        backend.apply_journal(record["entries"])
        head = backend.head_hash()
        if head != record["head"]:
            raise LedgerError(f"chain journal {path} does not reproduce its recorded head block "
                              f"(got 0x{head[:16]}…, recorded 0x{record['head'][:16]}…): it was "
                              "altered or written by another version")
        return backend

    def block_hash(self, number: int) -> bytes:
        return self.chain.get_canonical_block_header_by_number(number).hash

    def _state(self):
        """The state every next transaction sees: the pending block's, if one is open."""
        if self._block is not None:
            return self._block.vm.state
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
        """Run a message on top of `block` and throw the state away; returns (output,
        error reason or None, gas used), cached while the state does not change."""
        key = (to, data, sender, value, block)
        with self._lock:
            found = self._reads.get(key)
            if found is None:
                found = self._reads[key] = self._execute_uncached(to, data, sender, value, block)
            return found

    def _execute_uncached(self, to, data, sender, value, block):
        from eth.vm.spoof import SpoofTransaction
        from eth_tester.backends.pyevm.main import _execute_and_revert_transaction

        gas = self.block_gas_limit
        request = {
            "from": to_canonical_address(sender or self.operator.address),
            "to": to_canonical_address(to) if to else b"",
            "data": data, "value": value, "gas": gas,
            # eth-tester's 1 gwei, unless the base fee rose above it (full blocks):
            # a call's fee changes no gas, and a fee below the base fee is refused.
            "max_fee_per_gas": max(10**9, self.chain.header.base_fee_per_gas,
                                   self._head_base_fee()),
            "max_priority_fee_per_gas": 10**9,
        }
        if block == "latest":
            # What the transactions sent so far left: the pending block's own state, or
            # the head block's (one VM per head, not one per read); a snapshot, reverted.
            state = self._block.vm.state if self._pending else self._head_state()
            state.lock_changes()   # as a transaction starts: nothing warm from the last one
            request["nonce"] = state.get_nonce(request["from"])
            unsigned = self._evm._get_normalized_and_unsigned_evm_transaction(request, "pending")
            tx = SpoofTransaction(unsigned, from_=request["from"])
            snapshot = state.snapshot()
            try:
                computation = state.apply_transaction(tx)
            finally:
                state.revert(snapshot)
        else:
            unsigned = self._evm._get_normalized_and_unsigned_evm_transaction(request, block)
            tx = SpoofTransaction(unsigned, from_=request["from"])
            computation = _execute_and_revert_transaction(self.chain, tx, block)
        reason = _computation_reason(computation) if computation.is_error else None
        return computation.output, reason, gas - computation.get_gas_remaining()

    def _head_base_fee(self) -> int:
        return self.chain.get_canonical_head().base_fee_per_gas

    def _head_state(self):
        """The latest mined block's state, as eth_call at "latest" sees it."""
        if self._head_vm is None:
            self._head_vm = self.chain.get_vm(at_header=self.chain.get_canonical_head())
        return self._head_vm.state

    def _forget_reads(self) -> None:
        self._reads.clear()
        self._head_vm = None

    def call(self, to, data, sender=None, value=0, block="latest") -> bytes:
        output, reason, _ = self._execute(to, data, sender, value, block)
        if reason is not None:
            raise ContractRevert(reason)
        return output

    def estimate_gas(self, to, data, sender, value=0) -> int:
        """Gas used by one execution with the block's gas limit (py-evm's own estimator
        binary-searches with a dozen executions; callers add a margin instead)."""
        _, reason, used = self._execute(to, data, sender, value)
        if reason is not None:
            raise ContractRevert(reason)
        return used  # intrinsic + execution, before refunds

    def _broadcast(self, raw, tx_hash, sender, to, data, value, gas):
        receipt = self._submit(raw, tx_hash, sender, gas)
        return lambda: receipt

    def _submit(self, raw, tx_hash, sender, gas, automine: bool | None = None) -> TxReceipt:
        """Execute the transaction in the pending block; mine that block at once when
        automining."""
        automine = self.automine if automine is None else automine
        from eth_utils import ValidationError

        tx = self.chain.get_transaction_builder().decode(raw)
        block = self._block
        if block is not None and block.header.gas_used + tx.gas > block.header.gas_limit:
            self.mine(1)              # the pending block is full: this one opens the next
        block = self._open_block()
        block_gas_before = block.header.gas_used
        try:
            receipt, computation = block.apply(tx)
        except ValidationError as exc:
            if not block.transactions:
                self._block = None    # nothing in it: the next use opens it afresh
            raise TransactionRejected(f"transaction from {sender} rejected: {exc}") from None
        self._forget_reads()           # the state changed: cached reads are stale
        self.journal.append(("tx" if automine else "ptx", bytes(raw).hex()))
        number = block.header.block_number
        first = self._pending_logs    # a log's index counts within its block
        # A receipt's gas_used counts the block so far (cumulative): this transaction's
        # own is the difference.
        gas_used = receipt.gas_used - block_gas_before
        if automine:
            self._mine_pending()      # one transaction per block
        else:
            self._pending += 1
            self._pending_logs += len(receipt.logs)
        logs = tuple(
            RawLog(to_checksum_address(log.address),
                   tuple(t.to_bytes(32, "big") for t in log.topics),
                   log.data, number, tx_hash, first + i)
            for i, log in enumerate(receipt.logs)
        )
        for log in logs:
            self._logs.setdefault(log.address, []).append(log)
        reason = _computation_reason(computation) if computation.is_error else None
        return TxReceipt(tx_hash, 0 if computation.is_error else 1, gas_used, gas,
                         number, logs, reason)

    def _open_block(self) -> "_PendingBlock":
        if self._block is None:
            self._block = _PendingBlock(self.chain)
        return self._block

    def _mine_pending(self) -> None:
        """Mine one block: the pending block's transactions, if any (its state root and
        transaction and receipt tries computed here, once), else an empty one."""
        if self._block is not None:
            if self._block.transactions:
                self.chain.header = self._block.close()
            self._block = None
        self._evm.mine_blocks(1)
        self._pending = self._pending_logs = 0
        self._forget_reads()

    def get_logs(self, address, topics=None, from_block=0, to_block=None) -> list[RawLog]:
        # Up to the pending block: what every transaction sent so far logged.
        last = self.block_number + bool(self._pending) if to_block is None else to_block
        found = []
        for log in self._logs.get(to_checksum_address(address), ()):
            if from_block <= log.block_number <= last and topics_match(log.topics, topics):
                found.append(log)
        return found

    def snapshot(self):
        self.seal()
        return self._evm.take_snapshot(), self.block_number, len(self.journal)

    def _revert_chain(self, token) -> None:
        block_hash, number, journal_length = token
        self._block = None
        self._forget_reads()
        self._evm.revert_to_snapshot(block_hash)
        del self.journal[journal_length:]
        for address, logs in self._logs.items():
            self._logs[address] = [log for log in logs if log.block_number <= number]


class _PendingBlock:
    """The block being filled: its transactions run one after another on one py-evm
    state (as when py-evm imports a block), whose state root and transaction and
    receipt tries are computed once, when it is closed. py-evm's own
    `MiningChain.apply_transaction` persists the state and rebuilds both tries after
    every transaction (and rebuilds the state from its root for the next one); the
    block this makes is the same, transaction by transaction and gas for gas."""

    def __init__(self, chain) -> None:
        self.vm = chain.get_vm(chain.header)
        self.header = self.vm.get_block().header   # gas used and bloom so far
        self.transactions: list = []
        self.receipts: list = []

    def apply(self, tx):
        """Execute `tx` on the block's state; returns (receipt, computation). Raises
        eth_utils.ValidationError, with nothing changed, for a transaction the block
        cannot take (nonce, funds, gas limit)."""
        receipt, computation = self.vm.apply_transaction(self.header, tx)
        self.header = self.vm.add_receipt_to_header(self.header, receipt)
        self.transactions.append(tx)
        self.receipts.append(receipt)
        return receipt, computation

    def close(self):
        """Persist the state; returns the header that commits to it and to the block's
        transactions and receipts (their tries written to the chain's database)."""
        self.vm.state.persist()
        header = self.header.copy(state_root=self.vm.state.state_root)
        block = self.vm.set_block_transactions_and_withdrawals(
            self.vm.get_block(), header, tuple(self.transactions), tuple(self.receipts))
        return block.header


def _computation_reason(computation) -> str:
    if computation.output:
        return decode_revert_data(computation.output)
    return f"{type(computation.error).__name__}: {computation.error}"
