"""Ciphertext-only key recovery against the pixel cipher with one key per data set."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import binomtest

from ppstudy import InputError
from ppstudy.attacks import pixel as attacks
from ppstudy.ciphers import pixel

SIZE = 12


def smooth_images(n: int, size: int, seed: int) -> np.ndarray:
    """Synthetic natural-like images: smooth luminance, brighter at the top, warm colours (R > G > B)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.empty((n, size, size, 3))
    for i in range(n):
        f = rng.uniform(0.3, 1.2, (4, 2)) * rng.choice([-1, 1], (4, 2))
        ph = rng.uniform(0, 2 * np.pi, 4)
        amp = rng.uniform(15, 45, 4)
        lum = (
            rng.uniform(90, 170)
            - 60 * yy
            + sum(a * np.cos(2 * np.pi * (fy * yy + fx * xx) + p) for a, (fy, fx), p in zip(amp, f, ph))
        )
        for c, off in enumerate((25, 0, -30)):
            g = rng.uniform(0.2, 0.8, 2)
            p = rng.uniform(0, 2 * np.pi)
            wave = 15 * np.cos(2 * np.pi * (g[0] * yy + g[1] * xx) + p)
            out[i, ..., c] = lum + off + rng.uniform(-10, 10) + wave
    return np.clip(np.rint(out + rng.normal(0, 1.5, out.shape)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def public():
    return smooth_images(300, SIZE, seed=123)


@pytest.fixture(scope="module")
def priors(public):
    return {s: attacks.pixel_prior(public, shuffle=s) for s in (False, True)}


def same_key(a: pixel.PixelKey, b: pixel.PixelKey) -> bool:
    return np.array_equal(a.negpos, b.negpos) and np.array_equal(a.shuffle, b.shuffle) and a.steps == b.steps


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("draw", range(3))
def test_whole_key_from_three_images(priors, shuffle, draw):
    # 3 cipher images of 12x12: the correlation-across-images attack this replaced recovered the whole key
    # in 4/20 (step 2) and 0/20 (steps 2+3) such draws; the direct neighbour consistency needs no statistics
    # across images
    k = pixel.keygen((SIZE, SIZE, 3), seed=1000 + draw, shuffle=shuffle)
    x = smooth_images(3, SIZE, seed=5000 + draw)
    r = attacks.pixel_key_recovery(pixel.encrypt(x, k), priors[shuffle], shuffle=shuffle)
    assert same_key(r["key"], k)
    s = attacks.pixel_key_score(r["key"], k, x)
    assert s["key_bits"] == 1.0 and s["values"] == 1.0
    assert same_key(r["candidates"][0], r["key"]) and len(r["scores"]) == len(r["candidates"])
    assert np.all(np.diff(r["scores"]) <= 0)


@pytest.mark.parametrize("shuffle", [False, True])
def test_public_images_or_prior_give_the_same_result(public, priors, shuffle):
    k = pixel.keygen((SIZE, SIZE, 3), seed=7, shuffle=shuffle)
    y = pixel.encrypt(smooth_images(4, SIZE, seed=8), k)
    a = attacks.pixel_key_recovery(y, public, shuffle=shuffle)
    b = attacks.pixel_key_recovery(y, priors[shuffle], shuffle=shuffle)
    assert same_key(a["key"], b["key"]) and np.array_equal(a["scores"], b["scores"])


@pytest.mark.parametrize("shuffle", [False, True])
def test_candidates_are_the_global_transforms(priors, shuffle):
    # every candidate decrypts every pixel by the true key followed by one and the same signed permutation of
    # the colour channels, and the candidates are all such transforms, each once
    k = pixel.keygen((SIZE, SIZE, 3), seed=21, shuffle=shuffle)
    x = smooth_images(4, SIZE, seed=22)
    r = attacks.pixel_key_recovery(pixel.encrypt(x, k), priors[shuffle], shuffle=shuffle)
    perms = list(itertools.permutations(range(3))) if shuffle else [(0, 1, 2)]
    transforms = [(p, f) for p in perms for f in itertools.product((0, 1), repeat=3)]
    x16 = x.astype(np.int16)
    found = []
    for c in r["candidates"]:
        dec = pixel.decrypt(pixel.encrypt(x, k), c).astype(np.int16)
        hits = [
            t
            for t, (p, f) in enumerate(transforms)
            if np.array_equal(dec, np.where(np.array(f, bool), 255 - x16[..., list(p)], x16[..., list(p)]))
        ]
        assert len(hits) == 1
        found.append(hits[0])
    assert sorted(found) == list(range(len(transforms)))


@pytest.mark.parametrize("shuffle,draw", [(True, 12), (False, 20)])
def test_refinement_corrects_the_tree(priors, monkeypatch, shuffle, draw):
    # from 2 images the spanning tree gets a few pixels wrong; the grid refinement with the line evidence
    # corrects them (without the line evidence it does not, on these seeded draws)
    k = pixel.keygen((SIZE, SIZE, 3), seed=2000 + draw, shuffle=shuffle)
    y = pixel.encrypt(smooth_images(2, SIZE, seed=6000 + draw), k)
    r = attacks.pixel_key_recovery(y, priors[shuffle], shuffle=shuffle)
    assert same_key(r["key"], k) and not same_key(r["tree_key"], k)
    assert 0.95 < attacks.pixel_key_score(r["tree_key"], k)["key_bits"] < 1
    t = attacks.pixel_key_recovery(y, priors[shuffle], shuffle=shuffle, refine=False)
    assert same_key(t["key"], r["tree_key"])
    monkeypatch.setattr(attacks, "LINE_WEIGHT", 0.0)
    assert not same_key(attacks.pixel_key_recovery(y, priors[shuffle], shuffle=shuffle)["key"], k)


@pytest.mark.parametrize("shuffle", [False, True])
def test_no_data_correlation_gives_no_key(shuffle):
    # i.i.d. noise has no spatial structure: the attack is at chance (it cannot read the key off anything else)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 16, 16, 3), dtype=np.uint8)
    public = rng.integers(0, 256, (200, 16, 16, 3), dtype=np.uint8)
    k = pixel.keygen((16, 16, 3), seed=1, shuffle=shuffle)
    r = attacks.pixel_key_recovery(pixel.encrypt(x, k), public, shuffle=shuffle)
    s = attacks.pixel_key_score(r["key"], k)
    assert not same_key(r["key"], k)
    assert 0.4 < s["negpos_bits"] < 0.6
    if shuffle:
        assert s["permutations"] < 0.3  # chance: 1/6
    best = max(attacks.pixel_key_score(c, k)["key_bits"] for c in r["candidates"])
    assert best < 0.7


def test_score_of_true_key_and_counts():
    k = pixel.keygen((4, 4, 3), seed=0)
    s = attacks.pixel_key_score(k, k)
    assert s == {"negpos_bits": 1.0, "permutations": 1.0, "key_bits": 1.0}
    inv = pixel.PixelKey(k.shape, k.steps, ~k.negpos, k.shuffle)
    s = attacks.pixel_key_score(inv, k)
    assert s["negpos_bits"] == 0 and math.isclose(s["key_bits"], math.log2(6) / (3 + math.log2(6)))


@pytest.mark.parametrize("k,n", [(0, 10), (10, 10), (5, 10), (37, 200), (199, 200), (1, 3)])
def test_clopper_pearson_matches_scipy(k, n):
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    lo, hi = attacks.clopper_pearson(k, n)
    assert math.isclose(lo, ci.low, abs_tol=1e-12) and math.isclose(hi, ci.high, abs_tol=1e-12)
    assert lo <= k / n <= hi


def test_success_rates_rows(public, priors):
    pool = smooth_images(30, SIZE, seed=77)
    rows = attacks.success_rates(pool, priors[True], [2, 3], draws=4, shuffle=True, seed=5)
    assert [r["cipher_images"] for r in rows] == [2, 3]
    for r in rows:
        assert set(r) == {
            "cipher",
            "cipher_images",
            "draws",
            "successes",
            "rate",
            "ci95_low",
            "ci95_high",
            "mean_key_bits",
        }
        assert r["cipher"] == "steps 2+3" and r["draws"] == 4 and r["rate"] == r["successes"] / 4
        assert (r["ci95_low"], r["ci95_high"]) == attacks.clopper_pearson(r["successes"], 4)
        assert 0 <= r["mean_key_bits"] <= 1
    assert rows[1]["mean_key_bits"] > 0.99  # nearly every key bit from three images
    # seeded: the same rows again, from the public images as well as from their prior
    assert attacks.success_rates(pool, public, [2, 3], draws=4, shuffle=True, seed=5) == rows
    step2 = attacks.success_rates(pool, priors[False], [3], draws=2, shuffle=False, seed=5)
    assert step2[0]["cipher"] == "step 2" and step2[0]["mean_key_bits"] > 0.99


def test_bad_input(public, priors):
    y = np.zeros((5, SIZE, SIZE, 3), np.uint8)
    with pytest.raises(InputError, match="uint8"):
        attacks.pixel_key_recovery(np.zeros((5, 4, 4), np.uint8), public)
    with pytest.raises(InputError, match="uint8"):
        attacks.pixel_key_recovery(y.astype(np.float32), public)
    with pytest.raises(InputError, match="at least 2 images"):
        attacks.pixel_key_recovery(y[:1], public)
    with pytest.raises(InputError, match="2 x 2"):
        attacks.pixel_key_recovery(np.zeros((5, 1, 8, 3), np.uint8), np.zeros((5, 1, 8, 3), np.uint8))
    with pytest.raises(InputError, match="public images"):
        attacks.pixel_key_recovery(np.zeros((5, 8, 8, 3), np.uint8), public)
    with pytest.raises(InputError, match="shuffle"):
        attacks.pixel_key_recovery(y, priors[True], shuffle=False)
    with pytest.raises(InputError, match="public images"):
        attacks.pixel_prior([[1, 2, 3]])
    with pytest.raises(InputError, match="counts"):
        attacks.success_rates(y, priors[True], [1], draws=2, shuffle=True, seed=0)
    with pytest.raises(InputError, match="counts"):
        attacks.success_rates(y, priors[True], [6], draws=2, shuffle=True, seed=0)
    with pytest.raises(InputError, match="draws"):
        attacks.success_rates(y, priors[True], [2], draws=0, shuffle=True, seed=0)
    with pytest.raises(InputError):
        attacks.clopper_pearson(3, 2)


def test_study_attack_rows_take_more_draws_where_asked(public):
    from ppstudy.studies import pixel as study

    pool = smooth_images(30, SIZE, seed=78)
    rows = study.attack_success(pool, public, [2, 3], draws=2, seed=5, draws_at={3: 5})
    assert [(r["cipher"], r["cipher images"], r["draws"]) for r in rows] == [
        ("step 2", 2, 2),
        ("step 2", 3, 5),
        ("steps 2+3", 2, 2),
        ("steps 2+3", 3, 5),
    ]
    # the same draws as the attack's own rows: the study only relabels them
    same = attacks.success_rates(pool, public, [3], draws=5, shuffle=False, seed=5)[0]
    assert rows[1]["successes"] == same["successes"] and rows[1]["measured: 95% low"] == same["ci95_low"]
