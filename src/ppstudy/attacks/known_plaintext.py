"""Known plaintext: how many (plain, cipher) pairs under one key give that key, scheme by scheme.

Threat model: the attacker holds ``k`` plain images and their cipher images under the target key (a
client's published photographs, a training set that leaked) and the scheme's public description (block
size, tile, which steps), and wants the key, to decrypt every other image encrypted with it.

Every scheme here is, once its key is fixed, a fixed map of positions and values, so one consistency test
per key *component* decides what the pairs leave open:

* pixel-based (steps 2 and 2+3): per pixel, the 8 (48) signed channel permutations that map the plain
  values onto the cipher values in every pair;
* EtC (colour and grayscale-based): per cipher block, the (plain block, symmetry, channel permutation,
  flip) that map a plain block onto it in every pair;
* Tanaka: per position of the cipher block (the same for every block), the (plain position, reversal)
  that agree in every block of every pair;
* the logistic-map + RC4 cipher: per cipher pixel, the plain pixels whose values differ between the pairs
  exactly as the cipher pixel's do (the keystream is the same for every image, so it cancels); the key
  recovered is the *equivalent* key (the pixel permutation and the keystream), not ``(x0, mu, RC4 key)``;
* the cat map: the tile-local pixels ``(1, 0)`` and ``(0, 1)`` fix the linear map; every candidate pair of
  destinations with determinant 1 is checked by decrypting the pairs.

A component with one candidate is determined; one with several is not (a flat block fits several
symmetries), and the pairs then leave ``remaining_bits`` (log2 of the product of the candidate counts,
an upper bound on the keys that fit) of the key's bits open. Where components compete for one source (a
permutation) the key is completed by an assignment (``scipy.optimize.linear_sum_assignment``). The
recovered key decrypts a fresh cipher image exactly when every component is determined; that is what
:func:`pairs_needed` measures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ppstudy import InputError
from ppstudy.attacks import blocks as B
from ppstudy.ciphers import base
from ppstudy.images import check_uint8


@dataclass(frozen=True, eq=False)
class EquivalentKey(base.GatherXorCipher):
    """A key given by its compiled map ``y.ravel() = x.ravel()[gather] ^ mask`` (what known plaintext
    recovers of a cipher whose key is a seed, such as the logistic map + RC4): decrypts like the key."""

    shape: tuple[int, int, int]
    gather: np.ndarray = field(repr=False)
    mask: np.ndarray = field(repr=False)
    inverse: np.ndarray = field(repr=False, init=False)
    inverse_mask: np.ndarray = field(repr=False, init=False)

    def __post_init__(self):
        shape = base.image_shape(self.shape)
        g = np.asarray(self.gather, dtype=np.intp)
        m = np.asarray(self.mask, dtype=np.uint8)
        d = math.prod(shape)
        if g.shape != (d,) or not np.array_equal(np.sort(g), np.arange(d)) or m.shape != (d,):
            raise InputError(f"equivalent key: gather must be a permutation of {d} values and mask {d} bytes")
        base.freeze(self, shape=shape, gather=g, mask=m)
        self._compile_inverse()

    def decrypt(self, y: np.ndarray) -> np.ndarray:
        return self.invert(y)


@dataclass(frozen=True)
class Recovery:
    """What known pairs give: ``key`` (a key of the scheme, or an :class:`EquivalentKey`), ``candidates``
    (per key component, how many values fit every pair), ``remaining_bits`` (log2 of the keys that still
    fit, an upper bound), ``total_bits`` (the key's bits on the same scale) and ``decrypt`` (the key's
    decryption)."""

    scheme: str
    key: Any
    candidates: np.ndarray
    remaining_bits: float
    total_bits: float
    decrypt: Any = field(repr=False)

    @property
    def components(self) -> int:
        return int(self.candidates.size)

    @property
    def undetermined(self) -> int:
        return int((self.candidates > 1).sum())

    @property
    def determined(self) -> bool:
        """Every component has exactly one candidate: the key (its map) is the true one."""
        return bool((self.candidates == 1).all())

    @property
    def key_bits(self) -> float:
        """Fraction of the key's bits the pairs fix: ``1 - remaining_bits / total_bits``."""
        return 1.0 - self.remaining_bits / self.total_bits if self.total_bits > 0 else 1.0


