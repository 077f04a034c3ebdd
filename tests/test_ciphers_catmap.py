"""Arnold's cat map: exact inverse, permutation structure, periods, canvas preparation, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
@given(
    side_tiles=st.sampled_from([(16, 4), (24, 8), (32, 32), (12, 3)]),
    channels=st.sampled_from([1, 3]),
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 3),
)
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
    xs = np.sort(
        x.reshape(n, side // t, t, side // t, t, channels).transpose(0, 1, 3, 5, 2, 4).reshape(n, -1, t * t), -1
    )
    ys = np.sort(
        y.reshape(n, side // t, t, side // t, t, channels).transpose(0, 1, 3, 5, 2, 4).reshape(n, -1, t * t), -1
    )
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


def test_grayscale_batch_is_a_batch_not_channels():
    """An N x H x W grayscale batch is N images, each permuted on its own: with N == H it used to be read as
    one H x W x N image (the permutation then acted on the wrong axes)."""
    key = catmap.keygen((16, 16), tile=4, seed=3)
    rng = np.random.default_rng(0)
    for n in (3, 16):  # 16 == H: the formerly misread case
        g = rng.integers(0, 256, (n, 16, 16), dtype=np.uint8)
        expected = np.stack([catmap.encrypt(im, key) for im in g])  # image by image, 2-D: unambiguous
        if n == 16:
            with pytest.raises(InputError, match="ambiguous"):
                catmap.encrypt(g, key)
        else:
            np.testing.assert_array_equal(catmap.encrypt(g, key), expected)
        y = catmap.encrypt(g, key, batch=True)
        np.testing.assert_array_equal(y, expected)
        np.testing.assert_array_equal(catmap.decrypt(y, key, batch=True), g)
        np.testing.assert_array_equal(catmap.encrypt(g[..., None], key)[..., 0], expected)
    # the same array read explicitly as one 16-channel image permutes axes 0 and 1 instead
    img = rng.integers(0, 256, (16, 16, 16), dtype=np.uint8)
    y1 = catmap.encrypt(img, key, batch=False)
    np.testing.assert_array_equal(y1, catmap.encrypt(img[None], key)[0])
    assert not np.array_equal(y1, catmap.encrypt(img, key, batch=True))
    # an unambiguous 3-D array: HxWxC when only its first two axes fit the canvas
    np.testing.assert_array_equal(catmap.encrypt(img[:, :, :3], key), catmap.encrypt(img[None, :, :, :3], key)[0])
    with pytest.raises(InputError, match="does not match"):
        catmap.encrypt(img[:, :, :3], key, batch=True)
    with pytest.raises(InputError, match="batch must be"):
        catmap.encrypt(img, key, batch="yes")


def test_empty_batches():
    key = catmap.keygen((16, 16), tile=4, seed=4)
    for shape in ((0, 16, 16, 3), (0, 16, 16)):
        x = np.zeros(shape, np.uint8)
        assert catmap.encrypt(x, key).shape == shape and catmap.decrypt(x, key).shape == shape


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
    assert len({catmap.keygen((64, 64), seed=s, tile=16) for s in range(10)}) > 1
    assert catmap.keygen((64, 64), mode="whole", seed=0).tile == 64


def _brute_force(n):
    """Reference by Python sets: every key (a, b, k) keygen can draw and the distinct matrices they give."""
    keys, mats = 0, set()
    for a in range(1, n):
        for b in range(1, n):
            m = catmap.base_matrix(a, b, n)
            for k in range(1, catmap.period(a, b, n)):
                keys += 1
                mats.add(catmap.matrix_power(m, k, n))
    return keys, len(mats)


@pytest.mark.parametrize("n", [2, 3, 6, 8, 10, 12, 15, 16])
def test_key_space_counts_match_brute_force(n):
    """Composite sides (6, 10, 12, 15) exercise matrices whose m00 and m01 are both non-units."""
    keys, distinct = _brute_force(n)
    c = catmap.key_space_counts((n, n), mode="whole")
    assert c["parameter_triples"] == keys and c["distinct_permutations"] == distinct
    assert distinct <= keys  # keygen cannot reach more permutations than it has keys
    assert c["key_bits"] == pytest.approx(np.log2(keys))
    assert c["permutation_bits"] == pytest.approx(np.log2(distinct))
    # the entropy of keygen's draw: a, b uniform, then k uniform in [1, period)
    pr = np.array([catmap.period(a, b, n) - 1 for a in range(1, n) for b in range(1, n)])
    assert c["keygen_entropy_bits"] == pytest.approx(np.log2((n - 1) ** 2) + np.mean(np.log2(pr)))
    assert c["keygen_entropy_bits"] <= c["key_bits"] + 1e-12
    ks = catmap.key_space((n, n), mode="whole")
    assert ks.count == distinct and not ks.bound and ks.bits == pytest.approx(np.log2(distinct))


def test_key_space_kinds_and_bounds():
    ks = catmap.key_space((32, 32), tile=8)
    assert ks.count == _brute_force(8)[1] and "permutations" in ks.counts
    c = catmap.key_space_counts((32, 32), tile=8)
    assert c["distinct_permutations"] <= c["parameter_triples"] and c["distinct_permutations"] <= c["sl2_order"]
    assert c["sl2_order"] == 8**3 * 3 // 4
    # |SL(2, Z/30)| = 30^3 (1 - 1/4)(1 - 1/9)(1 - 1/25)
    assert catmap.key_space_counts((30, 30), mode="whole", exact=False)["sl2_order"] == 27000 * 3 * 8 * 24 // 900
    # not counted: the bits of the keys keygen draws from, flagged as an upper bound on the permutations
    b = catmap.key_space((64, 64), mode="whole", exact=False)
    triples = catmap.key_space_counts((64, 64), mode="whole", exact=False)["parameter_triples"]
    assert b.count is None and b.bound and b.bits == pytest.approx(np.log2(triples))
    assert b.bits > catmap.key_space((64, 64), mode="whole").bits
    with pytest.raises(InputError, match="exact"):
        catmap.key_space((2048, 2048), mode="whole", exact=True)
    with pytest.raises(InputError, match="divide"):
        catmap.key_space((32, 32), tile=5)


def test_walk_powers_is_every_key_once():
    n = 9
    seen = [
        (int(a), int(b), k, (int(m0), int(m1), int(m2), int(m3)))
        for k, A, B, M in catmap.walk_powers(n)
        for a, b, m0, m1, m2, m3 in zip(A, B, *M)
    ]
    expected = [
        (a, b, k, catmap.matrix_power(catmap.base_matrix(a, b, n), k, n))
        for a in range(1, n)
        for b in range(1, n)
        for k in range(1, catmap.period(a, b, n))
    ]
    assert sorted(seen) == sorted(expected)


def test_key_for_matrix():
    for s in range(10):
        key = catmap.keygen((32, 32), tile=16, seed=s)
        eq = catmap.key_for_matrix(key.matrix, key.shape, key.tile)
        assert eq.matrix == key.matrix and eq.iterations <= key.iterations
    assert catmap.key_for_matrix((1, 0, 0, 1), (8, 8), 8).iterations == 0
    # every determinant-1 matrix mod 8: found exactly when some power of some M(a, b) equals it
    reachable = {
        catmap.matrix_power(catmap.base_matrix(a, b, 8), k, 8)
        for a in range(8)
        for b in range(8)
        for k in range(1, catmap.period(a, b, 8))
    }
    sl2 = [
        (p, q, r, s)
        for p in range(8)
        for q in range(8)
        for r in range(8)
        for s in range(8)
        if (p * s - q * r) % 8 == 1 and (p, q, r, s) != (1, 0, 0, 1)
    ]
    assert len(sl2) == 384 - 1 and len(reachable - {(1, 0, 0, 1)}) < len(sl2)  # keygen's maps are a subset
    for m in sl2:
        found = catmap.key_for_matrix(m, (8, 8), 8)
        assert (found is not None) == (m in reachable)
        if found is not None:
            assert found.matrix == m


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
    with pytest.raises(InputError, match="not an image"):
        catmap.encrypt(np.zeros((1, 1, 32, 32, 3), np.uint8), key)
    with pytest.raises(InputError, match="not an image"):
        catmap.encrypt(np.zeros((32, 32), np.uint8), key, batch=True)


@pytest.mark.parametrize("name, side", [("catmap-tile", 32), ("catmap-whole", 64)])
def test_registered_cat_maps(name, side):
    from ppstudy import ciphers

    spec = ciphers.get(name)
    key = spec.keygen((64, 64, 3), seed=2)
    x = np.random.default_rng(2).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    np.testing.assert_array_equal(spec.decrypt(spec.encrypt(x, key), key), x)
    assert key.tile == side
    assert spec.key_space((64, 64, 3)) == catmap.key_space((64, 64), mode=key.mode, tile=side)
