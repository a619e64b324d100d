"""Typed client of a network's ModelBridge (light client of remote networks)."""

from __future__ import annotations

from typing import Sequence

from .abi import Event
from .accounts import Account
from .backends import LedgerBackend
from .contract import BoundContract, TxResult, interface_of
from .eip712 import Domain
from .errors import LedgerError
from .types import Deployment, ImportRecord, RemoteNetwork, Signature


class BridgeClient:
    """One account's handle on a ModelBridge (account=None: read-only)."""

    def __init__(self, backend: LedgerBackend, address: str, account: Account | None = None,
                 *, from_block: int = 0):

        self.backend = backend
        self.account = account
        self.from_block = from_block
        self.contract = BoundContract(backend, address, interface_of("ModelBridge"), "ModelBridge")

    @classmethod
    def for_deployment(cls, backend: LedgerBackend, deployment: Deployment,
                       account: Account | None = None) -> "BridgeClient":
        return cls(backend, deployment.bridge_address, account, from_block=deployment.deploy_block)

    @property
    def address(self) -> str:
        return self.contract.address

    def _send(self, method: str, *args) -> TxResult:
        if self.account is None:
            raise LedgerError(f"{method} needs an account: this BridgeClient is read-only")
        return self.contract.transact(self.account, method, *args)

    # === writes ==================================================================
    def register_network(self, network_id: bytes, chain_id: int, ledger_address: str,
                         validators: Sequence[str], stakes: Sequence[int]) -> TxResult:
        """Trust a remote network with its initial validator set (owner only, once)."""
        return self._send("register_network", network_id, chain_id, ledger_address,
                          list(validators), list(stakes))

    def register_deployment(self, remote: Deployment, validators: Sequence[str],
                            stakes: Sequence[int]) -> TxResult:
        return self.register_network(remote.network_id, remote.chain_id, remote.ledger_address,
                                     validators, stakes)

    def update_validator_set(self, network_id: bytes, validators: Sequence[str], stakes: Sequence[int],
                             nonce: int, signatures: Sequence[bytes | Signature]) -> TxResult:
        """Rotate a remote set; `signatures` (ValidatorSetUpdate, remote domain) of the current set,
        over its hash (`network(id).validators_hash`) and `nonce`, which must be the next one.

        Signature objects are sorted by signer; raw bytes are sent in the order given."""
        return self._send("update_validator_set", network_id, list(validators), list(stakes), nonce,
                          _ordered(signatures))

    def import_checkpoint(self, network_id: bytes, round: int, model_root: bytes, parent_root: bytes,
                          signatures: Sequence[bytes | Signature], uri: str) -> int:
        """Import a remote final checkpoint; returns the import id. The signatures cover `uri`.

        Signature objects are sorted by signer; raw bytes are sent in the order given."""
        result = self._send("import_checkpoint", network_id, round, model_root, parent_root,
                            _ordered(signatures), uri)
        return result.event("CheckpointImported")["import_id"]

    # === reads ===================================================================
    def network(self, network_id: bytes) -> RemoteNetwork | None:
        registered, chain_id, ledger, domain, total, count, _epoch, nonce, set_hash = self.contract.call(
            "networks", network_id)
        if not registered:
            return None
        return RemoteNetwork(network_id, chain_id, ledger, domain, total, count, nonce, set_hash)

    def remote_domain(self, network_id: bytes) -> Domain:
        net = self.network(network_id)
        if net is None:
            raise LedgerError(f"network 0x{network_id.hex()} is not registered on this bridge")
        return Domain(net.chain_id, net.ledger, network_id)

    def member_stake(self, network_id: bytes, validator: str) -> int:
        return self.contract.call("member_stake_of", network_id, validator)

    def import_record(self, import_id: int) -> ImportRecord:
        record = self.contract.call("import_record", import_id)
        return ImportRecord(import_id, *record)

    def imports(self) -> list[ImportRecord]:
        return [self.import_record(i) for i in range(1, self.contract.call("import_count") + 1)]

    def imported_id(self, network_id: bytes, round: int) -> int:
        """Import id of (network, round); 0 when not imported."""
        return self.contract.call("imported_round", network_id, round)

    def events(self, name: str, from_block: int | None = None, **indexed) -> list[Event]:
        start = self.from_block if from_block is None else from_block
        return self.contract.events(name, start, None, **indexed)


def _ordered(signatures: Sequence[bytes | Signature]) -> list[bytes]:
    if signatures and all(isinstance(s, Signature) for s in signatures):
        return [s.signature for s in sorted(signatures, key=lambda s: int(s.signer, 16))]
    return [s.signature if isinstance(s, Signature) else bytes(s) for s in signatures]
