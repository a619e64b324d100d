"""Three small trainers and their common start vector, for the executor tests."""

from __future__ import annotations

import torch

from poft.learning.datasets import ArrayDataset
from poft.learning.models import build_model
from poft.learning.params import flatten
from poft.protocol.worker import Trainer, TrainingSettings


def trainers_and_start() -> tuple[dict[int, Trainer], torch.Tensor]:
    """Three trainers over disjoint thirds of 50 random samples, and the model's vector."""
    torch.manual_seed(0)
    data = ArrayDataset(torch.randn(50, 8), torch.randint(0, 3, (50,)), 3)
    model = build_model("mlp", input_shape=(8,), num_classes=3, hidden=4)
    settings = TrainingSettings(epochs=2, batch_size=8)
    trainers = {i: Trainer(model, data.subset(range(i, 50, 3)), settings) for i in range(3)}
    return trainers, flatten(model.state_dict())
