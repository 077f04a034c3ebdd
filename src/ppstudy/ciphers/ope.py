"""Order-preserving encryption (Boldyreva, Chenette, Lee, O'Neill 2009) through pyope, as a lookup table.

Ko et al. (IEEE Access 2020) encrypt the coordinates of a vector image with pyope's OPE. pyope encrypts
one Python ``int`` at a time by a recursive binary search over the ciphertext range: every level draws a
hypergeometric sample from pseudo-random coins (HMAC-SHA256 of the node, then AES-CTR), so one value
costs ~log2(out size) samples, and a 50x50 image has thousands of coordinates.

Here a key is turned once into a **table** of the ciphertexts of every plaintext of the input domain, so
that encrypting a batch of coordinates is one ``numpy.take``. The table is built by walking pyope's
recursion tree depth first (:func:`build_table`): every internal node of the tree is sampled exactly once
and its two halves are visited, instead of re-sampling the path from the root for each plaintext. The
values are pyope's own (its ``tape_gen``, ``sample_hgd`` and ``sample_uniform`` are called with the same
arguments as its ``encrypt_recursive``); the tests compare the table with ``pyope.ope.OPE.encrypt``. Built
tables are cached on disk under ``<ppstudy cache>/ope/`` keyed by a SHA-256 of the key and the ranges.

Ranges of the paper: the text says "OPE output values were bounded between -99999 and 99999", "the offset
value is set to -796" (the encryption of 0 with the key ``jX4ZXXmM3qTgAjez/1j/EVz5tCcmQ711bz8hqIMJap0=``) and
that the ciphertext range is "about 100 times larger than the maximum value of the input" (a coordinate of
at most ~100). The input range is not printed. The offset pins it down to about +-10^4, not exactly: of the
symmetric input ranges -N..N with 5,000 <= N <= 20,000, pyope gives ``Enc(0) = -796`` for 83, namely
N = 9994..10010 (all with ``Enc(32) - Enc(0) = 331``, ``Enc(50) - Enc(0) = 455``) and N = 10137..10202
(``Enc(32) - Enc(0) = 280``, ``Enc(50) - Enc(0) = 419``); asymmetric ranges such as -10000..9999 give it too.
-999..999 and -32768..32767 do not, and an input range as large as the output range makes OPE the
identity. :data:`PAPER_IN_RANGE` is -9999..9999 (100 x the largest input, first family; the test suite
checks the offset for several members of both families). The paper's Fig. 6 shows a width of 291 for a
32 x 32 image, which neither family gives.

Keys: :func:`keygen` draws 32 random bytes (base64-encoded, as pyope's ``OPE.generate_key``), so
:func:`key_space` is ``2**256`` keys; a cached table is stored with an HMAC-SHA256 of its bytes under the
key, and a file that fails the check (edited, truncated, another key's) is rebuilt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import os
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ppstudy import InputError, validate
from ppstudy.ciphers.base import KeySpace, rng_from

#: the key printed in the paper (Sec. V-A), as the bytes pyope receives
PAPER_KEY = b"jX4ZXXmM3qTgAjez/1j/EVz5tCcmQ711bz8hqIMJap0="
#: the paper's OPE ranges (input range recovered from the published offset -796, see the module docstring)
PAPER_IN_RANGE = (-9999, 9999)
PAPER_OUT_RANGE = (-99999, 99999)
#: the offset the paper reports (Enc(0) under PAPER_KEY)
PAPER_OFFSET = -796
#: the most plaintexts a key's input range may hold: its lookup table is built by walking pyope's tree, about
#: 10 s per 10^5 plaintexts, so a range of 10^7 would run for hours (the paper's holds 19,999)
MAX_TABLE_SIZE = 1 << 18
#: ranges must lie within +-2^62 (the table is int64)
MAX_RANGE_ABS = 1 << 62


def _check_range(name: str, r) -> tuple[int, int]:
    try:
        a, b = r
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a pair (start, end) of integers, got {r!r}") from None
    for v in (a, b):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise InputError(f"{name} must hold integers, got {r!r}")
    a, b = int(a), int(b)
    if a > b:
        raise InputError(f"{name}: start {a} is greater than end {b}")
    if max(abs(a), abs(b)) > MAX_RANGE_ABS:
        raise InputError(f"{name} {r!r} goes beyond the cap MAX_RANGE_ABS = 2^62 (int64 tables)")
    return a, b


@dataclass(frozen=True)
class OPEKey:
    """An OPE key: the secret bytes pyope receives and the input and output ranges (both inclusive)."""

    secret: bytes = field(repr=False)
    in_range: tuple[int, int] = PAPER_IN_RANGE
    out_range: tuple[int, int] = PAPER_OUT_RANGE

    def __post_init__(self):
        if not isinstance(self.secret, bytes):
            raise InputError(f"OPE key: the secret must be bytes, got {type(self.secret).__name__}")
        if len(self.secret) < 16:
            raise InputError(f"OPE key: the secret has {len(self.secret)} bytes; use at least 16")
        ir = _check_range("OPE key in_range", self.in_range)
        orr = _check_range("OPE key out_range", self.out_range)
        if ir[1] - ir[0] > orr[1] - orr[0]:
            raise InputError(f"OPE key: the input range {ir} is larger than the output range {orr}")
        if ir[1] - ir[0] + 1 > MAX_TABLE_SIZE:
            raise InputError(
                f"OPE key: the input range {ir} holds {ir[1] - ir[0] + 1} plaintexts, more than the cap "
                f"MAX_TABLE_SIZE = {MAX_TABLE_SIZE} of a lookup table"
            )
        object.__setattr__(self, "in_range", ir)
        object.__setattr__(self, "out_range", orr)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the secret and the ranges (names the cached table; reveals nothing usable)."""
        h = hashlib.sha256(b"ppstudy-ope-v1\0" + self.secret + repr((self.in_range, self.out_range)).encode())
        return h.hexdigest()

    def __repr__(self) -> str:
        return f"OPEKey(in_range={self.in_range}, out_range={self.out_range}, id={self.fingerprint[:12]})"


