"""Pixel-based image encryption of Sirichotedumrong, Maekawa, Kinoshita and Kiya (ICIP 2019).

Step 2 (negative-positive transform): every colour value ``p`` of every pixel is kept or replaced by
``p XOR (2^L - 1)`` (= ``255 - p`` for ``L = 8``) according to a key bit ``r(i)`` with ``P(r(i)) = 0.5``.
Step 3 (optional colour shuffle): the three colour components of every pixel are permuted by one of the
six permutations of Table 1, selected per pixel by the key. One key is used for a whole data set (training
and test), so that a network can learn from the encrypted images.

The key space (Eq. 4) is ``N(n) = 2^{3n} * 6^n`` for ``n = X * Y`` pixels (``2^{3n}`` with step 2 only).

Implementation: the key precomputes the cipher as one gather index and one XOR mask over the flattened
``H*W*3`` values (``y = x[gather] ^ mask``), so a batch is encrypted with one ``np.take`` and one
``uint8`` XOR; step 2 alone is a single XOR. :func:`torch_transform` gives the same map as a torch callable
on uint8 NCHW batches on any device (for :func:`ppstudy.train.fit`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ppstudy import InputError
from ppstudy.images import check_uint8
from ppstudy.ciphers._common import gather_xor, image_shape

#: Table 1: random integer -> which plain component goes to output R, G, B (0 = R, 1 = G, 2 = B)
TABLE1 = np.array([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]], dtype=np.int64)
_TABLE1_INV = np.argsort(TABLE1, axis=1)




@dataclass(frozen=True, eq=False)
class PixelKey:
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

    def __post_init__(self):
        shape = image_shape(self.shape, colour="pixel-based encryption")
        if self.steps not in ((2,), (2, 3)):
            raise InputError(f"steps must be (2,) or (2, 3), got {self.steps!r}")
        negpos = np.asarray(self.negpos)
        shuffle = np.asarray(self.shuffle)
        if negpos.shape != shape or negpos.dtype != bool:
            raise InputError(f"negpos must be a bool array of shape {shape}, got {negpos.dtype} {negpos.shape}")
        if shuffle.shape != shape[:2] or not np.issubdtype(shuffle.dtype, np.integer) or \
                shuffle.size and (shuffle.min() < 0 or shuffle.max() > 5):
            raise InputError(f"shuffle must be integers 0..5 of shape {shape[:2]}")
        if self.steps == (2,) and shuffle.any():
            raise InputError("a step-2-only key must not shuffle colours")
        h, w, _ = shape
        base = (np.arange(h * w) * 3)[:, None]
        gather = (base + TABLE1[shuffle.reshape(-1)]).reshape(-1)  # y[j] = x[gather[j]]
        mask = (negpos.reshape(-1).astype(np.uint8) * np.uint8(255))[gather]
        for name, v in (("shape", shape), ("negpos", negpos), ("shuffle", shuffle), ("gather", gather),
                        ("mask", mask), ("inverse", np.argsort(gather))):
            if isinstance(v, np.ndarray):
                v = v.copy()
                v.setflags(write=False)
            object.__setattr__(self, name, v)

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
    rng = np.random.default_rng(seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed))
    negpos = rng.integers(0, 2, shape).astype(bool)
    sh = rng.integers(0, 6, shape[:2]) if shuffle else np.zeros(shape[:2], np.int64)
    return PixelKey(shape, (2, 3) if shuffle else (2,), negpos, sh)


def _check(x, key, what):
    if not isinstance(key, PixelKey):
        raise InputError(f"expected a PixelKey, got {type(key).__name__}")
    check_uint8(x, what)
    if x.shape == key.shape:
        return x.reshape(1, -1), None
    if x.ndim == 4 and x.shape[1:] == key.shape:
        return np.ascontiguousarray(x).reshape(x.shape[0], -1), x.shape[0]
    raise InputError(f"{what}: shape {x.shape} does not fit the key, made for images of shape {key.shape} "
                     f"(one image or a batch N x {' x '.join(map(str, key.shape))})")




def encrypt(x: np.ndarray, key: PixelKey) -> np.ndarray:
    """Encrypt a uint8 image (H, W, 3) or batch (N, H, W, 3) with ``key``."""
    xf, n = _check(x, key, "images")
    out = np.bitwise_xor(xf, key.mask) if key.steps == (2,) else gather_xor(xf, key.gather, key.mask)
    return out.reshape(key.shape if n is None else (n, *key.shape))


def decrypt(y: np.ndarray, key: PixelKey) -> np.ndarray:
    """Exact inverse of :func:`encrypt`."""
    yf, n = _check(y, key, "cipher images")
    if key.steps == (2,):
        out = np.bitwise_xor(yf, key.mask)
    else:  # x[gather[j]] = y[j] ^ mask[j]
        out = gather_xor(yf, key.inverse, key.mask[key.inverse])
    return out.reshape(key.shape if n is None else (n, *key.shape))


def key_space(shape, *, shuffle: bool = True) -> int:
    """``N(n) = 2^{3n} * 6^n`` (Eq. 4) for ``n = H * W`` pixels; ``2^{3n}`` for step 2 only (exact int)."""
    h, w, _ = image_shape(shape, colour="pixel-based encryption")
    n = h * w
    return 2 ** (3 * n) * (6 ** n if shuffle else 1)


def key_space_log2(shape, *, shuffle: bool = True) -> float:
    """``log2 N(n) = 3n + n log2 6`` (``3n`` for step 2 only)."""
    h, w, _ = image_shape(shape, colour="pixel-based encryption")
    n = h * w
    return 3 * n + (n * math.log2(6) if shuffle else 0.0)


def torch_transform(key: PixelKey, device=None):
    """The cipher as a torch callable on uint8 NCHW batches (on ``device``), for the training loop."""
    from ppstudy.train import gather_xor_transform

    return gather_xor_transform(key.gather, key.mask, key.shape, device=device)
