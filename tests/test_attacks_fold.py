"""The negative-positive fold: exactly invariant where negative-positive is the only step that changes values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ppstudy import InputError
from ppstudy.attacks import fold
from ppstudy.ciphers import etc, pixel

seeds = st.integers(0, 2**32 - 1)


def images(seed: int, n: int = 3, size: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_fold_values():
    v = np.arange(256, dtype=np.uint8)
    f = fold.fold(v)
    assert f.dtype == np.uint8 and f.max() == 127
    assert np.array_equal(f, np.minimum(np.arange(256), 255 - np.arange(256)))
    assert np.array_equal(f, fold.fold(255 - v))  # v and 255 - v fold alike
    assert len(np.unique(f)) == 128  # and nothing else folds together


@settings(max_examples=25, deadline=None)
@given(seeds, seeds)
def test_pixel_step2_fold_of_cipher_is_fold_of_plain(key_seed, data_seed):
    x = images(data_seed)
    k = pixel.keygen(x.shape[1:], seed=key_seed, shuffle=False)
    y = pixel.encrypt(x, k)
    assert not np.array_equal(y, x)
    assert np.array_equal(fold.fold(y), fold.fold(x))
    assert np.array_equal(fold.reconstruct(y), fold.fold(x))


@settings(max_examples=25, deadline=None)
@given(seeds, seeds)
def test_pixel_steps23_gray_fold_survives_the_shuffle(key_seed, data_seed):
    x = images(data_seed)
    k = pixel.keygen(x.shape[1:], seed=key_seed, shuffle=True)
    y = pixel.encrypt(x, k)
    assert np.array_equal(fold.fold_gray(y), fold.fold_gray(x))
    assert np.array_equal(fold.reconstruct(y, gray=True), fold.reconstruct(x, gray=True))


def test_colour_fold_does_not_survive_the_shuffle():
    # the shuffle moves a pixel's folded values between channels: only the grayscale fold is invariant
    x = images(1, n=4, size=16)
    y = pixel.encrypt(x, pixel.keygen(x.shape[1:], seed=2, shuffle=True))
    assert not np.array_equal(fold.fold(y), fold.fold(x))


@settings(max_examples=20, deadline=None)
@given(seeds, seeds, st.sampled_from([1, 2, 4]))
def test_etc_negpos_fold(key_seed, data_seed, block):
    x = images(data_seed)
    neg = etc.keygen(x.shape[1:], block, seed=key_seed, steps=("negpos",))
    assert np.array_equal(fold.fold(etc.encrypt(x, neg)), fold.fold(x))
    shu = etc.keygen(x.shape[1:], block, seed=key_seed, steps=("negpos", "shuffle"))
    assert np.array_equal(fold.fold_gray(etc.encrypt(x, shu)), fold.fold_gray(x))


def test_gray_fold_rounds_the_mean():
    x = np.array([[[[0, 1, 255], [127, 128, 200]]]], np.uint8)  # folds (0, 1, 0) and (127, 127, 55)
    assert fold.fold_gray(x).tolist() == [[[0, 103]]]  # (1 + 1) // 3, (309 + 1) // 3


def test_bad_input():
    with pytest.raises(InputError):
        fold.fold(np.zeros((2, 2), np.float32))
    with pytest.raises(InputError):
        fold.fold_gray(np.zeros((2, 2), np.uint8))
    with pytest.raises(InputError):
        fold.reconstruct(np.zeros((1, 2, 2, 3), np.uint8), gray=1)
