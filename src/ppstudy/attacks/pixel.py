"""Ciphertext-only key recovery against the pixel-based cipher (Sirichotedumrong et al.).

Threat model: the cloud (or anyone holding the encrypted data set) sees images encrypted with the one key
the scheme requires for a whole data set, and public natural images of the same kind; no plaintext of
the encrypted images.

The key acts on each pixel as one of the 48 signed permutations of its three colour values (step 2: one
of the 8 sign patterns ``p -> 255 - p``; steps 2+3: those times the 6 channel permutations of Table 1).
Natural images are smooth, so two neighbouring pixels hold nearly the same colour *in every image*. For
each pair of neighbours (4 directions: right, down and both diagonals) and each of the 48 (or 8)
*relative* transforms ``T``, the attack scores how well ``T`` maps one pixel's cipher values onto its
neighbour's, image by image: the log-likelihood ratio of the quantised 3-vector of differences under the
neighbour-difference distribution of the public images against the distribution the wrong transforms give
(:func:`pixel_prior`). A maximum spanning tree of the most confident pairs gives every pixel's transform
relative to one reference pixel, which leaves one global unknown (48 or 8 candidates). The candidates are
ranked by the log-likelihood of their decryptions under region-wise models of the public images (colour
histogram, vertical and horizontal difference vectors), and iterated conditional modes over the grid (each
pixel's transform re-chosen given its eight neighbours and its colour likelihood) corrects tree edges that
the pairwise evidence got wrong, after which the global pick is made again.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree
from scipy.stats import beta

from ppstudy import InputError
from ppstudy.ciphers import pixel

# ------------------------------------------------------------------------------------ the 48 transforms
# Transform g acts on a pixel's values x (plain channels 0..2) as g(x)[k] = x[Q[g, k]] ^ (255 * F[g, k]).
# Elements 0..7 (identity permutation, the 8 sign patterns) are the step-2-only subgroup.
_Q = np.repeat(np.array(list(itertools.permutations(range(3)))), 8, axis=0)
_F = np.tile(np.array([[(b >> k) & 1 for k in range(3)] for b in range(8)], bool), (6, 1))
_CODE = {(tuple(q), tuple(f)): i for i, (q, f) in enumerate(zip(_Q.tolist(), _F.tolist()))}
# _COMP[a, b] = a o b (b applied first): q = Q_b[Q_a], f = F_b[Q_a] ^ F_a
_COMP = np.array([[_CODE[(tuple(_Q[b][_Q[a]].tolist()), tuple((_F[b][_Q[a]] ^ _F[a]).tolist()))]
                   for b in range(48)] for a in range(48)])
_INV = np.argmax(_COMP == 0, axis=1)
_REL = _COMP[np.arange(48)[None, :], _INV[:, None]]  # _REL[a, b] = b o a^-1: from a pixel labelled a to b
_TABLE1_CODE = {tuple(t): r for r, t in enumerate(pixel.TABLE1.tolist())}

#: neighbour offsets (dy, dx) of the pairwise evidence: right, down, down-right, down-left
OFFSETS = ((0, 1), (1, 0), (1, 1), (1, -1))
_PAIR_STEPS = (1, 2, 3, 5, 8, 12, 18, 27, 41, 61, 91)  # |d| >= step -> next bin (pairwise model, 23 bins)
_PICK_STEPS = (1, 3, 6, 11, 21, 41, 81)  # coarser (15 bins) for the region-wise difference models
_REGIONS = 4  # region-wise models on a 4 x 4 grid of the image
_COLOUR_SHIFT = 4  # 16 levels per channel: 16^3 colour bins
#: weights of the global pick's log-likelihoods (colour, vertical differences, horizontal differences),
#: chosen on CIFAR-10 data_batch_3 (never the test images) with the benchmark's scratch scripts
PICK_WEIGHTS = (1.0, 10.0, 5.0)
UNARY_WEIGHT = 1.0  # weight of the colour log-likelihood against the pairwise evidence in the grid refinement


def _quantiser(steps) -> tuple[np.ndarray, int]:
    """Symmetric quantiser of a difference ``d`` in -255..255: ``table[d + 255]`` in ``0..2k`` (k = zero)."""
    d = np.arange(-255, 256)
    m = np.searchsorted(np.asarray(steps), np.abs(d), side="right")
    k = len(steps)
    return np.where(d < 0, k - m, k + m), 2 * k + 1


_QPAIR, _NPAIR = _quantiser(_PAIR_STEPS)
_QPICK, _NPICK = _quantiser(_PICK_STEPS)


def _act_on_bins(nb: int, m: int) -> np.ndarray:
    """``out[g, b]``: the 3-vector bin that transform g's signed permutation makes of difference bin b."""
    grid = np.stack(np.meshgrid(*(np.arange(nb),) * 3, indexing="ij"), -1).reshape(-1, 3)
    out = np.empty((m, nb ** 3), np.int64)
    for g in range(m):  # 48 transforms, not pixels
        v = grid[:, _Q[g]]
        v = np.where(_F[g], nb - 1 - v, v)
        out[g] = (v[:, 0] * nb + v[:, 1]) * nb + v[:, 2]
    return out


