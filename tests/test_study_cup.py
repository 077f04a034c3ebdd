"""The Big Data Cup chapter's functions on small inputs with known answers: the winner's ensemble and
submission, the approaches' settings, the split leak, model selection on chance, BFV at chance over
repetitions."""

from __future__ import annotations

import importlib.util
import json
import re
from itertools import product
from pathlib import Path

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
    assert (t1["k"], t1["best"], t1["worst"]) == (3, 0.524585, 0.515491)
    assert allr["k"] == 5 and allr["worst"] == 0.515097
    assert t1["z"] == pytest.approx(0.024585 / np.sqrt(0.25 / 4000))  # 3.11 standard deviations
    assert rows["3-T2"]["p_best_of_k"] == rows["3-T2"]["p_one"]  # one model
    tail = binom.sf(2097, 4000, 0.5)
    assert t1["p_best_of_k"] == pytest.approx(1 - (1 - tail) ** 3)
    # a seeded simulation of three chance-level models on 4000 pairs agrees with the exact value
    rng = np.random.default_rng(0)
    best = rng.binomial(4000, 0.5, size=(400_000, 3)).max(axis=1)
    sim = float(np.mean(best >= 2098))
    se = np.sqrt(sim * (1 - sim) / 400_000)
    assert abs(sim - t1["p_best_of_k"]) < 5 * se
    assert np.quantile(best / 4000, 0.95) == pytest.approx(t1["q_best_of_k"], abs=1 / 4000)
    # how many chance-level runs a selection would need: hundreds, not the handful in Table 1
    assert t1["runs_best"] > 100 and allr["runs_all"] > 100
    assert allr["p_all_k"] < 1e-6
    # the table shows the records under its labels
    table = {r["approach"]: r for r in cup.selection_rows(cup.model_selection())}
    assert table["3-T1"]["P(the best of k reaches it)"] == t1["p_best_of_k"]
    assert table["3-T1"]["best of k: 95% quantile"] == t1["q_best_of_k"]


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


# ---------------------------------------------------------------------- the chapter's steps
def _model(subtask, probs, **kw):
    """A Table 1 model record as :func:`cup.train_table1` returns it (only what the steps read)."""
    rec = {
        "subtask": subtask,
        "row": str(subtask),
        "model": f"{subtask}-x",
        "test_probs": np.asarray(probs, float),
        "predict_s": 0.5,
        "train_seconds": 2.0,
        "paper_val_acc": 0.5,
    }
    rec.update(kw)
    return rec


def test_submit_averages_each_subtasks_models_and_writes_the_file(tmp_path):
    labels = {1: np.array([1, 0]), 2: np.array([1, 1, 0]), 3: np.array([0, 1])}
    data = {st: {"test_labels": v} for st, v in labels.items()}
    models = [
        _model(1, [0.9, 0.2]),
        _model(2, [0.2, 0.9, 0.1]),
        _model(2, [0.9, 0.4, 0.2]),  # means 0.55, 0.65, 0.15: all right
        _model(3, [0.6, 0.4]),  # both wrong
        _model(1, [0.2, 0.9]),  # means 0.55, 0.55: the second wrong
    ]
    acc = cup.submit(models, data, tmp_path / "s.txt")
    assert acc == {1: 0.5, 2: 1.0, 3: 0.0}
    assert (tmp_path / "s.txt").read_text().split() == ["1", "1", "1", "1", "0", "1", "0"]
    ens = cup.ensembles(models, data)
    assert ens[2]["correct"] == 3 and ens[1]["correct"] == 1 and ens[3]["n"] == 2


