"""Face authentication with EtC images and SVMs (Kawamura, Kinoshita, Kiya), the logic of ``book/etc.md``.

Pipeline (the cloud side, which never sees a key): flatten the (encrypted) images, reduce the dimension with
PCA fitted on the training images to ``D / ratio`` components, z-score every component with statistics of
the training images (``StandardScaler``), and train one binary SVM (linear or RBF kernel) per identity,
one-vs-rest, on a precomputed kernel. A query claiming identity ``c`` is scored by the decision value of
identity ``c``'s SVM; FAR/FRR curves and the EER pool the claims of every identity.

Why a common key leaves the pipeline unchanged. The EtC cipher is ``x' = Q x + b``: ``Q`` a signed
permutation matrix (block scramble, rotation/inversion and colour shuffle permute pixels; the
negative-positive transform multiplies a pixel by -1) and ``b`` = 255 on negated pixels. With one key for
every image:

* centring removes ``b``: ``x' - mean' = Q (x - mean)``;
* the training covariance becomes ``Q C Q^T``, so its eigenvectors are ``Q v`` (eigenvalues unchanged) and
  the PCA scores ``(Q v)^T Q (x - mean) = v^T (x - mean)`` are the plain scores, up to the sign that any
  eigenvector solver is free to choose per component (and exact rotations inside repeated eigenvalues, which
  generic data do not have);
* the z-score divides each component by its standard deviation, which a sign does not change, so the
  features are ``F' = F S`` with ``S`` a diagonal matrix of +-1 — an orthogonal map;
* ``F' F'^T = F F^T`` (linear kernel) and ``||f' - g'|| = ||f - g||`` (RBF kernel, and its ``gamma="scale"``
  uses the feature variance, also unchanged). Identical kernel matrices give the SVM the same dual problem,
  hence the same decision values and the same FAR/FRR.

Without normalisation the sign flip is not harmless: the raw inner product ``x'^T y' = x^T y + b^T Q (x + y)
+ b^T b`` changes; the z-score of every raw pixel already cancels it (``z' = S z``). PCA (a reduction learned
from the data) keeps this property; a fixed projection chosen without the key, e.g. a random projection ``R``,
does not (``R Q x != R x``), and block averaging does not commute with the rotation of a block's pixels unless
it averages whole blocks. Everything is measured below, not assumed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ppstudy import InputError
from ppstudy.ciphers import etc as cipher
from ppstudy.metrics import authentication_errors

#: the paper's reduction ratios (1/20 .. 1/80 of the 192 x 160 = 30,720 pixels)
RATIOS = (20, 40, 60, 80)
KERNELS = ("linear", "rbf")

#: Kawamura et al., Table 1 (linear) and Table 2 (RBF): EER under key condition 2, (not encrypted, encrypted)
PAPER_TABLE1 = {20: (0.0223, 0.000744), 40: (0.0247, 0.000835), 60: (0.0271, 0.000777), 80: (0.0296, 0.000779)}
PAPER_TABLE2 = {20: (0.0504, 0.000448), 40: (0.0644, 0.00112), 60: (0.0732, 0.00779), 80: (0.0863, 0.00855)}
PAPER_TABLES = {"linear": PAPER_TABLE1, "rbf": PAPER_TABLE2}

#: the array files a run leaves beside results.json for its figures
ARRAY_FILES = ("steps", "examples", "curves")


# ---------------------------------------------------------------------- data
def load_faces(source: str, *, n_persons: int = 12, per_person: int = 20, shape: Sequence[int] = (48, 40),
               data_seed: int = 0, split_seed: int = 0) -> dict[str, Any]:
    """The face set and its per-person half/half split.

    ``source="synthetic"``: :func:`ppstudy.data.yaleb.synthetic_faces` (offline, smoke profile);
    ``source="yaleb"``: the cropped Extended Yale B through the dataset registry (192 x 160).
    """
    from ppstudy.data import yaleb

    if source == "synthetic":
        d = yaleb.synthetic_faces(n_persons, per_person, tuple(shape), seed=data_seed)
        d["description"] = (f"synthetic faces: {n_persons} LFW identities from scikit-image x {per_person} "
                            f"lightings, {shape[0]}x{shape[1]} (smoke)")
    elif source == "yaleb":
        d = yaleb.load_cropped()
        d["description"] = (f"Extended Yale B cropped: {len(d['persons'])} persons, {len(d['images'])} images, "
                            f"{d['images'].shape[1]}x{d['images'].shape[2]}")
    else:
        raise InputError(f"data_source must be 'synthetic' or 'yaleb', got {source!r}")
    d["train_idx"], d["query_idx"] = yaleb.split_half(d["labels"], seed=split_seed)
    return d


def encrypt_condition(images: np.ndarray, owners: np.ndarray, condition: int, *, block: int = 8,
                      key_seed: int | None = None) -> tuple[np.ndarray, dict]:
    """Encrypt every image with its owner's key: condition 0 = no encryption, 1 = one common key,
    2 = one key per owner (client / person). Returns ``(images, keys)``."""
    if condition == 0:
        return images, {}
    keys = cipher.condition_keys(condition, np.unique(owners).tolist(), images.shape[1:], block, seed=key_seed)
    return cipher.encrypt_groups(images, owners, keys), keys


def encrypt_conditions(data: dict[str, Any], *, block: int = 8, key_seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """All images under key condition 1 (key from ``key_seed``) and key condition 2 (keys per person,
    spawned from ``key_seed + 1``), each person being the client that owns its images."""
    x, y = data["images"], data["labels"]
    x1, _ = encrypt_condition(x, y, 1, block=block, key_seed=key_seed)
    x2, _ = encrypt_condition(x, y, 2, block=block, key_seed=key_seed + 1)
    return x1, x2


# ---------------------------------------------------------------------- pipeline
def n_components(n_pixels: int, ratio: int, n_train: int) -> int:
    """``n_pixels / ratio`` rounded, capped at ``n_train - 1`` (the rank of the centred training set:
    PCA cannot give more informative components)."""
    return int(max(1, min(round(n_pixels / ratio), n_train - 1)))


class ExactPCA:
    """PCA of uint8 images through *exactly computed* centred Gram matrices (dual PCA).

    With ``X`` the ``n x d`` training images, ``n^2 (X - mu)(X - mu)^T = n^2 X X^T - n (t 1^T + 1 t^T) +
    s.s`` where ``s = X^T 1`` and ``t = X s`` are integers, so the centred Gram matrix is computed without any
    rounding (``X X^T`` in float64 BLAS is exact: every partial sum is an integer below ``2^53``; the rest in
    int64). Its eigenvectors ``U`` and eigenvalues ``lam`` give the principal-component scores of any image
    ``x``: ``z = (x - mu)^T (X - mu)^T U / sqrt(lam)`` — again from an exact cross Gram matrix. These are the
    scores of ordinary PCA (up to one sign per component), but since an EtC key with a common key maps
    ``X -> X Q^T + b`` and leaves every centred inner product unchanged, the encrypted Gram matrices are
    *bitwise* the plain ones: the whole pipeline downstream sees identical numbers.
    """

    def __init__(self, n_components: int):
        self.n_components = int(n_components)

    @staticmethod
    def _flat(x: np.ndarray) -> np.ndarray:
        if not isinstance(x, np.ndarray) or x.dtype != np.uint8:
            raise InputError("ExactPCA needs uint8 images (exact integer arithmetic)")
        return x.reshape(len(x), -1)

    def fit(self, x: np.ndarray) -> "ExactPCA":
        xi = self._flat(x)
        n, d = xi.shape
        if not 2 <= self.n_components + 1 <= n:
            raise InputError(f"ExactPCA: {self.n_components} components need more than {self.n_components} "
                             f"training images, got {n}")
        if 255 * 255 * d >= 2 ** 53 or n * n * 255 * 255 * d >= 2 ** 62:
            raise InputError(f"ExactPCA: {n} images of {d} pixels exceed exact integer arithmetic")
        self._x, self._n = xi, n
        self._s = xi.sum(axis=0, dtype=np.int64)
        self._u = int(self._s @ self._s)
        self._t = xi.astype(np.int64) @ self._s
        g = self._centred_gram(xi, self._t)
        lam, vec = np.linalg.eigh(g.astype(np.float64) / (n * n))
        k = self.n_components
        lam, vec = lam[::-1][:k], vec[:, ::-1][:, :k]
        if lam[-1] <= 0:
            raise InputError(f"ExactPCA: the training images span fewer than {k} dimensions")
        # a deterministic sign per component: the largest entry of each eigenvector positive
        flip = np.sign(vec[np.argmax(np.abs(vec), axis=0), np.arange(k)])
        self.explained_variance_ = lam / (n - 1)  # as sklearn.decomposition.PCA
        self._proj = vec * flip / np.sqrt(lam)
        return self

    def _centred_gram(self, q: np.ndarray, tq: np.ndarray) -> np.ndarray:
        """``n^2 (q - mu) . (x_i - mu)`` for every row of ``q`` and training image ``x_i``, exactly (int64)."""
        n = self._n
        dot = np.rint(q.astype(np.float64) @ self._x.astype(np.float64).T).astype(np.int64)  # exact
        return n * n * dot - n * (tq[:, None] + self._t[None, :]) + self._u

    def transform(self, x: np.ndarray) -> np.ndarray:
        q = self._flat(x)
        if q.shape[1] != self._x.shape[1]:
            raise InputError(f"ExactPCA: images of {q.shape[1]} pixels, fitted on {self._x.shape[1]}")
        c = self._centred_gram(q, q.astype(np.int64) @ self._s)
        return (c.astype(np.float64) / (self._n * self._n)) @ self._proj


def reduce(x_train: np.ndarray, x_query: np.ndarray, dims: Sequence[int], *,
           method: str = "exact") -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """PCA to ``max(dims)`` components fitted on the training images, then per ``d`` the first ``d``
    components z-scored with training statistics (``StandardScaler``). Yields ``(d, F_train, F_query)``.

    ``method="exact"``: :class:`ExactPCA` (exact Gram matrices: a common key gives bitwise the plain
    features). ``method="sklearn"``: ``sklearn.decomposition.PCA`` with the exact LAPACK SVD (no random
    sketch, which would not commute with the key) — the same up to floating-point rounding.
    """
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    if method == "exact":
        pca = ExactPCA(max(dims)).fit(x_train)
        za, zb = pca.transform(x_train), pca.transform(x_query)
    elif method == "sklearn":
        a = x_train.reshape(len(x_train), -1).astype(np.float64)
        b = x_query.reshape(len(x_query), -1).astype(np.float64)
        pca = PCA(n_components=max(dims), svd_solver="full").fit(a)
        za, zb = pca.transform(a), pca.transform(b)
    else:
        raise InputError(f"reduction method must be 'exact' or 'sklearn', got {method!r}")
    for d in dims:
        sc = StandardScaler().fit(za[:, :d])
        yield d, sc.transform(za[:, :d]), sc.transform(zb[:, :d])


def kernel_matrices(kind: str, f_train: np.ndarray, f_query: np.ndarray) -> tuple[np.ndarray, np.ndarray, float | None]:
    """``(K_train, K_query, gamma)``; RBF with scikit-learn's ``gamma="scale"`` = 1 / (d * Var(F_train))."""
    from sklearn.metrics.pairwise import linear_kernel, rbf_kernel

    if kind == "linear":
        return linear_kernel(f_train), linear_kernel(f_query, f_train), None
    if kind == "rbf":
        gamma = 1.0 / (f_train.shape[1] * f_train.var())
        return rbf_kernel(f_train, gamma=gamma), rbf_kernel(f_query, f_train, gamma=gamma), float(gamma)
    raise InputError(f"kernel must be one of {KERNELS}, got {kind!r}")


