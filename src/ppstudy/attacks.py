"""Attacks: what the papers' threat models leave open (key recovery, permutation invariants, ...).

Each chapter's engineer owns one section, headed by a comment ``# --- <chapter> ---``.
"""

from __future__ import annotations

import numpy as np

from ppstudy import InputError


# --- pixel ---
# Ciphertext-only key recovery against the pixel-based cipher of Sirichotedumrong et al. when one key
# encrypts a whole data set (as the scheme needs, so that a network can learn). Idea: natural images are
# smooth, so the colour values of neighbouring pixels are strongly correlated *across images*. Encryption
# with a fixed key flips the sign of a position's correlation (negative-positive) and permutes a pixel's
# channels (colour shuffle), but leaves the magnitudes alone. From per-position statistics of many cipher
# images we estimate, for each pair of neighbouring pixels, the relative channel permutation (the one
# that pairs channels with the largest |correlation|) and the relative flips (the signs); a maximum
# spanning tree of the most confident pairs links every pixel to one reference pixel. That leaves one
# unknown global transform (48 = 3! x 2^3 candidates), picked by comparing each candidate's decrypted
# channel statistics (means, spreads, inter-channel correlations) with public natural images.


def _pixel_corr_pairs(y: np.ndarray, chunk: int = 2048):
    """Standardised per-position values and the 3x3 cross-correlations of right/down neighbours."""
    import numpy as np

    n, h, w, c = y.shape
    mean = np.zeros((h, w, c))
    sq = np.zeros((h, w, c))
    for i in range(0, n, chunk):
        b = y[i:i + chunk].astype(np.float64)
        mean += b.sum(0)
        sq += (b * b).sum(0)
    mean /= n
    std = np.sqrt(np.maximum(sq / n - mean ** 2, 1e-12))
    right = np.zeros((h, w - 1, c, c))
    down = np.zeros((h - 1, w, c, c))
    for i in range(0, n, chunk):
        z = ((y[i:i + chunk] - mean) / std).astype(np.float32)
        right += np.einsum("nhwk,nhwl->hwkl", z[:, :, :-1], z[:, :, 1:], optimize=True)
        down += np.einsum("nhwk,nhwl->hwkl", z[:, :-1], z[:, 1:], optimize=True)
    return mean, std, right / n, down / n


def _channel_stats(x: np.ndarray, chunk: int = 4096):
    """Per-channel mean and std (in [0, 1]) and the 3x3 inter-channel correlation of pixels."""
    import numpy as np

    c = x.shape[-1]
    s = np.zeros(c)
    ss = np.zeros((c, c))
    cnt = 0
    for i in range(0, x.shape[0], chunk):
        v = x[i:i + chunk].reshape(-1, c).astype(np.float64) / 255.0
        s += v.sum(0)
        ss += v.T @ v
        cnt += v.shape[0]
    m = s / cnt
    cov = ss / cnt - np.outer(m, m)
    sd = np.sqrt(np.maximum(np.diag(cov), 1e-12))
    return m, sd, cov / np.outer(sd, sd)


