"""Block-scrambling Encryption-then-Compression (EtC) images (Kurihara et al.; Chuman et al.).

An image is split into ``block`` x ``block`` blocks and encrypted in four keyed steps, in this order:

1. ``"scramble"``: block scrambling — the blocks are permuted;
2. ``"rotate"``: block rotation and inversion — each block gets one of the 8 symmetries of a square
   (rotation by 0/90/180/270 degrees, optionally followed by a horizontal flip; the 4 rotations x 4
   inversions of the original description give only these 8 distinct maps);
3. ``"negpos"``: negative-positive transform — each block is either kept or replaced by ``255 - x``;
4. ``"shuffle"``: colour component shuffling — the colour channels of each block are permuted.

The *grayscale-based* variant (Chuman, Sirichotedumrong and Kiya) first lays the colour channels of the
image side by side as one grayscale image of ``H x (C*W)`` pixels, and then applies steps 1-3 to that image
(there is no colour left to shuffle); its blocks move between channels, and the key space grows to
``(3n)! 8^(3n) 2^(3n)`` for ``n`` blocks per channel. Its ciphertext is that ``H x C*W`` grayscale image.

Steps 1, 2, 4 only move pixels and step 3 maps a value ``v`` to ``255 - v``. The whole cipher is therefore
one pixel permutation followed by a sign flip with offset on some pixels: ``y = Q x + b`` with ``Q`` a signed
permutation matrix (orthogonal) — see :func:`permutation` and :func:`affine`. The key precomputes this map
once (a gather index and an XOR mask), so encrypting a batch is a single ``np.take`` plus a ``uint8`` XOR
with 255 on the flipped pixels: no Python loop over pixels or blocks.

Key conditions of Kawamura et al.: condition 1 is one common key for every client, condition 2 one key per
client (:func:`condition_keys`, :func:`encrypt_groups`).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ppstudy import InputError, validate
from ppstudy.ciphers.base import GatherXorCipher, KeySpace, check_exact, freeze, image_shape, rng_from

#: the encryption steps in the order they are applied
STEPS: tuple[str, ...] = ("scramble", "rotate", "negpos", "shuffle")

#: number of distinct block symmetries (rotation x inversion) of a square block of side >= 2
N_ROTATIONS = 8


def _as_steps(steps) -> tuple[str, ...]:
    if isinstance(steps, str):
        steps = (steps,)
    try:
        steps = tuple(steps)
    except TypeError:
        raise InputError(f"EtC steps must be a sequence of step names, got {steps!r}") from None
    bad = [s for s in steps if s not in STEPS]
    if bad:
        raise InputError(f"unknown EtC step(s) {bad}; the steps are {list(STEPS)}")
    return tuple(s for s in STEPS if s in steps)  # canonical order, no duplicates


def _check_block(shape: tuple[int, int, int], block) -> int:
    block = validate.positive_int("block size", block)
    h, w, _ = shape
    if h % block or w % block:
        raise InputError(
            f"image of {h}x{w} pixels is not divisible into {block}x{block} blocks "
            f"(height and width must be multiples of the block size)"
        )
    return int(block)


def work_shape(shape, grayscale: bool = False) -> tuple[int, int, int]:
    """The shape the block steps act on (and the ciphertext's shape): ``(H, W, C)``, or ``(H, C*W, 1)``
    for the grayscale-based variant."""
    h, w, c = image_shape(shape, max_values=None)
    return (h, c * w, 1) if grayscale else (h, w, c)


def _to_blocks(img: np.ndarray, b: int) -> np.ndarray:
    """(H, W, C) -> (n, b, b, C), blocks in raster order."""
    h, w, c = img.shape
    return img.reshape(h // b, b, w // b, b, c).transpose(0, 2, 1, 3, 4).reshape(-1, b, b, c)


def _from_blocks(blocks: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    h, w, c = shape
    b = blocks.shape[1]
    return blocks.reshape(h // b, w // b, b, b, c).transpose(0, 2, 1, 3, 4).reshape(h, w, c)


def _symmetry(blocks: np.ndarray, k: int) -> np.ndarray:
    """Apply symmetry ``k`` (0..7) to every block of ``(n, b, b, C)``: rotate by ``90 * (k % 4)`` degrees
    counter-clockwise, then flip horizontally when ``k >= 4``."""
    out = np.rot90(blocks, k % 4, axes=(1, 2))
    return out[:, :, ::-1] if k >= 4 else out


@dataclass(frozen=True, eq=False)
class EtCKey(GatherXorCipher):
    """A secret key of the block-scrambling EtC cipher for images of one shape.

    ``scramble[j]`` is the plain block that goes to cipher block ``j``; ``rotation[j]`` (0..7),
    ``negpos[j]`` and ``shuffle[j]`` (a permutation of the channels) are applied to cipher block ``j``.
    Parameters of steps not in ``steps`` are the identity. ``gather``/``mask`` are the precomputed map
    ``y_flat = x_flat[gather] ^ mask`` (``mask`` is 0 or 255 per pixel).
    """

    shape: tuple[int, int, int]
    block: int
    steps: tuple[str, ...]
    grayscale: bool
    scramble: np.ndarray = field(repr=False)
    rotation: np.ndarray = field(repr=False)
    negpos: np.ndarray = field(repr=False)
    shuffle: np.ndarray = field(repr=False)
    gather: np.ndarray = field(repr=False, init=False)
    mask: np.ndarray = field(repr=False, init=False)
    inverse: np.ndarray = field(repr=False, init=False)
    inverse_mask: np.ndarray = field(repr=False, init=False)

    def __post_init__(self):
        shape = image_shape(self.shape)
        block = _check_block(shape, self.block)
        steps = _as_steps(self.steps)
        grayscale = validate.boolean("grayscale", self.grayscale)
        ws = work_shape(shape, grayscale)
        n = (ws[0] // block) * (ws[1] // block)
        c = ws[2]
        # integers (and flags) checked before any cast: a rotation of 1.5 or NaN is refused, not truncated
        scr = validate.int_array(f"key: scramble (a permutation of the {n} blocks)", self.scramble).astype(np.intp)
        rot = validate.int_array("key: rotation", self.rotation, low=0, high=N_ROTATIONS - 1).astype(np.uint8)
        neg = validate.bool_array("key: negpos", self.negpos)
        shu = validate.int_array("key: shuffle", self.shuffle, low=0).astype(np.intp)
        if scr.shape != (n,) or not np.array_equal(np.sort(scr), np.arange(n)):
            raise InputError(f"key: scramble must be a permutation of the {n} blocks")
        if rot.shape != (n,) or (rot >= N_ROTATIONS).any():
            raise InputError(f"key: rotation must hold {n} values in 0..7")
        if neg.shape != (n,):
            raise InputError(f"key: negpos must hold {n} flags")
        if shu.shape != (n, c) or not (np.sort(shu, axis=1) == np.arange(c)).all():
            raise InputError(f"key: shuffle must hold one permutation of the {c} channels per block ({n})")
        freeze(
            self,
            shape=shape,
            block=block,
            steps=steps,
            grayscale=grayscale,
            scramble=scr,
            rotation=rot,
            negpos=neg,
            shuffle=shu,
        )
        gather, mask = self._compile()
        freeze(self, gather=gather, mask=mask)
        self._compile_inverse()

    # ------------------------------------------------------------------ derived
    @property
    def n_blocks(self) -> int:
        ws = self.cipher_shape
        return (ws[0] // self.block) * (ws[1] // self.block)

    @property
    def cipher_shape(self) -> tuple[int, int, int]:
        return work_shape(self.shape, self.grayscale)

    def _compile(self) -> tuple[np.ndarray, np.ndarray]:
        """Encrypt the image of flat pixel indices once: that gives the gather index of the whole cipher."""
        h, w, c = self.shape
        idx = np.arange(h * w * c, dtype=np.intp).reshape(h, w, c)
        if self.grayscale:  # channels side by side: G[y, ch*W + x] = pixel (y, x, ch)
            idx = idx.transpose(0, 2, 1).reshape(h, c * w, 1)
        ws = self.cipher_shape
        blocks = _to_blocks(idx, self.block)
        if "scramble" in self.steps:
            blocks = blocks[self.scramble]
        if "rotate" in self.steps:
            blocks = blocks.copy()
            for k in range(1, N_ROTATIONS):  # eight groups of blocks, not a loop over pixels
                sel = np.flatnonzero(self.rotation == k)
                if sel.size:
                    blocks[sel] = _symmetry(blocks[sel], k)
        if "shuffle" in self.steps:
            blocks = np.take_along_axis(blocks, self.shuffle[:, None, None, :], axis=3)
        gather = np.ascontiguousarray(_from_blocks(blocks, ws)).ravel()
        flags = self.negpos if "negpos" in self.steps else np.zeros(self.negpos.shape, bool)
        mblocks = np.broadcast_to((flags * np.uint8(255))[:, None, None, None], blocks.shape)
        mask = np.ascontiguousarray(_from_blocks(np.ascontiguousarray(mblocks), ws)).ravel()
        return gather, mask

    def restricted(self, steps: Iterable[str]) -> EtCKey:
        """The same key parameters with only ``steps`` switched on (e.g. to show the steps one by one)."""
        return EtCKey(
            self.shape,
            self.block,
            _as_steps(steps),
            self.grayscale,
            self.scramble,
            self.rotation,
            self.negpos,
            self.shuffle,
        )

    def __repr__(self) -> str:
        return (
            f"EtCKey(shape={self.shape}, block={self.block}, steps={self.steps}, "
            f"grayscale={self.grayscale}, n_blocks={self.n_blocks})"
        )


def _geometry(
    shape, block, steps, grayscale, max_values: int | None = validate.MAX_IMAGE_VALUES
) -> tuple[tuple[int, int, int], int, tuple[str, ...], int, int]:
    """Checked (shape, block, steps) with the number of blocks and channels the steps work on."""
    shape = image_shape(shape, max_values=max_values)
    block = _check_block(shape, block)
    ws = work_shape(shape, validate.boolean("grayscale", grayscale))
    return shape, block, _as_steps(steps), (ws[0] // block) * (ws[1] // block), ws[2]


def keygen(
    shape,
    block: int = 8,
    *,
    seed: int | np.random.SeedSequence | None = None,
    steps: Sequence[str] = STEPS,
    grayscale: bool = False,
) -> EtCKey:
    """A random EtC key for images of ``shape`` = ``(H, W)`` or ``(H, W, C)`` (no batch axis).

    ``seed=None`` draws the key from OS entropy (``numpy.random.SeedSequence``); an int gives a
    reproducible key. ``grayscale=True`` selects the grayscale-based variant.
    """
    shape, block, steps, n, c = _geometry(shape, block, steps, grayscale)
    rng = rng_from(seed)
    ident = np.arange(n)
    scramble = rng.permutation(n) if "scramble" in steps else ident
    rotation = rng.integers(0, N_ROTATIONS, n) if "rotate" in steps else np.zeros(n, np.uint8)
    negpos = rng.integers(0, 2, n).astype(bool) if "negpos" in steps else np.zeros(n, bool)
    if "shuffle" in steps and c > 1:
        shuffle = np.argsort(rng.random((n, c)), axis=1)
    else:
        shuffle = np.broadcast_to(np.arange(c), (n, c))
    return EtCKey(shape, block, steps, bool(grayscale), scramble, rotation, negpos, shuffle)


def _check_key(key) -> EtCKey:
    if not isinstance(key, EtCKey):
        raise InputError(f"expected an EtCKey, got {type(key).__name__}")
    return key


def encrypt(x: np.ndarray, key: EtCKey) -> np.ndarray:
    """Encrypt a uint8 image or batch (``HxW``/``HxWxC`` or ``N x ...``, N = 0 included) of the key's shape.

    Returns the cipher images, shaped like the input (grayscale-based variant: ``H x C*W`` grayscale,
    with a trailing channel axis of 1 when the input had a channel axis).
    """
    return _check_key(key).apply(x)


def decrypt(y: np.ndarray, key: EtCKey) -> np.ndarray:
    """Exact inverse of :func:`encrypt`: ``decrypt(encrypt(x, k), k) == x``."""
    return _check_key(key).invert(y)


# ---------------------------------------------------------------------- the cipher as a linear map
def permutation(key: EtCKey) -> tuple[np.ndarray, np.ndarray]:
    """The cipher as ``(perm, flip)``: ``y.ravel()[i] = x.ravel()[perm[i]]``, replaced by
    ``255 - x.ravel()[perm[i]]`` where ``flip[i]``."""
    key = _check_key(key)
    return key.gather.copy(), key.mask.astype(bool)


def affine(key: EtCKey):
    """The cipher as ``y = Q @ x + b`` on flattened float vectors: ``Q`` a sparse signed permutation
    matrix (orthogonal: ``Q @ Q.T = I``) and ``b`` the offset (255 on negated pixels, else 0)."""
    from scipy import sparse

    perm, flip = permutation(key)
    d = perm.size
    sign = np.where(flip, -1.0, 1.0)
    q = sparse.csr_matrix((sign, (np.arange(d), perm)), shape=(d, d))
    return q, np.where(flip, 255.0, 0.0)


# ---------------------------------------------------------------------- key space
def key_space(
    shape, block: int = 8, *, steps: Sequence[str] = STEPS, grayscale: bool = False, exact: bool = False
) -> KeySpace:
    """Number of distinct ciphers (keys giving different maps) for images of ``shape``.

    With ``n`` blocks (``H/b * W/b``; grayscale-based: ``C`` times as many) and ``C`` channels it is
    ``n! * 8^n * 2^n * (C!)^n`` for all four steps; each step left out drops its factor. For ``block == 1``
    the block symmetries are all the identity (factor 1). This equals a brute-force count of distinct
    ``(perm, flip)`` maps (see the tests). ``bits`` comes from log-gamma (fast for any image size);
    ``exact=True`` also computes the integer ``count`` (slow for large images: ``n!`` has ``n log n`` digits).
    """
    shape, block, steps, n, c = _geometry(shape, block, steps, grayscale, max_values=None)
    scr = "scramble" in steps
    rot = "rotate" in steps and block >= 2
    neg = "negpos" in steps
    shu = "shuffle" in steps
    bits = (
        (math.lgamma(n + 1) / math.log(2) if scr else 0.0)
        + (3.0 * n if rot else 0.0)
        + (1.0 * n if neg else 0.0)
        + (n * math.log2(math.factorial(c)) if shu else 0.0)
    )
    if not check_exact(exact, bits):
        return KeySpace(bits)
    size = (
        (math.factorial(n) if scr else 1)
        * (N_ROTATIONS**n if rot else 1)
        * (2**n if neg else 1)
        * (math.factorial(c) ** n if shu else 1)
    )
    return KeySpace.of(size)


# ---------------------------------------------------------------------- key conditions
def condition_keys(
    condition: int, clients: Iterable[Hashable], shape, block: int = 8, *, seed: int | None = None, **kw: Any
) -> dict[Hashable, EtCKey]:
    """Keys of Kawamura et al.'s key conditions: ``1`` one common key for all clients
    (``B_1 = ... = B_N``), ``2`` an independent key per client (``B_1 != ... != B_N``)."""
    clients = list(dict.fromkeys(clients))
    condition = validate.integer("key condition", condition, low=1, high=2)
    seed = validate.seed("seed", seed)
    if condition == 1:
        k = keygen(shape, block, seed=seed, **kw)
        return {c: k for c in clients}
    if condition == 2:
        children = np.random.SeedSequence(seed).spawn(len(clients))
        return {c: keygen(shape, block, seed=s, **kw) for c, s in zip(clients, children)}
    raise InputError(f"key condition must be 1 (common key) or 2 (one key per client), got {condition!r}")


def encrypt_groups(x: np.ndarray, owners, keys: dict[Hashable, EtCKey]) -> np.ndarray:
    """Encrypt each image of a batch with the key of its owner (one vectorised call per owner)."""
    own = np.asarray(owners)
    if not isinstance(x, np.ndarray) or x.ndim < 3 or len(own) != len(x):
        raise InputError(
            f"encrypt_groups: need a batch and one owner per image, got "
            f"{getattr(x, 'shape', None)} and {len(own)} owners"
        )
    missing = sorted(set(own.tolist()) - set(keys), key=str)
    if missing:
        raise InputError(f"encrypt_groups: no key for owner(s) {missing[:5]}")
    if not len(x):
        return np.empty((0, *next(iter(keys.values())).cipher_shape), np.uint8) if keys else x.copy()
    out = np.empty((len(x), *encrypt(x[:1], keys[own[0].item()]).shape[1:]), np.uint8)
    for o in dict.fromkeys(own.tolist()):
        sel = np.flatnonzero(own == o)
        out[sel] = encrypt(x[sel], keys[o])
    return out
