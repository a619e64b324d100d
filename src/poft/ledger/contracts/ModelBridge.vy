# pragma version ~=0.4.3
# @license MIT
"""
@title ModelBridge
@notice Light client of the remote networks this network trusts: it holds each
        remote validator set and imports a remote checkpoint only when signed
        by >= 2/3 of that set's stake under the remote network's EIP-712 domain.
@dev Signatures must come sorted by signer address, strictly ascending: that
     makes distinctness a cheap comparison. A remote set holds at most
     MAX_VALIDATORS 256 members; import and update calls carry at most as many
     signatures. validatorsHash = keccak256(abi_encode(validators, stakes)) with
     types (address[], uint256[]).

     The uri of an import is part of the signed Checkpoint: a relayer, trusted
     for nothing, cannot import a genuine checkpoint under a location of its
     choosing (and so cannot take the round from the honest relayer). A set's
     total stake is at most MAX_TOTAL_STAKE = max_value(uint256) // 3, so the
     2/3 check never overflows. A rotation is signed over the hash of the set
     it replaces and must carry the next nonce exactly.
"""

import signatures

MAX_VALIDATORS: constant(uint256) = 256
MAX_URI: constant(uint256) = signatures.MAX_URI
MAX_TOTAL_STAKE: constant(uint256) = max_value(uint256) // 3  # 3 * total stake must not overflow

struct RemoteNetwork:
    registered: bool
    chain_id: uint256
    ledger: address
    domain_separator: bytes32
    total_stake: uint256
    validator_count: uint256
    epoch: uint256  # bumped by each validator-set update; keys the stake map
    nonce: uint256
    validators_hash: bytes32  # of the current set; the next rotation is signed over it

struct ImportRecord:
    network_id: bytes32
    round: uint256
    model_root: bytes32
    parent_root: bytes32
    uri: String[MAX_URI]
    signer_stake: uint256
    total_stake: uint256
    block_number: uint256

event NetworkRegistered:
    network_id: indexed(bytes32)
    chain_id: uint256
    ledger: address
    domain_separator: bytes32
    validators: DynArray[address, MAX_VALIDATORS]
    stakes: DynArray[uint256, MAX_VALIDATORS]

event ValidatorSetUpdated:
    network_id: indexed(bytes32)
    nonce: uint256
    previous_validators_hash: bytes32
    validators: DynArray[address, MAX_VALIDATORS]
    stakes: DynArray[uint256, MAX_VALIDATORS]
    signer_stake: uint256

event CheckpointImported:
    import_id: indexed(uint256)
    network_id: indexed(bytes32)
    round: uint256
    model_root: bytes32
    parent_root: bytes32
    uri: String[MAX_URI]
    signer_stake: uint256

owner: public(address)
networks: public(HashMap[bytes32, RemoteNetwork])
# network -> epoch -> validator -> stake (0 = not a member)
member_stake: HashMap[bytes32, HashMap[uint256, HashMap[address, uint256]]]
# network -> round -> import id (0 = not imported)
imported_round: public(HashMap[bytes32, HashMap[uint256, uint256]])
imports: HashMap[uint256, ImportRecord]
import_count: public(uint256)  # ids run 1..import_count


@deploy
def __init__(owner: address):
    """@param owner The account allowed to register remote networks."""
    self.owner = owner


@internal
def _store_set(
    network_id: bytes32, epoch: uint256,
    validators: DynArray[address, MAX_VALIDATORS], stakes: DynArray[uint256, MAX_VALIDATORS]
) -> uint256:
    """@dev Writes a validator set under a fresh epoch; returns its total stake."""
    assert len(validators) == len(stakes), "validators and stakes differ in length"
    assert len(validators) > 0, "empty validator set"
    total: uint256 = 0
    for i: uint256 in range(len(validators), bound=MAX_VALIDATORS):
        v: address = validators[i]
        assert v != empty(address), "empty validator address"
        assert stakes[i] > 0, "validator stake must be positive"
        assert self.member_stake[network_id][epoch][v] == 0, "duplicate validator"
        assert stakes[i] <= MAX_TOTAL_STAKE - total, "total stake exceeds max_value(uint256) / 3"
        self.member_stake[network_id][epoch][v] = stakes[i]
        total += stakes[i]
    return total


