"""Partitions: how a dataset's samples are divided among networks or workers.

Every scheme takes the label array of the samples to divide and a
``numpy.random.Generator`` and returns a list of index arrays (sorted, int64,
disjoint), one per part; the same generator state gives the same partition.

* :func:`iid` -- a uniform random split into parts of (almost) equal size.
* :func:`dirichlet` -- per class, the class's samples are divided with
  proportions drawn from ``Dir(alpha)``; small ``alpha`` means strong label skew.
* :func:`label_skew` -- part ``g`` gets the samples of the classes listed in
  ``class_groups[g]``; a class listed in several groups is split between them.

Two levels (a network's share, then its workers' shares) compose with
:func:`split_indices`, which partitions a subset and maps back to the original
indices.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

__all__ = [
    "SCHEMES",
    "iid",
    "dirichlet",
    "label_skew",
    "partition",
    "split_indices",
    "class_counts",
]


def iid(labels, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffle all samples and cut them into ``n`` parts whose sizes differ by at most one."""
    labels = _as_labels(labels)
    _check_parts(n, len(labels))
    order = rng.permutation(len(labels))
    return [np.sort(part).astype(np.int64) for part in np.array_split(order, n)]


def dirichlet(labels, n: int, alpha: float, rng: np.random.Generator) -> list[np.ndarray]:
    """Label-skewed split: each class is divided among the parts by ``Dir(alpha)`` proportions.

    Small ``alpha`` (e.g. 0.1) gives parts dominated by a few classes; large
    ``alpha`` (e.g. 100) approaches an IID split. A draw can leave a part empty;
    every empty part then takes one sample from the currently largest part, so
    each part has at least one sample and the result stays deterministic.
    """
    labels = _as_labels(labels)
    _check_parts(n, len(labels))
    if not np.isfinite(alpha) or alpha <= 0:
        raise ValueError(
            f"dirichlet alpha must be a positive number, got {alpha}; "
            "use e.g. 0.1 for strong label skew or 100 for almost IID parts"
        )
    parts: list[list[int]] = [[] for _ in range(n)]
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        proportions = rng.dirichlet(np.full(n, float(alpha)))
        cuts = (np.cumsum(proportions)[:-1] * len(members)).astype(np.int64)
        for part, chunk in zip(parts, np.split(members, cuts)):
            part.extend(chunk.tolist())
    _fill_empty_parts(parts)
    return [np.sort(np.asarray(part, dtype=np.int64)) for part in parts]


def _fill_empty_parts(parts: list[list[int]]) -> None:
    # Why not re-draw until no part is empty: with tiny alpha and many parts that
    # can take arbitrarily long. Moving single samples from the largest part keeps
    # the skew almost unchanged and always terminates (n <= number of samples).
    for part in parts:
        if not part:
            largest = max(parts, key=len)
            part.append(largest.pop())


def label_skew(labels, class_groups: Sequence[Sequence[int]], rng: np.random.Generator) -> list[np.ndarray]:
    """Part ``g`` gets the samples whose label is in ``class_groups[g]``.

    A class named in k groups has its samples shuffled and split into k nearly
    equal shares. Classes named in no group are left out of every part.
    """
    labels = _as_labels(labels)
    groups = _check_class_groups(labels, class_groups)
    owners: dict[int, list[int]] = {}
    for g, group in enumerate(groups):
        for cls in group:
            owners.setdefault(cls, []).append(g)
    parts: list[list[int]] = [[] for _ in groups]
    for cls in sorted(owners):
        members = rng.permutation(np.flatnonzero(labels == cls))
        for g, share in zip(owners[cls], np.array_split(members, len(owners[cls]))):
            parts[g].extend(share.tolist())
    for g, part in enumerate(parts):
        if not part:
            raise ValueError(
                f"class group {g} {list(groups[g])} received no samples: its classes have "
                "fewer samples than the groups sharing them; give the group other classes "
                "or use fewer groups"
            )
    return [np.sort(np.asarray(part, dtype=np.int64)) for part in parts]


