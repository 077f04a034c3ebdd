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
    rows = study.readings_rows(faces, ratios=(8, 24), progress=False)
    # linear once per (axis, fit); RBF for every reading
    assert len(rows) == sum(1 for a, f, g in study.READINGS if g == "scale") + len(study.READINGS)
    assert all(r["paper: 1/8"] is None and 0 <= r["measured: 1/8"] <= 1 for r in rows)
