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

The key space: :func:`walk_powers` enumerates every map keygen can draw, :func:`key_space` counts the
distinct permutations among them (a :class:`ppstudy.ciphers.base.KeySpace`), :func:`key_space_counts`
gives the detailed counts and :func:`key_for_matrix` finds a key for a given map.

Ours, not the paper's: the paper names only "Arnold's cat map" applied to each 32x32 tile (subtask 1) or
to the whole 512x512 image (subtask 2). The generalised family ``M(a, b)``, keygen's ranges, one key
shared by all tiles and all images, and :func:`to_canvas`'s padding and interpolation are our reading;
the organisers did not publish theirs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ppstudy import InputError, validate
from ppstudy.ciphers.base import KeySpace, log2_int, rng_from
from ppstudy.images import check_uint8

MODES = ("tile", "whole")
#: the largest canvas side (and map side n) accepted: a key's permutation costs ~70 bytes per pixel
MAX_SIDE = 4096
#: the largest key-file size :func:`load_key` reads (bytes)
MAX_KEY_FILE = 1 << 16


def _modulus(n, name: str = "side n") -> int:
    return validate.integer(name, n, low=1, high=MAX_SIDE)


Matrix = tuple[int, int, int, int]  # (m00, m01, m10, m11), row-major, entries in [0, n)


# ---------------------------------------------------------------------- the map as a matrix mod n
def base_matrix(a: int, b: int, n: int) -> Matrix:
    """``M = [[1, a], [b, ab + 1]] mod n``."""
    n = _modulus(n)
    a, b = validate.integer("a", a), validate.integer("b", b)
    return (1 % n, a % n, b % n, (a * b + 1) % n)


def _matmul(p: Matrix, q: Matrix, n: int) -> Matrix:
    return (
        (p[0] * q[0] + p[1] * q[2]) % n,
        (p[0] * q[1] + p[1] * q[3]) % n,
        (p[2] * q[0] + p[3] * q[2]) % n,
        (p[2] * q[1] + p[3] * q[3]) % n,
    )


def matrix_power(m: Matrix, k: int, n: int) -> Matrix:
    """``m^k mod n`` by repeated squaring (``k >= 0``)."""
    k = validate.integer("iterations", k, low=0)
    n = _modulus(n)
    out: Matrix = (1 % n, 0, 0, 1 % n)
    while k:
        if k & 1:
            out = _matmul(out, m, n)
        m = _matmul(m, m, n)
        k >>= 1
    return out


def matrix_inverse(m: Matrix, n: int) -> Matrix:
    """Inverse of a determinant-1 matrix mod n: ``[[d, -b], [-c, a]]``."""
    n = _modulus(n)
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
    n = _modulus(n)
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
        h, w = _canvas_shape(self.shape)
        if h != w:
            raise InputError(f"cat map: canvas must be square, got {h}x{w}")
        tile = validate.integer("cat map: tile", self.tile, low=2, high=MAX_SIDE)
        if h % tile:
            raise InputError(f"cat map: tile {self.tile!r} must be >= 2 and divide the canvas side {h}")
        for name in ("a", "b", "iterations"):
            object.__setattr__(self, name, validate.integer(f"cat map: {name}", getattr(self, name), low=0))
        object.__setattr__(self, "shape", (h, w))
        object.__setattr__(self, "tile", tile)

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
        return {"shape": list(self.shape), "tile": self.tile, "a": self.a, "b": self.b, "iterations": self.iterations}

    @classmethod
    def from_dict(cls, d: dict) -> CatMapKey:
        """A key from its record (:meth:`to_dict`); every field must be an integer (``"a": 1.7``, infinity or
        a string is refused, never truncated)."""
        if not isinstance(d, dict):
            raise InputError(f"cat map key: expected a key record (a JSON object), got {type(d).__name__}")
        missing = [k for k in ("shape", "tile", "a", "b", "iterations") if k not in d]
        if missing:
            raise InputError(f"cat map key: malformed key record, it lacks {', '.join(missing)}")
        try:
            shape = validate.shape("cat map key: shape", d["shape"], ndim=(2, 3), max_values=None)
            return cls((shape[0], shape[1]), d["tile"], d["a"], d["b"], d["iterations"])
        except InputError as e:
            raise InputError(f"cat map key: malformed key record: {e}") from None


