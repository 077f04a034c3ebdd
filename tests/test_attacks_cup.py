"""Cat-map attacks on freshly generated keys: the key-free multiset matcher and known-plaintext recovery."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ppstudy import InputError
from ppstudy.attacks import catmap as attacks
from ppstudy.ciphers import catmap


def _images(n, side, seed):
    """Smooth-ish random images (low-resolution noise upscaled), like photographs in having repeated values."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, side // 4, side // 4, 3), dtype=np.uint8)
    return np.repeat(np.repeat(small, 4, axis=1), 4, axis=2)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), mode=st.sampled_from(["tile", "whole"]))
def test_multiset_invariant_for_any_key(seed, mode):
    x = _images(3, 32, seed)
    key = catmap.keygen((32, 32), mode=mode, tile=8)  # fresh key from OS entropy
    t = key.tile
    assert np.all(attacks.multiset_distance(x, catmap.encrypt(x, key), t) == 0)
    np.testing.assert_array_equal(attacks.multiset_signature(x, t), attacks.multiset_signature(catmap.encrypt(x, key), t))


@pytest.mark.parametrize("mode", ["tile", "whole"])
def test_matchers_on_fresh_keys(mode):
    rng = np.random.default_rng()
    tr, te = _images(12, 32, 1), _images(10, 32, 2)
    key = catmap.keygen((32, 32), mode=mode, tile=8)
    y_tr, y_te = catmap.encrypt(tr, key), catmap.encrypt(te, key)
    labels = np.array([1] * 5 + [0] * 5)
    enc = y_te.copy()
    enc[5:] = y_te[[6, 7, 8, 9, 5]]
    for m in (attacks.MultisetMatcher(key.tile), attacks.InversionMatcher(key.tile)):
        m.fit(tr, y_tr, seed=int(rng.integers(1000)))
        np.testing.assert_array_equal(m.predict(te, enc), labels)
    inv = attacks.InversionMatcher(key.tile).fit(tr, y_tr)
    assert inv.matrix == key.matrix and inv.recovery_error == 0.0
    eq = attacks.equivalent_key(inv.matrix, key.shape, key.tile)
    np.testing.assert_array_equal(catmap.decrypt(y_te, eq), te)


def test_known_plaintext_needs_few_pairs():
    for _ in range(5):
        key = catmap.keygen((64, 64), tile=16)
        x = _images(8, 64, int(np.random.default_rng().integers(1 << 30)))
        k = attacks.pairs_needed(x, catmap.encrypt(x, key), 16, key.matrix)
        assert k is not None and k <= 2  # per-tile maps: one pair gives 16 tiles x 3 channels of evidence


def test_known_plaintext_tolerates_noisy_originals():
    key = catmap.keygen((32, 32), tile=8, seed=7)
    x = _images(6, 32, 3)
    noisy = np.clip(x.astype(int) + np.random.default_rng(0).integers(-3, 4, x.shape), 0, 255).astype(np.uint8)
    m, err = attacks.recover_catmap(noisy, catmap.encrypt(x, key), 8)
    assert m == key.matrix and 0 < err < 3


def test_fit_threshold_and_errors():
    assert attacks.fit_threshold([0, 0, 0], [5, 6]) == pytest.approx(2.5)
    assert attacks.fit_threshold([0, 0], [5, 6], place=0.1) == pytest.approx(0.5)
    with pytest.raises(InputError):
        attacks.fit_threshold([], [1])
    with pytest.raises(InputError, match="call fit"):
        attacks.MultisetMatcher(8).predict(np.zeros((1, 8, 8, 3), np.uint8), np.zeros((1, 8, 8, 3), np.uint8))
    with pytest.raises(InputError, match="multiples of the tile"):
        attacks.multiset_distance(np.zeros((1, 10, 10, 3), np.uint8), np.zeros((1, 10, 10, 3), np.uint8), 8)
    with pytest.raises(InputError, match="differ in shape"):
        attacks.multiset_distance(np.zeros((1, 8, 8, 3), np.uint8), np.zeros((2, 8, 8, 3), np.uint8), 8)
