# pragma version ~=0.4.3
# @license MIT
"""
@title FederatedLedger
@notice One network's federated-learning ledger (SABFL rounds on proof of stake).
@dev Phase machine of a round (uint8 phase):
       IDLE(0) --open_round--> TRAIN(1)
       TRAIN --last worker submits | advance() after deadline--> EVALUATE(2)
             (advance() with 0 candidates: round fails -> IDLE)
       EVALUATE --all k validators reported | advance() after deadline--> AGGREGATE(3)
             (advance() with 0 reports: round fails -> IDLE)
       AGGREGATE --propose by the current miner--> ATTEST(4)
             (advance() after deadline: miner slashed, next backup miner, AGGREGATE again)
       ATTEST --attesting stake >= 2/3--> FINAL(5)
             (rejecting stake > 1/3, or advance() after deadline: miner slashed,
              next backup miner, AGGREGATE again; no backup left: round fails -> IDLE)
       FINAL --settle(round, weights)--> IDLE
     A failed round goes straight to IDLE (its slashing happens on the way).
     Bounds: MAX_PARTICIPANTS 1100 registered participants, MAX_CANDIDATES 1100
     candidates per round, MAX_VALIDATORS 32 validators and MAX_MINERS 8 miners
     per committee, MAX_URI 256 characters.
     Participants and money (register, stakes, reward pool, withdraw, slashing,
     crediting) live in the `staking` module, initialized and exported here;
     it keeps self.balance == total_stake + total_claimable + reward_pool.
"""

import signatures
import staking

initializes: staking
exports: staking.__interface__

interface IModelBridge:
    def imported_model(import_id: uint256) -> (bytes32, String[256]): view

MAX_PARTICIPANTS: constant(uint256) = staking.MAX_PARTICIPANTS
MAX_CANDIDATES: constant(uint256) = 1100
# A validator's report: scores_per_candidate (1 or 2) numbers per candidate.
MAX_SCORES_PER_CANDIDATE: constant(uint256) = 2
MAX_REPORT: constant(uint256) = MAX_SCORES_PER_CANDIDATE * MAX_CANDIDATES
MAX_VALIDATORS: constant(uint256) = 32
MAX_MINERS: constant(uint256) = 8
MAX_COMMITTEE: constant(uint256) = MAX_VALIDATORS + MAX_MINERS
MAX_URI: constant(uint256) = 256
MAX_REASON: constant(uint256) = 64
ADDRESS_BITS: constant(uint256) = 2**160
MAX_IMPORT_ID: constant(uint256) = 2**96 - 1

LOSS_SCALE: public(constant(int256)) = 10**9
# Loss reported for a non-finite (NaN/Inf) evaluation.
LOSS_NONFINITE: public(constant(int256)) = max_value(int256)
WEIGHT_SCALE: public(constant(uint256)) = 10**18

PHASE_IDLE: constant(uint8) = 0
PHASE_TRAIN: constant(uint8) = 1
PHASE_EVALUATE: constant(uint8) = 2
PHASE_AGGREGATE: constant(uint8) = 3
PHASE_ATTEST: constant(uint8) = 4
PHASE_FINAL: constant(uint8) = 5

VOTE_ATTEST: constant(uint8) = 1
VOTE_REJECT: constant(uint8) = 2

# Storage keeps what settle() needs; the blob digest and uri live in the
# UpdateSubmitted / ImportCandidate events. No candidate carries a fingerprint:
# every one must have the global model's architecture (global_fingerprint),
# which validators check when they open its blob. A candidate is stored in two
# words: its root, and import_id << 160 | owner (one storage read per candidate
# in settle).
struct Candidate:
    owner: address
    root: bytes32
    import_id: uint256  # 0 = a worker update, else the bridge import it came from

struct Proposal:
    miner: address
    model_root: bytes32
    uri: String[MAX_URI]
    weights_hash: bytes32

struct Checkpoint:
    model_root: bytes32
    parent_root: bytes32
    weights_hash: bytes32
    miner: address
    uri: String[MAX_URI]
    finalized: bool

event BridgeSet:
    bridge: address

event RoundOpened:
    round: indexed(uint256)
    seed: bytes32
    validators: DynArray[address, MAX_VALIDATORS]
    validator_stakes: DynArray[uint256, MAX_VALIDATORS]
    miners: DynArray[address, MAX_MINERS]
    deadline: uint256

event PhaseChanged:
    round: indexed(uint256)
    phase: uint8
    deadline: uint256

