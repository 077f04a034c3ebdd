"""The etc study: under a common key the encrypted pipeline gives the plain kernels and decision values."""

from __future__ import annotations

import numpy as np
import pytest

from ppstudy import InputError
from ppstudy.ciphers import etc as cipher
from ppstudy.data import yaleb
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
def test_common_key_leaves_kernels_and_decisions_unchanged(faces, grayscale):
    x = faces["images"]
    if grayscale:  # colour images through the grayscale-based variant
        x = np.stack([x, np.roll(x, 1, axis=0), 255 - x], axis=-1)
    key = cipher.keygen(x.shape[1:], 4, seed=11, grayscale=grayscale)
    xe = cipher.encrypt(x, key)
    assert not np.array_equal(xe.reshape(len(x), -1), x.reshape(len(x), -1))
    for p, e in zip(_run(x, faces), _run(xe, faces)):
        assert (p["ratio"], p["kernel"], p["dims"]) == (e["ratio"], e["kernel"], e["dims"])
        assert study.max_abs_diff(p["K_train"], e["K_train"]) < 1e-9
        assert study.max_abs_diff(p["K_query"], e["K_query"]) < 1e-9
        assert study.max_abs_diff(p["scores"], e["scores"]) < 1e-9


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
    assert t1[0]["paper not encrypted"] is None  # the paper has no 1/8 row
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
    p = study.ExactPCA(6).fit(x[tr])
    ref = PCA(6, svd_solver="full").fit(x[tr].reshape(len(tr), -1).astype(float))
    za, zb = p.transform(x[tr]), p.transform(x[q])
    ra, rb = (ref.transform(x[i].reshape(len(i), -1).astype(float)) for i in (tr, q))
    sign = np.sign((za * ra).sum(axis=0))
    assert np.allclose(za, ra * sign, atol=1e-8) and np.allclose(zb, rb * sign, atol=1e-8)
    assert np.allclose(p.explained_variance_, ref.explained_variance_)
    # exact Gram matrices: a common key gives bitwise the same features
    xe = cipher.encrypt(x, cipher.keygen(x.shape[1:], 4, seed=9))
    pe = study.ExactPCA(6).fit(xe[tr])
    assert np.array_equal(pe.transform(xe[q]), zb) and np.array_equal(pe.transform(xe[tr]), za)
    with pytest.raises(InputError, match="uint8"):
        study.ExactPCA(2).fit(x.astype(float))
    with pytest.raises(InputError, match="training images"):
        study.ExactPCA(len(tr)).fit(x[tr])