def ovr_scores(k_train: np.ndarray, y_train: np.ndarray, k_query: np.ndarray, classes: np.ndarray, *,
               C: float = 1.0, n_jobs: int = 1) -> np.ndarray:
    """One binary SVM per identity (identity vs the rest) on a precomputed kernel; returns the decision
    values ``(n_query, n_classes)`` — the authentication score of each query claiming each identity."""
    from joblib import Parallel, delayed
    from sklearn.svm import SVC

    def one(c):
        m = SVC(kernel="precomputed", C=C).fit(k_train, (y_train == c).astype(int))
        return m.decision_function(k_query)

    cols = Parallel(n_jobs=n_jobs, prefer="threads")(delayed(one)(c) for c in classes)
    return np.stack(cols, axis=1)


def pipeline(x_train: np.ndarray, y_train: np.ndarray, x_query: np.ndarray, *, ratios: Sequence[int] = RATIOS,
             kernels: Sequence[str] = KERNELS, C: float = 1.0, n_jobs: int = 1,
             method: str = "exact") -> Iterator[dict[str, Any]]:
    """The whole cloud-side pipeline; yields one result per (ratio, kernel) with its kernel matrices and
    scores (a generator, so that a plain and an encrypted run can be compared in lockstep without keeping
    every kernel matrix)."""
    classes = np.unique(y_train)
    n_pixels = int(np.prod(x_train.shape[1:]))
    dims = [n_components(n_pixels, r, len(x_train)) for r in ratios]
    for r, (d, ftr, fq) in zip(ratios, reduce(x_train, x_query, dims, method=method)):
        for kind in kernels:
            ktr, kq, gamma = kernel_matrices(kind, ftr, fq)
            scores = ovr_scores(ktr, y_train, kq, classes, C=C, n_jobs=n_jobs)
            yield {"ratio": int(r), "dims": int(d), "kernel": kind, "gamma": gamma, "classes": classes,
                   "K_train": ktr, "K_query": kq, "scores": scores}


