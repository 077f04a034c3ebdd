"""Arnold's cat map, per tile or on the whole image: the obfuscation of subtasks 1 and 2 of the IEEE Big Data Cup 2022.

The generalised cat map on an ``n x n`` square moves the pixel at ``(r, c)`` to

    (r', c') = M (r, c) mod n,    M = [[1, a], [b, a*b + 1]],    det M = 1,

so it is a bijection of the square (Chen, Mao and Chui's generalisation; ``a = b = 1`` is Arnold's
original map). The key is ``(a, b, iterations)``: the cipher applies ``M^iterations``. Two modes:

- ``"tile"`` (subtask 1): the canvas is cut into ``tile x tile`` squares (32x32 on a 512x512 canvas)
  and the same map permutes the pixels inside every tile;
- ``"whole"`` (subtask 2): one map on the whole square canvas (``tile`` = canvas side).

Before encryption an image is brought onto the square canvas by :func:`to_canvas` (crop, pad to a
square, scale), as the challenge did. The map is a pixel permutation: :func:`permutation` precomputes
the gather index once per (canvas, tile, matrix) and :func:`encrypt` / :func:`decrypt` are one
``take`` over the whole batch. Every map has a finite period (:func:`period`): applying it that many
times gives the identity, which is why the key's iteration count only matters modulo the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ppstudy import InputError
from ppstudy.images import as_image_batch, strip_single

MODES = ("tile", "whole")

Matrix = tuple[int, int, int, int]  # (m00, m01, m10, m11), row-major, entries in [0, n)


# ---------------------------------------------------------------------- the map as a matrix mod n
def base_matrix(a: int, b: int, n: int) -> Matrix:
    """``M = [[1, a], [b, ab + 1]] mod n``."""
    return (1 % n, a % n, b % n, (a * b + 1) % n)


def _matmul(p: Matrix, q: Matrix, n: int) -> Matrix:
    return ((p[0] * q[0] + p[1] * q[2]) % n, (p[0] * q[1] + p[1] * q[3]) % n,
            (p[2] * q[0] + p[3] * q[2]) % n, (p[2] * q[1] + p[3] * q[3]) % n)


def matrix_power(m: Matrix, k: int, n: int) -> Matrix:
    """``m^k mod n`` by repeated squaring (``k >= 0``)."""
    if k < 0:
        raise InputError(f"iterations must be >= 0, got {k}")
    out: Matrix = (1 % n, 0, 0, 1 % n)
    while k:
        if k & 1:
            out = _matmul(out, m, n)
        m = _matmul(m, m, n)
        k >>= 1
    return out


def matrix_inverse(m: Matrix, n: int) -> Matrix:
    """Inverse of a determinant-1 matrix mod n: ``[[d, -b], [-c, a]]``."""
    det = (m[0] * m[3] - m[1] * m[2]) % n
    if det != 1 % n:
        raise InputError(f"matrix {m} has determinant {det} mod {n}, not 1: not a cat map")
    return (m[3] % n, (-m[1]) % n, (-m[2]) % n, m[0] % n)


@lru_cache(maxsize=4096)
def period(a: int, b: int, n: int) -> int:
    """Smallest ``k >= 1`` with ``M(a, b)^k = I (mod n)``: the map's period on an ``n x n`` square.

    For Arnold's map (``a = b = 1``) this is e.g. 24 for n=32 and 384 for
    n=512; every cat map's period is at most ``3n`` (Dyson and Falk), which bounds the search.
    """
    if n < 1:
        raise InputError(f"side n must be >= 1, got {n}")
    m = base_matrix(a, b, n)
    cur = m
    ident = (1 % n, 0, 0, 1 % n)
    for k in range(1, 6 * n + 2):
        if cur == ident:
            return k
        cur = _matmul(cur, m, n)
    raise AssertionError(f"no period found for a={a}, b={b}, n={n}")  # pragma: no cover - theory bounds it


# ---------------------------------------------------------------------- key
@dataclass(frozen=True)
class CatMapKey:
    """A cat-map key: ``(a, b, iterations)`` on a square canvas, per ``tile`` or whole (``tile == side``).

    ``shape`` is the (H, W) canvas the key fits. The effective permutation is ``M(a, b)^iterations``.
    """

    shape: tuple[int, int]
    tile: int
    a: int
    b: int
    iterations: int

    def __post_init__(self):
        h, w = self.shape
        if h != w:
            raise InputError(f"cat map: canvas must be square, got {h}x{w}")
        if not isinstance(self.tile, (int, np.integer)) or self.tile < 2 or h % self.tile:
            raise InputError(f"cat map: tile {self.tile!r} must be >= 2 and divide the canvas side {h}")
        if self.iterations < 0:
            raise InputError(f"cat map: iterations must be >= 0, got {self.iterations}")

    @property
    def mode(self) -> str:
        return "whole" if self.tile == self.shape[0] else "tile"

    @property
    def matrix(self) -> Matrix:
        """The effective map ``M(a, b)^iterations mod tile`` (equivalent keys share it)."""
        return matrix_power(base_matrix(self.a, self.b, self.tile), self.iterations, self.tile)

    @property
    def period(self) -> int:
        return period(self.a % self.tile, self.b % self.tile, self.tile)

    def to_dict(self) -> dict:
        return {"shape": list(self.shape), "tile": self.tile, "a": self.a, "b": self.b,
                "iterations": self.iterations}

    @classmethod
    def from_dict(cls, d: dict) -> "CatMapKey":
        try:
            return cls(tuple(int(v) for v in d["shape"]), int(d["tile"]), int(d["a"]), int(d["b"]),
                       int(d["iterations"]))
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"cat map key: malformed key record {d!r} ({e})") from None


def _canvas_shape(shape) -> tuple[int, int]:
    if len(shape) not in (2, 3):
        raise InputError(f"cat map: shape must be (H, W) or (H, W, C), got {shape}")
    return int(shape[0]), int(shape[1])


def keygen(shape, *, mode: str = "tile", tile: int = 32, seed=None) -> CatMapKey:
    """A random key for canvases of ``shape`` (H, W[, C]).

    ``a`` and ``b`` are uniform in ``[1, n)`` and ``iterations`` uniform in ``[1, period)``, so the map is
    never the identity. ``seed=None`` draws from OS entropy (``numpy.random.SeedSequence``).
    """
    h, w = _canvas_shape(shape)
    if mode not in MODES:
        raise InputError(f"cat map: mode must be one of {MODES}, got {mode!r}")
    n = h if mode == "whole" else tile
    if h != w:
        raise InputError(f"cat map: canvas must be square, got {h}x{w}")
    if n < 3 or h % n:
        raise InputError(f"cat map: tile {n} must be >= 3 and divide the canvas side {h}")
    rng = np.random.default_rng(seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed))
    while True:
        a, b = (int(v) for v in rng.integers(1, n, size=2))
        p = period(a, b, n)
        if p > 1:
            k = int(rng.integers(1, p))
            return CatMapKey((h, w), n, a, b, k)


def key_space(shape, *, mode: str = "tile", tile: int = 32, exact_limit: int = 64) -> dict:
    """Size of the key space on the map's side ``n``.

    ``parameter_triples`` counts keys ``(a, b, k)`` with ``a, b`` in ``[1, n)`` and ``1 <= k < period``
    (what :func:`keygen` draws from; computed exactly, vectorised over ``(a, b)``). Many triples give
    the same permutation, so ``distinct_permutations`` counts the distinct effective matrices
    ``M(a, b)^k`` exactly when ``n <= exact_limit`` (else None). ``sl2_order`` = |SL(2, Z/n)| bounds
    every count of distinct permutations from above.
    """
    h, _ = _canvas_shape(shape)
    n = h if mode == "whole" else tile
    a, b = np.meshgrid(np.arange(1, n, dtype=np.int64), np.arange(1, n, dtype=np.int64), indexing="ij")
    a, b = a.ravel(), b.ravel()
    base = np.stack([np.ones_like(a), a, b, a * b + 1], 1) % n
    cur, idx = base.copy(), np.arange(len(a))
    ident = np.array([1 % n, 0, 0, 1 % n])
    exact = n <= exact_limit
    seen: set[int] = set()
    triples = 0
    for _ in range(6 * n + 2):
        done = np.all(cur == ident, axis=1)
        cur, idx = cur[~done], idx[~done]
        if not len(idx):
            break
        triples += len(idx)
        if exact:
            seen.update(np.unique(((cur[:, 0] * n + cur[:, 1]) * n + cur[:, 2]) * n + cur[:, 3]).tolist())
        cur = _matmul_arr(cur, base[idx], n)
    primes = [p for p in range(2, n + 1) if n % p == 0 and all(p % q for q in range(2, int(p ** 0.5) + 1))]
    sl2 = n ** 3
    for p in primes:
        sl2 = sl2 * (p * p - 1) // (p * p)
    return {"side": n, "parameter_triples": triples,
            "distinct_permutations": len(seen) if exact else None, "sl2_order": int(sl2),
            "bits": float(np.log2(len(seen) if exact else sl2))}


def _matmul_arr(p: np.ndarray, q: np.ndarray, n: int) -> np.ndarray:
    return np.stack([(p[:, 0] * q[:, 0] + p[:, 1] * q[:, 2]) % n, (p[:, 0] * q[:, 1] + p[:, 1] * q[:, 3]) % n,
                     (p[:, 2] * q[:, 0] + p[:, 3] * q[:, 2]) % n, (p[:, 2] * q[:, 1] + p[:, 3] * q[:, 3]) % n], 1)


# ---------------------------------------------------------------------- the permutation
@lru_cache(maxsize=64)
def permutation(shape: tuple[int, int], tile: int, matrix: Matrix) -> np.ndarray:
    """Flat destination index: the pixel at flat position ``i`` moves to ``dst[i]``.

    Within each ``tile x tile`` block, local ``(r, c)`` goes to ``matrix (r, c) mod tile``.
    Cached per (shape, tile, matrix); the returned array is read-only.
    """
    h, w = shape
    r, c = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    br, lr = np.divmod(r, tile)
    bc, lc = np.divmod(c, tile)
    m00, m01, m10, m11 = matrix
    nr = (m00 * lr + m01 * lc) % tile
    nc = (m10 * lr + m11 * lc) % tile
    dst = ((br * tile + nr) * w + (bc * tile + nc)).ravel()
    if len(np.unique(dst)) != h * w:
        raise InputError(f"matrix {matrix} is not invertible mod {tile}: not a permutation")
    dst.setflags(write=False)
    return dst


@lru_cache(maxsize=64)
def _gather_index(shape: tuple[int, int], tile: int, matrix: Matrix, inverse: bool) -> np.ndarray:
    dst = permutation(shape, tile, matrix)
    if inverse:  # x[i] = y[dst[i]]
        return dst
    src = np.empty_like(dst)
    src[dst] = np.arange(dst.size)  # y[dst[i]] = x[i]  <=>  y[j] = x[src[j]]
    src.setflags(write=False)
    return src


def _check(x, key: CatMapKey, name: str):
    if not isinstance(key, CatMapKey):
        raise InputError(f"cat map: expected a CatMapKey, got {type(key).__name__}")
    batch, single = as_image_batch(x, name=name)
    if tuple(batch.shape[1:3]) != tuple(key.shape):
        raise InputError(f"{name}: image size {batch.shape[1]}x{batch.shape[2]} does not match the key's canvas "
                         f"{key.shape[0]}x{key.shape[1]} (bring images onto the canvas with to_canvas)")
    return batch, single


def apply_matrix(x: np.ndarray, shape: tuple[int, int], tile: int, matrix: Matrix, *, inverse: bool = False
                 ) -> np.ndarray:
    """Permute an NxHxWxC batch by ``matrix`` per tile (or undo it): one gather over the batch."""
    idx = _gather_index(tuple(shape), int(tile), tuple(int(v) for v in matrix), bool(inverse))
    n, h, w, c = x.shape
    return np.take(x.reshape(n, h * w, c), idx, axis=1).reshape(n, h, w, c)


def encrypt(x: np.ndarray, key: CatMapKey) -> np.ndarray:
    """Cat-map encrypt uint8 images (HxW, HxWxC or NxHxWxC) on the key's canvas."""
    ndim = x.ndim if isinstance(x, np.ndarray) else 0
    batch, single = _check(x, key, "images")
    return strip_single(apply_matrix(batch, key.shape, key.tile, key.matrix), single, ndim)


