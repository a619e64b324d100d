"""Partitions: sizes, disjointness, coverage, determinism, skew and refusals."""

import numpy as np
import pytest

from poft.learning.partition import class_counts, dirichlet, iid, label_skew, partition, split_indices

LABELS = np.repeat(np.arange(10), 100)  # 1,000 samples, 100 per class


def rng(seed=0):
    return np.random.default_rng(seed)


def assert_disjoint_cover(parts, expected):
    joined = np.concatenate(parts)
    assert len(joined) == len(np.unique(joined)), "parts overlap"
    assert set(joined.tolist()) == set(np.asarray(expected).tolist()), "parts do not cover the samples"


def mean_skew(parts, labels=LABELS):
    """Mean total-variation distance between each part's label mix and the global one."""
    counts = class_counts(labels, parts, 10).astype(float)
    mix = counts / counts.sum(axis=1, keepdims=True)
    overall = np.bincount(labels, minlength=10) / len(labels)
    return float(np.mean(0.5 * np.abs(mix - overall).sum(axis=1)))


def test_iid_sizes_cover_and_determinism():
    parts = iid(LABELS, 7, rng(1))
    assert len(parts) == 7 and {len(p) for p in parts} <= {142, 143}
    assert_disjoint_cover(parts, np.arange(len(LABELS)))
    assert all(p.dtype == np.int64 and np.all(np.diff(p) > 0) for p in parts)
    again = iid(LABELS, 7, rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))
    other = iid(LABELS, 7, rng(2))
    assert not all(np.array_equal(a, b) for a, b in zip(parts, other))


def test_dirichlet_covers_every_sample_and_is_deterministic():
    parts = dirichlet(LABELS, 8, 0.5, rng(3))
    assert_disjoint_cover(parts, np.arange(len(LABELS)))
    again = dirichlet(LABELS, 8, 0.5, rng(3))
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))


def test_dirichlet_skew_decreases_as_alpha_grows():
    skews = [np.mean([mean_skew(dirichlet(LABELS, 10, alpha, rng(s))) for s in range(5)])
             for alpha in (0.05, 1.0, 100.0)]
    assert skews[0] > skews[1] > skews[2]
    assert skews[0] > 0.6 and skews[2] < 0.1


def test_dirichlet_gives_every_part_a_sample_even_with_tiny_alpha():
    labels = np.repeat(np.arange(3), 10)  # 30 samples, 3 classes, 25 parts
    parts = dirichlet(labels, 25, 0.01, rng(0))
    assert all(len(p) >= 1 for p in parts)
    assert_disjoint_cover(parts, np.arange(30))


def test_label_skew_groups_get_their_classes_and_share_split_classes():
    groups = [[0, 1, 2], [2, 3], [4]]
    parts = label_skew(LABELS, groups, rng(0))
    for part, group in zip(parts, groups):
        assert set(np.unique(LABELS[part]).tolist()) == set(group)
    # class 2 is in two groups: its 100 samples are split 50/50, without overlap
    assert [int(np.sum(LABELS[p] == 2)) for p in parts[:2]] == [50, 50]
    assert_disjoint_cover(parts, np.flatnonzero(LABELS <= 4))


def test_split_indices_returns_original_indices_within_the_subset():
    subset = np.flatnonzero(LABELS % 2 == 0)  # a network's share: even classes
    parts = split_indices(subset, LABELS, "dirichlet", 4, rng(5), alpha=1.0)
    assert_disjoint_cover(parts, subset)
    parts = split_indices(subset, LABELS, "label_skew", 2, rng(5), class_groups=[[0, 2], [4, 6, 8]])
    assert set(LABELS[parts[1]].tolist()) == {4, 6, 8}


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: iid(LABELS[:3], 4, rng()), "cannot split 3 samples into 4"),
        (lambda: iid(LABELS, 0, rng()), "positive integer"),
        (lambda: dirichlet(LABELS, 3, 0.0, rng()), "alpha must be a positive"),
        (lambda: dirichlet(LABELS, 3, -1.0, rng()), "alpha must be a positive"),
        (lambda: label_skew(LABELS, [[0], []], rng()), "class group 1 is empty"),
        (lambda: label_skew(LABELS, [[0, 11]], rng()), r"class\(es\) \[11\]"),
        (lambda: label_skew(LABELS, [], rng()), "at least one class group"),
        (lambda: label_skew(LABELS, [[1, 1]], rng()), "names a class twice"),
        (lambda: partition(LABELS, "shards", 3, rng()), "unknown partition scheme 'shards'"),
        (lambda: partition(LABELS, "label_skew", 3, rng(), class_groups=[[0]]), "needs 3 class groups"),
        (lambda: partition(LABELS, "dirichlet", 3, rng()), "exactly the option alpha"),
        (lambda: iid(LABELS.astype(float), 2, rng()), "labels must be integers"),
    ],
)
def test_bad_input_is_refused_with_a_reason(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_label_skew_refuses_a_group_left_without_samples():
    labels = np.array([0, 1, 1, 1])
    with pytest.raises(ValueError, match="received no samples"):
        label_skew(labels, [[0], [0]], rng())