def _edges(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbour pairs ``src -> dst`` (flat pixel indices) and the offset type of each pair."""
    idx = np.arange(h * w).reshape(h, w)
    src, dst, typ = [], [], []
    for t, (dy, dx) in enumerate(OFFSETS):
        xs = slice(max(0, -dx), w - max(0, dx))
        xd = slice(max(0, dx), w + min(0, dx))
        s, d = idx[: h - dy, xs].ravel(), idx[dy:, xd].ravel()
        src.append(s)
        dst.append(d)
        typ.append(np.full(s.size, t))
    return np.concatenate(src), np.concatenate(dst), np.concatenate(typ)


def _regions(h: int, w: int, dy: int = 0, dx: int = 0) -> np.ndarray:
    """Region index (4 x 4 grid) of every pixel of an ``(h - dy) x (w - dx)`` array."""
    ry = np.arange(h - dy) * _REGIONS // h
    rx = np.arange(w - dx) * _REGIONS // w
    return ry[:, None] * _REGIONS + rx[None, :]


def _log_hist(codes: np.ndarray, regions: np.ndarray, nb: int, alpha: float = 1.0) -> np.ndarray:
    """Region-wise log-probabilities of ``codes`` (N x ...), smoothed towards the pooled histogram."""
    r = np.broadcast_to(regions, codes.shape)
    pooled = np.bincount(codes.ravel(), minlength=nb) + 0.5
    pooled = pooled / pooled.sum()
    hst = np.bincount((r * nb + codes).ravel(), minlength=_REGIONS ** 2 * nb).reshape(-1, nb).astype(float)
    a = alpha * nb
    return np.log((hst + a * pooled) / (hst.sum(1, keepdims=True) + a))


def _colour_codes(x: np.ndarray) -> np.ndarray:
    b = (x >> _COLOUR_SHIFT).astype(np.int64)
    n = 256 >> _COLOUR_SHIFT
    return (b[..., 0] * n + b[..., 1]) * n + b[..., 2]


def _diff_codes(x: np.ndarray, dy: int, dx: int, q: np.ndarray, nb: int) -> np.ndarray:
    xi = x.astype(np.int16)
    h, w = x.shape[1:3]
    qd = q[xi[:, dy:, dx:] - xi[:, : h - dy, : w - dx] + 255]
    return (qd[..., 0] * nb + qd[..., 1]) * nb + qd[..., 2]


@dataclass(frozen=True, eq=False)
class PixelPrior:
    """Statistics of public natural images that :func:`pixel_key_recovery` uses (see :func:`pixel_prior`).

    ``pair[t]``: log-likelihood ratio of a quantised neighbour-difference 3-vector for offset ``OFFSETS[t]``
    (right transform against wrong ones, symmetrised over the cipher's transforms); ``colour``,
    ``vdiff``, ``hdiff``: region-wise log-probabilities of 16^3 colour bins and of vertical and horizontal
    difference 3-vectors.
    """

    shape: tuple[int, int]
    shuffle: bool
    n_images: int
    pair: np.ndarray = field(repr=False)
    colour: np.ndarray = field(repr=False)
    vdiff: np.ndarray = field(repr=False)
    hdiff: np.ndarray = field(repr=False)

    @property
    def n_transforms(self) -> int:
        return 48 if self.shuffle else 8


def _check_images(x, what: str, at_least: int) -> np.ndarray:
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] != 3:
        desc = f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
        raise InputError(f"{what}: expected a uint8 array N x H x W x 3, got {desc}")
    if x.shape[0] < at_least:
        raise InputError(f"{what}: need at least {at_least} images, got {x.shape[0]}")
    if min(x.shape[1:3]) < 2:
        raise InputError(f"{what}: images must be at least 2 x 2 pixels, got {x.shape[1]} x {x.shape[2]}")
    return x


def pixel_prior(public_images: np.ndarray, *, shuffle: bool = True, max_images: int = 5000,
                seed: int = 0) -> PixelPrior:
    """The public-image statistics of the attack, to reuse over many recoveries (same image size).

    ``public_images``: plain natural uint8 images (M, H, W, 3), never the encrypted ones; at most
    ``max_images`` of them are used. ``shuffle`` must match the attacked variant (steps 2+3 or step 2).
    ``seed`` draws the wrong transforms of the pairwise model's background distribution.
    """
    x = _check_images(public_images, "public images", 1)[:max_images]
    n, h, w, _ = x.shape
    m = 48 if shuffle else 8
    rng = np.random.default_rng(seed)
    src, dst, typ = _edges(h, w)
    xf = x.reshape(n, h * w, 3).astype(np.int16)
    act = _act_on_bins(_NPAIR, m)
    nb3 = _NPAIR ** 3
    pair = np.zeros((len(OFFSETS), nb3))
    for t in range(len(OFFSETS)):
        a, b = xf[:, src[typ == t]], xf[:, dst[typ == t]]
        if a.shape[1] == 0:
            continue
        qs = _QPAIR[b - a + 255]
        same = np.bincount(((qs[..., 0] * _NPAIR + qs[..., 1]) * _NPAIR + qs[..., 2]).ravel(), minlength=nb3)
        r = rng.integers(1, m, a.shape[:2])  # one wrong relative transform per pair
        ra = np.take_along_axis(a, _Q[r], -1)
        ra = np.where(_F[r], 255 - ra, ra)
        qw = _QPAIR[b - ra + 255]
        wrong = np.bincount(((qw[..., 0] * _NPAIR + qw[..., 1]) * _NPAIR + qw[..., 2]).ravel(), minlength=nb3)
        # the cipher domain sees a difference through the pixel's unknown transform: symmetrise
        same = same[act].mean(0) + 0.5
        wrong = wrong[act].mean(0) + 0.5
        pair[t] = np.log(same / same.sum()) - np.log(wrong / wrong.sum())
    colour = _log_hist(_colour_codes(x), _regions(h, w)[None], (256 >> _COLOUR_SHIFT) ** 3)
    vdiff = _log_hist(_diff_codes(x, 1, 0, _QPICK, _NPICK), _regions(h, w, 1, 0)[None], _NPICK ** 3)
    hdiff = _log_hist(_diff_codes(x, 0, 1, _QPICK, _NPICK), _regions(h, w, 0, 1)[None], _NPICK ** 3)
    return PixelPrior((h, w), bool(shuffle), int(n), pair, colour, vdiff, hdiff)


# --------------------------------------------------------------------------------------- the attack
def _pair_costs(y: np.ndarray, src, dst, typ, pair: np.ndarray, m: int, chunk: int = 16) -> np.ndarray:
    """``C[e, r]``: minus the summed log-likelihood ratio of relative transform r on pair e (c_dst ~ r(c_src))."""
    yf = y.reshape(y.shape[0], -1, 3)
    C = np.zeros((len(src), m))
    fi = _F[:m].astype(np.int64)
    for i in range(0, len(yf), chunk):
        a = yf[i:i + chunk, src].astype(np.int16)
        b = yf[i:i + chunk, dst].astype(np.int16)
        q = np.empty((3, 3, 2) + a.shape[:2], np.int64)  # q[k, l, f]: bin of b[k] - (a[l] or 255 - a[l])
        for k in range(3):
            for l in range(3):
                q[k, l, 0] = _QPAIR[b[..., k] - a[..., l] + 255]
                q[k, l, 1] = _QPAIR[b[..., k] + a[..., l]]
        code = (q[0, _Q[:m, 0], fi[:, 0]] * _NPAIR + q[1, _Q[:m, 1], fi[:, 1]]) * _NPAIR + q[2, _Q[:m, 2], fi[:, 2]]
        C -= pair[typ[None, None, :], code].sum(1).T  # code: (m, images, E)
    return C


def _inverse_apply(x: np.ndarray, g) -> np.ndarray:
    """``g^-1`` applied to values x (..., 3); ``g`` a transform index, or one per pixel (broadcasting)."""
    gi = _INV[g]
    v = np.take_along_axis(x, np.broadcast_to(_Q[gi], x.shape), -1) if np.ndim(g) else x[..., _Q[gi]]
    return np.where(_F[gi], 255 - v, v).astype(np.uint8)


def _unary(y: np.ndarray, prior: PixelPrior) -> np.ndarray:
    """``U[i, g]``: minus the colour log-likelihood of pixel i's values decrypted by transform g."""
    n, h, w, _ = y.shape
    reg = _regions(h, w).ravel()
    yf = y.reshape(n, h * w, 3)
    U = np.empty((h * w, prior.n_transforms))
    for g in range(prior.n_transforms):
        U[:, g] = -prior.colour[reg[None, :], _colour_codes(_inverse_apply(yf, g))].sum(0)
    return U


def _tree_labels(C: np.ndarray, src, dst, n_pix: int) -> tuple[np.ndarray, np.ndarray]:
    """Transforms relative to pixel 0 along a maximum spanning tree of the pairs' margins."""
    srt = np.sort(C, 1)
    margin = srt[:, 1] - srt[:, 0]
    best = np.argmin(C, 1)
    g = coo_matrix((margin.max() + 1.0 - margin, (src, dst)), shape=(n_pix, n_pix)).tocsr()
    tree = minimum_spanning_tree(g + g.T)
    _, pred = breadth_first_order(tree + tree.T, 0, directed=False)
    if (pred[1:] < 0).any():
        raise InputError("key recovery: the pixel grid is not connected")  # cannot happen for H, W >= 2
    eid = csr_matrix((np.arange(1, len(src) + 1), (src, dst)), shape=(n_pix, n_pix))
    child = np.arange(1, n_pix)
    par = pred[1:]
    fwd = np.asarray(eid[par, child]).ravel()  # pair stored as parent -> child
    bwd = np.asarray(eid[child, par]).ravel()
    rel = np.zeros(n_pix, np.int64)  # g_child = rel o g_parent
    rel[1:] = np.where(fwd > 0, best[np.maximum(fwd, 1) - 1], _INV[best[np.maximum(bwd, 1) - 1]])
    anc = np.concatenate([[0], par])
    for _ in range(max(1, math.ceil(math.log2(n_pix)))):  # pointer jumping: compose along the path to pixel 0
        rel = _COMP[rel, rel[anc]]
        anc = anc[anc]
    return rel, margin


def _incidence(src, dst, n_pix: int):
    e = np.arange(len(src))
    one = np.ones(len(src))
    return (csr_matrix((one, (src, e)), shape=(n_pix, len(src))),
            csr_matrix((one, (dst, e)), shape=(n_pix, len(src))))


def _refine(lab, C, U, src, dst, h: int, w: int, inc, iters: int = 20) -> np.ndarray:
    """Iterated conditional modes: each pixel's transform given its neighbours' (4-colouring sweeps)."""
    m = C.shape[1]
    rel = _REL[:m, :m]
    colour = ((np.arange(h)[:, None] % 2) * 2 + np.arange(w)[None, :] % 2).ravel()
    inc_src, inc_dst = inc
    lab = lab.copy()
    for _ in range(iters):
        old = lab.copy()
        for c in range(4):
            cs = np.take_along_axis(C, rel[:, lab[dst]].T, 1)  # src pixel takes each label
            cd = np.take_along_axis(C, rel[lab[src], :], 1)  # dst pixel takes each label
            L = inc_src @ cs + inc_dst @ cd + UNARY_WEIGHT * U
            sel = colour == c
            lab[sel] = np.argmin(L[sel], 1)
        if np.array_equal(old, lab):
            break
    return lab


def _pick_scores(y: np.ndarray, lab: np.ndarray, U: np.ndarray, prior: PixelPrior) -> np.ndarray:
    """Log-likelihood of the decryption by every global candidate ``g_i = lab_i o h`` (higher is better)."""
    n, h, w, _ = y.shape
    m = prior.n_transforms
    colour = -U[np.arange(h * w)[:, None], _COMP[lab[:, None], np.arange(m)[None, :]]].sum(0)
    x = _inverse_apply(y.reshape(n, h * w, 3), lab[None, :]).reshape(y.shape)  # = h(plain)
    out = PICK_WEIGHTS[0] * colour
    for wgt, table, (dy, dx) in ((PICK_WEIGHTS[1], prior.vdiff, (1, 0)), (PICK_WEIGHTS[2], prior.hdiff, (0, 1))):
        xi = x.astype(np.int16)
        q = _QPICK[xi[:, dy:, dx:] - xi[:, : h - dy, : w - dx] + 255]  # (n, h', w', 3) bins of h(plain diffs)
        reg = _regions(h, w, dy, dx)[None]
        for g in range(m):  # candidate plain = g^-1(h(plain)); a difference transforms by g^-1's signed part
            gi = _INV[g]
            v = q[..., _Q[gi]]
            v = np.where(_F[gi], _NPICK - 1 - v, v)
            out[g] += wgt * table[reg, (v[..., 0] * _NPICK + v[..., 1]) * _NPICK + v[..., 2]].sum()
    return out


def _key(lab: np.ndarray, h: int, w: int, shuffle: bool) -> pixel.PixelKey:
    q, f = _Q[lab], _F[lab]  # cipher channel k reads plain channel q[k], negated by f[k]
    neg = np.zeros_like(f)
    np.put_along_axis(neg, q, f, 1)
    codes = np.array([_TABLE1_CODE[tuple(p)] for p in _Q[:48].tolist()])[lab] if shuffle else np.zeros(lab.shape, np.int64)
    return pixel.PixelKey((h, w, 3), (2, 3) if shuffle else (2,), neg.reshape(h, w, 3), codes.reshape(h, w))


def pixel_key_recovery(cipher_images, public_images, *, shuffle: bool = True, refine: bool = True) -> dict:
    """Recover a pixel-cipher key (negative-positive bits and colour permutations) from cipher images.

    ``cipher_images``: uint8 (N, H, W, 3), N >= 2, all encrypted with one unknown key. ``public_images``:
    plain natural images of the same kind (not the encrypted ones), or a :class:`PixelPrior` made from
    them by :func:`pixel_prior` (to reuse it over many recoveries). ``shuffle=False`` assumes step 2 only.
    ``refine=False`` stops after the spanning tree and the global pick (no grid refinement).

    Returns ``{"key": the estimated PixelKey, "candidates": the 48 (step 2: 8) global variants of the
    estimate, best first, "scores": their log-likelihoods, "confidence": per-pair margins of the
    pairwise evidence, "tree_key": the estimate before the grid refinement}``; score a key with
    :func:`pixel_key_score`.
    """
    y = _check_images(cipher_images, "cipher images", 2)
    n, h, w, _ = y.shape
    if isinstance(public_images, PixelPrior):
        prior = public_images
        if prior.shuffle != bool(shuffle):
            raise InputError(f"the prior was made for shuffle={prior.shuffle}, the attack asks shuffle={shuffle}")
    else:
        prior = pixel_prior(public_images, shuffle=shuffle)
    if prior.shape != (h, w):
        raise InputError(f"public images are {prior.shape[0]} x {prior.shape[1]}, cipher images {h} x {w}")
    m = prior.n_transforms
    src, dst, typ = _edges(h, w)
    C = _pair_costs(y, src, dst, typ, prior.pair, m)
    U = _unary(y, prior)
    lab, margin = _tree_labels(C, src, dst, h * w)

    def pick(lab):  # align the labels to the best global candidate; the candidates' scores, re-indexed
        s = _pick_scores(y, lab, U, prior)
        b = int(np.argmax(s))
        return _COMP[lab, b], s[_COMP[b, :m]], b  # candidate g of the new labels = candidate b o g of the old

    lab, scores, _ = pick(lab)
    tree_lab = lab
    if refine:
        inc = _incidence(src, dst, h * w)
        for _ in range(3):  # refine, pick again; stop when the pick keeps the refined labels
            lab, scores, b = pick(_refine(lab, C, U, src, dst, h, w, inc))
            if b == 0:
                break
    order = np.argsort(-scores, kind="stable")
    cands = [_key(_COMP[lab, g], h, w, shuffle) for g in order]
    return {"key": cands[0], "candidates": cands, "scores": scores[order], "confidence": margin,
            "tree_key": _key(tree_lab, h, w, shuffle)}


def pixel_key_score(estimate, true_key, plain_images=None) -> dict:
    """How much of ``true_key`` an estimated :class:`~ppstudy.ciphers.pixel.PixelKey` recovers.

    ``negpos_bits``: fraction of the 3n negative-positive bits right; ``permutations``: fraction of the n
    colour permutations right; ``key_bits``: fraction of the key's ``log2 N(n)`` bits, counting a right
    permutation as ``log2 6`` bits; ``values``: fraction of plain values exactly recovered by decrypting
    ``true``-key cipher images of ``plain_images`` with the estimate (when given).
    """
    nb = float(np.mean(estimate.negpos == true_key.negpos))
    shuffled = true_key.steps == (2, 3)
    pm = float(np.mean(estimate.shuffle == true_key.shuffle))
    n = true_key.n_pixels
    total = 3 * n + (n * math.log2(6) if shuffled else 0.0)
    got = nb * 3 * n + (pm * n * math.log2(6) if shuffled else 0.0)
    out = {"negpos_bits": nb, "permutations": pm if shuffled else None, "key_bits": got / total}
    if plain_images is not None:
        x = np.asarray(plain_images)
        out["values"] = float(np.mean(pixel.decrypt(pixel.encrypt(x, true_key), estimate) == x))
    return out


def clopper_pearson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided confidence interval of a binomial proportion."""
    if trials < 1 or not 0 <= successes <= trials:
        raise InputError(f"clopper_pearson: need 0 <= successes <= trials, trials >= 1; got {successes}/{trials}")
    a = (1 - level) / 2
    lo = 0.0 if successes == 0 else float(beta.ppf(a, successes, trials - successes + 1))
    hi = 1.0 if successes == trials else float(beta.ppf(1 - a, successes + 1, trials - successes))
    return lo, hi


def success_rates(plain_pool, public_images, counts, *, draws: int, shuffle: bool, seed: int) -> list[dict]:
    """Whole-key success of :func:`pixel_key_recovery` over random data sets and keys.

    For each count ``n`` and each of ``draws`` draws: a fresh key (seeded from ``seed``, ``n`` and the
    draw) and a fresh random subset of ``n`` images of ``plain_pool`` (without replacement), encrypted
    with it and attacked with the prior of ``public_images`` (plain images not in the pool). Returns one
    row per count: ``{"cipher", "cipher_images", "draws", "successes", "rate", "ci95_low", "ci95_high",
    "mean_key_bits"}`` (the Clopper-Pearson 95% interval of the rate; ``mean_key_bits`` the mean
    fraction of key bits right).
    """
    x = _check_images(plain_pool, "plain pool", 2)
    prior = public_images if isinstance(public_images, PixelPrior) else pixel_prior(public_images, shuffle=shuffle)
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise InputError(f"draws must be a positive integer, got {draws!r}")
    counts = list(counts)
    if not counts or any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 2 <= c <= len(x)
                         for c in counts):
        raise InputError(f"counts must be integers from 2 to the pool size {len(x)}, got {counts!r}")
    rows = []
    for n in counts:
        ok, bits = 0, 0.0
        for d in range(draws):
            key_seed, subset_seed = np.random.SeedSequence([int(seed), int(shuffle), int(n), d]).spawn(2)
            key = pixel.keygen(x.shape[1:], seed=key_seed, shuffle=shuffle)
            idx = np.random.default_rng(subset_seed).choice(len(x), int(n), replace=False)
            r = pixel_key_recovery(pixel.encrypt(x[idx], key), prior, shuffle=shuffle)
            s = pixel_key_score(r["key"], key)
            ok += bool(np.array_equal(r["key"].negpos, key.negpos) and np.array_equal(r["key"].shuffle, key.shuffle))
            bits += s["key_bits"]
        lo, hi = clopper_pearson(ok, draws)
        rows.append({"cipher": "steps 2+3" if shuffle else "step 2", "cipher_images": int(n), "draws": int(draws),
                     "successes": int(ok), "rate": ok / draws, "ci95_low": lo, "ci95_high": hi,
                     "mean_key_bits": bits / draws})
    return rows