def keygen(
    *, seed: int | np.random.SeedSequence | None = None, in_range=PAPER_IN_RANGE, out_range=PAPER_OUT_RANGE
) -> OPEKey:
    """A random key: 32 random bytes, base64-encoded as pyope's ``OPE.generate_key`` does.

    ``seed=None`` draws from OS entropy (``numpy.random.SeedSequence``); a seed makes it reproducible.
    """
    raw = rng_from(seed).bytes(32)
    return OPEKey(base64.b64encode(raw), in_range, out_range)


def paper_key() -> OPEKey:
    """The key and ranges of the paper's experiments."""
    return OPEKey(PAPER_KEY, PAPER_IN_RANGE, PAPER_OUT_RANGE)


def pyope_cipher(key: OPEKey):
    """pyope's own cipher object for ``key`` (slow; one recursive encryption per call)."""
    from pyope.ope import OPE, ValueRange

    if not isinstance(key, OPEKey):
        raise InputError(f"expected an OPEKey, got {type(key).__name__}")
    return OPE(key.secret, ValueRange(*key.in_range), ValueRange(*key.out_range))


def build_table(key: OPEKey) -> np.ndarray:
    """Ciphertexts of every plaintext of ``key.in_range`` (int64 array, index = plaintext - start).

    Depth-first walk of pyope's recursion: each node ``(in_range, out_range)`` draws its split point once
    with the coins of its middle ciphertext, exactly as ``OPE.encrypt_recursive`` does, then both halves
    are visited; leaves (one plaintext) draw their ciphertext uniformly from their output range.
    """
    import pyope.stat as stat
    from pyope.ope import ValueRange

    ope = pyope_cipher(key)
    i0, i1 = key.in_range
    table = np.empty(i1 - i0 + 1, dtype=np.int64)
    stack = [(i0, i1, key.out_range[0], key.out_range[1])]
    while stack:
        a, b, c, d = stack.pop()
        in_range, out_range = ValueRange(a, b), ValueRange(c, d)
        if a == b:
            table[a - i0] = stat.sample_uniform(out_range, ope.tape_gen(a))
            continue
        in_size, out_size = b - a + 1, d - c + 1
        mid = (c - 1) + int(math.ceil(out_size / 2.0))
        x = stat.sample_hgd(in_range, out_range, mid, ope.tape_gen(mid))
        stack.append((a, x, c, mid))  # plaintexts <= x
        if x < b:  # the right half may hold no plaintext
            stack.append((x + 1, (a - 1) + in_size, mid + 1, (c - 1) + out_size))
    return table


