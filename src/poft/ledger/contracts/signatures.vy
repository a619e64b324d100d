# pragma version ~=0.4.3
# @license MIT
"""
@title signatures
@notice EIP-712 helpers shared by FederatedLedger and ModelBridge.
@dev Domain: EIP712Domain(string name,string version,uint256 chainId,
     address verifyingContract,bytes32 salt) with name "poft", version "1" and
     salt = the network id. Two embedded EVMs share a chain id (and may even
     share a ledger address), so the salt is what keeps a signature for one
     network from verifying on another.

     A Checkpoint covers its uri (EIP-712 `string`: keccak256 of its bytes), so
     whoever relays a checkpoint cannot choose where receivers fetch its bytes.
     A ValidatorSetUpdate covers the hash of the set it replaces and its nonce,
     which a bridge accepts only as the next one: a rotation signed against an
     older set can never be played later against a newer one.
"""

MAX_URI: constant(uint256) = 256  # the uri bound of FederatedLedger and ModelBridge

DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)"
)
NAME_HASH: constant(bytes32) = keccak256("poft")
VERSION_HASH: constant(bytes32) = keccak256("1")
CHECKPOINT_TYPEHASH: constant(bytes32) = keccak256(
    "Checkpoint(bytes32 networkId,uint256 round,bytes32 modelRoot,bytes32 parentRoot,string uri)"
)
VALIDATOR_SET_TYPEHASH: constant(bytes32) = keccak256(
    "ValidatorSetUpdate(bytes32 networkId,uint256 nonce,bytes32 previousValidatorsHash,bytes32 validatorsHash)"
)
# secp256k1 group order / 2: signatures with a larger s are the malleable twin.
SECP256K1_HALF_N: constant(uint256) = (
    57896044618658097711785492504343953926418782139537452191302581570759080747168
)


@internal
@pure
def domain_separator(chain_id: uint256, verifying_contract: address, network_id: bytes32) -> bytes32:
    return keccak256(
        abi_encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, chain_id, verifying_contract, network_id)
    )


@internal
@pure
def typed_digest(domain: bytes32, struct_hash: bytes32) -> bytes32:
    return keccak256(concat(b"\x19\x01", domain, struct_hash))


@internal
@pure
def checkpoint_digest(
    domain: bytes32, network_id: bytes32, round: uint256, model_root: bytes32, parent_root: bytes32,
    uri: String[MAX_URI]
) -> bytes32:
    struct_hash: bytes32 = keccak256(
        abi_encode(CHECKPOINT_TYPEHASH, network_id, round, model_root, parent_root, keccak256(uri))
    )
    return self.typed_digest(domain, struct_hash)


@internal
@pure
def validator_set_digest(
    domain: bytes32, network_id: bytes32, nonce: uint256, previous_validators_hash: bytes32,
    validators_hash: bytes32
) -> bytes32:
    struct_hash: bytes32 = keccak256(
        abi_encode(VALIDATOR_SET_TYPEHASH, network_id, nonce, previous_validators_hash, validators_hash)
    )
    return self.typed_digest(domain, struct_hash)


@internal
@pure
def recover(digest: bytes32, signature: Bytes[65]) -> address:
    """
    @notice Signer of a 65-byte r || s || v signature; reverts on anything
            malformed, malleable (high s) or unrecoverable.
    """
    assert len(signature) == 65, "bad signature: length is not 65 bytes"
    r: uint256 = extract32(signature, 0, output_type=uint256)
    s: uint256 = extract32(signature, 32, output_type=uint256)
    v: uint256 = convert(slice(signature, 64, 1), uint256)
    assert s <= SECP256K1_HALF_N, "bad signature: high s (malleable)"
    assert v == 27 or v == 28, "bad signature: v is not 27 or 28"
    signer: address = ecrecover(digest, v, r, s)
    assert signer != empty(address), "bad signature"
    return signer