def _pairs(x, y, what: str) -> tuple[np.ndarray, np.ndarray]:
    check_uint8(x, "plain images")
    check_uint8(y, "cipher images")
    if x.ndim != 4 or y.ndim != 4 or len(x) != len(y) or not len(x):
        raise InputError(f"{what}: need N >= 1 plain and N cipher images, N x H x W x C, got {x.shape}, {y.shape}")
    return x, y


def _assign(cost: np.ndarray) -> np.ndarray:
    """A permutation ``out[j]`` (source of cipher component j) choosing only candidates (cost 0)."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost)
    if cost[rows, cols].any():
        raise InputError("known plaintext: the candidates admit no permutation; are these pairs under one key?")
    out = np.empty(len(rows), np.intp)
    out[rows] = cols
    return out


def _log2_counts(counts: np.ndarray) -> float:
    return float(np.log2(np.maximum(counts, 1)).sum())


def _no_candidate(what: str):
    return InputError(f"known plaintext: no {what} fits every pair; are these pairs of this scheme under one key?")


# ---------------------------------------------------------------------- pixel-based
def recover_pixel(x: np.ndarray, y: np.ndarray, *, shuffle: bool = True) -> Recovery:
    """The pixel-based cipher's key (step 2, or steps 2 and 3 with ``shuffle``) from pairs ``x``, ``y``."""
    from ppstudy.ciphers import pixel

    x, y = _pairs(x, y, "pixel known plaintext")
    shape = x.shape[1:]
    if shape[-1] != 3 or y.shape[1:] != shape:
        raise InputError(f"pixel known plaintext: need N x H x W x 3 pairs, got {x.shape}, {y.shape}")
    codes = range(6) if shuffle else range(1)
    ok = np.zeros((len(codes), *shape[:2]), bool)
    flips = np.zeros((len(codes), *shape), bool)  # per cipher channel: flipped
    for s in codes:
        xs = x[..., pixel.TABLE1[s]]  # cipher channel k reads plain channel TABLE1[s, k]
        keep = (y == xs).all(0)
        flip = (y == np.uint8(255) - xs).all(0)
        ok[s] = (keep | flip).all(-1)
        flips[s] = flip
    counts = ok.sum(0)
    if (counts == 0).any():
        raise _no_candidate("signed channel permutation")
    s = np.argmax(ok, axis=0)  # the first candidate of every pixel
    f = np.take_along_axis(flips, s[None, ..., None], 0)[0]
    negpos = np.zeros(shape, bool)
    np.put_along_axis(negpos, pixel.TABLE1[s], f, -1)  # negpos is indexed by the plain channel
    key = pixel.PixelKey(shape, (2, 3) if shuffle else (2,), negpos, s.astype(np.int64))
    total = pixel.key_space(shape, shuffle=shuffle).bits
    name = "pixel23" if shuffle else "pixel2"
    return Recovery(name, key, counts.ravel(), _log2_counts(counts), total, lambda c: pixel.decrypt(c, key))


