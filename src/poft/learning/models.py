"""Model architectures, built by name.

Three small classifiers, all plain ``nn.Module``s without buffers (so a model is
exactly its parameters, which is what the chain commits to):

* ``logreg`` -- multinomial logistic regression (flatten + linear).
* ``mlp`` -- one hidden ReLU layer (``hidden=128``).
* ``cnn`` -- two 3x3 conv layers (``channels=(16, 32)``), each followed by ReLU
  and 2x2 max pooling, then a linear classifier; needs image input (C, H, W).

Initialisation uses PyTorch's default schemes and the global RNG, so
``torch.manual_seed(s)`` before :func:`build_model` gives identical models.
Any other ``nn.Module`` mapping a batch to logits works with the rest of the
learning core.
"""

from __future__ import annotations

import inspect
import math
from typing import Callable, Sequence

from torch import nn

__all__ = ["MODELS", "build_model", "logreg", "mlp", "cnn"]


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
            nn.MaxPool2d(2),
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