event UpdateSubmitted:
    round: indexed(uint256)
    worker: indexed(address)
    index: uint256
    params_root: bytes32
    blob: bytes32  # SHA-256 of the update's blob: it is stored at the uri "sha256:<hex>"

event ImportCandidate:
    round: indexed(uint256)
    import_id: indexed(uint256)
    index: uint256
    model_root: bytes32
    uri: String[MAX_URI]

event LossesReported:
    round: indexed(uint256)
    validator: indexed(address)
    losses: DynArray[int256, MAX_REPORT]
    losses_hash: bytes32

event Proposed:
    round: indexed(uint256)
    miner: indexed(address)
    attempt: uint256
    model_root: bytes32
    uri: String[MAX_URI]
    weights_hash: bytes32

event Attested:
    round: indexed(uint256)
    validator: indexed(address)
    attempt: uint256
    signature: Bytes[65]
    stake: uint256

event Rejected:
    round: indexed(uint256)
    validator: indexed(address)
    attempt: uint256
    stake: uint256

event MinerSlashed:
    round: indexed(uint256)
    miner: indexed(address)
    attempt: uint256
    amount: uint256
    reason: String[MAX_REASON]

event RoundFinalized:
    round: indexed(uint256)
    model_root: bytes32
    parent_root: bytes32
    weights_hash: bytes32
    miner: address
    uri: String[MAX_URI]

event RoundFailed:
    round: indexed(uint256)
    reason: String[MAX_REASON]

event Settled:
    round: indexed(uint256)
    paid: uint256
    pool: uint256

event CheckpointSigned:
    round: indexed(uint256)
    signer: indexed(address)
    signature: Bytes[65]

# --- configuration -----------------------------------------------------------
network_id: public(bytes32)
owner: public(address)
bridge: public(address)
k_validators: public(uint256)
n_miners: public(uint256)
scores_per_candidate: public(uint256)
train_blocks: public(uint256)
evaluate_blocks: public(uint256)
aggregate_blocks: public(uint256)
attest_blocks: public(uint256)
reward_per_round: public(uint256)
validator_reward: public(uint256)

# --- global model ------------------------------------------------------------
global_root: public(bytes32)
global_fingerprint: public(bytes32)
global_uri: public(String[MAX_URI])
global_round: public(uint256)  # round that finalized it; 0 = genesis

# --- current round -----------------------------------------------------------
current_round: public(uint256)  # 0 before the first open_round
phase: public(uint8)
deadline: public(uint256)  # last block at which the current phase accepts calls
last_seed: public(bytes32)

# --- per-round records (kept for history) -----------------------------------
round_seed: public(HashMap[uint256, bytes32])
reached_evaluate: HashMap[uint256, bool]
validators_of: HashMap[uint256, DynArray[address, MAX_VALIDATORS]]
validator_stakes_of: HashMap[uint256, DynArray[uint256, MAX_VALIDATORS]]
miners_of: HashMap[uint256, DynArray[address, MAX_MINERS]]
validator_stake: public(HashMap[uint256, HashMap[address, uint256]])  # 0 = not a validator
committee_stake: public(HashMap[uint256, uint256])
miner_index: public(HashMap[uint256, uint256])  # also the proposal attempt number

candidate_count: public(HashMap[uint256, uint256])
candidate_word: HashMap[uint256, HashMap[uint256, uint256]]  # import_id << 160 | owner
candidate_root: HashMap[uint256, HashMap[uint256, bytes32]]
submitted: public(HashMap[uint256, HashMap[address, bool]])
worker_submissions: public(HashMap[uint256, uint256])
import_used: public(HashMap[uint256, bool])

report_hash: public(HashMap[uint256, HashMap[address, bytes32]])
report_count: public(HashMap[uint256, uint256])

proposals: HashMap[uint256, HashMap[uint256, Proposal]]  # round -> attempt -> proposal
votes: HashMap[uint256, HashMap[uint256, HashMap[address, uint8]]]
attest_stake: HashMap[uint256, HashMap[uint256, uint256]]
reject_stake: HashMap[uint256, HashMap[uint256, uint256]]
attest_signers: HashMap[uint256, HashMap[uint256, DynArray[address, MAX_VALIDATORS]]]
attest_sigs: HashMap[uint256, HashMap[uint256, DynArray[Bytes[65], MAX_VALIDATORS]]]

checkpoints: HashMap[uint256, Checkpoint]
checkpoint_signers: HashMap[uint256, DynArray[address, MAX_PARTICIPANTS]]
checkpoint_sigs: HashMap[uint256, DynArray[Bytes[65], MAX_PARTICIPANTS]]
checkpoint_signed: public(HashMap[uint256, HashMap[address, bool]])


