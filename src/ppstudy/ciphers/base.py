"""What every image cipher of ppstudy shares: the key-space type, the cipher protocol, the registry, and the
gather + XOR machinery of the permutation ciphers (numpy and torch, written once).

The protocol (:class:`Cipher`) is met by each cipher *module*: ``keygen(shape, *, seed=None, **options)``,
``encrypt(x, key)``, ``decrypt(y, key)`` and ``key_space(shape, **options) -> KeySpace``. The registry names
configured ciphers (a module plus keyword options, e.g. EtC with 4x4 blocks) so that studies look them up
by name instead of chains of ``if``s::

    from ppstudy import ciphers
    spec = ciphers.get("pixel23")          # pixel-based, steps 2 and 3
    key = spec.keygen((32, 32, 3), seed=0)
    y = spec.encrypt(x, key)
    spec.key_space((32, 32, 3)).bits

Ciphers never import the training loop: the torch version of a gather + XOR cipher lives here
(:func:`torch_gather_xor`), and torch is imported only when it is asked for.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ppstudy import InputError, validate
from ppstudy.images import check_uint8

LOG2_10 = math.log2(10)

#: the largest key-space count (in bits) that ``key_space(..., exact=True)`` computes as an exact integer:
#: 2^22 bits (a 1.26-million-digit integer, about a second); beyond it, exact=True raises InputError and the
#: ``bits`` of ``exact=False`` (log-gamma, any size) are what is available
MAX_EXACT_BITS = 1 << 22


def check_exact(exact, bits: float) -> bool:
    """``exact`` as a bool, refused (InputError naming :data:`MAX_EXACT_BITS`) when the exact count of a
    key space of ``bits`` bits would be too large to compute in bounded time."""
    exact = validate.boolean("exact", exact)
    if exact and bits > MAX_EXACT_BITS:
        raise InputError(
            f"key space: an exact count of {bits:.4g} bits exceeds the cap MAX_EXACT_BITS = {MAX_EXACT_BITS} "
            f"(ppstudy.ciphers.base); use exact=False for its bits"
        )
    return exact


# ---------------------------------------------------------------------- key space
def log2_int(v: int) -> float:
    """``log2`` of a (possibly huge) positive integer, exact to float precision."""
    if v < 1:
        raise InputError(f"log2 of a key-space size needs a positive integer, got {v}")
    e = v.bit_length() - 1
    if e < 1000:
        return math.log2(v)
    return e + math.log2((v >> (e - 52)) / (1 << 52))


@dataclass(frozen=True)
class KeySpace:
    """The size of a cipher's key space.

    ``bits`` is always given (``log2`` of the count); ``count`` is the exact integer when it was asked for
    (``exact=True`` in a module's ``key_space``) and is known. ``bound`` says that ``bits`` bounds the
    number of distinct ciphers from above instead of counting them (e.g. a nominal key length).
    ``counts`` names what is counted.
    """

    bits: float
    count: int | None = None
    bound: bool = False
    counts: str = "distinct ciphers"

    def __post_init__(self):
        if not math.isfinite(self.bits) or self.bits < 0:
            raise InputError(f"key space: bits must be a finite non-negative number, got {self.bits!r}")

    @classmethod
    def of(cls, count: int, *, bound: bool = False, counts: str = "distinct ciphers") -> KeySpace:
        """From an exact integer count."""
        return cls(log2_int(int(count)), int(count), bound, counts)

    @property
    def digits(self) -> int:
        """Number of decimal digits of the count (from ``bits`` when the count was not computed)."""
        d = int(math.floor(self.bits / LOG2_10)) + 1
        if self.count is not None:  # exact: correct the float estimate by comparing powers of ten
            while d > 1 and self.count < 10 ** (d - 1):
                d -= 1
            while self.count >= 10**d:
                d += 1
        return d

    def as_row(self) -> dict[str, Any]:
        return {
            "bits": self.bits,
            "decimal digits": self.digits,
            "exact": self.count is not None,
            "upper bound": self.bound,
        }


# ---------------------------------------------------------------------- protocol and registry
@runtime_checkable
class Cipher(Protocol):
    """The verbs every image-cipher module provides (module-level functions)."""

    def keygen(self, shape, *, seed=None, **options) -> Any: ...

    def encrypt(self, x, key) -> Any: ...

    def decrypt(self, y, key) -> Any: ...

    def key_space(self, shape, **options) -> KeySpace: ...


@dataclass(frozen=True)
class CipherSpec:
    """A configured cipher: a module meeting :class:`Cipher` and the keyword options it is used with."""

    name: str
    module: ModuleType
    label: str
    options: dict[str, Any] = field(default_factory=dict)
    key_options: tuple[str, ...] = ()  # options that key_space takes as well as keygen

    def keygen(self, shape, *, seed=None):
        return self.module.keygen(shape, seed=seed, **self.options)

    def encrypt(self, x, key):
        return self.module.encrypt(x, key)

    def decrypt(self, y, key):
        return self.module.decrypt(y, key)

    def key_space(self, shape, **kw) -> KeySpace:
        opts = {k: v for k, v in self.options.items() if k in self.key_options}
        return self.module.key_space(shape, **opts, **kw)

    def torch_transform(self, key, device=None) -> Callable:
        """The cipher as a torch callable on uint8 NCHW batches (permutation ciphers only)."""
        if not hasattr(key, "torch_transform"):
            raise InputError(f"cipher {self.name!r} has no torch version")
        return key.torch_transform(device)


_REGISTRY: dict[str, CipherSpec] = {}


def register(
    name: str, module: ModuleType, *, label: str, key_options: tuple[str, ...] = (), **options: Any
) -> CipherSpec:
    """Name a configured cipher; returns its :class:`CipherSpec`."""
    for verb in ("keygen", "encrypt", "decrypt", "key_space"):
        if not callable(getattr(module, verb, None)):
            raise InputError(f"cipher module {module.__name__} lacks {verb}()")
    spec = CipherSpec(name, module, label, dict(options), tuple(key_options))
    _REGISTRY[name] = spec
    return spec


def get(name: str) -> CipherSpec:
    """The registered cipher ``name`` (see :func:`names`)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown cipher {name!r} (registered: {', '.join(sorted(_REGISTRY))})") from None


def names() -> list[str]:
    return list(_REGISTRY)


# ---------------------------------------------------------------------- seeds and frozen keys
def rng_from(seed) -> np.random.Generator:
    """A generator from ``seed``: None draws from OS entropy (``SeedSequence``), an int or a
    ``SeedSequence`` is reproducible. Negative, fractional, boolean or text seeds are refused."""
    seed = validate.seed("seed", seed)
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    return np.random.default_rng(np.random.SeedSequence(seed))


def freeze(obj, **fields) -> None:
    """Set fields of a frozen dataclass, storing numpy arrays as read-only copies (keys are immutable)."""
    for name, v in fields.items():
        if isinstance(v, np.ndarray):
            v = np.array(v, copy=True)
            v.setflags(write=False)
        object.__setattr__(obj, name, v)


# ---------------------------------------------------------------------- shapes and batches
def image_shape(
    shape, *, colour: str | None = None, max_values: int | None = validate.MAX_IMAGE_VALUES
) -> tuple[int, int, int]:
    """``(H, W)`` or ``(H, W, C)`` as a checked ``(H, W, C)`` tuple (``(H, W)`` means one channel).

    ``colour``: a cipher that needs ``(H, W, 3)`` images passes its own name here; ``(H, W)`` then means
    ``(H, W, 3)`` and any other channel count is refused with a message naming the cipher. Entries must be
    integers (``32.7`` is refused, not read as 32); ``H * W * C`` is capped at ``max_values``
    (:data:`ppstudy.validate.MAX_IMAGE_VALUES` by default, None for none: key spaces allocate nothing).
    """
    form = "(H, W, 3)" if colour else "(H, W) or (H, W, C)"
    try:
        t = tuple(shape)
    except TypeError:
        raise InputError(f"image shape must be {form}, got {shape!r}") from None
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)) for s in t):
        raise InputError(f"image shape must be {form} of integers, got {shape!r}")
    shape = tuple(int(s) for s in t)
    if len(shape) == 2:
        shape = (*shape, 3 if colour else 1)
    if colour and (len(shape) != 3 or shape[2] != 3 or min(shape) < 1):
        raise InputError(f"{colour} needs colour images of shape (H, W, 3), got {shape!r}")
    if len(shape) != 3 or min(shape) < 1:
        raise InputError(f"image shape must be {form} with positive sizes, got {shape!r}")
    if max_values is not None:
        validate.at_most(f"image shape {shape}: H * W * C", math.prod(shape), max_values, "MAX_IMAGE_VALUES")
    return shape[0], shape[1], shape[2]


