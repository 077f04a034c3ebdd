"""The IEEE Big Data Cup 2022 "privacy preserving matching of encrypted images": build it, and read it.

The challenge (Thing 2022, Sec. III) has three subtasks. Each gives a training set of matching
(original, encoded) pairs and a test set of pairs of which some match and some do not:

1. the original is cropped, padded and scaled onto a 512x512 canvas, cut into 32x32 tiles and every tile
   is scrambled by Arnold's cat map (:mod:`ppstudy.ciphers.catmap`, mode ``"tile"``);
2. the same, with one cat map on the whole 512x512 canvas (mode ``"whole"``);
3. a face crop scaled to 52x52 is encrypted with BFV (:mod:`ppstudy.ciphers.bfv`) into a binary file.

:func:`build` rebuilds the challenge from any source images (one cat-map key per subtask, as a fixed
encoder would; half of the test pairs match, the other half pair an original with the encoding of another
test original). :func:`read_split` reads it back. The on-disk layout (also what a user with the real
challenge data arranges their files into)::

    ROOT/
      challenge.json                   {"format": "ppstudy-bigdatacup-1", "canvas": 512, "tile": 32, ...}
      subtask1/ subtask2/              cat map, per tile / whole image
        train/original/<id>.png        the original (any size: brought onto the canvas when read)
        train/encoded/<id>.png         its encoding, canvas x canvas x 3
        test/original/<id>.png
        test/encoded/<id>.png
        test/labels.csv                optional: "id,label" (1 = match); the organisers' answers
      subtask3/                        BFV
        train/original/<id>.png        52x52x3 face crop
        train/encoded/<id>.bin         one ciphertext (ppstudy file with checksum, or raw SEAL bytes)
        test/...                       as above
      keys/                            the organisers' secrets; the matchers never read this
        subtask1.json subtask2.json    cat-map keys
        subtask3/                      BFV context, public and secret key

Pairs are matched by file stem (``<id>``); every original needs its encoded file. Images are read with
Pillow (PNG, JPEG, ...); grayscale becomes 3 channels. ``challenge.json`` is optional for real data
(defaults: canvas 512, tile 32, face 52). Missing directories, unpaired files, unreadable or corrupt files
and wrong image sizes raise :class:`ppstudy.InputError` naming the file.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ppstudy import InputError
from ppstudy.ciphers import catmap

FORMAT = "ppstudy-bigdatacup-1"
SUBTASKS = (1, 2, 3)
SPLITS = ("train", "test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
DEFAULTS = {"canvas": 512, "tile": 32, "face": 52}


@dataclass
class Split:
    """One split of one subtask, read from disk.

    ``encoded`` is uint8 NxHxWx3 for subtasks 1/2 and a list of ciphertext byte strings for subtask 3
    (``encoded_images`` gives the winner's 52x52x3 byte view of those). ``labels`` is None when the split
    has no answers (training pairs all match: labels are ones).
    """

    subtask: int
    split: str
    ids: list[str]
    originals: np.ndarray
    encoded: Any  # np.ndarray (subtasks 1/2) or list[bytes] (subtask 3)
    labels: np.ndarray | None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def encoded_images(self) -> np.ndarray:
        if self.subtask != 3:
            return np.asarray(self.encoded)
        from ppstudy.ciphers import bfv

        shape = self.originals.shape[1:]
        return (
            np.stack([bfv.ciphertext_image(c, shape) for c in self.encoded])
            if self.encoded
            else np.zeros((0,) + shape, np.uint8)
        )


# ---------------------------------------------------------------------- image IO
def _rgb(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = img[..., :3]
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise InputError(f"expected a uint8 grayscale or RGB image, got {img.dtype} {img.shape}")
    return np.ascontiguousarray(img)


def write_image(path: Path, img: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(_rgb(img)).save(path, compress_level=1)


def read_image(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            arr = np.asarray(im.convert("RGB") if im.mode not in ("RGB", "L") else im)
    except FileNotFoundError:
        raise InputError(f"image file {path} does not exist") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise InputError(f"image file {path} is corrupt or not an image ({e})") from None
    if arr.dtype != np.uint8:
        raise InputError(f"image file {path}: expected 8-bit pixels, got {arr.dtype}")
    return _rgb(arr)


# ---------------------------------------------------------------------- building
def source_crops(images: list[np.ndarray], n: int, *, seed: int = 0, min_frac: float = 0.35) -> list[np.ndarray]:
    """``n`` random rectangular crops (random size, aspect and position) of ``images``, as RGB.

    Used to make many distinct "photographs" out of a few bundled ones for the smoke profile; crops
    of the same photograph overlap, which makes wrong pairs harder to tell apart, not easier.
    """
    if not images:
        raise InputError("source_crops: no source images")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        img = _rgb(images[i % len(images)])
        h, w = img.shape[:2]
        ch = int(rng.integers(max(2, int(min_frac * h)), h + 1))
        cw = int(rng.integers(max(2, int(min_frac * w)), w + 1))
        top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = img[top : top + ch, left : left + cw]
        out.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
    return out


def face_crops(faces: np.ndarray, n: int, size: int = 52, *, seed: int = 0, jitter: float = 0.1) -> np.ndarray:
    """``n`` square face crops scaled to ``size`` x ``size`` x 3: each face once, then jittered re-crops
    (random shift/scale of up to ``jitter`` of the side, random mirror) when ``n`` exceeds the faces."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        f = _rgb(faces[i % len(faces)])
        h, w = f.shape[:2]
        s = min(h, w)
        if i >= len(faces):
            s = max(4, round(s * (1 - jitter * rng.random())))
        top, left = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
        crop = f[top : top + s, left : left + s]
        if i >= len(faces) and rng.random() < 0.5:
            crop = crop[:, ::-1]
        out[i] = catmap.to_canvas(np.ascontiguousarray(crop), size)
    return out


def test_pairing(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(partner, label): half the test originals get their own encoding, the others another one's.

    Non-matching partners are a derangement of the non-matching half, so every encoded image is used once.
    Matches: ``n // 2``, except ``n - 2`` when that would leave a single non-match (``n = 2``: none).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise InputError(f"test_pairing: n must be an integer >= 2, got {n!r}")
    n_pos = n // 2
    if n - n_pos == 1:  # a single non-match cannot be deranged within itself: use two
        n_pos = n - 2
    labels = np.zeros(n, np.int64)
    labels[rng.permutation(n)[:n_pos]] = 1
    partner = np.arange(n)
    neg = np.flatnonzero(labels == 0)
    if len(neg):
        shift = rng.permutation(len(neg))
        # a random cyclic derangement: partner[neg[shift[i]]] = neg[shift[i+1]]
        partner[neg[shift]] = neg[np.roll(shift, -1)]
    return partner, labels


def _write_split(d: Path, originals, encoded, labels, *, binary: bool) -> list[str]:
    from ppstudy.ciphers import bfv

    (d / "original").mkdir(parents=True, exist_ok=True)
    (d / "encoded").mkdir(parents=True, exist_ok=True)
    ids = [f"{i:06d}" for i in range(len(originals))]
    for i, o, e in zip(ids, originals, encoded):
        write_image(d / "original" / f"{i}.png", o)
        if binary:
            bfv.write_ciphertext(d / "encoded" / f"{i}.bin", e)
        else:
            write_image(d / "encoded" / f"{i}.png", e)
    if labels is not None:
        with open(d / "labels.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "label"])
            w.writerows(zip(ids, (int(v) for v in labels)))
    return ids


def build(
    root: str | Path,
    *,
    sources: list[np.ndarray] | None = None,
    faces: np.ndarray | None = None,
    n_train: int = 10000,
    n_test: int = 10000,
    canvas: int = 512,
    tile: int = 32,
    face: int = 52,
    subtasks=SUBTASKS,
    seed: int = 0,
    bfv_key=None,
) -> dict:
    """Build the challenge under ``root`` in the documented layout; return the keys used.

    ``sources`` (any sizes, at least ``n_train + n_test`` of them) feed subtasks 1 and 2; ``faces``
    (``n_train + n_test`` square face crops of any size) feed subtask 3. Training and test originals are
    disjoint. Cat-map keys are derived from ``seed``; the BFV key is fresh unless ``bfv_key`` is given.
    """
    from ppstudy.ciphers import bfv

    root = Path(root)
    subtasks = tuple(int(s) for s in subtasks)
    if not set(subtasks) <= set(SUBTASKS):
        raise InputError(f"subtasks must be among {SUBTASKS}, got {subtasks}")
    for name, v in (("n_train", n_train), ("n_test", n_test)):
        if not isinstance(v, (int, np.integer)) or v < 2:
            raise InputError(f"{name} must be an integer >= 2, got {v!r}")
    need = n_train + n_test
    ss = np.random.SeedSequence(seed)
    _, s_keys, s_pair = ss.spawn(3)  # child 0 is unused; kept so that keys and pairings stay as they were
    keys: dict = {}
    (root / "keys").mkdir(parents=True, exist_ok=True)
    meta = {
        "format": FORMAT,
        "canvas": canvas,
        "tile": tile,
        "face": face,
        "n_train": n_train,
        "n_test": n_test,
        "subtasks": list(subtasks),
        "seed": seed,
    }
    if {1, 2} & set(subtasks):
        if sources is None or len(sources) < need:
            raise InputError(f"subtasks 1/2 need {need} source images, got {0 if sources is None else len(sources)}")
        canv = np.stack([catmap.to_canvas(_rgb(s), canvas) for s in sources[:need]])
    key_seeds = s_keys.spawn(2)
    pair_rngs = [np.random.default_rng(s) for s in s_pair.spawn(3)]
    for st in subtasks:
        d = root / f"subtask{st}"
        key: Any
        enc: Any
        if st in (1, 2):
            key = catmap.keygen(
                (canvas, canvas), mode="tile" if st == 1 else "whole", tile=tile, seed=key_seeds[st - 1]
            )
            (root / "keys" / f"subtask{st}.json").write_text(json.dumps(key.to_dict()) + "\n")
            orig = canv
            enc = catmap.encrypt(orig, key)
            binary = False
        else:
            if faces is None or len(faces) < need:
                raise InputError(f"subtask 3 needs {need} face crops, got {0 if faces is None else len(faces)}")
            orig = np.stack([catmap.to_canvas(_rgb(f), face) for f in faces[:need]])
            key = bfv_key if bfv_key is not None else bfv.keygen((face, face, 3))
            key.save(root / "keys" / "subtask3")
            enc = bfv.encrypt(orig, key)
            binary = True
        keys[st] = key
        _write_split(d / "train", orig[:n_train], enc[:n_train], None, binary=binary)
        partner, labels = test_pairing(n_test, pair_rngs[st - 1])
        test_enc = [enc[n_train + j] for j in partner] if binary else enc[n_train:][partner]
        _write_split(d / "test", orig[n_train:], test_enc, labels, binary=binary)
    (root / "challenge.json").write_text(json.dumps(meta, indent=2) + "\n")
    return keys


# ---------------------------------------------------------------------- reading
def read_meta(root: str | Path) -> dict:
    """``challenge.json`` merged over the defaults (canvas 512, tile 32, face 52), checked: a JSON object whose
    ``canvas``, ``tile`` and ``face`` are positive integers with ``tile`` dividing ``canvas``."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"challenge directory {root} does not exist")
    p = root / "challenge.json"
    meta = dict(DEFAULTS)
    if p.is_file():
        try:
            loaded = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"{p} is corrupt ({e})") from None
        if not isinstance(loaded, dict):
            raise InputError(
                f"{p}: expected a JSON object with 'canvas', 'tile', 'face', got a {type(loaded).__name__}"
            )
        meta.update(loaded)
    for k in DEFAULTS:
        v = meta[k]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(f"{p}: '{k}' must be a positive integer, got {v!r}")
    if meta["tile"] > meta["canvas"] or meta["canvas"] % meta["tile"]:
        raise InputError(f"{p}: 'tile' {meta['tile']} must divide 'canvas' {meta['canvas']}")
    return meta


def _stems(d: Path, suffixes) -> dict[str, Path]:
    if not d.is_dir():
        raise InputError(f"missing directory {d} (see ppstudy.data.challenge for the expected layout)")
    out: dict[str, Path] = {}
    for p in sorted(d.iterdir()):
        if p.is_file() and p.suffix.lower() in suffixes:
            if p.stem in out:
                raise InputError(f"{d}: two files for id {p.stem!r} ({out[p.stem].name}, {p.name})")
            out[p.stem] = p
    return out


def _read_labels(path: Path, ids: list[str]) -> np.ndarray:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except UnicodeDecodeError as e:
        raise InputError(f"{path} is not UTF-8 text ({e})") from None
    except (OSError, csv.Error) as e:
        raise InputError(f"cannot read {path} ({e})") from None
    if not rows or [c.strip().lower() for c in rows[0]] != ["id", "label"]:
        raise InputError(f"{path}: expected a header 'id,label'")
    lab: dict[str, int] = {}
    for k, r in enumerate(rows[1:], start=2):
        if len(r) != 2 or r[1].strip() not in ("0", "1"):
            raise InputError(f"{path}, line {k}: expected 'id,0' or 'id,1', got {r}")
        i, v = r[0].strip(), int(r[1])
        if lab.get(i, v) != v:
            raise InputError(f"{path}, line {k}: id {i!r} is labelled both {lab[i]} and {v}")
        lab[i] = v
    missing = [i for i in ids if i not in lab]
    if missing:
        raise InputError(f"{path}: no label for {len(missing)} ids (e.g. {missing[0]})")
    return np.array([lab[i] for i in ids], np.int64)


def read_split(root: str | Path, subtask: int, split: str, *, limit: int | None = None) -> Split:
    """Read one split of one subtask from the documented layout (see the module docstring).

    Originals whose size differs from the encoded images' (subtasks 1/2: the canvas; subtask 3: the face
    size) are brought onto that size with :func:`ppstudy.ciphers.catmap.to_canvas` (pad to square, scale).
    ``limit`` (None or an integer >= 1) reads only the first ``limit`` ids (sorted).
    """
    from ppstudy.ciphers import bfv

    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1):
        raise InputError(f"limit must be None or an integer >= 1, got {limit!r}")
    if subtask not in SUBTASKS:
        raise InputError(f"subtask must be one of {SUBTASKS}, got {subtask!r}")
    if split not in SPLITS:
        raise InputError(f"split must be one of {SPLITS}, got {split!r}")
    meta = read_meta(root)
    d = Path(root) / f"subtask{subtask}" / split
    if not d.is_dir():
        raise InputError(f"missing directory {d} (see ppstudy.data.challenge for the expected layout)")
    orig = _stems(d / "original", IMAGE_SUFFIXES)
    enc = _stems(d / "encoded", (".bin",) if subtask == 3 else IMAGE_SUFFIXES)
    if set(orig) != set(enc):
        only_o, only_e = sorted(set(orig) - set(enc)), sorted(set(enc) - set(orig))
        raise InputError(
            f"{d}: originals and encoded files do not pair up by id "
            f"({len(only_o)} originals without encoding, e.g. {only_o[:1]}; "
            f"{len(only_e)} encoded without original, e.g. {only_e[:1]})"
        )
    ids = sorted(orig)[:limit] if limit is not None else sorted(orig)
    if not ids:
        raise InputError(f"{d}: no pairs found")
    side = int(meta["face"] if subtask == 3 else meta["canvas"])
    originals = np.empty((len(ids), side, side, 3), np.uint8)
    for k, i in enumerate(ids):
        img = read_image(orig[i])
        originals[k] = img if img.shape[:2] == (side, side) else catmap.to_canvas(img, side)
    if subtask == 3:
        cts = [bfv.read_ciphertext(enc[i]) for i in ids]
        need = bfv.SEAL_HEADER + side * side * 3
        for i, c in zip(ids, cts):
            if len(c) < need:
                raise InputError(f"{enc[i]}: ciphertext of {len(c)} bytes is too short for a {side}x{side}x3 image")
    else:
        encoded = np.empty((len(ids), side, side, 3), np.uint8)
        for k, i in enumerate(ids):
            img = read_image(enc[i])
            if img.shape[:2] != (side, side):
                raise InputError(
                    f"{enc[i]}: encoded image is {img.shape[1]}x{img.shape[0]}, expected the "
                    f"{side}x{side} canvas (challenge.json 'canvas')"
                )
            encoded[k] = img
    labels = _read_labels(d / "labels.csv", ids) if (d / "labels.csv").is_file() else None
    return Split(subtask, split, ids, originals, cts if subtask == 3 else encoded, labels)


def load_cat_key(root: str | Path, subtask: int) -> catmap.CatMapKey:
    """The organisers' cat-map key of a built challenge (for checking attacks; matchers never use it)."""
    p = Path(root) / "keys" / f"subtask{subtask}.json"
    if not p.exists():
        raise InputError(f"no cat-map key at {p}")
    return catmap.load_key(p)  # bad UTF-8, Infinity, fractional fields: one InputError


# ---------------------------------------------------------------------- the winner's training pairs
def other_encodings(n: int, *, seed: int = 0) -> np.ndarray:
    """For each of ``n`` originals, the index of a random encoded image other than its own (uniform over
    the other ``n - 1``): the winner's non-matching pairs."""
    return (np.arange(n) + np.random.default_rng(seed).integers(1, n, size=n)) % n


def training_pairs(originals: np.ndarray, encoded: np.ndarray, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The winner's training data: every matching pair plus one non-matching pair per original made by
    "randomly choosing an encoded image for each original" (uniform over the other encodings, never its own).

    Returns (6-channel uint8 pairs N x H x W x 6, labels 0/1) with the matching pairs first.
    """
    if originals.shape[0] != encoded.shape[0] or originals.shape[:3] != encoded.shape[:3]:
        raise InputError(f"originals {originals.shape} and encoded {encoded.shape} do not pair up")
    n = len(originals)
    if n < 2:
        raise InputError("need at least two pairs to make non-matching ones")
    other = other_encodings(n, seed=seed)
    pos = np.concatenate([originals, encoded], axis=3)
    neg = np.concatenate([originals, encoded[other]], axis=3)
    return np.concatenate([pos, neg]), np.concatenate([np.ones(n, np.int64), np.zeros(n, np.int64)])


def split_80_20(n: int, *, seed: int = 0, frac: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Random train/validation index split (the paper's 80:20)."""
    perm = np.random.default_rng(seed).permutation(n)
    k = round(frac * n)
    return perm[:k], perm[k:]
