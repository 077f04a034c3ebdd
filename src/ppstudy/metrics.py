"""Metrics shared by the chapters: authentication error rates (FAR/FRR/EER), image similarity, challenge scores.

Each chapter's engineer owns one section, headed by a comment ``# --- <chapter> ---``.
"""

from __future__ import annotations

import math

import numpy as np

from ppstudy import InputError, validate

# --- etc ---


def _reals(name: str, values, *, finite: bool = True) -> np.ndarray:
    """``values`` as a float64 array of real numbers (NaN refused; infinities too when ``finite``)."""
    try:
        a = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be real numbers, got {values!r:.80}") from None
    if np.isnan(a).any() or (finite and not np.isfinite(a).all()):
        raise InputError(f"{name} must be {'finite' if finite else 'real'} numbers (no NaN), got {a.tolist()!r:.80}")
    return a


def _scores(genuine, impostor) -> tuple[np.ndarray, np.ndarray]:
    g = _reals("genuine scores", genuine).ravel()
    i = _reals("impostor scores", impostor).ravel()
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
    return {
        "thresholds": thr,
        "far": far,
        "frr": frr,
        "eer": _eer_from_curve(far, frr),
        "n_genuine": int(g.size),
        "n_impostor": int(i.size),
    }


# --- cup ---

#: the IEEE Big Data Cup 2022 leaderboard weights of subtasks 1, 2, 3 (Thing 2022, Sec. V)
CUP_WEIGHTS = (0.1, 0.3, 0.6)


def weighted_score(accuracies, weights=CUP_WEIGHTS) -> float:
    """The leaderboard score ``sum_i w_i * Acc_i`` of the challenge (weights 0.1 / 0.3 / 0.6)."""
    acc = _reals("weighted_score: accuracies", accuracies)
    w = _reals("weighted_score: weights", weights)
    if acc.shape != w.shape:
        raise InputError(f"weighted_score: {acc.size} accuracies for {w.size} weights")
    if np.any((acc < 0) | (acc > 1)):
        raise InputError(f"weighted_score: accuracies must lie in [0, 1], got {acc.tolist()}")
    return float(np.dot(w, acc))


