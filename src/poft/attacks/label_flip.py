r"""Label flipping (ByzFL's ``LabelFlipping``; Allen-Zhu et al. 2021 and Allouah
et al. 2023 use the same map).

A Byzantine worker trains on its own data with every label mirrored:

.. math::

    y \mapsto C - 1 - y

for ``C`` classes (ByzFL: ``targets.sub(C - 1).mul(-1)``). The map is an
involution; for odd ``C`` the middle class is a fixed point.
"""

from __future__ import annotations

import torch

from poft.attacks._data import dataset_parts, rebuild


def flip_labels(y, num_classes: int) -> torch.Tensor:
    """``C − 1 − y`` for int labels in ``[0, C)``; a new int64 tensor."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be an integer >= 1; got {num_classes!r}")
    y = torch.as_tensor(y)
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"labels must be integers; got dtype {y.dtype}")
    y = y.to(torch.int64)
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(
            f"labels must lie in [0, {num_classes}); got range [{int(y.min())}, {int(y.max())}]"
        )
    return (num_classes - 1) - y


def label_flip(dataset):
    """The worker's dataset with every label flipped (features unchanged)."""
    x, y, c = dataset_parts(dataset)
    return rebuild(dataset, x, flip_labels(y, c))
