"""Ciphertext-only key recovery against the pixel-based cipher (Sirichotedumrong et al.).

Threat model: the cloud (or anyone holding the encrypted data set) sees many images encrypted with the one
key the scheme requires for a whole data set, and public natural images of the same kind; no plaintext of
the encrypted images.
"""

from __future__ import annotations

import numpy as np

from ppstudy import InputError

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
