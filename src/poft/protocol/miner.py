"""The miner role: aggregate the round from the committed inputs and propose.

The miner reads the reported losses and the candidates, runs the network's
aggregation rule (`aggregate_round`: softmax weights for SABFL, or a baseline),
puts the new model in the store and proposes `(model_root, uri, weights_hash)`.
After finality it settles the round with the weights it proposed.

A *malicious* miner (an experiment option) proposes a perturbed aggregate; the
validators' recomputation catches it, the chain slashes it and the next backup
miner proposes.
"""

from __future__ import annotations

import torch

from poft.protocol.aggregate import AggregationSpec, RoundAggregate, aggregate_round, history_for
from poft.protocol.models_io import ModelCodec
from poft.protocol.round_inputs import CandidateCache, collect_round_inputs
from poft.protocol.timing import NULL_TIMER, PhaseTimer


class Miner:
    def __init__(self, ledger, store, codec: ModelCodec, spec: AggregationSpec, *,
                 malicious: bool = False, seed: int = 0, timer: PhaseTimer = NULL_TIMER,
                 history=None):
        """`history`: the network's `WorkerHistory`, when the rule weighs it."""
        self.ledger, self.store, self.codec, self.spec = ledger, store, codec, spec
        self.history = history_for(spec, history)
        self.malicious = malicious
        self.generator = torch.Generator().manual_seed(seed)
        self.timer = timer
        self.cache = CandidateCache()
        self.proposed: dict[int, RoundAggregate] = {}

    @property
    def address(self) -> str:
        return self.ledger.account.address

    def propose(self, round_id: int) -> RoundAggregate:
        head = self.ledger.global_model()
        parent = self.codec.fetch(self.store, head.root, head.uri, head.fingerprint)
        with self.timer.phase("aggregate"):
            inputs = collect_round_inputs(self.ledger, self.store, self.codec, round_id,
                                          parent, head.fingerprint, self.cache,
                                          with_previous_step=self.spec.momentum > 0,
                                          history=self.history)
            result = aggregate_round(inputs, self.spec)
        model = result.model
        if self.malicious:
            model = model + 0.1 * torch.randn(model.shape, generator=self.generator)
        published = self.codec.publish(self.store, model)
        self.ledger.propose(round_id, published.commitment.root, published.uri,
                            result.fixed_weights)
        self.proposed[round_id] = result
        return result

    def settle(self, round_id: int) -> RoundAggregate:
        """Pay the final round with the weights this miner proposed."""
        result = self.proposed.pop(round_id)
        self.ledger.settle(round_id, result.fixed_weights)
        return result
