"""Offline sample data shipped inside scikit-image and scikit-learn, used by the ``smoke`` profile.

Nothing here touches the network: every function reads files that the installed wheels carry.
Chapters build their smoke datasets from these (e.g. 32x32 patches cut from the photographs, synthetic
identities from the faces) and label the results as smoke results.
"""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np

#: colour photographs bundled with scikit-image (name -> loader name in skimage.data)
COLOUR_PHOTOGRAPHS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "colorwheel",
)
#: grayscale photographs bundled with scikit-image
GRAY_PHOTOGRAPHS = ("camera", "coins", "moon", "page", "text", "brick", "grass", "gravel")


def _skimage(name: str) -> np.ndarray:
    import skimage.data

    img = getattr(skimage.data, name)()
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[-1] == 4:  # drop alpha
        img = img[..., :3]
    return np.ascontiguousarray(img.astype(np.uint8, copy=False))


@cache
def _photograph(name: str) -> np.ndarray:
    img = _skimage(name)
    img.setflags(write=False)
    return img


def photographs(names=COLOUR_PHOTOGRAPHS) -> dict[str, np.ndarray]:
    """The bundled colour photographs as read-only uint8 HxWx3 arrays, by name."""
    return {n: _photograph(n) for n in names}


def gray_photographs(names=GRAY_PHOTOGRAPHS) -> dict[str, np.ndarray]:
    """The bundled grayscale photographs as read-only uint8 HxW arrays, by name."""
    return {n: _photograph(n) for n in names}


@lru_cache(maxsize=1)
def _lfw() -> np.ndarray:
    import skimage.data

    x = skimage.data.lfw_subset()  # (200, 25, 25) float in [0, 1]; first 100 are faces
    x = np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)
    x.setflags(write=False)
    return x


def faces() -> np.ndarray:
    """The 100 face crops of scikit-image's LFW subset, uint8 (100, 25, 25), one person each."""
    return _lfw()[:100]


def non_faces() -> np.ndarray:
    """The 100 non-face crops of scikit-image's LFW subset, uint8 (100, 25, 25)."""
    return _lfw()[100:]


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits as uint8 (1797, 8, 8) in 0..255, with labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.round(d.images * (255 / 16)).astype(np.uint8)
    return x, d.target.astype(np.int64)


def random_patches(images: list[np.ndarray], n: int, size: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random ``size``x``size`` patches cut from ``images``; labels are the source image index.

    Vectorised: one gather per source image. Returns (uint8 NxHxWxC, int64 labels), balanced over sources.
    """
    rng = np.random.default_rng(seed)
    per = np.full(len(images), n // len(images))
    per[: n % len(images)] += 1
    out, labels = [], []
    for k, (img, m) in enumerate(zip(images, per)):
        if img.shape[0] < size or img.shape[1] < size:
            from ppstudy import InputError

            raise InputError(f"image {k} of shape {img.shape} is smaller than the patch size {size}")
        ys = rng.integers(0, img.shape[0] - size + 1, m)
        xs = rng.integers(0, img.shape[1] - size + 1, m)
        iy = ys[:, None, None] + np.arange(size)[None, :, None]
        ix = xs[:, None, None] + np.arange(size)[None, None, :]
        out.append(img[iy, ix])
        labels.append(np.full(m, k, dtype=np.int64))
    return np.concatenate(out), np.concatenate(labels)
