"""EIP-712 hashing and signing of poft's typed messages, mirroring contracts/signatures.vy.

Domain: EIP712Domain(string name,string version,uint256 chainId,address
verifyingContract,bytes32 salt) with name "poft", version "1", the chain id,
the network's FederatedLedger address and salt = the network id. The salt is
what separates two embedded EVMs, which share a chain id.

Checkpoint(bytes32 networkId,uint256 round,bytes32 modelRoot,bytes32 parentRoot,string uri)
signs where the model's bytes are (the uri, hashed as EIP-712 hashes a string);
ValidatorSetUpdate(bytes32 networkId,uint256 nonce,bytes32 previousValidatorsHash,
bytes32 validatorsHash) signs the set it replaces as well as the new one.
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
    b"Checkpoint(bytes32 networkId,uint256 round,bytes32 modelRoot,bytes32 parentRoot,string uri)"
)
VALIDATOR_SET_TYPEHASH = keccak(
    b"ValidatorSetUpdate(bytes32 networkId,uint256 nonce,bytes32 previousValidatorsHash,"
    b"bytes32 validatorsHash)"
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


def checkpoint_digest(domain: Domain, round: int, model_root: bytes, parent_root: bytes,
                      uri: str | bytes) -> bytes:
    """Digest of Checkpoint(networkId, round, modelRoot, parentRoot, uri) under `domain`.

    `uri` as str (UTF-8) or as the raw bytes the contract holds."""
    struct_hash = keccak(
        encode(
            ["bytes32", "bytes32", "uint256", "bytes32", "bytes32", "bytes32"],
            [CHECKPOINT_TYPEHASH, _bytes32(domain.network_id), round,
             _bytes32(model_root), _bytes32(parent_root), keccak(_uri_bytes(uri))],
        )
    )
    return typed_digest(domain.separator, struct_hash)


def validators_hash(validators: Sequence[str], stakes: Sequence[int]) -> bytes:
    """keccak256(abi_encode(validators, stakes)) as the bridge computes it."""
    return keccak(encode(["address[]", "uint256[]"], [list(validators), list(stakes)]))


def validator_set_digest(domain: Domain, nonce: int, previous_validators_hash: bytes,
                         validators: Sequence[str], stakes: Sequence[int]) -> bytes:
    """Digest of ValidatorSetUpdate(networkId, nonce, previousValidatorsHash, validatorsHash)
    under `domain`: replace the set hashing to `previous_validators_hash` (the bridge's current
    one, `RemoteNetwork.validators_hash`) by (validators, stakes), as rotation number `nonce`."""
    struct_hash = keccak(
        encode(
            ["bytes32", "bytes32", "uint256", "bytes32", "bytes32"],
            [VALIDATOR_SET_TYPEHASH, _bytes32(domain.network_id), nonce,
             _bytes32(previous_validators_hash), validators_hash(validators, stakes)],
        )
    )
    return typed_digest(domain.separator, struct_hash)


def sign_checkpoint(account: Account, domain: Domain, round: int, model_root: bytes, parent_root: bytes,
                    uri: str | bytes) -> bytes:
    return account.sign_digest(checkpoint_digest(domain, round, model_root, parent_root, uri))


def sign_validator_set(
    account: Account, domain: Domain, nonce: int, previous_validators_hash: bytes,
    validators: Sequence[str], stakes: Sequence[int],
) -> bytes:
    return account.sign_digest(
        validator_set_digest(domain, nonce, previous_validators_hash, validators, stakes))


def recover(digest: bytes, signature: bytes) -> str:
    return recover_signer(digest, signature)


def _uri_bytes(uri: str | bytes) -> bytes:
    return uri.encode() if isinstance(uri, str) else bytes(uri)


def _bytes32(value: bytes) -> bytes:
    if len(value) != 32:
        raise ValueError(f"expected 32 bytes, got {len(value)}")
    return value
