"""CIFAR-10 (Krizhevsky 2009): the real loader, and the labelled smoke set cut from bundled photographs.

* :func:`load` reads the official python-pickle batch files and returns uint8 NHWC arrays, from either
  layout in the data cache (:func:`ppstudy.data.registry.cache_dir`):

  - ``cifar10/cifar-10-batches-py/`` -- the unpacked official files (the layout torchvision leaves); each
    file a run reads is verified against the official md5 list (:data:`BATCH_MD5`), as torchvision does;
  - ``cifar10/cifar-10-python.tar.gz`` -- the official tarball (fetched when absent, verified by sha256).

  Only the batch files a run needs are read (and verified): a subset of ``n`` training images is drawn
  from the first ``ceil(n / 10,000)`` training batches, so a 5,000-image subset reads ``data_batch_1``
  only. The batches are unpickled with a restricted unpickler that admits only the numpy array
  reconstruction the files use (no code runs from a pickle).
* :func:`smoke_dataset` is **not CIFAR-10**: a small labelled 32x32 colour set for the offline ``smoke``
  profile. Each class is one of scikit-image's bundled colour photographs (downscaled so that a 32x32
  patch holds some structure); training patches come from the left 75% of a photograph and test
  patches from the right 25%, so no test pixel is seen in training.
"""

from __future__ import annotations

import hashlib
import io
import math
import pickle
import tarfile
from pathlib import Path

import numpy as np

from ppstudy import DataUnavailableError, InputError
from ppstudy.data import registry
from ppstudy.data.source import DataFile, DataSource

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
#: official md5 of the tarball (from the dataset's home page): c58f30108f718f92721af3b95e74349a
MD5 = "c58f30108f718f92721af3b95e74349a"
#: official md5 of every unpacked file (torchvision's list, from the dataset's tarball)
BATCH_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
BATCH_IMAGES = 10_000
UNPACKED = "cifar-10-batches-py"

SPEC = registry.register(
    registry.DatasetSpec(
        name="cifar10",
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        filename="cifar-10-python.tar.gz",
        size=170498071,
        description=f"CIFAR-10, python version (md5 {MD5}); 50,000 training and 10,000 test 32x32 colour images",
    )
)

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR-10 batch")


