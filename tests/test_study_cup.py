"""The Big Data Cup chapter's functions on small inputs with known answers: the winner's ensemble and
submission, the approaches' settings, the split leak, model selection on chance, BFV at chance over
repetitions."""

from __future__ import annotations

import importlib.util
from itertools import product

import numpy as np
import pytest
from scipy.stats import binom, binomtest

from ppstudy import InputError, metrics
from ppstudy.studies import cup

needs_pyfhel = pytest.mark.skipif(
    importlib.util.find_spec("Pyfhel") is None, reason="Pyfhel is not installed (pip install Pyfhel)"
)


# ---------------------------------------------------------------------- the winner's submission
def test_ensemble_accuracy_averages_then_rounds():
    probs = [np.array([0.2, 0.9, 0.5, 0.6]), np.array([0.4, 0.7, 0.5, 0.3])]
    acc, pred = cup.ensemble_accuracy(probs, np.array([0, 1, 1, 1]))
    # means 0.3, 0.8, 0.5, 0.45: a mean of exactly 1/2 is a match; 0.45 is not although one model said 0.6
    assert pred.tolist() == [0, 1, 1, 0] and acc == 0.75
    assert cup.ensemble_accuracy([np.array([0.9, 0.1])], np.array([1, 0]))[0] == 1.0
    with pytest.raises(InputError, match="no model"):
        cup.ensemble_accuracy([], np.array([1]))
    with pytest.raises(InputError, match="different numbers"):
        cup.ensemble_accuracy([np.zeros(3), np.zeros(2)], np.zeros(3))
    with pytest.raises(InputError, match="labels"):
        cup.ensemble_accuracy([np.zeros(3)], np.zeros(2))


def test_write_submission(tmp_path):
    p = cup.write_submission(tmp_path / "s.txt", {3: np.array([1, 1]), 1: np.array([0, 1, 0]), 2: np.array([1])})
    assert p.read_text() == "0\n1\n0\n1\n1\n1\n"  # subtasks 1, 2, 3 in order, one line per pair
    with pytest.raises(InputError, match="other than 0 and 1"):
        cup.write_submission(tmp_path / "s.txt", {1: np.array([0.7])})
    with pytest.raises(InputError, match="subtasks"):
        cup.write_submission(tmp_path / "s.txt", {4: np.array([1])})


def test_approach_settings():
    from ppstudy.models.pair_cnn import PairAugment

    expect = {
        "1": (PairAugment(p=0.1), "all"),
        "2": (PairAugment(p=0.1), "all"),
        "3-T1": (PairAugment(p=0.1), "original"),
        "3-T2": (None, "none"),
        "3-T3": (PairAugment(p=0.1, both=True, extra=True), "all"),
    }
    for row, (aug, norm) in expect.items():
        st = cup.approach_settings(row, 0.1)
        assert st["augment"] == aug and st["norm"] == norm
    assert cup.approach_settings("1", 0.3)["augment"].p == 0.3
    with pytest.raises(InputError, match="unknown subtask"):
        cup.approach_settings("3-T4", 0.1)
    with pytest.raises(InputError, match="probability"):
        cup.approach_settings("1", 1.5)


# ---------------------------------------------------------------------- the split leak
def _leak_reference(n: int, split_seed: int) -> float:
    """The partner rule written out pair by pair (the study vectorises it)."""
    from ppstudy.data.challenge import split_80_20

    labels = [1] * n + [0] * n  # pairs 0..n-1 match, pair n + i re-pairs original i
    tr, va = split_80_20(2 * n, seed=split_seed)
    in_train = set(tr.tolist())
    guess = np.random.default_rng(split_seed).integers(0, 2, len(va))
    correct = 0
    for j, v in enumerate(va):
        partner = v + n if v < n else v - n
        pred = 1 - labels[partner] if partner in in_train else guess[j]
        correct += int(pred == labels[v])
    return correct / len(va)


