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

from ppstudy import InputError, validate
from ppstudy.ciphers.base import GatherXorCipher, KeySpace, freeze, image_shape, rng_from

BURN_IN = 1000
RC4_DROP = 3072
#: the most iterates (``n + burn_in``) :func:`logistic_sequence` and keystream bytes (``n + drop``)
#: :func:`rc4_keystream` produce in one call: 2^26 (pure Python loops; a 3344 x 3344 x 3 key needs 2^25)
MAX_STREAM = 1 << 26


def logistic_sequence(x0: float, mu: float, n: int, burn_in: int = BURN_IN) -> np.ndarray:
    """``n`` iterates of the logistic map after ``burn_in`` discarded ones (float64)."""
    ok = isinstance(x0, (int, float, np.integer, np.floating)) and isinstance(mu, (int, float, np.integer, np.floating))
    ok = ok and not isinstance(x0, (bool, np.bool_)) and not isinstance(mu, (bool, np.bool_))
    if not ok or not (0.0 < x0 < 1.0) or not (3.57 < mu <= 4.0):
        raise InputError(f"logistic map needs 0 < x0 < 1 and 3.57 < mu <= 4 (chaotic regime), got x0={x0!r}, mu={mu!r}")
    n = validate.integer("n", n, low=0)
    burn_in = validate.integer("burn_in", burn_in, low=0)
    validate.at_most("logistic map iterates (n + burn_in)", n + burn_in, MAX_STREAM, "MAX_STREAM")
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
        raise InputError(f"RC4 key must be 1 to 256 bytes, got {key!r:.80}")
    n = validate.integer("n", n, low=0)
    drop = validate.integer("drop", drop, low=0)
    validate.at_most("RC4 keystream bytes (n + drop)", n + drop, MAX_STREAM, "MAX_STREAM")
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


#: below this many distinct positions among the first iterates the map is in (or near) a periodic orbit
#: or a fixed point (x0 = 0.5, mu = 4 gives 0.5 -> 1 -> 0 -> 0 ...): such a key gives no permutation at all
MIN_DISTINCT_FRACTION = 0.99


def _weak_orbit(seq: np.ndarray) -> int | None:
    """The number of distinct values of a logistic sequence that falls into a short periodic orbit (fewer
    than :data:`MIN_DISTINCT_FRACTION` of its length: a weak key), or None for a usable one."""
    n = np.unique(seq).size
    return n if seq.size > 1 and n < MIN_DISTINCT_FRACTION * seq.size else None


@dataclass(frozen=True, eq=False)
class ChaoticKey(GatherXorCipher):
    """Secret ``(x0, mu, rc4_key)`` and the derived pixel permutation and keystream for ``shape``."""

    shape: tuple[int, int, int]
    x0: float
    mu: float
    rc4_key: bytes = field(repr=False)
    gather: np.ndarray = field(repr=False, init=False)
    mask: np.ndarray = field(repr=False, init=False)
    inverse: np.ndarray = field(repr=False, init=False)
    inverse_mask: np.ndarray = field(repr=False, init=False)

    def __post_init__(self):
        shape = image_shape(self.shape)
        h, w, c = shape
        if not isinstance(self.rc4_key, (bytes, bytearray)):  # bytes(5) would be five zero bytes
            raise InputError(f"chaotic key: rc4_key must be bytes, got {type(self.rc4_key).__name__}")
        seq = logistic_sequence(self.x0, self.mu, h * w)
        distinct = _weak_orbit(seq)
        if distinct is not None:
            raise InputError(
                f"chaotic key: x0={self.x0}, mu={self.mu} is a weak key (the logistic map falls into "
                f"a periodic orbit: {distinct} distinct values for {h * w} pixels, so "
                f"the permutation is (nearly) the identity); draw another key"
            )
        pix = np.argsort(seq, kind="stable")
        gather = (pix[:, None] * c + np.arange(c)[None]).reshape(-1)
        mask = rc4_keystream(bytes(self.rc4_key), h * w * c)
        freeze(self, shape=shape, gather=gather, mask=mask)
        self._compile_inverse()

    def __repr__(self) -> str:
        return f"ChaoticKey(shape={self.shape})"


def keygen(shape, *, seed: int | np.random.SeedSequence | None = None) -> ChaoticKey:
    """A random key: ``x0`` in (0, 1), ``mu`` in (3.99, 4) and a 16-byte RC4 key. A weak ``(x0, mu)`` (the
    map falls into a short periodic orbit for this shape, which :class:`ChaoticKey` refuses) is drawn again
    from the same generator, so a seed still gives one key."""
    shape = image_shape(shape)
    rng = rng_from(seed)
    for _ in range(_KEYGEN_TRIES):
        x0 = float(rng.uniform(0.01, 0.99))
        mu = float(rng.uniform(3.99, 4.0))
        rc4 = rng.bytes(16)
        if _weak_orbit(logistic_sequence(x0, mu, shape[0] * shape[1])) is None:
            return ChaoticKey(shape, x0, mu, rc4)
    raise InputError(f"chaotic keygen: {_KEYGEN_TRIES} draws in a row were weak keys for shape {shape}")


_KEYGEN_TRIES = 100


def _check_key(key) -> ChaoticKey:
    if not isinstance(key, ChaoticKey):
        raise InputError(f"expected a ChaoticKey, got {type(key).__name__}")
    return key


def encrypt(x: np.ndarray, key: ChaoticKey) -> np.ndarray:
    """Encrypt uint8 images of the key's shape (one image or a batch, N = 0 included)."""
    return _check_key(key).apply(x)


def decrypt(y: np.ndarray, key: ChaoticKey) -> np.ndarray:
    """Exact inverse of :func:`encrypt`."""
    return _check_key(key).invert(y)


def key_space(shape=(32, 32, 3), *, rc4_key_bytes: int = 16, float_bits: int = 52) -> KeySpace:
    """Nominal key space: RC4 key bits plus the mantissa bits of ``x0`` and ``mu``. An upper bound
    (``bound=True``): the map's sensitivity, not the count, limits distinct permutations."""
    image_shape(shape, max_values=None)
    rc4_key_bytes = validate.integer("rc4_key_bytes", rc4_key_bytes, low=1, high=256)  # RC4 keys: 1..256 bytes
    float_bits = validate.integer("float_bits", float_bits, low=1, high=64)
    return KeySpace.of(2 ** (8 * rc4_key_bytes) * 2 ** (2 * float_bits), bound=True, counts="keys")