def parse_batch(raw: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch (the bytes of the file) as (uint8 N x 32 x 32 x 3, int64 labels); ``where``
    names it in errors. Only numpy's array reconstruction may run from the pickle."""
    try:
        d = _NumpyOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
        data = np.asarray(d[b"data"])
        labels = np.asarray(d[b"labels"])
    except (
        pickle.UnpicklingError,
        KeyError,
        EOFError,
        TypeError,
        ValueError,
        LookupError,
        AttributeError,
        IndexError,
        UnicodeError,
        OverflowError,
    ) as e:
        raise InputError(f"{where} is corrupt: {type(e).__name__}: {e}") from None
    if data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (data.shape[0],):
        raise InputError(f"{where} has data {data.shape} and labels {labels.shape}, expected N x 3072 and N")
    if not (np.issubdtype(data.dtype, np.integer) and np.issubdtype(labels.dtype, np.integer)):
        raise InputError(f"{where}: data and labels must be integers, got {data.dtype} and {labels.dtype}")
    if data.size and (data.min() < 0 or data.max() > 255):
        raise InputError(f"{where} has pixel values outside 0..255 (min {data.min()}, max {data.max()})")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise InputError(f"{where} has labels outside 0..9")
    return data.astype(np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype(np.int64)


def batches_for(split: str, n: int | None = None) -> tuple[str, ...]:
    """The batch files a split (or a subset of ``n`` of its images) is read from."""
    if split not in ("train", "test"):
        raise InputError(f"split must be 'train' or 'test', got {split!r}")
    files = TRAIN_BATCHES if split == "train" else TEST_BATCHES
    if n:
        files = files[: max(1, math.ceil(n / BATCH_IMAGES))]
    return files


def _md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _read_unpacked(directory: Path, name: str) -> tuple[bytes, DataFile]:
    """The bytes of one unpacked batch file, verified by content: the md5 is of the very bytes returned
    (read once), so neither a file changed in place nor one replaced with the same size and time passes."""
    path = directory / name
    want = BATCH_MD5[name]
    where = (
        f"put the official file there (from {SPEC.url}, unpacked; md5 {want}), or set PPSTUDY_DATA to a "
        f"cache holding cifar10/{UNPACKED}/"
    )
    if not path.is_file():
        raise DataUnavailableError(f"CIFAR-10: {path} is missing: {where}")
    raw = path.read_bytes()
    got = hashlib.md5(raw, usedforsecurity=False).hexdigest()
    if got != want:
        raise DataUnavailableError(
            f"CIFAR-10: {path} has md5 {got}, expected {want}: the file is corrupt or not the official one; {where}"
        )
    return raw, DataFile(f"{UNPACKED}/{name}", md5=want, bytes=len(raw))


def _open_tarball(download: bool) -> tuple[Path, DataFile]:
    p = registry.fetch(SPEC, download=download)
    return p, DataFile(SPEC.filename, sha256=SPEC.sha256, bytes=p.stat().st_size)


def _check_tarball(p: Path) -> DataFile:
    """A tarball given by path, verified against the official md5 (:data:`MD5`)."""
    try:
        got = _md5(p)
    except FileNotFoundError:
        raise DataUnavailableError(f"CIFAR-10: {p} does not exist") from None
    except OSError as e:
        raise InputError(f"{p} is not a readable CIFAR-10 tarball: {e}") from None
    if got != MD5:
        raise InputError(
            f"CIFAR-10: {p} has md5 {got}, expected the official {MD5}: the file is corrupt or not the official "
            "tarball (pass verify=False to read another one)"
        )
    return DataFile(p.name, md5=MD5, bytes=p.stat().st_size)


def load_with_source(
    split: str = "train",
    *,
    n: int | None = None,
    seed: int = 0,
    path: str | Path | None = None,
    download: bool = True,
    verify: bool = True,
) -> tuple[np.ndarray, np.ndarray, DataSource]:
    """CIFAR-10 ``split`` ("train" or "test") as (uint8 N x 32 x 32 x 3, int64 labels, its DataSource).

    ``n`` draws a random subset of ``n`` images (``seed``; sorted indices) from the batches
    :func:`batches_for` names; None or 0: the whole split. ``path`` reads a tarball held elsewhere, verified
    against the official md5 unless ``verify`` is false (a tarball of one's own, e.g. a test's).
    """
    files = batches_for(split, n)
    read: list[DataFile] = []
    parts = []
    unpacked = registry.cache_dir() / SPEC.name / UNPACKED
    if path is None and unpacked.is_dir():
        for name in files:
            raw, rec = _read_unpacked(unpacked, name)
            parts.append(parse_batch(raw, f"{unpacked / name}"))
            read.append(rec)
    else:
        if path is not None:
            p = Path(path)
            if verify:
                read.append(_check_tarball(p))
            else:
                read.append(DataFile(p.name, bytes=p.stat().st_size if p.is_file() else None))
        else:
            p, rec = _open_tarball(download)
            read.append(rec)
        try:
            with tarfile.open(p, "r:gz") as tar:
                for name in files:
                    member = f"{UNPACKED}/{name}"
                    try:
                        f = tar.extractfile(member)
                    except KeyError:
                        raise InputError(f"{p}: no member {member} — not the CIFAR-10 python tarball") from None
                    if f is None:
                        raise InputError(f"{p}: {member} is not a file")
                    parts.append(parse_batch(f.read(), f"{p}: {member}"))
        except (tarfile.TarError, OSError, EOFError) as e:
            if isinstance(e, FileNotFoundError):
                raise DataUnavailableError(f"CIFAR-10: {p} does not exist") from None
            raise InputError(f"{p} is not a readable CIFAR-10 tarball: {e}") from None
    x = np.ascontiguousarray(np.concatenate([a for a, _ in parts]))
    y = np.concatenate([b for _, b in parts])
    desc = f"{split} split, {len(x):,} images"
    if n and n > len(x):
        raise InputError(f"CIFAR-10: {n:,} {split} images asked for, but {', '.join(files)} hold {len(x):,}")
    if n and n < len(x):
        idx = np.sort(np.random.default_rng(seed).choice(len(x), n, replace=False))
        x, y = x[idx], y[idx]
        desc = f"{n:,} {split} images drawn (seed {seed}) from {', '.join(files)}"
    return x, y, DataSource("CIFAR-10", desc, tuple(read))


def load_train_test(
    n_train: int | None = None,
    n_test: int | None = None,
    *,
    seed: int = 0,
    path: str | Path | None = None,
    verify: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, DataSource]:
    """A training and a test subset together (seeds ``seed`` and ``seed + 1``) as (x_train, y_train, x_test,
    y_test, one DataSource naming both); None or 0: a whole split."""
    xtr, ytr, s_tr = load_with_source("train", n=n_train or None, seed=seed, path=path, verify=verify)
    xte, yte, s_te = load_with_source("test", n=n_test or None, seed=seed + 1, path=path, verify=verify)
    src = s_tr.combine(s_te, f"{s_tr.description} and {s_te.description}")
    return xtr, ytr, xte, yte, src


def load(
    split: str = "train",
    *,
    n: int | None = None,
    seed: int = 0,
    path: str | Path | None = None,
    download: bool = True,
    verify: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 ``split`` as (uint8 N x 32 x 32 x 3, int64 labels); see :func:`load_with_source`."""
    x, y, _ = load_with_source(split, n=n, seed=seed, path=path, download=download, verify=verify)
    return x, y


# ------------------------------------------------------------------------------------------ smoke data
SMOKE_SHORT_SIDE = 128  # photographs are downscaled to this short side before cutting 32x32 patches


def smoke_dataset(n_per_class: int = 40, n_test_per_class: int = 15, *, seed: int = 0, size: int = 32):
    """SMOKE DATA, not CIFAR-10: labelled ``size`` x ``size`` colour patches of the bundled photographs.

    Returns ``(x_train, y_train, x_test, y_test, class_names)``; class ``k`` = photograph ``k`` of
    :data:`ppstudy.data.bundled.COLOUR_PHOTOGRAPHS`. Train patches from the left 75% of each photograph,
    test patches from the right 25%.
    """
    from skimage.transform import rescale

    from ppstudy.data import bundled

    for name, v in (("n_per_class", n_per_class), ("n_test_per_class", n_test_per_class)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InputError(f"{name} must be a positive integer, got {v!r}")
    photos = bundled.photographs()
    names = tuple(photos)
    left, right = [], []
    for img in photos.values():
        f = SMOKE_SHORT_SIDE / min(img.shape[:2])
        small = np.round(rescale(img, f, channel_axis=-1, anti_aliasing=True, preserve_range=True))
        small = np.clip(small, 0, 255).astype(np.uint8)
        cut = int(small.shape[1] * 0.75)
        left.append(small[:, :cut])
        right.append(small[:, cut:])
    k = len(names)
    xtr, ytr = bundled.random_patches(left, n_per_class * k, size, seed=seed)
    xte, yte = bundled.random_patches(right, n_test_per_class * k, size, seed=seed + 1)
    return xtr, ytr, xte, yte, names
