"""FAR/FRR/EER of the etc chapter: a hand-computed case and agreement with scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_curve

from ppstudy import InputError, metrics


def test_eer_hand_computed():
    # accept when score >= t. Genuine 0.9 0.8 0.4, impostor 0.7 0.3 0.2 0.1:
    # t=0.7: FAR 1/4, FRR 1/3; t=0.4: FAR 1/4, FRR 0. FRR - FAR goes 1/12 -> -1/4, crossing a quarter of
    # the way: FAR = 1/4, FRR = 1/3 - 1/4 * 1/3 = 1/4 -> EER = 0.25
    g, i = [0.9, 0.8, 0.4], [0.7, 0.3, 0.2, 0.1]
    thr, far, frr = metrics.far_frr(g, i)
    assert np.allclose(thr[1:], [0.9, 0.8, 0.7, 0.4, 0.3, 0.2, 0.1])
    assert np.allclose(far, [0, 0, 0, 0.25, 0.25, 0.5, 0.75, 1])
    assert np.allclose(frr, [1, 2 / 3, 1 / 3, 1 / 3, 0, 0, 0, 0])
    assert metrics.eer(g, i) == pytest.approx(0.25, abs=1e-15)


def test_eer_interpolates_between_thresholds():
    # genuine 2, 0; impostor 1, -1: t=2: FAR 0 FRR 1/2; t=1: FAR 1/2 FRR 1/2 -> crossing exactly at 1/2
    assert metrics.eer([2, 0], [1, -1]) == pytest.approx(0.5)
    # genuine 3 2 1, impostor 2.5 0: FRR-FAR: t=3 (0, 2/3) ; t=2.5 (1/2, 2/3) d=1/6; t=2 (1/2, 1/3) d=-1/6
    # crossing halfway between t=2.5 and t=2 on the straight segment: FAR 1/2, FRR 1/2
    assert metrics.eer([3, 2, 1], [2.5, 0]) == pytest.approx(0.5)
    assert metrics.eer([1, 2, 3], [-1, -2]) == 0.0
    assert metrics.eer([-1, -2], [1, 2, 3]) == 1.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=1, max_size=30), st.lists(st.floats(-5, 5), min_size=1, max_size=30))
def test_agrees_with_sklearn_roc_curve(g, i):
    thr, far, frr = metrics.far_frr(g, i)
    y = np.r_[np.ones(len(g)), np.zeros(len(i))]
    fpr, tpr, t = roc_curve(y, np.r_[g, i], drop_intermediate=False)
    assert np.array_equal(thr, t) and np.array_equal(far, fpr) and np.allclose(frr, 1 - tpr)
    # brute force at each threshold
    ga, ia = np.asarray(g), np.asarray(i)
    for tk, fa, fr in zip(thr[1:], far[1:], frr[1:]):
        assert fa == pytest.approx(np.mean(ia >= tk)) and fr == pytest.approx(np.mean(ga < tk))
    e = metrics.eer(g, i)
    assert 0 <= e <= 1
    # the EER lies between the FAR and FRR at the last threshold where FRR > FAR and the next
    d = frr - far
    j = int(np.argmax(d <= 0))
    lo, hi = sorted([far[j - 1] if j else far[0], far[j]])
    assert lo - 1e-12 <= e <= hi + 1e-12


def test_one_vs_rest_split_and_authentication_errors():
    scores = np.array([[2.0, -1.0, 0.5], [-0.5, 1.5, -2.0], [0.1, 0.2, 0.3], [1.0, -3.0, -1.0]])
    labels = np.array([0, 1, 2, 0])
    g, i = metrics.one_vs_rest_scores(scores, labels, np.array([0, 1, 2]))
    assert sorted(g) == [0.3, 1.0, 1.5, 2.0]
    assert len(i) == 8
    r = metrics.authentication_errors(scores, labels, [0, 1, 2])
    assert r["n_genuine"] == 4 and r["n_impostor"] == 8
    assert r["eer"] == pytest.approx(metrics.eer(g, i))


def test_bad_inputs():
    with pytest.raises(InputError, match="at least one"):
        metrics.eer([], [1.0])
    with pytest.raises(InputError, match="finite"):
        metrics.eer([np.nan], [1.0])
    with pytest.raises(InputError, match="n_queries"):
        metrics.one_vs_rest_scores(np.zeros((3, 2)), [0, 1], [0, 1])