def test_memorisation_baseline_known_answers():
    for n, s in ((5, 0), (17, 3), (200, 1)):
        assert cup.memorisation_baseline(n, s) == _leak_reference(n, s)
    # expected value: the partner of a validation pair is in the training part with probability k / (2n - 1)
    # (k = 1600 training pairs of 2000), then the rule is right; otherwise it guesses
    n = 1000
    expected = 1600 / 1999 + 0.5 * (1 - 1600 / 1999)
    mean = np.mean([cup.memorisation_baseline(n, s) for s in range(20)])
    assert abs(mean - expected) < 0.01  # sd of the mean of 20 runs on 400 pairs: about 0.0025


# ---------------------------------------------------------------------- model selection on chance
def test_chance_tail_is_the_one_sided_binomial_test():
    for k, n in ((12, 20), (2099, 4000), (2062, 4000)):
        assert metrics.chance_tail(k / n, n) == pytest.approx(binomtest(k, n, 0.5, alternative="greater").pvalue)
    # accuracies that are not multiples of 1/n are rounded down (the larger tail)
    assert metrics.chance_tail(0.524585, 4000) == pytest.approx(binom.sf(2097, 4000, 0.5))
    assert metrics.chance_tail(0.0, 10) == 1.0


def test_best_of_k_against_enumeration():
    n, k = 10, 3
    pmf = binom.pmf(np.arange(n + 1), n, 0.5)
    joint = {}  # the distribution of the best of k models, by enumerating all k-tuples of outcomes
    for outcome in product(range(n + 1), repeat=k):
        joint[max(outcome)] = joint.get(max(outcome), 0.0) + np.prod(pmf[list(outcome)])
    for t in range(n + 1):
        sf = sum(v for m, v in joint.items() if m >= t)
        assert metrics.best_of_chance_sf(t / n, k, n) == pytest.approx(sf, abs=1e-12)
    cdf = np.cumsum([joint.get(m, 0.0) for m in range(n + 1)])
    for q in (0.05, 0.5, 0.95):
        assert metrics.best_of_chance_quantile(q, k, n) == np.argmax(cdf >= q - 1e-12) / n
    # at least j of m: enumeration of which models reach the threshold
    t = metrics.chance_tail(0.7, n)
    for j, m in ((1, 3), (2, 4), (4, 4)):
        ref = sum(np.prod([t if b else 1 - t for b in bits]) for bits in product((0, 1), repeat=m) if sum(bits) >= j)
        assert metrics.at_least_j_of_chance_sf(0.7, j, m, n) == pytest.approx(ref)


def test_tries_needed_is_the_smallest():
    for acc, j in ((0.524585, 1), (0.515097, 5), (0.51, 1), (0.53, 3)):
        m = metrics.tries_needed(acc, 4000, j=j)
        assert metrics.at_least_j_of_chance_sf(acc, j, m, 4000) >= 0.5
        assert m == j or metrics.at_least_j_of_chance_sf(acc, j, m - 1, 4000) < 0.5
    assert metrics.tries_needed(0.9, 4000, max_tries=10**6) is None
    assert metrics.tries_needed(0.5, 4000) == 1  # half of all chance models reach 1/2


