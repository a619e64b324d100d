"""Datasets: the IDX reader, Fashion-MNIST discovery and errors, digits, convex, registry."""

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from poft.learning import datasets
from poft.learning.datasets import (
    ArrayDataset,
    DatasetNotFoundError,
    load_dataset,
    read_idx,
)

REAL_DIR = Path(os.environ.get("POFT_DATA_DIR") or datasets.DEFAULT_FASHION_MNIST_DIR)
needs_real_data = pytest.mark.skipif(
    not (REAL_DIR / "t10k-images-idx3-ubyte.gz").is_file() and not (REAL_DIR / "t10k-images-idx3-ubyte").is_file(),
    reason=f"Fashion-MNIST not installed in {REAL_DIR}",
)


def write_idx(path: Path, array: np.ndarray, code: int, compress: bool) -> Path:
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


def write_fake_fashion(directory: Path, n_train=12, n_test=5, compress=True) -> None:
    rng = np.random.default_rng(0)
    suffix = ".gz" if compress else ""
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(directory / f"{split}-images-idx3-ubyte{suffix}", images, 0x08, compress)
        write_idx(directory / f"{split}-labels-idx1-ubyte{suffix}", labels, 0x08, compress)


@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_round_trips_uint8_and_int32(tmp_path, compress):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    got = read_idx(write_idx(tmp_path / "a", images, 0x08, compress))
    assert got.dtype == np.uint8 and got.shape == (2, 3, 4)
    np.testing.assert_array_equal(got, images)
    ints = np.array([[-5, 70000], [1, 2]], dtype=np.int32)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "b", ints, 0x0C, compress)), ints)


def test_read_idx_rejects_truncated_payload_and_bad_magic(tmp_path):
    path = write_idx(tmp_path / "t", np.zeros((4, 5), dtype=np.uint8), 0x08, compress=False)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(path)
    (tmp_path / "m").write_bytes(b"\x01\x02\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "m")
    (tmp_path / "c").write_bytes(b"\x00\x00\x42\x01\x00\x00\x00\x01\x00")
    with pytest.raises(ValueError, match="unknown IDX type code"):
        read_idx(tmp_path / "c")


@pytest.mark.parametrize("compress", [True, False])
def test_fashion_mnist_from_a_directory_of_idx_files(tmp_path, compress):
    write_fake_fashion(tmp_path, compress=compress)
    train = load_dataset("fashion_mnist", "train", data_dir=tmp_path)
    test = load_dataset("fashion_mnist", "test", data_dir=tmp_path, limit=3)
    assert train.x.shape == (12, 1, 28, 28) and train.x.dtype == torch.float32
    assert train.y.dtype == torch.int64 and train.y.tolist() == [i % 10 for i in range(12)]
    assert len(test) == 3
    # pixels are scaled to [0, 1] then normalised with the Fashion-MNIST constants
    lowest = (0.0 - datasets.FASHION_MNIST_MEAN) / datasets.FASHION_MNIST_STD
    highest = (1.0 - datasets.FASHION_MNIST_MEAN) / datasets.FASHION_MNIST_STD
    assert lowest - 1e-5 <= float(train.x.min()) and float(train.x.max()) <= highest + 1e-5


def test_fashion_mnist_uses_env_var_when_no_argument(tmp_path, monkeypatch):
    write_fake_fashion(tmp_path, n_train=7)
    monkeypatch.setenv("POFT_DATA_DIR", str(tmp_path))
    assert len(load_dataset("fashion_mnist", "train")) == 7


def test_cached_arrays_are_not_corrupted_by_callers(tmp_path):
    write_fake_fashion(tmp_path)
    first = load_dataset("fashion_mnist", "train", data_dir=tmp_path)
    before = first.x.clone()
    first.x.zero_()
    second = load_dataset("fashion_mnist", "train", data_dir=tmp_path)
    assert torch.equal(second.x, before)


def test_missing_directory_explains_how_to_get_the_data(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("fashion_mnist", "train", data_dir=tmp_path / "nowhere")
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message and "POFT_DATA_DIR" in message
    assert isinstance(info.value, FileNotFoundError)


def test_missing_file_is_named(tmp_path):
    write_fake_fashion(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_dataset("fashion_mnist", "test", data_dir=tmp_path)


def test_mismatched_image_and_label_counts_are_refused(tmp_path):
    write_fake_fashion(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(3, dtype=np.uint8), 0x08, True)
    with pytest.raises(ValueError, match="12 images but"):
        load_dataset("fashion_mnist", "train", data_dir=tmp_path)


@needs_real_data
def test_real_fashion_mnist_test_split():
    test = load_dataset("fashion_mnist", "test")
    assert test.x.shape == (10000, 1, 28, 28)
    assert torch.bincount(test.y).tolist() == [1000] * 10
    assert abs(float(test.x.mean())) < 0.05 and abs(float(test.x.std()) - 1.0) < 0.05


def test_digits_split_is_deterministic_and_disjoint():
    train, test = load_dataset("digits", "train", seed=3), load_dataset("digits", "test", seed=3)
    assert train.x.shape[1:] == (1, 8, 8) and len(train) + len(test) == 1797
    assert torch.equal(load_dataset("digits", "test", seed=3).x, test.x)
    assert not torch.equal(load_dataset("digits", "test", seed=4).x, test.x)
    # no test image also appears in train (digits has a few duplicate images; allow those)
    train_rows = {row.numpy().tobytes() for row in train.x.reshape(len(train), -1)}
    shared = sum(row.numpy().tobytes() in train_rows for row in test.x.reshape(len(test), -1))
    assert shared < 5


def test_convex_is_deterministic_learnable_and_shares_its_model_across_splits():
    train = load_dataset("convex", "train", seed=1)
    assert train.x.shape == (5000, 20) and train.num_classes == 10
    assert torch.equal(load_dataset("convex", "train", seed=1).y, train.y)
    assert not torch.equal(load_dataset("convex", "train", seed=2).y, train.y)
    test = load_dataset("convex", "test", seed=1)
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=200).fit(train.x[:2000].numpy(), train.y[:2000].numpy())
    # labels follow one linear model: a linear classifier fit on train generalises to test
    assert clf.score(test.x.numpy(), test.y.numpy()) > 0.6


def test_registry_errors_list_what_is_allowed():
    with pytest.raises(ValueError, match="allowed: convex, digits, fashion_mnist"):
        load_dataset("mnist", "train")
    with pytest.raises(ValueError, match="allowed: train, test"):
        load_dataset("digits", "validation")
    with pytest.raises(ValueError, match="unknown option.*colour"):
        load_dataset("convex", "train", colour="red")


def test_array_dataset_subset_and_validation():
    ds = ArrayDataset(torch.arange(10.0).reshape(5, 2), torch.tensor([0, 1, 2, 1, 0]), 3)
    sub = ds.subset(np.array([4, 1]))
    assert len(sub) == 2 and sub.y.tolist() == [0, 1] and sub.x[0].tolist() == [8.0, 9.0]
    assert ds.input_shape == (2,)
    with pytest.raises(ValueError, match="same first dimension"):
        ArrayDataset(torch.zeros(3, 2), torch.zeros(4, dtype=torch.int64), 2)
    with pytest.raises(ValueError, match="labels must lie in"):
        ArrayDataset(torch.zeros(2, 2), torch.tensor([0, 5]), 3)
