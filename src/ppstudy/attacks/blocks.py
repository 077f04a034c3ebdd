"""Blocks, their eight symmetries and their colour transforms: what the block attacks share.

The block ciphers (EtC and its grayscale-based variant) cut an image into ``b x b`` blocks in raster order
and give each block one of the eight symmetries of a square (``k`` = 0..7: a counter-clockwise rotation by
``90 * (k % 4)`` degrees, then a horizontal flip when ``k >= 4``), a permutation of its channels and,
maybe, the negative-positive flip. These helpers follow the convention of :mod:`ppstudy.ciphers.etc`
(written from its documentation; the attacks' tests check them against the cipher), and give the group
tables the attacks compose with:

* :data:`D4_COMPOSE` ``[a, b]``: the symmetry ``a o b`` (``b`` first); :data:`D4_INVERSE`;
  :data:`D4_MATRIX` ``[k]``: how symmetry ``k`` moves grid coordinates ``(row, col)`` (up to a translation);
* :func:`colour_group`: the channel permutations (``out[..., c] = in[..., perm[c]]``), each with and
  without the negative-positive flip, and their composition table.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ppstudy import InputError

N_SYMMETRIES = 8


def to_blocks(x: np.ndarray, b: int) -> np.ndarray:
    """``N x H x W x C`` -> ``N x n x b x b x C``, blocks in raster order (``n = H/b * W/b``)."""
    n, h, w, c = x.shape
    if h % b or w % b:
        raise InputError(f"images of {h}x{w} pixels are not divisible into {b}x{b} blocks")
    return x.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, -1, b, b, c)


def from_blocks(blocks: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``N x (rows * cols) x b x b x C`` -> ``N x (rows b) x (cols b) x C`` (the inverse of :func:`to_blocks`)."""
    n, m, b, _, c = blocks.shape
    if m != rows * cols:
        raise InputError(f"{m} blocks do not fill a grid of {rows} x {cols}")
    return blocks.reshape(n, rows, cols, b, b, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, rows * b, cols * b, c)


def symmetry(a: np.ndarray, k: int, axes: tuple[int, int] = (-3, -2)) -> np.ndarray:
    """Symmetry ``k`` (0..7) of square arrays along ``axes`` (default: the block rows and columns of
    ``... x b x b x C``): rotate counter-clockwise by ``90 * (k % 4)`` degrees, then flip the columns when
    ``k >= 4`` (EtC's block rotation and inversion)."""
    out = np.rot90(a, int(k) % 4, axes=axes)
    if k >= 4:
        out = np.flip(out, axis=axes[1])
    return out


def _d4_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    probe = np.arange(9).reshape(3, 3)
    images = [symmetry(probe, k, (0, 1)) for k in range(N_SYMMETRIES)]
    code = {im.tobytes(): k for k, im in enumerate(images)}
    compose = np.array([[code[symmetry(images[b], a, (0, 1)).tobytes()] for b in range(8)] for a in range(8)])
    inverse = np.argmax(compose == 0, axis=1)
    # the entry at (r, c) of a 3x3 grid centred at 0 moves to M (r, c): the probe's 7 sits at (+1, 0) and
    # its 5 at (0, +1), so where they land are M's two columns
    mats = np.zeros((8, 2, 2), np.int64)
    for k, im in enumerate(images):
        for col, value in ((0, 7), (1, 5)):
            mats[k][:, col] = np.argwhere(im == value)[0] - 1
    return compose, inverse, mats


D4_COMPOSE, D4_INVERSE, D4_MATRIX = _d4_tables()


@dataclass(frozen=True)
class ColourGroup:
    """Colour transforms of ``C`` channels: ``perms[t]`` (``out[..., c] = in[..., perms[t, c]]``) then
    ``255 - v`` when ``neg[t]``. ``compose[a, b]`` is ``a o b`` (``b`` first), ``inverse[t]`` its inverse.
    Element 0 is the identity."""

    channels: int
    perms: np.ndarray
    neg: np.ndarray
    compose: np.ndarray
    inverse: np.ndarray

    @property
    def size(self) -> int:
        return len(self.perms)

    def apply(self, a: np.ndarray, t: int) -> np.ndarray:
        """Transform ``t`` of values ``... x C`` (uint8)."""
        out = a[..., self.perms[t]]
        return np.uint8(255) - out if self.neg[t] else out


def colour_group(channels: int, *, shuffle: bool = True, negpos: bool = True) -> ColourGroup:
    """The channel permutations (all ``C!`` with ``shuffle``, else the identity), each with and without the
    negative-positive flip (with ``negpos``)."""
    perms = list(itertools.permutations(range(channels))) if shuffle else [tuple(range(channels))]
    elems = [(p, n) for n in ((False, True) if negpos else (False,)) for p in perms]
    code = {(tuple(p), n): i for i, (p, n) in enumerate(elems)}
    # a o b: b gives in[..., pb], negated by nb; a then takes its channels pa: in[..., pb[pa]], nb ^ na
    compose = np.array(
        [[code[(tuple(np.asarray(pb)[list(pa)].tolist()), na ^ nb)] for pb, nb in elems] for pa, na in elems]
    )
    inverse = np.argmax(compose == 0, axis=1)
    return ColourGroup(
        channels, np.array([p for p, _ in elems], np.int64), np.array([n for _, n in elems]), compose, inverse
    )
