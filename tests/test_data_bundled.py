"""Bundled sample data: offline, uint8, the shapes the smoke profiles rely on."""

from __future__ import annotations

import numpy as np
import pytest

from ppstudy import InputError
from ppstudy.data import bundled


def test_photographs_are_uint8_rgb():
    for name, img in bundled.photographs().items():
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3, name
    for name, img in bundled.gray_photographs().items():
        assert img.dtype == np.uint8 and img.ndim == 2, name


def test_faces_and_digits():
    f = bundled.faces()
    assert f.shape == (100, 25, 25) and f.dtype == np.uint8 and f.max() > 200
    x, y = bundled.digits()
    assert x.shape == (1797, 8, 8) and x.dtype == np.uint8 and set(np.unique(y)) == set(range(10))


def test_random_patches_balanced_and_exact():
    imgs = [
        np.arange(64 * 64 * 3, dtype=np.uint32).reshape(64, 64, 3).astype(np.uint8),
        np.full((40, 50, 3), 7, np.uint8),
    ]
    x, y = bundled.random_patches(imgs, 9, 16, seed=1)
    assert x.shape == (9, 16, 16, 3) and np.bincount(y).tolist() == [5, 4]
    assert (x[y == 1] == 7).all()
    # every patch is a contiguous window of its source image
    src = imgs[0]
    for p in x[y == 0]:
        hits = np.argwhere(src[:, :, 0] == p[0, 0, 0])
        assert any(np.array_equal(src[i : i + 16, j : j + 16], p) for i, j in hits if i + 16 <= 64 and j + 16 <= 64)
    with pytest.raises(InputError, match="smaller than the patch size"):
        bundled.random_patches([np.zeros((8, 8, 3), np.uint8)], 1, 16)
