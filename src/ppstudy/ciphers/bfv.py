"""BFV homomorphic encryption of face crops (Pyfhel / Microsoft SEAL): subtask 3 of the IEEE Big Data Cup 2022.

The challenge cropped each face, scaled it to 52x52 pixels and encrypted it with the
Brakerski/Fan-Vercauteren scheme into a binary file. 52 x 52 x 3 = 8112 values fit in the 8192
batching slots of one ciphertext with polynomial degree ``n = 8192``, so one image is one ciphertext:
``encrypt`` packs the pixels (row-major, channels last) into the slots and encrypts them with the
public key. The plaintext modulus ``t`` (a 20-bit prime with ``t = 1 mod 2n`` for batching) exceeds 255,
so :func:`decrypt` with the secret key returns the pixels exactly.

Files: :func:`write_ciphertext` stores one ciphertext per file as ``MAGIC | sha256(payload) | payload``,
``payload`` being SEAL's own serialisation (what the challenge's ``.bin`` files held). The checksum makes
a corrupt or truncated file fail with :class:`ppstudy.InputError` instead of decrypting to garbage.
:func:`ciphertext_image` is the winner's conversion of a ciphertext file into a 3-channel 52x52 "image"
(the first 8112 payload bytes after SEAL's 16-byte header) for a CNN.

BFV is IND-CPA secure under the RLWE assumption: ciphertexts of any two images are computationally
indistinguishable without the secret key, which is why learned matchers sit at chance on subtask 3.
Key generation and encryption draw from SEAL's own CSPRNG; they cannot be seeded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ppstudy import InputError
from ppstudy.images import as_image_batch

MAGIC = b"PPBFV\x01"
SEAL_HEADER = 16  # bytes of SEAL's serialisation header before the ciphertext data
DEFAULT_SHAPE = (52, 52, 3)


def _pyfhel():
    try:
        from Pyfhel import Pyfhel, PyCtxt
    except ImportError as e:  # pragma: no cover - exercised only without Pyfhel
        raise InputError(f"BFV needs Pyfhel, which is not importable here ({e}); install it (pip install Pyfhel)"
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
            raise InputError(f"BFV: images of shape {self.shape} have {int(np.prod(self.shape))} values, "
                             f"more than the {self.n} slots of one ciphertext")
        if self._he is None:
            Pyfhel, _ = _pyfhel()
            he = Pyfhel()
            try:
                he.from_bytes_context(self.context)
                he.from_bytes_public_key(self.public_key)
                if self.secret_key is not None:
                    he.from_bytes_secret_key(self.secret_key)
            except Exception as e:  # noqa: BLE001 - SEAL raises RuntimeError/ValueError for bad bytes
                raise InputError(f"BFV key: corrupt key material ({e})") from None
            object.__setattr__(self, "_he", he)

    @property
    def he(self):
        return self._he

    def public(self) -> "BFVKey":
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
    def load(cls, directory: str | Path) -> "BFVKey":
        d = Path(directory)
        try:
            ctx = (d / "context.bin").read_bytes()
            pk = (d / "public.key").read_bytes()
            shape = tuple(int(v) for v in (d / "shape.txt").read_text().split())
        except FileNotFoundError as e:
            raise InputError(f"BFV key directory {d}: missing {Path(e.filename).name}") from None
        except ValueError:
            raise InputError(f"BFV key directory {d}: shape.txt is corrupt") from None
        if len(shape) != 3:
            raise InputError(f"BFV key directory {d}: shape.txt must hold H W C, got {shape}")
        sk = (d / "secret.key").read_bytes() if (d / "secret.key").is_file() else None
        Pyfhel, _ = _pyfhel()
        he = Pyfhel()
        try:
            he.from_bytes_context(ctx)
        except Exception as e:  # noqa: BLE001
            raise InputError(f"BFV key directory {d}: context.bin is corrupt ({e})") from None
        return cls(shape, int(he.n), int(he.t), ctx, pk, sk)


def keygen(shape=DEFAULT_SHAPE, *, n: int = 8192, t_bits: int = 20, sec: int = 128, seed=None) -> BFVKey:
    """A fresh BFV key set (SEAL's CSPRNG) for uint8 images of ``shape`` (H, W, C), one ciphertext each."""
    if seed is not None:
        raise InputError("BFV keys come from SEAL's internal CSPRNG and cannot be seeded; pass seed=None")
    shape = tuple(int(v) for v in shape)
    if len(shape) == 2:
        shape = shape + (1,)
    if len(shape) != 3 or min(shape) < 1:
        raise InputError(f"BFV: shape must be (H, W) or (H, W, C), got {shape}")
    if int(np.prod(shape)) > n:
        raise InputError(f"BFV: {int(np.prod(shape))} values per image exceed the {n} slots (raise n)")
    Pyfhel, _ = _pyfhel()
    he = Pyfhel()
    he.contextGen(scheme="bfv", n=n, t_bits=t_bits, sec=sec)
    he.keyGen()
    return BFVKey(shape, int(he.n), int(he.t), he.to_bytes_context(), he.to_bytes_public_key(),
                  he.to_bytes_secret_key(), he)


def key_space(n: int = 8192) -> dict:
    """The secret key is a ternary polynomial of degree < n: up to 3^n keys (log2 given in ``bits``)."""
    return {"n": n, "bits": float(n * np.log2(3))}


def encrypt(x: np.ndarray, key: BFVKey) -> list[bytes]:
    """Encrypt each uint8 image (HxWxC or NxHxWxC, matching ``key.shape``) into one serialised ciphertext."""
    if not isinstance(key, BFVKey):
        raise InputError(f"BFV: expected a BFVKey, got {type(key).__name__}")
    batch, _ = as_image_batch(x, name="images")
    if tuple(batch.shape[1:]) != tuple(key.shape):
        raise InputError(f"images: shape {tuple(batch.shape[1:])} does not match the BFV key's image shape "
                         f"{key.shape} (crop and scale faces to {key.shape[0]}x{key.shape[1]} first)")
    flat = batch.reshape(len(batch), -1).astype(np.int64)
    he = key.he
    return [he.encryptInt(row).to_bytes() for row in flat]  # one ciphertext per image (SEAL encrypts one at a time)


def _load_ctxt(data: bytes, key: BFVKey, name: str):
    _, PyCtxt = _pyfhel()
    if not isinstance(data, (bytes, bytearray)):
        raise InputError(f"{name}: expected bytes, got {type(data).__name__}")
    try:
        return PyCtxt(pyfhel=key.he, bytestring=bytes(data))
    except Exception as e:  # noqa: BLE001 - SEAL: RuntimeError ("invalid data size", "I/O error ...")
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
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"ciphertext file {path} does not exist") from None
    if raw.startswith(MAGIC):
        head = len(MAGIC) + 32
        if len(raw) < head + SEAL_HEADER:
            raise InputError(f"ciphertext file {path} is truncated ({len(raw)} bytes)")
        digest, payload = raw[len(MAGIC):head], raw[head:]
        if hashlib.sha256(payload).digest() != digest:
            raise InputError(f"ciphertext file {path} is corrupt (checksum mismatch)")
        return payload
    if len(raw) < SEAL_HEADER or raw[:2] != b"^\xa1":  # SEAL's serialisation magic 0xA15E
        raise InputError(f"ciphertext file {path} is neither a ppstudy nor a SEAL ciphertext file")
    return raw


def ciphertext_image(payload: bytes, shape=DEFAULT_SHAPE) -> np.ndarray:
    """The winner's view of a ciphertext as an image: the first H*W*C bytes after SEAL's header."""
    need = int(np.prod(shape))
    if len(payload) < SEAL_HEADER + need:
        raise InputError(f"ciphertext of {len(payload)} bytes is too short for a {shape} image view")
    return np.frombuffer(payload, np.uint8, count=need, offset=SEAL_HEADER).reshape(shape).copy()
