"""Participant accounts: deterministic keys from a seed, digest and transaction signing.

Every participant signs its own transactions locally (type-2 / EIP-1559) with
its own key; nothing relies on a node holding unlocked accounts. Signing uses
coincurve directly (RFC 6979, low-s), which is several times faster than
building the transaction through eth-account.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import coincurve
import rlp
from eth_utils import keccak, to_canonical_address, to_checksum_address

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

# Funded dev accounts of the local chains: eth-tester's genesis accounts have
# private keys 1..10; anvil's are the well-known "test ... junk" mnemonic.
EMBEDDED_RICH_KEY = (1).to_bytes(32, "big")
ANVIL_DEV_KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")


@dataclass(frozen=True)
class Account:
    """An externally owned account: checksummed address and private key."""

    address: str
    private_key: bytes = field(repr=False)
    _signer: coincurve.PrivateKey = field(repr=False, compare=False, hash=False)

    @classmethod
    def from_key(cls, private_key: bytes | str) -> "Account":
        if isinstance(private_key, str):
            private_key = bytes.fromhex(private_key.removeprefix("0x"))
        if len(private_key) != 32 or not 0 < int.from_bytes(private_key, "big") < SECP256K1_N:
            raise ValueError("a private key is 32 bytes in 1..n-1 of secp256k1")
        signer = coincurve.PrivateKey(private_key)
        public = signer.public_key.format(compressed=False)[1:]
        address = to_checksum_address(keccak(public)[-20:])
        return cls(address, private_key, signer)

    @property
    def canonical_address(self) -> bytes:
        return to_canonical_address(self.address)

    def sign_digest(self, digest: bytes) -> bytes:
        """65-byte r || s || v signature (v = 27/28, low s) of a 32-byte digest."""
        if len(digest) != 32:
            raise ValueError("sign_digest takes a 32-byte digest")
        sig = self._signer.sign_recoverable(digest, hasher=None)
        return sig[:64] + bytes([27 + sig[64]])

    def sign_transaction(
        self,
        *,
        chain_id: int,
        nonce: int,
        to: str | None,
        data: bytes,
        gas: int,
        max_fee: int,
        priority_fee: int,
        value: int = 0,
    ) -> tuple[bytes, bytes]:
        """A signed EIP-1559 (type-2) transaction: (raw bytes, transaction hash)."""
        to_bytes = to_canonical_address(to) if to else b""
        fields = [chain_id, nonce, priority_fee, max_fee, gas, to_bytes, value, data, []]
        sig = self._signer.sign_recoverable(keccak(b"\x02" + rlp.encode(fields)), hasher=None)
        r = int.from_bytes(sig[:32], "big")
        s = int.from_bytes(sig[32:64], "big")
        raw = b"\x02" + rlp.encode(fields + [sig[64], r, s])
        return raw, keccak(raw)


def derive_key(seed: int, index: int, label: str = "poft-participant") -> bytes:
    """Private key number `index` of `seed`: keccak(label, seed, index), re-hashed if out of range."""
    material = label.encode() + seed.to_bytes(32, "big", signed=False) + index.to_bytes(32, "big")
    key = keccak(material)
    while not 0 < int.from_bytes(key, "big") < SECP256K1_N:  # astronomically rare
        key = keccak(key)
    return key


def derive_accounts(seed: int, count: int, start: int = 0, label: str = "poft-participant") -> list[Account]:
    """`count` deterministic accounts of `seed`, numbered from `start`."""
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return [Account.from_key(derive_key(seed, i, label)) for i in range(start, start + count)]


def recover_signer(digest: bytes, signature: bytes) -> str:
    """Checksummed address that produced a 65-byte r || s || v signature of `digest`."""
    if len(signature) != 65:
        raise ValueError(f"a signature is 65 bytes, got {len(signature)}")
    v = signature[64]
    if v not in (27, 28):
        raise ValueError(f"signature v must be 27 or 28, got {v}")
    public = coincurve.PublicKey.from_signature_and_message(
        signature[:64] + bytes([v - 27]), digest, hasher=None
    )
    return to_checksum_address(keccak(public.format(compressed=False)[1:])[-20:])