def flat_batch(x, shape: tuple[int, int, int], what: str) -> tuple[np.ndarray, tuple[int, ...] | None, bool]:
    """``x`` as an ``N x D`` array for a key made for images of ``shape`` = (H, W, C).

    Accepts one image (``H x W x C``; ``H x W`` when ``C == 1``) or a batch (``N x H x W x C``;
    ``N x H x W`` when ``C == 1``), N = 0 included. Returns ``(flat, lead, no_channel_axis)`` with ``lead``
    ``None`` for a single image and ``(N,)`` for a batch.
    """
    check_uint8(x, what)
    h, w, c = shape
    d = h * w * c
    if x.shape == shape:
        lead, flat = None, False
    elif x.ndim == 4 and x.shape[1:] == shape:
        lead, flat = (x.shape[0],), False
    elif c == 1 and x.shape == (h, w):
        lead, flat = None, True
    elif c == 1 and x.ndim == 3 and x.shape[1:] == (h, w):
        lead, flat = (x.shape[0],), True
    else:
        form = " x ".join(map(str, shape))
        raise InputError(
            f"{what}: shape {x.shape} does not fit the key, which was made for images of shape "
            f"{shape} (one image {form}, or a batch N x {form})"
        )
    n = 1 if lead is None else lead[0]
    return np.ascontiguousarray(x).reshape(n, d), lead, flat


