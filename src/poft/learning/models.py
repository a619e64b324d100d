"""Model architectures, built by name.

Three small classifiers, all plain ``nn.Module``s without buffers (so a model is
exactly its parameters, which is what the chain commits to):

* ``logreg`` -- multinomial logistic regression (flatten + linear).
* ``mlp`` -- one hidden ReLU layer (``hidden=128``).
* ``cnn`` -- two 3x3 conv layers (``channels=(16, 32)``), each followed by ReLU
  and 2x2 max pooling, then a linear classifier; needs image input (C, H, W).
  Its pooling is :class:`MaxPool2x2`, the same function as ``nn.MaxPool2d(2)``
  written with element-wise maxima, which is about 10x faster on a CPU.

Initialisation uses PyTorch's default schemes and the global RNG, so
``torch.manual_seed(s)`` before :func:`build_model` gives identical models.
Any other ``nn.Module`` mapping a batch to logits works with the rest of the
learning core.
"""

from __future__ import annotations

import inspect
import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MODELS", "build_model", "logreg", "mlp", "cnn", "MaxPool2x2"]


def logreg(input_shape: Sequence[int], num_classes: int) -> nn.Module:
    """Flatten the input, one linear layer to the class logits."""
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), num_classes))


def mlp(input_shape: Sequence[int], num_classes: int, hidden: int = 128) -> nn.Module:
    """Flatten, one hidden ReLU layer of ``hidden`` units, linear output."""
    if hidden < 1:
        raise ValueError(f"mlp hidden size must be >= 1, got {hidden}")
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(math.prod(input_shape), hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )


class MaxPool2x2(nn.Module):
    """2x2 max pooling with stride 2: the same values as ``nn.MaxPool2d(2)``.

    Why not just ``nn.MaxPool2d``: for evaluation, PyTorch's CPU kernel for NCHW
    tensors (which also computes argmax indices) took ~70% of a small CNN's
    forward pass, 10-15x slower than two element-wise maxima over views. When
    gradients are needed (training) the stock kernel is used: its backward is
    faster at training batch sizes and its tie-breaking is the familiar one.
    No parameters, so the state dict is unchanged; odd trailing rows/columns are
    dropped, as MaxPool2d does.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            return F.max_pool2d(x, 2)
        height, width = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
        x = x[..., :height, :width]
        rows = x.unflatten(-2, (height // 2, 2))  # (..., H/2, 2, W)
        x = torch.maximum(rows[..., 0, :], rows[..., 1, :])
        cols = x.unflatten(-1, (width // 2, 2))  # (..., H/2, W/2, 2)
        return torch.maximum(cols[..., 0], cols[..., 1])


def cnn(input_shape: Sequence[int], num_classes: int, channels: Sequence[int] = (16, 32)) -> nn.Module:
    """Small CNN: [3x3 conv (padding 1) -> ReLU -> 2x2 max pool] per entry of ``channels``, then linear."""
    if len(input_shape) != 3:
        raise ValueError(
            f"cnn needs image input of shape (channels, height, width), got {tuple(input_shape)}; "
            "use 'mlp' or 'logreg' for flat features"
        )
    in_channels, height, width = input_shape
    layers: list[nn.Module] = []
    for out_channels in channels:
        if height < 2 or width < 2:
            raise ValueError(
                f"input {tuple(input_shape)} is too small for {len(channels)} pooling stages; "
                "use fewer channels entries"
            )
        layers += [
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
            nn.ReLU(),
            MaxPool2x2(),
        ]
        in_channels, height, width = out_channels, height // 2, width // 2
    layers += [nn.Flatten(), nn.Linear(in_channels * height * width, num_classes)]
    return nn.Sequential(*layers)


MODELS: dict[str, Callable[..., nn.Module]] = {"logreg": logreg, "mlp": mlp, "cnn": cnn}


def build_model(name: str, input_shape: Sequence[int], num_classes: int, **options) -> nn.Module:
    """Build architecture ``name`` for samples of ``input_shape`` and ``num_classes`` classes."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(MODELS)}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    builder = MODELS[name]
    allowed = list(inspect.signature(builder).parameters)[2:]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)} for model {name!r}; "
            f"allowed: {', '.join(allowed) or 'none'}"
        )
    return builder(tuple(int(s) for s in input_shape), int(num_classes), **options)