def test_model_selection_on_the_papers_table():
    rows = {r["approach"]: r for r in cup.model_selection()}
    assert list(rows) == ["3-T1", "3-T2", "3-T3", "3 (all)"]
    t1, allr = rows["3-T1"], rows["3 (all)"]
    assert (t1["models k"], t1["best val. accuracy (paper)"], t1["worst val. accuracy (paper)"]) == (
        3,
        0.524585,
        0.515491,
    )
    assert allr["models k"] == 5 and allr["worst val. accuracy (paper)"] == 0.515097
    assert t1["z of the best"] == pytest.approx(0.024585 / np.sqrt(0.25 / 4000))  # 3.11 standard deviations
    assert rows["3-T2"]["P(the best of k reaches it)"] == rows["3-T2"]["P(one reaches the best)"]  # one model
    tail = binom.sf(2097, 4000, 0.5)
    assert t1["P(the best of k reaches it)"] == pytest.approx(1 - (1 - tail) ** 3)
    # a seeded simulation of three chance-level models on 4000 pairs agrees with the exact value
    rng = np.random.default_rng(0)
    best = rng.binomial(4000, 0.5, size=(400_000, 3)).max(axis=1)
    sim = float(np.mean(best >= 2098))
    se = np.sqrt(sim * (1 - sim) / 400_000)
    assert abs(sim - t1["P(the best of k reaches it)"]) < 5 * se
    assert np.quantile(best / 4000, 0.95) == pytest.approx(t1["best of k: 95% quantile"], abs=1 / 4000)
    # how many chance-level runs a selection would need: hundreds, not the handful in Table 1
    assert t1["runs needed: the best"] > 100 and allr["runs needed: all k"] > 100
    assert allr["P(all k reach the worst)"] < 1e-6


