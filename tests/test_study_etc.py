"""The etc study: under a common key the encrypted pipeline gives the plain kernels and decision values."""

from __future__ import annotations

import numpy as np
import pytest

from ppstudy import InputError
from ppstudy.ciphers import etc as cipher
from ppstudy.data import yaleb
from ppstudy.pca import ExactPCA
from ppstudy.studies import etc as study


@pytest.fixture(scope="module")
def faces():
    d = yaleb.synthetic_faces(5, 8, (24, 16), seed=3)
    d["train_idx"], d["query_idx"] = yaleb.split_half(d["labels"], seed=0)
    return d


def _run(x, d, **kw):
    tr, q = d["train_idx"], d["query_idx"]
    return list(study.pipeline(x[tr], d["labels"][tr], x[q], ratios=(8, 24), **kw))


@pytest.mark.parametrize("grayscale", [False, True])
@pytest.mark.parametrize(
    "axis,fit_on,gamma",
    [
        ("vector", "train", "scale"),
        ("component", "train", "scale"),
        ("vector", "all", 1 / 300),
        ("component", "all", "scale"),
    ],
)
def test_common_key_leaves_kernels_and_decisions_exactly_unchanged(faces, grayscale, axis, fit_on, gamma):
    """Under every reading of the normalisation the encrypted pipeline is bitwise the plain one."""
    x = faces["images"]
    if grayscale:  # colour images through the grayscale-based variant
        x = np.stack([x, np.roll(x, 1, axis=0), 255 - x], axis=-1)
    key = cipher.keygen(x.shape[1:], 4, seed=11, grayscale=grayscale)
    xe = cipher.encrypt(x, key)
    assert not np.array_equal(xe.reshape(len(x), -1), x.reshape(len(x), -1))
    kw = dict(zscore_axis=axis, fit_on=fit_on, gamma=gamma)
    for p, e in zip(_run(x, faces, **kw), _run(xe, faces, **kw)):
        assert (p["ratio"], p["kernel"], p["dims"]) == (e["ratio"], e["kernel"], e["dims"])
        assert np.array_equal(p["K_train"], e["K_train"]) and np.array_equal(p["K_query"], e["K_query"])
        assert np.array_equal(p["scores"], e["scores"])


def test_the_two_z_score_readings_differ_and_are_what_they_say(faces):
    rng = np.random.default_rng(0)
    a, b = rng.normal(2.0, 3.0, (6, 5)), rng.normal(2.0, 3.0, (4, 5))
    va, vb = study.zscore(a, b, "vector")
    assert np.allclose(va.mean(axis=1), 0) and np.allclose(va.std(axis=1), 1) and np.allclose(vb.std(axis=1), 1)
    ca, cb = study.zscore(a, b, "component")
    assert np.allclose(ca.mean(axis=0), 0) and np.allclose(ca.std(axis=0), 1)
    assert np.allclose(cb, (b - a.mean(axis=0)) / a.std(axis=0))  # queries use the training statistics
    assert not np.allclose(va, ca)
    with pytest.raises(InputError, match="zscore"):
        study.zscore(a, b, "row")


def test_rbf_gamma_scale_or_fixed():
    f = np.random.default_rng(1).normal(0, 2.0, (10, 4))
    assert study.rbf_gamma(f) == pytest.approx(1 / (4 * f.var()))
    assert study.rbf_gamma(f, 0.25) == 0.25
    with pytest.raises(InputError, match="rbf_gamma"):
        study.rbf_gamma(f, -1.0)