def _check_class_groups(labels: np.ndarray, class_groups) -> list[list[int]]:
    if len(class_groups) == 0:
        raise ValueError("label_skew needs at least one class group, e.g. [[0, 1], [2, 3]]")
    present = set(np.unique(labels).tolist())
    groups = []
    for g, group in enumerate(class_groups):
        group = [int(c) for c in group]
        if not group:
            raise ValueError(f"class group {g} is empty; list at least one class for every group")
        if len(set(group)) != len(group):
            raise ValueError(f"class group {g} {group} names a class twice; list each class once")
        missing = sorted(set(group) - present)
        if missing:
            raise ValueError(
                f"class group {g} names class(es) {missing} that do not occur in the labels; "
                f"the labels contain classes {sorted(present)}"
            )
        groups.append(group)
    return groups


# ---------------------------------------------------------------- composition

SCHEMES: dict[str, Callable[..., list[np.ndarray]]] = {
    "iid": iid,
    "dirichlet": dirichlet,
    "label_skew": label_skew,
}


def partition(labels, scheme: str, n: int, rng: np.random.Generator, **options) -> list[np.ndarray]:
    """Split by ``scheme`` ("iid", "dirichlet" with ``alpha``, "label_skew" with ``class_groups``)."""
    if scheme == "iid":
        _no_options(scheme, options)
        return iid(labels, n, rng)
    if scheme == "dirichlet":
        if set(options) != {"alpha"}:
            raise ValueError(f"scheme 'dirichlet' takes exactly the option alpha, got {sorted(options) or 'none'}")
        return dirichlet(labels, n, options["alpha"], rng)
    if scheme == "label_skew":
        if set(options) != {"class_groups"}:
            raise ValueError(
                f"scheme 'label_skew' takes exactly the option class_groups, got {sorted(options) or 'none'}"
            )
        groups = options["class_groups"]
        if n != len(groups):
            raise ValueError(
                f"label_skew into {n} parts needs {n} class groups, got {len(groups)}; "
                "give one class group per part"
            )
        return label_skew(labels, groups, rng)
    raise ValueError(f"unknown partition scheme {scheme!r}; allowed: {', '.join(SCHEMES)}")


def split_indices(indices, labels, scheme: str, n: int, rng: np.random.Generator, **options) -> list[np.ndarray]:
    """Partition the samples ``indices`` (into the full ``labels``) and return original indices.

    E.g. a network's share of the training set, divided among its workers.
    """
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    labels = _as_labels(labels)
    if len(indices) and (indices.min() < 0 or indices.max() >= len(labels)):
        raise ValueError(f"indices out of range for {len(labels)} labels")
    local_parts = partition(labels[indices], scheme, n, rng, **options)
    return [np.sort(indices[part]) for part in local_parts]


def class_counts(labels, parts: Sequence[np.ndarray], num_classes: int | None = None) -> np.ndarray:
    """Matrix ``(len(parts), num_classes)`` of how many samples of each class each part holds."""
    labels = _as_labels(labels)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if len(labels) else 0
    if not parts:
        return np.zeros((0, num_classes), dtype=np.int64)
    return np.stack([np.bincount(labels[p], minlength=num_classes) for p in parts])


# ---------------------------------------------------------------- validation

def _as_labels(labels) -> np.ndarray:
    if hasattr(labels, "numpy"):  # torch tensor
        labels = labels.detach().cpu().numpy()
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be a 1-D array, got shape {labels.shape}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
    return labels.astype(np.int64, copy=False)


def _check_parts(n: int, num_samples: int) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"number of parts must be a positive integer, got {n!r}")
    if n > num_samples:
        raise ValueError(
            f"cannot split {num_samples} samples into {n} non-empty parts; "
            "use fewer parts (workers/networks) or more data"
        )


def _no_options(scheme: str, options: dict) -> None:
    if options:
        raise ValueError(f"scheme {scheme!r} takes no options, got {sorted(options)}")