@deploy
def __init__(
    network_id: bytes32,
    k_validators: uint256,
    n_miners: uint256,
    scores_per_candidate: uint256,
    phase_blocks: uint256[4],
    min_stake: uint256,
    slash_bps: uint256,
    reward_per_round: uint256,
    validator_reward: uint256,
    genesis_root: bytes32,
    genesis_fingerprint: bytes32,
    genesis_uri: String[MAX_URI],
    owner: address,
    bridge: address,
):
    """
    @param network_id This network's id: the EIP-712 domain salt and the checkpoint's networkId.
    @param k_validators Validators per round committee, 1..MAX_VALIDATORS.
    @param n_miners Ordered miners (the first proposes, the others back up) per round, 1..MAX_MINERS.
    @param scores_per_candidate Numbers per candidate in a validator's report: 1 (a loss, the paper's softmax
           and the baselines) or 2 (robust_softmax: a contribution and a cosine).
    @param phase_blocks Deadlines in blocks for TRAIN, EVALUATE, AGGREGATE, ATTEST, each >= 1.
    @param min_stake Least stake (wei) that makes a participant committee-eligible; positive.
    @param slash_bps Share of its stake a slashed account loses, in basis points (<= 10000).
    @param reward_per_round Wei shared by a settled round's workers, in proportion to their weights.
    @param validator_reward Wei paid to each validator that reported losses in a settled round.
    @param genesis_root Params root of the initial global model.
    @param genesis_fingerprint Architecture fingerprint every candidate must match (validators check it off chain).
    @param genesis_uri Where the initial global model's blob is stored.
    @param owner The account allowed to set the bridge (once).
    @param bridge This network's ModelBridge, or empty(address) to set it later.
    """
    assert k_validators >= 1 and k_validators <= MAX_VALIDATORS, "k_validators out of range 1..32"
    assert n_miners >= 1 and n_miners <= MAX_MINERS, "n_miners out of range 1..8"
    assert scores_per_candidate >= 1 and scores_per_candidate <= MAX_SCORES_PER_CANDIDATE, "scores_per_candidate out of range 1..2"
    staking.__init__(min_stake, slash_bps)
    for blocks: uint256 in phase_blocks:
        assert blocks >= 1, "phase deadlines must be at least one block"
    self.network_id = network_id
    self.k_validators = k_validators
    self.n_miners = n_miners
    self.scores_per_candidate = scores_per_candidate
    self.train_blocks = phase_blocks[0]
    self.evaluate_blocks = phase_blocks[1]
    self.aggregate_blocks = phase_blocks[2]
    self.attest_blocks = phase_blocks[3]
    self.reward_per_round = reward_per_round
    self.validator_reward = validator_reward
    self.global_root = genesis_root
    self.global_fingerprint = genesis_fingerprint
    self.global_uri = genesis_uri
    self.owner = owner
    self.bridge = bridge


# =============================================================================
# configuration (participants and money: the staking module)
# =============================================================================

@external
def set_bridge(bridge: address):
    """
    @notice Set this network's ModelBridge; only the owner, only once.
    @param bridge The ModelBridge whose imports may become candidates.
    """
    assert msg.sender == self.owner, "only the owner can set the bridge"
    assert self.bridge == empty(address), "bridge already set"
    assert bridge != empty(address), "empty bridge address"
    self.bridge = bridge
    log BridgeSet(bridge=bridge)


# =============================================================================
# committee sampling
# =============================================================================

