"""Pixel-based encryption (Sirichotedumrong et al.): exact round trips, Table 1, key space, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ppstudy import InputError
from ppstudy.ciphers import pixel

shapes = st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(1, 6))


@settings(max_examples=40, deadline=None)
@given(data=st.data(), shp=shapes, seed=st.integers(0, 2**32 - 1), shuffle=st.booleans())
def test_round_trip(data, shp, seed, shuffle):
    n, h, w = shp
    x = data.draw(arrays(np.uint8, (n, h, w, 3)))
    k = pixel.keygen((h, w, 3), seed=seed, shuffle=shuffle)
    y = pixel.encrypt(x, k)
    assert y.shape == x.shape and y.dtype == np.uint8
    assert np.array_equal(pixel.decrypt(y, k), x)
    assert np.array_equal(pixel.decrypt(pixel.encrypt(x[0], k), k), x[0])  # a single image


def test_matches_the_papers_definition_pixel_by_pixel():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (3, 4, 5, 3), dtype=np.uint8)
    k = pixel.keygen((4, 5, 3), seed=7)
    y = pixel.encrypt(x, k)
    for i in range(4):
        for j in range(5):
            q = np.where(k.negpos[i, j], x[:, i, j] ^ 255, x[:, i, j])  # step 2, Eq. (1), L = 8
            assert np.array_equal(y[:, i, j], q[:, pixel.TABLE1[k.shuffle[i, j]]])  # step 3, Table 1


def test_table1():
    # "if random integer is equal to 2, red component is replaced by green one, and green by red"
    assert pixel.TABLE1[2].tolist() == [1, 0, 2]
    assert sorted(map(tuple, pixel.TABLE1.tolist())) == sorted(__import__("itertools").permutations(range(3)))
    k = pixel.PixelKey((1, 1, 3), (2, 3), np.zeros((1, 1, 3), bool), np.array([[2]]))
    assert pixel.encrypt(np.array([[[10, 20, 30]]], np.uint8), k).tolist() == [[[20, 10, 30]]]


def test_step2_is_negative_positive_only():
    x = np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3)
    k = pixel.keygen((2, 2, 3), seed=1, shuffle=False)
    y = pixel.encrypt(x, k)
    assert np.array_equal(y, np.where(k.negpos, 255 - x, x))
    assert k.steps == (2,) and not k.shuffle.any()


def test_key_space():
    assert pixel.key_space((32, 32, 3), exact=True).count == 2 ** (3 * 1024) * 6**1024
    assert pixel.key_space((32, 32, 3), shuffle=False, exact=True).count == 2**3072
    assert math.isclose(pixel.key_space((32, 32, 3)).bits, math.log2(6) * 1024 + 3072)
    assert pixel.key_space((32, 32, 3)).count is None  # the integer only when asked for
    # brute force on a 1-pixel image: 48 distinct maps
    x = np.array(np.meshgrid(*[np.arange(0, 256, 85)] * 3)).reshape(3, -1).T.astype(np.uint8)[:, None, None, :]
    maps = set()
    for bits in range(8):
        for r in range(6):
            k = pixel.PixelKey(
                (1, 1, 3), (2, 3), np.array([(bits >> c) & 1 for c in range(3)], bool).reshape(1, 1, 3), np.array([[r]])
            )
            maps.add(pixel.encrypt(x, k).tobytes())
    assert len(maps) == pixel.key_space((1, 1, 3), exact=True).count == 48


def test_torch_transform_equals_numpy():
    x = np.random.default_rng(3).integers(0, 256, (4, 6, 5, 3), dtype=np.uint8)
    k = pixel.keygen((6, 5, 3), seed=3)
    t = k.torch_transform()
    y = t(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy().transpose(0, 2, 3, 1)
    assert np.array_equal(y, pixel.encrypt(x, k))


def test_keys_from_seed_and_entropy():
    a, b = pixel.keygen((4, 4, 3), seed=5), pixel.keygen((4, 4, 3), seed=5)
    assert np.array_equal(a.negpos, b.negpos) and np.array_equal(a.shuffle, b.shuffle)
    c, d = pixel.keygen((4, 4, 3)), pixel.keygen((4, 4, 3))
    assert not np.array_equal(c.negpos, d.negpos)
    with pytest.raises(ValueError, match="read-only"):
        a.negpos[0, 0, 0] = True  # keys are immutable


def test_bad_input():
    k = pixel.keygen((4, 4, 3), seed=0)
    with pytest.raises(InputError, match="uint8"):
        pixel.encrypt(np.zeros((4, 4, 3), np.float32), k)
    with pytest.raises(InputError, match="does not fit"):
        pixel.encrypt(np.zeros((2, 8, 8, 3), np.uint8), k)
    with pytest.raises(InputError, match="PixelKey"):
        pixel.decrypt(np.zeros((4, 4, 3), np.uint8), "key")
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        pixel.keygen((4, 4, 1))
    with pytest.raises(InputError, match="shuffle"):
        pixel.PixelKey((1, 1, 3), (2, 3), np.zeros((1, 1, 3), bool), np.array([[6]]))
    with pytest.raises(InputError, match="steps"):
        pixel.PixelKey((1, 1, 3), (3,), np.zeros((1, 1, 3), bool), np.array([[0]]))


def test_study_device_transforms_equal_the_numpy_ciphers():
    from ppstudy.studies import pixel as study

    keys = study.make_keys((32, 32, 3), seed=1)
    x = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    for cipher in ("pixel2", "pixel23", "tanaka", "etc", "chaotic"):
        y = study.encrypt_numpy(cipher, x, keys)
        yt = study.torch_transform(cipher, keys)(xt).numpy().transpose(0, 2, 3, 1)
        assert np.array_equal(yt, y), cipher
    assert study.torch_transform("none", keys) is None


@pytest.mark.parametrize("name", ["pixel2", "pixel23", "tanaka", "etc4", "etc-grayscale", "chaotic"])
def test_empty_batches_keep_their_shape(name):
    from ppstudy import ciphers

    spec = ciphers.get(name)
    key = spec.keygen((8, 8, 3), seed=0)
    y = spec.encrypt(np.zeros((0, 8, 8, 3), np.uint8), key)
    assert y.shape == (0, *key.cipher_shape)
    assert spec.decrypt(y, key).shape == (0, 8, 8, 3)


@pytest.mark.parametrize("name", ["pixel2", "pixel23", "tanaka", "etc4", "etc-grayscale", "chaotic"])
def test_registry_ciphers_round_trip_and_match_their_torch_version(name):
    from ppstudy import ciphers

    spec = ciphers.get(name)
    key = spec.keygen((8, 8, 3), seed=4)
    x = np.random.default_rng(4).integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    y = spec.encrypt(x, key)
    assert np.array_equal(spec.decrypt(y, key), x)
    yt = spec.torch_transform(key)(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy().transpose(0, 2, 3, 1)
    assert np.array_equal(yt, y)
    assert spec.key_space((8, 8, 3)).bits > 0


def test_registry_refuses_unknown_names():
    from ppstudy import ciphers

    with pytest.raises(InputError, match="unknown cipher"):
        ciphers.get("rot13")