def pixel_key_recovery(cipher_images, public_images, *, shuffle: bool = True) -> dict:
    """Recover a pixel-cipher key (negative-positive bits and colour permutations) from cipher images.

    ``cipher_images``: uint8 (N, H, W, 3) all encrypted with one unknown key. ``public_images``: plain
    natural images of the same kind (not the encrypted ones) giving the prior colour statistics.
    ``shuffle=False`` assumes step 2 only. Returns ``{"key": PixelKey estimate, "candidates": 48 keys for
    the global ambiguity, "confidence": per-tree-edge margins}``; score it with :func:`pixel_key_score`.
    """
    import itertools

    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree

    from ppstudy import InputError
    from ppstudy.ciphers import pixel

    y = np.asarray(cipher_images)
    if y.dtype != np.uint8 or y.ndim != 4 or y.shape[-1] != 3:
        raise InputError(f"cipher images: expected uint8 N x H x W x 3, got {y.dtype} {y.shape}")
    if y.shape[0] < 2:
        raise InputError("key recovery needs at least 2 cipher images")
    n, h, w, _ = y.shape
    _, _, right, down = _pixel_corr_pairs(y)
    perms = [np.array(p) for p in itertools.permutations(range(3))] if shuffle else [np.arange(3)]

    def align(cm):  # cm[..., k, l]: corr(enc_i[k], enc_j[l]); best sigma (k -> sigma[k]) and margin
        scores = np.stack([np.abs(cm[..., np.arange(3), p]).sum(-1) for p in perms], -1)
        order = np.argsort(scores, -1)
        best = order[..., -1]
        margin = (np.take_along_axis(scores, order[..., -1:], -1) -
                  (np.take_along_axis(scores, order[..., -2:-1], -1) if len(perms) > 1 else 0))[..., 0]
        signs = np.stack([np.sign(cm[..., np.arange(3), p]) for p in perms], -2)  # (..., P, 3)
        return best, margin + np.abs(cm).mean((-1, -2)) * 1e-3, np.take_along_axis(
            signs, best[..., None, None], -2)[..., 0, :]

    br, mr, sr = align(right)
    bd, md, sd = align(down)
    idx = np.arange(h * w).reshape(h, w)
    src = np.concatenate([idx[:, :-1].ravel(), idx[:-1].ravel()])
    dst = np.concatenate([idx[:, 1:].ravel(), idx[1:].ravel()])
    best = np.concatenate([br.ravel(), bd.ravel()])
    margin = np.concatenate([mr.ravel(), md.ravel()])
    sgn = np.concatenate([sr.reshape(-1, 3), sd.reshape(-1, 3)])
    weight = (margin.max() + 1.0) - margin  # positive; minimum spanning tree = most confident edges
    g = coo_matrix((weight, (src, dst)), shape=(h * w, h * w)).tocsr()
    tree = minimum_spanning_tree(g + g.T).tocoo()
    edge = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(src, dst))}
    adj: dict[int, list[int]] = {}
    for a, b in zip(tree.row, tree.col):
        adj.setdefault(int(a), []).append(int(b))
        adj.setdefault(int(b), []).append(int(a))
    # P[i][a]: enc channel of pixel i that holds (estimated) plain channel a; F[i][a]: its flip
    P = np.zeros((h * w, 3), np.int64)
    F = np.zeros((h * w, 3), bool)
    P[0] = np.arange(3)
    order, pred = breadth_first_order(tree + tree.T, 0, directed=False)
    for j in order[1:]:  # walk the tree (key-sized work: one step per pixel, not per image)
        i = int(pred[j])
        if (i, int(j)) in edge:  # sigma maps enc channel of i -> enc channel of j
            k = edge[(i, int(j))]
            sigma = perms[best[k]]
            s = sgn[k]
        else:  # edge stored as (j, i): invert
            k = edge[(int(j), i)]
            sigma = np.argsort(perms[best[k]])
            s = sgn[k][sigma]
        P[j] = sigma[P[i]]
        F[j] = F[i] ^ (s[P[i]] < 0)

    def key_for(rho, phi):  # global: true plain channel a = est channel rho[a] flipped by phi[a]
        Pj = P[:, rho]                 # enc channel holding true plain channel a
        Fj = F[:, rho] ^ phi[None, :]
        pi = np.argsort(Pj, axis=1)    # pi[k] = plain channel held by enc channel k
        table = {tuple(t): r for r, t in enumerate(pixel.TABLE1.tolist())}
        sh = np.array([table[tuple(p)] for p in pi.tolist()]).reshape(h, w) if shuffle else np.zeros((h, w), np.int64)
        return pixel.PixelKey((h, w, 3), (2, 3) if shuffle else (2,), Fj.reshape(h, w, 3), sh)

    prior = _channel_stats(np.asarray(public_images))
    cands = []
    sub = y[: min(n, 5000)]
    for rho in perms:
        for bits in range(8):
            phi = np.array([(bits >> a) & 1 for a in range(3)], bool)
            k = key_for(rho, phi)
            st = _channel_stats(pixel.decrypt(sub, k))
            dist = sum(float(((a - b) ** 2).sum()) for a, b in zip(st, prior))
            cands.append((dist, k))
    cands.sort(key=lambda t: t[0])
    return {"key": cands[0][1], "candidates": [k for _, k in cands], "confidence": margin,
            "distances": [d for d, _ in cands]}


