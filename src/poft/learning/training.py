"""Local training and evaluation of one model on one in-memory dataset.

:func:`local_train` is what a worker runs each round: mini-batch SGD with
momentum, the batch order drawn from a caller-supplied ``torch.Generator`` so a
run is reproducible from its seed. :func:`evaluate` gives mean cross-entropy and
accuracy. Both slice whole batches out of the dataset tensors (no per-sample
Python work), which keeps them fast on a CPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .datasets import ArrayDataset

__all__ = ["local_train", "evaluate", "make_generator", "EVAL_BATCH_SIZE"]


def make_generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed`` (for :func:`local_train`)."""
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    return generator


def local_train(
    model: nn.Module,
    dataset: ArrayDataset,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    generator: torch.Generator | int,
) -> None:
    """Train ``model`` in place on ``dataset`` with SGD (+ momentum) for ``epochs`` epochs.

    Each epoch visits every sample once in an order drawn from ``generator`` (a
    ``torch.Generator`` or an int seed); the last batch may be smaller. A
    diverging run (NaN/Inf loss) is not stopped here: the update it produces is
    non-finite, and the aggregation rules are the ones that refuse it.
    """
    _check_training_args(dataset, epochs, batch_size, lr, momentum, weight_decay)
    if not isinstance(generator, torch.Generator):
        generator = make_generator(generator)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    was_training = model.training
    model.train()
    try:
        for _ in range(epochs):
            order = torch.randperm(len(dataset), generator=generator)
            for start in range(0, len(dataset), batch_size):
                batch = order[start : start + batch_size]
                optimizer.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(dataset.x[batch]), dataset.y[batch])
                loss.backward()
                optimizer.step()
    finally:
        model.train(was_training)


# Batches of 256 keep a small CNN's activations (~50 MiB) near cache size; 1,024
# was 1.4-2.4x slower on the 2-core CPU this was measured on (bench/batched_eval.py).
EVAL_BATCH_SIZE = 256


def evaluate(model: nn.Module, dataset: ArrayDataset, batch_size: int = EVAL_BATCH_SIZE) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``dataset`` (no gradients)."""
    if len(dataset) == 0:
        raise ValueError("cannot evaluate on an empty dataset")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    was_training = model.training
    model.eval()
    total_loss = torch.zeros((), dtype=torch.float64)
    correct = 0
    try:
        with torch.inference_mode():
            for start in range(0, len(dataset), batch_size):
                x = dataset.x[start : start + batch_size]
                y = dataset.y[start : start + batch_size]
                logits = model(x)
                total_loss += F.cross_entropy(logits.double(), y, reduction="sum")
                correct += int((logits.argmax(dim=1) == y).sum())
    finally:
        model.train(was_training)
    return float(total_loss) / len(dataset), correct / len(dataset)


def _check_training_args(dataset, epochs, batch_size, lr, momentum, weight_decay) -> None:
    if len(dataset) == 0:
        raise ValueError("cannot train on an empty dataset; give every worker at least one sample")
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not lr > 0:
        raise ValueError(f"learning rate must be > 0, got {lr}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