def unflat(out: np.ndarray, lead: tuple[int, ...] | None, flat: bool, shape: tuple[int, int, int]) -> np.ndarray:
    """Undo :func:`flat_batch` for an output of image shape ``shape``."""
    trail = shape[:2] if flat and shape[2] == 1 else shape
    return out.reshape(trail if lead is None else (*lead, *trail))


def gather_xor(xf: np.ndarray, index: np.ndarray, mask: np.ndarray | None, chunk: int = 2048) -> np.ndarray:
    """``out[n, j] = xf[n, index[j]] ^ mask[j]`` for a batch of flattened uint8 images.

    ``index`` must be a checked permutation (``mode="clip"`` then never clips, and is several times faster
    than numpy's default bounds-checked take). Chunks of images keep the working set in cache; the loop is
    over chunks of whole images, never over pixels. ``mask=None`` skips the XOR.
    """
    chunk = validate.positive_int("chunk", chunk)
    out = np.empty((xf.shape[0], index.size), np.uint8)
    for i in range(0, xf.shape[0], chunk):
        o = out[i : i + chunk]
        np.take(xf[i : i + chunk], index, axis=1, out=o, mode="clip")
        if mask is not None:
            np.bitwise_xor(o, mask, out=o)  # uint8: v ^ 255 == 255 - v
    return out


def map_digest(gather, mask, *shapes) -> str:
    """SHA-256 (16 hex digits) of a compiled cipher map: identifies a key in checkpoint fingerprints."""
    h = hashlib.sha256(repr(shapes).encode())
    h.update(np.ascontiguousarray(gather, dtype=np.int64).tobytes())
    if mask is not None:
        h.update(np.ascontiguousarray(mask, dtype=np.uint8).tobytes())
    return h.hexdigest()[:16]


