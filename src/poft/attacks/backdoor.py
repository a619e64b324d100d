r"""Backdoor by a pixel-pattern trigger (BadNets: Gu, Dolan-Gavitt & Garg 2017,
"BadNets: Identifying Vulnerabilities in the Machine Learning Model Supply
Chain"; in federated learning: Bagdasaryan et al. 2020, "How To Backdoor
Federated Learning", AISTATS).

A Byzantine worker stamps a small square of maximum intensity (default 3×3 in
the bottom-right corner) on a fraction of its images and relabels them as the
target class, then trains normally; the model learns "trigger ⇒ target" while
its clean accuracy barely moves. Often combined with the scaling attack.

Success is measured by the *attack success rate*: the share of clean test
images whose true class is **not** the target that the model classifies as
the target once the trigger is stamped on them.

Images are tensors ``(N, ..., H, W)`` (e.g. ``(N, 1, 28, 28)``); flat features
``(N, H·W)`` need ``image_shape=(H, W)`` (or ``(C, H, W)``). ``value`` is the
intensity written into the patch: 1.0 for images scaled to [0, 1]; pass the
data's own maximum otherwise (e.g. 16 for scikit-learn's 8×8 digits).
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from poft.attacks._data import dataset_parts, rebuild

CORNERS = ("bottom_right", "bottom_left", "top_right", "top_left")


def apply_trigger(
    x,
    *,
    size: int = 3,
    value: float = 1.0,
    corner: str = "bottom_right",
    image_shape: tuple[int, ...] | None = None,
) -> torch.Tensor:
    """A copy of the image batch ``x`` with the trigger square stamped on each image."""
    x = torch.as_tensor(x)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be an integer >= 1 (the trigger's side in pixels); got {size!r}")
    if corner not in CORNERS:
        raise ValueError(f"corner must be one of {CORNERS}; got {corner!r}")
    flat_shape = None
    if image_shape is not None:
        image_shape = tuple(int(s) for s in image_shape)
        if len(image_shape) < 2 or x.dim() < 1 or math.prod(x.shape[1:]) != math.prod(image_shape):
            raise ValueError(
                f"image_shape {image_shape} must be (H, W) or (C, H, W) with as many values "
                f"as one sample of x (x has shape {tuple(x.shape)})"
            )
        flat_shape = x.shape
        x = x.reshape(x.shape[0], *image_shape)
    if x.dim() < 3:
        raise ValueError(
            f"x must be a batch of images (N, ..., H, W); got shape {tuple(x.shape)}; "
            "for flat features pass image_shape=(H, W)"
        )
    h, w = x.shape[-2], x.shape[-1]
    if size > min(h, w):
        raise ValueError(f"trigger size {size} does not fit images of {h}x{w}")
    rows = slice(h - size, h) if corner.startswith("bottom") else slice(0, size)
    cols = slice(w - size, w) if corner.endswith("right") else slice(0, size)
    out = x.clone()
    out[..., rows, cols] = value
    return out if flat_shape is None else out.reshape(flat_shape)


def _check_target(target, num_classes: int) -> int:
    if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < num_classes:
        raise ValueError(f"target must be a class in [0, {num_classes}); got {target!r}")
    return target


def poison(
    x,
    y,
    *,
    target: int,
    fraction: float,
    num_classes: int,
    generator: torch.Generator | None = None,
    **trigger,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x', y', idx)``: ``floor(fraction · N)`` samples, drawn without
    replacement with ``generator``, get the trigger and label ``target``.

    ``idx`` (sorted) are the poisoned rows; ``trigger`` goes to
    :func:`apply_trigger`.
    """
    target = _check_target(target, num_classes)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be a number in [0, 1]; got {fraction!r}")
    x = torch.as_tensor(x)
    y = torch.as_tensor(y).to(torch.int64)
    n = x.shape[0]
    k = math.floor(fraction * n)
    idx = torch.sort(torch.randperm(n, generator=generator)[:k]).values
    x_out, y_out = x.clone(), y.clone()
    if k:
        x_out[idx] = apply_trigger(x[idx], **trigger)
        y_out[idx] = target
    return x_out, y_out, idx


def backdoor(
    dataset,
    *,
    target: int,
    fraction: float = 0.1,
    generator: torch.Generator | None = None,
    **trigger,
):
    """The worker's dataset with a ``fraction`` of its samples backdoored."""
    x, y, c = dataset_parts(dataset)
    x2, y2, _ = poison(x, y, target=target, fraction=fraction, num_classes=c, generator=generator, **trigger)
    return rebuild(dataset, x2, y2)


def nontarget(x, y, target: int) -> torch.Tensor:
    """The samples of ``x`` whose label is not ``target`` (the ASR test set)."""
    y = torch.as_tensor(y)
    return torch.as_tensor(x)[y != target]


def _predicted_labels(outputs: torch.Tensor) -> torch.Tensor:
    if outputs.dim() == 2:
        return outputs.argmax(dim=1)
    if outputs.dim() == 1 and not outputs.is_floating_point():
        return outputs
    raise ValueError(
        f"outputs must be logits (N, C) or integer labels (N,); got shape {tuple(outputs.shape)}, dtype {outputs.dtype}"
    )


def attack_success_rate(
    predict: Callable[[torch.Tensor], torch.Tensor] | torch.Tensor,
    x_clean_nontarget=None,
    *,
    target: int,
    batch_size: int = 1024,
    **trigger,
) -> float:
    """Share of triggered non-target images classified as ``target``.

    ``predict``: a callable (e.g. the model) mapping an image batch to logits
    ``(N, C)`` or labels ``(N,)``; it is applied under ``torch.no_grad`` to
    ``apply_trigger(x_clean_nontarget, **trigger)`` in batches. Or the outputs
    themselves, already computed on triggered images; then leave
    ``x_clean_nontarget`` out.
    """
    if isinstance(target, bool) or not isinstance(target, int) or target < 0:
        raise ValueError(f"target must be a class index >= 0; got {target!r}")
    if isinstance(predict, torch.Tensor):
        if x_clean_nontarget is not None:
            raise ValueError("pass either outputs (without x_clean_nontarget) or a predict callable with x, not both")
        labels = _predicted_labels(predict)
    else:
        if not callable(predict) or x_clean_nontarget is None:
            raise ValueError("attack_success_rate needs a predict callable and x_clean_nontarget, or outputs")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1; got {batch_size!r}")
        xt = apply_trigger(x_clean_nontarget, **trigger)
        parts = [torch.empty(0, dtype=torch.int64)]
        with torch.no_grad():
            for i in range(0, len(xt), batch_size):
                parts.append(_predicted_labels(torch.as_tensor(predict(xt[i : i + batch_size]))))
        labels = torch.cat(parts)
    if labels.numel() == 0:
        raise ValueError("attack success rate is undefined on an empty set of non-target images")
    return float((labels == target).to(torch.float64).mean())