def cache_path(key: OPEKey) -> Path:
    """Where the table of ``key`` is cached: ``<ppstudy cache>/ope/<fingerprint>.v2.npz``."""
    from ppstudy.project.paths import cache_dir

    return cache_dir() / "ope" / f"{key.fingerprint}.v2.npz"


def table_digest(table: np.ndarray, key: OPEKey) -> str:
    """HMAC-SHA256 of a table's bytes under the key's secret and ranges (stored beside a cached table)."""
    t = np.ascontiguousarray(table, dtype="<i8")
    mac = hmac.new(
        b"ppstudy-ope-table-v2\0" + key.secret + repr((key.in_range, key.out_range)).encode(),
        t.tobytes(),
        hashlib.sha256,
    )
    return mac.hexdigest()


def _check_table(table: np.ndarray, key: OPEKey) -> bool:
    n = key.in_range[1] - key.in_range[0] + 1
    return (
        table.dtype == np.int64
        and table.shape == (n,)
        and bool(np.all(np.diff(table) > 0))
        and table[0] >= key.out_range[0]
        and table[-1] <= key.out_range[1]
    )


def _load_cached(path: Path, key: OPEKey) -> np.ndarray | None:
    """The cached table if its digest verifies, else None (with a warning when a file was there; a file that
    fails the check, however damaged, e.g. a flipped or truncated zip, is removed so that it is rebuilt)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            t, digest = z["table"], str(z["digest"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        t, digest = None, ""
    except Exception:
        t, digest = None, ""
    if t is not None and _check_table(t, key) and hmac.compare_digest(digest, table_digest(t, key)):
        return t
    try:
        if path.is_file():
            path.unlink()
    except OSError:
        pass  # a read-only cache: the rebuild is not stored
    warnings.warn(
        f"OPE table cache {path} failed its integrity check (edited, truncated or another key's); rebuilding it",
        RuntimeWarning,
        stacklevel=3,
    )
    return None


_MEMO: dict[str, np.ndarray] = {}


def table(key: OPEKey, *, cache: bool = True) -> np.ndarray:
    """The (read-only) lookup table of ``key``: from memory, from the disk cache (verified by its HMAC),
    or built and cached."""
    if not isinstance(key, OPEKey):
        raise InputError(f"expected an OPEKey, got {type(key).__name__}")
    cache = validate.boolean("cache", cache)
    fp = key.fingerprint
    if fp in _MEMO:
        return _MEMO[fp]
    path = cache_path(key) if cache else None
    t = _load_cached(path, key) if path is not None else None
    if t is None:
        t = build_table(key)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
                np.savez(tmp, table=t, digest=np.array(table_digest(t, key)))
                os.replace(tmp, path)
            except OSError:
                pass  # a read-only cache only costs a rebuild next time
    t = np.ascontiguousarray(t, dtype=np.int64)
    t.setflags(write=False)
    _MEMO[fp] = t
    return t


def clear_memory_cache() -> None:
    """Forget the tables held in memory (the disk cache stays)."""
    _MEMO.clear()


def _as_int_array(x, name: str, lo: int, hi: int) -> np.ndarray:
    """``x`` as int64 after checking that every value is an integer in ``lo..hi`` (checked before any cast,
    so that ``2**64 - 1`` or ``1e300`` cannot wrap into the range)."""
    a = np.asarray(x)
    if a.dtype == object:  # Python ints beyond 64 bits
        vals = a.ravel().tolist()
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals):
            raise InputError(f"{name}: expected integers, got dtype object")
        if vals and (min(vals) < lo or max(vals) > hi):
            raise InputError(f"{name} outside the key's range {lo}..{hi}: min {min(vals)}, max {max(vals)}")
        return np.array(vals, dtype=np.int64).reshape(a.shape)
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise InputError(f"{name}: expected integers, got dtype {a.dtype}")
    if np.issubdtype(a.dtype, np.floating) and (not np.all(np.isfinite(a)) or not np.all(a == np.round(a))):
        raise InputError(f"{name}: OPE encrypts integers; got non-integer values")
    if a.size and (a.min() < lo or a.max() > hi):
        mn, mx = a.min(), a.max()
        mn, mx = (int(mn), int(mx)) if np.issubdtype(a.dtype, np.integer) else (float(mn), float(mx))
        raise InputError(f"{name} outside the key's range {lo}..{hi}: min {mn}, max {mx}")
    return a.astype(np.int64)


def encrypt(x, key: OPEKey) -> np.ndarray:
    """Encrypt integers (any shape) by table look-up; equal to pyope's ``encrypt`` value by value. Values
    outside ``key.in_range`` (however large) raise InputError."""
    t = table(key)
    a = _as_int_array(x, "plaintexts", *key.in_range)
    return t[a - key.in_range[0]]


def decrypt(y, key: OPEKey) -> np.ndarray:
    """Invert :func:`encrypt`; a value that is no ciphertext of ``key`` raises InputError."""
    t = table(key)
    a = _as_int_array(y, "ciphertexts", *key.out_range)
    i = np.clip(np.searchsorted(t, a), 0, t.size - 1)
    if a.size and not np.array_equal(t[i], a):
        raise InputError("ciphertexts: some values are not ciphertexts of this key")
    return i + key.in_range[0]


def encrypt_real(v, key: OPEKey) -> np.ndarray:
    """Monotone extension of OPE to real coordinates: ``Enc`` on integers, linear in between.

    ``f(v) = Enc(floor v) + (v - floor v) * (Enc(floor v + 1) - Enc(floor v))``; strictly increasing, so
    the order of the coordinates is kept (vtracer, like imagetracerjs, writes fractional coordinates).
    """
    t = table(key)
    try:
        v = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"coordinates: expected real numbers, got {v!r:.80}") from None
    lo, hi = key.in_range
    if v.size and (not np.all(np.isfinite(v)) or v.min() < lo or v.max() > hi):
        raise InputError(f"coordinates outside the key's input range {key.in_range}")
    f = np.floor(v)
    i = f.astype(np.int64) - lo
    j = np.minimum(i + 1, t.size - 1)
    return t[i] + (v - f) * (t[j] - t[i])


def key_space(shape=None, *, key_bytes: int = 32) -> KeySpace:
    """The keys :func:`keygen` draws: ``key_bytes`` random bytes, ``2**(8 * key_bytes)`` keys (exact count).

    ``shape`` is accepted for the cipher protocol and ignored: an OPE key does not depend on the image.
    The count is that of distinct secrets; whether two secrets could give the same table is not counted
    (``bound=True``: an upper bound on the number of distinct order-preserving maps drawn).
    """
    key_bytes = validate.integer("key_bytes", key_bytes, low=1, high=1024)
    return KeySpace.of(2 ** (8 * int(key_bytes)), bound=True, counts="secrets of key_bytes random bytes")


def key_space_log2(key_bytes: int = 32) -> float:
    """log2 of :func:`key_space` (``8 * key_bytes``)."""
    return key_space(key_bytes=key_bytes).bits
