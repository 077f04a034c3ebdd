"""Extended Yale Face Database B, cropped (Georghiades, Belhumeur, Kriegman; Lee, Ho, Kriegman), and the
synthetic stand-in of the ``smoke`` profile.

The real data: ``CroppedYale.zip`` holds ``CroppedYale/yaleBNN/yaleBNN_P00A+AAAE+EE.pgm``: 38 persons
(``yaleB01`` .. ``yaleB39``, there is no ``yaleB14``), 64 frontal images each under one of 64 light
directions (azimuth ``A``, elevation ``E``), 192x168 8-bit PGM, plus one ``*_Ambient.pgm`` per person
(not used). A few images are stored as ``*.pgm.bad`` (flagged as corrupted at capture); they are kept by
default so that every person has 64 images, 2,432 in all, as Kawamura et al. use. The width is cropped
to 160 (4 columns off each side) so that 192x160 divides into 8x8 blocks.

Checksum: the archive's sha256 is not published by its authors (and re-zipped copies differ byte for byte),
so the registry entry carries ``sha256=None`` and ``fetch`` checks only that the file exists;
:func:`load_cropped` checks its structure (every PGM readable, 192x168, 38 persons) and records the sha256
of the archive it actually read in the returned :class:`~ppstudy.data.source.DataSource`, which a chapter
puts into its manifest.

The smoke stand-in, :func:`synthetic_faces`, renders the 100 bundled face crops of scikit-image's LFW
subset as identities under Yale-B-like lighting: a directional light on a curved (ellipsoidal) face
surface with attached shadows, exposure and gamma changes and small shifts. It is labelled synthetic
wherever it is used.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np

from ppstudy import InputError
from ppstudy.data.registry import DatasetSpec, fetch, register, sha256_file
from ppstudy.data.source import DataFile, DataSource

URL = "http://vision.ucsd.edu/extyaleb/CroppedYaleBZip/CroppedYale.zip"
#: sha256 of CroppedYale.zip; unknown here (see the module docstring) — fill it to make fetch verify it
SHA256: str | None = None

CROPPED = register(
    DatasetSpec(
        name="yaleb_cropped",
        url=URL,
        sha256=SHA256,
        filename="CroppedYale.zip",
        description="Extended Yale Face Database B, cropped faces (38 persons x 64 lights, 192x168 PGM)",
    )
)

HEIGHT, WIDTH_RAW, WIDTH = 192, 168, 160
_NAME = re.compile(r"(?:^|/)(yaleB\d\d)_P00A([+-]\d{3})E([+-]\d{2})\.pgm(\.bad)?$")


#: a cropped Yale B PGM is 192 x 168 bytes plus a short header; anything far larger is not one
MAX_MEMBER_BYTES = 1 << 20


def _read_pgm(data: bytes, name: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.size != (WIDTH_RAW, HEIGHT):  # checked before decoding: no decompression bomb
                raise InputError(
                    f"CroppedYale: {name} is {im.size[1]}x{im.size[0]} pixels (height x width), "
                    f"expected {HEIGHT}x{WIDTH_RAW}"
                )
            a = np.asarray(im)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise InputError(f"CroppedYale: {name} is not a readable PGM image ({e})") from None
    if a.dtype != np.uint8 or a.shape != (HEIGHT, WIDTH_RAW):
        raise InputError(
            f"CroppedYale: {name} has shape {a.shape} and dtype {a.dtype}, expected {HEIGHT}x{WIDTH_RAW} uint8"
        )
    return a


def load_cropped(
    path: str | Path | None = None, *, width: int = WIDTH, include_bad: bool = True, expect_persons: int | None = 38
) -> dict:
    """Read the cropped Extended Yale B archive (fetched through the registry when ``path`` is None).

    Returns ``{"images": uint8 (N, 192, width), "labels": int64 person index 0..P-1, "persons": names,
    "azimuth": int, "elevation": int, "files": names}``, sorted by person and file name. The 168-pixel
    width is centre-cropped to ``width`` (even margin on both sides).
    """
    if not 1 <= width <= WIDTH_RAW or (WIDTH_RAW - width) % 2:
        raise InputError(f"width must be between 1 and {WIDTH_RAW} with an even margin, got {width}")
    path = Path(path) if path is not None else fetch(CROPPED)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise InputError(f"CroppedYale: {path} is not a readable zip archive ({e})") from None
    entries = []
    with zf:
        for info in zf.infolist():
            m = _NAME.search(info.filename)
            if not m or info.is_dir() or (m.group(4) and not include_bad):
                continue
            entries.append((m.group(1), info.filename, int(m.group(2)), int(m.group(3))))
        if not entries:
            raise InputError(f"CroppedYale: no yaleBNN_P00A...E...pgm images in {path}")
        entries.sort()
        lo = (WIDTH_RAW - width) // 2
        images = np.empty((len(entries), HEIGHT, width), np.uint8)
        for j, (_, fname, _, _) in enumerate(entries):  # one decode per file
            info = zf.getinfo(fname)
            if info.file_size > MAX_MEMBER_BYTES:
                raise InputError(f"CroppedYale: {fname} unpacks to {info.file_size:,} bytes, not a cropped face")
            try:
                raw = zf.read(fname)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as e:
                raise InputError(f"CroppedYale: {path}: {fname} cannot be read ({e}): the archive is damaged") from None
            images[j] = _read_pgm(raw, fname)[:, lo : lo + width]
    persons = sorted({e[0] for e in entries})
    if expect_persons is not None and len(persons) != expect_persons:
        raise InputError(f"CroppedYale: found {len(persons)} persons in {path}, expected {expect_persons}")
    index = {p: i for i, p in enumerate(persons)}
    source = DataSource(
        "Extended Yale B (cropped)",
        f"{len(persons)} persons, {len(images):,} images "
        f"({'incl.' if include_bad else 'without'} the *.pgm.bad ones), {HEIGHT}x{width}",
        (DataFile(Path(path).name, sha256=sha256_file(path), bytes=Path(path).stat().st_size),),
    )
    return {
        "source": source,
        "images": images,
        "labels": np.array([index[e[0]] for e in entries], np.int64),
        "persons": persons,
        "azimuth": np.array([e[2] for e in entries], np.int64),
        "elevation": np.array([e[3] for e in entries], np.int64),
        "files": [e[1] for e in entries],
    }


def split_half(labels, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random half/half split per person: ``(train_idx, query_idx)``; with an odd count the extra
    image goes to the queries. Reproducible from ``seed``."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(labels.size), labels))  # random order within each person
    lab = labels[order]
    starts = np.r_[0, np.flatnonzero(lab[1:] != lab[:-1]) + 1]
    counts = np.diff(np.r_[starts, lab.size])
    rank = np.arange(lab.size) - np.repeat(starts, counts)
    train = rank < np.repeat(counts // 2, counts)
    return np.sort(order[train]), np.sort(order[~train])


# ---------------------------------------------------------------------- smoke data
def _light_directions(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Azimuth/elevation in degrees, spread like Yale B's (azimuth within +-110, elevation -40..+65)."""
    az = rng.uniform(-110, 110, n)
    el = rng.uniform(-40, 65, n)
    return az, el


