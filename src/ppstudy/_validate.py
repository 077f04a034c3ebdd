"""Small input checks shared by every cipher and metric, so that bad input fails with one clear line."""

from __future__ import annotations

import numpy as np

from ppstudy import InputError


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


def check_block(shape: tuple[int, ...], block: int, *, name: str = "images") -> None:
    """Raise unless the image height and width are positive multiples of ``block``."""
    if not isinstance(block, (int, np.integer)) or block < 1:
        raise InputError(f"block size must be a positive integer, got {block!r}")
    h, w = shape[1], shape[2]
    if h % block or w % block:
        raise InputError(f"{name}: height and width {h}x{w} are not multiples of the block size {block}")
