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
     Value conservation: self.balance == total_stake + total_claimable + reward_pool.
"""

import signatures

interface IModelBridge:
    def imported_model(import_id: uint256) -> (bytes32, String[256]): view

MAX_PARTICIPANTS: constant(uint256) = 1100
MAX_CANDIDATES: constant(uint256) = 1100
MAX_VALIDATORS: constant(uint256) = 32
MAX_MINERS: constant(uint256) = 8
MAX_COMMITTEE: constant(uint256) = MAX_VALIDATORS + MAX_MINERS
MAX_URI: constant(uint256) = 256
MAX_REASON: constant(uint256) = 64

LOSS_SCALE: public(constant(int256)) = 10**9
# Loss reported for a non-finite (NaN/Inf) evaluation.
LOSS_NONFINITE: public(constant(int256)) = max_value(int256)
WEIGHT_SCALE: public(constant(uint256)) = 10**18
BPS: constant(uint256) = 10000

PHASE_IDLE: constant(uint8) = 0
PHASE_TRAIN: constant(uint8) = 1
PHASE_EVALUATE: constant(uint8) = 2
PHASE_AGGREGATE: constant(uint8) = 3
PHASE_ATTEST: constant(uint8) = 4
PHASE_FINAL: constant(uint8) = 5

VOTE_ATTEST: constant(uint8) = 1
VOTE_REJECT: constant(uint8) = 2

# Storage keeps what settle() needs; fingerprint and uri live in the
# UpdateSubmitted / ImportCandidate events (the fingerprint always equals the
# global model's at submission).
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

event Registered:
    participant: indexed(address)
    stake: uint256
    is_worker: bool

event StakeAdded:
    participant: indexed(address)
    amount: uint256
    stake: uint256

event Funded:
    sender: indexed(address)
    amount: uint256
    pool: uint256

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
    fingerprint: bytes32
    uri: String[MAX_URI]

event ImportCandidate:
    round: indexed(uint256)
    import_id: indexed(uint256)
    index: uint256
    model_root: bytes32
    uri: String[MAX_URI]

event LossesReported:
    round: indexed(uint256)
    validator: indexed(address)
    losses: DynArray[int256, MAX_CANDIDATES]
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

event Rewarded:
    round: indexed(uint256)
    account: indexed(address)
    amount: uint256

event Slashed:
    round: indexed(uint256)
    account: indexed(address)
    amount: uint256
    reason: String[MAX_REASON]

event CheckpointSigned:
    round: indexed(uint256)
    signer: indexed(address)
    signature: Bytes[65]

event Withdrawn:
    account: indexed(address)
    amount: uint256

# --- configuration -----------------------------------------------------------
network_id: public(bytes32)
owner: public(address)
bridge: public(address)
k_validators: public(uint256)
n_miners: public(uint256)
train_blocks: public(uint256)
evaluate_blocks: public(uint256)
aggregate_blocks: public(uint256)
attest_blocks: public(uint256)
min_stake: public(uint256)
slash_bps: public(uint256)
reward_per_round: public(uint256)
validator_reward: public(uint256)

# --- participants and money --------------------------------------------------
stake_of: public(HashMap[address, uint256])
claimable: public(HashMap[address, uint256])
is_registered: public(HashMap[address, bool])
is_worker: public(HashMap[address, bool])
participants: public(DynArray[address, MAX_PARTICIPANTS])
worker_count: public(uint256)
total_stake: public(uint256)
total_claimable: public(uint256)
reward_pool: public(uint256)

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
candidates_of: HashMap[uint256, HashMap[uint256, Candidate]]
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
    @param phase_blocks Deadlines in blocks for TRAIN, EVALUATE, AGGREGATE, ATTEST.
    @param bridge This network's ModelBridge, or empty(address) to set it later.
    """
    assert k_validators >= 1 and k_validators <= MAX_VALIDATORS, "k_validators out of range 1..32"
    assert n_miners >= 1 and n_miners <= MAX_MINERS, "n_miners out of range 1..8"
    assert min_stake > 0, "min_stake must be positive"
    assert slash_bps <= BPS, "slash_bps above 10000"
    for blocks: uint256 in phase_blocks:
        assert blocks >= 1, "phase deadlines must be at least one block"
    self.network_id = network_id
    self.k_validators = k_validators
    self.n_miners = n_miners
    self.train_blocks = phase_blocks[0]
    self.evaluate_blocks = phase_blocks[1]
    self.aggregate_blocks = phase_blocks[2]
    self.attest_blocks = phase_blocks[3]
    self.min_stake = min_stake
    self.slash_bps = slash_bps
    self.reward_per_round = reward_per_round
    self.validator_reward = validator_reward
    self.global_root = genesis_root
    self.global_fingerprint = genesis_fingerprint
    self.global_uri = genesis_uri
    self.owner = owner
    self.bridge = bridge


