"""The per-round record of a run on chain, as both drivers write it to metrics.jsonl."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ChainRoundRecord:
    """What one round of one network did on its chain: one line of metrics.jsonl."""

    network: str
    round: int
    accuracy: float
    loss: float
    model_root: str
    finalized: bool
    candidates: list[str]
    byzantine: list[bool]
    imported: list[bool]
    weights: list[float]
    committee: list[str]
    miners_tried: list[str]
    seconds: dict[str, float] = field(default_factory=dict)
    gas: dict[str, int] = field(default_factory=dict)       # by call kind (see economics)
    rewards: dict[str, float] = field(default_factory=dict)  # ether, by participant class
    slashed: dict[str, float] = field(default_factory=dict)  # ether, by participant class
