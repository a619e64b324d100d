"""Losses of many candidate models on one dataset, in vectorised passes.

A validator scores every candidate of a round (worker updates, imported
cross-chain models) on its local data. The candidates share one architecture
and differ only in their parameters, so instead of loading each into the model
and running it alone, their parameters are stacked along a new leading
dimension and the model runs once for all of them with
``torch.func.vmap(torch.func.functional_call)``: for a CNN that turns n small
convolutions into one wide (grouped) convolution per layer.

A candidate with NaN/Inf parameters simply gets a non-finite loss; the others
are unaffected (vmap keeps the candidates independent).

How much runs at once matters more than the vectorisation itself on a CPU: the
activations of (candidates x samples) must stay cache-sized, or every
element-wise layer becomes a trip to main memory. So each pass holds at most
``max_activations`` floats of layer outputs: all candidates (or as many as fit
with at least ``MIN_SAMPLES_PER_PASS`` samples) and as many samples as then fit.
Measured on a 2-core CPU (``bench/batched_eval.py``), this is about as fast as
a loop over the candidates with a well-sized batch, not faster: PyTorch's vmap
rule turns the convolutions into wide/grouped ones that oneDNN runs less
efficiently, which eats what the vectorisation saves. It pays off where
per-call overhead dominates (small models, accelerators). So by default
(``strategy="auto"``) models with convolutions are scored one candidate after
the other (``"loop"``, about 1.3x faster there) and the others with vmap.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from .datasets import ArrayDataset
from .params import check_compatible

__all__ = [
    "batched_losses",
    "batched_accuracies",
    "batched_metrics",
    "stack_states",
    "pass_shape",
    "activations_per_sample",
]

State = Mapping[str, torch.Tensor]

# Layer outputs of one pass (candidates x samples x floats per sample) stay under
# this many float32 values (32 MiB, about the L3 cache of the 2-core CPU this was
# tuned on): passes of hundreds of MiB ran 2-4x slower there.
DEFAULT_MAX_ACTIVATIONS = 8 * 1024 * 1024
# Candidates scored one at a time: the batch of the plain evaluation loop.
LOOP_BATCH_SIZE = 256
STRATEGIES = ("auto", "vmap", "loop")
# Fewer samples than this per pass and per-call overhead (and oneDNN's poor
# efficiency on tiny batches) dominate: then the candidates are split into chunks.
MIN_SAMPLES_PER_PASS = 32


def stack_states(states: Sequence[State] | Mapping[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Stack a list of state dicts into ``{name: Tensor(n, ...)}``, checked against ``model``.

    An already stacked mapping (each value of shape ``(n, *param_shape)``) is
    checked and returned as is.
    """
    template = {**dict(model.named_parameters()), **dict(model.named_buffers())}
    if isinstance(states, Mapping):
        return _check_stacked(states, template)
    if len(states) == 0:
        raise ValueError("batched evaluation needs at least one candidate state dict")
    for i, state in enumerate(states):
        check_compatible(state, model, what=f"candidate {i}")
    return {key: torch.stack([state[key].detach() for state in states]) for key in template}


def _check_stacked(stacked: Mapping[str, torch.Tensor], template: Mapping[str, torch.Tensor]) -> dict:
    missing = sorted(set(template) - set(stacked))
    extra = sorted(set(stacked) - set(template))
    if missing or extra:
        raise ValueError(
            f"stacked candidates do not fit the model: missing keys {missing}, unexpected keys {extra}"
        )
    sizes = {key: t.shape[0] if t.dim() else None for key, t in stacked.items()}
    if len(set(sizes.values())) != 1 or None in sizes.values():
        raise ValueError(f"stacked tensors must share one leading candidate dimension, got {sizes}")
    for key, want in template.items():
        got = stacked[key]
        if tuple(got.shape[1:]) != tuple(want.shape) or got.dtype != want.dtype:
            raise ValueError(
                f"stacked {key}: per-candidate shape {tuple(got.shape[1:])} {got.dtype}, "
                f"expected {tuple(want.shape)} {want.dtype}"
            )
    return {key: stacked[key].detach() for key in template}


