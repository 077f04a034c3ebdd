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

:func:`resize_magick` reproduces ImageMagick's ``-resize`` (Mitchell filter) for the de-identification
renderer that stands in for the paper's ``convert`` command.
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


def split_batch(x, *, name: str = "images", channels: tuple[int, ...] = (1, 3)) -> tuple[np.ndarray, bool]:
    """Return ``(batch, was_single)`` for modules that take gray and colour images alike: HxW and HxWxC
    (``C`` in ``channels``) are one image, NxHxW and NxHxWxC a batch. The batch keeps the input's layout
    (a single HxW image becomes 1xHxW; unlike :func:`as_image_batch`, which reads every 3-D array as one
    HxWxC image and gives NxHxWxC)."""
    check_uint8(x, name)
    single = x.ndim == 2 or (x.ndim == 3 and x.shape[-1] in channels)
    batch = x[None] if single else x
    if batch.ndim not in (3, 4) or (batch.ndim == 4 and batch.shape[-1] not in channels):
        chans = " or ".join(map(str, channels))
        raise InputError(f"{name}: expected HxW(xC) or NxHxW(xC) with C = {chans}, got shape {x.shape}")
    return batch, single


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


def _mitchell(t: np.ndarray) -> np.ndarray:
    """The Mitchell-Netravali cubic (B = C = 1/3), ImageMagick's filter named ``Mitchell``."""
    t = np.abs(t)
    b = c = 1.0 / 3.0
    near = ((12 - 9 * b - 6 * c) * t**3 + (-18 + 12 * b + 6 * c) * t**2 + (6 - 2 * b)) / 6
    far = ((-b - 6 * c) * t**3 + (6 * b + 30 * c) * t**2 + (-12 * b - 48 * c) * t + (8 * b + 24 * c)) / 6
    return np.where(t < 1, near, np.where(t < 2, far, 0.0))


def _magick_weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """ImageMagick's resize along one axis as taps: output pixel ``i`` is ``sum_k w[i, k] * x[idx[i, k]]``,
    centred at ``(i + 0.5) * n_in / n_out``, the filter widened by the shrink factor (never narrowed) and
    normalised; ``idx`` and ``w`` are ``n_out x taps`` (padding taps have weight 0)."""
    scale = n_in / n_out
    support = 2.0 * max(scale, 1.0)  # the Mitchell filter's support (2) in input pixels
    centre = (np.arange(n_out) + 0.5) * scale
    first = np.floor(centre - support).astype(np.int64)
    taps = int(np.ceil(2 * support)) + 2
    idx = first[:, None] + np.arange(taps)[None, :]
    w = _mitchell((idx + 0.5 - centre[:, None]) / max(scale, 1.0))
    w[(idx < 0) | (idx >= n_in)] = 0.0
    w /= w.sum(axis=1, keepdims=True)
    return np.clip(idx, 0, n_in - 1), w


def _magick_pass(x: np.ndarray, axis: int, size: int) -> np.ndarray:
    idx, w = _magick_weights(x.shape[axis], size)
    w = w.astype(np.float32)
    shape = [1] * x.ndim
    shape[axis] = size
    out = np.zeros(x.shape[:axis] + (size,) + x.shape[axis + 1 :], np.float32)
    for k in range(idx.shape[1]):
        out += w[:, k].reshape(shape) * np.take(x, idx[:, k], axis=axis)
    return out


def resize_magick(image: np.ndarray, size: int) -> np.ndarray:
    """One uint8 HxW or HxWxC image resized to ``size`` x ``size`` as ImageMagick 6's ``-resize SxS!`` does it
    for an image with an alpha channel (an SVG rendered by ImageMagick has one), read back as 8 bits:

    * the Mitchell filter (:func:`_magick_weights`), one axis after the other: across the columns first when
      the image grows, down the rows first when it shrinks, the intermediate image clamped to the value
      range (ImageMagick's ``HorizontalFilter`` / ``VerticalFilter``);
    * its 16-bit result (``round(257 v)``) read as 8 bits by keeping the high byte, as Pillow reads the
      16-bit PNG ``convert`` writes.
    """
    size = check_size(size, high=MAX_RESIZE_SIDE)
    check_uint8(image)
    if image.ndim not in (2, 3):
        raise InputError(f"image: expected HxW or HxWxC, got shape {image.shape}")
    x = image.astype(np.float32)
    if (size / x.shape[0]) * (size / x.shape[1]) > 1:
        t = _magick_pass(np.clip(_magick_pass(x, 1, size), 0, 255), 0, size)
    else:
        t = _magick_pass(np.clip(_magick_pass(x, 0, size), 0, 255), 1, size)
    q16 = np.rint(np.clip(t, 0, 255) * 257.0)
    return (q16 // 256).astype(np.uint8)


def resize_each(images: np.ndarray, size: int, *, method: ResizeMethod = "bilinear") -> np.ndarray:
    """Resize every image of a batch whose images may be HxW (an NxHxW array) or HxWxC (NxHxWxC)."""
    check_uint8(images)
    if images.ndim == 3:  # N x H x W grayscale batch
        return resize(images[..., None], size, method=method)[..., 0]
    if images.ndim != 4:
        raise InputError(f"images: expected a batch NxHxW or NxHxWxC, got shape {images.shape}")
    return resize(images, size, method=method)