def test_all_approaches_merges_the_ensemble_and_the_siamese_matchers_sorted():
    data = {st: {"test_labels": np.zeros(10)} for st in (1, 2, 3)}
    attacks = [
        {"subtask": 2, "approach": cup.MULTISET, "accuracy": 1.0, "pairs_per_s": 50.0, "fit_s": 0.1, "correct": 10},
        {"subtask": 1, "approach": cup.KPA, "accuracy": 1.0, "pairs_per_s": 40.0, "fit_s": 0.2, "correct": 10},
    ]
    models = [
        _model(1, [0.5] * 10, predict_s=2.0, train_seconds=3.0),
        _model(1, [0.5] * 10, predict_s=3.0, train_seconds=4.0),
        _model(2, [0.5] * 10),
        _model(3, [0.5] * 10),
    ]
    siamese = [
        {
            "subtask": 1,
            "matcher": "Siamese (x)",
            "accuracy": 0.7,
            "pairs_per_s": 900.0,
            "fit_s": 5.0,
            "val_acc": 0.6,
            "pairs_scored": 4,
        }
    ]
    out = cup.all_approaches(attacks, models, {1: 0.9, 2: 0.8, 3: 0.5}, siamese, data)
    assert [(r["subtask"], r["approach"]) for r in out] == [
        (1, "Siamese (x)"),
        (1, cup.KPA),
        (1, cup.ENSEMBLE),
        (2, cup.MULTISET),
        (2, cup.ENSEMBLE),
        (3, cup.ENSEMBLE),
    ]
    ens1 = out[2]
    assert ens1 == {"subtask": 1, "approach": cup.ENSEMBLE, "accuracy": 0.9, "pairs_per_s": 2.0, "fit_s": 7.0}
    assert set(out[1]) == {"subtask", "approach", "accuracy", "pairs_per_s", "fit_s"}  # no extra keys
    rows = cup.approach_rows(out)
    assert rows[0]["measured: test accuracy"] == 0.7 and rows[0]["measured: pairs/s"] == 900.0


def test_chance_results_and_rows():
    models = [_model(3, [0.5], row="3-T1", model="3-1", test_acc=0.58, paper_val_acc=0.515491), _model(1, [0.5])]
    attacks = [
        {"subtask": 1, "approach": cup.MULTISET, "accuracy": 1.0, "n": 50},
        {"subtask": 3, "approach": cup.KPA, "accuracy": 0.9, "n": 50},
        {"subtask": 3, "approach": cup.MULTISET, "accuracy": 0.44, "n": 50},
    ]
    out = cup.chance_results(0.52, models, attacks)
    assert [c["matcher"] for c in out] == ["winner's ensemble (3-T1..3-T3)", "model 3-1 (3-T1)", cup.MULTISET]
    # 0.58 * 50 is 28.999...: rounded, not cut
    assert [c["k"] for c in out] == [26, 29, 22] and out[1]["paper"] == 0.515491
    for c in out:
        assert (c["lo"], c["hi"]) == metrics.binomial_ci(c["k"], 50)
        assert c["p"] == pytest.approx(binomtest(c["k"], 50, 0.5).pvalue)
    assert cup.chance_rows(out)[1]["measured: 95% low"] == out[1]["lo"]


def test_ceiling_and_leaderboard_known_answers():
    c = cup.ceiling(9000)
    assert c["expected"] == pytest.approx(0.7) and c["best_val_acc_12"] == (0.999, 0.959497)
    assert c["implied"] == pytest.approx(0.1 * 0.999 + 0.3 * 0.959497 + 0.6 * 0.5)  # 0.6877491
    assert c["lucky"] == metrics.chance_ceiling(n_test=9000)
    assert [r["measured"] for r in cup.ceiling_rows(c)][:3] == [c["expected"], c["lucky"], c["implied"]]
    attacks = [
        {"subtask": st, "approach": a, "accuracy": acc}
        for st in (1, 2)
        for a, acc in ((cup.MULTISET, 1.0), (cup.KPA, 0.5 + 0.25 * st))
    ]
    board = cup.leaderboard_rows({1: 0.9, 2: 0.8, 3: 0.5}, attacks)
    assert [r["measured: weighted score"] for r in board] == pytest.approx(
        [0.09 + 0.24 + 0.3, 0.1 + 0.3 + 0.3, 0.075 + 0.3 + 0.3]
    )