def synthetic_faces(
    n_persons: int = 12,
    per_person: int = 20,
    shape: tuple[int, int] = (48, 40),
    *,
    seed: int = 0,
    strength: float = 1.0,
) -> dict:
    """A synthetic Yale-B-like face set (smoke profile): identities from scikit-image's LFW faces.

    Each of ``n_persons`` distinct LFW face crops (the albedo) is rendered ``per_person`` times under a
    random directional light on an ellipsoidal surface (Lambertian shading with attached shadows and an
    ambient term), with random exposure, gamma, sub-pixel shifts of up to 2 pixels and sensor noise;
    ``strength`` scales how harsh the lighting is. Returns the same fields as :func:`load_cropped`
    (images uint8 ``(N, H, W)``, labels, persons, azimuth, elevation).
    """
    from scipy import ndimage
    from skimage.transform import resize

    from ppstudy.data.bundled import faces

    h, w = (int(s) for s in shape)
    if h < 8 or w < 8:
        raise InputError(f"synthetic faces need at least 8x8 pixels, got {shape}")
    pool = faces()
    if not 1 <= n_persons <= len(pool) or per_person < 2:
        raise InputError(
            f"synthetic faces: 1..{len(pool)} persons and >= 2 images each, got {n_persons} and {per_person}"
        )
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(len(pool), n_persons, replace=False))
    albedo = np.stack([resize(pool[i].astype(float) / 255, (h, w), order=3, anti_aliasing=True) for i in ids])
    albedo = np.clip(albedo, 0.02, 1)

    # surface normals of an ellipsoid filling the frame
    yy, xx = np.mgrid[0:h, 0:w]
    u = (xx - (w - 1) / 2) / (0.62 * w)
    v = (yy - (h - 1) / 2) / (0.62 * h)
    nz = np.sqrt(np.clip(1 - u**2 - v**2, 0.04, None))
    normals = np.stack([u, -v, nz]) / np.sqrt(u**2 + v**2 + nz**2)

    n = n_persons * per_person
    labels = np.repeat(np.arange(n_persons), per_person)
    az, el = _light_directions(n, rng)
    a, e = np.deg2rad(az * strength), np.deg2rad(el * strength)
    light = np.stack([np.sin(a) * np.cos(e), np.sin(e), np.cos(a) * np.cos(e)], axis=1)  # (n, 3)
    shading = np.clip(np.einsum("nk,khw->nhw", light, normals), 0, None)
    ambient = rng.uniform(0.05, 0.3, n)[:, None, None] / max(strength, 1e-6) ** 0.5
    img = albedo[labels] * (ambient + (1 - ambient) * shading)
    img *= rng.uniform(0.75, 1.35, n)[:, None, None]  # exposure
    img = np.clip(img, 0, 1) ** rng.uniform(0.7, 1.4, n)[:, None, None]  # gamma
    shifts = rng.uniform(-2, 2, (n, 2))
    for j in range(n):  # one resampling per image
        img[j] = ndimage.shift(img[j], shifts[j], order=1, mode="nearest")
    img += rng.normal(0, 0.015, img.shape)
    images = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
    return {
        "images": images,
        "labels": labels.astype(np.int64),
        "persons": [f"lfw{int(i):03d}" for i in ids],
        "azimuth": np.round(az).astype(np.int64),
        "elevation": np.round(el).astype(np.int64),
        "synthetic": True,
    }
