"""A user's own data as an :class:`ArrayDataset` (what the Python API accepts).

:func:`as_array_dataset` takes any of

* an :class:`ArrayDataset` (returned as it is),
* a pair ``(x, y)`` of tensors or numpy arrays (features with samples first,
  integer labels),
* a map-style ``torch.utils.data.Dataset`` (``len(ds)`` and ``ds[i] -> (x, y)``),
  read once into memory,

and checks that the labels are integers in ``[0, num_classes)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from poft.errors import InputError
from poft.learning.datasets import ArrayDataset

__all__ = ["as_array_dataset"]


def as_array_dataset(data: Any, num_classes: int | None = None, what: str = "data") -> ArrayDataset:
    """``data`` (ArrayDataset, ``(x, y)`` pair or map-style torch Dataset) as an ArrayDataset."""
    if isinstance(data, ArrayDataset):
        if num_classes is not None and num_classes != data.num_classes:
            raise InputError(f"{what} has {data.num_classes} classes, but num_classes={num_classes}")
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = (torch.as_tensor(np.asarray(v)) if not isinstance(v, torch.Tensor) else v
                for v in data)
    elif hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        x, y = _read_dataset(data, what)
    else:
        raise InputError(f"{what}: expected an ArrayDataset, an (x, y) pair of tensors/arrays or "
                         f"a map-style torch Dataset, got {type(data).__name__}")
    if y.dtype.is_floating_point and not torch.equal(y, y.round()):
        raise InputError(f"{what}: labels must be integers (class indices), got {y.dtype} values")
    y = y.to(torch.int64).reshape(-1)
    if len(y) == 0:
        raise InputError(f"{what} is empty")
    classes = num_classes if num_classes is not None else int(y.max()) + 1
    try:
        return ArrayDataset(x.to(torch.float32), y, classes)
    except ValueError as exc:
        raise InputError(f"{what}: {exc}") from exc


def _read_dataset(data, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = [], []
    for i in range(len(data)):
        item = data[i]
        if not (isinstance(item, (tuple, list)) and len(item) >= 2):
            raise InputError(f"{what}[{i}] is {type(item).__name__}; a dataset item must be "
                             "a pair (features, label)")
        xs.append(torch.as_tensor(np.asarray(item[0]) if not isinstance(item[0], torch.Tensor)
                                  else item[0]))
        ys.append(int(item[1]))
    if not xs:
        raise InputError(f"{what} is empty")
    return torch.stack(xs), torch.tensor(ys, dtype=torch.int64)