def load_key(path) -> CatMapKey:
    """A key from a JSON key file (as :meth:`CatMapKey.to_dict` writes it). A missing file, a directory, a
    file over :data:`MAX_KEY_FILE` bytes, bad UTF-8, bad JSON (``Infinity`` and ``NaN`` included) or a bad
    record raise InputError."""
    p = validate.file_path("cat map key file", path)
    if p.stat().st_size > MAX_KEY_FILE:
        raise InputError(f"cat map key file {p} is larger than the cap MAX_KEY_FILE = {MAX_KEY_FILE} bytes")
    try:
        text = p.read_bytes().decode("utf-8")
        d = json.loads(text, parse_constant=_refuse_constant)
    except UnicodeDecodeError as e:
        raise InputError(f"cat map key file {p} is not UTF-8 ({e})") from None
    except (json.JSONDecodeError, RecursionError) as e:
        raise InputError(f"cat map key file {p} is corrupt ({e})") from None
    return CatMapKey.from_dict(d)


def _refuse_constant(name: str):
    raise InputError(f"cat map key file: {name} is not a valid key value")


def _canvas_shape(shape) -> tuple[int, int]:
    t = validate.shape("cat map: shape", shape, ndim=(2, 3), max_values=None)
    validate.at_most("cat map: canvas side", max(t[:2]), MAX_SIDE, "MAX_SIDE")
    return t[0], t[1]


def keygen(shape, *, mode: str = "tile", tile: int = 32, seed=None) -> CatMapKey:
    """A random key for canvases of ``shape`` (H, W[, C]).

    ``a`` and ``b`` are uniform in ``[1, n)`` and ``iterations`` uniform in ``[1, period)``, so the map is
    never the identity. ``seed=None`` draws from OS entropy (``numpy.random.SeedSequence``).
    """
    h, w = _canvas_shape(shape)
    if mode not in MODES:
        raise InputError(f"cat map: mode must be one of {MODES}, got {mode!r}")
    n = h if mode == "whole" else validate.integer("cat map: tile", tile, low=3, high=MAX_SIDE)
    if h != w:
        raise InputError(f"cat map: canvas must be square, got {h}x{w}")
    if n < 3 or h % n:
        raise InputError(f"cat map: tile {n} must be >= 3 and divide the canvas side {h}")
    rng = rng_from(seed)
    while True:
        a, b = (int(v) for v in rng.integers(1, n, size=2))
        p = period(a, b, n)
        if p > 1:
            k = int(rng.integers(1, p))
            return CatMapKey((h, w), n, a, b, k)


def _side(shape, mode: str, tile: int) -> int:
    h, w = _canvas_shape(shape)
    if mode not in MODES:
        raise InputError(f"cat map: mode must be one of {MODES}, got {mode!r}")
    if h != w:
        raise InputError(f"cat map: canvas must be square, got {h}x{w}")
    n = h if mode == "whole" else validate.integer("cat map: tile", tile, low=2, high=MAX_SIDE)
    if n < 2 or h % n:
        raise InputError(f"cat map: tile {n} must be >= 2 and divide the canvas side {h}")
    return n