def test_fitting_pca_on_all_images_lifts_the_rank_cap(faces):
    x, d = faces["images"], faces
    tr, q = d["train_idx"], d["query_idx"]
    n_pix = int(np.prod(x.shape[1:]))
    ratio = max(1, n_pix // (len(tr) + 5))  # asks for more components than the training half can give
    (p,) = [r for r in study.pipeline(x[tr], d["labels"][tr], x[q], ratios=(ratio,), kernels=("linear",))]
    (a,) = [r for r in study.pipeline(x[tr], d["labels"][tr], x[q], ratios=(ratio,), kernels=("linear",), fit_on="all")]
    assert p["dims"] == len(tr) - 1 < a["dims"]


def test_normalisation_is_what_cancels_the_negative_positive_transform(faces):
    x = faces["images"]
    xe = cipher.encrypt(x, cipher.keygen(x.shape[1:], 4, seed=2))
    d = study.raw_kernel_differences(x, xe)
    assert d["raw"] > 1e3 * 1e-9 * d["raw_scale"] and d["raw"] > 1.0
    assert d["zscore"] < 1e-9


def test_key_condition_2_encrypts_each_person_with_its_own_key(faces):
    x1, x2 = study.encrypt_conditions(faces, block=4, key_seed=5)
    keys = cipher.condition_keys(2, np.unique(faces["labels"]).tolist(), faces["images"].shape[1:], 4, seed=6)
    for p, k in keys.items():
        sel = faces["labels"] == p
        assert np.array_equal(x2[sel], cipher.encrypt(faces["images"][sel], k))
    one = cipher.keygen(faces["images"].shape[1:], 4, seed=5)
    assert np.array_equal(x1, cipher.encrypt(faces["images"], one))


def test_run_study_records_everything(faces):
    r = study.run_study(faces, block=4, ratios=(8, 24), key_seed=1, progress=False)
    assert {row["condition"] for row in r["rows"]} == {"plain", "condition 1", "condition 2"}
    assert len(r["rows"]) == 3 * 2 * 2 and len(r["invariance"]) == 4
    for row in r["invariance"]:
        assert row["max_abs_decision"] < 1e-9 and row["eer_plain"] == row["eer_condition1"]
        assert row["max_abs_K_float"] < 1e-9  # floating-point PCA: kernels equal to rounding
        assert 0 <= row["eer_plain"] <= 1
    t1 = study.table_rows(r, "linear")
    assert [row["reduction ratio"] for row in t1] == ["1/8", "1/24"]
    assert t1[0]["paper: EER not encrypted"] is None  # the paper has no 1/8 row
    c = r["curves"]["plain/rbf/8"]
    assert c["far"].shape == c["frr"].shape == c["threshold"].shape
    assert np.all(np.diff(c["far"]) <= 0) and np.all(np.diff(c["frr"]) >= 0)


def test_components_are_capped_by_the_training_rank():
    assert study.n_components(30720, 20, 1216) == 1215
    assert study.n_components(30720, 40, 1216) == 768
    assert study.n_components(1920, 80, 240) == 24


def test_bad_inputs():
    with pytest.raises(InputError, match="data_source"):
        study.load_faces("mnist")
    with pytest.raises(InputError, match="kernel"):
        study.kernel_matrices("poly", np.zeros((2, 2)), np.zeros((2, 2)))


def test_exact_pca_is_pca(faces):
    from sklearn.decomposition import PCA

    x = faces["images"]
    tr, q = faces["train_idx"], faces["query_idx"]
    p = ExactPCA(6).fit(x[tr])
    ref = PCA(6, svd_solver="full").fit(x[tr].reshape(len(tr), -1).astype(float))
    za, zb = p.transform(x[tr]), p.transform(x[q])
    ra, rb = (ref.transform(x[i].reshape(len(i), -1).astype(float)) for i in (tr, q))
    sign = np.sign((za * ra).sum(axis=0))
    assert np.allclose(za, ra * sign, atol=1e-8) and np.allclose(zb, rb * sign, atol=1e-8)
    assert np.allclose(p.explained_variance_, ref.explained_variance_)
    # exact Gram matrices: a common key gives bitwise the same features
    xe = cipher.encrypt(x, cipher.keygen(x.shape[1:], 4, seed=9))
    pe = ExactPCA(6).fit(xe[tr])
    assert np.array_equal(pe.transform(xe[q]), zb) and np.array_equal(pe.transform(xe[tr]), za)
    with pytest.raises(InputError, match="uint8"):
        ExactPCA(2).fit(x.astype(float))
    with pytest.raises(InputError, match="training images"):
        ExactPCA(len(tr)).fit(x[tr])


def test_readings_rows_compare_each_reading_with_the_paper(faces):
    readings = study.run_readings(faces, ratios=(8, 24), progress=False)
    rows = study.readings_rows(readings)
    # linear once per (axis, fit); RBF for every reading
    assert len(rows) == sum(1 for a, f, g in study.READINGS if g == "scale") + len(study.READINGS)
    assert all(r["paper: 1/8"] is None and 0 <= r["measured: 1/8"] <= 1 for r in rows)
    # the values are the pipeline's
    (ref,) = [
        r["eer"]
        for r in study.evaluate(
            _run(faces["images"], faces, kernels=("linear",), zscore_axis="component"),
            faces["labels"][faces["query_idx"]],
        )
        if r["ratio"] == 24
    ]
    assert readings[0]["zscore"] == "component" and readings[0]["eer"][24] == ref


class _Run:
    """A stand-in for ppstudy.kernel.run.Run that records values and checks and has no tables."""

    def __init__(self):
        self.values, self.checks = {}, {}

    def value(self, name, v, fmt=None):
        self.values[name] = v

    def check(self, name, claim, passed, *, kind="claim", **kw):
        assert kind in ("exact", "paper", "claim")
        self.checks[name] = {"passed": bool(passed), "kind": kind, **kw}


def _fake_study(plain, cond2):
    rows = []
    for cond, eers in (("plain", plain), ("condition 2", cond2)):
        for kern in ("linear", "rbf"):
            for r, e in zip((20, 40, 60, 80), eers):
                rows.append({"condition": cond, "ratio": r, "kernel": kern, "eer": e, "dims": 10, "gamma": None})
    return {"rows": rows}


def test_condition2_checks_take_the_study_values_not_table_cells():
    """No table is recorded: the old implementation read run.manifest["tables"] and fails here."""
    run = _Run()
    study.record_condition2(run, _fake_study([0.03, 0.03, 0.04, 0.04], [0.0, 0.0, 0.005, 0.0]))
    c = run.checks
    assert c["cond2-lower-linear"]["passed"] and c["cond2-lower-linear"]["kind"] == "paper"
    assert c["cond2-level-rbf"]["passed"] and c["cond2-level-rbf"]["kind"] == "claim"  # a chosen 1% threshold
    assert not c["cond2-zero-linear"]["passed"]  # 0.005 at 1/60
    assert c["plain-level-linear"]["kind"] == "claim"
    run = _Run()
    study.record_condition2(run, _fake_study([0.03] * 4, [0.0, 0.04, 0.0, 0.0]))
    assert not run.checks["cond2-lower-rbf"]["passed"]  # 0.04 > 0.03 at 1/40


def test_mean_interval_and_fitted_rise_known_answers():
    m, lo, hi = study.mean_interval([1.0, 2.0, 3.0])
    # t(0.975, 2) = 4.302652..., sd = 1, n = 3
    assert m == 2.0 and hi - m == pytest.approx(4.302652729911275 / np.sqrt(3)) and m - lo == pytest.approx(hi - m)
    assert study.mean_interval([0.5]) == (0.5, 0.5, 0.5)
    # exactly linear: rise = (last - first); the paper's Table 1 column rises by 0.0296 - 0.0223 (up to rounding)
    eer = np.array([[0.01, 0.02, 0.03, 0.04], [0.04, 0.03, 0.02, 0.01]])
    assert np.allclose(study.fitted_rise((20, 40, 60, 80), eer), [0.03, -0.03])
    # least squares, not the end points: a bump in the middle leaves the fit's rise at 0
    assert study.fitted_rise((20, 40, 60, 80), [[0.0, 1.0, 1.0, 0.0]])[0] == pytest.approx(0.0)
    # the slope is against the ratio's denominator, not the index: uneven ratios
    assert study.fitted_rise((20, 30, 40, 80), [[0.0, 0.1, 0.2, 0.6]])[0] == pytest.approx(0.6)
    assert study._paper_rise("linear", (20, 40, 60, 80)) == pytest.approx(0.00729)


def test_split_readings_repeat_the_pipeline_on_each_split(faces):
    sp = study.split_readings(faces, n_splits=2, split_seed=4, ratios=(8, 24), kernels=("linear",), progress=False)
    assert sp["seeds"] == [4, 5] and sp["eer"][("vector", "linear")].shape == (2, 2)
    for i, seed in enumerate(sp["seeds"]):
        tr, q = yaleb.split_half(faces["labels"], seed=seed)
        for axis in study.ZSCORES:
            ref = [
                r["eer"]
                for r in study.evaluate(
                    study.pipeline(
                        faces["images"][tr],
                        faces["labels"][tr],
                        faces["images"][q],
                        ratios=(8, 24),
                        kernels=("linear",),
                        zscore_axis=axis,
                    ),
                    faces["labels"][q],
                )
            ]
            assert np.array_equal(sp["eer"][(axis, "linear")][i], ref)
    rows = study.split_readings_rows(sp)
    assert [r["reduction ratio"] for r in rows] == ["1/8", "1/24", "rise 1/8 to 1/24"]
    assert (
        rows[0]["measured: per vector low"] <= rows[0]["measured: per vector"] <= rows[0]["measured: per vector high"]
    )
    run = _Run()
    study.record_split_readings(run, sp, "vector")
    rise = study.mean_interval(study.fitted_rise((8, 24), sp["eer"][("vector", "linear")]))
    assert run.checks["eer-rises-linear"]["kind"] == "paper"
    assert run.checks["eer-rises-linear"]["passed"] == (rise[1] > 0)


def test_stolen_key_scores_are_the_claimed_identitys_svm_on_its_key(faces):
    kw = dict(block=4, key_seed=7, ratios=(24,), kernels=("linear",))
    res = study.stolen_key_scores(faces, **kw)
    (r,) = res["results"]
    d, tr, q = faces, faces["train_idx"], res["queries"]
    assert np.array_equal(q, faces["query_idx"])  # per_person=None: every query
    keys = cipher.condition_keys(2, np.unique(d["labels"]).tolist(), d["images"].shape[1:], 4, seed=8)
    x2 = cipher.encrypt_groups(d["images"], d["labels"], keys)
    # own key: the paper's condition 2 (run_study's encryption)
    _, x2_ref = study.encrypt_conditions(d, block=4, key_seed=7)
    assert np.array_equal(x2, x2_ref)
    (own,) = _run(x2, d, kernels=("linear",))[1:]
    assert np.allclose(r["scores_own"], own["scores"])
    # stolen key: column c is c's SVM on every query encrypted with c's key
    for j, c in enumerate(res["classes"]):
        xq = cipher.encrypt(d["images"][q], keys[c.item()])
        (p,) = [p for p in study.pipeline(x2[tr], d["labels"][tr], xq, ratios=(24,), kernels=("linear",))]
        assert np.allclose(r["scores_stolen"][:, j], p["scores"][:, j])
    genuine = res["labels"][:, None] == res["classes"][None, :]
    assert np.array_equal(r["scores_stolen"][genuine], r["scores_own"][genuine])
    assert r["eer_stolen"] > r["eer_own"]
    # identity keys (no step switched on): a stolen key changes nothing
    (z,) = study.stolen_key_scores(faces, steps=(), **kw)["results"]
    assert np.array_equal(z["scores_stolen"], z["scores_own"])
    sub = study.query_subset(d["labels"], d["query_idx"], 2)
    assert len(sub) == 2 * len(np.unique(d["labels"])) and set(sub) <= set(d["query_idx"])


def test_key_recognition_checks():
    study_ = _fake_study([0.03] * 4, [0.0] * 4)

    def res(own, stolen):
        return {
            "results": [
                {"ratio": r, "kernel": k, "eer_own": o, "eer_stolen": s}
                for k in ("linear", "rbf")
                for r, o, s in zip((20, 40, 60, 80), own, stolen)
            ]
        }

    keyrec = {"all steps": res([0.0] * 4, [0.4] * 4), "block scrambling only": res([0.01, 0.01, 0.01, 0.05], [0.3] * 4)}
    run = _Run()
    study.record_key_recognition(run, keyrec, study_)
    assert run.checks["cond2-stolen-key"]["passed"] and not run.checks["cond2-scramble-alone"]["passed"]
    keyrec["all steps"] = res([0.0] * 4, [0.4, 0.4, 0.02, 0.4])  # below the plain 0.03 at one ratio
    run = _Run()
    study.record_key_recognition(run, keyrec, study_)
    assert not run.checks["cond2-stolen-key"]["passed"]
    rows = study.key_recognition_rows(keyrec, study_)
    assert len(rows) == 16 and rows[0]["measured: EER not encrypted"] == 0.03


def test_nearest_scores_and_other_classifiers(faces):
    ftr = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]])
    s = study.nearest_scores(ftr, np.array([0, 0, 1]), np.array([[0.9, 0.0], [4.0, 5.0]]), [0, 1])
    assert np.allclose(s, [[-0.1, -np.hypot(4.1, 5.0)], [-np.hypot(3.0, 5.0), -1.0]])
    rows = study.other_classifiers(faces, block=4, key_seed=3, ratio=24)
    assert [r["classifier"] for r in rows] == list(study.OTHER_CLASSIFIERS)
    for r in rows:
        assert r["max_abs_score_diff"] == 0 and r["eer_plain"] == r["eer_condition1"]
        assert 0 <= r["eer_plain"] < 0.35  # well below chance: the scores are those of the claimed identity