@external
def register_network(
    network_id: bytes32, chain_id: uint256, ledger: address,
    validators: DynArray[address, MAX_VALIDATORS], stakes: DynArray[uint256, MAX_VALIDATORS]
):
    """
    @notice Trust a remote network: its chain id, ledger and initial validator set (owner, once).
    @param network_id The remote network's id (its EIP-712 domain salt).
    @param chain_id The remote network's chain id.
    @param ledger The remote FederatedLedger (its EIP-712 verifying contract).
    @param validators The initial validator set; distinct, non-empty addresses.
    @param stakes Each validator's stake, positive, in the same order.
    """
    assert msg.sender == self.owner, "only the owner can register networks"
    assert not self.networks[network_id].registered, "network already registered"
    total: uint256 = self._store_set(network_id, 0, validators, stakes)
    domain: bytes32 = signatures.domain_separator(chain_id, ledger, network_id)
    self.networks[network_id] = RemoteNetwork(
        registered=True, chain_id=chain_id, ledger=ledger, domain_separator=domain,
        total_stake=total, validator_count=len(validators), epoch=0, nonce=0,
        validators_hash=keccak256(abi_encode(validators, stakes))
    )
    log NetworkRegistered(
        network_id=network_id, chain_id=chain_id, ledger=ledger, domain_separator=domain,
        validators=validators, stakes=stakes
    )


@view
@internal
def _signer_stake(
    network_id: bytes32, net: RemoteNetwork, digest: bytes32,
    sigs: DynArray[Bytes[65], MAX_VALIDATORS]
) -> uint256:
    """
    @dev Stake of the current set behind `sigs` over `digest`; reverts unless
         every signer is a member, signers strictly ascend and reach 2/3.
    """
    previous: address = empty(address)
    total: uint256 = 0
    for sig: Bytes[65] in sigs:
        signer: address = signatures.recover(digest, sig)
        stake: uint256 = self.member_stake[network_id][net.epoch][signer]
        assert stake > 0, "signer not in validator set"
        assert convert(signer, uint256) > convert(previous, uint256), "signers not strictly ascending"
        previous = signer
        total += stake
    assert 3 * total >= 2 * net.total_stake, "below 2/3 of stake"
    return total


@external
def update_validator_set(
    network_id: bytes32,
    new_validators: DynArray[address, MAX_VALIDATORS],
    new_stakes: DynArray[uint256, MAX_VALIDATORS],
    nonce: uint256,
    sigs: DynArray[Bytes[65], MAX_VALIDATORS],
):
    """
    @notice Replace a remote set, authorised by >= 2/3 of the stake of the set it
            replaces, signed over that set's hash and the next nonce.
    @param network_id The remote network.
    @param new_validators The new validator set; distinct, non-empty addresses.
    @param new_stakes Each new validator's stake, positive, in the same order; the total at most max_value(uint256) / 3.
    @param nonce Exactly the network's last nonce + 1.
    @param sigs ValidatorSetUpdate signatures of the current set, sorted by signer ascending.
    """
    net: RemoteNetwork = self.networks[network_id]
    assert net.registered, "unknown network"
    assert nonce == net.nonce + 1, "nonce is not the next one"
    validators_hash: bytes32 = keccak256(abi_encode(new_validators, new_stakes))
    digest: bytes32 = signatures.validator_set_digest(
        net.domain_separator, network_id, nonce, net.validators_hash, validators_hash
    )
    signer_stake: uint256 = self._signer_stake(network_id, net, digest, sigs)
    epoch: uint256 = net.epoch + 1
    total: uint256 = self._store_set(network_id, epoch, new_validators, new_stakes)
    self.networks[network_id].epoch = epoch
    self.networks[network_id].nonce = nonce
    self.networks[network_id].total_stake = total
    self.networks[network_id].validator_count = len(new_validators)
    self.networks[network_id].validators_hash = validators_hash
    log ValidatorSetUpdated(
        network_id=network_id, nonce=nonce, previous_validators_hash=net.validators_hash,
        validators=new_validators, stakes=new_stakes,
        signer_stake=signer_stake
    )