def walk_powers(n: int, *, low: int = 1) -> Iterator[tuple[int, np.ndarray, np.ndarray, tuple[np.ndarray, ...]]]:
    """Every cat map ``M(a, b)^k mod n`` with ``a, b`` in ``[low, n)`` and ``1 <= k < period(a, b)``, power by
    power, vectorised over all ``(a, b)`` at once.

    Yields ``(k, a, b, (m00, m01, m10, m11))``: for the pairs ``(a, b)`` whose period exceeds ``k``, the entries
    of ``M(a, b)^k`` as int32 arrays. With ``low = 1`` these are exactly the keys :func:`keygen` can draw; the
    walk ends at the largest period (at most ``3n``). Each step yields fresh arrays.
    """
    n = validate.integer("walk_powers: side n", n, low=2, high=MAX_SIDE)
    if isinstance(low, (bool, np.bool_)) or low not in (0, 1):
        raise InputError(f"walk_powers: low must be 0 or 1, got {low!r}")
    ga, gb = np.meshgrid(np.arange(low, n, dtype=np.int32), np.arange(low, n, dtype=np.int32), indexing="ij")
    a, b = ga.ravel(), gb.ravel()
    d = ((a.astype(np.int64) * b + 1) % n).astype(np.int32)
    c0, c1, c2, c3 = np.ones_like(a), a.copy(), b.copy(), d.copy()  # M(a, b)^1
    k = 1
    while True:
        done = (c0 == 1) & (c1 == 0) & (c2 == 0) & (c3 == 1)
        if done.any():
            keep = ~done
            a, b, d, c0, c1, c2, c3 = (v[keep] for v in (a, b, d, c0, c1, c2, c3))
        if not len(a):
            return
        yield k, a, b, (c0, c1, c2, c3)
        # right-multiply by M(a, b) = [[1, a], [b, d]]; products < n^2 + n^2 fit int32 for n <= 32768
        c0, c1 = (c0 + c1 * b) % n, (c0 * a + c1 * d) % n
        c2, c3 = (c2 + c3 * b) % n, (c2 * a + c3 * d) % n
        k += 1


def _sl2_order(n: int) -> int:
    """|SL(2, Z/n)| = n^3 prod_{p | n} (1 - 1/p^2)."""
    primes = [p for p in range(2, n + 1) if n % p == 0 and all(p % q for q in range(2, int(p**0.5) + 1))]
    sl2 = n**3
    for p in primes:
        sl2 = sl2 * (p * p - 1) // (p * p)
    return int(sl2)


#: sides up to which :func:`key_space` counts distinct permutations exactly by default (n = 512 takes ~10 s
#: and a 134 MB bitmap on a 2-core CPU; see :func:`key_space_counts`)
EXACT_LIMIT = 512
#: the largest side for which :func:`key_space_counts` walks the powers of every map (the walk visits
#: ``(n - 1)^2`` pairs for up to ``3n`` powers: ~10 s at 512, minutes beyond); :func:`key_space` gives the
#: analytic bound ``(n - 1)^2 (3n - 1)`` on the keys beyond it
WALK_LIMIT = 512


