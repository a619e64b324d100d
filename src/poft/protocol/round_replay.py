"""Re-deriving a finalized round's aggregate from the chain and the store alone.

Any party can settle a final round (the contract only checks the weights
against the proposal's hash), and a restarted miner no longer remembers the
weights it proposed; both recompute them here with the same
`aggregate_round` the miner and the validators ran. The node-mode collector
uses it for the weights it writes to metrics.jsonl.
"""

from __future__ import annotations

from poft.protocol.aggregate import AggregationSpec, RoundAggregate, aggregate_round
from poft.protocol.finals import parent_uri
from poft.protocol.models_io import ModelCodec
from poft.protocol.round_inputs import CandidateCache, collect_round_inputs
from poft.protocol.worker_history import WorkerHistory


def recompute_round(ledger, store, codec: ModelCodec, spec: AggregationSpec, round_id: int,
                    genesis_uri: str, finals: dict[int, dict] | None = None,
                    history: WorkerHistory | None = None) -> RoundAggregate:
    """The aggregate of final round `round_id` from its committed inputs. `history`:
    the caller's `WorkerHistory` to carry on from (else one is built from the store)."""
    cp = ledger.checkpoint(round_id)
    if cp is None:
        raise ValueError(f"round {round_id} is not final: nothing to recompute")
    fingerprint = ledger.global_model().fingerprint
    uri = parent_uri(ledger, cp.parent_root, round_id, genesis_uri, finals)
    parent = codec.fetch(store, cp.parent_root, uri, fingerprint)
    inputs = collect_round_inputs(ledger, store, codec, round_id, parent, fingerprint,
                                  CandidateCache(), with_previous_step=spec.momentum > 0,
                                  history=(history or WorkerHistory(genesis_uri)
                                           if spec.uses_history else None))
    return aggregate_round(inputs, spec)
