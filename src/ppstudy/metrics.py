"""Metrics shared by the chapters: authentication error rates (FAR/FRR/EER), image similarity, challenge scores.

Each chapter's engineer owns one section, headed by a comment ``# --- <chapter> ---``.
"""

from __future__ import annotations

import numpy as np

from ppstudy import InputError

# --- etc ---


def _scores(genuine, impostor) -> tuple[np.ndarray, np.ndarray]:
    g = np.asarray(genuine, dtype=float).ravel()
    i = np.asarray(impostor, dtype=float).ravel()
    if g.size == 0 or i.size == 0:
        raise InputError(f"need at least one genuine and one impostor score, got {g.size} and {i.size}")
    if not (np.isfinite(g).all() and np.isfinite(i).all()):
        raise InputError("authentication scores must be finite")
    return g, i


def far_frr(genuine, impostor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False accept and false reject rates at every distinct threshold, via ``sklearn.metrics.roc_curve``.

    A claim is accepted when its score is ``>= threshold``. Returns ``(thresholds, far, frr)`` with
    thresholds decreasing (the first is ``inf``: nothing accepted, FAR 0, FRR 1), ``far`` = false positive
    rate over the impostor scores, ``frr`` = 1 - true positive rate over the genuine scores.
    """
    from sklearn.metrics import roc_curve

    g, i = _scores(genuine, impostor)
    y = np.r_[np.ones(g.size, int), np.zeros(i.size, int)]
    fpr, tpr, thr = roc_curve(y, np.r_[g, i], drop_intermediate=False)
    return thr, fpr, 1.0 - tpr


def eer(genuine, impostor) -> float:
    """Equal error rate: where FAR = FRR, linearly interpolated between the two thresholds around the
    crossing of the (piecewise linear) FAR and FRR curves of :func:`far_frr`."""
    _, far, frr = far_frr(genuine, impostor)
    return _eer_from_curve(far, frr)


def _eer_from_curve(far: np.ndarray, frr: np.ndarray) -> float:
    d = frr - far  # starts at 1 (threshold inf), ends at -1 (everything accepted); non-increasing
    j = int(np.argmax(d <= 0))
    if d[j] == 0:
        return float(far[j])
    i = j - 1
    t = d[i] / (d[i] - d[j])
    return float(far[i] + t * (far[j] - far[i]))


def one_vs_rest_scores(scores: np.ndarray, labels, classes) -> tuple[np.ndarray, np.ndarray]:
    """Split a ``(n_queries, n_classes)`` score matrix into genuine and impostor scores.

    ``scores[q, c]`` is the authentication score of query ``q`` claiming identity ``classes[c]``; the
    claim is genuine when ``labels[q] == classes[c]``. Every query claims every identity once.
    """
    s = np.asarray(scores, dtype=float)
    lab = np.asarray(labels)
    cls = np.asarray(classes)
    if s.ndim != 2 or s.shape != (lab.size, cls.size):
        raise InputError(f"scores must be (n_queries, n_classes) = ({lab.size}, {cls.size}), got {s.shape}")
    same = lab[:, None] == cls[None, :]
    return s[same], s[~same]


def authentication_errors(scores: np.ndarray, labels, classes) -> dict:
    """FAR/FRR curve and EER of one-vs-rest authentication (all claims pooled over identities)."""
    g, i = one_vs_rest_scores(scores, labels, classes)
    thr, far, frr = far_frr(g, i)
    return {"thresholds": thr, "far": far, "frr": frr, "eer": _eer_from_curve(far, frr),
            "n_genuine": int(g.size), "n_impostor": int(i.size)}