# ---------------------------------------------------------------------- EtC
def recover_etc(x: np.ndarray, y: np.ndarray, *, block: int, grayscale: bool = False) -> Recovery:
    """An EtC key (all four steps; grayscale-based with ``grayscale``) from pairs ``x``, ``y``."""
    from ppstudy.ciphers import etc

    x, y = _pairs(x, y, "EtC known plaintext")
    shape = x.shape[1:]
    ws = etc.work_shape(shape, grayscale)
    if y.shape[1:] != ws:
        raise InputError(f"EtC known plaintext: cipher images of {y.shape[1:]}, the scheme gives {ws}")
    h, w, c = shape
    xw = x.transpose(0, 1, 3, 2).reshape(len(x), h, c * w, 1) if grayscale else x
    px = B.to_blocks(xw, block)  # N x n x b x b x c'
    cy = B.to_blocks(y, block)
    n, cc = px.shape[1], px.shape[-1]
    syms = range(B.N_SYMMETRIES) if block > 1 else range(1)  # a 1x1 block has one symmetry
    group = B.colour_group(cc, negpos=False)
    table: dict[bytes, list[tuple[int, int, int]]] = {}
    for r in syms:
        rotated = B.symmetry(px, r)
        for t in range(group.size):
            cand = np.ascontiguousarray(group.apply(rotated, t).transpose(1, 0, 2, 3, 4)).reshape(n, -1)
            for i in range(n):
                table.setdefault(cand[i].tobytes(), []).append((i, r, t))
    cyf = np.ascontiguousarray(cy.transpose(1, 0, 2, 3, 4)).reshape(n, -1)
    options: list[list[tuple[int, int, int, bool]]] = []
    for j in range(n):
        opts = [(*o, False) for o in table.get(cyf[j].tobytes(), [])]
        opts += [(*o, True) for o in table.get((np.uint8(255) - cyf[j]).tobytes(), [])]
        if not opts:
            raise _no_candidate(f"plain block and block transform for cipher block {j}")
        options.append(opts)
    counts = np.array([len(o) for o in options])
    cost = np.ones((n, n))
    for j, opts in enumerate(options):
        cost[j, [o[0] for o in opts]] = 0
    scramble = _assign(cost)
    chosen = [next(o for o in opts if o[0] == scramble[j]) for j, opts in enumerate(options)]
    rotation = np.array([o[1] for o in chosen])
    shuffle = group.perms[[o[2] for o in chosen]]
    negpos = np.array([o[3] for o in chosen])
    key = etc.EtCKey(shape, block, etc.STEPS, bool(grayscale), scramble, rotation, negpos, shuffle)
    total = etc.key_space(shape, block, grayscale=grayscale).bits
    # the keys that fit: at most n! (or the product of the blocks each cipher block may come from) block
    # orders, times per cipher block the most transforms one of its plain blocks admits
    sources = np.array([len({o[0] for o in opts}) for opts in options])
    per_block = [max(np.unique([o[0] for o in opts], return_counts=True)[1]) for opts in options]
    remaining = min(_log2_counts(sources), math.lgamma(n + 1) / math.log(2)) + _log2_counts(np.array(per_block))
    name = f"etc{'-grayscale' if grayscale else ''}-{block}"
    return Recovery(name, key, counts, min(remaining, total), total, lambda v: etc.decrypt(v, key))


# ---------------------------------------------------------------------- Tanaka
def recover_tanaka(x: np.ndarray, y: np.ndarray, *, block: int = 4) -> Recovery:
    """Tanaka's key (one in-block permutation and reversal pattern for every block) from pairs."""
    from ppstudy.ciphers import tanaka

    x, y = _pairs(x, y, "Tanaka known plaintext")
    shape = x.shape[1:]
    h, w, _ = shape
    if shape[-1] != 3 or y.shape[1:] != (h, w, 6):
        raise InputError(f"Tanaka known plaintext: need N x H x W x 3 plain and N x H x W x 6 cipher, got {y.shape}")
    d = 6 * block * block
    p = B.to_blocks(tanaka.split(x), block).reshape(-1, d)  # every block of every pair, in-block (r, c, ch)
    q = B.to_blocks(y, block).reshape(-1, d)
    keep = np.ones((d, d), bool)  # keep[j, i]: cipher position j equals plain position i everywhere
    rev = np.ones((d, d), bool)
    for i in range(0, len(p), 4096):
        pp, qq = p[i : i + 4096], q[i : i + 4096]
        keep &= (qq[:, :, None] == pp[:, None, :]).all(0)
        rev &= (qq[:, :, None] == np.uint8(15) - pp[:, None, :]).all(0)
    fits = keep | rev
    counts = fits.sum(1)
    if (counts == 0).any():
        raise _no_candidate("plain position for a cipher position")
    perm = _assign((~fits).astype(float))
    reverse = ~keep[np.arange(d), perm]
    key = tanaka.TanakaKey(shape, int(block), perm, reverse)
    total = tanaka.key_space(shape, block=block).bits
    remaining = min(_log2_counts(counts), math.lgamma(d + 1) / math.log(2))  # a reversal follows from its source
    return Recovery("tanaka", key, counts, remaining, total, lambda v: tanaka.decrypt(v, key))