# ---------------------------------------------------------------------- BFV at chance
def _faces(n, side=52, seed=0):
    """Distinct smooth 'faces': low-resolution noise upscaled."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, side // 4 + 1, side // 4 + 1, 3), dtype=np.uint8)
    return np.ascontiguousarray(np.repeat(np.repeat(small, 4, 1), 4, 2)[:, :side, :side])


LEVEL = 1 - 1e-6  # a chance-level matcher's interval misses 1/2 with probability < 1e-6: no flaky failures


@pytest.mark.fhe
@needs_pyfhel
def test_bfv_interval_covers_one_half_and_a_leaky_cipher_does_not():
    """SEAL cannot be seeded, so the test relies on its statistics: a matcher that cannot see through BFV
    is at chance, and its exact interval at level 1 - 1e-6 covers 1/2; the same matcher on a cipher that
    keeps the pixel multisets (the cat map) is far from chance, so the test can fail."""
    from ppstudy.attacks.catmap import MultisetMatcher
    from ppstudy.ciphers import bfv, catmap
    from ppstudy.data.challenge import test_pairing

    tr, te = _faces(40, seed=1), _faces(400, seed=2)
    partner, labels = test_pairing(len(te), np.random.default_rng(3))
    key = bfv.keygen()

    def view(cts):
        return np.stack([bfv.ciphertext_image(c) for c in cts])

    tr_e, te_e = view(bfv.encrypt(tr, key)), view(bfv.encrypt(te[partner], key))
    m = MultisetMatcher(52).fit(tr, tr_e, seed=0)
    k = int((m.predict(te, te_e) == labels).sum())
    lo, hi = metrics.binomial_ci(k, len(te), LEVEL)
    assert lo <= 0.5 <= hi
    ck = catmap.keygen((52, 52), mode="whole", seed=0)
    mc = MultisetMatcher(52).fit(tr, catmap.encrypt(tr, ck), seed=0)
    kc = int((mc.predict(te, catmap.encrypt(te[partner], ck)) == labels).sum())
    assert metrics.binomial_ci(kc, len(te), LEVEL)[0] > 0.5


@pytest.mark.fhe
@needs_pyfhel
def test_bfv_repetitions():
    tr, te = _faces(24, 32, seed=4), _faces(120, 32, seed=5)
    res = cup.bfv_repetitions(
        tr, te, repetitions=2, seed=7, accuracies_12=(1.0, 0.9), rows=[10], epochs=1, batch_size=16
    )
    assert res["repetitions"] == 2 and res["n_test"] == 120 and len(res["per_repetition"]) == 2
    for rep, r in enumerate(res["per_repetition"]):
        assert r["model_seeds"] == {"3-1": 7 + 10 + 15 * rep}  # repetition 0 uses the chapter's seeds
        assert r["matching_test_pairs"] == 60 and r["pairing_seed"] == [7, rep]
        assert r["ensemble_test_acc"] == r["model_test_acc"]["3-1"]  # an ensemble of one model
        assert r["ensemble_test_acc"] * 120 == pytest.approx(round(r["ensemble_test_acc"] * 120))
        assert r["weighted_score"] == pytest.approx(0.1 + 0.3 * 0.9 + 0.6 * r["ensemble_test_acc"])
        for acc in (r["ensemble_test_acc"], r["multiset_test_acc"]):  # both at chance
            lo, hi = metrics.binomial_ci(round(acc * 120), 120, LEVEL)
            assert lo <= 0.5 <= hi
    s = res["summary"]["weighted_score"]
    vals = [r["weighted_score"] for r in res["per_repetition"]]
    assert (
        s["values"] == vals
        and s["mean"] == pytest.approx(np.mean(vals))
        and s["sd"] == pytest.approx(np.std(vals, ddof=1))
    )
    rows = cup.repetition_rows(res)
    assert rows[-1]["paper"] == cup.PAPER_FINAL_SCORE and rows[-1]["measured_mean"] == pytest.approx(s["mean"])
    with pytest.raises(InputError, match="subtask-3 rows"):
        cup.bfv_repetitions(tr, te, rows=[0])
    with pytest.raises(InputError, match="repetitions"):
        cup.bfv_repetitions(tr, te, repetitions=0)


def test_spread():
    s = metrics.spread([0.5, 0.6, 0.7])
    assert s == {
        "n": 3,
        "mean": pytest.approx(0.6),
        "sd": pytest.approx(0.1),
        "min": 0.5,
        "max": 0.7,
        "values": [0.5, 0.6, 0.7],
    }
    assert np.isnan(metrics.spread([1.0])["sd"])
    with pytest.raises(InputError):
        metrics.spread([])


def test_ensemble_agreement_follows_the_most_confident_model():
    labels = np.array([1, 0, 1, 0, 1, 0])
    sure = np.array([0.95, 0.9, 0.05, 0.1, 0.97, 0.02])  # far from 1/2
    unsure = [np.array([0.45, 0.55, 0.55, 0.45, 0.4, 0.6]), np.array([0.52, 0.48, 0.6, 0.49, 0.45, 0.55])]
    acc, pred = cup.ensemble_accuracy([sure, *unsure], labels)
    assert np.array_equal(pred, sure >= 0.5) and acc == pytest.approx(np.mean((sure >= 0.5) == labels))
    rows = {r["model"]: r for r in cup.ensemble_agreement([sure, *unsure], ["a", "b", "c"])}
    assert rows["a"]["agreement"] == 1.0 and max(rows["b"]["agreement"], rows["c"]["agreement"]) < 1.0
    assert rows["a"]["confidence"] == pytest.approx(np.abs(sure - 0.5).mean())
    with pytest.raises(InputError, match="3 probability arrays for 2 names"):
        cup.ensemble_agreement([sure, *unsure], ["a", "b"])


def test_score_chance_bound_is_the_ceiling_for_one_run_and_grows_with_the_runs_selected_from():
    n = 4000
    # perfect subtasks 1 and 2, one run: the leaderboard ceiling with n graded pairs
    assert cup.score_chance_bound(1.0, 1.0, 1, n) == pytest.approx(metrics.chance_ceiling(n_test=n), abs=1e-12)
    b1, b8 = cup.score_chance_bound(0.9, 0.8, 1, n), cup.score_chance_bound(0.9, 0.8, 8, n)
    assert b8 > b1  # the best of 8 chance runs lands higher than one
    # at the bound the best of 8 chance accuracies stays below with probability >= 95%, one pair lower not
    j = round((b8 - 0.1 * 0.9 - 0.3 * 0.8) / 0.6 * n)
    assert binom.cdf(j, n, 0.5) ** 8 >= 0.95 > binom.cdf(j - 1, n, 0.5) ** 8