# =============================================================================
# participants and money
# =============================================================================

@external
@payable
def register(is_worker: bool):
    """@notice Join with msg.value as stake; stake >= min_stake makes you committee-eligible."""
    assert not self.is_registered[msg.sender], "already registered"
    assert len(self.participants) < MAX_PARTICIPANTS, "participant limit reached"
    self.is_registered[msg.sender] = True
    self.is_worker[msg.sender] = is_worker
    self.participants.append(msg.sender)
    self.stake_of[msg.sender] = msg.value
    self.total_stake += msg.value
    if is_worker:
        self.worker_count += 1
    log Registered(participant=msg.sender, stake=msg.value, is_worker=is_worker)


@external
@payable
def add_stake():
    assert self.is_registered[msg.sender], "not registered"
    assert msg.value > 0, "no value sent"
    self.stake_of[msg.sender] += msg.value
    self.total_stake += msg.value
    log StakeAdded(participant=msg.sender, amount=msg.value, stake=self.stake_of[msg.sender])


@external
@payable
def fund():
    """@notice Add msg.value to the reward pool."""
    assert msg.value > 0, "no value sent"
    self.reward_pool += msg.value
    log Funded(sender=msg.sender, amount=msg.value, pool=self.reward_pool)


@external
@nonreentrant
def withdraw() -> uint256:
    """@notice Pay out the caller's claimable rewards."""
    amount: uint256 = self.claimable[msg.sender]
    assert amount > 0, "nothing to withdraw"
    self.claimable[msg.sender] = 0
    self.total_claimable -= amount
    raw_call(msg.sender, b"", value=amount)
    log Withdrawn(account=msg.sender, amount=amount)
    return amount


@external
def set_bridge(bridge: address):
    assert msg.sender == self.owner, "only the owner can set the bridge"
    assert self.bridge == empty(address), "bridge already set"
    assert bridge != empty(address), "empty bridge address"
    self.bridge = bridge
    log BridgeSet(bridge=bridge)


@view
@external
def accounted_balance() -> uint256:
    """@notice total_stake + total_claimable + reward_pool (== self.balance)."""
    return self.total_stake + self.total_claimable + self.reward_pool


@view
@external
def participant_count() -> uint256:
    return len(self.participants)


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
    min_stake: uint256 = self.min_stake
    k: uint256 = self.k_validators
    need: uint256 = k + self.n_miners
    eligible: DynArray[address, MAX_PARTICIPANTS] = []
    stakes: DynArray[uint256, MAX_PARTICIPANTS] = []
    remaining: uint256 = 0
    for i: uint256 in range(len(self.participants), bound=MAX_PARTICIPANTS):
        p: address = self.participants[i]
        s: uint256 = self.stake_of[p]
        if s >= min_stake:
            eligible.append(p)
            stakes.append(s)
            remaining = unsafe_add(remaining, s)  # bounded by the ether supply
    count: uint256 = len(eligible)
    assert count >= need, "not enough eligible stakers for k validators + n miners"

    validators: DynArray[address, MAX_VALIDATORS] = []
    validator_stakes: DynArray[uint256, MAX_VALIDATORS] = []
    miners: DynArray[address, MAX_MINERS] = []
    for j: uint256 in range(need, bound=MAX_COMMITTEE):
        ticket: uint256 = convert(keccak256(abi_encode(seed, j)), uint256) % remaining
        for i: uint256 in range(count, bound=MAX_PARTICIPANTS):
            s: uint256 = stakes[i]
            if ticket < s:
                if j < k:
                    validators.append(eligible[i])
                    validator_stakes.append(s)
                else:
                    miners.append(eligible[i])
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
    """@notice The committee open_round would draw from `seed` with the current stakes."""
    return self._sample(seed)


@view
@external
def committee(round: uint256) -> (
    DynArray[address, MAX_VALIDATORS], DynArray[uint256, MAX_VALIDATORS], DynArray[address, MAX_MINERS]
):
    return self.validators_of[round], self.validator_stakes_of[round], self.miners_of[round]


@view
@external
def current_miner() -> address:
    r: uint256 = self.current_round
    i: uint256 = self.miner_index[r]
    if i >= len(self.miners_of[r]):
        return empty(address)
    return self.miners_of[r][i]


@external
def open_round() -> uint256:
    """@notice Open the next round: draw the seed, sample the committee, enter TRAIN."""
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
def _add_candidate(round: uint256, candidate: Candidate) -> uint256:
    index: uint256 = self.candidate_count[round]
    assert index < MAX_CANDIDATES, "candidate limit reached"
    self.candidates_of[round][index] = candidate
    self.candidate_count[round] = index + 1
    return index


