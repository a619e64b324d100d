"""A network's final rounds as the chain records them.

Which rounds finalized (their `RoundFinalized` events), and where a final
round's parent model is stored: the model of the latest final round before it
with that root, else the genesis model. A uri is only a locator: every role
checks the fetched bytes against the committed root.
"""

from __future__ import annotations


def finalized_rounds(ledger) -> dict[int, dict]:
    """round -> its RoundFinalized event (model_root, parent_root, uri, ...)."""
    return {e["round"]: e for e in ledger.events("RoundFinalized")}


def parent_uri(ledger, parent_root: bytes, round_id: int, genesis_uri: str,
               finals: dict[int, dict] | None = None) -> str:
    """Where the parent model of `round_id` is stored (a locator; bytes are checked by root)."""
    finals = finalized_rounds(ledger) if finals is None else finals
    earlier = [e for r, e in finals.items() if r < round_id and e["model_root"] == parent_root]
    return max(earlier, key=lambda e: e["round"])["uri"] if earlier else genesis_uri
