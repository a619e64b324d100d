"""Datasets of the learning core: in-memory arrays and the loaders behind them.

Every dataset is an :class:`ArrayDataset` -- a float32 feature tensor, an
int64 label tensor and the number of classes -- small enough to live in memory
and be sliced by index arrays (partitions, attacks, validators' local data).

Loaders, by registry name (:func:`load_dataset`):

* ``fashion_mnist``: the IDX files of Fashion-MNIST from a local directory
  (``data_dir`` argument, else ``$POFT_DATA_DIR``, else
  ``/usr/share/datasets/fashion-mnist``), shape ``(N, 1, 28, 28)``. Nothing is
  ever downloaded.
* ``digits``: scikit-learn's bundled 8x8 digits, shape ``(N, 1, 8, 8)``, split
  into train/test by a seed.
* ``convex``: synthetic multinomial-logistic-regression data, flat features; the
  loss of a linear model on it is convex, useful for checking aggregation.
"""

from __future__ import annotations

import functools
import gzip
import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from poft.errors import InputError

__all__ = [
    "ArrayDataset",
    "DatasetNotFoundError",
    "DATASETS",
    "DEFAULT_FASHION_MNIST_DIR",
    "load_dataset",
    "load_fashion_mnist",
    "load_digits",
    "load_convex",
    "read_idx",
]

DEFAULT_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_MEAN = 0.2860
FASHION_MNIST_STD = 0.3530
SPLITS = ("train", "test")


@dataclass(frozen=True)
class ArrayDataset:
    """Features ``x`` (float32, first dim = samples) and labels ``y`` (int64)."""

    x: torch.Tensor
    y: torch.Tensor
    num_classes: int

    def __post_init__(self) -> None:
        x = torch.as_tensor(self.x, dtype=torch.float32)
        y = torch.as_tensor(self.y, dtype=torch.int64)
        if y.dim() != 1:
            raise ValueError(f"labels must be 1-D, got shape {tuple(y.shape)}")
        if x.dim() < 1 or x.shape[0] != y.shape[0]:
            raise ValueError(
                f"x has {x.shape[0] if x.dim() else 0} samples but y has {y.shape[0]}; "
                "they must have the same first dimension"
            )
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {self.num_classes}")
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise ValueError(
                f"labels must lie in [0, {self.num_classes}), "
                f"got range [{int(y.min())}, {int(y.max())}]"
            )
        # frozen dataclass: write the converted tensors through object.__setattr__
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample, e.g. ``(1, 28, 28)``; what ``build_model`` needs."""
        return tuple(self.x.shape[1:])

    def subset(self, indices) -> "ArrayDataset":
        """The samples at ``indices`` (any int array-like), as a new dataset (copied)."""
        idx = torch.as_tensor(np.asarray(indices), dtype=torch.int64).reshape(-1)
        if len(idx) and (int(idx.min()) < -len(self) or int(idx.max()) >= len(self)):
            raise IndexError(f"subset indices out of range for a dataset of {len(self)} samples")
        return ArrayDataset(self.x[idx], self.y[idx], self.num_classes)


class DatasetNotFoundError(InputError, FileNotFoundError):
    """The dataset's files are not on this machine (nothing is downloaded)."""


# ---------------------------------------------------------------- IDX format

