"""Attacks on the cat map of the IEEE Big Data Cup 2022 (subtasks 1 and 2).

Threat models: a key-free matcher (the cat map only permutes pixels inside a tile, so every tile's multiset
of values survives any key) and a known-plaintext attacker holding (original, encoded) training pairs who
recovers the key (the map is linear).
"""

from __future__ import annotations

import numpy as np

from ppstudy import InputError, validate
from ppstudy.attacks.base import NotFittedError
from ppstudy.images import check_uint8


def _tile(tile) -> int:
    from ppstudy.ciphers.catmap import MAX_SIDE

    return validate.integer("tile", tile, low=2, high=MAX_SIDE)


def _tiles(x: np.ndarray, tile: int) -> np.ndarray:
    """NxHxWxC -> N x tiles x C x (tile*tile): the pixels of every tile, per channel."""
    check_uint8(x)
    tile = _tile(tile)
    if x.ndim != 4:
        raise InputError(f"expected NxHxWxC images, got shape {x.shape}")
    n, h, w, c = x.shape
    if h % tile or w % tile:
        raise InputError(f"images {h}x{w} are not multiples of the tile {tile}")
    return (
        x.reshape(n, h // tile, tile, w // tile, tile, c)
        .transpose(0, 1, 3, 5, 2, 4)
        .reshape(n, (h // tile) * (w // tile), c, tile * tile)
    )


def multiset_signature(x: np.ndarray, tile: int) -> np.ndarray:
    """The cat map's invariant: the sorted pixel values of every tile and channel (N x tiles x C x tile^2).

    A permutation inside a tile leaves this unchanged, whatever the key.
    """
    return np.sort(_tiles(x, tile), axis=-1)


def multiset_distance(originals: np.ndarray, encoded: np.ndarray, tile: int, *, chunk: int = 64) -> np.ndarray:
    """Per pair: mean absolute difference of the per-tile sorted pixel values (a 1-Wasserstein distance
    between the tiles' pixel histograms). 0 for a matching pair of a cat-map cipher, with any key."""
    check_uint8(originals, "originals")
    check_uint8(encoded, "encoded")
    tile = _tile(tile)
    chunk = validate.positive_int("chunk", chunk)
    if originals.shape != encoded.shape:
        raise InputError(f"originals {originals.shape} and encoded {encoded.shape} differ in shape")
    out = np.empty(len(originals))
    for i in range(0, len(originals), chunk):
        a = multiset_signature(originals[i : i + chunk], tile).astype(np.int16)
        b = multiset_signature(encoded[i : i + chunk], tile).astype(np.int16)
        out[i : i + chunk] = np.abs(a - b).mean(axis=(1, 2, 3))
    return out


def fit_threshold(match_distances, nonmatch_distances, *, place: float = 0.5) -> float:
    """The distance threshold (predict "match" when ``d <= threshold``) with the best accuracy on the given
    matching and non-matching distances.

    The best accuracy holds on an interval between two neighbouring sorted distances; ``place`` puts the
    threshold in it (0.5: the midpoint; small values: close to the matches, for invariants that are exact,
    where matching distances are 0 and any positive distance means a different image).
    """
    from ppstudy.metrics import _reals

    m = _reals("fit_threshold: matching distances", match_distances).ravel()
    u = _reals("fit_threshold: non-matching distances", nonmatch_distances).ravel()
    if not m.size or not u.size:
        raise InputError("fit_threshold: need matching and non-matching distances")
    place = validate.number("fit_threshold: place", place, low=0, high=1, low_open=True, high_open=True)
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
    return fit_threshold(
        matcher.distance(originals, encoded), matcher.distance(originals, encoded[other]), place=matcher.place
    )


class MultisetMatcher:
    """Key-free matcher for cat-map ciphers: compare the per-tile multisets of pixel values.

    ``tile`` is the public tiling (32 for subtask 1, the canvas side for subtask 2). :meth:`fit` sets the
    threshold on training pairs and random re-pairings of them (the winner's negatives), placed close
    to the matches (``place``): the invariant is exact, a matching pair has distance 0 whatever the key.

    What it needs of real data: the invariant is exact only when the original given to the matcher is,
    value for value, the canvas the organisers encrypted. That means (1) their crop, padding and scaling
    (placement, interpolation, rounding) reproduced exactly, by :func:`ppstudy.ciphers.catmap.to_canvas` or
    by originals supplied already on the canvas, with tiles on the same grid; and (2) lossless files on both
    sides (PNG; JPEG or any re-compression changes pixel values and breaks the multisets). It has been shown
    only on challenges rebuilt here (lossless PNGs, originals brought onto the canvas by the same
    ``to_canvas`` that built the encodings). On the real challenge files, if either condition fails, matching
    distances are no longer 0 and the fitted threshold must absorb the mismatch; how well it then separates
    matches is untested here (we do not have the real data).
    """

    def __init__(self, tile: int, *, place: float = 0.1):
        self.tile = _tile(tile)
        self.place = validate.number("place", place, low=0, high=1, low_open=True, high_open=True)
        self.threshold: float | None = None

    def distance(self, originals, encoded) -> np.ndarray:
        return multiset_distance(originals, encoded, self.tile)

    def fit(self, originals, encoded, *, seed: int = 0) -> MultisetMatcher:
        self.threshold = _repairing_threshold(self, originals, encoded, seed)
        return self

    def scores(self, originals, encoded) -> np.ndarray:
        """Higher = more likely a match (the negative distance)."""
        return -self.distance(originals, encoded)

    def predict(self, originals, encoded) -> np.ndarray:
        if self.threshold is None:
            raise NotFittedError("MultisetMatcher: call fit() first")
        return (self.distance(originals, encoded) <= self.threshold).astype(np.int64)


def recover_catmap(
    originals: np.ndarray,
    encoded: np.ndarray,
    tile: int,
    *,
    candidates: int = 4,
    max_candidates: int = 64,
    verify_pairs: int = 4,
):
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

    check_uint8(originals, "originals")
    check_uint8(encoded, "encoded")
    if originals.shape != encoded.shape or originals.ndim != 4:
        raise InputError(f"originals {originals.shape} and encoded {encoded.shape} must be equal NxHxWxC")
    tile = _tile(tile)
    candidates = validate.positive_int("candidates", candidates)
    max_candidates = validate.positive_int("max_candidates", max_candidates)
    verify_pairs = validate.positive_int("verify_pairs", verify_pairs)
    o = _tiles(originals, tile).astype(np.int16)  # N x T x C x t^2
    e = _tiles(encoded, tile).astype(np.int16)
    cols = []
    for p in (1 * tile + 0, 0 * tile + 1):  # local (1, 0) and (0, 1), flat r * tile + c
        cost = np.abs(e - o[..., p : p + 1]).mean(axis=(0, 1, 2))  # over pairs, tiles, channels -> t^2
        order = np.argsort(cost, kind="stable")
        ties = int(np.sum(cost <= cost[order[0]] + 1e-9))
        best = order[: min(max(candidates, ties), max_candidates)]
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


def equivalent_key(matrix, shape, tile: int):
    """A key ``(a, b, k)`` whose map equals the recovered ``matrix`` (smallest ``k``; ``a, b`` in ``[0, tile)``),
    or None if no cat map ``M(a, b)^k`` is that matrix: :func:`ppstudy.ciphers.catmap.key_for_matrix`."""
    from ppstudy.ciphers import catmap

    return catmap.key_for_matrix(matrix, shape, tile, low=0)


class InversionMatcher:
    """Matcher after a known-plaintext attack: invert the recovered map, compare with the original."""

    def __init__(self, tile: int, *, place: float = 0.1):
        self.tile = _tile(tile)
        self.place = validate.number("place", place, low=0, high=1, low_open=True, high_open=True)
        self.matrix = None
        self.threshold: float | None = None
        self.recovery_error: float | None = None

    def fit(self, originals, encoded, *, seed: int = 0) -> InversionMatcher:
        self.matrix, self.recovery_error = recover_catmap(originals, encoded, self.tile)
        self.threshold = _repairing_threshold(self, originals, encoded, seed)
        return self

    def distance(self, originals, encoded) -> np.ndarray:
        from ppstudy.ciphers import catmap

        if self.matrix is None:
            raise NotFittedError("InversionMatcher: call fit() first")
        dec = catmap.apply_matrix(encoded, encoded.shape[1:3], self.tile, self.matrix, inverse=True)
        return np.abs(dec.astype(np.int16) - originals).mean(axis=(1, 2, 3))

    def scores(self, originals, encoded) -> np.ndarray:
        return -self.distance(originals, encoded)

    def predict(self, originals, encoded) -> np.ndarray:
        if self.threshold is None:
            raise NotFittedError("InversionMatcher: call fit() first")
        return (self.distance(originals, encoded) <= self.threshold).astype(np.int64)


def pairs_needed(originals, encoded, tile: int, true_matrix, *, max_pairs: int | None = None) -> int | None:
    """The smallest number of known pairs (1, 2, 4, ...) from which :func:`recover_catmap` finds the true
    map; None if even ``max_pairs`` (default: all) do not suffice."""
    limit = len(originals) if max_pairs is None else validate.positive_int("max_pairs", max_pairs)
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
