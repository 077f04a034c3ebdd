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
histogram, vertical and horizontal difference vectors). Iterated conditional modes over the grid then
re-choose each pixel's transform given its eight neighbours' (the pairwise evidence, and the line evidence
of the second difference ``2 x_c - x_a - x_b`` along the four directions) and its colour likelihood,
which corrects what a wrong tree edge or an ambiguous pixel got wrong; then the global pick is made again.

Measured on CIFAR-10 (``benchmarks/bench_attack_pixel.py``, 500 random draws of test images, each under a
fresh key): the whole key from 10 cipher images in 500 draws of 500 (step 2) and 495 of 500 (steps 2+3,
whose misses were all in the global pick); the pick and the refinement weights below were chosen with
data_batch_3 as the cipher pool, never the test images.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree

from ppstudy import InputError, validate
from ppstudy.ciphers import pixel

# ------------------------------------------------------------------------------------ the 48 transforms
# Transform g acts on a pixel's values x (plain channels 0..2) as g(x)[k] = x[Q[g, k]] ^ (255 * F[g, k]).
# Elements 0..7 (identity permutation, the 8 sign patterns) are the step-2-only subgroup.
_Q = np.repeat(np.array(list(itertools.permutations(range(3)))), 8, axis=0)
_F = np.tile(np.array([[(b >> k) & 1 for k in range(3)] for b in range(8)], bool), (6, 1))
_CODE = {(tuple(q), tuple(f)): i for i, (q, f) in enumerate(zip(_Q.tolist(), _F.tolist()))}
# _COMP[a, b] = a o b (b applied first): q = Q_b[Q_a], f = F_b[Q_a] ^ F_a
_COMP = np.array(
    [
        [_CODE[(tuple(_Q[b][_Q[a]].tolist()), tuple((_F[b][_Q[a]] ^ _F[a]).tolist()))] for b in range(48)]
        for a in range(48)
    ]
)
_INV = np.argmax(_COMP == 0, axis=1)
_REL = _COMP[np.arange(48)[None, :], _INV[:, None]]  # _REL[a, b] = b o a^-1: from a pixel labelled a to b
_TABLE1_CODE = {tuple(t): r for r, t in enumerate(pixel.TABLE1.tolist())}
_SHUFFLE = np.array([_TABLE1_CODE[tuple(q)] for q in _Q.tolist()])  # Table 1 integer of each transform

#: neighbour offsets (dy, dx) of the pairwise evidence: right, down, down-right, down-left
OFFSETS = ((0, 1), (1, 0), (1, 1), (1, -1))
_PAIR_STEPS = (1, 2, 3, 5, 8, 12, 18, 27, 41, 61, 91)  # |d| >= step -> next bin (pairwise model, 23 bins)
_PICK_STEPS = (1, 3, 6, 11, 21, 41, 81)  # coarser (15 bins) for the region-wise difference models
_LINE_STEPS = (1, 2, 4, 6, 10, 16, 24, 36, 54, 82, 122, 182)  # of 2 x_i - x_a - x_b (line model, 25 bins)
_LLR_IMAGES = 2000  # public images behind the pairwise and line tables (more change nothing measurable)
_REGIONS = 4  # region-wise models on a 4 x 4 grid of the image
_COLOUR_SHIFT = 4  # 16 levels per channel: 16^3 colour bins
#: weights of the global pick's log-likelihoods (colour, vertical differences, horizontal differences),
#: chosen with CIFAR-10 data_batch_3 as the cipher pool (never the test images)
PICK_WEIGHTS = (1.0, 10.0, 5.0)
#: weights, in the grid refinement, of a pixel's colour log-likelihood and of the line (second-difference)
#: evidence against the pairwise evidence (chosen on CIFAR-10 data_batch_3)
UNARY_WEIGHT = 1.0
LINE_WEIGHT = 2.0


