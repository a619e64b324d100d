"""Rebuilding a worker's dataset after a data attack.

Data attacks take and return the learning core's ``ArrayDataset`` (fields
``x``, ``y``, ``num_classes``; constructor ``ArrayDataset(x, y, num_classes)``).
They build the result through the input's own type instead of importing
``poft.learning``, so this layer stays a pure function of tensors.
"""

from __future__ import annotations


def dataset_parts(dataset):
    """``(x, y, num_classes)`` of an ``ArrayDataset``-like object, or a clear error."""
    missing = [a for a in ("x", "y", "num_classes") if not hasattr(dataset, a)]
    if missing:
        raise TypeError(
            f"expected an ArrayDataset (with x, y, num_classes); {type(dataset).__name__} lacks {missing}"
        )
    return dataset.x, dataset.y, int(dataset.num_classes)


def rebuild(dataset, x, y):
    """A new dataset of ``dataset``'s type with the same classes and new ``x``, ``y``."""
    return type(dataset)(x, y, int(dataset.num_classes))
