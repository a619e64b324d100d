# pragma version ~=0.4.3
# @license MIT
"""
@title staking
@notice Participants and money of a FederatedLedger: registration, stakes,
        the reward pool, claimable rewards, slashing and crediting.
@dev A stateful module: FederatedLedger `initializes:` it and `exports:` its
     external functions and getters, so its ABI is part of the ledger's.
     Value conservation, kept by every function here:
         self.balance == total_stake + total_claimable + reward_pool
     Value enters with register, add_stake (stake) and fund (pool); it leaves
     only through withdraw (claimable). _slash moves stake into the pool;
     _credit and _book_rewards move pool into claimable and must be used
     together: the caller credits each account, sums what _credit returned and
     books that sum with one _book_rewards call before its transaction ends.
     Bounds: MAX_PARTICIPANTS 1100 registered participants.
     An account is one storage word (`account_word`): bit 255 registered,
     bit 254 a worker, bits 128..253 claimable, bits 0..127 stake. Every
     registered account's word is set, so crediting its first reward rewrites
     a set word (5,000 gas) instead of filling an empty slot (22,100): what a
     settle with 1,000 workers costs per worker; registering writes one word,
     not four. Stake stays below 2**128 wei and claimable below 2**126
     (checked), far above the ether supply.
"""

MAX_PARTICIPANTS: constant(uint256) = 1100
MAX_REASON: constant(uint256) = 64
BPS: constant(uint256) = 10000
LOW_128: constant(uint256) = 2**128 - 1           # the stake bits
CLAIM_MAX: constant(uint256) = 2**126 - 1         # claimable, bits 128..253
REGISTERED: constant(uint256) = 2**255
WORKER: constant(uint256) = 2**254

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

event Withdrawn:
    account: indexed(address)
    amount: uint256

event Slashed:
    round: indexed(uint256)
    account: indexed(address)
    amount: uint256
    reason: String[MAX_REASON]

event Rewarded:
    round: indexed(uint256)
    account: indexed(address)
    amount: uint256

min_stake: public(uint256)  # least stake that makes a participant committee-eligible
slash_bps: public(uint256)  # share of its stake a slashed account loses, in basis points

account_word: HashMap[address, uint256]  # REGISTERED | WORKER | claimable << 128 | stake
participants: public(DynArray[address, MAX_PARTICIPANTS])
worker_count: public(uint256)
total_stake: public(uint256)
total_claimable: public(uint256)
reward_pool: public(uint256)


@deploy
def __init__(min_stake: uint256, slash_bps: uint256):
    """
    @param min_stake Least stake (wei) that makes a participant committee-eligible; positive.
    @param slash_bps Share of its stake a slashed account loses, in basis points (<= 10000).
    """
    assert min_stake > 0, "min_stake must be positive"
    assert slash_bps <= BPS, "slash_bps above 10000"
    self.min_stake = min_stake
    self.slash_bps = slash_bps


@external
@payable
def register(is_worker: bool):
    """
    @notice Join with msg.value as stake; stake >= min_stake makes you committee-eligible.
    @param is_worker Whether the caller submits updates (a worker) or only stakes.
    """
    assert self.account_word[msg.sender] & REGISTERED == 0, "already registered"
    assert len(self.participants) < MAX_PARTICIPANTS, "participant limit reached"
    assert msg.value <= LOW_128, "stake above 2**128 wei"
    word: uint256 = REGISTERED | msg.value
    if is_worker:
        word = word | WORKER
    self.account_word[msg.sender] = word
    self.participants.append(msg.sender)
    self.total_stake += msg.value
    if is_worker:
        self.worker_count += 1
    log Registered(participant=msg.sender, stake=msg.value, is_worker=is_worker)