def decrypt(y: np.ndarray, key: CatMapKey) -> np.ndarray:
    """Exact inverse of :func:`encrypt`."""
    ndim = y.ndim if isinstance(y, np.ndarray) else 0
    batch, single = _check(y, key, "encrypted images")
    return strip_single(apply_matrix(batch, key.shape, key.tile, key.matrix, inverse=True), single, ndim)


# ---------------------------------------------------------------------- onto the canvas
def to_canvas(img: np.ndarray, size: int = 512, *, crop: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Crop, pad and scale one uint8 image onto a ``size x size`` canvas, as the challenge did.

    ``crop = (top, left, height, width)`` selects a region first (default: the whole image); the region
    is then zero-padded symmetrically to a square (nothing is cut from the content) and resized to
    ``size`` with anti-aliasing (scikit-image). Grayscale input stays single-channel.
    """
    from skimage.transform import resize

    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise InputError(f"to_canvas: expected a uint8 HxW or HxWxC image, got "
                         f"{getattr(img, 'dtype', type(img).__name__)} {getattr(img, 'shape', '')}")
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise InputError(f"to_canvas: size must be a positive integer, got {size!r}")
    if crop is not None:
        t, l, ch, cw = crop
        if t < 0 or l < 0 or ch < 1 or cw < 1 or t + ch > img.shape[0] or l + cw > img.shape[1]:
            raise InputError(f"to_canvas: crop {crop} is outside the image of shape {img.shape}")
        img = img[t:t + ch, l:l + cw]
    h, w = img.shape[:2]
    s = max(h, w)
    pad = [((s - h) // 2, s - h - (s - h) // 2), ((s - w) // 2, s - w - (s - w) // 2)] + [(0, 0)] * (img.ndim - 2)
    sq = np.pad(img, pad)
    if s == size:
        return np.ascontiguousarray(sq)
    out = resize(sq, (size, size) + sq.shape[2:], order=1, anti_aliasing=s > size, preserve_range=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