def curve_on_grid(errors: dict[str, Any], n: int = 300) -> dict[str, np.ndarray]:
    """FAR/FRR of :func:`ppstudy.metrics.authentication_errors` sampled at ``n`` thresholds spanning the
    scores (the step curves evaluated exactly, for plotting)."""
    thr, far, frr = errors["thresholds"][1:], errors["far"][1:], errors["frr"][1:]  # drop the +inf point
    grid = np.linspace(thr.min(), thr.max(), n)
    # thresholds decrease; the rates at t are those of the smallest listed threshold >= t
    k = np.searchsorted(-thr, -grid, side="right") - 1
    k = np.clip(k, 0, len(thr) - 1)
    return {"threshold": grid, "far": far[k], "frr": frr[k]}


def evaluate(results: Iterator[dict[str, Any]], y_query: np.ndarray) -> Iterator[dict[str, Any]]:
    """Add FAR/FRR/EER to each pipeline result."""
    for res in results:
        res["errors"] = authentication_errors(res["scores"], y_query, res["classes"])
        res["eer"] = res["errors"]["eer"]
        yield res


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a, float) - np.asarray(b, float))))


def raw_kernel_differences(x_plain: np.ndarray, x_enc: np.ndarray) -> dict[str, float]:
    """Controls on raw pixels (no PCA): the linear kernel before and after a per-pixel z-score."""
    from sklearn.preprocessing import StandardScaler

    a = x_plain.reshape(len(x_plain), -1).astype(np.float64)
    b = x_enc.reshape(len(x_enc), -1).astype(np.float64)
    za, zb = StandardScaler().fit_transform(a), StandardScaler().fit_transform(b)
    return {"raw": max_abs_diff(a @ a.T, b @ b.T), "raw_scale": float(np.abs(a @ a.T).max()),
            "zscore": max_abs_diff(za @ za.T, zb @ zb.T), "zscore_scale": float(np.abs(za @ za.T).max())}


