"""Study code of the structural de-identification chapter (Ko et al., IEEE Access 2020).

The chapter ``book/deid.md`` calls these functions; every number it shows comes from them. Paper values
are kept in ``PAPER_*`` dictionaries and only ever appear in ``paper...`` columns.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ppstudy import InputError
from ppstudy import metrics as M
from ppstudy.ciphers import deid
from ppstudy.plots import image_grid

# --------------------------------------------------------------------------- the paper's numbers
#: Table 2: size -> (SSIM_Vec, SSIM_Dei, SSIM_Pos, L2norm_Dei, DI, SDIM), means over 10,000 CIFAR-10 test images
PAPER_TABLE2 = {
    32: (0.6673, 0.3477, -0.3196, 0.2949, 0.32130, 0.00170),
    36: (0.7034, 0.3589, -0.3445, 0.2729, 0.31590, -0.02860),
    42: (0.7368, 0.3584, -0.3784, 0.2577, 0.30805, -0.07035),
    46: (0.7545, 0.3434, -0.4111, 0.2527, 0.29805, -0.11305),
    48: (0.7630, 0.3388, -0.4242, 0.2505, 0.29465, -0.12955),
    50: (0.7705, 0.3355, -0.4350, 0.2510, 0.29325, -0.14175),
    52: (0.7783, 0.3484, -0.4299, 0.2387, 0.29355, -0.13635),
    54: (0.7844, 0.3606, -0.4238, 0.2290, 0.29480, -0.12900),
    58: (0.7943, 0.3616, -0.4327, 0.2253, 0.29345, -0.13925),
    62: (0.8036, 0.3947, -0.4089, 0.2028, 0.29875, -0.11015),
    64: (0.8086, 0.4033, -0.4053, 0.1974, 0.30035, -0.10495),
    75: (0.8245, 0.4077, -0.4168, 0.1821, 0.29490, -0.12190),
    100: (0.8438, 0.4823, -0.3615, 0.1408, 0.31155, -0.04995),
}
TABLE2_COLUMNS = ("SSIM_vec", "SSIM_dei", "SSIM_pos", "L2norm_dei", "DI", "SDIM")
#: Table 3: size -> (SDIM, accuracy vectorized %, accuracy de-identified %)
PAPER_TABLE3 = {32: (0.0017, 82.17, 81.26), 42: (-0.0703, 85.55, 85.88), 50: (-0.1417, 86.76, 87.10),
                64: (-0.1049, 87.75, 87.48)}
#: Table 4: de-identified size (from 50x50) -> (accuracy %, evaluation time ms per image)
PAPER_TABLE4 = {75: (79.16, 0.4000), 100: (81.29, 0.6000), 150: (85.32, 1.2001), 200: (85.77, 2.1014),
                224: (87.10, 3.0003)}
#: Table 5: index -> (RGB, gray), 50x50 -> 224x224; gray accuracy 83.56 % (text of Sec. V-B-3)
PAPER_TABLE5 = {"SSIM_vec": (0.7705, 0.8112), "SSIM_dei": (0.3355, 0.2363), "SSIM_pos": (-0.4350, -0.5749),
                "SDIM": (-0.1417, -0.2452)}
PAPER_GRAY_ACCURACY = 83.56
#: Table 6: method -> accuracy %
PAPER_TABLE6 = {"plain": 91.68, "pixel": 82.16, "deid": 87.10}


# --------------------------------------------------------------------------- data
def load_data(source: str, *, n_train: int, n_test: int, seed: int = 0) -> dict:
    """Labelled 32x32 colour images: ``"smoke"`` (bundled photographs, offline) or ``"cifar10"``."""
    from ppstudy.data import cifar10

    if source == "smoke":
        k = len(__import__("ppstudy.data.bundled", fromlist=["x"]).COLOUR_PHOTOGRAPHS)
        xtr, ytr, xte, yte, names = cifar10.smoke_dataset(max(1, -(-n_train // k)), max(1, -(-n_test // k)),
                                                          seed=seed)
        desc = f"SMOKE data, not CIFAR-10: patches of {k} bundled photographs"
    elif source == "cifar10":
        xtr, ytr = cifar10.load("train")
        xte, yte = cifar10.load("test")
        names = cifar10.CLASSES
        desc = "CIFAR-10"
    else:
        raise InputError(f"data source must be 'smoke' or 'cifar10', got {source!r}")
    rng = np.random.default_rng(seed)
    itr = np.sort(rng.permutation(len(xtr))[:n_train]) if n_train < len(xtr) else np.arange(len(xtr))
    ite = np.sort(rng.permutation(len(xte))[:n_test]) if n_test < len(xte) else np.arange(len(xte))
    desc += f", {len(itr)}/{len(ite)} train/test"
    return {"x_train": xtr[itr], "y_train": ytr[itr], "x_test": xte[ite], "y_test": yte[ite],
            "classes": tuple(names), "description": desc}


def to_gray(x: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma, uint8 (N x H x W)."""
    g = x[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    return np.clip(np.rint(g), 0, 255).astype(np.uint8)


def resize_batch(x: np.ndarray, size: int) -> np.ndarray:
    return np.stack([deid.resize(im, size) for im in x]) if len(x) else x


# --------------------------------------------------------------------------- Table 2 / 5
def _settings_at(base: deid.Settings | None, size: int, out_size: int) -> deid.Settings:
    from dataclasses import replace

    return replace(base or deid.Settings(), size=int(size), out_size=int(out_size))


def _bilinear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
    i0 = np.floor(c).astype(np.intp)
    return i0, np.minimum(i0 + 1, n_in - 1), c - i0


def upsample_batch(x: np.ndarray, size: int) -> np.ndarray:
    """:func:`resize_batch`, as two vectorised linear interpolations over the batch, when ``size`` is an odd
    multiple of both sides (32 -> 224: 7x); otherwise :func:`resize_batch` itself. Equal value for value:
    with an odd integer factor r the bilinear weights are multiples of 1/r, so every output is an integer
    over r^2 (odd), never a rounding tie, and float error cannot change the rounding."""
    if len(x) == 0 or any(size % n or (size // n) % 2 == 0 for n in x.shape[1:3]):
        return resize_batch(x, size)
    a0, a1, fa = _bilinear_taps(x.shape[1], size)
    b0, b1, fb = _bilinear_taps(x.shape[2], size)
    shape = (1, size) + (1,) * (x.ndim - 2)
    xf = x.astype(np.float64)
    t = xf[:, a0] * (1 - fa).reshape(shape) + xf[:, a1] * fa.reshape(shape)
    shape = (1, 1, size) + (1,) * (x.ndim - 3)
    t = t[:, :, b0] * (1 - fb).reshape(shape) + t[:, :, b1] * fb.reshape(shape)
    return np.clip(np.rint(t), 0, 255).astype(np.uint8)


def _index_chunk(images: np.ndarray, key, settings: deid.Settings, keep: int) -> dict:
    """Per-image SSIM_vec, SSIM_dei, L2norm_dei of one chunk (and its first ``keep`` images)."""
    r = deid.pipeline(images, key, settings, outputs=("vector", "deid"))
    ref = upsample_batch(images, settings.out_size)
    out = M.deid_per_image(ref, r["vector"], r["deid"])
    if keep:
        out["examples"] = {"original": ref[:keep], "vector": r["vector"][:keep], "deid": r["deid"][:keep]}
    return out


def _index_chunk_star(args):
    return _index_chunk(*args)


def indices_at(images: np.ndarray, key, settings: deid.Settings, *, alpha: float = 0.5, workers: int = 1,
               keep: int = 0) -> tuple[dict, dict]:
    """Table 2's indices for one setting. Originals are compared at the output size (bilinear up-sampling
    of the 32x32 originals), the vectorized image is ``Rasterize(Vectorize(x))`` at the same size; both come
    from one tracing of each image."""
    t0 = time.perf_counter()
    r = deid.pipeline(images, key, settings, outputs=("vector", "deid"), workers=workers)
    t_dei = time.perf_counter() - t0
    ref = upsample_batch(images, settings.out_size)
    res = M.deid_indices(ref, r["vector"], r["deid"], alpha=alpha)
    res["deid_ms_per_image"] = 1e3 * t_dei / max(1, len(images))
    return res, {"original": ref[:keep], "vector": r["vector"][:keep], "deid": r["deid"][:keep]}


def _digest(images: np.ndarray, key, settings: deid.Settings) -> str:
    import hashlib

    h = hashlib.sha256(b"ppstudy-table2-v1\0")
    h.update(repr((images.shape, str(images.dtype))).encode())
    h.update(np.ascontiguousarray(images).tobytes())
    h.update(key.fingerprint.encode())
    h.update(repr(settings).encode())
    return h.hexdigest()[:24]


def _table2_row(size: int, res: dict) -> dict:
    row: dict = {"size": f"{size}x{size}"}
    p = PAPER_TABLE2.get(int(size))
    for j, c in enumerate(TABLE2_COLUMNS):
        row[f"paper {c}"] = p[j] if p else None
        row[f"measured {c}"] = res[c]
    return row


def table2_protocol(images: np.ndarray, key, sizes, out_size: int = 224, *, settings: deid.Settings | None = None,
                    alpha: float = 0.5, workers: int = 1, cache_dir=None, progress: bool = True, keep: int = 8,
                    chunk: int = 50, timings: dict | None = None) -> tuple[list[dict], dict]:
    """Table 2's protocol: for every size, de-identify and vectorize every image (one tracing each) and
    average SSIM_vec, SSIM_dei, L2norm_dei, hence SSIM_pos, DI and SDIM, over the images.

    ``settings``: the pipeline (its ``size`` and ``out_size`` are replaced per row; default
    :class:`ppstudy.ciphers.deid.Settings`). ``workers`` processes share chunks of ``chunk`` images.
    ``cache_dir``: the per-image values of a finished size are stored there (a file per size, named by a
    digest of the images, the key and the settings) and loaded instead of recomputed on a rerun, so an
    interrupted run resumes at the first unfinished size. Returns the rows (paper values beside measured
    ones) and ``{size: {"original", "vector", "deid"}}`` with the first ``keep`` images. ``timings``, if
    given, receives ``{size: seconds}`` for the sizes computed in this call.
    """
    from tqdm import tqdm

    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim not in (3, 4) or not len(images):
        raise InputError("Table 2: expected a non-empty uint8 batch NxHxW or NxHxWxC")
    sizes = [int(s) for s in sizes]
    if not sizes:
        raise InputError("Table 2: no sizes given")
    cache = Path(cache_dir) if cache_dir else None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    if key is not None:
        from ppstudy.ciphers import ope

        ope.table(key)
    rows, examples = [], {}
    bar = tqdm(total=len(sizes) * len(images), desc="Table 2", unit="img", disable=not progress,
               mininterval=2.0, smoothing=0.05)
    for size in sizes:
        st = _settings_at(settings, size, out_size)
        path = cache / f"table2_{size}_{_digest(images, key, st)}.npz" if cache is not None else None
        per = None
        if path is not None and path.exists():
            try:
                with np.load(path, allow_pickle=False) as z:
                    per = {k: z[k] for k in z.files}
                if len(per["SSIM_vec"]) != len(images):
                    per = None
            except (OSError, ValueError, KeyError, EOFError):
                per = None
        if per is None:
            t0 = time.perf_counter()
            parts = [images[i:i + chunk] for i in range(0, len(images), chunk)]
            args = [(p, key, st, keep if j == 0 else 0) for j, p in enumerate(parts)]
            results = []
            bar.set_postfix_str(f"{size}x{size}")
            if workers > 1 and len(parts) > 1:
                import multiprocessing as mp
                from concurrent.futures import ProcessPoolExecutor

                with ProcessPoolExecutor(min(workers, len(parts)), mp_context=mp.get_context("fork")) as ex:
                    for p, r in zip(parts, ex.map(_index_chunk_star, args), strict=True):
                        results.append(r)
                        bar.update(len(p))
            else:
                for a in args:
                    results.append(_index_chunk(*a))
                    bar.update(len(a[0]))
            per = {k: np.concatenate([r[k] for r in results]) for k in ("SSIM_vec", "SSIM_dei", "L2norm_dei")}
            for k, v in results[0].get("examples", {}).items():
                per[f"example_{k}"] = v
            if timings is not None:
                timings[size] = time.perf_counter() - t0
            if path is not None:
                tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
                np.savez_compressed(tmp, allow_pickle=False, **per)
                os.replace(tmp, path)
        else:
            bar.update(len(images))
        examples[size] = {k[len("example_"):]: v for k, v in per.items() if k.startswith("example_")}
        rows.append(_table2_row(size, M.deid_indices_from(per, alpha)))
    bar.close()
    return rows, examples


def table2_rows(images, key, sizes, out_size: int, *, alpha=0.5, workers=1, progress=True, density=None,
                settings: deid.Settings | None = None, cache_dir=None):
    """Table 2's rows and examples (see :func:`table2_protocol`); ``density`` applies to the default
    settings."""
    if settings is None and density is not None:
        settings = deid.Settings(density=density)
    return table2_protocol(images, key, sizes, out_size, settings=settings, alpha=alpha, workers=workers,
                           progress=progress, cache_dir=cache_dir)


# --------------------------------------------------------------------------- classification
def classifier(arch: str, num_classes: int, *, in_chans: int = 3):
    from ppstudy.models.inception import inception_resnet_v2

    return inception_resnet_v2(num_classes, in_chans=in_chans, arch=arch,
                               min_input=75 if arch == "inception_resnet_v2" else None)


def train_eval(x_train, y_train, x_test, y_test, *, arch: str, epochs: int, batch_size: int, seed: int = 0,
               num_classes: int = 10, checkpoint_dir=None, tag: str = "", progress: bool = True,
               schedule: str = "rmsprop") -> dict:
    """Train ``arch`` from scratch with the shared loop (augmentation: shift by 1/8 of the side and flip,
    after encryption as in the paper's cloud setting) and return test accuracy and evaluation time."""
    import torch

    from ppstudy import schedules, train

    torch.manual_seed(seed)
    in_chans = 1 if x_train.ndim == 3 or x_train.shape[-1] == 1 else 3
    model = classifier(arch, num_classes, in_chans=in_chans)
    if schedule not in ("rmsprop", "fast"):
        raise InputError(f"schedule must be 'rmsprop' (the paper's) or 'fast', got {schedule!r}")
    sched = schedules.get(schedule, epochs, batch_size=batch_size)
    side = x_train.shape[1]
    res = train.fit(model, (x_train, y_train), (x_test, y_test), schedule=sched,
                    augment=train.Augment(pad=max(1, side // 8), flip=True), seed=seed,
                    checkpoint_dir=checkpoint_dir, progress=progress, desc=tag or "train", tag=tag)
    t0 = time.perf_counter()
    acc = train.evaluate(res.model, x_test, y_test, normalization=res.normalization)
    ms = 1e3 * (time.perf_counter() - t0) / max(1, len(x_test))
    return {"accuracy": 100.0 * acc, "eval_ms_per_image": ms, "train_images_per_s": res.images_per_s,
            "epochs": epochs}


def pixel_encrypt(x_train, x_test, out_size: int, seed: int):
    """The previous chapter's pixel-based cipher (neg-pos + colour shuffle) on images stretched to
    ``out_size``, one key for the data set (as Ko et al. ran it)."""
    from ppstudy.ciphers import pixel

    a, b = resize_batch(x_train, out_size), resize_batch(x_test, out_size)
    key = pixel.keygen(a.shape[1:], seed=seed)
    return pixel.encrypt(a, key), pixel.encrypt(b, key)


# --------------------------------------------------------------------------- security
def security_rows(images, key, settings: deid.Settings, *, workers=1) -> tuple[list[dict], dict]:
    """How much of the original each image still shows: SSIM/L2 to the original (at the output size) of
    the de-identified image, of the raster-only resize-back, and of the leaked-SVG inversions."""
    from ppstudy.attacks import ope as A

    ref = resize_batch(images, settings.out_size)
    vec = deid.vector_images(images, settings, workers=workers)
    dei = deid.deidentify(images, key, settings, workers=workers)
    back = A.resize_back(dei, settings.size)
    rank = A.svg_leak_attack(images, key, settings, method="rank")
    lin = A.svg_leak_attack(images, key, settings, method="linear")
    poly = deid.Settings(size=settings.size, out_size=settings.out_size, tracer="vtracer", mode="polygon",
                         path_precision=0, renderer=settings.renderer, density=settings.density)
    pvec = deid.vector_images(images, poly, workers=workers)
    prank = A.svg_leak_attack(images, key, poly, method="rank")
    pdei = deid.deidentify(images, key, poly, workers=workers)
    rows = []
    for name, imgs, extra, vref in (
            ("polygon trace, vectorized (no OPE)", pvec, {}, pvec),
            ("polygon trace, de-identified", pdei, {}, pvec),
            ("polygon trace, leaked SVG: rank inversion (no key)", prank["images"], prank, pvec)):
        rows.append({"image compared with the original": name,
                     "measured SSIM": float(M.ssim_images(ref, imgs).mean()),
                     "measured SSIM to the vectorized image": float(M.ssim_images(vref, imgs).mean()),
                     "measured L2norm": float(M.l2norm_images(ref, imgs).mean()),
                     "measured coordinate MAE (px)": extra.get("coord_mae"),
                     "measured coordinates recovered exactly (%)": 100 * extra["coord_exact"] if extra else None})
    rows_spline = []
    for name, imgs, extra in (("vectorized (no OPE): upper bound", vec, {}),
                              ("de-identified image as released", dei, {}),
                              ("raster only: resize back to the traced size", back, {}),
                              ("leaked SVG: rank inversion (no key)", rank["images"], rank),
                              ("leaked SVG: linear inversion (no key)", lin["images"], lin)):
        rows_spline.append({"image compared with the original": name,
                            "measured SSIM": float(M.ssim_images(ref, imgs).mean()),
                            "measured SSIM to the vectorized image": float(M.ssim_images(vec, imgs).mean()),
                            "measured L2norm": float(M.l2norm_images(ref, imgs).mean()),
                            "measured coordinate MAE (px)": extra.get("coord_mae"),
                            "measured coordinates recovered exactly (%)": 100 * extra["coord_exact"] if extra else None})
    return rows_spline + rows, {"original": ref[:6], "deid": dei[:6], "back": back[:6], "rank": prank["images"][:6]}


# --------------------------------------------------------------------------- arrays + figures
def save_arrays(run_dir, name: str, arrays: dict) -> Path:
    path = Path(run_dir) / f"{name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **{k: np.asarray(v) for k, v in arrays.items()})
    return path


def _arrays(run_dir, name):
    path = Path(run_dir) / f"{name}.npz"
    if not path.exists():
        raise InputError(f"{path} is missing: run the chapter first")
    return np.load(path)




def fig9_examples(manifest: dict, run_dir):
    """Fig. 9 style: originals, vectorized, de-identified (RGB) and the gray pair (Fig. 12)."""

    a = _arrays(run_dir, "fig9")
    rows = [("original", "(a) original"), ("vector", "(b) vectorized"), ("deid", "(c) de-identified"),
            ("gray_original", "gray original"), ("gray_deid", "gray de-identified")]
    return image_grid([(label, [np.squeeze(im) for im in a[k]]) for k, label in rows if k in a.files])


def fig_table2(manifest: dict, run_dir):
    """Table 2's indices against the image size: this run (solid) and the paper (dashed)."""
    import matplotlib.pyplot as plt

    t = manifest["tables"]["table2"]
    sizes = [int(r["size"].split("x")[0]) for r in t["rows"]]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    for c, col in zip(TABLE2_COLUMNS, plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        tgt = ax[0] if c in ("SSIM_vec", "SSIM_dei", "L2norm_dei") else ax[1]
        tgt.plot(sizes, [r[f"measured {c}"] for r in t["rows"]], "o-", color=col, label=f"{c} (this run)")
        ps = [(s, r[f"paper {c}"]) for s, r in zip(sizes, t["rows"]) if r[f"paper {c}"] is not None]
        if ps:
            tgt.plot(*zip(*ps), "x--", color=col, alpha=0.7, label=f"{c} (paper)")
    for a_, title in zip(ax, ("similarity and distance", "combined indices (lower = 'better' for the paper)")):
        a_.set_xlabel("size before vectorization (pixels)")
        a_.set_title(title)
        a_.legend(fontsize=7)
    fig.tight_layout()
    return fig


def fig_warp(manifest: dict, run_dir):
    """Where a coordinate of the 50x50 trace lands in the 224x224 output: OPE vs a plain rescale."""
    import matplotlib.pyplot as plt

    a = _arrays(run_dir, "warp")
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
    ax[0].plot(a["x"], a["linear"], "k--", label="plain rescale")
    ax[0].plot(a["x"], a["landed"], "-", label="position OPE + rescale")
    ax[0].set_xlabel("coordinate in the trace")
    ax[0].set_ylabel("pixel in the output")
    ax[0].legend()
    ax[1].plot(a["x"], a["landed"] - a["linear"], ".-")
    ax[1].set_xlabel("coordinate in the trace")
    ax[1].set_ylabel("displacement (output pixels)")
    ax[1].set_title("what the OPE step moves")
    fig.tight_layout()
    return fig


def fig_attack(manifest: dict, run_dir):

    a = _arrays(run_dir, "attack")
    rows = [("original", "original"), ("deid", "de-identified"), ("back", "resize back\n(raster only)"),
            ("rank", "rank inversion of a\nleaked polygon SVG")]
    return image_grid([(label, [np.squeeze(im) for im in a[k]]) for k, label in rows], label_width=1.2)


FIGURES = {
    "fig9_examples": fig9_examples,
    "fig_table2": fig_table2,
    "fig_warp": fig_warp,
    "fig_attack": fig_attack,
}