@external
@payable
def add_stake():
    """@notice Add msg.value to the caller's stake; the caller must be registered."""
    word: uint256 = self.account_word[msg.sender]
    assert word & REGISTERED != 0, "not registered"
    assert msg.value > 0, "no value sent"
    stake: uint256 = (word & LOW_128) + msg.value
    assert stake <= LOW_128, "stake above 2**128 wei"
    self.account_word[msg.sender] = word - (word & LOW_128) + stake
    self.total_stake += msg.value
    log StakeAdded(participant=msg.sender, amount=msg.value, stake=stake)


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
    """
    @notice Pay out the caller's claimable rewards.
    @return The amount paid, in wei.
    """
    word: uint256 = self.account_word[msg.sender]
    amount: uint256 = (word >> 128) & CLAIM_MAX
    assert amount > 0, "nothing to withdraw"
    self.account_word[msg.sender] = word - (amount << 128)
    self.total_claimable -= amount
    raw_call(msg.sender, b"", value=amount)
    log Withdrawn(account=msg.sender, amount=amount)
    return amount


@view
@external
def stake_of(account: address) -> uint256:
    """
    @notice An account's stake.
    @param account The account.
    @return Its stake, in wei.
    """
    return self.account_word[account] & LOW_128


@view
@external
def claimable(account: address) -> uint256:
    """
    @notice An account's rewards not withdrawn yet.
    @param account The account.
    @return What withdraw() would pay it, in wei.
    """
    return (self.account_word[account] >> 128) & CLAIM_MAX


@view
@external
def is_registered(account: address) -> bool:
    """
    @notice Whether an account has registered.
    @param account The account.
    @return True once it has registered.
    """
    return self.account_word[account] & REGISTERED != 0


@view
@external
def is_worker(account: address) -> bool:
    """
    @notice Whether an account registered as a worker (it may submit updates).
    @param account The account.
    @return True for a registered worker.
    """
    return self.account_word[account] & WORKER != 0


@view
@internal
def _stake(account: address) -> uint256:
    return self.account_word[account] & LOW_128


@view
@internal
def _is_worker(account: address) -> bool:
    return self.account_word[account] & WORKER != 0


@view
@external
def accounted_balance() -> uint256:
    """
    @notice total_stake + total_claimable + reward_pool (== self.balance).
    @return The value the contract accounts for, in wei.
    """
    return self.total_stake + self.total_claimable + self.reward_pool


@view
@external
def participant_count() -> uint256:
    """
    @notice Number of registered participants.
    @return Length of `participants`.
    """
    return len(self.participants)


@internal
def _slash(round: uint256, account: address, reason: String[MAX_REASON]) -> uint256:
    """
    @dev Move slash_bps of the account's stake into the reward pool and log
         Slashed (also when the amount is 0); returns the amount moved.
    """
    word: uint256 = self.account_word[account]
    amount: uint256 = (word & LOW_128) * self.slash_bps // BPS
    if amount > 0:
        self.account_word[account] = word - amount   # amount <= stake: only the low half
        self.total_stake -= amount
        self.reward_pool += amount
    log Slashed(round=round, account=account, amount=amount, reason=reason)
    return amount


@internal
def _credit(round: uint256, account: address, due: uint256, pay_num: uint256, pay_den: uint256) -> uint256:
    """
    @dev Make `due` (scaled by pay_num / pay_den when that is below 1: the pool
         is short, everyone is paid pro rata) claimable by `account`; returns
         the amount credited. The pool and total_claimable are not touched:
         book the sum of the returned amounts with _book_rewards.
    """
    amount: uint256 = due
    if pay_num < pay_den:
        amount = due * pay_num // pay_den
    if amount > 0:
        word: uint256 = self.account_word[account]
        assert ((word >> 128) & CLAIM_MAX) + amount <= CLAIM_MAX, "claimable above 2**126 wei"
        self.account_word[account] = word + (amount << 128)
        log Rewarded(round=round, account=account, amount=amount)
    return amount


@internal
def _book_rewards(paid: uint256) -> uint256:
    """
    @dev Move `paid`, the sum of this transaction's _credit amounts, from the
         reward pool into total_claimable; returns the pool left.
    """
    pool: uint256 = self.reward_pool - paid
    self.total_claimable += paid
    self.reward_pool = pool
    return pool
