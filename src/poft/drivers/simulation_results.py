"""What the no-ledger driver (`poft.drivers.simulation`) returns: per round, per network,
per run."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class SimulatedRound:
    """One network's round: the new global model and how it was formed."""

    network: str
    round: int
    accuracy: float
    loss: float
    weights: list[float]              # per worker index (uniform for baseline rules)
    byzantine: list[bool]             # per worker index
    backdoor_success: float | None    # attack success rate (backdoor attack only)
    model: torch.Tensor               # the global model after the round, flat float32


@dataclass
class NetworkResult:
    name: str
    rule: str
    byzantine: list[bool]
    accuracy_by_round: list[float] = field(default_factory=list)
    loss_by_round: list[float] = field(default_factory=list)
    weights_by_round: list[list[float]] = field(default_factory=list)
    backdoor_by_round: list[float] = field(default_factory=list)
    final_model: torch.Tensor | None = None

    @property
    def final_accuracy(self) -> float:
        return self.accuracy_by_round[-1]

    @property
    def worst_round_accuracy(self) -> float:
        return min(self.accuracy_by_round)

    @property
    def backdoor_success(self) -> float | None:
        return self.backdoor_by_round[-1] if self.backdoor_by_round else None

    def add(self, record: SimulatedRound) -> None:
        self.accuracy_by_round.append(record.accuracy)
        self.loss_by_round.append(record.loss)
        self.weights_by_round.append(record.weights)
        if record.backdoor_success is not None:
            self.backdoor_by_round.append(record.backdoor_success)
        self.final_model = record.model


@dataclass
class SimulationResult:
    networks: dict[str, NetworkResult]
    timing: dict[str, float]          # train_s, evaluate_s, aggregate_s, test_s, total_s

    def network(self, name: str | None = None) -> NetworkResult:
        """The named network's result (the first network's when no name is given)."""
        return self.networks[name] if name is not None else next(iter(self.networks.values()))
