"""Arnold's cat map: exact inverse, permutation structure, periods, canvas preparation, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ppstudy import InputError
from ppstudy.ciphers import catmap


def _naive(img: np.ndarray, a: int, b: int, k: int, tile: int) -> np.ndarray:
    """Reference: iterate the map pixel by pixel (slow, only for tiny tests)."""
    out = img.copy()
    h, w = img.shape[:2]
    for _ in range(k):
        nxt = np.empty_like(out)
        for r in range(h):
            for c in range(w):
                br, lr, bc, lc = r // tile, r % tile, c // tile, c % tile
                nr, nc = (lr + a * lc) % tile, (b * lr + (a * b + 1) * lc) % tile
                nxt[br * tile + nr, bc * tile + nc] = out[r, c]
        out = nxt
    return out


@settings(max_examples=25, deadline=None)
@given(side_tiles=st.sampled_from([(16, 4), (24, 8), (32, 32), (12, 3)]), channels=st.sampled_from([1, 3]),
       seed=st.integers(0, 2**32 - 1), n=st.integers(1, 3))
def test_round_trip_and_permutation(side_tiles, channels, seed, n):
    side, tile = side_tiles
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, side, side, channels), dtype=np.uint8)
    key = catmap.keygen((side, side), tile=tile, mode="tile" if tile < side else "whole", seed=seed)
    y = catmap.encrypt(x, key)
    assert y.shape == x.shape and y.dtype == np.uint8
    np.testing.assert_array_equal(catmap.decrypt(y, key), x)
    # a permutation within each tile: the per-tile multisets are unchanged
    t = tile
    xs = np.sort(x.reshape(n, side // t, t, side // t, t, channels).transpose(0, 1, 3, 5, 2, 4).reshape(n, -1, t * t), -1)
    ys = np.sort(y.reshape(n, side // t, t, side // t, t, channels).transpose(0, 1, 3, 5, 2, 4).reshape(n, -1, t * t), -1)
    np.testing.assert_array_equal(xs, ys)


def test_matches_pixel_by_pixel_reference():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    for a, b, k, tile in [(1, 1, 1, 16), (1, 1, 5, 8), (3, 5, 2, 4), (7, 2, 3, 16)]:
        key = catmap.CatMapKey((16, 16), tile, a, b, k)
        np.testing.assert_array_equal(catmap.encrypt(img, key), _naive(img, a, b, k, tile))


def test_single_and_gray_images_keep_their_shape():
    key = catmap.keygen((32, 32), tile=8, seed=1)
    g = np.arange(32 * 32, dtype=np.uint16).reshape(32, 32).astype(np.uint8)
    assert catmap.encrypt(g, key).shape == (32, 32)
    np.testing.assert_array_equal(catmap.decrypt(catmap.encrypt(g, key), key), g)


@pytest.mark.parametrize("n,expected", [(2, 3), (4, 3), (8, 6), (16, 12), (32, 24), (512, 384)])
def test_arnold_periods(n, expected):
    assert catmap.period(1, 1, n) == expected


def test_period_brings_the_image_back():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    for a, b in [(1, 1), (2, 3), (5, 7)]:
        p = catmap.period(a, b, 8)
        key = catmap.CatMapKey((32, 32), 8, a, b, p)
        np.testing.assert_array_equal(catmap.encrypt(x, key), x)
        if p > 1:
            key1 = catmap.CatMapKey((32, 32), 8, a, b, 1)
            assert (catmap.encrypt(x, key1) != x).any()


def test_keygen_is_never_identity_and_reproducible():
    for s in range(30):
        k = catmap.keygen((64, 64), tile=16, seed=s)
        assert k.matrix != (1, 0, 0, 1)
        assert 1 <= k.iterations < k.period
    assert catmap.keygen((64, 64), seed=5, tile=16) == catmap.keygen((64, 64), seed=5, tile=16)
    assert catmap.keygen((64, 64), mode="whole").tile == 64


def test_key_space_counts():
    ks = catmap.key_space((32, 32), tile=8)
    assert ks["distinct_permutations"] <= ks["sl2_order"] == 8 ** 3 * 3 // 4
    # parameter triples = sum over a, b in [1, n) of (period - 1)
    assert ks["parameter_triples"] == sum(catmap.period(a, b, 8) - 1 for a in range(1, 8) for b in range(1, 8))


def test_key_dict_round_trip():
    k = catmap.keygen((64, 64), tile=16, seed=2)
    assert catmap.CatMapKey.from_dict(k.to_dict()) == k
    with pytest.raises(InputError, match="malformed"):
        catmap.CatMapKey.from_dict({"shape": [64, 64]})


def test_to_canvas():
    img = np.full((30, 60, 3), 200, np.uint8)
    c = catmap.to_canvas(img, 64)
    assert c.shape == (64, 64, 3) and c.dtype == np.uint8
    assert c[0, 32].max() == 0 and c[32, 32].min() == 200  # padded top, content in the middle
    assert catmap.to_canvas(np.zeros((8, 8), np.uint8), 8).shape == (8, 8)
    assert catmap.to_canvas(img, 16, crop=(0, 0, 30, 30)).min() == 200
    with pytest.raises(InputError, match="outside"):
        catmap.to_canvas(img, 16, crop=(0, 0, 31, 30))
    with pytest.raises(InputError, match="uint8"):
        catmap.to_canvas(img.astype(float), 16)


def test_bad_input():
    key = catmap.keygen((32, 32), tile=8, seed=0)
    with pytest.raises(InputError, match="does not match the key's canvas"):
        catmap.encrypt(np.zeros((1, 16, 16, 3), np.uint8), key)
    with pytest.raises(InputError, match="uint8"):
        catmap.encrypt(np.zeros((1, 32, 32, 3), np.float32), key)
    with pytest.raises(InputError, match="CatMapKey"):
        catmap.decrypt(np.zeros((1, 32, 32, 3), np.uint8), "key")
    with pytest.raises(InputError, match="square"):
        catmap.keygen((32, 16))
    with pytest.raises(InputError, match="divide"):
        catmap.keygen((32, 32), tile=5)
    with pytest.raises(InputError, match="mode"):
        catmap.keygen((32, 32), mode="tiles")
    with pytest.raises(InputError, match="not a permutation"):
        catmap.permutation((8, 8), 8, (2, 0, 0, 2))