def pixel_key_score(estimate, true_key, plain_images=None) -> dict:
    """How much of ``true_key`` an estimated :class:`~ppstudy.ciphers.pixel.PixelKey` recovers.

    ``negpos_bits``: fraction of the 3n negative-positive bits right; ``permutations``: fraction of the n
    colour permutations right; ``key_bits``: fraction of the key's ``log2 N(n)`` bits, counting a right
    permutation as ``log2 6`` bits; ``values``: fraction of plain values exactly recovered by decrypting
    ``true``-key cipher images of ``plain_images`` with the estimate (when given).
    """
    import math

    import numpy as np

    from ppstudy.ciphers import pixel

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


# --- cup ---
# Matching cat-map encrypted images without the key (what the permutation preserves), and recovering the key
# from known (original, encoded) pairs. See book/cup.md.

def _tiles(x: np.ndarray, tile: int) -> np.ndarray:
    """NxHxWxC -> N x tiles x C x (tile*tile): the pixels of every tile, per channel."""
    if x.ndim != 4:
        raise InputError(f"expected NxHxWxC images, got shape {x.shape}")
    n, h, w, c = x.shape
    if h % tile or w % tile:
        raise InputError(f"images {h}x{w} are not multiples of the tile {tile}")
    return (x.reshape(n, h // tile, tile, w // tile, tile, c).transpose(0, 1, 3, 5, 2, 4)
            .reshape(n, (h // tile) * (w // tile), c, tile * tile))


def multiset_signature(x: np.ndarray, tile: int) -> np.ndarray:
    """The cat map's invariant: the sorted pixel values of every tile and channel (N x tiles x C x tile^2).

    A permutation inside a tile leaves this unchanged, whatever the key.
    """
    return np.sort(_tiles(x, tile), axis=-1)


def multiset_distance(originals: np.ndarray, encoded: np.ndarray, tile: int, *, chunk: int = 64) -> np.ndarray:
    """Per pair: mean absolute difference of the per-tile sorted pixel values (a 1-Wasserstein distance
    between the tiles' pixel histograms). 0 for a matching pair of a cat-map cipher, with any key."""
    if originals.shape != encoded.shape:
        raise InputError(f"originals {originals.shape} and encoded {encoded.shape} differ in shape")
    out = np.empty(len(originals))
    for i in range(0, len(originals), chunk):
        a = multiset_signature(originals[i:i + chunk], tile).astype(np.int16)
        b = multiset_signature(encoded[i:i + chunk], tile).astype(np.int16)
        out[i:i + chunk] = np.abs(a - b).mean(axis=(1, 2, 3))
    return out


def fit_threshold(match_distances, nonmatch_distances, *, place: float = 0.5) -> float:
    """The distance threshold (predict "match" when ``d <= threshold``) with the best accuracy on the given
    matching and non-matching distances.

    The best accuracy holds on an interval between two neighbouring sorted distances; ``place`` puts the
    threshold in it (0.5: the midpoint; small values: close to the matches, for invariants that are exact,
    where matching distances are 0 and any positive distance means a different image).
    """
    m = np.asarray(match_distances, float)
    u = np.asarray(nonmatch_distances, float)
    if not m.size or not u.size:
        raise InputError("fit_threshold: need matching and non-matching distances")
    if not 0 < place < 1:
        raise InputError(f"fit_threshold: place must be in (0, 1), got {place}")
    d = np.unique(np.concatenate([m, u]))
    lo = np.concatenate([[d[0] - 1.0], d])
    hi = np.concatenate([d, [d[-1] + 1.0]])
    cand = lo + place * (hi - lo)
    acc = ((m[None, :] <= cand[:, None]).sum(1) + (u[None, :] > cand[:, None]).sum(1)) / (m.size + u.size)
    return float(cand[int(np.argmax(acc))])


def _repairing_threshold(matcher, originals, encoded, seed: int) -> float:
    """A matcher's threshold from its distances on the matching pairs and on random re-pairings of them."""
    from ppstudy.data.challenge import other_encodings

    other = other_encodings(len(originals), seed=seed)
    return fit_threshold(matcher.distance(originals, encoded), matcher.distance(originals, encoded[other]),
                         place=matcher.place)


class MultisetMatcher:
    """Key-free matcher for cat-map ciphers: compare the per-tile multisets of pixel values.

    ``tile`` is the public tiling (32 for subtask 1, the canvas side for subtask 2). :meth:`fit` sets the
    threshold on training pairs and random re-pairings of them (the winner's negatives), placed close
    to the matches (``place``): the invariant is exact, a matching pair has distance 0 whatever the key.
    """

    def __init__(self, tile: int, *, place: float = 0.1):
        self.tile = int(tile)
        self.place = place
        self.threshold: float | None = None

    def distance(self, originals, encoded) -> np.ndarray:
        return multiset_distance(originals, encoded, self.tile)

    def fit(self, originals, encoded, *, seed: int = 0) -> "MultisetMatcher":
        self.threshold = _repairing_threshold(self, originals, encoded, seed)
        return self

    def scores(self, originals, encoded) -> np.ndarray:
        """Higher = more likely a match (the negative distance)."""
        return -self.distance(originals, encoded)

    def predict(self, originals, encoded) -> np.ndarray:
        if self.threshold is None:
            raise InputError("MultisetMatcher: call fit() first")
        return (self.distance(originals, encoded) <= self.threshold).astype(np.int64)


def recover_catmap(originals: np.ndarray, encoded: np.ndarray, tile: int, *, candidates: int = 4,
                   max_candidates: int = 64, verify_pairs: int = 4):
    """Known-plaintext attack on the cat map: recover its effective matrix ``A = M(a, b)^k mod tile``.

    The map is linear: the pixel at tile-local ``(1, 0)`` moves to ``A[:, 0]`` and the one at ``(0, 1)``
    to ``A[:, 1]``. For each of these two positions, every candidate destination is scored by how well
    the encoded values there agree with the originals' values across all tiles, channels and pairs
    (mean absolute difference, so it tolerates re-encoded or slightly different originals); the best
    ``candidates`` of each (all tied best ones, up to ``max_candidates``, where flat image regions make
    several destinations agree equally well) are combined, those with determinant 1 are checked by
    decrypting the first ``verify_pairs`` pairs, and the best is returned.
    Returns ``(matrix, mean_abs_error_after_inversion)`` (the error over all pairs).
    """
    from ppstudy.ciphers import catmap

    if originals.shape != encoded.shape or originals.ndim != 4:
        raise InputError(f"originals {originals.shape} and encoded {encoded.shape} must be equal NxHxWxC")
    o = _tiles(originals, tile).astype(np.int16)  # N x T x C x t^2
    e = _tiles(encoded, tile).astype(np.int16)
    cols = []
    for p in (1 * tile + 0, 0 * tile + 1):  # local (1, 0) and (0, 1), flat r * tile + c
        cost = np.abs(e - o[..., p:p + 1]).mean(axis=(0, 1, 2))  # over pairs, tiles, channels -> t^2
        order = np.argsort(cost, kind="stable")
        ties = int(np.sum(cost <= cost[order[0]] + 1e-9))
        best = order[:min(max(candidates, ties), max_candidates)]
        cols.append([divmod(int(q), tile) for q in best])
    shape = originals.shape[1:3]
    vo, ve = originals[:verify_pairs], encoded[:verify_pairs]
    best_m, best_err = None, np.inf
    for r0, c0 in cols[0]:
        for r1, c1 in cols[1]:
            m = (r0, r1, c0, c1)  # columns: A (1,0)^T = (r0, c0), A (0,1)^T = (r1, c1)
            if (m[0] * m[3] - m[1] * m[2]) % tile != 1 % tile:
                continue
            dec = catmap.apply_matrix(ve, shape, tile, m, inverse=True)
            err = float(np.abs(dec.astype(np.int16) - vo).mean())
            if err < best_err:
                best_m, best_err = m, err
    if best_m is None:
        raise InputError("recover_catmap: no invertible candidate map; are these cat-map pairs with this tile?")
    dec = catmap.apply_matrix(encoded, shape, tile, best_m, inverse=True)
    return best_m, float(np.abs(dec.astype(np.int16) - originals).mean())


def equivalent_key(matrix, shape, tile: int, *, max_iterations: int | None = None):
    """A key ``(a, b, k)`` whose map equals ``matrix`` (smallest ``k``), searched vectorised over all
    ``(a, b)``; None if none is found within ``max_iterations`` (default ``3 * tile``)."""
    from ppstudy.ciphers import catmap

    n = int(tile)
    a, b = np.meshgrid(np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64), indexing="ij")
    a, b = a.ravel(), b.ravel()
    base = np.stack([np.ones_like(a), a, b, a * b + 1], 1) % n
    target = np.asarray(matrix, np.int64)
    cur = base.copy()
    for k in range(1, (max_iterations or 3 * n) + 1):
        hit = np.flatnonzero(np.all(cur == target, axis=1))
        if hit.size:
            return catmap.CatMapKey(tuple(int(s) for s in shape), n, int(a[hit[0]]), int(b[hit[0]]), k)
        cur = catmap._matmul_arr(cur, base, n)
    return None


class InversionMatcher:
    """Matcher after a known-plaintext attack: invert the recovered map, compare with the original."""

    def __init__(self, tile: int, *, place: float = 0.1):
        self.tile = int(tile)
        self.place = place
        self.matrix = None
        self.threshold: float | None = None
        self.recovery_error: float | None = None

    def fit(self, originals, encoded, *, seed: int = 0) -> "InversionMatcher":
        self.matrix, self.recovery_error = recover_catmap(originals, encoded, self.tile)
        self.threshold = _repairing_threshold(self, originals, encoded, seed)
        return self

    def distance(self, originals, encoded) -> np.ndarray:
        from ppstudy.ciphers import catmap

        if self.matrix is None:
            raise InputError("InversionMatcher: call fit() first")
        dec = catmap.apply_matrix(encoded, encoded.shape[1:3], self.tile, self.matrix, inverse=True)
        return np.abs(dec.astype(np.int16) - originals).mean(axis=(1, 2, 3))

    def scores(self, originals, encoded) -> np.ndarray:
        return -self.distance(originals, encoded)

    def predict(self, originals, encoded) -> np.ndarray:
        return (self.distance(originals, encoded) <= self.threshold).astype(np.int64)


def pairs_needed(originals, encoded, tile: int, true_matrix, *, max_pairs: int | None = None) -> int | None:
    """The smallest number of known pairs (1, 2, 4, ...) from which :func:`recover_catmap` finds the true
    map; None if even ``max_pairs`` (default: all) do not suffice."""
    limit = max_pairs or len(originals)
    k = 1
    while k <= limit:
        try:
            m, _ = recover_catmap(originals[:k], encoded[:k], tile)
            if tuple(m) == tuple(true_matrix):
                return k
        except InputError:  # too few pairs to single out an invertible map
            pass
        k *= 2
    return None


# --- deid ---
# Structural de-identification (Ko et al. 2020) moves every x and y coordinate of a traced image by the
# same strictly increasing map f = Enc - Enc(0). Two leaks the paper's analysis leaves open:
# * the position-shifted SVG itself (stored or sent before rasterization): OPE keeps the order of all
#   coordinates, so ranking the distinct values recovers the plaintext grid (exactly for integer
#   coordinates that fill 0..size), and even a plain rescale by size / f(size) undoes most of f, because a
#   ciphertext range ten times the plaintext range makes f close to linear;
# * the de-identified raster alone: it is the traced image warped by (f(x), f(y)) and resized, so resizing
#   it back to the traced size is already a best-effort inversion.
# The functions below carry out both and the chapter measures SSIM against the original.


def _svg_xy(svg: str):
    from ppstudy.ciphers import deid as _deid

    root = _deid._parse(svg)
    paths = _deid._paths(root)
    parsed = [_deid._path_numbers(el, i) for i, el in enumerate(paths)]
    return root, paths, parsed, (_deid._dimension(root, "width"), _deid._dimension(root, "height"))


def svg_coordinates(svg: str) -> np.ndarray:
    """All absolute (x, y) coordinates of an SVG's paths (translate folded in), k x 2."""
    _, _, parsed, _ = _svg_xy(svg)
    return np.concatenate([xy for _, xy in parsed]) if parsed else np.zeros((0, 2))


def invert_ope_coordinates(values: np.ndarray, canvas: float, size: int, *, method: str = "rank") -> np.ndarray:
    """Estimate plaintext coordinates on a 0..``size`` canvas from OPE-shifted ``values`` (0..``canvas``).

    ``method="linear"``: ``v * size / canvas`` (treats f as linear). ``method="rank"``: the sorted distinct
    values, together with 0 and ``canvas``, are spread evenly over 0..``size`` (exact when the plaintext
    coordinates are the integers 0..size, as for a polygon trace); values in between are interpolated.
    """
    v = np.asarray(values, dtype=np.float64)
    if method == "linear":
        return v * (size / canvas)
    if method != "rank":
        raise InputError(f"method must be 'rank' or 'linear', got {method!r}")
    u = np.unique(np.concatenate([v.ravel(), [0.0, float(canvas)]]))
    est = np.linspace(0.0, float(size), len(u))
    return np.interp(v, u, est)


def invert_svg(svg: str, size: int, *, method: str = "rank") -> str:
    """Best-effort inversion of a leaked position-shifted SVG to a ``size`` x ``size`` SVG (no key)."""
    from ppstudy.ciphers import deid as _deid

    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise InputError(f"size must be a positive integer, got {size!r}")
    root, paths, parsed, (w, h) = _svg_xy(svg)
    allxy = np.concatenate([xy for _, xy in parsed]) if parsed else np.zeros((0, 2))
    est = invert_ope_coordinates(allxy, max(w, h), int(size), method=method)
    return _deid.rewrite_paths(root, paths, parsed, est, str(int(size)), str(int(size)))


def svg_leak_attack(images: np.ndarray, key, settings, *, method: str = "rank") -> dict:
    """Leaked-SVG attack on a batch: de-identify each image up to step 2, invert the SVG without the key,
    rasterize at ``settings.out_size``. Returns the recovered images, the coordinate errors (in pixels of
    the traced canvas) and the position-shifted SVGs' inversions."""
    from ppstudy.ciphers import deid as _deid

    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise InputError("images: expected a uint8 batch NxHxW or NxHxWxC")
    out, errs = [], []
    for img in images:
        img = _deid._check_image(img)
        svg = _deid.vectorize(img, settings)
        enc = _deid.pos_ope(svg, key)
        inv = invert_svg(enc, settings.size, method=method)
        errs.append(np.abs(svg_coordinates(inv) - svg_coordinates(svg)).ravel())
        out.append(_deid.rasterize(inv, settings.out_size, density=settings.density, gray=img.ndim == 2))
    e = np.concatenate(errs) if errs else np.zeros(0)
    rec = np.stack(out)
    if images.ndim == 4 and images.shape[-1] == 1:
        rec = rec[..., None]
    return {"images": rec, "coord_mae": float(e.mean()) if e.size else 0.0,
            "coord_max": float(e.max()) if e.size else 0.0, "coord_exact": float((e < 1e-6).mean()) if e.size else 1.0}


def resize_back(deidentified: np.ndarray, size: int, out_size: int | None = None) -> np.ndarray:
    """Raster-only best effort: shrink de-identified images to the traced size (undoing the global
    rescale of step 3), then back up to ``out_size`` (default: their own size) for comparison."""
    from ppstudy.ciphers import deid as _deid

    if not isinstance(deidentified, np.ndarray) or deidentified.dtype != np.uint8:
        raise InputError("de-identified images: expected a uint8 numpy array")
    single = deidentified.ndim == 2 or (deidentified.ndim == 3 and deidentified.shape[-1] in (1, 3))
    batch = deidentified[None] if single else deidentified
    if batch.ndim == 4 and batch.shape[-1] == 1:
        batch = batch[..., 0]
        chan1 = True
    else:
        chan1 = False
    out_size = int(out_size or batch.shape[1])
    res = np.stack([_deid.resize(_deid.resize(b, int(size)), out_size) for b in batch])
    if chan1:
        res = res[..., None]
    return res[0] if single else res


def ope_warp(key, size: int, out_size: int) -> dict:
    """The warp of step 2+3 on one axis: where plaintext coordinate x (0..size) lands in the output
    image, ``f(x) / f(size) * out_size``, against the linear ``x / size * out_size``. Returns both and the
    largest and mean deviation in output pixels (what the OPE step actually moves)."""
    from ppstudy.ciphers import ope as _ope

    xs = np.arange(int(size) + 1)
    f = _ope.encrypt(xs, key) - _ope.encrypt(0, key)
    land = f / f[-1] * out_size
    lin = xs / size * out_size
    dev = np.abs(land - lin)
    return {"x": xs, "landed": land, "linear": lin, "max_dev_px": float(dev.max()), "mean_dev_px": float(dev.mean()),
            "step_px_min": float(np.diff(land).min()), "step_px_max": float(np.diff(land).max())}
