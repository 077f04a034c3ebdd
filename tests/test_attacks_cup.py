"""Cat-map attacks on freshly generated keys: the key-free multiset matcher and known-plaintext recovery."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ppstudy import InputError
from ppstudy.attacks import catmap as attacks
from ppstudy.ciphers import catmap


def _images(n, side, seed):
    """Smooth-ish random images (low-resolution noise upscaled), like photographs in having repeated values."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, side // 4, side // 4, 3), dtype=np.uint8)
    return np.repeat(np.repeat(small, 4, axis=1), 4, axis=2)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), key_seed=st.integers(0, 2**32 - 1), mode=st.sampled_from(["tile", "whole"]))
def test_multiset_invariant_for_any_key(seed, key_seed, mode):
    x = _images(3, 32, seed)
    key = catmap.keygen((32, 32), mode=mode, tile=8, seed=key_seed)  # seeded: a failure can be replayed
    t = key.tile
    assert np.all(attacks.multiset_distance(x, catmap.encrypt(x, key), t) == 0)
    np.testing.assert_array_equal(
        attacks.multiset_signature(x, t), attacks.multiset_signature(catmap.encrypt(x, key), t)
    )


@pytest.mark.parametrize("key_seed", [0, 1, 2])
@pytest.mark.parametrize("mode", ["tile", "whole"])
def test_matchers_on_fresh_keys(mode, key_seed):
    tr, te = _images(12, 32, 1), _images(10, 32, 2)
    key = catmap.keygen((32, 32), mode=mode, tile=8, seed=key_seed)
    y_tr, y_te = catmap.encrypt(tr, key), catmap.encrypt(te, key)
    labels = np.array([1] * 5 + [0] * 5)
    enc = y_te.copy()
    enc[5:] = y_te[[6, 7, 8, 9, 5]]
    for m in (attacks.MultisetMatcher(key.tile), attacks.InversionMatcher(key.tile)):
        m.fit(tr, y_tr, seed=key_seed)
        np.testing.assert_array_equal(m.predict(te, enc), labels)
    inv = attacks.InversionMatcher(key.tile).fit(tr, y_tr)
    assert inv.matrix == key.matrix and inv.recovery_error == 0.0
    eq = attacks.equivalent_key(inv.matrix, key.shape, key.tile)
    assert eq.matrix == key.matrix
    np.testing.assert_array_equal(catmap.decrypt(y_te, eq), te)


def test_known_plaintext_needs_few_pairs():
    for s in range(5):
        key = catmap.keygen((64, 64), tile=16, seed=100 + s)
        x = _images(8, 64, s)
        k = attacks.pairs_needed(x, catmap.encrypt(x, key), 16, key.matrix)
        assert k is not None and k <= 2  # per-tile maps: one pair gives 16 tiles x 3 channels of evidence


def _rebuilt(tmp_path, n_train=12, n_test=10):
    from ppstudy.data import challenge as ch

    rng = np.random.default_rng(5)
    sources = [
        rng.integers(0, 256, (int(rng.integers(20, 48)), int(rng.integers(20, 48)), 3), dtype=np.uint8)
        for _ in range(n_train + n_test)
    ]
    ch.build(tmp_path, sources=sources, n_train=n_train, n_test=n_test, canvas=32, tile=8, subtasks=(1, 2), seed=9)
    return {st: (ch.read_split(tmp_path, st, "train"), ch.read_split(tmp_path, st, "test")) for st in (1, 2)}


def test_multiset_matcher_scores_one_on_a_rebuilt_challenge(tmp_path):
    """The exact invariant: on a challenge rebuilt in the documented layout (lossless PNGs, originals brought
    onto the canvas by the same to_canvas), every matching test pair is at distance 0, every other one
    above the threshold, whatever the organisers' key: accuracy exactly 1."""
    from ppstudy.data import challenge as ch

    for sub, (tr, te) in _rebuilt(tmp_path).items():
        tile = 8 if sub == 1 else 32
        m = attacks.MultisetMatcher(tile).fit(tr.originals, tr.encoded, seed=sub)
        d = m.distance(te.originals, te.encoded)
        assert np.all(d[te.labels == 1] == 0) and np.all(d[te.labels == 0] > m.threshold)
        assert float((m.predict(te.originals, te.encoded) == te.labels).mean()) == 1.0
        inv = attacks.InversionMatcher(tile).fit(tr.originals, tr.encoded)
        assert inv.matrix == ch.load_cat_key(tmp_path, sub).matrix
        assert float((inv.predict(te.originals, te.encoded) == te.labels).mean()) == 1.0


def test_multiset_matcher_needs_lossless_originals(tmp_path):
    """What the docstring says of real data: re-compressing the originals (JPEG) breaks the exact invariant,
    matching pairs are no longer at distance 0."""
    from PIL import Image

    tr, _ = _rebuilt(tmp_path)[1]
    jpeg = []
    for i, o in enumerate(tr.originals):
        Image.fromarray(o).save(tmp_path / f"{i}.jpg", quality=90)
        jpeg.append(np.asarray(Image.open(tmp_path / f"{i}.jpg").convert("RGB")))
    d = attacks.multiset_distance(np.stack(jpeg), tr.encoded, 8)
    assert np.all(attacks.multiset_distance(tr.originals, tr.encoded, 8) == 0) and np.all(d > 0)


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