def test_train_table1_model_is_the_winners_recipe_for_its_row():
    """One function trains a Table 1 row for both the chapter's table and the BFV repetitions: it is the
    recipe's training call with the row's approach and network, seeded, scored on the test pairs."""
    import torch

    from ppstudy.models.pair_cnn import pair_cnn, predict_proba

    rng = np.random.default_rng(0)
    orig = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    enc = orig[:, ::-1].copy()
    test = np.concatenate([orig[:6], enc[:6]], axis=3)
    kw = {"epochs": 1, "batch_size": 8, "lr": 1e-3, "aug_p": 0.1}
    res = cup.train_table1_model(13, orig, enc, test, seed=5, tiny=True, **kw)
    assert res["network"] == "tiny_efficientnet" and "model" not in res and res["n_val"] == 5
    torch.manual_seed(5)
    ref = cup.train_pair_model(pair_cnn("tiny_efficientnet"), orig, enc, row_subtask="3-T2", split_seed=5, seed=5, **kw)
    assert res["val_acc"] == ref["val_acc"] and np.array_equal(res["val_correct"], ref["val_correct"])
    np.testing.assert_allclose(res["test_probs"], predict_proba(ref["model"], test, ref["normalization"]), rtol=1e-6)
    # every validation pair's original: pair j of training_pairs holds original j mod n
    from ppstudy.data.challenge import split_80_20

    _, va = split_80_20(24, seed=5)
    assert np.array_equal(res["val_original"], va % 12)


@needs_pyfhel
@pytest.mark.fhe
def test_a_rebuilt_challenge_loads_and_the_attacks_recover_its_keys(tmp_path):
    root, rebuilt, source = cup.prepare_challenge(
        tmp_path / "ch", n_train=6, n_test=6, canvas=32, tile=8, face=16, seed=1
    )
    assert rebuilt and source.smoke
    data, tiles = cup.load_challenge(root)
    assert tiles == {1: 8, 2: 32, 3: 16}
    arr = cup.example_arrays(data)
    assert sorted(arr) == ["enc1", "enc2", "enc3", "orig1", "orig2", "orig3"]
    assert np.array_equal(arr["orig2"], data[2]["train_orig"][0]) and np.array_equal(
        arr["enc1"], data[1]["train_enc"][0]
    )
    attacks, matchers = cup.attack_approaches(data, tiles, seed=0)
    assert [(r["subtask"], r["approach"]) for r in attacks] == [
        (1, cup.MULTISET),
        (1, cup.KPA),
        (2, cup.MULTISET),
        (2, cup.KPA),
        (3, cup.MULTISET),
    ]
    for r in attacks[:4]:
        assert r["accuracy"] == 1.0 and r["correct"] == r["n"] == 6
    rec = cup.key_recovery(matchers, data, tiles, root, True)
    for r in rec:
        assert r["recovered"] and r["matrix"] == r["true_matrix"] and r["error"] == 0
        assert 1 <= r["pairs_needed"] <= 6
    assert "recovered" not in cup.key_recovery(matchers, data, tiles, root, False)[0]
    rows = cup.recovery_rows(rec)
    assert rows[0]["measured: key recovered"] is True and rows[0]["recovered matrix A"] == str(rec[0]["matrix"])


# ---------------------------------------------------------------------- dependence between pairs, power
def test_cluster_bootstrap_known_answers():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, 600).astype(float)
    # one value per cluster: the ordinary bootstrap, design effect 1 up to Monte Carlo error
    single = cup.cluster_bootstrap(x, np.arange(600), n_boot=4000, seed=1)
    assert single["mean"] == x.mean() and single["clusters"] == 600
    assert single["se_iid"] == pytest.approx(x.std() / np.sqrt(600))
    assert abs(single["design_effect"] - 1) < 0.15  # sd of a variance estimate from 4000 draws: about 0.022
    # clusters of 3 equal values: the mean of 200 independent values, design effect 3
    same = cup.cluster_bootstrap(np.repeat(x[:200], 3), np.repeat(np.arange(200), 3), n_boot=4000, seed=1)
    assert abs(same["design_effect"] - 3) < 0.45
    # clusters of one right and one wrong (a model that answers by the original alone): every resample is 1/2
    anti = cup.cluster_bootstrap(np.tile([1.0, 0.0], 300), np.repeat(np.arange(300), 2), seed=1)
    assert anti["se"] == 0 and anti["lo"] == anti["hi"] == 0.5 and anti["design_effect"] == 0
    # unequal cluster sizes: a resample's mean is its total over its size, not a mean of cluster means
    two = cup.cluster_bootstrap([1.0, 1.0, 1.0, 0.0], ["a", "a", "a", "b"], n_boot=2000, seed=0)
    assert two["lo"] == 0.0 and two["hi"] == 1.0  # only b, only a
    assert abs(two["se"] ** 2 - np.var([0.0, 0.75, 0.75, 1.0])) < 0.01  # bb, ab, ba, aa: the four resamples
    assert cup.cluster_bootstrap(x, np.arange(600), seed=3) == cup.cluster_bootstrap(x, np.arange(600), seed=3)
    with pytest.raises(InputError, match="one cluster each"):
        cup.cluster_bootstrap([1.0, 0.0, 1.0], [0, 1])