@external
def submit_update(round: uint256, params_root: bytes32, fingerprint: bytes32, uri: String[MAX_URI]):
    """@notice A worker's update; once per worker per round, same architecture as the global model."""
    self._require_phase(round, PHASE_TRAIN, "not in TRAIN phase")
    assert self.is_worker[msg.sender], "not a registered worker"
    assert not self.submitted[round][msg.sender], "already submitted this round"
    assert fingerprint == self.global_fingerprint, "fingerprint does not match the global model"
    self.submitted[round][msg.sender] = True
    index: uint256 = self._add_candidate(
        round, Candidate(owner=msg.sender, root=params_root, import_id=0)
    )
    log UpdateSubmitted(
        round=round, worker=msg.sender, index=index, params_root=params_root,
        fingerprint=fingerprint, uri=uri
    )
    self.worker_submissions[round] += 1
    if self.worker_submissions[round] >= self.worker_count:
        self._enter_evaluate(round)  # every worker is in: no need to wait


@external
def submit_import(round: uint256, import_id: uint256):
    """
    @notice Add a checkpoint imported by this network's bridge as one more candidate.
    @dev Its architecture is not known on chain (checkpoints carry roots only);
         validators check the fingerprint when they open the blob.
    """
    self._require_phase(round, PHASE_TRAIN, "not in TRAIN phase")
    assert self.bridge != empty(address), "no bridge configured"
    assert not self.import_used[import_id], "import already used as a candidate"
    root: bytes32 = empty(bytes32)
    uri: String[MAX_URI] = ""
    root, uri = staticcall IModelBridge(self.bridge).imported_model(import_id)
    self.import_used[import_id] = True
    index: uint256 = self._add_candidate(
        round, Candidate(owner=self.bridge, root=root, import_id=import_id)
    )
    log ImportCandidate(round=round, import_id=import_id, index=index, model_root=root, uri=uri)


@view
@external
def candidate(round: uint256, index: uint256) -> Candidate:
    assert index < self.candidate_count[round], "no such candidate"
    return self.candidates_of[round][index]


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
def _slash(round: uint256, account: address, reason: String[MAX_REASON]) -> uint256:
    """@dev Move slash_bps of the account's stake into the reward pool."""
    amount: uint256 = self.stake_of[account] * self.slash_bps // BPS
    if amount > 0:
        self.stake_of[account] -= amount
        self.total_stake -= amount
        self.reward_pool += amount
    log Slashed(round=round, account=account, amount=amount, reason=reason)
    return amount


@internal
def _slash_absent_validators(round: uint256):
    for v: address in self.validators_of[round]:
        if self.report_hash[round][v] == empty(bytes32):
            self._slash(round, v, "validator did not report losses")


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
    amount: uint256 = self._slash(round, miner, reason)
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
def report_losses(round: uint256, losses: DynArray[int256, MAX_CANDIDATES]):
    """@notice A validator's loss per candidate, fixed point LOSS_SCALE (LOSS_NONFINITE for NaN/Inf)."""
    self._require_phase(round, PHASE_EVALUATE, "not in EVALUATE phase")
    assert self.validator_stake[round][msg.sender] > 0, "not a committee validator"
    assert self.report_hash[round][msg.sender] == empty(bytes32), "already reported this round"
    assert len(losses) == self.candidate_count[round], "loss vector length does not match the candidate count"
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
    """@notice The current miner proposes the aggregate; weights_hash = keccak256(abi_encode(weights))."""
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
    """@notice (attempt, proposal) of the round's current or final attempt."""
    attempt: uint256 = self.miner_index[round]
    return attempt, self.proposals[round][attempt]


@view
@internal
def _domain() -> bytes32:
    return signatures.domain_separator(chain.id, self, self.network_id)


@view
@external
def domain_separator() -> bytes32:
    return self._domain()