def key_space_counts(shape, *, mode: str = "tile", tile: int = 32, exact: bool | None = None) -> dict:
    """The detailed counts behind :func:`key_space` for the map's side ``n``.

    - ``parameter_triples``: the keys ``(a, b, k)`` :func:`keygen` can return (``a, b`` in ``[1, n)``,
      ``1 <= k < period(a, b)``); ``key_bits`` is its ``log2``.
    - ``distinct_permutations``: the distinct effective matrices ``M(a, b)^k`` among them, i.e. the distinct
      pixel permutations keygen can reach (``permutation_bits``); at most ``parameter_triples``. Counted
      exactly when ``exact`` (default: ``n <= EXACT_LIMIT``), else None.
    - ``keygen_entropy_bits``: the Shannon entropy of keygen's draw (``a``, ``b`` uniform, then ``k`` uniform
      in ``[1, period)``), at most ``key_bits``.
    - ``sl2_order``: ``|SL(2, Z/n)|``, the number of determinant-1 maps mod n: every cat map lies among
      them, but keygen reaches only some (its ``M(a, b) = [[1, a], [b, ab + 1]]`` and their powers).

    Distinct matrices are marked in one bitmap of ``n^3`` entries: a determinant-1 matrix is fixed by
    ``(m00, m01, m10)`` when ``m00`` is a unit mod n and by ``(m00, m01, m11)`` when ``m00`` is not but
    ``m01`` is (the two cases mark disjoint parts of the bitmap: different ``m00``); matrices with neither
    (possible only when n has two prime factors) are counted by sorting.
    """
    n = _side(shape, mode, tile)
    if exact is not None:
        exact = validate.boolean("exact", exact)
    if n > WALK_LIMIT:
        raise InputError(
            f"cat map key space: counting the keys of side {n} walks {(n - 1) ** 2} maps for up to {3 * n} "
            f"powers, more than the cap WALK_LIMIT = {WALK_LIMIT} allows; key_space() gives an upper bound"
        )
    if exact is None:
        exact = n <= EXACT_LIMIT
    if exact and n > 1024:
        raise InputError(f"cat map key space: an exact count for side {n} needs an {n}^3 bitmap; use exact=False")
    unit = np.gcd(np.arange(n), n) == 1
    seen = np.zeros(n**3 if exact else 0, bool)
    rest: list[np.ndarray] = []
    triples, k = 0, 0
    steps = np.zeros((n - 1) ** 2, np.int64)  # period(a, b) - 1 for every (a, b), row-major
    alive = None
    for k, a, b, (c0, c1, c2, c3) in walk_powers(n):
        triples += len(a)
        if alive is None or len(a) != len(alive):  # some pairs left the walk: the survivors of k - 1 lasted k - 1
            if alive is not None:
                steps[alive] = k - 1
            alive = (a - 1).astype(np.int64) * (n - 1) + (b - 1)
        if exact:
            code = (c0.astype(np.int64) * n + c1) * n
            u0 = unit[c0]
            seen[(code + np.where(u0, c2, c3))[u0 | unit[c1]]] = True
            other = ~u0 & ~unit[c1]
            if other.any():
                rest.append(np.unique(((code + c2) * n + c3)[other]))
    if alive is not None:
        steps[alive] = k
    distinct = None
    if exact:
        distinct = int(seen.sum()) + (len(np.unique(np.concatenate(rest))) if rest else 0)
    entropy = float(np.log2((n - 1) ** 2) + np.mean(np.log2(np.maximum(steps, 1))))
    return {
        "side": n,
        "parameter_triples": int(triples),
        "key_bits": log2_int(triples),
        "distinct_permutations": distinct,
        "permutation_bits": None if distinct is None else log2_int(distinct),
        "keygen_entropy_bits": entropy,
        "sl2_order": _sl2_order(n),
    }


def key_space(shape, *, mode: str = "tile", tile: int = 32, exact: bool | None = None) -> KeySpace:
    """The distinct pixel permutations :func:`keygen` can produce on the map's side ``n``.

    Exact (``count``) when counted (``exact``, default ``n <= EXACT_LIMIT``); otherwise ``bits`` is
    ``log2`` of the number of keys keygen draws from, an upper bound (``bound=True``): no more
    permutations can be reached than there are keys. The other counts: :func:`key_space_counts`.
    """
    n = _side(shape, mode, tile)
    if exact is not None:
        exact = validate.boolean("exact", exact)
    if n > WALK_LIMIT:
        if exact:
            raise InputError(f"cat map key space: no exact count beyond side WALK_LIMIT = {WALK_LIMIT}, got {n}")
        # every period is at most 3n (Dyson and Falk): at most 3n - 1 powers k for each of the (n - 1)^2 pairs
        what = f"distinct pixel permutations keygen can produce (side {n})"
        return KeySpace(log2_int((n - 1) ** 2 * (3 * n - 1)), None, True, what + ": bounded by (n - 1)^2 (3n - 1)")
    c = key_space_counts(shape, mode=mode, tile=tile, exact=exact)
    what = f"distinct pixel permutations keygen can produce (side {c['side']})"
    if c["distinct_permutations"] is not None:
        return KeySpace.of(c["distinct_permutations"], counts=what)
    return KeySpace(c["key_bits"], None, True, what + ": bounded by the (a, b, k) keys keygen draws from")