def _quantiser(steps, span: int = 255) -> tuple[np.ndarray, int]:
    """Symmetric quantiser of ``d`` in -span..span: ``table[d + span]`` in ``0..2k`` (k: zero)."""
    d = np.arange(-span, span + 1)
    m = np.searchsorted(np.asarray(steps), np.abs(d), side="right")
    k = len(steps)
    return np.where(d < 0, k - m, k + m).astype(np.int32), 2 * k + 1


_QPAIR, _NPAIR = _quantiser(_PAIR_STEPS)
_QPICK, _NPICK = _quantiser(_PICK_STEPS)
_QLINE, _NLINE = _quantiser(_LINE_STEPS, 510)


@functools.lru_cache(maxsize=8)
def _act_on_bins(nb: int, m: int) -> np.ndarray:
    """``out[g, b]``: the 3-vector bin that transform g's signed permutation makes of difference bin b."""
    grid = np.stack(np.meshgrid(*(np.arange(nb),) * 3, indexing="ij"), -1).reshape(-1, 3)
    out = np.empty((m, nb**3), np.int64)
    for g in range(m):  # 48 transforms, not pixels
        v = grid[:, _Q[g]]
        v = np.where(_F[g], nb - 1 - v, v)
        out[g] = (v[:, 0] * nb + v[:, 1]) * nb + v[:, 2]
    out.setflags(write=False)
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