# ---------------------------------------------------------------------- the study
def run_study(data: dict[str, Any], *, block: int = 8, ratios: Sequence[int] = RATIOS,
              kernels: Sequence[str] = KERNELS, C: float = 1.0, key_seed: int = 0, n_jobs: int = 1,
              progress: bool = True, float_control: bool = True) -> dict[str, Any]:
    """Plain, key condition 1 and key condition 2 through the same pipeline.

    Returns ``{"rows": [...per condition/ratio/kernel: eer, dims...], "invariance": [...max abs diffs
    of kernels and decision values, condition 1 vs plain...], "curves": {...}, "raw": {...}}``.
    With ``float_control`` the comparison is repeated with scikit-learn's floating-point PCA
    (``*_float`` columns of the invariance rows).
    """
    from tqdm import tqdm

    x, y = data["images"], data["labels"]
    tr, q = data["train_idx"], data["query_idx"]
    ytr, yq = y[tr], y[q]
    x1, x2 = encrypt_conditions(data, block=block, key_seed=key_seed)
    kw = dict(ratios=ratios, kernels=kernels, C=C, n_jobs=n_jobs)
    total = len(ratios) * len(kernels)
    rows, inv, curves = [], [], {}

    def record(cond, res):
        rows.append({"condition": cond, "ratio": res["ratio"], "dims": res["dims"], "kernel": res["kernel"],
                     "eer": res["eer"]})
        curves[f"{cond}/{res['kernel']}/{res['ratio']}"] = curve_on_grid(res["errors"])

    plain = evaluate(pipeline(x[tr], ytr, x[q], **kw), yq)
    enc1 = evaluate(pipeline(x1[tr], ytr, x1[q], **kw), yq)
    for p, e in tqdm(zip(plain, enc1), total=total, desc="plain + key condition 1", disable=not progress):
        record("plain", p)
        record("condition 1", e)
        inv.append({"ratio": p["ratio"], "dims": p["dims"], "kernel": p["kernel"],
                    "max_abs_K_train": max_abs_diff(p["K_train"], e["K_train"]),
                    "max_abs_K_query": max_abs_diff(p["K_query"], e["K_query"]),
                    "max_abs_decision": max_abs_diff(p["scores"], e["scores"]),
                    "max_abs_K": float(np.abs(p["K_query"]).max()),
                    "max_abs_score": float(np.abs(p["scores"]).max()),
                    "eer_plain": p["eer"], "eer_condition1": e["eer"]})
    if float_control:
        kwf = dict(kw, method="sklearn")
        pairs = zip(pipeline(x[tr], ytr, x[q], **kwf), pipeline(x1[tr], ytr, x1[q], **kwf))
        for row, (p, e) in zip(inv, tqdm(pairs, total=total, desc="control: floating-point PCA",
                                         disable=not progress)):
            row["max_abs_K_float"] = max(max_abs_diff(p["K_train"], e["K_train"]),
                                         max_abs_diff(p["K_query"], e["K_query"]))
            row["max_abs_decision_float"] = max_abs_diff(p["scores"], e["scores"])
    for e in tqdm(evaluate(pipeline(x2[tr], ytr, x2[q], **kw), yq), total=total, desc="key condition 2",
                  disable=not progress):
        record("condition 2", e)
    return {"rows": rows, "invariance": inv, "curves": curves, "raw": raw_kernel_differences(x[tr], x1[tr])}


