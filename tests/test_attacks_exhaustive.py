"""Trying every cat map: the candidates are exactly the key space, and a smooth image gives its key away."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ppstudy import InputError
from ppstudy.attacks import exhaustive
from ppstudy.ciphers import catmap


def smooth(n: int, size: int, seed: int) -> np.ndarray:
    """Smooth, non-periodic images: blurred noise plus a ramp (a plane wave would be mapped by a cat map
    onto another plane wave, as smooth as itself)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    noise = gaussian_filter(rng.normal(0, 1, (n, size, size, 3)), (0, 2.5, 2.5, 0))
    out = 128 + 60 * noise / noise.std() + 40 * (yy + xx)[None, :, :, None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("tile", [5, 8, 16])
def test_candidates_are_the_distinct_maps_of_the_key_space(tile):
    mats = exhaustive.catmap_matrices(tile)
    assert len(mats) == catmap.key_space((tile, tile), mode="whole").count
    assert len(np.unique(mats, axis=0)) == len(mats)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([("tile", 8), ("whole", 16)]))
def test_every_key_is_a_candidate(seed, mode_tile):
    mode, tile = mode_tile
    key = catmap.keygen((16, 16), mode=mode, tile=tile, seed=seed)
    mats = {tuple(m) for m in exhaustive.catmap_matrices(key.tile).tolist()}
    assert key.matrix in mats


@pytest.mark.parametrize(("mode", "tile"), [("tile", 8), ("whole", 16), ("whole", 32)])
@pytest.mark.parametrize("seed", [0, 1])
def test_one_smooth_image_gives_the_key(mode, tile, seed):
    size = 16 if tile <= 16 else 32
    key = catmap.keygen((size, size), mode=mode, tile=tile, seed=seed)
    x = smooth(1, size, seed=10 + seed)
    r = exhaustive.catmap_ciphertext_only(catmap.encrypt(x, key), key.tile)
    assert r["matrix"] == key.matrix and r["cost"] < r["runner_up"]
    assert np.array_equal(
        catmap.apply_matrix(catmap.encrypt(x, key), (size, size), key.tile, r["matrix"], inverse=True), x
    )


def test_bad_input():
    with pytest.raises(InputError):
        exhaustive.catmap_ciphertext_only(np.zeros((1, 16, 12, 3), np.uint8), 4)
    with pytest.raises(InputError):
        exhaustive.catmap_ciphertext_only(np.zeros((1, 16, 16, 3), np.uint8), 5)