def test_chance_test_power_is_the_rejection_probability_of_the_interval():
    n = 40
    rejects = [not (lo <= 0.5 <= hi) for lo, hi in (metrics.binomial_ci(k, n) for k in range(n + 1))]
    for acc in (0.5, 0.6, 0.75):
        assert cup.chance_test_power(n, acc) == pytest.approx(binom.pmf(np.flatnonzero(rejects), n, acc).sum())
    assert cup.chance_test_power(n, 0.5) <= 0.05  # its size
    # a seeded simulation at the chapter's scale agrees
    k = np.random.default_rng(0).binomial(500, 0.515, 200_000)
    lo_k = min(i for i in range(501) if binom.sf(i - 1, 500, 0.5) <= 0.025)
    sim = np.mean((k >= lo_k) | (k <= 500 - lo_k))
    assert cup.chance_test_power(500, 0.515) == pytest.approx(sim, abs=0.003)
    n80 = cup.pairs_for_power(0.515)
    assert cup.chance_test_power(n80, 0.515) >= 0.8 > cup.chance_test_power(int(0.95 * n80), 0.515)


def test_validation_dependence_and_selection_under_it():
    n = 100
    # validation pairs 0..39 (matching) and n..n+19 (re-paired): originals 0..19 in two pairs, 20..39 in one
    va = np.concatenate([np.arange(40), np.arange(n, n + 20)])
    orig = va % n
    correct = np.concatenate([np.ones(20), np.zeros(20), np.zeros(20)])  # 0..19 right once, wrong once
    models = [{"subtask": 3, "model": "3-1", "row": "3-T1", "val_correct": correct == 1, "val_original": orig}]
    (d,) = cup.validation_dependence(models + [{"subtask": 1}], n_boot=500)
    assert d["val_acc"] == pytest.approx(1 / 3) and d["n_val"] == 60 and d["shared"] == pytest.approx(40 / 60)
    assert (d["lo_iid"], d["hi_iid"]) == metrics.binomial_ci(20, 60)
    assert d["design_effect"] < 1  # right once and wrong once per shared original: less spread
    assert cup.dependence_rows([d])[0]["measured: design effect"] == d["design_effect"]
    sel = cup.model_selection()
    allr = next(r for r in sel if r["approach"] == "3 (all)")
    # a design effect below 1 leaves the independent computation (the larger spread) in place
    same = cup.selection_under_dependence(sel, [d])
    assert same["n_eff"] == 4000 and same["p_best_of_k"] == allr["p_best_of_k"]
    worse = cup.selection_under_dependence(sel, [dict(d, design_effect=2.0), dict(d, design_effect=1.5)])
    assert worse["design_effect"] == 2.0 and worse["n_eff"] == 2000
    assert worse["p_best_of_k"] == metrics.best_of_chance_sf(0.524585, 5, 2000) > allr["p_best_of_k"]


