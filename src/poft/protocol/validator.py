"""The validator role: score every candidate on its own data, then check the
miner's aggregate and attest or reject.

1. evaluate: the loss of each candidate model (worker updates and imported
   cross-chain models alike) on the validator's own data, in one batched pass;
   a candidate that cannot be fetched or verified scores +inf. The loss vector
   goes on chain in fixed point. Under robust_softmax the report is 2n numbers
   instead: each candidate's contribution and its cosine with the validator's
   own update (`robust_score`).
2. review: recompute the aggregate from the committed inputs (the same
   `aggregate_round` the miner runs), fetch the proposed model by its root,
   compare within the stated tolerance, check the weights hash, and attest
   with an EIP-712 checkpoint signature, or reject.

A *lying* validator (an experiment option) reports random losses instead.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from poft.aggregation.robust_softmax import scoring_options
from poft.learning.batched_eval import batched_losses
from poft.learning.datasets import ArrayDataset
from poft.learning.robust_scoring import reference_update, robust_report
from poft.ledger import weights_hash
from poft.protocol.aggregate import AggregationSpec, aggregate_round, history_for, matches
from poft.protocol.models_io import ModelCodec
from poft.protocol.round_inputs import CandidateCache, collect_round_inputs, load_candidates
from poft.protocol.timing import NULL_TIMER, PhaseTimer
from poft.protocol.worker import TrainingSettings
from poft.store import StoreError

log = logging.getLogger(__name__)


def training_start(theta: torch.Tensor, candidates: torch.Tensor, imported: list[bool],
                   mix: float | None) -> torch.Tensor:
    """Where the round's honest workers started training: θ, or, when the network
    trains from imports (`mix` not None) and the round has an imported candidate,
    ``lerp(θ, the last import, mix)`` (as `Worker.start_model`; a refused import
    (non-finite row) leaves θ)."""
    rows = [i for i, flag in enumerate(imported) if flag]
    if mix is None or not rows:
        return theta
    last = candidates[rows[-1]]
    if not bool(torch.isfinite(last).all()):
        return theta
    return torch.lerp(theta, last.to(theta.dtype), mix)


class Validator:
    def __init__(self, ledger, store, codec: ModelCodec, model: nn.Module,
                 data: ArrayDataset, spec: AggregationSpec, *, lying: bool = False,
                 seed: int = 0, timer: PhaseTimer = NULL_TIMER,
                 settings: TrainingSettings | None = None, import_mix: float | None = None,
                 history=None):
        """`settings`: the workers' training settings, with which a robust_softmax
        validator trains its own reference update. `import_mix`: the network's import
        policy as the workers apply it (`init` 1, `merge` 1/2, else None): when a round
        has an imported candidate, honest workers train from
        ``(1 - mix) θ + mix · import``, and so does the validator's reference.
        `history`: the network's `WorkerHistory`, when the rule weighs it."""
        self.ledger, self.store, self.codec = ledger, store, codec
        self.model, self.data, self.spec = model, data, spec
        self.settings = settings or TrainingSettings()
        self.import_mix = import_mix
        self.lying = lying
        self.generator = torch.Generator().manual_seed(seed)
        self.timer = timer
        self.cache = CandidateCache()
        self.history = history_for(spec, history)

    @property
    def address(self) -> str:
        return self.ledger.account.address

    def evaluate(self, round_id: int) -> list[float]:
        head = self.ledger.global_model()
        records = self.ledger.candidates(round_id)
        candidates = load_candidates(self.ledger, self.store, self.codec, round_id,
                                     head.fingerprint, self.cache, records)
        if self.spec.rule == "robust_softmax":
            theta = self.codec.fetch(self.store, head.root, head.uri, head.fingerprint)
            imported = [c.is_import for c in records]
            start = training_start(theta, candidates, imported, self.import_mix)
            scores = self.robust_score(theta, candidates, start)
        else:
            scores = self.score(candidates)
        self.ledger.report_losses(round_id, scores)
        return scores

    def robust_score(self, theta: torch.Tensor, candidates: torch.Tensor,
                     start: torch.Tensor | None = None) -> list[float]:
        """robust_softmax's report, ``2n`` numbers: each candidate's contribution to a
        robust aggregate on this validator's data, then its cosine with the update this
        validator trains itself from the workers' start point ``start`` (θ by default),
        taken from θ (`poft.learning.robust_scoring`); NaN for a candidate that is
        refused. The reference update never leaves the validator."""
        if self.lying:
            return (torch.rand(2 * len(candidates), generator=self.generator) * 5).tolist()
        s = self.settings
        start = theta if start is None else start
        with self.timer.phase("evaluate"):
            reference = reference_update(self.model, start, self.data, epochs=s.epochs,
                                         batch_size=s.batch_size, lr=s.lr, momentum=s.momentum,
                                         weight_decay=s.weight_decay, generator=self.generator)
            # Candidates are compared as steps from θ: so is the reference.
            reference = reference + (start.to(reference.dtype) - theta.to(reference.dtype))
            report = robust_report(self.model, theta, candidates, self.data, reference,
                                   **scoring_options(self.spec.params))
        return report.tolist()

    def score(self, candidates: torch.Tensor) -> list[float]:
        """Loss of each candidate on this validator's data (+inf when refused)."""
        if self.lying:
            return (torch.rand(len(candidates), generator=self.generator) * 5).tolist()
        with self.timer.phase("evaluate"):
            losses = torch.full((len(candidates),), float("inf"), dtype=torch.float64)
            usable = torch.isfinite(candidates).all(dim=1)
            if bool(usable.any()):
                states = [self.codec.to_state(v) for v in candidates[usable]]
                scored = batched_losses(self.model, states, self.data)
                losses[usable] = torch.where(torch.isfinite(scored), scored,
                                             torch.full_like(scored, float("inf")))
            return losses.tolist()

    def review(self, round_id: int) -> bool:
        """Attest the current proposal if it is the correct aggregate, else reject."""
        ok, reason = self.check_proposal(round_id)
        if ok:
            self.ledger.attest(round_id, self.ledger.proposal(round_id).model_root)
        else:
            log.info("validator %s rejects round %d: %s", self.address[:10], round_id, reason)
            self.ledger.reject(round_id)
        return ok

    def sign_final(self, round_id: int, checkpoint=None) -> None:
        """Sign a final checkpoint for export to other networks (any staker may);
        `checkpoint`: that final checkpoint, when the caller has read it."""
        self.ledger.sign_checkpoint(round_id, checkpoint)

    def check_proposal(self, round_id: int) -> tuple[bool, str]:
        proposal = self.ledger.proposal(round_id)
        if proposal is None:
            return False, "no proposal to review"
        head = self.ledger.global_model()
        try:
            parent = self.codec.fetch(self.store, head.root, head.uri, head.fingerprint)
            proposed = self.codec.fetch(self.store, proposal.model_root, proposal.uri,
                                        head.fingerprint)
        except (StoreError, ValueError) as exc:  # CommitmentError, malformed uri
            return False, f"proposed model unusable: {exc}"
        with self.timer.phase("review"):
            inputs = collect_round_inputs(self.ledger, self.store, self.codec, round_id,
                                          parent, head.fingerprint, self.cache,
                                          with_previous_step=self.spec.momentum > 0,
                                          history=self.history)
            expected = aggregate_round(inputs, self.spec)
        if not matches(proposed, expected.model, self.spec.tolerance):
            return False, "proposed model differs from the recomputed aggregate"
        if weights_hash(expected.fixed_weights) != proposal.weights_hash:
            return False, "weights hash differs from the recomputed weights"
        return True, "ok"
