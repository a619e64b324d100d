"""What one node does next, decided from chain state alone.

Every poll the node reads the round, phase, deadline, block and current miner,
and `Duties.step` runs whatever its roles owe in that state:

| phase     | duty                                                              |
|-----------|-------------------------------------------------------------------|
| any       | advance a phase whose deadline has passed (anyone may)            |
| IDLE      | open the next round (anyone), once linked imports have arrived    |
| TRAIN     | worker: train and submit; relayer: add pending imports as candidates |
| EVALUATE  | validator on the committee: report losses                          |
| AGGREGATE | the current miner: propose the aggregate (nothing admissible: no proposal, the deadline moves on) |
| ATTEST    | validator on the committee: recompute, attest or reject            |
| FINAL     | the finalizing miner settles; anyone else after a grace period     |
| any       | stakers sign final checkpoints for export; relayers relay them     |

Before acting, each duty checks on chain whether it is already done
(`submitted`, `report_hash`, attestations and `Rejected` events, proposals,
`checkpoint_signed`, bridge imports), so a node restarted at any point picks
up where it was without doing anything twice; in-memory notes only save RPC
calls. Losing a race (another node advanced, opened or settled first) shows
up as a revert, which the node logs and moves on from (it counts as no action,
so the loop still pauses before the next poll).
"""

from __future__ import annotations

import time

from poft.drivers.node.crosschain import CrossChainDuties
from poft.drivers.node.waits import BoundedWaits
from poft.ledger import ContractRevert, Phase
from poft.ledger.types import ZERO32
from poft.protocol.aggregate import NoAdmissibleCandidate
from poft.protocol.round_replay import recompute_round
from poft.protocol.worker import ByzantineWorker

OPEN_GRACE_S = 1.0      # others let the node that just settled open the next round
OPEN_STAGGER_S = 0.2    # ... and then go one after another, by participant index
SETTLE_GRACE_S = 3.0    # stakers settle when the finalizing miner has not (workers: 2x)
NOMINATION_WAIT_S = 15.0  # workers wait this long for the relayer to nominate imports