@view
@internal
def _sample(seed: bytes32) -> (
    DynArray[address, MAX_VALIDATORS], DynArray[uint256, MAX_VALIDATORS], DynArray[address, MAX_MINERS]
):
    """
    @dev Stake-weighted sampling without replacement: draw j picks eligible
         staker i with probability stake_i / (stake not yet drawn). The first
         k draws are the validators, the next n_miners the ordered miners.
    """
    min_stake: uint256 = staking.min_stake
    k: uint256 = self.k_validators
    need: uint256 = k + self.n_miners
    # One stake per participant, 0 for one below min_stake (never drawn); a drawn
    # participant's address is read again from storage (warm) when it is picked.
    # One memory array, not two: memory is allocated at the 1,100 bound.
    n: uint256 = len(staking.participants)
    stakes: DynArray[uint256, MAX_PARTICIPANTS] = []
    remaining: uint256 = 0
    count: uint256 = 0
    for i: uint256 in range(n, bound=MAX_PARTICIPANTS):
        s: uint256 = staking.account_word[staking.participants[i]] & staking.LOW_128
        if s >= min_stake:
            stakes.append(s)
            remaining = unsafe_add(remaining, s)  # bounded by the ether supply
            count = unsafe_add(count, 1)
        else:
            stakes.append(0)
    assert count >= need, "not enough eligible stakers for k validators + n miners"

    validators: DynArray[address, MAX_VALIDATORS] = []
    validator_stakes: DynArray[uint256, MAX_VALIDATORS] = []
    miners: DynArray[address, MAX_MINERS] = []
    for j: uint256 in range(need, bound=MAX_COMMITTEE):
        ticket: uint256 = convert(keccak256(abi_encode(seed, j)), uint256) % remaining
        for i: uint256 in range(n, bound=MAX_PARTICIPANTS):
            s: uint256 = stakes[i]
            if ticket < s:
                if j < k:
                    validators.append(staking.participants[i])
                    validator_stakes.append(s)
                else:
                    miners.append(staking.participants[i])
                remaining = unsafe_sub(remaining, s)
                stakes[i] = 0  # drawn: never again
                break
            ticket = unsafe_sub(ticket, s)  # ticket >= s here
    return validators, validator_stakes, miners


@view
@external
def sample_committee(seed: bytes32) -> (
    DynArray[address, MAX_VALIDATORS], DynArray[uint256, MAX_VALIDATORS], DynArray[address, MAX_MINERS]
):
    """
    @notice The committee open_round would draw from `seed` with the current stakes.
    @param seed The round seed to sample with.
    @return validators The k validators, in draw order.
    @return validator_stakes Each validator's stake at the draw.
    @return miners The n_miners miners, in the order they may propose.
    """
    return self._sample(seed)


@view
@external
def committee(round: uint256) -> (
    DynArray[address, MAX_VALIDATORS], DynArray[uint256, MAX_VALIDATORS], DynArray[address, MAX_MINERS]
):
    """
    @notice The committee a round drew when it opened.
    @param round The round number.
    @return validators The round's validators.
    @return validator_stakes Each validator's stake at the draw (its voting weight).
    @return miners The round's miners, in the order they may propose.
    """
    return self.validators_of[round], self.validator_stakes_of[round], self.miners_of[round]


@view
@external
def current_miner() -> address:
    """
    @notice The miner whose turn it is to propose in the current round.
    @return The miner, or empty(address) when every miner has failed.
    """
    r: uint256 = self.current_round
    i: uint256 = self.miner_index[r]
    if i >= len(self.miners_of[r]):
        return empty(address)
    return self.miners_of[r][i]


@external
def open_round() -> uint256:
    """
    @notice Open the next round: draw the seed, sample the committee, enter TRAIN.
    @return The number of the round opened.
    """
    assert self.phase == PHASE_IDLE, "previous round is not settled or failed yet"
    r: uint256 = self.current_round + 1
    seed: bytes32 = keccak256(
        concat(block.prevrandao, blockhash(block.number - 1), self.last_seed, convert(r, bytes32))
    )
    validators: DynArray[address, MAX_VALIDATORS] = []
    validator_stakes: DynArray[uint256, MAX_VALIDATORS] = []
    miners: DynArray[address, MAX_MINERS] = []
    validators, validator_stakes, miners = self._sample(seed)

    total: uint256 = 0
    for i: uint256 in range(len(validators), bound=MAX_VALIDATORS):
        self.validator_stake[r][validators[i]] = validator_stakes[i]
        total += validator_stakes[i]
    self.validators_of[r] = validators
    self.validator_stakes_of[r] = validator_stakes
    self.miners_of[r] = miners
    self.committee_stake[r] = total
    self.current_round = r
    self.last_seed = seed
    self.round_seed[r] = seed
    self.phase = PHASE_TRAIN
    self.deadline = block.number + self.train_blocks
    log RoundOpened(
        round=r, seed=seed, validators=validators, validator_stakes=validator_stakes,
        miners=miners, deadline=self.deadline
    )
    return r


# =============================================================================
# TRAIN
# =============================================================================

@internal
def _require_phase(round: uint256, phase: uint8, message: String[MAX_REASON]):
    assert round == self.current_round, "round mismatch"
    assert self.phase == phase, message
    assert block.number <= self.deadline, "phase deadline passed: call advance()"


@internal
def _add_candidate(round: uint256, owner: address, root: bytes32, import_id: uint256) -> uint256:
    index: uint256 = self.candidate_count[round]
    assert index < MAX_CANDIDATES, "candidate limit reached"
    self.candidate_word[round][index] = import_id * ADDRESS_BITS + convert(owner, uint256)
    self.candidate_root[round][index] = root
    self.candidate_count[round] = index + 1
    return index


