"""CIFAR-10 (Krizhevsky 2009): the real loader, and the labelled smoke set cut from bundled photographs.

* :func:`load` reads the official python-pickle tarball ``cifar-10-python.tar.gz`` (fetched, checked
  against its sha256 and cached by :mod:`ppstudy.data.registry`) and returns uint8 NHWC arrays. The
  batches are read straight from the tarball with a restricted unpickler that admits only the numpy
  array reconstruction the files use (no arbitrary code from a pickle).
* :func:`smoke_dataset` is **not CIFAR-10**: a small labelled 32x32 colour set for the offline ``smoke``
  profile. Each class is one of scikit-image's bundled colour photographs (downscaled so that a 32x32
  patch holds some structure); training patches come from the left 75% of a photograph and test
  patches from the right 25%, so no test pixel is seen in training.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from ppstudy import InputError
from ppstudy.data import registry

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
#: official md5 (from the dataset's home page): c58f30108f718f92721af3b95e74349a
MD5 = "c58f30108f718f92721af3b95e74349a"

SPEC = registry.register(registry.DatasetSpec(
    name="cifar10",
    url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    filename="cifar-10-python.tar.gz",
    size=170498071,
    description=f"CIFAR-10, python version (md5 {MD5}); 50,000 training and 10,000 test 32x32 colour images",
))

TRAIN_MEMBERS = tuple(f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6))
TEST_MEMBERS = ("cifar-10-batches-py/test_batch",)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
                ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR-10 batch")


def _read_batch(tar: tarfile.TarFile, member: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        f = tar.extractfile(member)
    except KeyError:
        raise InputError(f"{path}: no member {member} — not the CIFAR-10 python tarball") from None
    if f is None:
        raise InputError(f"{path}: {member} is not a file")
    try:
        d = _NumpyOnlyUnpickler(io.BytesIO(f.read()), encoding="bytes").load()
        data = np.asarray(d[b"data"], dtype=np.uint8)
        labels = np.asarray(d[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, KeyError, EOFError, TypeError, ValueError) as e:
        raise InputError(f"{path}: {member} is corrupt: {e}") from None
    if data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (data.shape[0],):
        raise InputError(f"{path}: {member} has data {data.shape} and labels {labels.shape}, "
                         f"expected N x 3072 and N")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise InputError(f"{path}: {member} has labels outside 0..9")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def load(split: str = "train", *, path: str | Path | None = None, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 ``split`` ("train" or "test") as (uint8 N x 32 x 32 x 3, int64 labels).

    ``path`` reads a tarball you hold elsewhere (not checksum-verified); by default the registered file
    is fetched into the cache and verified.
    """
    if split not in ("train", "test"):
        raise InputError(f"split must be 'train' or 'test', got {split!r}")
    p = Path(path) if path is not None else registry.fetch(SPEC, download=download)
    members = TRAIN_MEMBERS if split == "train" else TEST_MEMBERS
    try:
        with tarfile.open(p, "r:gz") as tar:
            parts = [_read_batch(tar, m, p) for m in members]
    except (tarfile.TarError, OSError, EOFError) as e:
        raise InputError(f"{p} is not a readable CIFAR-10 tarball: {e}") from None
    x = np.ascontiguousarray(np.concatenate([a for a, _ in parts]))
    y = np.concatenate([b for _, b in parts])
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