# IDX type codes (third byte of the magic number) -> big-endian numpy dtype.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzip-compressed or plain, detected from its bytes).

    Header: two zero bytes, a type code, the number of dimensions, then one
    big-endian uint32 per dimension. Raises ValueError when the header is
    malformed or the payload size does not match the dimensions.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip magic: decompress regardless of the file name
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise InputError(f"{path}: not an IDX file (the magic number must start with two zero bytes)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise InputError(f"{path}: unknown IDX type code 0x{code:02x}")
    if ndim == 0:
        raise InputError(f"{path}: IDX file declares zero dimensions")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise InputError(f"{path}: truncated IDX header")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header_len != expected:
        raise InputError(
            f"{path}: IDX payload is {len(raw) - header_len} bytes but dimensions {dims} "
            f"of {dtype.name} need {expected}; the file is truncated or corrupt"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header_len).reshape(dims)
    return data.astype(dtype.newbyteorder("="), copy=True)


# ---------------------------------------------------------------- Fashion-MNIST

_FASHION_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_INSTALL_HINT = (
    "Install it with `apt-get install dataset-fashion-mnist`, or set POFT_DATA_DIR "
    "(or pass data_dir) to a folder holding the four Fashion-MNIST IDX files "
    "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
    "t10k-labels-idx1-ubyte; .gz or plain). Nothing is downloaded at run time."
)


def resolve_fashion_mnist_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The directory to read: argument, else $POFT_DATA_DIR, else the Debian path."""
    if data_dir is not None:
        source, chosen = "data_dir", data_dir
    elif os.environ.get("POFT_DATA_DIR"):
        source, chosen = "POFT_DATA_DIR", os.environ["POFT_DATA_DIR"]
    else:
        source, chosen = "default", DEFAULT_FASHION_MNIST_DIR
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise DatasetNotFoundError(
            f"Fashion-MNIST directory {str(path)!r} ({source}) does not exist. {_INSTALL_HINT}"
        )
    return path.resolve()


def _find_idx_file(directory: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    raise DatasetNotFoundError(
        f"Fashion-MNIST file {stem}(.gz) is missing from {str(directory)!r}. {_INSTALL_HINT}"
    )


@functools.lru_cache(maxsize=4)
def _fashion_mnist_arrays(directory: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Parsed and normalised tensors of one split; cached because runs load them often."""
    images_stem, labels_stem = _FASHION_FILES[split]
    images = read_idx(_find_idx_file(Path(directory), images_stem))
    labels = read_idx(_find_idx_file(Path(directory), labels_stem))
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise InputError(
            f"{directory}: {images_stem} has shape {images.shape} and dtype {images.dtype}; "
            "Fashion-MNIST images are uint8 of shape (N, 28, 28)"
        )
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise InputError(
            f"{directory}: {images.shape[0]} images but {labels.shape} labels in {labels_stem}; "
            "the image and label files must belong to the same split"
        )
    if labels.size and labels.max() > 9:
        raise InputError(f"{directory}: {labels_stem} holds label {labels.max()}; expected 0..9")
    x = torch.from_numpy(images).unsqueeze(1).float().div_(255.0)
    x.sub_(FASHION_MNIST_MEAN).div_(FASHION_MNIST_STD)
    return x, torch.from_numpy(labels.astype(np.int64))


def load_fashion_mnist(
    split: str,
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
) -> ArrayDataset:
    """Fashion-MNIST ``split`` ("train" or "test"), normalised, shape (N, 1, 28, 28).

    ``limit`` keeps only the first ``limit`` samples (quick tests and demos).
    """
    _check_split(split)
    directory = resolve_fashion_mnist_dir(data_dir)
    x, y = _fashion_mnist_arrays(str(directory), split)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    # clone: callers (attacks, tests) may modify their dataset; the cache must stay intact
    return ArrayDataset(x.clone(), y.clone(), 10)


# ---------------------------------------------------------------- digits

def load_digits(split: str, seed: int = 0, test_fraction: float = 0.25) -> ArrayDataset:
    """scikit-learn's bundled 8x8 digits (1,797 images), shape (N, 1, 8, 8).

    Pixels are scaled to [0, 1] then standardised with the whole set's mean/std
    (constants of the data, so train and test share them). The train/test split
    is a permutation drawn from ``seed``.
    """
    _check_split(split)
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"test_fraction must be in (0, 1), got {test_fraction}")
    from sklearn.datasets import load_digits as sklearn_digits  # bundled, no download

    bunch = sklearn_digits()
    x = bunch.images.astype(np.float32) / 16.0
    x = (x - x.mean()) / x.std()
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(len(y) * test_fraction))
    chosen = order[:n_test] if split == "test" else order[n_test:]
    chosen = np.sort(chosen)
    return ArrayDataset(torch.from_numpy(x[chosen][:, None]), torch.from_numpy(y[chosen]), 10)


# ---------------------------------------------------------------- convex

def load_convex(
    split: str,
    seed: int = 0,
    num_samples: int | None = None,
    num_features: int = 20,
    num_classes: int = 10,
    noise: float = 1.0,
    scale: float = 3.0,
) -> ArrayDataset:
    """Synthetic multinomial logistic regression data (flat features).

    Features are standard Gaussian; a random linear model ``W, b`` (drawn from
    ``seed``, shared by both splits) gives logits ``x W + b``; labels are sampled
    from ``softmax(logits / noise)`` (the Gumbel-max trick), so ``noise`` sets how
    far the best achievable accuracy is from 1. ``num_samples`` defaults to 5,000
    (train) / 1,000 (test); each split draws its samples from its own stream.
    """
    _check_split(split)
    if num_features < 1 or num_classes < 2:
        raise InputError("convex needs num_features >= 1 and num_classes >= 2")
    if noise <= 0:
        raise InputError(f"noise must be > 0 (it is a softmax temperature), got {noise}")
    if num_samples is None:
        num_samples = 5000 if split == "train" else 1000
    if num_samples < 1:
        raise InputError(f"num_samples must be >= 1, got {num_samples}")
    model_rng = np.random.default_rng([seed, 0])
    weights = model_rng.standard_normal((num_features, num_classes)) * (scale / np.sqrt(num_features))
    bias = model_rng.standard_normal(num_classes)
    data_rng = np.random.default_rng([seed, 1 + SPLITS.index(split)])
    x = data_rng.standard_normal((num_samples, num_features))
    gumbel = data_rng.gumbel(size=(num_samples, num_classes))
    y = np.argmax((x @ weights + bias) / noise + gumbel, axis=1)
    return ArrayDataset(torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.int64)), num_classes)


# ---------------------------------------------------------------- registry

DATASETS: dict[str, Callable[..., ArrayDataset]] = {
    "fashion_mnist": load_fashion_mnist,
    "digits": load_digits,
    "convex": load_convex,
}


def load_dataset(name: str, split: str, **options) -> ArrayDataset:
    """Load dataset ``name`` (see ``DATASETS``) for ``split`` with loader ``options``."""
    if name not in DATASETS:
        raise InputError(f"unknown dataset {name!r}; allowed: {', '.join(sorted(DATASETS))}")
    loader = DATASETS[name]
    allowed = [p for p in inspect.signature(loader).parameters if p != "split"]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(
            f"unknown option(s) {', '.join(unknown)} for dataset {name!r}; allowed: {', '.join(allowed)}"
        )
    return loader(split, **options)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