@external
def submit_update(round: uint256, params_root: bytes32, blob: bytes32):
    """
    @notice A worker's update; once per worker per round.
    @dev It must have the global model's architecture (global_fingerprint). That is
         not checked here (a fingerprint argument would be only a claim about the
         blob): validators check the blob's architecture when they open it, and an
         update of another architecture gets weight 0.
    @param round The current round.
    @param params_root Root of the update's parameters.
    @param blob SHA-256 digest of the update's blob, which the store keeps under the
        uri "sha256:<hex digest>" (logged, not stored: 32 bytes, not the 71 of the uri).
    """
    self._require_phase(round, PHASE_TRAIN, "not in TRAIN phase")
    assert staking._is_worker(msg.sender), "not a registered worker"
    assert not self.submitted[round][msg.sender], "already submitted this round"
    self.submitted[round][msg.sender] = True
    index: uint256 = self._add_candidate(round, msg.sender, params_root, 0)
    log UpdateSubmitted(
        round=round, worker=msg.sender, index=index, params_root=params_root, blob=blob
    )
    self.worker_submissions[round] += 1
    if self.worker_submissions[round] >= staking.worker_count:
        self._enter_evaluate(round)  # every worker is in: no need to wait


@external
def submit_import(round: uint256, import_id: uint256):
    """
    @notice Add a checkpoint imported by this network's bridge as one more candidate.
    @dev Its architecture is not known on chain (checkpoints carry roots only);
         validators check the fingerprint when they open the blob.
    @param round The current round.
    @param import_id The bridge's import id; each import is a candidate at most once.
    """
    self._require_phase(round, PHASE_TRAIN, "not in TRAIN phase")
    assert self.bridge != empty(address), "no bridge configured"
    assert not self.import_used[import_id], "import already used as a candidate"
    assert import_id <= MAX_IMPORT_ID, "import id above 2**96"
    root: bytes32 = empty(bytes32)
    uri: String[MAX_URI] = ""
    root, uri = staticcall IModelBridge(self.bridge).imported_model(import_id)
    self.import_used[import_id] = True
    index: uint256 = self._add_candidate(round, self.bridge, root, import_id)
    log ImportCandidate(round=round, import_id=import_id, index=index, model_root=root, uri=uri)


@view
@external
def candidate(round: uint256, index: uint256) -> Candidate:
    """
    @notice A round's candidate.
    @param round The round number.
    @param index The candidate's index, 0..candidate_count - 1.
    @return The candidate: owner (worker or bridge), params root and import id (0 = worker update).
    """
    assert index < self.candidate_count[round], "no such candidate"
    word: uint256 = self.candidate_word[round][index]
    return Candidate(
        owner=convert(convert(word % ADDRESS_BITS, uint160), address),
        root=self.candidate_root[round][index],
        import_id=word // ADDRESS_BITS,
    )


# =============================================================================
# phase transitions
# =============================================================================

@internal
def _enter(round: uint256, phase: uint8, blocks: uint256):
    self.phase = phase
    self.deadline = block.number + blocks
    log PhaseChanged(round=round, phase=phase, deadline=self.deadline)


@internal
def _enter_evaluate(round: uint256):
    self.reached_evaluate[round] = True
    self._enter(round, PHASE_EVALUATE, self.evaluate_blocks)


@internal
def _slash_absent_validators(round: uint256):
    for v: address in self.validators_of[round]:
        if self.report_hash[round][v] == empty(bytes32):
            staking._slash(round, v, "validator did not report losses")


@internal
def _fail_round(round: uint256, reason: String[MAX_REASON]):
    """@dev The global model stays as it is; the next round can open."""
    if self.reached_evaluate[round]:
        self._slash_absent_validators(round)
    self.phase = PHASE_IDLE
    self.deadline = block.number
    log RoundFailed(round=round, reason=reason)
    log PhaseChanged(round=round, phase=PHASE_IDLE, deadline=block.number)


@internal
def _fail_proposal(round: uint256, reason: String[MAX_REASON]):
    """@dev Slash the current miner and hand over to the next backup miner."""
    attempt: uint256 = self.miner_index[round]
    miner: address = self.miners_of[round][attempt]
    amount: uint256 = staking._slash(round, miner, reason)
    log MinerSlashed(round=round, miner=miner, attempt=attempt, amount=amount, reason=reason)
    self.miner_index[round] = attempt + 1
    if attempt + 1 >= len(self.miners_of[round]):
        self._fail_round(round, "no miner produced an accepted proposal")
    else:
        self._enter(round, PHASE_AGGREGATE, self.aggregate_blocks)


