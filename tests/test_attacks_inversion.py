"""The inversion network learns a trivially invertible 'cipher' on a toy set."""

from __future__ import annotations

import numpy as np
import pytest

from ppstudy import InputError, ciphers
from ppstudy.attacks import inversion
from ppstudy.metrics import ssim_images


def toy(n: int, seed: int, size: int = 16) -> np.ndarray:
    """Smooth random colour images (a few cosine waves per channel)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.empty((n, size, size, 3))
    for i in range(n):
        for c in range(3):
            f = rng.uniform(-1.5, 1.5, 2)
            out[i, ..., c] = 128 + 90 * np.cos(2 * np.pi * (f[0] * yy + f[1] * xx) + rng.uniform(0, 6))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("cipher", [lambda x, i: x, lambda x, i: np.uint8(255) - x], ids=["identity", "negation"])
def test_learns_a_trivially_invertible_cipher(cipher):
    train, test = toy(256, 0), toy(32, 1)
    inv = inversion.train_inversion(train, cipher, epochs=12, batch_size=32, width=8, lr=0.01, seed=0)
    rec = inv.reconstruct(cipher(test, 0))
    assert rec.shape == test.shape and rec.dtype == np.uint8
    got, before = ssim_images(test, rec).mean(), ssim_images(test, cipher(test, 0)).mean()
    assert got >= 0.9 and got > before - 0.1  # near the identity, and far above the negation's own SSIM (< 0)
    assert inv.history[-1]["l1"] < inv.history[0]["l1"]


def test_fixed_pairs_train_like_a_cipher():
    # the known-pairs attacker trains on the cipher images it holds, not on a cipher it can call
    train, test = toy(256, 0), toy(32, 1)
    inv = inversion.train_inversion(train, np.uint8(255) - train, epochs=12, batch_size=32, width=8, lr=0.01)
    assert ssim_images(test, inv.reconstruct(np.uint8(255) - test)).mean() >= 0.9
    with pytest.raises(InputError):
        inversion.train_inversion(train, train[:10], epochs=1)


def test_key_sources():
    spec = ciphers.get("pixel2")
    x = toy(4, 2)
    drawn = inversion.drawn_keys(spec, x.shape[1:], seed=3)
    assert np.array_equal(drawn(x, 0), drawn(x, 0)) and not np.array_equal(drawn(x, 0), drawn(x, 1))
    key = spec.keygen(x.shape[1:], seed=4)
    assert np.array_equal(inversion.target_key(spec, key)(x, 7), spec.encrypt(x, key))


def test_grayscale_strip_is_laid_back_as_channels():
    x = toy(2, 5)
    strip = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).reshape(2, 16, 48, 1)
    assert np.array_equal(inversion.input_layout(strip, x.shape[1:]), x)
    with pytest.raises(InputError):
        inversion.input_layout(np.zeros((1, 5, 5, 3), np.uint8), x.shape[1:])
    with pytest.raises(InputError):
        inversion.train_inversion(np.zeros((2, 10, 10, 3), np.uint8), lambda a, i: a, epochs=1)