def example_images(data: dict[str, Any], x1: np.ndarray, x2: np.ndarray, n: int = 4) -> dict[str, np.ndarray]:
    """A few faces of different persons: plain, under the common key, under their own keys."""
    y = data["labels"]
    persons = np.unique(y)[:n]
    idx = np.array([np.flatnonzero(y == p)[0] for p in persons])
    return {"plain": data["images"][idx], "condition1": x1[idx], "condition2": x2[idx]}


def steps_illustration(block: int = 16, size: int = 256, seed: int = 1) -> dict[str, np.ndarray]:
    """A bundled colour photograph after each EtC step (cumulative), and the grayscale-based variant."""
    from skimage.transform import resize

    from ppstudy.data.bundled import photographs

    img = photographs(["astronaut"])["astronaut"]
    img = np.round(resize(img, (size, size), anti_aliasing=True) * 255).astype(np.uint8)
    key = cipher.keygen(img.shape, block, seed=seed)
    out = {"plain": img}
    for i, step in enumerate(cipher.STEPS):
        out[step] = cipher.encrypt(img, key.restricted(cipher.STEPS[: i + 1]))
    gkey = cipher.keygen(img.shape, block, seed=seed, grayscale=True)
    out["grayscale_based"] = cipher.encrypt(img, gkey)[..., 0]
    return out