class Duties:
    def __init__(self, ident, roles, events, *, rounds: int, open_rounds: str = "all",
                 import_wait: float = 60.0):
        self.me = ident.account.address
        self.index = ident.participant.index
        self.roles, self.events = roles, events
        self.reader, self.ledger = roles.reader, roles.ledger
        self.rounds, self.open_rounds = rounds, open_rounds
        self.waits = BoundedWaits()
        self.done: set[tuple] = set()           # notes of duties known to be done
        self.committees: dict[int, object] = {}
        self.just_settled = 0
        # Blocks before the TRAIN deadline at which a waiting worker submits anyway.
        self.margin = max(2, self.reader.call("train_blocks") // 4)
        self.crosschain = CrossChainDuties(ident, roles, events, self.waits,
                                           import_wait=import_wait)

    # --- the loop's entry points --------------------------------------------------
    def step(self, view) -> bool:
        """Run what is due in `view`; True when something was sent."""
        if self.advance_if_late(view):
            return True
        handler = {Phase.IDLE: self.on_idle, Phase.TRAIN: self.on_train,
                   Phase.EVALUATE: self.on_evaluate, Phase.AGGREGATE: self.on_aggregate,
                   Phase.ATTEST: self.on_attest, Phase.FINAL: self.on_final}[view.phase]
        acted = handler(view)
        return self.crosschain.export(view) or acted

    def finished(self, view) -> bool:
        """The configured rounds are over on this network and nothing is left to export."""
        if view.round < self.rounds or view.phase != Phase.IDLE:
            return False
        return self.crosschain.exports_done(self.rounds)

    # --- helpers ------------------------------------------------------------------------
    def committee(self, round_id: int):
        if round_id not in self.committees:
            self.committees[round_id] = self.reader.committee(round_id)
        return self.committees[round_id]

    def on_committee(self, round_id: int) -> bool:
        return self.me in self.committee(round_id).validators

    def once(self, key: tuple, event: str, **fields) -> None:
        """Log `event` the first time only (waits are re-checked every poll)."""
        if not self.waits.started(("logged",) + key):
            self.events.emit(event, **fields)

    # --- anyone -------------------------------------------------------------------------
    def advance_if_late(self, view) -> bool:
        if view.phase in (Phase.IDLE, Phase.FINAL) or view.block_number <= view.deadline:
            return False
        try:
            self.ledger.advance()
        except ContractRevert as exc:       # another node advanced first
            self.events.emit("advance_lost", level="debug", round=view.round, reason=exc.reason)
            return False
        after = self.reader.round_state()
        self.events.emit("advanced", round=view.round, phase=view.phase.name,
                         now=after.phase.name, deadline=view.deadline, block=view.block_number)
        return True

    def on_idle(self, view) -> bool:
        r = view.round
        if r >= self.rounds or self.open_rounds == "none":
            return False
        if r == 0 and self.open_rounds == "after-first":
            return False
        if not self.crosschain.imports_arrived(r):
            return False
        my_turn = self.just_settled == r or self.waits.over(
            ("open", r), OPEN_GRACE_S + OPEN_STAGGER_S * self.index)
        if not my_turn:
            return False
        try:
            opened = self.ledger.open_round()
        except ContractRevert as exc:       # another node opened it first
            self.events.emit("open_lost", level="debug", round=r + 1, reason=exc.reason)
            return False
        committee = self.committee(opened)
        self.events.emit("opened", round=opened, validators=committee.validators,
                         miners=committee.miners)
        return True

    # --- TRAIN ----------------------------------------------------------------------------
    def on_train(self, view) -> bool:
        acted = self.crosschain.nominate_imports(view.round)
        if self.roles.worker is not None:
            acted = self.train(view) or acted
        return acted

    def train(self, view) -> bool:
        r, worker = view.round, self.roles.worker
        if ("submitted", r) in self.done:
            return False
        if self.reader.call("submitted", r, self.me):
            self.done.add(("submitted", r))
            return False
        near_deadline = view.block_number >= view.deadline - self.margin
        if not near_deadline and not self.inputs_ready(r, worker):
            return False
        worker.start_from = self.crosschain.start_from(r)
        started = time.perf_counter()
        root = worker.act(r)
        self.done.add(("submitted", r))
        self.events.emit("submitted", round=r, root=root,
                         seconds=round(time.perf_counter() - started, 3),
                         start_from_import=worker.start_from is not None,
                         byzantine=isinstance(worker, ByzantineWorker))
        return True

    def inputs_ready(self, r: int, worker) -> bool:
        """Colluders wait for the honest updates; every worker of a target network waits
        (bounded) until the round's imports are candidates: the last submission closes
        TRAIN, and with `init`/`merge` the import is also where training starts."""
        if isinstance(worker, ByzantineWorker):
            owners = {c.owner for c in self.reader.candidates(r)}
            if not self.roles.honest <= owners:
                self.once(("byz", r), "waiting", round=r, reason="honest updates")
                return False
        if self.crosschain.imports_pending(r):
            if self.waits.over(("nomination", r), NOMINATION_WAIT_S):
                self.once(("imp-late", r), "import_not_nominated", level="warning", round=r)
                return True
            self.once(("imp", r), "waiting", round=r, reason="imports to be nominated")
            return False
        return True

    # --- EVALUATE ---------------------------------------------------------------------------
    def on_evaluate(self, view) -> bool:
        r, validator = view.round, self.roles.validator
        if validator is None or ("reported", r) in self.done or not self.on_committee(r):
            return False
        if self.reader.call("report_hash", r, self.me) != ZERO32:
            self.done.add(("reported", r))
            return False
        started = time.perf_counter()
        losses = validator.evaluate(r)
        self.done.add(("reported", r))
        self.events.emit("reported", round=r, losses=[round(x, 4) for x in losses],
                         seconds=round(time.perf_counter() - started, 3))
        return True

    # --- AGGREGATE ------------------------------------------------------------------------
    def on_aggregate(self, view) -> bool:
        r, miner = view.round, self.roles.miner
        if miner is None or view.current_miner != self.me:
            return False
        if self.reader.proposal(r) is not None:
            return False
        attempt = self.reader.call("miner_index", r)
        if ("no_proposal", r, attempt) in self.done:
            return False
        try:
            result = miner.propose(r)
        except NoAdmissibleCandidate as exc:
            # Nothing to aggregate: no proposal. The AGGREGATE deadline passes, the next
            # backup miner gets its turn, and with none left the round fails on chain
            # (the global model stays); `advance_if_late` moves it along.
            self.done.add(("no_proposal", r, attempt))
            self.events.emit("no_proposal", level="warning", round=r, attempt=attempt,
                             reason=str(exc))
            return False
        self.events.emit("proposed", round=r, attempt=attempt,
                         weights=[round(w, 4) for w in result.weights.tolist()],
                         malicious=miner.malicious)
        return True

    # --- ATTEST ---------------------------------------------------------------------------
    def on_attest(self, view) -> bool:
        r, validator = view.round, self.roles.validator
        if validator is None or not self.on_committee(r):
            return False
        attempt = self.reader.call("miner_index", r)
        if ("voted", r, attempt) in self.done:
            return False
        if self.voted_on_chain(r, attempt):
            self.done.add(("voted", r, attempt))
            return False
        try:
            ok = validator.review(r)
        except ContractRevert as exc:      # the other votes decided the attempt first
            self.events.emit("vote_lost", level="debug", round=r, reason=exc.reason)
            return False
        self.done.add(("voted", r, attempt))
        self.events.emit("attested" if ok else "rejected", round=r, attempt=attempt)
        return True

    def voted_on_chain(self, r: int, attempt: int) -> bool:
        if any(a.signer == self.me for a in self.reader.attestations(r)):
            return True
        return any(e["attempt"] == attempt
                   for e in self.reader.events("Rejected", round=r, validator=self.me))

    # --- FINAL ----------------------------------------------------------------------------
    def on_final(self, view) -> bool:
        r = view.round
        staker = self.roles.validator is not None or self.roles.miner is not None
        mine = self.roles.miner is not None and self.reader.checkpoint(r).miner == self.me
        grace = SETTLE_GRACE_S if staker else 2 * SETTLE_GRACE_S
        if not mine and not self.waits.over(("settle", r), grace):
            return False
        try:
            self.settle(r, mine)
        except ContractRevert as exc:      # settled by someone else meanwhile
            self.events.emit("settle_lost", level="debug", round=r, reason=exc.reason)
            return False
        return True

    def settle(self, r: int, mine: bool) -> None:
        miner = self.roles.miner
        if mine and r in miner.proposed:
            result = miner.settle(r)
        else:   # restarted, or standing in for the miner: the same weights, recomputed
            roles = self.roles
            result = recompute_round(roles.reader, roles.store, roles.codec, roles.spec, r,
                                     roles.genesis_uri, history=roles.history)
            self.ledger.settle(r, result.fixed_weights)
        self.just_settled = r
        self.events.emit("settled", round=r, by_finalizing_miner=mine,
                         weights=[round(w, 4) for w in result.weights.tolist()])
