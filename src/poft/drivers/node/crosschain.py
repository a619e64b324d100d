"""A node's cross-chain duties (PoFT), the node-mode form of `drivers.crosschain`.

The in-process exchange runs after every `every`-th round of all networks:
the source's stakers sign its final checkpoint, a relayer imports it into the
target's bridge, and the target's next round takes it as a candidate (and, for
policies `init`/`merge`, as its workers' starting point). Node mode keeps that
order with the chain as the only coordinator:

* **sign** (stakers of a source network): sign every exported final
  checkpoint they have not attested (`sign_checkpoint`);
* **relay** (relayer of a source network): once the signatures reach 2/3 of
  the stake the target's bridge registered, import the checkpoint there and
  check the model's bytes against the imported root;
* **gate** (anyone opening a round of a target network): round r+1 opens only
  after each linked source has decided its round r and, when that round is
  final, after the import has arrived; bounded by `import_wait` seconds, so a
  dead source or relayer delays a target but never stops it;
* **nominate** (relayer of a target network): in TRAIN of round r, add every
  bridge import of a source round before r not used yet as a candidate; workers of `init`/`merge` networks wait for it
  (bounded by the phase deadline) and start from it.
"""

from __future__ import annotations

from poft.ledger import ContractRevert, LedgerError, Phase
from poft.protocol.relayer import ImportedModel
from poft.store import StoreError


