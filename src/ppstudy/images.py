"""Images: the one place that validates image arrays and resizes them.

Every module that takes images (ciphers, metrics, studies, models) checks them here, so that bad input
fails with one :class:`ppstudy.InputError` naming the problem, and resizes them here, so that two
chapters that say "resize" mean the same thing.

Conventions: images are uint8 numpy arrays, ``H x W`` (grayscale), ``H x W x C`` or a batch
``N x H x W x C``. Two resize methods:

* ``"bilinear"``: scikit-image's ``resize`` with ``order=1``, anti-aliased when shrinking, edge padding
  (per image; what the de-identification pipeline uses before tracing);
* ``"area"``: torch's area interpolation when shrinking, bilinear when enlarging (batched; what the
  pair CNNs of the Big Data Cup chapter use).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ppstudy import InputError, validate

ResizeMethod = Literal["bilinear", "area"]

#: the largest side :func:`resize` produces (pixels)
MAX_RESIZE_SIDE = 4096
#: the most output values (N * size * size * C) one :func:`resize` call may produce: 2^28 (256 MiB of uint8),
#: checked before anything is allocated (``resize(x, 100000)`` would otherwise ask for hundreds of GiB)
MAX_RESIZE_VALUES = 1 << 28


# ---------------------------------------------------------------------- validation
def check_uint8(x, name: str = "images") -> None:
    """Raise unless ``x`` is a uint8 numpy array (the contract of every cipher)."""
    if not isinstance(x, np.ndarray):
        raise InputError(f"{name}: expected a numpy array, got {type(x).__name__}")
    if x.dtype != np.uint8:
        raise InputError(f"{name}: expected dtype uint8, got {x.dtype}")


def as_image_batch(x, *, name: str = "images", channels: tuple[int, ...] | None = None) -> tuple[np.ndarray, bool]:
    """Return ``(batch, was_single)`` for a uint8 image or batch.

    Accepts HxW, HxWxC or NxHxWxC uint8 arrays. A single image becomes a batch of one;
    ``was_single`` tells the caller to strip the batch axis again. Grayscale HxW becomes HxWx1.
    """
    check_uint8(x, name)
    single = False
    if x.ndim == 2:
        x, single = x[None, :, :, None], True
    elif x.ndim == 3:
        x, single = x[None], True
    elif x.ndim != 4:
        raise InputError(f"{name}: expected HxW, HxWxC or NxHxWxC, got shape {x.shape}")
    if channels is not None and x.shape[-1] not in channels:
        raise InputError(f"{name}: expected {' or '.join(map(str, channels))} channels, got shape {x.shape}")
    return x, single


def strip_single(x: np.ndarray, single: bool, ndim_in: int) -> np.ndarray:
    """Undo :func:`as_image_batch` for a single image (restoring HxW for 2-D input)."""
    if not single:
        return x
    x = x[0]
    return x[:, :, 0] if ndim_in == 2 else x


def check_size(size, name: str = "size", *, low: int = 1, high: int | None = None) -> int:
    """A checked positive integer side length in ``low..high`` (:func:`ppstudy.validate.integer`)."""
    return validate.integer(name, size, low=low, high=high or None)


# ---------------------------------------------------------------------- resizing
def _bilinear(img: np.ndarray, size: int) -> np.ndarray:
    from skimage.transform import resize as _resize

    if img.shape[:2] == (size, size):
        return img
    shrink = size < max(img.shape[:2])
    out = _resize(img, (size, size) + img.shape[2:], order=1, preserve_range=True, anti_aliasing=shrink, mode="edge")
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _area(x: np.ndarray, size: int, chunk: int = 256) -> np.ndarray:
    import torch
    from torch import nn

    if x.shape[1:3] == (size, size):
        return x
    chunk = validate.positive_int("chunk", chunk)
    out = np.empty((x.shape[0], size, size, x.shape[3]), np.uint8)
    for i in range(0, len(x), chunk):
        t = torch.from_numpy(np.ascontiguousarray(x[i : i + chunk])).permute(0, 3, 1, 2).float()
        r = nn.functional.interpolate(t, size=(size, size), mode="area" if size < x.shape[1] else "bilinear")
        out[i : i + chunk] = r.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return out


def resize(images: np.ndarray, size: int, *, method: ResizeMethod = "bilinear") -> np.ndarray:
    """Resize one uint8 image (HxW or HxWxC) or a batch (NxHxWxC) to ``size`` x ``size``; the layout is
    kept. (A 3-D array is read as one HxWxC image; for an NxHxW grayscale batch use :func:`resize_each`.)"""
    size = check_size(size, high=MAX_RESIZE_SIDE)
    check_uint8(images)
    if method not in ("bilinear", "area"):
        raise InputError(f"resize method must be 'bilinear' or 'area', got {method!r}")
    n = images.shape[0] if images.ndim == 4 else 1
    c = images.shape[-1] if images.ndim >= 3 else 1
    validate.at_most(
        f"resize output ({n} x {size} x {size} x {c} values)",
        n * size * size * c,
        MAX_RESIZE_VALUES,
        "MAX_RESIZE_VALUES",
    )
    if images.ndim == 4:
        if method == "area":
            return _area(images, size)
        if not len(images):
            return np.zeros((0, size, size, images.shape[3]), np.uint8)
        return np.stack([_bilinear(im, size) for im in images])
    if images.ndim not in (2, 3):
        raise InputError(f"images: expected HxW, HxWxC or NxHxWxC, got shape {images.shape}")
    if method == "area":
        b, single = as_image_batch(images)
        return strip_single(_area(b, size), single, images.ndim)
    return _bilinear(images, size)


def resize_each(images: np.ndarray, size: int, *, method: ResizeMethod = "bilinear") -> np.ndarray:
    """Resize every image of a batch whose images may be HxW (an NxHxW array) or HxWxC (NxHxWxC)."""
    check_uint8(images)
    if images.ndim == 3:  # N x H x W grayscale batch
        return resize(images[..., None], size, method=method)[..., 0]
    if images.ndim != 4:
        raise InputError(f"images: expected a batch NxHxW or NxHxWxC, got shape {images.shape}")
    return resize(images, size, method=method)