def batched_metrics(
    model: nn.Module,
    states: Sequence[State] | Mapping[str, torch.Tensor],
    dataset: ArrayDataset,
    batch_size: int | None = None,
    max_activations: int = DEFAULT_MAX_ACTIVATIONS,
    strategy: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy and accuracy of each candidate: two float64 tensors of shape ``(n,)``.

    ``strategy``: ``"vmap"`` (all candidates in vectorised passes), ``"loop"``
    (one candidate after the other) or ``"auto"`` (loop for convolutional models,
    where it is faster on a CPU; vmap otherwise). All give the same losses.
    """
    if len(dataset) == 0:
        raise ValueError("cannot evaluate candidates on an empty dataset")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 (or None for automatic), got {batch_size}")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    stacked = stack_states(states, model)
    n = next(iter(stacked.values())).shape[0]
    if strategy == "auto":
        convolutional = any(isinstance(m, nn.modules.conv._ConvNd) for m in model.modules())
        strategy = "loop" if convolutional else "vmap"
    losses, accuracies = [], []
    was_training = model.training
    model.eval()  # dropout off, batch norm on running stats: scoring, not training
    try:
        if strategy == "loop":
            chunk, samples = 1, batch_size or LOOP_BATCH_SIZE
        else:
            chunk, samples = pass_shape(model, dataset, n, batch_size, max_activations)
        with torch.inference_mode():
            for start in range(0, n, chunk):
                part = {key: t[start : start + chunk] for key, t in stacked.items()}
                chunk_loss, chunk_acc = _score_chunk(model, part, dataset, samples,
                                                     vectorised=strategy == "vmap")
                losses.append(chunk_loss)
                accuracies.append(chunk_acc)
    finally:
        model.train(was_training)
    return torch.cat(losses), torch.cat(accuracies)


def batched_losses(
    model: nn.Module,
    states: Sequence[State] | Mapping[str, torch.Tensor],
    dataset: ArrayDataset,
    batch_size: int | None = None,
    max_activations: int = DEFAULT_MAX_ACTIVATIONS,
    strategy: str = "auto",
) -> torch.Tensor:
    """Mean cross-entropy of each candidate on ``dataset``: float64 tensor ``(n,)``.

    ``model`` supplies the architecture only (its own parameters are not used);
    ``states`` is a list of its state dicts or a stacked ``{name: (n, ...)}`` mapping.
    """
    return batched_metrics(model, states, dataset, batch_size, max_activations, strategy)[0]


def batched_accuracies(
    model: nn.Module,
    states: Sequence[State] | Mapping[str, torch.Tensor],
    dataset: ArrayDataset,
    batch_size: int | None = None,
    max_activations: int = DEFAULT_MAX_ACTIVATIONS,
    strategy: str = "auto",
) -> torch.Tensor:
    """Accuracy of each candidate on ``dataset``: float64 tensor ``(n,)``."""
    return batched_metrics(model, states, dataset, batch_size, max_activations, strategy)[1]


def _score_chunk(model: nn.Module, stacked: dict, dataset: ArrayDataset, batch_size: int,
                 vectorised: bool = True):
    """Summed loss and correct count over the dataset for one chunk of candidates.

    ``vectorised``: all candidates of the chunk in one vmap pass; otherwise the
    chunk holds one candidate, run as a plain model (the "loop" strategy).
    """
    def logits_of(params, x):
        return functional_call(model, params, (x,))

    if vectorised:
        # in_dims: parameters batched along dim 0, the data batch shared by all candidates
        all_logits = vmap(logits_of, in_dims=(0, None))
    else:
        def all_logits(params, x):
            return logits_of({key: t[0] for key, t in params.items()}, x).unsqueeze(0)
    n = next(iter(stacked.values())).shape[0]
    loss_sum = torch.zeros(n, dtype=torch.float64)
    correct = torch.zeros(n, dtype=torch.float64)
    for start in range(0, len(dataset), batch_size):
        x = dataset.x[start : start + batch_size]
        y = dataset.y[start : start + batch_size]
        logits = all_logits(stacked, x)  # (n, b, classes)
        b = y.shape[0]
        per_sample = F.cross_entropy(logits.reshape(n * b, -1), y.repeat(n), reduction="none")
        loss_sum += per_sample.view(n, b).sum(dim=1, dtype=torch.float64)
        correct += (logits.argmax(dim=2) == y).sum(dim=1)
    return loss_sum / len(dataset), correct / len(dataset)


def pass_shape(
    model: nn.Module,
    dataset: ArrayDataset,
    n: int,
    batch_size: int | None = None,
    max_activations: int = DEFAULT_MAX_ACTIVATIONS,
) -> tuple[int, int]:
    """(candidates, samples) per pass so that their activations fit ``max_activations``.

    ``batch_size`` caps the samples per pass (None: up to the whole dataset).
    """
    per_sample = activations_per_sample(model, dataset.x[:1])
    pairs = max(1, max_activations // per_sample)  # candidate-sample pairs per pass
    cap = len(dataset) if batch_size is None else min(batch_size, len(dataset))
    candidates = max(1, min(n, pairs // min(MIN_SAMPLES_PER_PASS, cap)))
    samples = max(1, min(cap, pairs // candidates))
    return candidates, samples


def activations_per_sample(model: nn.Module, sample: torch.Tensor) -> int:
    """Floats produced by all leaf modules for one sample (a bound on live activations)."""
    total = 0

    def count(_module, _inputs, output):
        nonlocal total
        if isinstance(output, torch.Tensor):
            total += output.numel()

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(count) for m in leaves]
    was_training = model.training
    model.eval()  # a probe must not move batch-norm statistics
    try:
        with torch.inference_mode():
            model(sample)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return max(total, 1)
