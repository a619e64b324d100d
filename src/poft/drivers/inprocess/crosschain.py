"""Cross-chain exchange between in-process networks (PoFT).

At set-up, each target network's bridge registers the source network's stakers
(addresses and stakes) as the set it trusts. After every `every`-th round, for
each link source → target: the source's stakers sign the final checkpoint, a
relayer carries it to the target's bridge, and at the target's next round the
import is used by the target's policy:

* `candidate` (default): one more candidate, scored by the target's validators
  and weighted by softmax like any worker update;
* `init`: the same, and the target's workers also start their local training
  from it (PoFT's transfer learning);
* `merge`: the same, but the workers start from the midpoint of the target's
  global model and the import (a cross-network FedAvg step).

Under label skew, validators holding other classes give a foreign model little
softmax weight, so `candidate` alone carries little across; `init` and `merge`
carry it through the workers' starting point, `merge` without forgetting what
the target already knew.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from poft.config.experiment import ExperimentConfig
from poft.drivers.exchange import IMPORT_MIX, PARTS
from poft.ledger import BridgeClient, LedgerClient, LedgerError, trust_network
from poft.protocol.relayer import ImportedModel, Relayer
from poft.protocol.timing import PhaseTimer
from poft.store import StoreError

log = logging.getLogger(__name__)



@dataclass
class Link:
    source: object            # NetworkRuntime
    target: object            # NetworkRuntime
    relayer: Relayer
    pending: list[ImportedModel] = field(default_factory=list)


class CrossChainExchange:
    def __init__(self, config: ExperimentConfig, networks: list):
        self.config = config
        self.every = config.crosschain.every
        self.timer = PhaseTimer()
        self.imports = self.rejected = 0
        by_name = {net.name: net for net in networks}
        self.links = [self.connect(by_name[l.source], by_name[l.target])
                      for l in config.crosschain.links] if config.crosschain.enabled else []
        for net in networks:
            net.before_train.append(self.use_imports)

    def connect(self, source, target) -> Link:
        """Register the source's stakers on the target's bridge; make the link's relayer."""
        owner_bridge = BridgeClient.for_deployment(target.backend, target.deployment,
                                                   target.backend.operator)
        source_reader = LedgerClient.for_deployment(source.backend, source.deployment)
        trust_network(owner_bridge, source_reader)
        relayer = Relayer(source_reader, owner_bridge, target.anyone, target.store, target.codec,
                          self.timer)
        return Link(source, target, relayer)

    def after_round(self, rounds_done: int) -> None:
        """Export and relay every link's latest checkpoint, every `every` rounds."""
        if rounds_done % self.every:
            return
        signed: set[str] = set()
        for link in self.links:
            round_id = link.source.anyone.current_round()
            # Read once: a final checkpoint never changes, and every signer and the
            # relayer would read it again (each read after a transaction runs the EVM).
            checkpoint = link.source.anyone.checkpoint(round_id)
            if checkpoint is None:
                continue                         # the source's round failed: nothing to send
            if link.source.name not in signed:
                self.sign(link.source, round_id, checkpoint)
                signed.add(link.source.name)
            try:
                link.pending.append(link.relayer.relay(round_id, checkpoint))
                self.imports += 1
            except (LedgerError, StoreError, ValueError) as exc:  # ValueError: CommitmentError
                self.rejected += 1
                log.warning("import %s -> %s round %d refused: %s", link.source.name,
                            link.target.name, round_id, exc)

    def sign(self, source, round_id: int, checkpoint) -> None:
        """Every staker of the source that has not attested signs the final checkpoint."""
        attested = {a.signer for a in source.anyone.attestations(round_id)}
        with self.timer.phase("sign"):
            for address, staker in source.stakers.items():
                if address not in attested:
                    staker.validator.sign_final(round_id, checkpoint)

    def use_imports(self, net, round_id: int) -> None:
        """Hook run by a target network after it opened `round_id`, before training."""
        for link in self.links:
            if link.target is not net:
                continue
            for imported in link.pending:
                # Always a candidate, so the round's on-chain record names the import.
                link.relayer.nominate(round_id, imported)
                mix = IMPORT_MIX.get(net.import_policy)
                if mix is not None:
                    for worker in net.workers:
                        worker.start_from = (imported.root, imported.uri, mix)
            link.pending.clear()

    def summary(self, total_s: float) -> dict:
        parts = {p: self.timer.totals.get(p, 0.0) for p in PARTS}
        spent = sum(parts.values())
        return {"imports": self.imports, "rejected": self.rejected,
                "overhead_fraction": spent / total_s if total_s > 0 else 0.0,
                "breakdown_s": parts}

