"""Data attacks: label flipping and the backdoor trigger, with attack success rate."""

from dataclasses import dataclass

import pytest
import torch

from poft.attacks import DATA_ATTACKS, get_data_attack
from poft.attacks.backdoor import apply_trigger, attack_success_rate, backdoor, nontarget, poison
from poft.attacks.label_flip import flip_labels, label_flip


@dataclass(frozen=True)
class Data:
    """Stand-in with ArrayDataset's fields and constructor (x, y, num_classes)."""

    x: torch.Tensor
    y: torch.Tensor
    num_classes: int


def test_flip_labels_mirrors_the_classes():
    assert flip_labels(torch.tensor([0, 1, 9, 4]), 10).tolist() == [9, 8, 0, 5]
    assert flip_labels(torch.tensor([0, 1, 2]), 3).tolist() == [2, 1, 0]  # middle class fixed
    y = torch.tensor([3, 1, 4, 1, 5])
    assert torch.equal(flip_labels(flip_labels(y, 10), 10), y)


def test_flip_labels_validates():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\); got range \[0, 3\]"):
        flip_labels(torch.tensor([0, 3]), 3)
    with pytest.raises(TypeError, match="labels must be integers"):
        flip_labels(torch.tensor([0.0]), 3)


def test_label_flip_returns_a_new_dataset_with_same_features():
    ds = Data(torch.arange(6.0).reshape(3, 2), torch.tensor([0, 1, 2]), 4)
    out = label_flip(ds)
    assert isinstance(out, Data) and out is not ds
    assert out.y.tolist() == [3, 2, 1] and torch.equal(out.x, ds.x) and out.num_classes == 4
    assert ds.y.tolist() == [0, 1, 2]  # input untouched


def test_data_attacks_work_on_the_learning_cores_array_dataset():
    datasets = pytest.importorskip("poft.learning.datasets")
    ds = datasets.ArrayDataset(torch.zeros(4, 1, 5, 5), torch.tensor([0, 1, 2, 1]), 3)
    assert label_flip(ds).y.tolist() == [2, 1, 0, 1]
    bd = backdoor(ds, target=2, fraction=1.0)
    assert type(bd) is type(ds) and bd.y.tolist() == [2, 2, 2, 2]


def test_apply_trigger_stamps_a_max_intensity_square_in_the_corner():
    x = torch.zeros(2, 1, 5, 5)
    out = apply_trigger(x)
    expected = torch.zeros(5, 5)
    expected[2:, 2:] = 1.0
    assert torch.equal(out[0, 0], expected) and torch.equal(out[1, 0], expected)
    assert float(x.abs().sum()) == 0.0  # copy, not in place
    tl = apply_trigger(x, size=2, value=16.0, corner="top_left")
    assert float(tl[0, 0, :2, :2].min()) == 16.0 and float(tl.sum()) == 2 * 4 * 16.0


def test_apply_trigger_on_flat_features_with_image_shape():
    x = torch.zeros(3, 16)
    out = apply_trigger(x, size=1, image_shape=(4, 4))
    assert out.shape == (3, 16) and out[:, 15].tolist() == [1.0] * 3 and float(out.sum()) == 3.0
    with pytest.raises(ValueError, match="for flat features pass image_shape"):
        apply_trigger(x)
    with pytest.raises(ValueError, match="image_shape"):
        apply_trigger(x, image_shape=(3, 3))
    with pytest.raises(ValueError, match="does not fit"):
        apply_trigger(torch.zeros(1, 2, 2))
    with pytest.raises(ValueError, match="corner must be one of"):
        apply_trigger(torch.zeros(1, 4, 4), corner="middle")


def test_poison_relabels_a_reproducible_fraction():
    x = torch.zeros(10, 1, 4, 4)
    y = torch.zeros(10, dtype=torch.int64)
    x2, y2, idx = poison(x, y, target=7, fraction=0.5, num_classes=10, generator=torch.Generator().manual_seed(1))
    assert len(idx) == 5 and torch.equal(idx, torch.sort(idx).values)
    assert y2[idx].tolist() == [7] * 5 and int((y2 == 7).sum()) == 5
    assert float(x2[idx][:, 0, 1:, 1:].min()) == 1.0
    rest = torch.ones(10, dtype=torch.bool)
    rest[idx] = False
    assert float(x2[rest].abs().sum()) == 0.0
    _, _, idx_again = poison(x, y, target=7, fraction=0.5, num_classes=10, generator=torch.Generator().manual_seed(1))
    assert torch.equal(idx, idx_again)
    with pytest.raises(ValueError, match="fraction must be a number in"):
        poison(x, y, target=7, fraction=1.5, num_classes=10)
    with pytest.raises(ValueError, match=r"target must be a class in \[0, 10\)"):
        poison(x, y, target=10, fraction=0.5, num_classes=10)


def test_backdoor_dataset():
    ds = Data(torch.zeros(8, 1, 4, 4), torch.arange(8) % 4, 4)
    out = backdoor(ds, target=3, fraction=0.25, generator=torch.Generator().manual_seed(0), size=2)
    changed = (out.x.flatten(1).sum(1) > 0).nonzero().flatten()
    assert len(changed) == 2 and out.y[changed].tolist() == [3, 3]


def test_attack_success_rate():
    def predict(x):  # a "backdoored model": target 5 whenever the corner pixel is lit
        lit = x[:, 0, -1, -1] > 0.5
        logits = torch.zeros(len(x), 10)
        logits[torch.arange(len(x)), torch.where(lit, 5, 0)] = 1.0
        return logits

    x = torch.zeros(6, 1, 4, 4)
    assert attack_success_rate(predict, x, target=5, batch_size=4) == 1.0
    assert attack_success_rate(predict, x, target=5, size=1, corner="top_left") == 0.0
    assert attack_success_rate(torch.tensor([5, 5, 1, 2]), target=5) == 0.5
    with pytest.raises(ValueError, match="not both"):
        attack_success_rate(torch.tensor([5]), x, target=5)
    with pytest.raises(ValueError, match="undefined on an empty set"):
        attack_success_rate(predict, x[:0], target=5)


def test_nontarget_selects_the_asr_test_set():
    x = torch.arange(4.0)
    assert nontarget(x, torch.tensor([1, 2, 1, 0]), 1).tolist() == [1.0, 3.0]


def test_registry():
    assert set(DATA_ATTACKS) == {"label_flip", "backdoor"}
    assert get_data_attack("label_flip") is label_flip
    with pytest.raises(KeyError, match="unknown data attack"):
        get_data_attack("flip")
