"""Ciphertext-only key recovery against the pixel cipher with one key per data set."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ppstudy import InputError
from ppstudy.attacks import pixel as attacks
from ppstudy.ciphers import pixel
from ppstudy.data import cifar10


@pytest.fixture(scope="module")
def data():
    xtr, _, xte, _, _ = cifar10.smoke_dataset(40, 20, seed=1)
    return xtr, xte


@pytest.mark.parametrize("shuffle", [False, True])
def test_recovers_key_from_smooth_images(data, shuffle):
    xtr, xte = data
    k = pixel.keygen((32, 32, 3), seed=11, shuffle=shuffle)
    r = attacks.pixel_key_recovery(pixel.encrypt(xtr, k), xte, shuffle=shuffle)
    assert len(r["candidates"]) == (48 if shuffle else 8)
    # one of the global candidates is the true key (the relative structure is fully recovered)
    best = max(attacks.pixel_key_score(c, k)["key_bits"] for c in r["candidates"])
    assert best > 0.95
    s = attacks.pixel_key_score(r["key"], k, xte)
    assert 0 <= s["key_bits"] <= 1 and 0 <= s["values"] <= 1


def test_random_noise_gives_no_key():
    # i.i.d. noise has no spatial correlation: the attack's estimate is close to chance
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (300, 8, 8, 3), dtype=np.uint8)
    k = pixel.keygen((8, 8, 3), seed=1, shuffle=False)
    r = attacks.pixel_key_recovery(pixel.encrypt(x, k), x, shuffle=False)
    assert attacks.pixel_key_score(r["key"], k)["negpos_bits"] < 0.8


def test_score_of_true_key_and_counts():
    k = pixel.keygen((4, 4, 3), seed=0)
    s = attacks.pixel_key_score(k, k)
    assert s == {"negpos_bits": 1.0, "permutations": 1.0, "key_bits": 1.0}
    inv = pixel.PixelKey(k.shape, k.steps, ~k.negpos, k.shuffle)
    s = attacks.pixel_key_score(inv, k)
    assert s["negpos_bits"] == 0 and math.isclose(s["key_bits"], math.log2(6) / (3 + math.log2(6)))


def test_bad_input():
    with pytest.raises(InputError):
        attacks.pixel_key_recovery(np.zeros((5, 4, 4), np.uint8), np.zeros((5, 4, 4, 3), np.uint8))
    with pytest.raises(InputError):
        attacks.pixel_key_recovery(np.zeros((1, 4, 4, 3), np.uint8), np.zeros((5, 4, 4, 3), np.uint8))
