"""Ciphertext-only key recovery by trying every key: the cat map, whose key space is small.

Threat model: ciphertext only. The attacker holds cipher images under one cat-map key and the scheme's
public description (the tile); no plaintext, no public images. The cat map of a ``t x t`` tile can draw
only the maps ``M(a, b)^k mod t`` (:func:`ppstudy.ciphers.catmap.walk_powers`): a few thousand distinct
pixel permutations for ``t = 32``. The attack decrypts the cipher images with each of them and keeps the
one whose decryption is smoothest (the least summed absolute difference between horizontal and vertical
neighbours inside the tiles): a natural image is smooth, a wrongly permuted one is not.
"""

from __future__ import annotations

import numpy as np

from ppstudy import InputError, validate
from ppstudy.images import check_uint8


def catmap_matrices(tile: int) -> np.ndarray:
    """Every distinct map keygen can draw for ``tile``: the matrices ``M(a, b)^k mod tile``, ``a, b`` in
    ``[1, tile)``, ``1 <= k < period`` (m x 4, row-major entries, sorted)."""
    from ppstudy.ciphers import catmap

    tile = validate.integer("tile", tile, low=3, high=512)
    parts = [np.stack(m, 1) for _, _, _, m in catmap.walk_powers(tile)]
    return np.unique(np.concatenate(parts).astype(np.int64), axis=0)


def _tiles(x: np.ndarray, t: int) -> np.ndarray:
    n, h, w, c = x.shape
    return x.reshape(n, h // t, t, w // t, t, c).transpose(0, 1, 3, 5, 2, 4).reshape(n, -1, c, t * t)


def smoothness(tiles: np.ndarray, t: int) -> np.ndarray:
    """Summed absolute differences of horizontal and vertical neighbours inside each ``t x t`` tile, per
    leading index (``... x (t*t)`` int16 arrays; summed over every other axis but the first)."""
    a = tiles.reshape(*tiles.shape[:-1], t, t)
    d = np.abs(np.diff(a, axis=-1)).sum(axis=(-1, -2)) + np.abs(np.diff(a, axis=-2)).sum(axis=(-1, -2))
    return d.reshape(d.shape[0], -1).sum(1)


def catmap_ciphertext_only(cipher_images: np.ndarray, tile: int, *, chunk: int = 64) -> dict:
    """The cat map's key from cipher images alone (``N x H x W x C`` on a square canvas; ``tile`` = the
    canvas side for the whole-image map): every map keygen can draw is tried.

    Returns ``{"matrix": the smoothest decryption's map (row-major), "cost": its smoothness,
    "runner_up": the next cost, "candidates": how many maps were tried}``."""
    check_uint8(cipher_images, "cipher images")
    y = cipher_images
    if y.ndim != 4 or y.shape[1] != y.shape[2]:
        raise InputError(f"cat map: expected N x H x H x C cipher images on a square canvas, got {y.shape}")
    t = validate.integer("tile", tile, low=3, high=512)
    if y.shape[1] % t:
        raise InputError(f"cat map: tile {t} does not divide the canvas side {y.shape[1]}")
    chunk = validate.positive_int("chunk", chunk)
    mats = catmap_matrices(t)
    ty = _tiles(y, t).astype(np.int16)  # N x T x C x t^2
    r, c = np.divmod(np.arange(t * t), t)
    costs = np.empty(len(mats))
    for i in range(0, len(mats), chunk):
        m = mats[i : i + chunk]
        # decryption: plain (r, c) <- cipher (m00 r + m01 c, m10 r + m11 c) mod t
        dst = ((m[:, :1] * r + m[:, 1:2] * c) % t) * t + (m[:, 2:3] * r + m[:, 3:4] * c) % t  # k x t^2
        dec = ty[..., dst]  # N x T x C x k x t^2
        costs[i : i + chunk] = smoothness(np.moveaxis(dec, -2, 0), t)
    order = np.argsort(costs, kind="stable")
    best = tuple(int(v) for v in mats[order[0]])
    return {
        "matrix": best,
        "cost": float(costs[order[0]]),
        "runner_up": float(costs[order[1]]) if len(order) > 1 else float("inf"),
        "candidates": int(len(mats)),
    }