def _lines(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixels ``c`` with both opposite neighbours ``a = c - o`` and ``b = c + o`` along an offset ``o``, and
    the offset's index."""
    idx = np.arange(h * w).reshape(h, w)
    cen, nba, nbb, typ = [], [], [], []
    for t, (dy, dx) in enumerate(OFFSETS):
        c = idx[dy : h - dy, abs(dx) : w - abs(dx)].ravel()
        cy, cx = np.divmod(c, w)
        cen.append(c)
        nba.append((cy - dy) * w + cx - dx)
        nbb.append((cy + dy) * w + cx + dx)
        typ.append(np.full(c.size, t))
    return np.concatenate(cen), np.concatenate(nba), np.concatenate(nbb), np.concatenate(typ)


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
    hst = np.bincount((r * nb + codes).ravel(), minlength=_REGIONS**2 * nb).reshape(-1, nb).astype(float)
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
    (right transform against wrong ones, symmetrised over the cipher's transforms); ``line[t]``: the same
    for the second difference ``2 x_c - x_a - x_b`` of a pixel and its two opposite neighbours; ``colour``,
    ``vdiff``, ``hdiff``: region-wise log-probabilities of 16^3 colour bins and of vertical and horizontal
    difference 3-vectors.
    """

    shape: tuple[int, int]
    shuffle: bool
    n_images: int
    pair: np.ndarray = field(repr=False)
    line: np.ndarray = field(repr=False)
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


def _llr(
    target: np.ndarray, ref: np.ndarray, scale: int, quant: np.ndarray, nb: int, m: int, rng: np.random.Generator
) -> np.ndarray:
    """Log-likelihood ratio table of the quantised residual 3-vector ``scale * target - ref`` of plain images
    against the same with ``target`` under a random wrong transform, symmetrised over the m transforms
    (the cipher domain sees a residual through the pixel's unknown transform)."""
    nb3 = nb**3
    if target.shape[1] == 0:
        return np.zeros(nb3)
    span = len(quant) // 2

    def hist(t):
        q = quant[scale * t - ref + span]
        return np.bincount(((q[..., 0] * nb + q[..., 1]) * nb + q[..., 2]).ravel(), minlength=nb3)

    r = rng.integers(1, m, target.shape[:2])  # one wrong transform per sample
    wrong = np.take_along_axis(target, _Q[r], -1)
    wrong = np.where(_F[r], 255 - wrong, wrong)
    act = _act_on_bins(nb, m)
    same, other = hist(target)[act].mean(0) + 0.5, hist(wrong)[act].mean(0) + 0.5
    return np.log(same / same.sum()) - np.log(other / other.sum())


def pixel_prior(
    public_images: np.ndarray, *, shuffle: bool = True, max_images: int = 5000, seed: int = 0
) -> PixelPrior:
    """The public-image statistics of the attack, to reuse over many recoveries (same image size).

    ``public_images``: plain natural uint8 images (M, H, W, 3), never the encrypted ones; at most
    ``max_images`` of them are used (the pairwise and line tables use the first 2,000). ``shuffle`` must
    match the attacked variant (steps 2+3 or step 2). ``seed`` draws the wrong transforms of the pairwise
    and line tables' background distributions.
    """
    shuffle = validate.boolean("shuffle", shuffle)
    max_images = validate.positive_int("max_images", max_images)
    seed = validate.seed("seed", seed)
    x = _check_images(public_images, "public images", 1)[:max_images]
    n, h, w, _ = x.shape
    m = 48 if shuffle else 8
    rng = np.random.default_rng(seed)
    xf = x[:_LLR_IMAGES].reshape(-1, h * w, 3).astype(np.int16)
    src, dst, typ = _edges(h, w)
    pair = np.stack(
        [_llr(xf[:, src[typ == t]], xf[:, dst[typ == t]], 1, _QPAIR, _NPAIR, m, rng) for t in range(len(OFFSETS))]
    )
    cen, nba, nbb, ltyp = _lines(h, w)
    line = np.stack(
        [
            _llr(xf[:, cen[ltyp == t]], xf[:, nba[ltyp == t]] + xf[:, nbb[ltyp == t]], 2, _QLINE, _NLINE, m, rng)
            for t in range(len(OFFSETS))
        ]
    )
    colour = _log_hist(_colour_codes(x), _regions(h, w)[None], (256 >> _COLOUR_SHIFT) ** 3)
    vdiff = _log_hist(_diff_codes(x, 1, 0, _QPICK, _NPICK), _regions(h, w, 1, 0)[None], _NPICK**3)
    hdiff = _log_hist(_diff_codes(x, 0, 1, _QPICK, _NPICK), _regions(h, w, 0, 1)[None], _NPICK**3)
    return PixelPrior((h, w), bool(shuffle), int(n), pair, line, colour, vdiff, hdiff)


# --------------------------------------------------------------------------------------- the attack
def _table_sums(
    q: np.ndarray, table: np.ndarray, typ: np.ndarray, perm: np.ndarray, flip: np.ndarray, nb: int
) -> np.ndarray:
    """``out[g, s] = sum over images of table[typ[s], bin]`` where the 3-vector bin takes, for channel k, the
    quantised residual ``q[k, perm[g, k], flip[g, k]]`` (q: 3 x 3 x 2 x images x s)."""
    q0, q1, q2 = (q[k, perm[:, k], flip[:, k]] for k in range(3))  # (m, images, s) each
    return table[typ[None, None, :], (q0 * nb + q1) * nb + q2].sum(1)


def _pair_costs(y: np.ndarray, src, dst, typ, pair: np.ndarray, m: int, chunk: int = 16) -> np.ndarray:
    """``C[e, r]``: minus the summed log-likelihood ratio of relative transform r on pair e
    (``c_dst ~ r(c_src)``), over the images."""
    yf = y.reshape(y.shape[0], -1, 3)
    C = np.zeros((m, len(src)))
    for i in range(0, len(yf), chunk):
        a = yf[i : i + chunk, src].astype(np.int16)
        b = yf[i : i + chunk, dst].astype(np.int16)
        q = np.empty((3, 3, 2) + a.shape[:2], np.int32)  # q[k, c, f]: bin of b[k] - (a[c] or 255 - a[c])
        for k in range(3):
            for c in range(3):
                q[k, c, 0] = _QPAIR[b[..., k] - a[..., c] + 255]
                q[k, c, 1] = _QPAIR[b[..., k] + a[..., c]]
        C -= _table_sums(q, pair, typ, _Q[:m], _F[:m].astype(np.int64), _NPAIR)
    return np.ascontiguousarray(C.T)


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


def _sweep_plan(src, dst, lines, h: int, w: int) -> list:
    """Per class of a 4-colouring of the grid (no two neighbours share a class): its pixels, the pairs and
    lines that involve them, and sparse sums from those to the pixels."""
    colour = ((np.arange(h)[:, None] % 2) * 2 + np.arange(w)[None, :] % 2).ravel()
    plan = []
    for c in range(4):
        pix = np.flatnonzero(colour == c)
        pos = np.full(h * w, -1)
        pos[pix] = np.arange(len(pix))
        parts = [np.flatnonzero(colour[v] == c) for v in (src, dst, lines[0])]
        sums = [
            csr_matrix((np.ones(len(e)), (pos[v[e]], np.arange(len(e)))), shape=(len(pix), len(e)))
            for e, v in zip(parts, (src, dst, lines[0]))
        ]
        plan.append((pix, *parts, *sums))
    return plan


def _line_costs(y16, x16, sel, lines, table, m: int, chunk: int = 16) -> np.ndarray:
    """``(len(sel), m)``: minus the line log-likelihood ratios of lines ``sel`` with their centre pixel under
    each transform, the two neighbours decrypted by their current labels (``x16``)."""
    cen, nba, nbb, typ = (v[sel] for v in lines)
    gi = _INV[:m]  # the centre decrypted by transform g: channel k = c[Q[gi, k]], negated by F[gi, k]
    out = np.zeros((m, len(sel)))
    for i in range(0, y16.shape[0], chunk):
        ref = x16[i : i + chunk, nba] + x16[i : i + chunk, nbb] - 510  # (images, s, 3)
        yc = 2 * y16[i : i + chunk, cen]
        q = np.empty((3, 3, 2) + yc.shape[:2], np.int32)  # q[k, c, f]: bin of 2 (c[c] or 255 - c[c]) - ref[k]
        for k in range(3):
            for c in range(3):
                q[k, c, 0] = _QLINE[yc[..., c] - ref[..., k]]
                q[k, c, 1] = _QLINE[510 - yc[..., c] - ref[..., k]]
        out -= _table_sums(q, table, typ, _Q[gi], _F[gi].astype(np.int64), _NLINE)
    return out.T


def _refine(lab, y, C, U, src, dst, lines, plan, prior: PixelPrior, iters: int = 50) -> np.ndarray:
    """Iterated conditional modes: each pixel's transform re-chosen given its neighbours' (pairwise and line
    evidence) and its colour likelihood, one class of the 4-colouring at a time, until nothing changes.
    Only pixels next to a changed one are looked at again."""
    m = C.shape[1]
    rel = _REL[:m, :m]
    flat = C.ravel()
    n, n_pix = y.shape[0], lab.size
    yf = y.reshape(n, -1, 3)
    y16 = yf.astype(np.int16)
    adj = csr_matrix((np.ones(2 * len(src), bool), (np.r_[src, dst], np.r_[dst, src])), shape=(n_pix, n_pix))
    lab = lab.copy()
    dirty = np.ones(n_pix, bool)
    for _ in range(iters):
        for pix, es, ed, el, sum_s, sum_d, sum_l in plan:
            rows = np.flatnonzero(dirty[pix])
            if rows.size == 0:
                continue
            at = pix[rows]
            cs = flat[es[:, None] * m + rel[:, lab[dst[es]]].T]  # the pair's src pixel takes each label
            cd = flat[ed[:, None] * m + rel[lab[src[ed]], :]]  # the pair's dst pixel takes each label
            L = sum_s[rows] @ cs + sum_d[rows] @ cd + UNARY_WEIGHT * U[at]
            if LINE_WEIGHT:
                sub = sum_l[rows]
                cols = np.unique(sub.indices)
                x16 = _inverse_apply(yf, lab[None, :]).astype(np.int16)
                L += LINE_WEIGHT * (sub[:, cols] @ _line_costs(y16, x16, el[cols], lines, prior.line, m))
            new = np.argmin(L, 1)
            moved = at[new != lab[at]]
            lab[at] = new
            dirty[at] = False
            if moved.size:
                dirty[adj[moved].indices] = True
        if not dirty.any():
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
    codes = _SHUFFLE[lab] if shuffle else np.zeros(lab.shape, np.int64)
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
    shuffle = validate.boolean("shuffle", shuffle)
    refine = validate.boolean("refine", refine)
    y = _check_images(cipher_images, "cipher images", 2)
    h, w = y.shape[1:3]
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
        lines = _lines(h, w)
        plan = _sweep_plan(src, dst, lines, h, w)
        for _ in range(3):  # refine, pick again; stop when the pick keeps the refined labels
            lab, scores, b = pick(_refine(lab, y, C, U, src, dst, lines, plan, prior))
            if b == 0:
                break
    order = np.argsort(-scores, kind="stable")
    cands = [_key(_COMP[lab, g], h, w, shuffle) for g in order]
    return {
        "key": cands[0],
        "candidates": cands,
        "scores": scores[order],
        "confidence": margin,
        "tree_key": _key(tree_lab, h, w, shuffle),
    }


def pixel_key_score(estimate, true_key, plain_images=None) -> dict:
    """How much of ``true_key`` an estimated :class:`~ppstudy.ciphers.pixel.PixelKey` recovers.

    ``negpos_bits``: fraction of the 3n negative-positive bits right; ``permutations``: fraction of the n
    colour permutations right; ``key_bits``: fraction of the key's ``log2 N(n)`` bits, counting a right
    permutation as ``log2 6`` bits; ``values``: fraction of plain values exactly recovered by decrypting
    ``true``-key cipher images of ``plain_images`` with the estimate (when given).
    """
    if not isinstance(estimate, pixel.PixelKey) or not isinstance(true_key, pixel.PixelKey):
        raise InputError(
            f"pixel_key_score: expected two PixelKeys, got {type(estimate).__name__} and {type(true_key).__name__}"
        )
    if estimate.shape != true_key.shape:
        raise InputError(f"pixel_key_score: keys for {estimate.shape} and {true_key.shape} images")
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
    """Exact (Clopper-Pearson) two-sided interval of a success rate: :func:`ppstudy.metrics.binomial_ci`."""
    from ppstudy.metrics import binomial_ci

    return binomial_ci(successes, trials, level)


def success_rates(plain_pool, public_images, counts, *, draws: int, shuffle: bool, seed: int) -> list[dict]:
    """Whole-key success of :func:`pixel_key_recovery` over random data sets and keys.

    For each count ``n`` and each of ``draws`` draws: a fresh key (seeded from ``seed``, ``n`` and the
    draw) and a fresh random subset of ``n`` images of ``plain_pool`` (without replacement), encrypted
    with it and attacked with the prior of ``public_images`` (plain images not in the pool). Returns one
    row per count: ``{"cipher", "cipher_images", "draws", "successes", "rate", "ci95_low", "ci95_high",
    "mean_key_bits"}`` (the Clopper-Pearson 95% interval of the rate; ``mean_key_bits`` the mean
    fraction of key bits right).
    """
    shuffle = validate.boolean("shuffle", shuffle)
    seed = validate.integer("seed", seed, low=0)
    x = _check_images(plain_pool, "plain pool", 2)
    if isinstance(public_images, PixelPrior):
        prior = public_images
    else:
        prior = pixel_prior(public_images, shuffle=shuffle)
    draws = validate.positive_int("draws", draws)
    counts = list(counts)
    if not counts or any(
        isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 2 <= c <= len(x) for c in counts
    ):
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
            est = r["key"]
            ok += bool(np.array_equal(est.negpos, key.negpos) and np.array_equal(est.shuffle, key.shuffle))
            bits += s["key_bits"]
        lo, hi = clopper_pearson(ok, draws)
        rows.append(
            {
                "cipher": "steps 2+3" if shuffle else "step 2",
                "cipher_images": int(n),
                "draws": int(draws),
                "successes": int(ok),
                "rate": ok / draws,
                "ci95_low": lo,
                "ci95_high": hi,
                "mean_key_bits": bits / draws,
            }
        )
    return rows