# ---------------------------------------------------------------------- the checks
class _Run:
    """What :func:`cup.record_checks` calls on a Run: values and checks recorded as the real one does."""

    def __init__(self, smoke=False):
        self.values, self.checks, self.smoke = {}, {}, smoke

    def value(self, name, v, fmt=None):
        self.values[name] = v

    def check(self, name, claim, passed, *, kind="claim", paper=None, measured=None, evidence=None, needs=None):
        from ppstudy.manifest.status import check_status
        from ppstudy.manifest.store import jsonable

        rec = {
            "claim": claim,
            "passed": bool(passed),
            "kind": kind,
            "paper": paper,
            "measured": measured,
            "evidence": jsonable(evidence),
            "needs": needs,
            "smoke": self.smoke,
        }
        json.dumps(rec)  # what results.json will hold
        rec["status"] = check_status(rec)
        self.checks[name] = rec


def _check_inputs(n3=500, acc3=0.512, multiset=(50, 50), design_effect=1.2, val2=0.95, n_val=200):
    attacks = [
        {"subtask": 1, "approach": cup.MULTISET, "accuracy": multiset[0] / 50, "correct": multiset[0], "n": 50},
        {"subtask": 1, "approach": cup.KPA, "accuracy": 1.0, "correct": 50, "n": 50},
        {"subtask": 2, "approach": cup.MULTISET, "accuracy": multiset[1] / 50, "correct": multiset[1], "n": 50},
        {"subtask": 2, "approach": cup.KPA, "accuracy": 1.0, "correct": 50, "n": 50},
        {"subtask": 3, "approach": cup.MULTISET, "accuracy": 0.5, "correct": n3 // 2, "n": n3},
    ]
    recovery = [{"subtask": st, "recovered": True, "pairs_needed": st, "error": 0.0} for st in (1, 2)]
    models = [
        {"subtask": 1, "model": "1-1", "val_acc": 0.99, "n_val": n_val},
        {"subtask": 2, "model": "2-1", "val_acc": val2, "n_val": n_val},
        {"subtask": 2, "model": "2-2", "val_acc": val2 - 0.1, "n_val": n_val},
        {
            "subtask": 3,
            "model": "3-1",
            "val_acc": 0.45,
            "n_val": n_val,
            "row": "3-T1",
            "test_acc": acc3,
            "paper_val_acc": 0.515491,
        },
    ]
    chance = cup.chance_results(acc3, models, attacks)
    dependence = [
        {
            "model": "3-1",
            "design_effect": design_effect,
            "lo": 0.4,
            "hi": 0.5,
            "lo_iid": 0.38,
            "hi_iid": 0.52,
            "shared": 0.2,
        }
    ]
    reps = {"summary": {}, "per_repetition": [], "n_test": n3}
    return {
        "attacks": attacks,
        "recovery": recovery,
        "chance": chance,
        "reps": reps,
        "selection": cup.model_selection(),
        "dependence": dependence,
        "models": models,
        "ensemble": {1: 1.0, 2: 0.9, 3: acc3},
        "rebuilt": True,
        "paper_scale": False,
    }


def _checks(**kw):
    run = _Run()
    cup.record_checks(run, **_check_inputs(**kw))
    return run


def test_every_check_has_evidence_shown_in_the_chapters_tables_or_figures():
    src = (Path(__file__).parents[1] / "book" / "cup.md").read_text()
    shown = set(re.findall(r'run\.(?:table|draw)\(\s*"(\w+)"', src))
    run = _checks()
    assert {
        "multiset-matches-exactly",
        "kpa-recovers-key",
        "bfv-at-chance",
        "selection-of-five-cannot-explain",
        "ensemble-solves-1-2",
        "ensemble-beats-chance-1-2",
        "subtasks-increase-in-difficulty",
        "bfv-no-matcher-beats-chance",
    } <= set(run.checks)
    for name, c in run.checks.items():
        ev = c["evidence"]
        assert isinstance(ev, dict) and len(ev) > 1 and ev["shown_in"], name
        assert set(ev["shown_in"]) <= shown, (name, ev["shown_in"])
    # kinds: no check here is an identity; the paper's claims are "paper", the chapter's findings "claim"
    kinds = {n: c["kind"] for n, c in run.checks.items()}
    assert "exact" not in kinds.values()
    assert kinds["selection-of-five-cannot-explain"] == "claim" and kinds["ensemble-solves-1-2"] == "paper"
    # the summary lines that carry the rebuilt challenge to the real one say so
    assert "rebuilt" in run.checks["multiset-matches-exactly"]["claim"]
    assert "one cat-map key" in run.checks["kpa-recovers-key"]["claim"]


def test_bfv_at_chance_states_its_power_and_what_it_needs():
    c = _checks(n3=500).checks["bfv-at-chance"]
    assert c["passed"] and "cannot reject the paper's figures" in c["claim"]
    ev = c["evidence"]
    assert (
        ev["power against them"][0] == pytest.approx(cup.chance_test_power(500, 0.515097))
        and ev["power against them"][0] < 0.8
    )
    assert ev["pairs for power 0.8"] == cup.pairs_for_power(0.515097) and f"{ev['pairs for power 0.8']:,}" in c["needs"]
    assert c["status"].startswith("needs more test pairs")
    big = _checks(n3=20000, acc3=0.5).checks["bfv-at-chance"]  # power above 0.8: the run decides
    assert big["needs"] is None and big["status"] == "holds" and "cannot reject" not in big["claim"]
    off = _checks(n3=20000, acc3=0.52).checks["bfv-at-chance"]  # the paper's level, detected
    assert not off["passed"] and off["status"] == "fails"


def test_selection_check_takes_the_dependence_into_account():
    ok = _checks(design_effect=1.05).checks["selection-of-five-cannot-explain"]
    assert ok["passed"] and ok["status"] == "holds" and "independent" in ok["claim"]
    assert ok["evidence"]["effective pairs"] == int(4000 / 1.05)
    # the limit: below it every pair count up to 4000 keeps p < 0.01, one pair fewer does not
    lim = ok["evidence"]["largest design effect at which p < 0.01"]
    n_star = round(4000 / lim)
    assert all(metrics.best_of_chance_sf(0.524585, 5, n) < 0.01 for n in range(n_star, 4001))
    assert metrics.best_of_chance_sf(0.524585, 5, n_star - 1) >= 0.01
    assert not _checks(design_effect=lim * 1.01).checks["selection-of-five-cannot-explain"]["passed"]
    # were one validation pair worth a tenth of an independent one, the selection could explain it
    bad = _checks(design_effect=10.0).checks["selection-of-five-cannot-explain"]
    assert not bad["passed"] and bad["evidence"]["p at the effective pairs"] > 0.01


def test_ensemble_solves_compares_validation_with_validation():
    c = _checks(val2=0.95).checks["ensemble-solves-1-2"]
    assert c["passed"] and c["status"] == "reproduced" and "validation" in c["measured"]
    assert c["evidence"]["the paper's weakest model"] == {"1": 0.992009, "2": 0.943464}
    # 0.85 on 200 pairs: the 95% interval ends near 0.90, below the paper's weakest 0.943
    low = _checks(val2=0.85).checks["ensemble-solves-1-2"]
    assert not low["passed"] and low["status"].startswith("needs a GPU run")
    at_scale = _Run()
    cup.record_checks(at_scale, **{**_check_inputs(val2=0.85), "paper_scale": True})
    assert at_scale.checks["ensemble-solves-1-2"]["status"] == "differs"
    one_wrong = _checks(multiset=(49, 50)).checks["multiset-matches-exactly"]
    assert not one_wrong["passed"] and one_wrong["evidence"]["right / test pairs"]["1"] == [49, 50]


def test_subtasks_increase_in_difficulty_needs_separated_intervals():
    c = _checks(val2=0.95).checks["subtasks-increase-in-difficulty"]  # means 0.99 > 0.90 > 0.45 on 200 pairs
    assert c["passed"] and c["kind"] == "paper" and c["status"] == "reproduced"
    assert c["evidence"]["mean validation accuracy"] == {"1": 0.99, "2": pytest.approx(0.9), "3": 0.45}
    assert c["evidence"]["ci95"]["2"] == list(metrics.binomial_ci(180, 200))
    assert c["paper"] == "0.996 > 0.952 > 0.518"
    close = _checks(val2=0.99).checks["subtasks-increase-in-difficulty"]  # mean 0.94: overlaps subtask 1's
    assert not close["passed"] and close["status"] == "differs"
