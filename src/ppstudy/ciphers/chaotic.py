"""Pixel cipher of the paper's ref. [16] (Gaata and Hantoosh 2016): logistic-map permutation + RC4 keystream.

The reference combines a chaotic logistic map, ``x_{k+1} = mu * x_k * (1 - x_k)``, with the RC4 stream
cipher. Its full text is not in this project, so the details below are our choices (also stated in the
chapter):

* Confusion: the logistic map with secret ``(x0, mu)`` (``mu`` in (3.57, 4), chaotic regime), after 1000
  discarded iterations, gives ``H * W`` values; their ``argsort`` is the permutation of pixel positions
  (the three colour values of a pixel move together).
* Diffusion: RC4 with a secret 16-byte key gives ``H * W * 3`` keystream bytes (after dropping the first
  3072 bytes, "RC4-drop[3072]") that are XORed onto the permuted values.
* One key for the whole data set — as for every cipher in the chapter, since a network can only learn
  from images encrypted with the same key; so the keystream is reused for every image.

The logistic map and RC4 are inherently sequential; they run once per key (``H * W`` and ``H * W * 3``
steps at key generation). Encryption of a batch is one ``np.take`` and one XOR.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ppstudy import InputError
from ppstudy.images import check_uint8
from ppstudy.ciphers._common import gather_xor, image_shape

BURN_IN = 1000
RC4_DROP = 3072


def logistic_sequence(x0: float, mu: float, n: int, burn_in: int = BURN_IN) -> np.ndarray:
    """``n`` iterates of the logistic map after ``burn_in`` discarded ones (float64)."""
    if not (0.0 < x0 < 1.0) or not (3.57 < mu <= 4.0):
        raise InputError(f"logistic map needs 0 < x0 < 1 and 3.57 < mu <= 4 (chaotic regime), got x0={x0}, mu={mu}")
    out = np.empty(n)
    x = float(x0)
    for _ in range(burn_in):
        x = mu * x * (1.0 - x)
    for i in range(n):
        x = mu * x * (1.0 - x)
        out[i] = x
    return out


def rc4_keystream(key: bytes, n: int, drop: int = RC4_DROP) -> np.ndarray:
    """``n`` bytes of RC4 keystream for ``key`` (1..256 bytes), after dropping ``drop`` bytes."""
    if not isinstance(key, (bytes, bytearray)) or not 1 <= len(key) <= 256:
        raise InputError("RC4 key must be 1 to 256 bytes")
    s = list(range(256))
    j = 0
    for i in range(256):  # key scheduling
        j = (j + s[i] + key[i % len(key)]) & 255
        s[i], s[j] = s[j], s[i]
    out = bytearray(n)
    i = j = 0
    for k in range(drop + n):  # pseudo-random generation
        i = (i + 1) & 255
        j = (j + s[i]) & 255
        s[i], s[j] = s[j], s[i]
        if k >= drop:
            out[k - drop] = s[(s[i] + s[j]) & 255]
    return np.frombuffer(bytes(out), np.uint8).copy()




@dataclass(frozen=True, eq=False)
class ChaoticKey:
    """Secret ``(x0, mu, rc4_key)`` and the derived pixel permutation and keystream for ``shape``."""

    shape: tuple[int, int, int]
    x0: float
    mu: float
    rc4_key: bytes = field(repr=False)
    gather: np.ndarray = field(repr=False, init=False)
    mask: np.ndarray = field(repr=False, init=False)
    inverse: np.ndarray = field(repr=False, init=False)

    def __post_init__(self):
        shape = image_shape(self.shape)
        h, w, c = shape
        pix = np.argsort(logistic_sequence(self.x0, self.mu, h * w), kind="stable")
        gather = (pix[:, None] * c + np.arange(c)[None]).reshape(-1)
        mask = rc4_keystream(bytes(self.rc4_key), h * w * c)
        for name, v in (("shape", shape), ("gather", gather), ("mask", mask), ("inverse", np.argsort(gather))):
            if isinstance(v, np.ndarray):
                v.setflags(write=False)
            object.__setattr__(self, name, v)

    def __repr__(self) -> str:
        return f"ChaoticKey(shape={self.shape})"


def keygen(shape, *, seed: int | np.random.SeedSequence | None = None) -> ChaoticKey:
    """A random key: ``x0`` in (0, 1), ``mu`` in (3.99, 4) and a 16-byte RC4 key."""
    shape = image_shape(shape)
    rng = np.random.default_rng(seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed))
    x0 = float(rng.uniform(0.01, 0.99))
    mu = float(rng.uniform(3.99, 4.0))
    return ChaoticKey(shape, x0, mu, rng.bytes(16))


def _batch(x, key, what):
    if not isinstance(key, ChaoticKey):
        raise InputError(f"expected a ChaoticKey, got {type(key).__name__}")
    check_uint8(x, what)
    shape = key.shape
    if x.shape == shape or (shape[2] == 1 and x.shape == shape[:2]):
        return x.reshape(1, -1), x.shape
    if x.ndim >= 3 and (x.shape[1:] == shape or (shape[2] == 1 and x.shape[1:] == shape[:2])):
        return np.ascontiguousarray(x).reshape(x.shape[0], -1), x.shape
    raise InputError(f"{what}: shape {x.shape} does not fit the key, made for images of shape {shape}")




def encrypt(x: np.ndarray, key: ChaoticKey) -> np.ndarray:
    """Encrypt uint8 images of the key's shape (single or batch)."""
    xf, shp = _batch(x, key, "images")
    return gather_xor(xf, key.gather, key.mask).reshape(shp)


def decrypt(y: np.ndarray, key: ChaoticKey) -> np.ndarray:
    """Exact inverse of :func:`encrypt`."""
    yf, shp = _batch(y, key, "cipher images")
    return gather_xor(yf, key.inverse, key.mask[key.inverse]).reshape(shp)


def key_space(rc4_key_bytes: int = 16, float_bits: int = 52) -> int:
    """Nominal key space: RC4 key bits plus the mantissa bits of ``x0`` and ``mu`` (an upper bound; the
    map's sensitivity, not the count, limits distinct permutations)."""
    return 2 ** (8 * rc4_key_bytes) * 2 ** (2 * float_bits)


def torch_transform(key: ChaoticKey, device=None):
    from ppstudy.train import gather_xor_transform

    return gather_xor_transform(key.gather, key.mask, key.shape, device=device)
