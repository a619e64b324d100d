"""Errors raised by the ledger layer. Each names what was wrong."""

from __future__ import annotations

from poft.errors import PoftError


class LedgerError(PoftError):
    """Any failure of the ledger layer (transaction, node, contract, setup)."""


class ContractRevert(LedgerError):
    """A contract call or transaction reverted; `reason` is the contract's own message."""

    def __init__(self, reason: str, *, method: str = "", contract: str = "", tx_hash: str = ""):
        self.reason = reason
        self.method = method
        self.contract = contract
        self.tx_hash = tx_hash
        where = f"{contract}.{method}" if contract and method else (method or contract or "call")
        super().__init__(f"{where} reverted: {reason}")


class TransactionRejected(LedgerError):
    """The node refused a transaction before executing it (nonce, fee, balance, ...)."""


class FeeTooLow(TransactionRejected):
    """The node refused a transaction whose max fee is below the current base fee."""


class TransactionTimeout(LedgerError):
    """No receipt arrived in time."""


class NodeError(LedgerError):
    """A JSON-RPC node is unreachable or answered with an error."""


class LocalNodeNotFound(LedgerError):
    """A local node (anvil, hardhat) is not installed."""


class AnvilNotFound(LocalNodeNotFound):
    """The anvil binary is not installed."""


class HardhatNotFound(LocalNodeNotFound):
    """Hardhat (npm package `hardhat`) or node is not installed."""


REVERT_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)


def decode_revert_data(data: bytes) -> str:
    """The human-readable reason in EVM revert data (Error(string), Panic, or raw)."""
    from eth_abi import decode

    if data[:4] == REVERT_SELECTOR:
        try:
            return decode(["string"], data[4:])[0]
        except Exception:  # malformed payload: fall through to the raw bytes
            pass
    if data[:4] == PANIC_SELECTOR and len(data) >= 36:
        return f"panic 0x{int.from_bytes(data[4:36], 'big'):02x}"
    if not data:
        return "reverted without a reason (out of gas, bounds check or invalid opcode)"
    return f"reverted with data 0x{data.hex()}"