def key_for_matrix(matrix, shape, tile: int, *, low: int = 0) -> CatMapKey | None:
    """A key ``(a, b, k)`` whose map equals ``matrix`` mod ``tile``: the smallest ``k``, then the smallest
    ``(a, b)`` (``a, b`` in ``[low, tile)``); None if no power of any ``M(a, b)`` is ``matrix``. The identity
    gives ``k = 0``."""
    n = validate.integer("key_for_matrix: tile", tile, low=2, high=MAX_SIDE)
    try:
        entries = tuple(matrix)
    except TypeError:
        raise InputError(f"key_for_matrix: expected 4 matrix entries (row-major), got {matrix!r}") from None
    target = tuple(validate.integer("key_for_matrix: matrix entry", v) % n for v in entries)
    if len(target) != 4:
        raise InputError(f"key_for_matrix: expected 4 matrix entries (row-major), got {matrix!r}")
    canvas = _canvas_shape(shape)
    if target == (1 % n, 0, 0, 1 % n):
        return CatMapKey(canvas, n, 1, 1, 0)
    for k, a, b, (c0, c1, c2, c3) in walk_powers(n, low=low):
        hit = np.flatnonzero((c0 == target[0]) & (c1 == target[1]) & (c2 == target[2]) & (c3 == target[3]))
        if hit.size:
            return CatMapKey(canvas, n, int(a[hit[0]]), int(b[hit[0]]), k)
    return None


# ---------------------------------------------------------------------- the permutation
@lru_cache(maxsize=64)
def permutation(shape: tuple[int, int], tile: int, matrix: Matrix) -> np.ndarray:
    """Flat destination index: the pixel at flat position ``i`` moves to ``dst[i]``.

    Within each ``tile x tile`` block, local ``(r, c)`` goes to ``matrix (r, c) mod tile``.
    Cached per (shape, tile, matrix); the returned array is read-only.
    """
    h, w = _canvas_shape(shape)
    tile = validate.integer("permutation: tile", tile, low=1, high=MAX_SIDE)
    if h % tile or w % tile:
        raise InputError(f"permutation: tile {tile} must divide the canvas {h}x{w}")
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


def _as_batch(x, key: CatMapKey, name: str, batch: bool | None) -> np.ndarray:
    """``x`` as an N x H x W x C view, with explicit batch semantics for 3-D arrays (see :func:`encrypt`)."""
    if not isinstance(key, CatMapKey):
        raise InputError(f"cat map: expected a CatMapKey, got {type(key).__name__}")
    check_uint8(x, name)
    if batch is not None and not isinstance(batch, (bool, np.bool_)):
        raise InputError(f"{name}: batch must be None, True or False, got {batch!r}")
    batch = None if batch is None else bool(batch)
    h, w = key.shape
    shape = tuple(x.shape)
    if x.ndim == 3 and batch is None:
        single_fits, batch_fits = shape[:2] == (h, w), shape[1:] == (h, w)
        if single_fits and batch_fits:
            raise InputError(
                f"{name}: shape {shape} is ambiguous on the {h}x{w} canvas: pass batch=False for one "
                f"{h}x{w}x{shape[2]} image or batch=True for {shape[0]} grayscale {h}x{w} images"
            )
        batch = batch_fits
    if x.ndim == 2 and batch is not True:
        out, canvas = x[None, :, :, None], shape
    elif x.ndim == 3 and batch is False:
        out, canvas = x[None], shape[:2]
    elif x.ndim == 3 and batch is True:
        out, canvas = x[..., None], shape[1:]
    elif x.ndim == 4 and batch is not False:
        out, canvas = x, shape[1:3]
    else:
        raise InputError(
            f"{name}: a {x.ndim}-D array with batch={batch} is not an image (HxW, HxWxC) or a batch (NxHxW, NxHxWxC)"
        )
    if tuple(canvas) != (h, w):
        raise InputError(
            f"{name}: image size {'x'.join(map(str, canvas))} (array {shape}) does not match the key's "
            f"canvas {h}x{w} (bring images onto the canvas with to_canvas)"
        )
    return out