# ---------------------------------------------------------------------- pixel permutation + keystream
def recover_keystream(x: np.ndarray, y: np.ndarray) -> Recovery:
    """The equivalent key of a cipher that moves whole pixels and XORs one keystream onto every image
    (the logistic map + RC4): which plain pixel each cipher pixel holds, and the keystream.

    One pair fixes nothing (any pixel, with its own keystream, fits); with more, the keystream cancels in
    ``y_n ^ y_0 = x_n[src] ^ x_0[src]``, which singles out the source pixel."""
    x, y = _pairs(x, y, "keystream known plaintext")
    nimg, h, w, c = x.shape
    if y.shape != x.shape:
        raise InputError(f"keystream known plaintext: plain {x.shape} and cipher {y.shape} differ")
    npix = h * w
    xp, yp = x.reshape(nimg, npix, c), y.reshape(nimg, npix, c)
    dx = np.ascontiguousarray((xp[1:] ^ xp[:1]).transpose(1, 0, 2)).reshape(npix, -1)
    dy = np.ascontiguousarray((yp[1:] ^ yp[:1]).transpose(1, 0, 2)).reshape(npix, -1)
    groups: dict[bytes, list[int]] = {}
    for i in range(npix):
        groups.setdefault(dx[i].tobytes(), []).append(i)
    options = [groups.get(dy[j].tobytes(), []) for j in range(npix)]
    counts = np.array([len(o) for o in options])
    if (counts == 0).any():
        raise _no_candidate("plain pixel for a cipher pixel")
    if (counts == npix).all():  # one pair: every pixel fits; keep the identity
        src = np.arange(npix)
    else:
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import maximum_bipartite_matching

        rows = np.repeat(np.arange(npix), counts)
        graph = csr_matrix((np.ones(rows.size), (rows, np.concatenate(options))), shape=(npix, npix))
        src = maximum_bipartite_matching(graph, perm_type="column")
        if (src < 0).any():
            raise InputError("keystream known plaintext: the candidates admit no permutation")
    gather = (src[:, None] * c + np.arange(c)).reshape(-1)
    mask = (yp[0] ^ xp[0, src]).reshape(-1)
    key = EquivalentKey((h, w, c), gather, mask)
    perm_bits = math.lgamma(npix + 1) / math.log(2)
    total = perm_bits + 8.0 * npix * c
    remaining = min(_log2_counts(counts), perm_bits)  # the keystream follows from the permutation
    return Recovery("keystream", key, counts, remaining, total, key.decrypt)


def recover_chaotic(x: np.ndarray, y: np.ndarray) -> Recovery:
    """The logistic map + RC4 cipher's equivalent key (:func:`recover_keystream`)."""
    r = recover_keystream(x, y)
    return Recovery("chaotic", r.key, r.candidates, r.remaining_bits, r.total_bits, r.decrypt)


