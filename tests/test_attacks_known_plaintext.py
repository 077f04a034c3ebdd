"""Known plaintext: the key recovered from pairs decrypts a fresh cipher image exactly, scheme by scheme."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ppstudy import InputError, ciphers
from ppstudy.attacks import known_plaintext as kp
from ppstudy.ciphers import catmap, etc, pixel, tanaka
from ppstudy.ciphers.base import CipherSpec

SHAPE = (16, 16, 3)
CATMAP_TILE8 = CipherSpec("catmap-tile8", catmap, "cat map per 8x8 tile", {"mode": "tile", "tile": 8}, ("mode", "tile"))
SCHEMES = ["pixel2", "pixel23", "etc", "etc4", "etc-grayscale", "tanaka", "chaotic", "catmap-whole"]


def spec_of(name):
    return CATMAP_TILE8 if name == "catmap-tile8" else ciphers.get(name)


def noise(n: int, seed: int, shape=SHAPE) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def smooth(n: int, seed: int, shape=SHAPE) -> np.ndarray:
    """Smooth colour images with some noise: neighbouring values repeat, as in photographs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]] / shape[0]
    out = np.empty((n, *shape))
    for i in range(n):
        for c in range(3):
            f = rng.uniform(0.5, 2, 2)
            out[i, ..., c] = 128 + 80 * np.cos(2 * np.pi * (f[0] * yy + f[1] * xx) + rng.uniform(0, 6))
    return np.clip(np.rint(out + rng.normal(0, 3, out.shape)), 0, 255).astype(np.uint8)


@settings(max_examples=8, deadline=None)
@given(st.sampled_from([*SCHEMES, "catmap-tile8"]), st.integers(0, 2**31 - 1))
def test_recovered_key_decrypts_a_fresh_image_exactly(name, seed):
    spec = spec_of(name)
    key = spec.keygen(SHAPE, seed=seed)
    pool = smooth(9, seed)
    r = kp.pairs_needed(spec, key, pool, max_pairs=8, seed=seed)
    assert r["pairs"] is not None and r["exact"]
    rec = r["recovery"]
    assert rec.determined and rec.key_bits == 1.0 and rec.remaining_bits == 0.0
    fresh = noise(2, seed + 1)
    assert np.array_equal(rec.decrypt(spec.encrypt(fresh, key)), fresh)


@pytest.mark.parametrize("shuffle", [False, True])
def test_pixel_key_itself_is_recovered(shuffle):
    key = pixel.keygen(SHAPE, seed=3, shuffle=shuffle)
    x = noise(2, 4)
    rec = kp.recover_pixel(x, pixel.encrypt(x, key), shuffle=shuffle)
    assert rec.determined
    assert np.array_equal(rec.key.negpos, key.negpos) and np.array_equal(rec.key.shuffle, key.shuffle)


def test_step2_needs_one_pair():
    key = pixel.keygen(SHAPE, seed=5, shuffle=False)
    x = smooth(1, 6)
    rec = kp.recover_pixel(x, pixel.encrypt(x, key), shuffle=False)
    assert rec.determined and np.array_equal(rec.key.negpos, key.negpos)


@pytest.mark.parametrize(("block", "grayscale"), [(4, False), (8, False), (4, True), (1, False)])
def test_etc_map_is_recovered(block, grayscale):
    key = etc.keygen(SHAPE, block, seed=7, grayscale=grayscale)
    x = noise(2, 8)  # 1x1 blocks: one pair may hold two pixels with the same values up to a permutation
    rec = kp.recover_etc(x, etc.encrypt(x, key), block=block, grayscale=grayscale)
    assert rec.determined
    assert np.array_equal(rec.key.gather, key.gather) and np.array_equal(rec.key.mask, key.mask)


def test_tanaka_key_itself_is_recovered():
    key = tanaka.keygen(SHAPE, seed=9)
    x = noise(1, 10)
    rec = kp.recover_tanaka(x, tanaka.encrypt(x, key))
    assert rec.determined
    assert np.array_equal(rec.key.perm, key.perm) and np.array_equal(rec.key.reverse, key.reverse)


def test_keystream_needs_two_pairs():
    spec = ciphers.get("chaotic")
    key = spec.keygen(SHAPE, seed=11)
    x = noise(2, 12)
    y = spec.encrypt(x, key)
    one = kp.recover_chaotic(x[:1], y[:1])
    assert not one.determined and 0 < one.key_bits < 1  # the keystream follows, the permutation does not
    two = kp.recover_chaotic(x, y)
    assert two.determined and np.array_equal(two.key.gather, key.gather) and np.array_equal(two.key.mask, key.mask)


def test_flat_images_leave_the_key_open():
    # constant images fit every symmetry, colour permutation and block: nothing but the flips is learnt
    key = etc.keygen(SHAPE, 4, seed=13)
    x = np.full((3, *SHAPE), 90, np.uint8)
    rec = kp.recover_etc(x, etc.encrypt(x, key), block=4)
    assert not rec.determined and rec.undetermined == rec.components
    assert 0 < rec.key_bits < 1 and rec.remaining_bits > 0
    r = kp.pairs_needed(ciphers.get("etc4"), key, np.concatenate([x, x[:2]]), max_pairs=4)
    assert r["pairs"] is None and r["key_bits_final"] < 1


def test_catmap_one_pair():
    spec = CATMAP_TILE8
    key = spec.keygen(SHAPE, seed=14)
    x = smooth(1, 15)
    rec = kp.recover(spec, x, spec.encrypt(x, key))
    assert rec.determined and rec.key.matrix == key.matrix


def test_pairs_of_another_key_are_refused():
    x = noise(2, 16)
    y = pixel.encrypt(x, pixel.keygen(SHAPE, seed=17))
    y[1] = pixel.encrypt(x[1], pixel.keygen(SHAPE, seed=18))  # the second pair under another key
    with pytest.raises(InputError):
        kp.recover_pixel(x, y)
    with pytest.raises(InputError):
        kp.recover(ciphers.get("pixel23"), x, y[:1, :8])
    with pytest.raises(InputError):
        kp.recover(CipherSpec("x", np, "not a cipher"), x, y)