def apply_matrix(
    x: np.ndarray, shape: tuple[int, int], tile: int, matrix: Matrix, *, inverse: bool = False
) -> np.ndarray:
    """Permute an NxHxWxC batch by ``matrix`` per tile (or undo it): one gather over the batch."""
    check_uint8(x, "images")
    if x.ndim != 4:
        raise InputError(f"apply_matrix: expected an NxHxWxC batch, got shape {x.shape}")
    shape = _canvas_shape(shape)
    tile = validate.integer("apply_matrix: tile", tile, low=1, high=MAX_SIDE)
    if shape[0] % tile or shape[1] % tile or x.shape[1:3] != shape:
        raise InputError(f"apply_matrix: tile {tile} must divide the images' {shape} (batch {x.shape})")
    if len(tuple(matrix)) != 4:
        raise InputError(f"apply_matrix: expected 4 matrix entries, got {matrix!r}")
    m00, m01, m10, m11 = (validate.integer("apply_matrix: matrix entry", v) for v in matrix)
    idx = _gather_index(tuple(shape), int(tile), (m00, m01, m10, m11), bool(inverse))
    n, h, w, c = x.shape
    return np.take(x.reshape(n, h * w, c), idx, axis=1).reshape(n, h, w, c)


def encrypt(x: np.ndarray, key: CatMapKey, *, batch: bool | None = None) -> np.ndarray:
    """Cat-map encrypt uint8 images on the key's canvas; the result has the shape of ``x``.

    ``x`` is one image (HxW, HxWxC) or a batch (NxHxWxC, or NxHxW grayscale). A 3-D array is one HxWxC image
    when only its first two axes fit the canvas and a grayscale batch when only its last two do; when both do
    (N == H on a square canvas) it is refused as ambiguous unless ``batch`` says which (``batch=True``: N
    grayscale images; ``batch=False``: one image). N may be 0.
    """
    xb = _as_batch(x, key, "images", batch)
    return apply_matrix(xb, key.shape, key.tile, key.matrix).reshape(x.shape)


def decrypt(y: np.ndarray, key: CatMapKey, *, batch: bool | None = None) -> np.ndarray:
    """Exact inverse of :func:`encrypt` (same shapes and ``batch`` semantics)."""
    yb = _as_batch(y, key, "encrypted images", batch)
    return apply_matrix(yb, key.shape, key.tile, key.matrix, inverse=True).reshape(y.shape)


# ---------------------------------------------------------------------- onto the canvas
def to_canvas(img: np.ndarray, size: int = 512, *, crop: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Crop, pad and scale one uint8 image onto a ``size x size`` canvas, as the challenge did.

    ``crop = (top, left, height, width)`` selects a region first (default: the whole image); the region
    is then zero-padded symmetrically to a square (nothing is cut from the content) and resized to
    ``size`` with anti-aliasing (scikit-image). Grayscale input stays single-channel.
    """
    from skimage.transform import resize

    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise InputError(
            f"to_canvas: expected a uint8 HxW or HxWxC image, got "
            f"{getattr(img, 'dtype', type(img).__name__)} {getattr(img, 'shape', '')}"
        )
    size = validate.integer("to_canvas: size", size, low=1, high=MAX_SIDE)
    if crop is not None:
        try:
            top, left, ch, cw = (validate.integer("to_canvas: crop", v) for v in crop)
        except (TypeError, ValueError) as e:
            if isinstance(e, InputError):
                raise
            raise InputError(f"to_canvas: crop must be (top, left, height, width), got {crop!r}") from None
        if top < 0 or left < 0 or ch < 1 or cw < 1 or top + ch > img.shape[0] or left + cw > img.shape[1]:
            raise InputError(f"to_canvas: crop {crop} is outside the image of shape {img.shape}")
        img = img[top : top + ch, left : left + cw]
    h, w = img.shape[:2]
    s = max(h, w)
    pad = [((s - h) // 2, s - h - (s - h) // 2), ((s - w) // 2, s - w - (s - w) // 2)] + [(0, 0)] * (img.ndim - 2)
    sq = np.pad(img, pad)
    if s == size:
        return np.ascontiguousarray(sq)
    out = resize(sq, (size, size) + sq.shape[2:], order=1, anti_aliasing=s > size, preserve_range=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
