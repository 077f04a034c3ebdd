"""Pieces every permutation cipher shares: the key's image-shape check and the batched gather + XOR."""

from __future__ import annotations

import numpy as np

from ppstudy import InputError


def image_shape(shape, *, colour: str | None = None) -> tuple[int, int, int]:
    """``(H, W)`` or ``(H, W, C)`` as a checked ``(H, W, C)`` tuple (``(H, W)`` means one channel).

    ``colour``: a cipher that needs ``(H, W, 3)`` images passes its own name here; ``(H, W)`` then means
    ``(H, W, 3)`` and any other channel count is refused with a message naming the cipher.
    """
    form = "(H, W, 3)" if colour else "(H, W) or (H, W, C)"
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise InputError(f"image shape must be {form}, got {shape!r}") from None
    if len(shape) == 2:
        shape = (*shape, 3 if colour else 1)
    if colour and (len(shape) != 3 or shape[2] != 3 or min(shape) < 1):
        raise InputError(f"{colour} needs colour images of shape (H, W, 3), got {shape!r}")
    if len(shape) != 3 or min(shape) < 1:
        raise InputError(f"image shape must be {form} with positive sizes, got {shape!r}")
    return shape  # type: ignore[return-value]


def gather_xor(xf: np.ndarray, index: np.ndarray, mask: np.ndarray | None, chunk: int = 2048) -> np.ndarray:
    """``out[n, j] = xf[n, index[j]] ^ mask[j]`` for a batch of flattened uint8 images.

    ``index`` must be a checked permutation (``mode="clip"`` then never clips, and is several times faster
    than numpy's default bounds-checked take). Chunks of images keep the working set in cache; the loop is
    over chunks of whole images, never over pixels. ``mask=None`` skips the XOR.
    """
    out = np.empty((xf.shape[0], index.size), np.uint8)
    for i in range(0, xf.shape[0], chunk):
        o = out[i:i + chunk]
        np.take(xf[i:i + chunk], index, axis=1, out=o, mode="clip")
        if mask is not None:
            np.bitwise_xor(o, mask, out=o)  # uint8: v ^ 255 == 255 - v
    return out