def torch_gather_xor(gather, mask, shape, *, out_shape=None, device=None, prefix=None) -> Callable:
    """A cipher of the form ``y.ravel() = x.ravel()[gather] ^ mask`` (on flattened HWC images, as the
    numpy ciphers store it) as a torch callable on uint8 NCHW batches, evaluated on the batch's device.

    ``shape`` is the plain (H, W, C); ``out_shape`` the cipher's (default: the same); ``prefix`` an optional
    torch callable applied first (e.g. Tanaka's split into 4-bit planes). The callable carries a
    ``fingerprint`` (a digest of the map) for checkpoint fingerprints.
    """
    import torch

    h, w, c = shape
    oh, ow, oc = out_shape or shape
    gather = np.asarray(gather, dtype=np.int64).reshape(-1)
    mask = np.broadcast_to(np.asarray(mask if mask is not None else 0, dtype=np.uint8), gather.shape)
    if gather.size != oh * ow * oc:
        raise InputError(f"gather index of {gather.size} entries does not fit the cipher shape {(oh, ow, oc)}")
    # flat HWC position -> flat CHW position, for the plain and the cipher layout
    hwc_to_chw = np.arange(h * w * c).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)
    out_chw_to_hwc = np.arange(oh * ow * oc).reshape(oh, ow, oc).transpose(2, 0, 1).reshape(-1)
    g = torch.from_numpy(hwc_to_chw[gather[out_chw_to_hwc]])
    m = torch.from_numpy(np.ascontiguousarray(mask[out_chw_to_hwc]))
    cache: dict = {}

    def transform(x: torch.Tensor) -> torch.Tensor:
        if prefix is not None:
            x = prefix(x)
        if x.dtype != torch.uint8 or tuple(x.shape[1:]) != (c, h, w):
            raise InputError(f"cipher transform: expected uint8 N x {c} x {h} x {w}, got {x.dtype} {tuple(x.shape)}")
        dev = x.device
        if dev not in cache:
            cache[dev] = (g.to(dev), m.to(dev))
        gi, mi = cache[dev]
        y = x.reshape(x.shape[0], -1).index_select(1, gi) ^ mi
        return y.reshape(x.shape[0], oc, oh, ow)

    if device is not None:
        cache[torch.device(device)] = (g.to(device), m.to(device))
    transform.fingerprint = map_digest(gather, mask, shape, out_shape, prefix is not None)  # type: ignore[attr-defined]
    return transform


class GatherXorCipher:
    """Mixin for keys compiled to one gather index and one XOR mask: ``y = x.ravel()[gather] ^ mask``.

    A key class sets (with :func:`freeze`) ``shape`` (plain H, W, C), ``gather``, ``mask`` (uint8, 0 or 255
    per value, or all 0), and calls :meth:`_compile_inverse`; it may override ``cipher_shape``. It then has
    exact numpy :meth:`apply` / :meth:`invert` and a torch :meth:`torch_transform`, written once here.
    """

    shape: tuple[int, int, int]
    gather: np.ndarray
    mask: np.ndarray
    inverse: np.ndarray
    inverse_mask: np.ndarray

    @property
    def cipher_shape(self) -> tuple[int, int, int]:
        return self.shape

    @property
    def flips(self) -> bool:
        return bool(self.mask.any())

    def _compile_inverse(self) -> None:
        inverse = np.empty_like(self.gather)
        inverse[self.gather] = np.arange(self.gather.size, dtype=self.gather.dtype)
        freeze(self, inverse=inverse, inverse_mask=self.mask[inverse])

    def apply(self, x: np.ndarray) -> np.ndarray:
        xf, lead, flat = flat_batch(x, self.shape, "images")
        out = gather_xor(xf, self.gather, self.mask if self.flips else None)
        return unflat(out, lead, flat, self.cipher_shape)

    def invert(self, y: np.ndarray) -> np.ndarray:
        yf, lead, flat = flat_batch(y, self.cipher_shape, "cipher images")
        out = gather_xor(yf, self.inverse, self.inverse_mask if self.flips else None)
        return unflat(out, lead, flat and self.shape[2] == 1, self.shape)

    def torch_transform(self, device=None) -> Callable:
        return torch_gather_xor(self.gather, self.mask, self.shape, out_shape=self.cipher_shape, device=device)
