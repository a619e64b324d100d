"""JSON-RPC backend: any Ethereum node (anvil and hardhat tested; geth, Besu, a test network).

Transactions are type 2 (EIP-1559), signed locally by each participant's key and
sent with eth_sendRawTransaction; nonces are kept locally. Hot-path requests go
straight to the provider (no web3 formatting); receipts are polled with a short
back-off starting at `poll_latency`.
"""

from __future__ import annotations

import time

from eth_utils import to_checksum_address

from .accounts import ANVIL_DEV_KEY, Account
from .backends import LedgerBackend, RawLog, TxReceipt, topics_match
from .errors import (
    ContractRevert,
    FeeTooLow,
    NodeError,
    TransactionRejected,
    TransactionTimeout,
    decode_revert_data,
)

PRIORITY_FEE = 10**9  # 1 gwei tip


class RpcBackend(LedgerBackend):
    """A chain behind a JSON-RPC endpoint.

    `funder_key` is the private key of a funded account used to deploy and fund
    participants; by default anvil's first dev account (works on anvil and
    hardhat dev nodes; pass your own for geth, Besu or a public network).
    """

    kind = "rpc"

    def __init__(self, url: str, *, funder_key: bytes | str | None = None, seed: int = 0,
                 poll_latency: float = 0.002, receipt_timeout: float = 120.0):
        from web3 import HTTPProvider, Web3

        super().__init__(seed)
        self.url = url
        self.poll_latency = poll_latency
        self.receipt_timeout = receipt_timeout
        self._provider = HTTPProvider(url, cache_allowed_requests=True)
        self._w3 = Web3(self._provider)
        self.chain_id = int(self.rpc("eth_chainId"), 16)
        self.operator = Account.from_key(funder_key or ANVIL_DEV_KEY)
        self._base_fee: int | None = None
        self._gas_limit: int | None = None
        self._mine_method: str | None = None
        self.client_version = self._client_version()

    # --- raw JSON-RPC -----------------------------------------------------------
    def rpc(self, method: str, *params):
        """One JSON-RPC request; raises NodeError (or ContractRevert for reverts)."""
        try:
            response = self._provider.make_request(method, list(params))
        except Exception as exc:  # connection refused, timeout, bad JSON
            raise NodeError(f"{method} to {self.url} failed: {exc}") from None
        error = response.get("error")
        if error:
            raise _error_to_exception(method, error)
        return response.get("result")

    def _client_version(self) -> str:
        try:
            return self.rpc("web3_clientVersion") or ""
        except NodeError:
            return ""

    @property
    def w3(self):
        return self._w3

    # --- chain state ------------------------------------------------------------
    @property
    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    @property
    def block_gas_limit(self) -> int:
        if self._gas_limit is None:
            self._gas_limit = int(self.rpc("eth_getBlockByNumber", "latest", False)["gasLimit"], 16)
        return self._gas_limit

    def block_hash(self, number: int) -> bytes:
        block = self.rpc("eth_getBlockByNumber", hex(number), False)
        if block is None:
            raise NodeError(f"block {number} not found on {self.url}")
        return bytes.fromhex(block["hash"][2:])

    def get_balance(self, address: str) -> int:
        return int(self.rpc("eth_getBalance", address, "latest"), 16)

    def get_code(self, address: str) -> bytes:
        return bytes.fromhex(self.rpc("eth_getCode", address, "latest")[2:])

    def get_nonce(self, address: str) -> int:
        return int(self.rpc("eth_getTransactionCount", address, "pending"), 16)

    def mine(self, n: int = 1) -> None:
        """Mine n blocks now (anvil_mine, hardhat_mine, else evm_mine n times); a node
        without any of them cannot. The first method that works is remembered."""
        methods = [self._mine_method] if self._mine_method else ["anvil_mine", "hardhat_mine"]
        for method in methods:
            if method == "evm_mine":
                break
            try:
                self.rpc(method, hex(n))
                self._mine_method = method
                return
            except NodeError:
                continue
        try:
            for _ in range(n):
                self.rpc("evm_mine")
            self._mine_method = "evm_mine"
        except NodeError as exc:
            raise NodeError(
                f"{self.url} cannot mine on demand ({exc}); wait for its blocks instead"
            ) from None

    def fee_params(self) -> tuple[int, int]:
        if self._base_fee is None:
            block = self.rpc("eth_getBlockByNumber", "latest", False)
            self._base_fee = int(block.get("baseFeePerGas", "0x0"), 16)
        return 3 * self._base_fee + PRIORITY_FEE, PRIORITY_FEE

    # --- calls ------------------------------------------------------------------
    def _request(self, to, data, sender, value) -> dict:
        request = {"from": sender or self.operator.address, "data": "0x" + data.hex()}
        if to:
            request["to"] = to
        if value:
            request["value"] = hex(value)
        return request

    def call(self, to, data, sender=None, value=0, block="latest") -> bytes:
        tag = hex(block) if isinstance(block, int) else block
        result = self.rpc("eth_call", self._request(to, data, sender, value), tag)
        return bytes.fromhex(result[2:])

    def estimate_gas(self, to, data, sender, value=0) -> int:
        return int(self.rpc("eth_estimateGas", self._request(to, data, sender, value)), 16)

    def get_logs(self, address, topics=None, from_block=0, to_block=None) -> list[RawLog]:
        query = {"address": address, "fromBlock": hex(from_block),
                 "toBlock": "latest" if to_block is None else hex(to_block)}
        if topics:
            query["topics"] = [None if t is None else "0x" + t.hex() for t in topics]
        logs = [_parse_log(entry) for entry in self.rpc("eth_getLogs", query)]
        return [log for log in logs if topics_match(log.topics, topics)]

    # --- transactions -------------------------------------------------------------
    def _broadcast(self, raw, tx_hash, sender, to, data, value, gas):
        try:
            self.rpc("eth_sendRawTransaction", "0x" + raw.hex())
        except NodeError as exc:
            message = str(exc).lower()
            if "base fee" in message or "underpriced" in message or "fee cap" in message:
                raise FeeTooLow(f"transaction from {sender} rejected: {exc}") from None
            raise TransactionRejected(f"transaction from {sender} rejected: {exc}") from None
        return lambda: self._receipt(tx_hash, sender, to, data, value, gas)

    def _refresh_fees(self) -> None:
        self._base_fee = None

    def _receipt(self, tx_hash, sender, to, data, value, gas) -> TxReceipt:
        receipt = self._wait_receipt(tx_hash)
        if receipt["status"] == 0:
            receipt["revert_reason"] = self._replay_reason(to, data, sender, value, gas,
                                                           receipt["block_number"])
        return TxReceipt(tx_hash=tx_hash, gas_limit=gas, **receipt)

    def _wait_receipt(self, tx_hash: bytes) -> dict:
        deadline = time.monotonic() + self.receipt_timeout
        delay = 0.0
        while True:
            result = self.rpc("eth_getTransactionReceipt", "0x" + tx_hash.hex())
            if result is not None:
                return {
                    "status": int(result["status"], 16),
                    "gas_used": int(result["gasUsed"], 16),
                    "block_number": int(result["blockNumber"], 16),
                    "logs": tuple(_parse_log(entry) for entry in result["logs"]),
                }
            if time.monotonic() > deadline:
                raise TransactionTimeout(
                    f"no receipt for 0x{tx_hash.hex()} after {self.receipt_timeout:.0f}s on {self.url}"
                )
            time.sleep(delay)
            delay = min(0.05, max(self.poll_latency, delay * 2))

    def _replay_reason(self, to, data, sender, value, gas, block_number) -> str:
        """Why a mined transaction reverted: replay it as a call on the state before its block."""
        request = self._request(to, data, sender, value)
        request["gas"] = hex(gas)
        try:
            self.rpc("eth_call", request, hex(max(0, block_number - 1)))
        except ContractRevert as exc:
            return exc.reason
        except NodeError as exc:
            return f"reverted (reason unavailable: {exc})"
        return "reverted (out of gas or state changed within the block)"

    # --- snapshots ------------------------------------------------------------------
    def snapshot(self):
        return self.rpc("evm_snapshot")

    def _revert_chain(self, token) -> None:
        if not self.rpc("evm_revert", token):
            raise NodeError(f"evm_revert({token}) failed on {self.url}")
        self._base_fee = None

    def close(self) -> None:
        """Nothing to release: web3 keeps one pooled HTTP session per endpoint."""


def _parse_log(entry: dict) -> RawLog:
    return RawLog(
        address=to_checksum_address(entry["address"]),
        topics=tuple(bytes.fromhex(t[2:]) for t in entry["topics"]),
        data=bytes.fromhex(entry["data"][2:]),
        block_number=int(entry["blockNumber"], 16),
        tx_hash=bytes.fromhex(entry["transactionHash"][2:]),
        log_index=int(entry["logIndex"], 16),
    )


def _error_to_exception(method: str, error: dict) -> Exception:
    message = str(error.get("message", error))
    data = error.get("data")
    if isinstance(data, dict):  # some nodes nest it
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        return ContractRevert(decode_revert_data(bytes.fromhex(data[2:])), method=method)
    if "revert" in message.lower():
        reason = message.split("execution reverted", 1)[-1].lstrip(": ").strip()
        return ContractRevert(reason or "execution reverted", method=method)
    return NodeError(f"{method}: {message}")
