"""The negative-positive fold: what ``v -> 255 - v`` leaves of an image, with no key at all.

Threat model: ciphertext only, one image at a time; the attacker holds no key, no plaintext and no public
images. The negative-positive step of the pixel-based cipher (step 2, one key bit per colour value) and of
EtC (one bit per block) replaces a value ``v`` by ``255 - v`` or keeps it. The fold

    fold(v) = min(v, 255 - v)

maps both to the same value, so the fold of a cipher image is the fold of its plain image wherever the
only step that changes values is the negative-positive one (ahchang98/image-encryption-scheme-attacks
folds the pixel cipher this way). The colour shuffle of step 3 (and EtC's) permutes the three values of a
pixel (of a block), which the fold keeps per value; the *grayscale* fold, the sum of the three folded
values, no longer depends on their order, so it survives steps 2 and 3 together.

What the fold gives the attacker as an image (:func:`reconstruct`) is the fold itself: exact on every value
below 128 and ``255 - v`` on the others (on CIFAR-10 test images the fold, as it is, is closer to the
original, in SSIM, than its negative or its stretch to 0..254: the chapter measures it). Schemes that move
pixels (EtC's scrambling, the cat map) keep the fold of every moved value, so the fold also feeds the
jigsaw solver (:mod:`ppstudy.attacks.jigsaw`), which treats the negative-positive flip itself.
"""

from __future__ import annotations

import numpy as np

from ppstudy import InputError
from ppstudy.images import check_uint8


def fold(x: np.ndarray) -> np.ndarray:
    """``min(v, 255 - v)`` of every value of a uint8 array (any shape): values 0..127."""
    check_uint8(x, "images")
    return np.minimum(x, np.uint8(255) - x)


def fold_gray(x: np.ndarray) -> np.ndarray:
    """The grayscale fold of colour images (``... x H x W x C``): per pixel the sum of the folded channel
    values, rounded to their mean (``(s + 1) // C``), as uint8 ``... x H x W``. It depends only on the
    multiset of the pixel's folded values, so any permutation of a pixel's channels leaves it unchanged."""
    check_uint8(x, "images")
    if x.ndim < 3:
        raise InputError(f"fold_gray: expected images ... x H x W x C, got shape {x.shape}")
    c = x.shape[-1]
    s = fold(x).astype(np.uint16).sum(axis=-1)
    return ((s + c // 2) // c).astype(np.uint8)


def reconstruct(y: np.ndarray, *, gray: bool = False) -> np.ndarray:
    """The attacker's picture of cipher images ``y`` (``N x H x W x C`` or one image): the fold, or with
    ``gray`` the grayscale fold repeated over the channels (for ciphers that also shuffle colours)."""
    check_uint8(y, "cipher images")
    if not isinstance(gray, (bool, np.bool_)):
        raise InputError(f"reconstruct: gray must be True or False, got {gray!r}")
    if not gray:
        return fold(y)
    g = fold_gray(y)
    return np.repeat(g[..., None], y.shape[-1], axis=-1)