class CrossChainDuties:
    def __init__(self, ident, roles, events, waits, *, import_wait: float):
        self.me, self.roles, self.events, self.waits = ident.account.address, roles, events, waits
        self.network_id = ident.deployment.network_id
        self.import_wait = import_wait
        self.every = roles.export_every
        self.sign_cursor = 1                               # first round not yet handled
        self.relay_cursor = {target: 1 for target in roles.relayers}
        self.used_upto = 0                                 # imports 1..used_upto are candidates
        self.import_rounds: dict[int, int] = {}

    # --- export side: sign and relay ----------------------------------------------------
    def export(self, view) -> bool:
        acted = False
        if self.roles.validator is not None and self.roles.exports:
            acted = self.sign_exports(view)
        for target in self.roles.relayers:
            acted = self.relay_exports(view, target) or acted
        return acted

    def exports_done(self, rounds: int) -> bool:
        if self.roles.validator is not None and self.roles.exports and self.sign_cursor <= rounds:
            return False
        return all(cursor > rounds for cursor in self.relay_cursor.values())

    def round_status(self, r: int, view) -> str:
        """'final', 'failed' or 'open' (still being decided)."""
        if self.roles.reader.checkpoint(r) is not None:
            return "final"
        if r < view.round or view.phase == Phase.IDLE:
            return "failed"
        return "open"

    def exported(self, r: int) -> bool:
        return r % self.every == 0

    def sign_exports(self, view) -> bool:
        acted = False
        while self.sign_cursor <= view.round:
            r = self.sign_cursor
            if self.exported(r):
                status = self.round_status(r, view)
                if status == "open":
                    break
                if status == "final" and self.needs_my_signature(r):
                    with self.roles.timer.phase("sign"):
                        self.roles.validator.sign_final(r)
                    self.events.emit("signed_checkpoint", round=r)
                    acted = True
            self.sign_cursor += 1
        return acted

    def needs_my_signature(self, r: int) -> bool:
        reader = self.roles.reader
        if reader.call("checkpoint_signed", r, self.me) or reader.stake(self.me) == 0:
            return False
        return all(a.signer != self.me for a in reader.attestations(r))

    def relay_exports(self, view, target: str) -> bool:
        acted = False
        while self.relay_cursor[target] <= view.round:
            r = self.relay_cursor[target]
            if self.exported(r):
                status = self.round_status(r, view)
                if status == "open":
                    break
                if status == "final":
                    outcome = self.relay(target, r)
                    if outcome == "wait":
                        break
                    acted = acted or outcome == "sent"
            self.relay_cursor[target] += 1
        return acted

    def relay(self, target: str, r: int) -> str:
        """'done' (already there), 'wait' (signatures missing), 'sent' or 'refused'."""
        bridge = self.roles.target_bridges[target]
        if bridge.imported_id(self.network_id, r):
            return "done"
        signed, total = self.signed_stake(bridge, r)
        if 3 * signed < 2 * total:
            if not self.waits.over(("relay", target, r), self.import_wait):
                return "wait"
            self.events.warn("relay_refused", target=target, round=r,
                             reason=f"signatures hold {signed} of {total} stake, below 2/3, "
                                    f"after {self.import_wait:.0f}s")
            return "refused"
        try:
            imported = self.roles.relayers[target].relay(r)
        except (LedgerError, StoreError, ValueError) as exc:   # ValueError: CommitmentError
            self.events.warn("relay_refused", target=target, round=r, reason=str(exc))
            return "refused"
        self.events.emit("relayed", target=target, round=r, import_id=imported.import_id,
                         root=imported.root)
        return "sent"

    def signed_stake(self, bridge, r: int) -> tuple[int, int]:
        remote = bridge.network(self.network_id)
        total = remote.total_stake if remote else 0
        signers = {s.signer for s in self.roles.reader.checkpoint_signatures(r)}
        return sum(bridge.member_stake(self.network_id, s) for s in signers), total

    # --- import side: gate, nominate, start from ---------------------------------------
    def imports_arrived(self, r: int) -> bool:
        """Whether round r+1 of this network may open: the linked sources' round r has
        been decided and, if final, imported here (or `import_wait` has run out)."""
        if r == 0 or not self.exported(r) or not self.roles.source_info:
            return True
        missing = [name for name in self.roles.source_info if not self.source_ready(name, r)]
        if not missing:
            return True
        if self.waits.over(("gate", r), self.import_wait):
            if not self.waits.started(("gate-expired", r)):
                self.events.warn("import_wait_expired", round=r, sources=missing,
                                 seconds=self.import_wait)
            return True
        return False

    def source_ready(self, name: str, r: int) -> bool:
        try:
            source = self.roles.source(name)
            if source is None:
                return False
            current, phase = source.current_round(), source.phase()
            if current < r or (current == r and phase not in (Phase.IDLE, Phase.FINAL)):
                return False        # the source has not decided its round r yet
            if source.checkpoint(r) is None:
                return True         # failed there: nothing to import
            return bool(self.roles.bridge.imported_id(source.network_id, r))
        except LedgerError:         # the source chain is down: count it as not ready
            return False

    def import_count(self) -> int:
        return self.roles.bridge.contract.call("import_count")

    def source_round(self, import_id: int) -> int:
        """The source round an import came from (records never change: cached)."""
        if import_id not in self.import_rounds:
            self.import_rounds[import_id] = self.roles.bridge.import_record(import_id).round
        return self.import_rounds[import_id]

    def due_imports(self, r: int) -> list[int]:
        """Imports to add as candidates of round `r`: not used yet, and from a source
        round before `r` (as in-process, round r takes what rounds < r exported; a source
        running ahead does not get its newer checkpoint into this round)."""
        reader = self.roles.reader
        due = []
        for import_id in range(self.used_upto + 1, self.import_count() + 1):
            if reader.call("import_used", import_id):
                if import_id == self.used_upto + 1:
                    self.used_upto = import_id      # used imports stay used
            elif self.source_round(import_id) < r:
                due.append(import_id)
        return due

    def imports_pending(self, r: int) -> bool:
        """Imports that a relayer is about to add as candidates of round `r`."""
        return bool(self.roles.source_info) and bool(self.due_imports(r))

    def nominate_imports(self, r: int) -> bool:
        if self.roles.nominator is None:
            return False
        acted = False
        for import_id in self.due_imports(r):
            try:
                self.roles.nominator.nominate(r, ImportedModel(import_id, 0, b"", ""))
            except ContractRevert as exc:           # another relayer, or the phase moved on
                self.events.emit("nominate_lost", level="debug", import_id=import_id,
                                 reason=exc.reason)
                continue
            self.events.emit("nominated", round=r, import_id=import_id)
            acted = True
        return acted

    def start_from(self, r: int):
        """(root, uri, mix) of the round's last imported candidate for init/merge, else None."""
        if self.roles.import_mix is None:
            return None
        imports = [c for c in self.roles.reader.candidates(r) if c.is_import]
        if not imports:
            return None
        last = imports[-1]
        return (last.root, last.uri, self.roles.import_mix)
