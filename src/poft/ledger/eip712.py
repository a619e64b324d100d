"""EIP-712 hashing and signing of poft's typed messages, mirroring contracts/signatures.vy.

Domain: EIP712Domain(string name,string version,uint256 chainId,address
verifyingContract,bytes32 salt) with name "poft", version "1", the chain id,
the network's FederatedLedger address and salt = the network id. The salt is
what separates two embedded EVMs, which share a chain id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from .accounts import Account, recover_signer

DOMAIN_NAME = "poft"
DOMAIN_VERSION = "1"
DOMAIN_TYPEHASH = keccak(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)"
)
CHECKPOINT_TYPEHASH = keccak(
    b"Checkpoint(bytes32 networkId,uint256 round,bytes32 modelRoot,bytes32 parentRoot)"
)
VALIDATOR_SET_TYPEHASH = keccak(
    b"ValidatorSetUpdate(bytes32 networkId,uint256 nonce,bytes32 validatorsHash)"
)


@dataclass(frozen=True)
class Domain:
    """Where a signature is valid: one network's ledger on one chain."""

    chain_id: int
    ledger: str
    network_id: bytes

    @property
    def separator(self) -> bytes:
        return domain_separator(self.chain_id, self.ledger, self.network_id)


def domain_separator(chain_id: int, ledger: str, network_id: bytes) -> bytes:
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address", "bytes32"],
            [DOMAIN_TYPEHASH, keccak(DOMAIN_NAME.encode()), keccak(DOMAIN_VERSION.encode()),
             chain_id, to_checksum_address(ledger), _bytes32(network_id)],
        )
    )


def typed_digest(separator: bytes, struct_hash: bytes) -> bytes:
    return keccak(b"\x19\x01" + separator + struct_hash)


def checkpoint_digest(domain: Domain, round: int, model_root: bytes, parent_root: bytes) -> bytes:
    """Digest of Checkpoint(networkId, round, modelRoot, parentRoot) under `domain`."""
    struct_hash = keccak(
        encode(
            ["bytes32", "bytes32", "uint256", "bytes32", "bytes32"],
            [CHECKPOINT_TYPEHASH, _bytes32(domain.network_id), round,
             _bytes32(model_root), _bytes32(parent_root)],
        )
    )
    return typed_digest(domain.separator, struct_hash)


def validators_hash(validators: Sequence[str], stakes: Sequence[int]) -> bytes:
    """keccak256(abi_encode(validators, stakes)) as the bridge computes it."""
    return keccak(encode(["address[]", "uint256[]"], [list(validators), list(stakes)]))


def validator_set_digest(domain: Domain, nonce: int, validators: Sequence[str], stakes: Sequence[int]) -> bytes:
    """Digest of ValidatorSetUpdate(networkId, nonce, validatorsHash) under `domain`."""
    struct_hash = keccak(
        encode(
            ["bytes32", "bytes32", "uint256", "bytes32"],
            [VALIDATOR_SET_TYPEHASH, _bytes32(domain.network_id), nonce,
             validators_hash(validators, stakes)],
        )
    )
    return typed_digest(domain.separator, struct_hash)


def sign_checkpoint(account: Account, domain: Domain, round: int, model_root: bytes, parent_root: bytes) -> bytes:
    return account.sign_digest(checkpoint_digest(domain, round, model_root, parent_root))


def sign_validator_set(
    account: Account, domain: Domain, nonce: int, validators: Sequence[str], stakes: Sequence[int]
) -> bytes:
    return account.sign_digest(validator_set_digest(domain, nonce, validators, stakes))


def recover(digest: bytes, signature: bytes) -> str:
    return recover_signer(digest, signature)


def _bytes32(value: bytes) -> bytes:
    if len(value) != 32:
        raise ValueError(f"expected 32 bytes, got {len(value)}")
    return value