@external
def advance():
    """@notice Move a phase whose deadline has passed; anyone may call."""
    phase: uint8 = self.phase
    assert phase != PHASE_IDLE, "no round in progress"
    assert phase != PHASE_FINAL, "round is final: call settle"
    assert block.number > self.deadline, "deadline not reached"
    r: uint256 = self.current_round
    if phase == PHASE_TRAIN:
        if self.candidate_count[r] == 0:
            self._fail_round(r, "no candidates before the TRAIN deadline")
        else:
            self._enter_evaluate(r)
    elif phase == PHASE_EVALUATE:
        if self.report_count[r] == 0:
            self._fail_round(r, "no loss reports before the EVALUATE deadline")
        else:
            self._enter(r, PHASE_AGGREGATE, self.aggregate_blocks)
    elif phase == PHASE_AGGREGATE:
        self._fail_proposal(r, "no proposal before the AGGREGATE deadline")
    else:
        self._fail_proposal(r, "proposal not attested before the deadline")


# =============================================================================
# EVALUATE
# =============================================================================

@external
def report_losses(round: uint256, losses: DynArray[int256, MAX_REPORT]):
    """
    @notice A validator's scores of the candidates, fixed point LOSS_SCALE (LOSS_NONFINITE for NaN/Inf).
    @param round The current round.
    @param losses scores_per_candidate blocks of one number per candidate, in candidate order
           (a loss each; robust_softmax: the contributions, then the cosines).
    """
    self._require_phase(round, PHASE_EVALUATE, "not in EVALUATE phase")
    assert self.validator_stake[round][msg.sender] > 0, "not a committee validator"
    assert self.report_hash[round][msg.sender] == empty(bytes32), "already reported this round"
    assert len(losses) == self.candidate_count[round] * self.scores_per_candidate, "report length is not scores_per_candidate x the candidate count"
    digest: bytes32 = keccak256(abi_encode(losses))
    self.report_hash[round][msg.sender] = digest
    self.report_count[round] += 1
    log LossesReported(round=round, validator=msg.sender, losses=losses, losses_hash=digest)
    if self.report_count[round] == len(self.validators_of[round]):
        self._enter(round, PHASE_AGGREGATE, self.aggregate_blocks)


# =============================================================================
# AGGREGATE and ATTEST
# =============================================================================

@external
def propose(round: uint256, model_root: bytes32, uri: String[MAX_URI], weights_hash: bytes32):
    """
    @notice The current miner proposes the aggregate; weights_hash = keccak256(abi_encode(weights)).
    @param round The current round.
    @param model_root Root of the aggregated model's parameters; not empty.
    @param uri Where the aggregated model's blob is stored.
    @param weights_hash keccak256(abi_encode(weights)) of the weights settle will pay.
    """
    self._require_phase(round, PHASE_AGGREGATE, "not in AGGREGATE phase")
    attempt: uint256 = self.miner_index[round]
    assert msg.sender == self.miners_of[round][attempt], "not the current miner"
    assert model_root != empty(bytes32), "empty model root"
    self.proposals[round][attempt] = Proposal(
        miner=msg.sender, model_root=model_root, uri=uri, weights_hash=weights_hash
    )
    log Proposed(
        round=round, miner=msg.sender, attempt=attempt, model_root=model_root, uri=uri,
        weights_hash=weights_hash
    )
    self._enter(round, PHASE_ATTEST, self.attest_blocks)


@view
@external
def proposal(round: uint256) -> (uint256, Proposal):
    """
    @notice The proposal of the round's current or final attempt.
    @param round The round number.
    @return attempt The attempt (index of the miner) the proposal belongs to.
    @return proposal The proposal (empty when that miner has not proposed).
    """
    attempt: uint256 = self.miner_index[round]
    return attempt, self.proposals[round][attempt]


@view
@internal
def _domain() -> bytes32:
    return signatures.domain_separator(chain.id, self, self.network_id)


@view
@external
def domain_separator() -> bytes32:
    """
    @notice This ledger's EIP-712 domain separator.
    @return The separator (name "poft", version "1", chain id, this contract, salt network_id).
    """
    return self._domain()


@view
@external
def checkpoint_digest(round: uint256, model_root: bytes32, parent_root: bytes32, uri: String[MAX_URI]) -> bytes32:
    """
    @notice The EIP-712 digest validators and stakers sign.
    @param round The round number.
    @param model_root The checkpoint's model root.
    @param parent_root The global root the checkpoint follows.
    @param uri Where the checkpoint's model blob is stored (signed, so no relayer can change it).
    @return The digest of Checkpoint(network_id, round, model_root, parent_root, uri) in this domain.
    """
    return signatures.checkpoint_digest(self._domain(), self.network_id, round, model_root, parent_root, uri)


