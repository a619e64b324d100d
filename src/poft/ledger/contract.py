"""A deployed contract bound to a backend: calls, transactions, events, gas policy.

Gas policy (no per-transaction estimate): the first transaction of a call kind
is estimated (which also surfaces a revert reason before anything is sent);
afterwards the kind reuses a limit of 2x the most gas it has used (+100k),
shared by every client of the chain. A transaction that runs out of gas (cost
grew with the state, e.g. more candidates) is re-estimated and sent once more.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from .abi import ContractInterface, Event, topic_for
from .accounts import Account
from .backends import LedgerBackend, TxReceipt
from .compile import load_artifact
from .errors import ContractRevert


@functools.lru_cache(maxsize=None)
def interface_of(name: str) -> ContractInterface:
    """The ABI of the compiled contract `name` ("FederatedLedger" or "ModelBridge")."""
    return ContractInterface(load_artifact(name).abi)


@dataclass(frozen=True)
class TxResult:
    """A mined, successful transaction and the events it emitted."""

    tx_hash: str
    block_number: int
    gas_used: int
    events: tuple[Event, ...]

    def event(self, name: str) -> Event:
        """The first event called `name` (KeyError naming what was emitted otherwise)."""
        for ev in self.events:
            if ev.name == name:
                return ev
        emitted = ", ".join(e.name for e in self.events) or "nothing"
        raise KeyError(f"transaction {self.tx_hash} emitted no {name} event (emitted: {emitted})")

    def events_named(self, name: str) -> list[Event]:
        return [ev for ev in self.events if ev.name == name]


class BoundContract:
    """`interface` at `address` on `backend`."""

    def __init__(self, backend: LedgerBackend, address: str, interface: ContractInterface, name: str):
        self.backend = backend
        self.address = address
        self.interface = interface
        self.name = name

    # --- reads -----------------------------------------------------------------
    def call(self, method: str, *args: Any, sender: str | None = None, block: int | str = "latest") -> Any:
        fn = self.interface.function(method)
        try:
            out = self.backend.call(self.address, fn.encode_call(args), sender, block=block)
        except ContractRevert as exc:
            raise ContractRevert(exc.reason, method=method, contract=self.name) from None
        return fn.decode_output(out)

    def events(self, name: str, from_block: int = 0, to_block: int | None = None,
               **indexed: Any) -> list[Event]:
        """Decoded `name` events, optionally filtered by indexed arguments (e.g. round=3)."""
        event = self.interface.event_type(name)
        topics: list[bytes | None] = [event.topic]
        indexed_params = [(n, t) for n, t, ix in zip(event.names, event.types, event.indexed) if ix]
        unknown = set(indexed) - {n for n, _ in indexed_params}
        if unknown:
            raise KeyError(f"{name} has no indexed argument {sorted(unknown)}; "
                           f"indexed: {[n for n, _ in indexed_params]}")
        for param, typ in indexed_params:
            topics.append(topic_for(indexed[param], typ) if param in indexed else None)
        while topics and topics[-1] is None:
            topics.pop()
        logs = self.backend.get_logs(self.address, topics, from_block, to_block)
        return [ev for ev in map(self.interface.decode_log, logs) if ev is not None]

    # --- writes ----------------------------------------------------------------
    def transact(self, account: Account, method: str, *args: Any, value: int = 0) -> TxResult:
        """Send `method(*args)` from `account`; raises ContractRevert with the contract's reason."""
        fn = self.interface.function(method)
        data = fn.encode_call(args)
        gas = self.backend.gas_limits.get(self._key(method)) or self._estimate(account, method, data, value)
        receipt = self.backend.send_transaction(account, self.address, data, value=value, gas=gas)
        if receipt.out_of_gas:
            self._record(method, receipt)
            gas = self._estimate(account, method, data, value)
            receipt = self.backend.send_transaction(account, self.address, data, value=value, gas=gas)
        self._record(method, receipt)
        if receipt.status != 1:
            raise ContractRevert(receipt.revert_reason or "reverted", method=method,
                                 contract=self.name, tx_hash="0x" + receipt.tx_hash.hex())
        self._learn(method, receipt.gas_used)
        return TxResult("0x" + receipt.tx_hash.hex(), receipt.block_number, receipt.gas_used,
                        self.decode_receipt(receipt))

    def decode_receipt(self, receipt: TxReceipt) -> tuple[Event, ...]:
        events = (self.interface.decode_log(log) for log in receipt.logs if log.address == self.address)
        return tuple(ev for ev in events if ev is not None)

    def _estimate(self, account: Account, method: str, data: bytes, value: int) -> int:
        try:
            estimate = self.backend.estimate_gas(self.address, data, account.address, value)
        except ContractRevert as exc:
            raise ContractRevert(exc.reason, method=method, contract=self.name) from None
        return min(self.backend.block_gas_limit, estimate * 3 // 2 + 100_000)

    def _learn(self, method: str, gas_used: int) -> None:
        limit = min(self.backend.block_gas_limit, gas_used * 2 + 100_000)
        if limit > self.backend.gas_limits.get(self._key(method), 0):
            self.backend.gas_limits[self._key(method)] = limit

    def _key(self, method: str) -> str:
        return f"{self.name}.{method}"

    def _record(self, method: str, receipt: TxReceipt) -> None:
        kind = method if receipt.status == 1 else f"{method} (reverted)"
        self.backend.gas_report.record(kind, receipt.gas_used)