@view
@external
def checkpoint_digest(round: uint256, model_root: bytes32, parent_root: bytes32) -> bytes32:
    """@notice The EIP-712 digest validators and stakers sign."""
    return signatures.checkpoint_digest(self._domain(), self.network_id, round, model_root, parent_root)


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
    """@notice Attest with an EIP-712 Checkpoint signature over (proposed root, current global root)."""
    attempt: uint256 = 0
    stake: uint256 = 0
    attempt, stake = self._vote(round, VOTE_ATTEST)
    root: bytes32 = self.proposals[round][attempt].model_root
    digest: bytes32 = signatures.checkpoint_digest(
        self._domain(), self.network_id, round, root, self.global_root
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
    """@notice (attempt, attesting stake, rejecting stake) of the current/final attempt."""
    attempt: uint256 = self.miner_index[round]
    return attempt, self.attest_stake[round][attempt], self.reject_stake[round][attempt]


@view
@external
def attestations(round: uint256) -> (DynArray[address, MAX_VALIDATORS], DynArray[Bytes[65], MAX_VALIDATORS]):
    """@notice Signers and signatures attesting the current/final attempt."""
    attempt: uint256 = self.miner_index[round]
    return self.attest_signers[round][attempt], self.attest_sigs[round][attempt]


# =============================================================================
# SETTLE
# =============================================================================

@view
@internal
def _worker_due(round: uint256, index: uint256, weights: DynArray[uint256, MAX_CANDIDATES]) -> uint256:
    if self.candidates_of[round][index].import_id != 0:
        return 0  # an import's share stays in the pool
    return self.reward_per_round * weights[index] // WEIGHT_SCALE


@internal
def _credit(round: uint256, account: address, due: uint256, pay_num: uint256, pay_den: uint256) -> uint256:
    amount: uint256 = due
    if pay_num < pay_den:
        amount = due * pay_num // pay_den  # pool short: pro rata
    if amount > 0:
        self.claimable[account] += amount
        log Rewarded(round=round, account=account, amount=amount)
    return amount


@external
def settle(round: uint256, weights: DynArray[uint256, MAX_CANDIDATES]):
    """
    @notice Pay the final round: worker i gets reward_per_round * w_i / WEIGHT_SCALE,
            each reporting validator validator_reward; absent validators are slashed.
            Paid only from the reward pool (pro rata when it is short).
    """
    assert round == self.current_round, "round mismatch"
    assert self.phase == PHASE_FINAL, "not in FINAL phase"
    n: uint256 = self.candidate_count[round]
    assert len(weights) == n, "weights length does not match the candidate count"
    assert keccak256(abi_encode(weights)) == self.checkpoints[round].weights_hash, "weights do not match the proposal's weights_hash"
    weight_sum: uint256 = 0
    for w: uint256 in weights:
        weight_sum += w
    assert weight_sum <= WEIGHT_SCALE, "weights sum above WEIGHT_SCALE"

    self._slash_absent_validators(round)

    due: uint256 = 0
    for i: uint256 in range(n, bound=MAX_CANDIDATES):
        due += self._worker_due(round, i, weights)
    for v: address in self.validators_of[round]:
        if self.report_hash[round][v] != empty(bytes32):
            due += self.validator_reward
    pool: uint256 = self.reward_pool

    paid: uint256 = 0
    for i: uint256 in range(n, bound=MAX_CANDIDATES):
        paid += self._credit(
            round, self.candidates_of[round][i].owner, self._worker_due(round, i, weights), pool, due
        )
    for v: address in self.validators_of[round]:
        if self.report_hash[round][v] != empty(bytes32):
            paid += self._credit(round, v, self.validator_reward, pool, due)
    self.total_claimable += paid
    self.reward_pool = pool - paid
    self.phase = PHASE_IDLE
    log Settled(round=round, paid=paid, pool=self.reward_pool)
    log PhaseChanged(round=round, phase=PHASE_IDLE, deadline=self.deadline)


# =============================================================================
# checkpoints for export
# =============================================================================

@view
@external
def checkpoint(round: uint256) -> Checkpoint:
    return self.checkpoints[round]


@external
def sign_checkpoint(round: uint256, signature: Bytes[65]):
    """@notice A staker's EIP-712 Checkpoint signature of a final round, for other networks' bridges."""
    cp: Checkpoint = self.checkpoints[round]
    assert cp.finalized, "round is not final"
    assert self.stake_of[msg.sender] > 0, "not a staker"
    assert not self.checkpoint_signed[round][msg.sender], "already signed this checkpoint"
    digest: bytes32 = signatures.checkpoint_digest(
        self._domain(), self.network_id, round, cp.model_root, cp.parent_root
    )
    assert signatures.recover(digest, signature) == msg.sender, "signature is not the sender's over this checkpoint"
    self.checkpoint_signed[round][msg.sender] = True
    self.checkpoint_signers[round].append(msg.sender)
    self.checkpoint_sigs[round].append(signature)
    log CheckpointSigned(round=round, signer=msg.sender, signature=signature)


@view
@external
def checkpoint_signatures(round: uint256) -> (DynArray[address, MAX_PARTICIPANTS], DynArray[Bytes[65], MAX_PARTICIPANTS]):
    return self.checkpoint_signers[round], self.checkpoint_sigs[round]


@view
@external
def global_model() -> (bytes32, bytes32, String[MAX_URI], uint256):
    """@notice (root, fingerprint, uri, round that finalized it)."""
    return self.global_root, self.global_fingerprint, self.global_uri, self.global_round