# ---------------------------------------------------------------------- cat map
def recover_catmap(x: np.ndarray, y: np.ndarray, *, tile: int) -> Recovery:
    """The cat map (per ``tile``; the canvas side for the whole image) from exact pairs: the candidates
    for where the tile-local pixels (1, 0) and (0, 1) go, every invertible combination checked by
    decrypting the pairs. One component: the map; it is determined when one map fits."""
    from ppstudy.ciphers import catmap

    x, y = _pairs(x, y, "cat map known plaintext")
    if x.shape != y.shape:
        raise InputError(f"cat map known plaintext: plain {x.shape} and cipher {y.shape} differ")
    nimg, h, w, c = x.shape
    if h != w or h % tile:
        raise InputError(f"cat map known plaintext: tile {tile} must divide the square canvas {h}x{w}")
    t = int(tile)
    ox = x.reshape(nimg, h // t, t, w // t, t, c).transpose(0, 1, 3, 5, 2, 4).reshape(-1, t * t)
    ey = y.reshape(nimg, h // t, t, w // t, t, c).transpose(0, 1, 3, 5, 2, 4).reshape(-1, t * t)
    cols = []
    for p in (1 * t + 0, 0 * t + 1):  # local (1, 0) and (0, 1)
        hit = np.flatnonzero((ey == ox[:, p : p + 1]).all(0))
        cols.append([divmod(int(q), t) for q in hit])
    fits = []
    for r0, c0 in cols[0]:
        for r1, c1 in cols[1]:
            m = (r0, r1, c0, c1)
            if (m[0] * m[3] - m[1] * m[2]) % t != 1 % t:
                continue
            if np.array_equal(catmap.apply_matrix(y, (h, w), t, m, inverse=True), x):
                fits.append(m)
    if not fits:
        raise _no_candidate("cat map")
    found = catmap.key_for_matrix(fits[0], (h, w), t, low=0)
    key: Any = fits[0] if found is None else found  # not a power of any M(a, b): the map itself
    matrix = fits[0]

    def dec(v):
        return catmap.apply_matrix(v, (h, w), t, matrix, inverse=True)

    mode = "whole" if t == h else "tile"
    ks = catmap.key_space((h, w), mode=mode, tile=t)
    counts = np.array([len(fits)])
    return Recovery(f"catmap-{mode}", key, counts, _log2_counts(counts), ks.bits, dec)


# ---------------------------------------------------------------------- by scheme
def recover(spec, x: np.ndarray, y: np.ndarray) -> Recovery:
    """The key of the configured cipher ``spec`` (a :class:`~ppstudy.ciphers.base.CipherSpec`) from pairs."""
    module = getattr(getattr(spec, "module", None), "__name__", "")
    opts = dict(getattr(spec, "options", {}))
    kind = module.rsplit(".", 1)[-1]
    if kind == "pixel":
        return recover_pixel(x, y, shuffle=opts.get("shuffle", True))
    if kind == "etc":
        return recover_etc(x, y, block=opts.get("block", 8), grayscale=opts.get("grayscale", False))
    if kind == "tanaka":
        return recover_tanaka(x, y, block=opts.get("block", 4))
    if kind == "chaotic":
        return recover_chaotic(x, y)
    if kind == "catmap":
        tile = x.shape[1] if opts.get("mode", "tile") == "whole" else opts.get("tile", 32)
        return recover_catmap(x, y, tile=tile)
    raise InputError(f"known plaintext: no key recovery for cipher {getattr(spec, 'name', spec)!r}")


def pairs_needed(spec, key, pool: np.ndarray, *, max_pairs: int = 8, seed: int = 0) -> dict:
    """Known pairs, drawn one at a time from ``pool`` (plain images; without replacement, seeded), until the
    recovered key is determined (at most ``max_pairs``); then the recovered key decrypts a further image of
    the pool under ``key`` (a fresh cipher image) and ``exact`` says whether it gave the plain image back.

    Returns ``{"pairs": the count that determined the key, or None; "key_bits": fraction of the key's bits
    fixed by one pair; "key_bits_final": by the last count tried; "exact": the fresh image decrypted
    exactly; "recovery": the last Recovery}``.
    """
    check_uint8(pool, "plain pool")
    if pool.ndim != 4 or len(pool) < max_pairs + 1:
        raise InputError(f"pairs_needed: the pool must hold N x H x W x C images, more than {max_pairs}")
    order = np.random.default_rng(seed).permutation(len(pool))[: max_pairs + 1]
    fresh = pool[order[-1:]]
    x = pool[order[:max_pairs]]
    y = spec.encrypt(x, key)
    first, rec, needed = None, None, None
    for k in range(1, max_pairs + 1):
        rec = recover(spec, x[:k], y[:k])
        first = rec.key_bits if first is None else first
        if rec.determined:
            needed = k
            break
    assert rec is not None
    exact = bool(np.array_equal(rec.decrypt(spec.encrypt(fresh, key)), fresh))
    return {"pairs": needed, "key_bits": first, "key_bits_final": rec.key_bits, "exact": exact, "recovery": rec}