def binomial_ci(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) confidence interval of a proportion ``k / n`` (scipy.stats.binomtest)."""
    from scipy.stats import binomtest

    level = validate.number("binomial_ci: level", level, low=0, high=1, low_open=True, high_open=True)
    n = validate.integer("binomial_ci: n", n, low=1)
    k = validate.integer("binomial_ci: k", k, low=0)
    if k > n:
        raise InputError(f"binomial_ci: need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def chance_ceiling(
    weights=CUP_WEIGHTS, *, chance_subtasks=(2,), n_test: int | None = None, level: float = 0.95
) -> float:
    """Best leaderboard score when the subtasks in ``chance_subtasks`` (0-based) can only be guessed.

    Perfect accuracy elsewhere and accuracy 1/2 on a balanced test set where the encryption is
    semantically secure give ``sum w_i (others) + w_chance / 2`` (0.7 for the Big Data Cup). With
    ``n_test`` graded pairs, guessing lands above 1/2 by luck: the ``level`` quantile of
    Binomial(n_test, 1/2) / n_test replaces 1/2 (the ceiling a lucky submission reaches).
    """
    from scipy.stats import binom

    w = _reals("chance_ceiling: weights", weights).ravel()
    if n_test is not None:
        n_test = validate.positive_int("chance_ceiling: n_test", n_test)
        level = validate.number("chance_ceiling: level", level, low=0, high=1, low_open=True, high_open=True)
    chance = 0.5 if n_test is None else float(binom.ppf(level, n_test, 0.5)) / n_test
    acc = np.ones_like(w)
    idx = [validate.integer("chance_ceiling: chance subtask", j, low=0, high=len(w) - 1) for j in chance_subtasks]
    acc[idx] = chance
    return float(np.dot(w, acc))


def _check_prob(name: str, v: float, *, open_low: bool = True) -> float:
    return validate.number(name, v, low=0, high=1, low_open=open_low, high_open=open_low)


def _check_count(name: str, v, low: int = 1) -> int:
    return validate.integer(name, v, low=low)


def chance_tail(acc: float, n: int, p: float = 0.5) -> float:
    """P(a model at chance scores at least ``acc`` on ``n`` independent pairs): ``P(Bin(n, p) >= k)``.

    ``k = floor(acc * n)``: published accuracies need not be multiples of ``1/n`` (the Big Data Cup paper's
    are not multiples of 1/4000), and rounding down makes the tail, and so the chance explanation, as
    likely as it can be.
    """
    from scipy.stats import binom

    n = _check_count("n", n)
    _check_prob("p", p)
    acc = _check_prob("acc", acc, open_low=False)
    k = math.floor(acc * n + 1e-9)
    return float(binom.sf(k - 1, n, p))


def best_of_chance_sf(acc: float, k: int, n: int, p: float = 0.5) -> float:
    """P(the best of ``k`` independent chance-level models reaches ``acc`` on ``n`` pairs each):
    ``1 - (1 - tail)^k`` with ``tail`` = :func:`chance_tail` (model selection by validation accuracy)."""
    k = _check_count("k", k)
    t = chance_tail(acc, n, p)
    return float(-np.expm1(k * np.log1p(-t))) if t < 1 else 1.0


def at_least_j_of_chance_sf(acc: float, j: int, m: int, n: int, p: float = 0.5) -> float:
    """P(at least ``j`` of ``m`` independent chance-level models reach ``acc``): ``P(Bin(m, tail) >= j)``
    (e.g. the chance that the ``j`` models kept from ``m`` tried all score ``acc`` or more)."""
    from scipy.stats import binom

    j, m = _check_count("j", j), _check_count("m", m)
    if j > m:
        raise InputError(f"at_least_j_of_chance_sf: j={j} exceeds m={m}")
    return float(binom.sf(j - 1, m, chance_tail(acc, n, p)))


def best_of_chance_quantile(q: float, k: int, n: int, p: float = 0.5) -> float:
    """The ``q``-quantile of the best validation accuracy of ``k`` chance-level models on ``n`` pairs:
    the smallest ``x = j / n`` with ``P(Bin(n, p) <= j)^k >= q``."""
    from scipy.stats import binom

    q, k, n = _check_prob("q", q), _check_count("k", k), _check_count("n", n)
    _check_prob("p", p)
    return float(binom.ppf(q ** (1.0 / k), n, p)) / n


def tries_needed(
    acc: float, n: int, *, j: int = 1, prob: float = 0.5, p: float = 0.5, max_tries: int = 10**9
) -> int | None:
    """The smallest number ``m`` of independent chance-level models such that at least ``j`` of them reach
    ``acc`` with probability ``prob`` or more: how many runs a selection would have to pick from for
    chance to explain ``j`` values as high as ``acc``. None if more than ``max_tries``."""
    from scipy.stats import binom

    j = _check_count("j", j)
    prob = _check_prob("prob", prob)
    max_tries = _check_count("max_tries", max_tries)
    t = chance_tail(acc, n, p)
    if t >= 1:
        return j
    if t <= 0:
        return None

    def ok(m: int) -> bool:
        return bool(binom.sf(j - 1, m, t) >= prob)

    hi = j
    while not ok(hi):
        hi *= 2
        if hi > 2 * max_tries:
            return None
    lo = max(j, hi // 2)
    while lo < hi:  # smallest m in [lo, hi] with ok(m); ok is monotone in m
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid + 1, hi)
    return lo if lo <= max_tries else None


def spread(values) -> dict:
    """Mean, sample standard deviation (ddof = 1; nan for one value), min, max and the values themselves."""
    v = _reals("spread: values", values, finite=False).ravel()
    if not v.size:
        raise InputError("spread: no values")
    return {
        "n": int(v.size),
        "mean": float(v.mean()),
        "sd": float(v.std(ddof=1)) if v.size > 1 else float("nan"),
        "min": float(v.min()),
        "max": float(v.max()),
        "values": v.tolist(),
    }


# --- verdicts by intervals: the one policy of the book's accuracy comparisons ---
# An ordering "row a scores higher than row b" (both scored on the same test images) is judged on the 95%
# interval of the accuracy difference a - b: the paired bootstrap over test images (the test-set part),
# widened by the measured seed spread (the training part: two independent trainings, so 2 sd^2 of variance;
# 0 when it is not measured, and the check says so). The interval above 0: the ordering holds; below 0: the
# opposite holds; containing 0: this run cannot settle it.


def contrast_interval(
    corrects, weights, *, seed_sd: float = 0.0, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> dict:
    """A weighted sum of the accuracies of several classifiers scored on the same images (e.g. weights
    ``(1, -1, -1, 1)``: a difference of differences) with its interval: the paired bootstrap over images,
    widened by ``seed_sd`` for each training (variance ``sum(w^2) sd^2``)."""
    from scipy.stats import norm

    vs = [np.asarray(c) for c in corrects]
    w = _reals("contrast_interval: weights", weights)
    if len(vs) != len(w) or not vs or any(v.shape != vs[0].shape or v.ndim != 1 for v in vs) or not vs[0].size:
        raise InputError("contrast_interval: need one weight per equal-length 1-D correctness vector")
    if not all(np.isin(v, (0, 1)).all() for v in vs):
        raise InputError("contrast_interval: correctness vectors must hold 0/1 (or bool) per image")
    seed_sd = validate.number("contrast_interval: seed_sd", seed_sd, low=0)
    n_boot = validate.integer("contrast_interval: n_boot", n_boot, low=100, high=100_000)
    level = validate.number("contrast_interval: level", level, low=0.5, high=1, high_open=True)
    d = sum(wi * v.astype(np.float64) for wi, v in zip(w, vs))
    n = d.size
    rng = np.random.default_rng(validate.integer("contrast_interval: seed", seed, low=0))
    boots = np.empty(n_boot)
    for i in range(0, n_boot, 250):  # 250 resamples at a time: bounded memory for 10,000 images
        k = min(250, n_boot - i)
        boots[i : i + k] = d[rng.integers(0, n, size=(k, n))].mean(axis=1)
    est = float(d.mean())
    se = math.sqrt(float(boots.var(ddof=1)) + float((w**2).sum()) * seed_sd**2)
    z = float(norm.ppf(0.5 + level / 2))
    q = (1 - level) / 2
    return {
        "diff": est,
        "lo": est - z * se,
        "hi": est + z * se,
        "boot_lo": float(np.quantile(boots, q)),
        "boot_hi": float(np.quantile(boots, 1 - q)),
        "seed_sd": seed_sd,
        "n": n,
    }


def paired_difference(
    correct_a, correct_b, *, seed_sd: float = 0.0, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> dict:
    """The accuracy difference of two classifiers scored on the same images (0/1 correctness per image):
    ``diff`` (a - b), its ``lo``/``hi`` interval (paired bootstrap standard error combined with ``seed_sd``,
    the standard deviation of one training's accuracy over seeds), the bootstrap-only interval, and the
    exact two-sided McNemar p-value on the discordant images."""
    from scipy.stats import binomtest

    a = np.asarray(correct_a)
    b = np.asarray(correct_b)
    if a.shape != b.shape or a.ndim != 1 or not a.size:
        raise InputError(f"paired_difference: need two equal-length 1-D correctness vectors, got {a.shape}, {b.shape}")
    out = contrast_interval([a, b], [1.0, -1.0], seed_sd=seed_sd, n_boot=n_boot, seed=seed, level=level)
    n01 = int(((a == 0) & (b == 1)).sum())
    n10 = int(((a == 1) & (b == 0)).sum())
    out["mcnemar_p"] = float(binomtest(n10, n01 + n10, 0.5).pvalue) if n01 + n10 else 1.0
    out["discordant"] = (n10, n01)
    return out


def ordering_verdict(interval: dict) -> tuple[bool, str | None]:
    """``(passed, needs)`` for a check "a > b" from :func:`paired_difference`'s interval: passed when the
    interval lies above 0, failed when below, and otherwise ``needs`` says that the run cannot settle it."""
    lo, hi = interval["lo"], interval["hi"]
    if lo > 0:
        return True, None
    if hi < 0:
        return False, None
    return (
        False,
        f"a larger run: the 95% interval of the difference, [{100 * lo:+.2f}, {100 * hi:+.2f}] points, contains 0",
    )


# --- deid ---
# Ko et al. (IEEE Access 2020), Sec. IV-D: SSIM (Wang et al. 2004, as scikit-image computes it: 7x7 uniform
# window, data range 255, colour channels averaged; computed here batched and exactly, see SSIMReference) and the normalised L2 distance, combined into
#   SSIM_Pos = SSIM_Dei - SSIM_Vec                          (Eq. 4)
#   DI(a)    = SSIM_Dei * a + L2norm_Dei * (1 - a)          (Eq. 5)
#   SDIM(a)  = SSIM_Pos + DI(a)                             (Eq. 6)
# "Normalised L2" is read as the root-mean-square difference of images scaled to [0, 1]
# (||x - y||_2 / sqrt(#values)), which lies in [0, 1] like the paper's values; the paper does not say.
# Every index is the mean over the images, as in the paper's Table 2.


def _pairs(x, y, what):
    for name, a in (("reference", x), (what, y)):
        if not isinstance(a, np.ndarray) or a.dtype != np.uint8:
            raise InputError(
                f"{name} images: expected a uint8 numpy array, got {getattr(a, 'dtype', type(a).__name__)}"
            )
    if x.shape != y.shape:
        raise InputError(
            f"{what} images of shape {y.shape} do not match the reference images {x.shape}: "
            f"resize the originals to the compared size first"
        )
    if x.ndim == 2 or (x.ndim == 3 and x.shape[-1] == 3):
        x, y = x[None], y[None]
    if x.ndim == 4 and x.shape[-1] == 1:
        x, y = x[..., 0], y[..., 0]
    if x.ndim not in (3, 4) or min(x.shape[1:3]) < 7:
        raise InputError(f"{what}: expected HxW(x3) images of at least 7x7 (or a batch), got {x.shape}")
    return x, y


_WIN = 7  # scikit-image's default uniform window


def _box1(a: np.ndarray, axis: int) -> np.ndarray:
    """Sums of 7 consecutive entries along ``axis`` (valid mode), by doubling: 1 -> 2 -> 4 -> 7."""

    def sl(b, i, n):
        idx = [slice(None)] * b.ndim
        idx[axis] = slice(i, i + n)
        return b[tuple(idx)]

    m = a.shape[axis]
    s2 = sl(a, 0, m - 1) + sl(a, 1, m - 1)  # a[i] + a[i+1]
    s4 = sl(s2, 0, m - 3) + sl(s2, 2, m - 3)  # a[i..i+3]
    out = sl(s4, 0, m - 6) + sl(s2, 4, m - 6)  # a[i..i+5]
    out += sl(a, 6, m - 6)  # a[i..i+6]
    return out


def _box_sums(a: np.ndarray) -> np.ndarray:
    """Sums over every 7x7 window fully inside the image (valid mode) of ``a`` (M x H x W). For integer
    planes in int32 every partial sum is a sum of at most 49 values, so products of uint8 values never
    overflow and the sums are exact."""
    return _box1(_box1(a, 1), 2)


def _planes(x: np.ndarray, dtype=np.int32) -> np.ndarray:
    """N x H x W (x C) uint8 -> (N C) x H x W, each channel a contiguous plane."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    return np.ascontiguousarray(np.moveaxis(x, -1, 1), dtype=dtype).reshape(-1, *x.shape[1:3])


class SSIMReference:
    """The window statistics of reference images, computed once and compared with several others.

    ``SSIMReference(x).ssim(y)`` equals ``skimage.metrics.structural_similarity(x_i, y_i, data_range=255,
    channel_axis=-1)`` (7x7 uniform window, sample covariance, K1 = 0.01, K2 = 0.03) image by image, to
    rounding (< 1e-12; a test compares them): scikit-image averages the SSIM map over the pixels at least 3
    from the border, whose windows lie inside the image, so only valid windows are needed, and their sums
    of integer pixel values and products are exact. With window sums ``Sx, Sy, Sxx, Syy, Sxy`` over
    ``n = 49`` pixels, skimage's map ``(2 ux uy + C1)(2 vxy + C2) / ((ux^2 + uy^2 + C1)(vx + vy + C2))``
    (``u = S / n``, ``v = (n Sxx - Sx^2) / (n (n - 1))``) is the same fraction with numerator and denominator
    multiplied by ``n^3 (n - 1)``, which is what is evaluated. Vectorised over the batch and channels.
    """

    def __init__(self, x: np.ndarray):
        x = np.asarray(x)
        self.shape = x.shape
        self.channels = 1 if x.ndim == 3 else x.shape[-1]
        self._x = _planes(x)
        self.sx = _box_sums(self._x).astype(np.float64)
        self.sxx = _box_sums(self._x * self._x).astype(np.float64)

    def ssim(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y)
        if y.shape != self.shape:
            raise InputError(f"SSIM: images of shape {y.shape} do not match the reference {self.shape}")
        yp = _planes(y)
        sy = _box_sums(yp).astype(np.float64)
        syy = _box_sums(yp * yp).astype(np.float64)
        sxy = _box_sums(self._x * yp).astype(np.float64)
        n = float(_WIN * _WIN)
        k1 = n * n * (0.01 * 255) ** 2
        k2 = n * (n - 1) * (0.03 * 255) ** 2
        sx, sxx = self.sx, self.sxx
        p = sx * sy  # n^2 ux uy
        q = sx * sx
        q += sy * sy  # n^2 (ux^2 + uy^2)
        num = 2 * p + k1  # n^2 (2 ux uy + C1)
        t = sxy * n
        t -= p
        t *= 2
        t += k2  # n (n - 1) (2 vxy + C2)
        num *= t
        den = q + k1  # n^2 (ux^2 + uy^2 + C1)
        t = sxx + syy
        t *= n
        t -= q
        t += k2  # n (n - 1) (vx + vy + C2)
        den *= t
        num /= den
        per_plane = num.mean(axis=(1, 2), dtype=np.float64)
        return per_plane.reshape(-1, self.channels).mean(axis=1)


def ssim_images(x: np.ndarray, y: np.ndarray, *, what: str = "compared", chunk: int = 1) -> np.ndarray:
    """Per-image SSIM of ``y`` against ``x`` (uint8, same shape; RGB averaged over channels), equal to
    scikit-image's ``structural_similarity(data_range=255)`` (see :class:`SSIMReference`), batched."""
    return ssim_many(x, [y], what=what, chunk=chunk)[0]


def ssim_many(x: np.ndarray, ys: list[np.ndarray], *, what: str = "compared", chunk: int = 1) -> list[np.ndarray]:
    """Per-image SSIM of each batch in ``ys`` against the same references ``x`` (their window statistics
    are computed once per chunk of ``chunk`` images)."""
    chunk = validate.positive_int("chunk", chunk)
    pairs = [_pairs(x, y, what) for y in ys]
    xb = pairs[0][0] if pairs else x
    out = [np.empty(len(xb)) for _ in ys]
    for i in range(0, len(xb), chunk):
        ref = SSIMReference(xb[i : i + chunk])
        for o, (_, yb) in zip(out, pairs, strict=True):
            o[i : i + chunk] = ref.ssim(yb[i : i + chunk])
    return out


def l2norm_images(x: np.ndarray, y: np.ndarray, *, what: str = "compared") -> np.ndarray:
    """Per-image normalised L2 distance: RMS of ``(x - y) / 255``."""
    x, y = _pairs(x, y, what)
    d = (x.astype(np.float64) - y.astype(np.float64)).reshape(len(x), -1) / 255.0
    return np.sqrt((d * d).mean(1))


def _alpha(alpha):
    return validate.number("alpha", alpha, low=0, high=1)


def ssim_pos(ssim_dei: float, ssim_vec: float) -> float:
    """Eq. 4: SSIM_Pos = SSIM_Dei - SSIM_Vec."""
    return validate.number("SSIM_Dei", ssim_dei) - validate.number("SSIM_Vec", ssim_vec)


def di(ssim_dei: float, l2norm_dei: float, alpha: float = 0.5) -> float:
    """Eq. 5: DI(alpha) = SSIM_Dei * alpha + L2norm_Dei * (1 - alpha)."""
    a = _alpha(alpha)
    return validate.number("SSIM_Dei", ssim_dei) * a + validate.number("L2norm_Dei", l2norm_dei) * (1 - a)


def sdim(ssim_pos_value: float, di_value: float) -> float:
    """Eq. 6: SDIM(alpha) = SSIM_Pos + DI(alpha)."""
    return validate.number("SSIM_Pos", ssim_pos_value) + validate.number("DI", di_value)


def deid_indices(originals: np.ndarray, vectorized: np.ndarray, deidentified: np.ndarray, alpha: float = 0.5) -> dict:
    """Table 2's columns (a)-(f), averaged over the images: SSIM_Vec, SSIM_Dei, SSIM_Pos, L2norm_Dei,
    DI(alpha), SDIM(alpha). ``originals`` must already have the size of the other two."""
    a = _alpha(alpha)
    p = deid_per_image(originals, vectorized, deidentified)
    return deid_indices_from(p, a)


def deid_per_image(originals: np.ndarray, vectorized: np.ndarray, deidentified: np.ndarray) -> dict:
    """Per-image SSIM_vec, SSIM_dei and L2norm_dei (arrays), from which :func:`deid_indices_from` gives
    Table 2's means; kept per image so that a long run can be stored and resumed in parts."""
    _pairs(originals, deidentified, "de-identified")
    s_vec, s_dei = ssim_many(originals, [vectorized, deidentified], what="vectorized")
    return {
        "SSIM_vec": s_vec,
        "SSIM_dei": s_dei,
        "L2norm_dei": l2norm_images(originals, deidentified, what="de-identified"),
    }


def deid_indices_from(per_image: dict, alpha: float = 0.5) -> dict:
    """Table 2's indices from the per-image values of :func:`deid_per_image` (means over the images)."""
    a = _alpha(alpha)
    if not isinstance(per_image, dict) or any(k not in per_image for k in ("SSIM_vec", "SSIM_dei", "L2norm_dei")):
        raise InputError("de-identification indices: expected a dict with SSIM_vec, SSIM_dei and L2norm_dei")
    vals = {k: _reals(k, per_image[k]).ravel() for k in ("SSIM_vec", "SSIM_dei", "L2norm_dei")}
    n = len(vals["SSIM_vec"])
    if n == 0:
        raise InputError("de-identification indices need at least one image")
    if any(len(v) != n for v in vals.values()):
        raise InputError("de-identification indices: SSIM_vec, SSIM_dei and L2norm_dei differ in length")
    s_vec = float(np.mean(vals["SSIM_vec"]))
    s_dei = float(np.mean(vals["SSIM_dei"]))
    l2 = float(np.mean(vals["L2norm_dei"]))
    pos = ssim_pos(s_dei, s_vec)
    d = di(s_dei, l2, a)
    return {
        "SSIM_vec": s_vec,
        "SSIM_dei": s_dei,
        "SSIM_pos": pos,
        "L2norm_dei": l2,
        "DI": d,
        "SDIM": sdim(pos, d),
        "alpha": a,
        "n": int(n),
    }
