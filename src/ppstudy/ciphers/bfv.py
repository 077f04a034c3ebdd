"""BFV homomorphic encryption of face crops (Pyfhel / Microsoft SEAL): subtask 3 of the IEEE Big Data Cup 2022.

The challenge cropped each face, scaled it to 52x52 pixels and encrypted it with the
Brakerski/Fan-Vercauteren scheme into a binary file. 52 x 52 x 3 = 8112 values fit in the 8192
batching slots of one ciphertext with polynomial degree ``n = 8192``, so one image is one ciphertext:
``encrypt`` packs the pixels (row-major, channels last) into the slots and encrypts them with the
public key. The plaintext modulus ``t`` (a 20-bit prime with ``t = 1 mod 2n`` for batching) exceeds 255,
so :func:`decrypt` with the secret key returns the pixels exactly.

Ours, not the paper's: the paper (and the challenge page it cites) says only "BFV" and "binary files". The
parameters here -- ``n = 8192``, a 20-bit ``t``, SEAL's 128-bit default coefficient modulus, batching one
image per ciphertext in row-major HWC order -- are our choices, as are the file layout and
:func:`ciphertext_image`.

Files: :func:`write_ciphertext` stores one ciphertext per file as ``MAGIC | sha256(payload) | payload``,
``payload`` being SEAL's own serialisation (what the challenge's ``.bin`` files held). The checksum makes
a corrupt or truncated file fail with :class:`ppstudy.InputError` instead of decrypting to garbage.
:func:`ciphertext_image` is our reading of the winner's "convert the binary encoded file into a
three-channel image" (the paper does not say how): the first 8112 payload bytes after SEAL's 16-byte
header, as a 52x52x3 uint8 array for a CNN.

BFV is IND-CPA secure under the RLWE assumption: ciphertexts of any two images are computationally
indistinguishable without the secret key, which is why learned matchers sit at chance on subtask 3.

Randomness: key generation and encryption draw from SEAL's CSPRNG and cannot be seeded from Python.
SEAL itself can be seeded (``EncryptionParameters::set_random_generator`` with a ``Blake2xbPRNGFactory`` or
``Shake256PRNGFactory`` built from a ``prng_seed_type``), but Pyfhel 3.5 exposes no such call: its
``contextGen`` takes no generator or seed and its C++ layer (``Afseal::ContextGen``/``KeyGen``) builds the
context with SEAL's default factory, which seeds every generator from ``std::random_device``. Results that
depend on ciphertext bytes therefore vary between runs; :func:`ppstudy.studies.cup.bfv_repetitions` reports
them over repetitions. A missing Pyfhel raises :class:`MissingDependencyError`, not ``InputError``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ppstudy import DependencyError, InputError, validate
from ppstudy.ciphers.base import KeySpace, check_exact, flat_batch

MAGIC = b"PPBFV\x01"
SEAL_HEADER = 16  # bytes of SEAL's serialisation header before the ciphertext data
DEFAULT_SHAPE = (52, 52, 3)
#: polynomial degrees SEAL accepts for BFV (powers of two); security levels; plaintext-modulus bits
POLY_DEGREES = (1024, 2048, 4096, 8192, 16384, 32768)
SECURITY_LEVELS = (128, 192, 256)
T_BITS_RANGE = (14, 60)
#: the largest file :func:`read_ciphertext` reads (a ciphertext of n = 32768 is ~16 MiB)
MAX_CIPHERTEXT_BYTES = 64 << 20


#: what installs the BFV backend (the project's ``fhe`` extra pins the same package)
PIP_INSTALL = "pip install Pyfhel"


class MissingDependencyError(DependencyError):
    """Pyfhel, the BFV backend, is not installed: an environment problem, not bad input. The message
    names the pip command that installs it."""


def _pyfhel():
    try:
        from Pyfhel import PyCtxt, Pyfhel
    except ImportError as e:
        raise MissingDependencyError(
            f"BFV needs Pyfhel, which is not importable here ({e}); install it with "
            f"`{PIP_INSTALL}` (or `pip install 'ppstudy[fhe]'`)"
        ) from None
    return Pyfhel, PyCtxt


@dataclass(frozen=True)
class BFVKey:
    """A BFV key set for images of ``shape``: context, public key and (for the owner) the secret key.

    The byte strings are SEAL's serialisations; ``secret_key`` is None for an encrypt-only key.
    """

    shape: tuple[int, int, int]
    n: int
    t: int
    context: bytes = field(repr=False)
    public_key: bytes = field(repr=False)
    secret_key: bytes | None = field(default=None, repr=False)
    _he: object = field(default=None, repr=False, compare=False, hash=False)

    def __post_init__(self):
        if int(np.prod(self.shape)) > self.n:
            raise InputError(
                f"BFV: images of shape {self.shape} have {int(np.prod(self.shape))} values, "
                f"more than the {self.n} slots of one ciphertext"
            )
        if self._he is None:
            Pyfhel, _ = _pyfhel()
            he = Pyfhel()
            try:
                he.from_bytes_context(self.context)
                he.from_bytes_public_key(self.public_key)
                if self.secret_key is not None:
                    he.from_bytes_secret_key(self.secret_key)
            except Exception as e:
                raise InputError(f"BFV key: corrupt key material ({e})") from None
            object.__setattr__(self, "_he", he)

    @property
    def he(self):
        return self._he

    def public(self) -> BFVKey:
        """The same key without the secret key (what an encrypting camera holds)."""
        return BFVKey(self.shape, self.n, self.t, self.context, self.public_key, None)

    def save(self, directory: str | Path, *, include_secret: bool = True) -> Path:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        (d / "context.bin").write_bytes(self.context)
        (d / "public.key").write_bytes(self.public_key)
        (d / "shape.txt").write_text(" ".join(map(str, self.shape)) + "\n")
        if include_secret and self.secret_key is not None:
            (d / "secret.key").write_bytes(self.secret_key)
        return d

    @classmethod
    def load(cls, directory: str | Path) -> BFVKey:
        d = validate.dir_path("BFV key directory", directory)
        for name in ("context.bin", "public.key", "shape.txt"):
            if not (d / name).is_file():
                raise InputError(
                    f"BFV key directory {d}: missing {name}" + (" (a directory)" if (d / name).is_dir() else "")
                )
        try:
            ctx = (d / "context.bin").read_bytes()
            pk = (d / "public.key").read_bytes()
            shape = tuple(int(v) for v in (d / "shape.txt").read_bytes()[:1000].decode("ascii").split())
        except (ValueError, UnicodeDecodeError):
            raise InputError(f"BFV key directory {d}: shape.txt is corrupt") from None
        except OSError as e:
            raise InputError(f"BFV key directory {d}: cannot read the key files ({e})") from None
        if len(shape) != 3 or min(shape) < 1:
            raise InputError(f"BFV key directory {d}: shape.txt must hold H W C, got {shape}")
        try:
            sk = (d / "secret.key").read_bytes() if (d / "secret.key").is_file() else None
        except OSError as e:
            raise InputError(f"BFV key directory {d}: cannot read secret.key ({e})") from None
        Pyfhel, _ = _pyfhel()
        he = Pyfhel()
        try:
            he.from_bytes_context(ctx)
        except Exception as e:
            raise InputError(f"BFV key directory {d}: context.bin is corrupt ({e})") from None
        return cls(shape, int(he.n), int(he.t), ctx, pk, sk)


def keygen(shape=DEFAULT_SHAPE, *, n: int = 8192, t_bits: int = 20, sec: int = 128, seed=None) -> BFVKey:
    """A fresh BFV key set (SEAL's CSPRNG) for uint8 images of ``shape`` (H, W, C), one ciphertext each.

    ``n``, ``t_bits`` and ``sec`` default to our choices (the paper gives no parameters). ``seed`` must be
    None: Pyfhel cannot seed SEAL (see the module docstring).
    """
    if seed is not None:
        raise InputError("BFV keys come from SEAL's internal CSPRNG, which Pyfhel cannot seed; pass seed=None")
    shape = _shape(shape)
    n = validate.choice("BFV: n (polynomial degree)", n if not isinstance(n, np.integer) else int(n), POLY_DEGREES)
    t_bits = validate.integer("BFV: t_bits", t_bits, low=T_BITS_RANGE[0], high=T_BITS_RANGE[1])
    sec = validate.choice("BFV: sec", sec if not isinstance(sec, np.integer) else int(sec), SECURITY_LEVELS)
    if int(np.prod(shape)) > n:
        raise InputError(f"BFV: {int(np.prod(shape))} values per image exceed the {n} slots (raise n)")
    Pyfhel, _ = _pyfhel()
    he = Pyfhel()
    try:
        he.contextGen(scheme="bfv", n=n, t_bits=t_bits, sec=sec)
    except (AssertionError, ValueError, RuntimeError) as e:  # Pyfhel asserts on parameters SEAL refuses
        raise InputError(f"BFV: SEAL refuses n={n}, t_bits={t_bits}, sec={sec} ({e or type(e).__name__})") from None
    he.keyGen()
    return BFVKey(
        shape, int(he.n), int(he.t), he.to_bytes_context(), he.to_bytes_public_key(), he.to_bytes_secret_key(), he
    )


def _shape(shape) -> tuple[int, int, int]:
    t = validate.shape("BFV: shape (H, W) or (H, W, C)", shape, ndim=(2, 3))
    if len(t) == 2:
        t = t + (1,)
    return t[0], t[1], t[2]


def key_space(shape=DEFAULT_SHAPE, *, n: int = 8192, exact: bool = False) -> KeySpace:
    """The secret keys SEAL's keygen samples from: ternary polynomials of degree < n, ``3^n`` of them
    (``n * log2(3)`` bits; the exact integer when ``exact``). ``shape`` must fit the ``n`` slots."""
    shape = _shape(shape)
    n = validate.positive_int("BFV key space: n (a positive integer)", n)
    if int(np.prod(shape)) > n:
        raise InputError(f"BFV: {int(np.prod(shape))} values per image exceed the {n} slots")
    what = f"secret keys: ternary polynomials of degree < {n} (SEAL's keygen)"
    if check_exact(exact, n * math.log2(3)):
        return KeySpace.of(3 ** int(n), counts=what)
    return KeySpace(float(n * np.log2(3)), None, False, what)


def encrypt(x: np.ndarray, key: BFVKey) -> list[bytes]:
    """Encrypt each uint8 image (HxWxC or NxHxWxC matching ``key.shape``; HxW or NxHxW for a one-channel key)
    into one serialised ciphertext.

    An empty batch (N = 0) gives an empty list.
    """
    if not isinstance(key, BFVKey):
        raise InputError(f"BFV: expected a BFVKey, got {type(key).__name__}")
    try:
        h, w, c = key.shape
        flat, _, _ = flat_batch(x, (h, w, c), "images")
    except InputError as e:
        raise InputError(f"{e} (crop and scale faces to {key.shape[0]}x{key.shape[1]} first)") from None
    flat = flat.astype(np.int64)
    he = key.he
    return [he.encryptInt(row).to_bytes() for row in flat]  # one ciphertext per image (SEAL encrypts one at a time)


def _load_ctxt(data: bytes, key: BFVKey, name: str):
    _, PyCtxt = _pyfhel()
    if not isinstance(data, (bytes, bytearray)):
        raise InputError(f"{name}: expected bytes, got {type(data).__name__}")
    try:
        return PyCtxt(pyfhel=key.he, bytestring=bytes(data))
    except Exception as e:
        raise InputError(f"{name}: not a valid BFV ciphertext for this key ({e})") from None


def decrypt(ciphertexts, key: BFVKey) -> np.ndarray:
    """Decrypt serialised ciphertexts with the secret key back to uint8 NxHxWxC images (exact)."""
    if not isinstance(key, BFVKey):
        raise InputError(f"BFV: expected a BFVKey, got {type(key).__name__}")
    if key.secret_key is None:
        raise InputError("BFV: this key has no secret key; decryption needs the owner's key")
    if isinstance(ciphertexts, (bytes, bytearray)):
        ciphertexts = [ciphertexts]
    size = int(np.prod(key.shape))
    out = np.empty((len(ciphertexts), size), np.uint8)
    for i, ct in enumerate(ciphertexts):
        vals = key.he.decryptInt(_load_ctxt(ct, key, f"ciphertext {i}"))[:size]
        if vals.min() < 0 or vals.max() > 255:
            raise InputError(f"ciphertext {i}: decrypts to values outside 0..255 (wrong key or not an image)")
        out[i] = vals
    return out.reshape((len(ciphertexts),) + tuple(key.shape))


# ---------------------------------------------------------------------- files
def write_ciphertext(path: str | Path, payload: bytes) -> Path:
    """Write one ciphertext file: ``MAGIC | sha256(payload) | payload``."""
    path = Path(path)
    path.write_bytes(MAGIC + hashlib.sha256(payload).digest() + payload)
    return path


def read_ciphertext(path: str | Path) -> bytes:
    """Read a ciphertext file written by :func:`write_ciphertext`; verify magic and checksum.

    A raw SEAL ciphertext (no ppstudy header, as a user's own challenge files may be) is returned as is;
    it is validated when loaded for decryption.
    """
    path = validate.file_path("ciphertext file", path)
    if path.stat().st_size > MAX_CIPHERTEXT_BYTES:
        raise InputError(f"ciphertext file {path} is larger than the cap MAX_CIPHERTEXT_BYTES = {MAX_CIPHERTEXT_BYTES}")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"ciphertext file {path} cannot be read ({e})") from None
    if raw.startswith(MAGIC):
        head = len(MAGIC) + 32
        if len(raw) < head + SEAL_HEADER:
            raise InputError(f"ciphertext file {path} is truncated ({len(raw)} bytes)")
        digest, payload = raw[len(MAGIC) : head], raw[head:]
        if hashlib.sha256(payload).digest() != digest:
            raise InputError(f"ciphertext file {path} is corrupt (checksum mismatch)")
        return payload
    if len(raw) < SEAL_HEADER or raw[:2] != b"^\xa1":  # SEAL's serialisation magic 0xA15E
        raise InputError(f"ciphertext file {path} is neither a ppstudy nor a SEAL ciphertext file")
    return raw


def ciphertext_image(payload: bytes, shape=DEFAULT_SHAPE) -> np.ndarray:
    """A ciphertext as an image, our reading of the paper's "convert the binary encoded file into a
    three-channel image" (it does not say how): the first H*W*C payload bytes after SEAL's header."""
    shape = validate.shape("ciphertext image shape", shape, ndim=(2, 3))
    need = int(np.prod(shape))
    if not isinstance(payload, (bytes, bytearray)):
        raise InputError(f"ciphertext payload: expected bytes, got {type(payload).__name__}")
    if len(payload) < SEAL_HEADER + need:
        raise InputError(f"ciphertext of {len(payload)} bytes is too short for a {shape} image view")
    return np.frombuffer(payload, np.uint8, count=need, offset=SEAL_HEADER).reshape(shape).copy()