def save_arrays(run_dir: str | Path, name: str, groups: dict[str, dict[str, np.ndarray]]) -> Path:
    """Save arrays for the figures as ``run_dir/<name>.npz`` with keys ``<group>/<key>``; ``name`` is one of
    :data:`ARRAY_FILES`. Curves come from :func:`curve_arrays`."""
    if name not in ARRAY_FILES:
        raise InputError(f"array file must be one of {ARRAY_FILES}, got {name!r}")
    arrays = {f"{g}/{k}": np.asarray(v) for g, d in groups.items() for k, v in d.items()}
    path = Path(run_dir) / f"{name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def curve_arrays(study: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """The study's FAR/FRR curves as groups ``curve/<condition>/<kernel>/<ratio>`` for :func:`save_arrays`."""
    return {f"curve/{key}": c for key, c in study["curves"].items()}


def table_rows(study: dict[str, Any], kernel: str) -> list[dict[str, Any]]:
    """Rows of Table 1 (linear) or Table 2 (RBF): EER under key condition 2, paper beside measured."""
    eer = {(r["condition"], r["ratio"]): r for r in study["rows"] if r["kernel"] == kernel}
    paper = PAPER_TABLES[kernel]
    rows = []
    for ratio in sorted({r for (_, r) in eer}):
        p = paper.get(ratio, (None, None))
        rows.append({"reduction ratio": f"1/{ratio}", "dims": eer[("plain", ratio)]["dims"],
                     "paper not encrypted": p[0], "measured not encrypted": eer[("plain", ratio)]["eer"],
                     "paper encrypted": p[1], "measured encrypted": eer[("condition 2", ratio)]["eer"]})
    return rows


# ---------------------------------------------------------------------- figures
def _arrays(run_dir: str | Path, name: str) -> dict[str, np.ndarray]:
    path = Path(run_dir) / f"{name}.npz"
    if not path.is_file():
        raise InputError(f"no {path.name} in {run_dir}: run the chapter first")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def fig1_steps(manifest: dict, run_dir: str | Path):
    import matplotlib.pyplot as plt

    a = _arrays(run_dir, "steps")
    names = ["plain", *cipher.STEPS]
    titles = ["plain", "+ block scramble", "+ rotation/inversion", "+ negative-positive", "+ colour shuffle"]
    fig, ax = plt.subplots(1, len(names) + 1, figsize=(2.2 * (len(names) + 1.6), 2.6),
                           gridspec_kw={"width_ratios": [1] * len(names) + [3]})
    for axi, n, t in zip(ax, names, titles):
        axi.imshow(a[f"steps/{n}"])
        axi.set_title(t)
    ax[-1].imshow(a["steps/grayscale_based"], cmap="gray", vmin=0, vmax=255)
    ax[-1].set_title("grayscale-based (R | G | B side by side)")
    for axi in ax:
        axi.set_axis_off()
    fig.tight_layout()
    return fig


