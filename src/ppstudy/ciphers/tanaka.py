"""Tanaka's learnable image encryption (ICCE-TW 2018), the block-based baseline of the pixel chapter.

1. The image (H, W, 3) is divided into ``block x block`` blocks (4 x 4).
2. Every 8-bit value is split into its upper and lower 4 bits, giving a 6-channel image of 4-bit values
   (channels ``R_hi, G_hi, B_hi, R_lo, G_lo, B_lo``; the channel order is our choice, the paper is silent).
3. Intensity reversal: the values at key-selected positions of the ``6 * block^2`` (= 96) positions of a
   block are replaced by ``15 - v``.
4. Shuffle: the 96 values of every block are permuted with the same key pattern.

The same key is used for every block and every image, so the key space is ``96! * 2^96`` (Eq. 5 of
Sirichotedumrong et al.; in general ``(6b^2)! * 2^(6b^2)``). The cipher image is (H, W, 6) uint8 with
values 0..15 — the block adaptation network (:class:`ppstudy.models.BlockAdaptationNetwork`) reads it.

Implementation: a chunk of images is split into planar upper/lower 4-bit planes (two SIMD bit operations),
and the key precomputes, for every cipher value, where it comes from in those planes and an XOR mask (15
on reversed positions; ``15 - v == v ^ 15`` for 4-bit ``v``): one ``np.take`` and one XOR per chunk.
Decryption takes the upper and the lower half of every plain value back with two ``np.take``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ppstudy import InputError, validate
from ppstudy.ciphers.base import (
    KeySpace,
    check_exact,
    flat_batch,
    freeze,
    image_shape,
    rng_from,
    torch_gather_xor,
    unflat,
)

CHANNELS = ("R_hi", "G_hi", "B_hi", "R_lo", "G_lo", "B_lo")


def _as_shape(shape, block, max_values: int | None = validate.MAX_IMAGE_VALUES) -> tuple[int, int, int]:
    shape = image_shape(shape, colour="Tanaka's encryption", max_values=max_values)
    block = validate.positive_int("block size", block)
    if shape[0] % block or shape[1] % block:
        raise InputError(f"image of {shape[0]}x{shape[1]} pixels is not divisible into {block}x{block} blocks")
    return shape


@dataclass(frozen=True, eq=False)
class TanakaKey:
    """``perm[j]``: the in-block position (0..6b^2-1, ordered (row, col, channel)) whose value goes to
    position ``j`` of every cipher block; ``reverse[j]``: whether cipher position ``j`` is reversed."""

    shape: tuple[int, int, int]
    block: int
    perm: np.ndarray = field(repr=False)
    reverse: np.ndarray = field(repr=False)
    gather: np.ndarray = field(repr=False, init=False)
    mask: np.ndarray = field(repr=False, init=False)
    inverse: np.ndarray = field(repr=False, init=False)
    _src: np.ndarray = field(repr=False, init=False)
    _hi: np.ndarray = field(repr=False, init=False)
    _lo: np.ndarray = field(repr=False, init=False)

    def __post_init__(self):
        shape = _as_shape(self.shape, self.block)
        b = int(self.block)
        d = 6 * b * b
        perm = validate.int_array("perm", self.perm)
        rev = np.asarray(self.reverse)
        if perm.shape != (d,) or not np.array_equal(np.sort(perm), np.arange(d)):
            raise InputError(f"perm must be a permutation of {d} in-block positions")
        if rev.shape != (d,) or rev.dtype != bool:
            raise InputError(f"reverse must be a bool array of {d} entries")
        h, w, _ = shape
        # flat index of split image (H, W, 6) for (block row, block col, in-block r, c, ch)
        idx = np.arange(h * w * 6).reshape(h // b, b, w // b, b, 6).transpose(0, 2, 1, 3, 4).reshape(-1, d)
        gather = idx[:, perm]  # cipher block j-th value <- plain position perm[j]
        out = np.empty(h * w * 6, np.int64)
        out[idx.reshape(-1)] = gather.reshape(-1)  # cipher image in the same (H, W, 6) layout
        mask = np.empty(h * w * 6, np.uint8)
        mask[idx.reshape(-1)] = np.broadcast_to(rev.astype(np.uint8) * np.uint8(15), idx.shape).reshape(-1)
        inverse = np.argsort(out)
        # cipher value j = planes[src[j]] ^ mask[j]; plain value i = hi[i] << 4 | lo[i]
        # positions in the planar split layout [upper planes (H*W*3) | lower planes (H*W*3)]
        src = (out // 6) * 3 + (out % 6) % 3 + np.where(out % 6 < 3, 0, h * w * 3)
        split_pos = np.arange(h * w * 3)
        hi_pos = inverse[(split_pos // 3) * 6 + split_pos % 3]  # cipher position of the upper bits
        lo_pos = inverse[(split_pos // 3) * 6 + split_pos % 3 + 3]  # ... and of the lower bits
        freeze(
            self,
            shape=shape,
            block=b,
            perm=perm,
            reverse=rev,
            gather=out,
            mask=mask,
            inverse=inverse,
            _src=src,
            _hi=hi_pos,
            _lo=lo_pos,
        )

    @property
    def cipher_shape(self) -> tuple[int, int, int]:
        return (self.shape[0], self.shape[1], 6)

    def __repr__(self) -> str:
        return f"TanakaKey(shape={self.shape}, block={self.block})"

    def torch_transform(self, device=None):
        """The cipher as a torch callable: uint8 N x 3 x H x W -> uint8 N x 6 x H x W (any device)."""
        import torch

        def split_planes(x):
            return torch.cat([x >> 4, x & 15], dim=1)

        return torch_gather_xor(self.gather, self.mask, self.cipher_shape, device=device, prefix=split_planes)


def keygen(shape, block: int = 4, *, seed: int | np.random.SeedSequence | None = None) -> TanakaKey:
    """A random key for images of ``shape`` (H, W, 3) and ``block x block`` blocks."""
    shape = _as_shape(shape, block)
    rng = rng_from(seed)
    d = 6 * block * block
    return TanakaKey(shape, int(block), rng.permutation(d), rng.integers(0, 2, d).astype(bool))


def split(x: np.ndarray) -> np.ndarray:
    """(…, 3) uint8 -> (…, 6) upper and lower 4-bit planes."""
    return np.concatenate([x >> 4, x & 15], axis=-1)


def merge(s: np.ndarray) -> np.ndarray:
    """Inverse of :func:`split`."""
    return (s[..., :3] << 4) | s[..., 3:]


def _check_key(key):
    if not isinstance(key, TanakaKey):
        raise InputError(f"expected a TanakaKey, got {type(key).__name__}")
    return key


def encrypt(x: np.ndarray, key: TanakaKey) -> np.ndarray:
    """Encrypt uint8 (H, W, 3) or (N, H, W, 3) -> (…, H, W, 6) uint8 with values 0..15."""
    key = _check_key(key)
    xf, lead, _ = flat_batch(x, key.shape, "images")
    d = xf.shape[1]
    out = np.empty((xf.shape[0], key._src.size), np.uint8)
    planes = np.empty((min(1024, xf.shape[0]), 2 * d), np.uint8)
    for i in range(0, xf.shape[0], 1024):  # cache-sized chunks of images, never a loop over pixels
        b, o = xf[i : i + 1024], out[i : i + 1024]
        p = planes[: b.shape[0]]
        np.right_shift(b, 4, out=p[:, :d])  # upper 4 bits
        np.bitwise_and(b, 15, out=p[:, d:])  # lower 4 bits
        np.take(p, key._src, axis=1, out=o, mode="clip")  # a checked permutation: clip never clips
        np.bitwise_xor(o, key.mask, out=o)
    return unflat(out, lead, False, key.cipher_shape)


def decrypt(y: np.ndarray, key: TanakaKey) -> np.ndarray:
    """Exact inverse of :func:`encrypt`; refuses values above 15 (not a Tanaka cipher image)."""
    key = _check_key(key)
    yf, lead, _ = flat_batch(y, key.cipher_shape, "cipher images")
    if yf.size and yf.max() > 15:
        raise InputError("cipher images: values above 15 — not a Tanaka cipher image (4-bit planes)")
    out = np.empty((yf.shape[0], key._hi.size), np.uint8)
    lo = np.empty((min(1024, yf.shape[0]), key._lo.size), np.uint8)
    mhi, mlo = key.mask[key._hi], key.mask[key._lo]
    for i in range(0, yf.shape[0], 1024):
        o, b = out[i : i + 1024], yf[i : i + 1024]
        lb = lo[: b.shape[0]]
        np.take(b, key._hi, axis=1, out=o, mode="clip")
        np.bitwise_xor(o, mhi, out=o)
        np.left_shift(o, 4, out=o)
        np.take(b, key._lo, axis=1, out=lb, mode="clip")
        np.bitwise_xor(lb, mlo, out=lb)
        np.bitwise_or(o, lb, out=o)
    return unflat(out, lead, False, key.shape)


def key_space(shape=(32, 32, 3), *, block: int = 4, exact: bool = False) -> KeySpace:
    """``(6 b^2)! * 2^(6 b^2)``: ``96! * 2^96`` for 4x4 blocks (Eq. 5), whatever the image size (one key
    pattern for every block); ``shape`` is checked against the block."""
    _as_shape(shape, block, max_values=None)
    d = 6 * block * block
    bits = math.lgamma(d + 1) / math.log(2) + d
    if check_exact(exact, bits):
        return KeySpace.of(math.factorial(d) * 2**d)
    return KeySpace(bits)