@external
def import_checkpoint(
    network_id: bytes32, round: uint256, model_root: bytes32, parent_root: bytes32,
    sigs: DynArray[Bytes[65], MAX_VALIDATORS], uri: String[MAX_URI]
) -> uint256:
    """
    @notice Import a remote final checkpoint, signed with its uri; returns its import id.
    @param network_id The remote network.
    @param round The remote round; each is imported at most once.
    @param model_root The checkpoint's model root.
    @param parent_root The remote global root it follows.
    @param sigs Checkpoint signatures of the current set, sorted by signer ascending.
    @param uri Where the model's blob is stored; covered by the signatures.
    @return The new import id (ids run 1..import_count).
    """
    net: RemoteNetwork = self.networks[network_id]
    assert net.registered, "unknown network"
    assert self.imported_round[network_id][round] == 0, "round already imported"
    digest: bytes32 = signatures.checkpoint_digest(
        net.domain_separator, network_id, round, model_root, parent_root, uri
    )
    signer_stake: uint256 = self._signer_stake(network_id, net, digest, sigs)
    import_id: uint256 = self.import_count + 1
    self.import_count = import_id
    self.imported_round[network_id][round] = import_id
    self.imports[import_id] = ImportRecord(
        network_id=network_id, round=round, model_root=model_root, parent_root=parent_root,
        uri=uri, signer_stake=signer_stake, total_stake=net.total_stake, block_number=block.number
    )
    log CheckpointImported(
        import_id=import_id, network_id=network_id, round=round, model_root=model_root,
        parent_root=parent_root, uri=uri, signer_stake=signer_stake
    )
    return import_id


@view
@external
def import_record(import_id: uint256) -> ImportRecord:
    """
    @notice The record of an import.
    @param import_id The import id, 1..import_count.
    @return The import: network, round, roots, uri, signer and total stake, block number.
    """
    assert import_id >= 1 and import_id <= self.import_count, "unknown import"
    return self.imports[import_id]


@view
@external
def imported_model(import_id: uint256) -> (bytes32, String[MAX_URI]):
    """
    @notice (model_root, uri) of an import; used by the ledger's submit_import.
    @param import_id The import id, 1..import_count.
    @return model_root The imported model root.
    @return uri Where its blob is stored.
    """
    assert import_id >= 1 and import_id <= self.import_count, "unknown import"
    return self.imports[import_id].model_root, self.imports[import_id].uri


@view
@external
def member_stake_of(network_id: bytes32, validator: address) -> uint256:
    """
    @notice Stake of `validator` in the network's current set (0 = not a member).
    @param network_id The remote network.
    @param validator The address to look up.
    @return The validator's stake in the current set.
    """
    return self.member_stake[network_id][self.networks[network_id].epoch][validator]


@view
@external
def domain_separator_of(network_id: bytes32) -> bytes32:
    """
    @notice The EIP-712 domain separator of a remote network's ledger.
    @param network_id The remote network.
    @return The separator (empty for an unknown network).
    """
    return self.networks[network_id].domain_separator


@view
@external
def checkpoint_digest(
    network_id: bytes32, round: uint256, model_root: bytes32, parent_root: bytes32, uri: String[MAX_URI]
) -> bytes32:
    """
    @notice The digest a remote network's validators sign for a checkpoint.
    @param network_id The remote network.
    @param round The remote round.
    @param model_root The checkpoint's model root.
    @param parent_root The remote global root it follows.
    @param uri Where the checkpoint's model blob is stored.
    @return The digest of Checkpoint(network_id, round, model_root, parent_root, uri) in its domain.
    """
    return signatures.checkpoint_digest(
        self.networks[network_id].domain_separator, network_id, round, model_root, parent_root, uri
    )