@internal
def _vote(round: uint256, kind: uint8) -> (uint256, uint256):
    """@dev Shared checks of attest/reject; returns (attempt, voter's committee stake)."""
    self._require_phase(round, PHASE_ATTEST, "not in ATTEST phase")
    stake: uint256 = self.validator_stake[round][msg.sender]
    assert stake > 0, "not a committee validator"
    attempt: uint256 = self.miner_index[round]
    assert self.votes[round][attempt][msg.sender] == 0, "already voted on this proposal"
    self.votes[round][attempt][msg.sender] = kind
    return attempt, stake


@external
def attest(round: uint256, signature: Bytes[65]):
    """
    @notice Attest with an EIP-712 Checkpoint signature over (proposed root, current global root, proposed uri).
    @param round The current round.
    @param signature The caller's 65-byte r || s || v signature of checkpoint_digest.
    """
    attempt: uint256 = 0
    stake: uint256 = 0
    attempt, stake = self._vote(round, VOTE_ATTEST)
    digest: bytes32 = signatures.checkpoint_digest(
        self._domain(), self.network_id, round, self.proposals[round][attempt].model_root, self.global_root,
        self.proposals[round][attempt].uri
    )
    assert signatures.recover(digest, signature) == msg.sender, "signature is not the sender's over this checkpoint"
    self.attest_signers[round][attempt].append(msg.sender)
    self.attest_sigs[round][attempt].append(signature)
    total: uint256 = self.attest_stake[round][attempt] + stake
    self.attest_stake[round][attempt] = total
    log Attested(round=round, validator=msg.sender, attempt=attempt, signature=signature, stake=stake)
    if 3 * total >= 2 * self.committee_stake[round]:
        self._finalize(round, attempt)


@external
def reject(round: uint256):
    """
    @notice Vote against the current proposal with the caller's committee stake.
    @param round The current round.
    """
    attempt: uint256 = 0
    stake: uint256 = 0
    attempt, stake = self._vote(round, VOTE_REJECT)
    total: uint256 = self.reject_stake[round][attempt] + stake
    self.reject_stake[round][attempt] = total
    log Rejected(round=round, validator=msg.sender, attempt=attempt, stake=stake)
    if 3 * total > self.committee_stake[round]:
        self._fail_proposal(round, "proposal rejected by more than 1/3 of stake")


@internal
def _finalize(round: uint256, attempt: uint256):
    p: Proposal = self.proposals[round][attempt]
    parent: bytes32 = self.global_root
    self.checkpoints[round] = Checkpoint(
        model_root=p.model_root, parent_root=parent, weights_hash=p.weights_hash, miner=p.miner,
        uri=p.uri, finalized=True
    )
    self.global_root = p.model_root
    self.global_uri = p.uri
    self.global_round = round
    self.phase = PHASE_FINAL
    log RoundFinalized(
        round=round, model_root=p.model_root, parent_root=parent, weights_hash=p.weights_hash,
        miner=p.miner, uri=p.uri
    )
    log PhaseChanged(round=round, phase=PHASE_FINAL, deadline=self.deadline)


@view
@external
def votes_of(round: uint256) -> (uint256, uint256, uint256):
    """
    @notice The votes on the round's current or final attempt.
    @param round The round number.
    @return attempt The attempt the votes belong to.
    @return attest_stake Committee stake that attested it.
    @return reject_stake Committee stake that rejected it.
    """
    attempt: uint256 = self.miner_index[round]
    return attempt, self.attest_stake[round][attempt], self.reject_stake[round][attempt]


@view
@external
def attestations(round: uint256) -> (DynArray[address, MAX_VALIDATORS], DynArray[Bytes[65], MAX_VALIDATORS]):
    """
    @notice Signers and signatures attesting the current/final attempt.
    @param round The round number.
    @return signers The attesting validators, in attestation order.
    @return signatures Their Checkpoint signatures, in the same order.
    """
    attempt: uint256 = self.miner_index[round]
    return self.attest_signers[round][attempt], self.attest_sigs[round][attempt]


# =============================================================================
# SETTLE
# =============================================================================