def fig3_examples(manifest: dict, run_dir: str | Path):
    import matplotlib.pyplot as plt

    a = _arrays(run_dir, "examples")
    rows = [("plain", "plain"), ("condition1", "EtC, common key\n(condition 1)"),
            ("condition2", "EtC, own key per person\n(condition 2)")]
    n = a["example/plain"].shape[0]
    fig, ax = plt.subplots(len(rows), n, figsize=(1.9 * n + 1.2, 2.2 * len(rows)), squeeze=False)
    for i, (k, label) in enumerate(rows):
        for j in range(n):
            ax[i, j].imshow(np.squeeze(a[f"example/{k}"][j]), cmap="gray", vmin=0, vmax=255)
            ax[i, j].set_xticks([])
            ax[i, j].set_yticks([])
            ax[i, j].grid(False)
        ax[i, 0].set_ylabel(label)
    for j in range(n):
        ax[0, j].set_title(f"person {j + 1}")
    fig.tight_layout()
    return fig


def fig4_far_frr(manifest: dict, run_dir: str | Path):
    """FAR and FRR against the threshold under key condition 1: plain and encrypted curves coincide."""
    import matplotlib.pyplot as plt

    a = _arrays(run_dir, "curves")
    ratios = sorted({int(k.split("/")[3]) for k in a if k.startswith("curve/plain/")})
    kernels = [k for k in KERNELS if any(x.startswith(f"curve/plain/{k}/") for x in a)]
    fig, ax = plt.subplots(len(kernels), len(ratios), figsize=(3.2 * len(ratios), 2.8 * len(kernels)),
                           squeeze=False, sharey=True)
    for i, kern in enumerate(kernels):
        for j, r in enumerate(ratios):
            axi = ax[i, j]
            for cond, lab in (("plain", "not encrypted"), ("condition 1", "encrypted (common key)")):
                c = f"curve/{cond}/{kern}/{r}/"
                wide = dict(lw=3.5, alpha=0.45, ls="-") if cond == "plain" else dict(lw=1.0, ls=(0, (3, 2)))
                axi.plot(a[c + "threshold"], a[c + "far"], color="C0" if cond == "plain" else "navy",
                         label=f"FAR, {lab}", **wide)
                axi.plot(a[c + "threshold"], a[c + "frr"], color="C3" if cond == "plain" else "darkred",
                         label=f"FRR, {lab}", **wide)
            axi.set_title(f"{'linear' if kern == 'linear' else 'RBF'} kernel, ratio 1/{r}")
            axi.set_xlabel("threshold (SVM decision value)")
        ax[i, 0].set_ylabel("error rate")
    handles, labels = ax[0, 0].get_legend_handles_labels()
    fig.suptitle(f"FAR/FRR, key condition 1 — {manifest.get('data', '')}", fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    return fig


def fig_tables(manifest: dict, run_dir: str | Path):
    """Tables 1 and 2 as a figure: EER against the reduction ratio, paper and this run."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    for axi, (name, kern) in zip(ax, (("table1", "linear"), ("table2", "RBF"))):
        rows = manifest["tables"][name]["rows"]
        x = np.arange(len(rows))
        for col, style, lab in (("paper not encrypted", "o--", "paper, not encrypted"),
                                ("paper encrypted", "s--", "paper, encrypted (cond. 2)"),
                                ("measured not encrypted", "o-", "measured, not encrypted"),
                                ("measured encrypted", "s-", "measured, encrypted (cond. 2)")):
            v = [r[col] if r[col] is not None else np.nan for r in rows]
            axi.plot(x, np.maximum(v, 1e-5), style, label=lab, color="C0" if "not" in col else "C3",
                     alpha=0.5 if col.startswith("paper") else 1.0)
        axi.set_xticks(x, [r["reduction ratio"] for r in rows])
        axi.set_yscale("log")
        axi.set_title(f"{kern} kernel: EER under key condition 2")
        axi.set_xlabel("reduction ratio")
    ax[0].set_ylabel("EER (log; 0 drawn at 1e-5)")
    ax[1].legend(fontsize=7)
    fig.suptitle(f"measured: {manifest.get('profile', '')} — {manifest.get('data', '')}", fontsize=9)
    fig.tight_layout()
    return fig


FIGURES = {
    "fig1_steps": fig1_steps,
    "fig3_examples": fig3_examples,
    "fig4_far_frr": fig4_far_frr,
    "fig_tables": fig_tables,
}
