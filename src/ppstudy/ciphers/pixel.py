"""Pixel-based image encryption of Sirichotedumrong, Maekawa, Kinoshita and Kiya (ICIP 2019).

Step 2 (negative-positive transform): every colour value ``p`` of every pixel is kept or replaced by
``p XOR (2^L - 1)`` (= ``255 - p`` for ``L = 8``) according to a key bit ``r(i)`` with ``P(r(i)) = 0.5``.
Step 3 (optional colour shuffle): the three colour components of every pixel are permuted by one of the
six permutations of Table 1, selected per pixel by the key. One key is used for a whole data set (training
and test), so that a network can learn from the encrypted images.

The key space (Eq. 4) is ``N(n) = 2^{3n} * 6^n`` for ``n = X * Y`` pixels (``2^{3n}`` with step 2 only).

Implementation: the key precomputes the cipher as one gather index and one XOR mask over the flattened
``H*W*3`` values (``y = x[gather] ^ mask``), so a batch is encrypted with one ``np.take`` and one
``uint8`` XOR; step 2 alone is a single XOR. ``key.torch_transform(device)`` gives the same map as a torch
callable on uint8 NCHW batches on any device (for :func:`ppstudy.train.fit`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ppstudy import InputError, validate
from ppstudy.ciphers.base import (
    GatherXorCipher,
    KeySpace,
    check_exact,
    flat_batch,
    freeze,
    image_shape,
    rng_from,
    unflat,
)

#: Table 1: random integer -> which plain component goes to output R, G, B (0 = R, 1 = G, 2 = B)
TABLE1 = np.array([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]], dtype=np.int64)


@dataclass(frozen=True, eq=False)
class PixelKey(GatherXorCipher):
    """Key of the pixel-based cipher for images of ``shape`` (H, W, 3).

    ``negpos[h, w, c]`` is the bit ``r(i)`` of step 2 for plain component ``c`` of pixel ``(h, w)``;
    ``shuffle[h, w]`` is the Table 1 integer (0..5) of step 3, or all 0 (identity) when ``steps == (2,)``.
    """

    shape: tuple[int, int, int]
    steps: tuple[int, ...]
    negpos: np.ndarray = field(repr=False)
    shuffle: np.ndarray = field(repr=False)
    gather: np.ndarray = field(repr=False, init=False)
    mask: np.ndarray = field(repr=False, init=False)
    inverse: np.ndarray = field(repr=False, init=False)
    inverse_mask: np.ndarray = field(repr=False, init=False)

    def __post_init__(self):
        shape = image_shape(self.shape, colour="pixel-based encryption")
        if self.steps not in ((2,), (2, 3)):
            raise InputError(f"steps must be (2,) or (2, 3), got {self.steps!r}")
        negpos = np.asarray(self.negpos)
        shuffle = np.asarray(self.shuffle)
        if negpos.shape != shape or negpos.dtype != bool:
            raise InputError(f"negpos must be a bool array of shape {shape}, got {negpos.dtype} {negpos.shape}")
        if (
            shuffle.shape != shape[:2]
            or not np.issubdtype(shuffle.dtype, np.integer)
            or shuffle.size
            and (shuffle.min() < 0 or shuffle.max() > 5)
        ):
            raise InputError(f"shuffle must be integers 0..5 of shape {shape[:2]}")
        if self.steps == (2,) and shuffle.any():
            raise InputError("a step-2-only key must not shuffle colours")
        h, w, _ = shape
        base = (np.arange(h * w) * 3)[:, None]
        gather = (base + TABLE1[shuffle.reshape(-1)]).reshape(-1)  # y[j] = x[gather[j]]
        mask = (negpos.reshape(-1).astype(np.uint8) * np.uint8(255))[gather]
        freeze(self, shape=shape, negpos=negpos, shuffle=shuffle, gather=gather, mask=mask)
        self._compile_inverse()

    @property
    def n_pixels(self) -> int:
        return self.shape[0] * self.shape[1]

    def __repr__(self) -> str:
        return f"PixelKey(shape={self.shape}, steps={self.steps})"


def keygen(shape, *, seed: int | np.random.SeedSequence | None = None, shuffle: bool = True) -> PixelKey:
    """A random key for images of ``shape`` (H, W, 3); ``shuffle=False`` gives step 2 only.

    ``seed=None`` draws from OS entropy through ``numpy.random.SeedSequence``.
    """
    shape = image_shape(shape, colour="pixel-based encryption")
    shuffle = validate.boolean("shuffle", shuffle)
    rng = rng_from(seed)
    negpos = rng.integers(0, 2, shape).astype(bool)
    sh = rng.integers(0, 6, shape[:2]) if shuffle else np.zeros(shape[:2], np.int64)
    return PixelKey(shape, (2, 3) if shuffle else (2,), negpos, sh)


def _check_key(key) -> PixelKey:
    if not isinstance(key, PixelKey):
        raise InputError(f"expected a PixelKey, got {type(key).__name__}")
    return key


def encrypt(x: np.ndarray, key: PixelKey) -> np.ndarray:
    """Encrypt a uint8 image (H, W, 3) or batch (N, H, W, 3), N = 0 included, with ``key``."""
    key = _check_key(key)
    if key.steps == (2, 3):
        return key.apply(x)
    xf, lead, flat = flat_batch(x, key.shape, "images")  # step 2 alone is one XOR, no gather
    return unflat(np.bitwise_xor(xf, key.mask), lead, flat, key.shape)


def decrypt(y: np.ndarray, key: PixelKey) -> np.ndarray:
    """Exact inverse of :func:`encrypt`."""
    key = _check_key(key)
    if key.steps == (2, 3):
        return key.invert(y)
    yf, lead, flat = flat_batch(y, key.shape, "cipher images")
    return unflat(np.bitwise_xor(yf, key.mask), lead, flat, key.shape)


def key_space(shape, *, shuffle: bool = True, exact: bool = False) -> KeySpace:
    """``N(n) = 2^{3n} * 6^n`` (Eq. 4) for ``n = H * W`` pixels; ``2^{3n}`` for step 2 only.

    Every key gives a distinct cipher (a brute-force count on a 1x1 image: 48, tested). ``exact=True``
    also gives the integer.
    """
    h, w, _ = image_shape(shape, colour="pixel-based encryption", max_values=None)
    shuffle = validate.boolean("shuffle", shuffle)
    n = h * w
    bits = 3 * n + (n * math.log2(6) if shuffle else 0.0)
    return KeySpace.of(2 ** (3 * n) * (6**n if shuffle else 1)) if check_exact(exact, bits) else KeySpace(bits)