@external
def settle(round: uint256, weights: DynArray[uint256, MAX_CANDIDATES]):
    """
    @notice Pay the final round: worker i gets reward_per_round * w_i / WEIGHT_SCALE,
            each reporting validator validator_reward; absent validators are slashed.
            Paid only from the reward pool (pro rata when it is short).
    @dev One storage read per candidate and one write per paid account (its stake
         and claimable share a word); `weights` is read in place, never copied into
         an internal call. An import's share stays in the pool.
    @param round The current round, in FINAL.
    @param weights One weight per candidate (fixed point WEIGHT_SCALE, summing to at most
           WEIGHT_SCALE) whose hash is the proposal's weights_hash.
    """
    assert round == self.current_round, "round mismatch"
    assert self.phase == PHASE_FINAL, "not in FINAL phase"
    n: uint256 = self.candidate_count[round]
    assert len(weights) == n, "weights length does not match the candidate count"
    assert keccak256(abi_encode(weights)) == self.checkpoints[round].weights_hash, "weights do not match the proposal's weights_hash"
    reward: uint256 = self.reward_per_round
    weight_sum: uint256 = 0
    due: uint256 = 0
    for i: uint256 in range(n, bound=MAX_CANDIDATES):
        w: uint256 = weights[i]
        weight_sum += w
        if self.candidate_word[round][i] < ADDRESS_BITS:  # import_id 0: a worker's update
            due += reward * w // WEIGHT_SCALE
    assert weight_sum <= WEIGHT_SCALE, "weights sum above WEIGHT_SCALE"

    self._slash_absent_validators(round)

    validator_reward: uint256 = self.validator_reward
    for v: address in self.validators_of[round]:
        if self.report_hash[round][v] != empty(bytes32):
            due += validator_reward
    pool: uint256 = staking.reward_pool

    paid: uint256 = 0
    for i: uint256 in range(n, bound=MAX_CANDIDATES):
        word: uint256 = self.candidate_word[round][i]
        if word < ADDRESS_BITS:
            paid += staking._credit(
                round, convert(convert(word, uint160), address), reward * weights[i] // WEIGHT_SCALE,
                pool, due
            )
    for v: address in self.validators_of[round]:
        if self.report_hash[round][v] != empty(bytes32):
            paid += staking._credit(round, v, validator_reward, pool, due)
    left: uint256 = staking._book_rewards(paid)
    self.phase = PHASE_IDLE
    log Settled(round=round, paid=paid, pool=left)
    log PhaseChanged(round=round, phase=PHASE_IDLE, deadline=self.deadline)


# =============================================================================
# checkpoints for export
# =============================================================================

@view
@external
def checkpoint(round: uint256) -> Checkpoint:
    """
    @notice A round's checkpoint.
    @param round The round number.
    @return The checkpoint (finalized is False for a round that did not finalize).
    """
    return self.checkpoints[round]


@external
def sign_checkpoint(round: uint256, signature: Bytes[65]):
    """
    @notice A staker's EIP-712 Checkpoint signature of a final round, for other networks' bridges.
    @param round A finalized round.
    @param signature The caller's 65-byte signature of checkpoint_digest(round, model root, parent root).
    """
    cp: Checkpoint = self.checkpoints[round]
    assert cp.finalized, "round is not final"
    assert staking._stake(msg.sender) > 0, "not a staker"
    assert not self.checkpoint_signed[round][msg.sender], "already signed this checkpoint"
    digest: bytes32 = signatures.checkpoint_digest(
        self._domain(), self.network_id, round, cp.model_root, cp.parent_root, cp.uri
    )
    assert signatures.recover(digest, signature) == msg.sender, "signature is not the sender's over this checkpoint"
    self.checkpoint_signed[round][msg.sender] = True
    self.checkpoint_signers[round].append(msg.sender)
    self.checkpoint_sigs[round].append(signature)
    log CheckpointSigned(round=round, signer=msg.sender, signature=signature)


@view
@external
def checkpoint_signatures(round: uint256) -> (DynArray[address, MAX_PARTICIPANTS], DynArray[Bytes[65], MAX_PARTICIPANTS]):
    """
    @notice The stakers' signatures published for a round's checkpoint with sign_checkpoint.
    @param round The round number.
    @return signers The signing stakers, in signing order.
    @return signatures Their Checkpoint signatures, in the same order.
    """
    return self.checkpoint_signers[round], self.checkpoint_sigs[round]


@view
@external
def global_model() -> (bytes32, bytes32, String[MAX_URI], uint256):
    """
    @notice The current global model.
    @return root Its params root.
    @return fingerprint Its architecture fingerprint.
    @return uri Where its blob is stored.
    @return round The round that finalized it (0 = genesis).
    """
    return self.global_root, self.global_fingerprint, self.global_uri, self.global_round
