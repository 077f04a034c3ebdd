"""Study code of the structural de-identification chapter (Ko et al., IEEE Access 2020).

The chapter ``book/deid.md`` calls these functions; every number it shows comes from them. Paper values
are kept in ``PAPER_*`` dictionaries and only ever appear in ``paper...`` columns.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ppstudy import InputError
from ppstudy import metrics as M
from ppstudy.ciphers import deid
from ppstudy.images import resize_each
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
PAPER_TABLE3 = {
    32: (0.0017, 82.17, 81.26),
    42: (-0.0703, 85.55, 85.88),
    50: (-0.1417, 86.76, 87.10),
    64: (-0.1049, 87.75, 87.48),
}
#: Table 4: de-identified size (from 50x50) -> (accuracy %, evaluation time ms per image)
PAPER_TABLE4 = {
    75: (79.16, 0.4000),
    100: (81.29, 0.6000),
    150: (85.32, 1.2001),
    200: (85.77, 2.1014),
    224: (87.10, 3.0003),
}
#: Table 5: index -> (RGB, gray), 50x50 -> 224x224; gray accuracy 83.56 % (text of Sec. V-B-3)
PAPER_TABLE5 = {
    "SSIM_vec": (0.7705, 0.8112),
    "SSIM_dei": (0.3355, 0.2363),
    "SSIM_pos": (-0.4350, -0.5749),
    "SDIM": (-0.1417, -0.2452),
}
PAPER_GRAY_ACCURACY = 83.56
#: the paper's training: 250 + 100 + 125 + 200 epochs of RMSprop (our sequential reading of its sentence)
PAPER_EPOCHS = 675
#: Table 6: method -> accuracy %
PAPER_TABLE6 = {"plain": 91.68, "pixel": 82.16, "deid": 87.10}

#: Fig. 6 of the paper: the width of a 32x32 tracing's shifted SVG
PAPER_CANVAS_32 = 291
#: tolerances and thresholds of this chapter's claims (each stated in its claim)
OFFSET_TOLERANCE = 0.05
LEVEL_TOLERANCE = 0.05
SEAM_THRESHOLD = LEVEL_TOLERANCE
LINEAR_TOLERANCE = 0.01
WARP_BAR = 1 / 6
ACCURACY_TOLERANCE_VEC = 2.0
ACCURACY_TOLERANCE_GRAY = 5.0
#: how closely a renderer standing in for the paper's ImageMagick command must give Table 2's indices
RENDERER_TOLERANCE = 0.005


# --------------------------------------------------------------------------- data
def metric_images(source: str, n: int, data: dict) -> tuple[np.ndarray, object]:
    """The images of Tables 2 and 5: the first ``n`` CIFAR-10 *test* images (the paper: all 10,000), or the
    smoke test patches; and their DataSource. ``data``: the chapter's images
    (:func:`ppstudy.studies.common.load_cifar10`)."""
    from ppstudy.data import cifar10
    from ppstudy.data.source import DataSource

    if source == "cifar10":
        x, _, src = cifar10.load_with_source("test")
        return x[:n], DataSource(src.dataset, f"Tables 2 and 5 on the first {min(n, len(x)):,} test images", src.files)
    src = data["source"]
    return data["x_test"][:n], DataSource(
        src.dataset, f"Tables 2 and 5 on the first {min(n, len(data['x_test']))} test patches", src.files, src.smoke
    )


def to_gray(x: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma, uint8 (N x H x W)."""
    g = x[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    return np.clip(np.rint(g), 0, 255).astype(np.uint8)


def mean_ci(values, level: float = 0.95) -> tuple[float, float]:
    """The two-sided Student-t interval of the mean of ``values`` (the mean twice for one value)."""
    from scipy import stats

    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise InputError("mean_ci: no values")
    m = float(v.mean())
    if v.size < 2:
        return m, m
    h = float(stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return m - h, m + h


# --------------------------------------------------------------------------- Table 2 / 5
def _settings_at(base: deid.Settings | None, size: int, out_size: int) -> deid.Settings:
    from dataclasses import replace

    return replace(base or deid.Settings(), size=int(size), out_size=int(out_size))


def _bilinear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
    i0 = np.floor(c).astype(np.intp)
    return i0, np.minimum(i0 + 1, n_in - 1), c - i0


def upsample_batch(x: np.ndarray, size: int) -> np.ndarray:
    """:func:`ppstudy.images.resize_each`, as two vectorised linear interpolations over the batch, when
    ``size`` is an odd multiple of both sides (32 -> 224: 7x); otherwise ``resize_each`` itself. Equal value for value:
    with an odd integer factor r the bilinear weights are multiples of 1/r, so every output is an integer
    over r^2 (odd), never a rounding tie, and float error cannot change the rounding."""
    if len(x) == 0 or any(size % n or (size // n) % 2 == 0 for n in x.shape[1:3]):
        return resize_each(x, size)
    a0, a1, fa = _bilinear_taps(x.shape[1], size)
    b0, b1, fb = _bilinear_taps(x.shape[2], size)
    shape = (1, size) + (1,) * (x.ndim - 2)
    xf = x.astype(np.float64)
    t = xf[:, a0] * (1 - fa).reshape(shape) + xf[:, a1] * fa.reshape(shape)
    shape = (1, 1, size) + (1,) * (x.ndim - 3)
    t = t[:, :, b0] * (1 - fb).reshape(shape) + t[:, :, b1] * fb.reshape(shape)
    return np.clip(np.rint(t), 0, 255).astype(np.uint8)


def _protocol_chunk(images: np.ndarray, key, settings: list[deid.Settings], keep: int) -> dict:
    """One chunk of Table 2's protocol at every size in ``settings`` (one output size): per size, the
    per-image SSIM_vec, SSIM_dei and L2norm_dei (and the first ``keep`` images), and the seconds spent.
    What does not depend on the size is done once for all sizes: the originals' up-sampling to the output
    size and their SSIM window statistics (:class:`ppstudy.metrics.SSIMReference`)."""
    t0 = time.perf_counter()
    ref = upsample_batch(images, settings[0].out_size)
    refs = [M.SSIMReference(ref[i : i + 1]) for i in range(len(ref))]  # image by image: each fits in the CPU cache

    def ssim(y: np.ndarray) -> np.ndarray:
        return np.concatenate([s.ssim(y[i : i + 1]) for i, s in enumerate(refs)])

    seconds: dict = {"originals": time.perf_counter() - t0}
    per_size: dict = {}
    for st in settings:
        t0 = time.perf_counter()
        r = deid.pipeline(images, key, st, outputs=("vector", "deid"))
        per: dict = {
            "SSIM_vec": ssim(r["vector"]),
            "SSIM_dei": ssim(r["deid"]),
            "L2norm_dei": M.l2norm_images(ref, r["deid"], what="de-identified"),
        }
        if keep:
            per.update(example_original=ref[:keep], example_vector=r["vector"][:keep], example_deid=r["deid"][:keep])
        per_size[st.size] = per
        seconds[st.size] = time.perf_counter() - t0
    return {"sizes": per_size, "seconds": seconds}


def _protocol_chunk_star(args):
    return _protocol_chunk(*args)


def summarise(per_image: dict, alpha: float = 0.5) -> dict:
    """Table 2's indices from per-image ``SSIM_vec``, ``SSIM_dei`` and ``L2norm_dei``: the means
    (:func:`ppstudy.metrics.deid_indices_from`), ``"ci95"``: each index's 95% Student-t interval over the
    images (per image the derived indices are the same linear combinations, so their means are the paper's),
    and ``"per_image"``: the six indices image by image."""
    idx = M.deid_indices_from(per_image, alpha)
    a = idx["alpha"]
    pi = {k: np.asarray(per_image[k], dtype=np.float64).ravel() for k in _PER_IMAGE}
    pi["SSIM_pos"] = pi["SSIM_dei"] - pi["SSIM_vec"]
    pi["DI"] = a * pi["SSIM_dei"] + (1 - a) * pi["L2norm_dei"]
    pi["SDIM"] = pi["SSIM_pos"] + pi["DI"]
    idx["ci95"] = {c: list(mean_ci(pi[c])) for c in TABLE2_COLUMNS}
    idx["per_image"] = pi
    return idx


def indices_at(
    images: np.ndarray, key, settings: deid.Settings, *, alpha: float = 0.5, workers: int = 1, keep: int = 0
) -> tuple[dict, dict]:
    """Table 2's indices for one setting (:func:`summarise`). Originals are compared at the output size
    (bilinear up-sampling of the 32x32 originals), the vectorized image is ``Rasterize(Vectorize(x))`` at the
    same size; both come from one tracing of each image."""
    t0 = time.perf_counter()
    r = deid.pipeline(images, key, settings, outputs=("vector", "deid"), workers=workers)
    t_dei = time.perf_counter() - t0
    ref = upsample_batch(images, settings.out_size)
    res = summarise(M.deid_per_image(ref, r["vector"], r["deid"]), alpha)
    res["deid_ms_per_image"] = 1e3 * t_dei / max(1, len(images))
    return res, {"original": ref[:keep], "vector": r["vector"][:keep], "deid": r["deid"][:keep]}


def renderer_agreement(images: np.ndarray, key, settings: deid.Settings, *, alpha: float = 0.5) -> dict | None:
    """Table 2's indices at ``settings`` with its renderer and with the paper's command (``convert -density
    288 in.svg -resize SxS! out.png``, ``renderer="imagemagick"``) on the same tracings: ``{"renderer",
    "indices", "paper_command", "diff" (renderer - paper command, per index), "n"}``; None without ImageMagick."""
    from dataclasses import replace

    if deid.imagemagick_executable() is None:
        return None
    r = deid.pipeline(images, key, settings, outputs=("svg", "shifted"))
    ref = upsample_batch(images, settings.out_size)
    gray = images.ndim == 3 or images.shape[-1] == 1
    out = {}
    for name, st in (("renderer", settings), ("paper_command", replace(settings, renderer="imagemagick", density=288))):
        density = st.density if isinstance(st.density, int) else None
        vec, dei = (
            deid.rasterize_many(r[k], st.out_size, density=density, gray=gray, renderer=st.renderer)
            for k in ("svg", "shifted")
        )
        out[name] = M.deid_indices(ref, vec, dei, alpha=alpha)
    return {
        "renderer": settings.renderer,
        "indices": out["renderer"],
        "paper_command": out["paper_command"],
        "diff": {c: out["renderer"][c] - out["paper_command"][c] for c in TABLE2_COLUMNS},
        "n": int(len(images)),
        "size": settings.size,
    }


def record_renderer(run, agreement: dict | None, renderer: str) -> None:
    """The renderer check: this run's renderer gives Table 2's indices within :data:`RENDERER_TOLERANCE` of
    the paper's ImageMagick command on every index (from :func:`renderer_agreement`)."""
    run.value("renderer_used", renderer, "s")
    run.value("renderer_tolerance", RENDERER_TOLERANCE, ".3f")
    if agreement is None:
        run.value("renderer_gap", "— (not measured)", "s")
        run.value("renderer_check_images", 0, ",")
        run.check(
            "renderer-agrees-with-convert",
            f"The chapter's renderer ({renderer}) gives Table 2's indices within {RENDERER_TOLERANCE} (a tolerance of "
            "this chapter) of the paper's convert -density 288 ... -resize command, on every index",
            False,
            kind="claim",
            measured="not measured",
            evidence={"images": 0, "reason": "no images asked for, or ImageMagick's convert is not installed"},
            needs="a run with ImageMagick (apt-get install imagemagick) and n_renderer_check > 0",
        )
        return
    worst = max(agreement["diff"], key=lambda c: abs(agreement["diff"][c]))
    gap = abs(agreement["diff"][worst])
    run.value("renderer_gap", f"{gap:.4f} ({worst})", "s")
    run.value("renderer_check_images", agreement["n"], ",")
    run.check(
        "renderer-agrees-with-convert",
        f"The chapter's renderer ({renderer}) gives Table 2's indices within {RENDERER_TOLERANCE} (a tolerance of "
        "this chapter) of the paper's convert -density 288 ... -resize command, on every index",
        gap <= RENDERER_TOLERANCE,
        kind="claim",
        measured=f"largest difference {gap:.4f} ({worst})",
        evidence={
            "this renderer": {c: agreement["indices"][c] for c in TABLE2_COLUMNS},
            "the paper's command": {c: agreement["paper_command"][c] for c in TABLE2_COLUMNS},
            "difference": agreement["diff"],
            "images": agreement["n"],
            "tracing size": agreement["size"],
            "tolerance": RENDERER_TOLERANCE,
        },
    )


def _digest(images: np.ndarray, key, settings: deid.Settings) -> str:
    import hashlib

    h = hashlib.sha256(b"ppstudy-table2-v1\0")
    h.update(repr((images.shape, str(images.dtype))).encode())
    h.update(np.ascontiguousarray(images).tobytes())
    h.update(key.fingerprint.encode())
    h.update(repr(settings).encode())
    return h.hexdigest()[:24]


_PER_IMAGE = ("SSIM_vec", "SSIM_dei", "L2norm_dei")


def _load_values(path: Path | None, n: int) -> dict | None:
    """The per-image values stored at ``path`` for ``n`` images, or None (absent, unreadable, other length):
    a file that cannot be read (truncated, flipped bytes, not an npz) is removed, with a warning, so that
    the values are computed again and stored afresh."""
    import warnings
    import zipfile
    import zlib

    if path is None or not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            per = {k: z[k] for k in z.files}
        if all(len(per[k]) == n for k in _PER_IMAGE):
            return per
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        warnings.warn(
            f"Table 2 cache {path} is unreadable ({type(e).__name__}: {e}): removed; its values are computed again",
            RuntimeWarning,
            stacklevel=2,
        )
        path.unlink(missing_ok=True)
    return None


def _save_values(path: Path, per: dict) -> None:
    """Write atomically: a file is either complete or absent."""
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, allow_pickle=False, **per)
    os.replace(tmp, path)


def table2_rows(indices: dict) -> list[dict]:
    """Table 2 as displayed: one row per size of ``indices`` (``{size: summarise(...)}``), the paper's
    value beside each measured one."""
    rows = []
    for size, res in indices.items():
        row: dict = {"size": f"{size}x{size}"}
        p = PAPER_TABLE2.get(int(size))
        for j, c in enumerate(TABLE2_COLUMNS):
            row[f"paper {c}"] = p[j] if p else None
            row[f"measured {c}"] = res[c]
        rows.append(row)
    return rows


def table2_indices(
    images: np.ndarray,
    key,
    sizes,
    out_size: int = 224,
    *,
    settings: deid.Settings | None = None,
    alpha: float = 0.5,
    workers: int = 1,
    cache_dir=None,
    progress: bool = True,
    keep: int = 8,
    chunk: int = 50,
    block: int = 500,
    timings: dict | None = None,
) -> tuple[dict, dict]:
    """Table 2's protocol: for every size, de-identify and vectorize every image (one tracing each) and
    average SSIM_vec, SSIM_dei, L2norm_dei, hence SSIM_pos, DI and SDIM, over the images.

    ``settings``: the pipeline (its ``size`` and ``out_size`` are replaced per row; default
    :class:`ppstudy.ciphers.deid.Settings`). The images are processed in chunks of ``chunk``, each at every
    size still to compute, so that the originals' up-sampling and SSIM statistics are computed once per image
    rather than once per size; ``workers`` processes share the chunks.

    ``cache_dir``: the per-image values of a finished size are stored there (a file per size, named by a
    digest of the images, the key and the settings) and loaded instead of recomputed on a rerun; while sizes
    are being computed, each finished block of ``block`` images is stored too, so an interrupted run loses at
    most one block and resumes where it stopped. Returns ``{size: indices}`` (:func:`summarise`; sizes as
    integers, in the order given) and ``{size: {"original", "vector", "deid"}}`` with the first ``keep`` images. ``timings``, if given,
    receives ``{size: seconds}`` for the sizes computed in this call, and ``"originals": seconds`` for the
    work they share: time spent in the workers, summed over them (about ``workers`` times the wall time).
    """
    from ppstudy.progress import meter

    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim not in (3, 4) or not len(images):
        raise InputError("Table 2: expected a non-empty uint8 batch NxHxW or NxHxWxC")
    sizes = [int(s) for s in sizes]
    if not sizes:
        raise InputError("Table 2: no sizes given")
    for name, v in (("chunk", chunk), ("block", block)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(f"Table 2: {name} must be a positive integer, got {v!r}")
    cache = Path(cache_dir) if cache_dir else None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    if key is not None:
        from ppstudy.ciphers import ope

        ope.table(key)
    n = len(images)
    bar = meter(len(set(sizes)) * n, desc="Table 2", unit="img", enabled=progress)
    values: dict = {}
    todo: list[tuple[int, deid.Settings]] = []
    for size in dict.fromkeys(sizes):
        st = _settings_at(settings, size, out_size)
        per = _load_values(cache / f"table2_{size}_{_digest(images, key, st)}.npz" if cache else None, n)
        if per is None:
            todo.append((size, st))
        else:
            values[size] = per
            bar.update(n)
    if todo:
        values.update(_protocol_sizes(images, key, todo, cache, bar, keep, chunk, block, workers, timings))
    bar.close()
    indices, examples = {}, {}
    for size in dict.fromkeys(sizes):
        per = values[size]
        examples[size] = {k[len("example_") :]: v for k, v in per.items() if k.startswith("example_")}
        indices[size] = summarise(per, alpha)
    return indices, examples


def table2_protocol(images: np.ndarray, key, sizes, out_size: int = 224, **kw) -> tuple[list[dict], dict]:
    """:func:`table2_indices` as Table 2's displayed rows (:func:`table2_rows`) and the examples."""
    indices, examples = table2_indices(images, key, sizes, out_size, **kw)
    return table2_rows(indices), examples


def _protocol_sizes(images, key, todo, cache, bar, keep, chunk, block, workers, timings) -> dict:
    """:func:`table2_protocol`'s computation of the sizes in ``todo`` (``[(size, settings)]``), block by
    block; returns ``{size: per-image values}`` and, with a cache, stores a file per size (the block files
    it wrote on the way are removed)."""
    n = len(images)
    part_paths: dict = {}
    blocks = []  # (start, stop, {size: values loaded from a block file}, [(size, settings) to compute])
    for b0 in range(0, n, block):
        sl = images[b0 : b0 + block]
        loaded, pending = {}, []
        for size, st in todo:
            path = cache / f"table2_{size}_{_digest(sl, key, st)}.part.npz" if cache is not None else None
            part_paths[(b0, size)] = path
            per = _load_values(path, len(sl))
            if per is None:
                pending.append((size, st))
            else:
                loaded[size] = per
                bar.update(len(sl))
        blocks.append((b0, min(n, b0 + block), loaded, pending))
    tasks = []  # (block index, chunk length, args)
    for j, (b0, b1, _, pending) in enumerate(blocks):
        for c0 in range(b0, b1, chunk):
            part = images[c0 : min(b1, c0 + chunk)]
            if pending:
                tasks.append((j, len(part), (part, key, [st for _, st in pending], keep if c0 == 0 else 0)))
    pool = None
    if workers > 1 and len(tasks) > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(min(workers, len(tasks)), mp_context=mp.get_context("fork"))
    try:
        done = (
            pool.map(_protocol_chunk_star, [a for _, _, a in tasks])
            if pool
            else (_protocol_chunk(*a) for _, _, a in tasks)
        )
        got: dict = {}  # block index -> chunk results so far
        left = {j: sum(1 for t in tasks if t[0] == j) for j in range(len(blocks))}
        for (j, m, _), r in zip(tasks, done, strict=True):
            got.setdefault(j, []).append(r)
            bar.update(m * len(blocks[j][3]))
            if timings is not None:
                for k, v in r["seconds"].items():
                    timings[k] = timings.get(k, 0.0) + v
            left[j] -= 1
            if left[j] == 0:
                loaded = blocks[j][2]
                for size, _ in blocks[j][3]:
                    rs = [c["sizes"][size] for c in got[j]]
                    per = {k: np.concatenate([c[k] for c in rs]) for k in _PER_IMAGE}
                    per.update({k: v for k, v in rs[0].items() if k.startswith("example_")})
                    loaded[size] = per
                    if part_paths[(blocks[j][0], size)] is not None:
                        _save_values(part_paths[(blocks[j][0], size)], per)
                got.pop(j)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    out = {}
    for size, st in todo:
        parts = [b[2][size] for b in blocks]
        per = {k: np.concatenate([p[k] for p in parts]) for k in _PER_IMAGE}
        per.update({k: v for k, v in parts[0].items() if k.startswith("example_")})
        out[size] = per
        if cache is not None:
            _save_values(cache / f"table2_{size}_{_digest(images, key, st)}.npz", per)
            for b in blocks:
                p = part_paths[(b[0], size)]
                if p is not None:
                    p.unlink(missing_ok=True)
    return out


# --------------------------------------------------------------------------- classification
def classifier(arch: str, num_classes: int, *, in_chans: int = 3):
    from ppstudy.models.inception import inception_resnet_v2

    return inception_resnet_v2(
        num_classes, in_chans=in_chans, arch=arch, min_input=75 if arch == "inception_resnet_v2" else None
    )


#: the rotation range of the augmentation (degrees): the paper lists rotation, shift and flip without ranges
ROTATION = 15.0


def train_eval(
    x_train,
    y_train,
    x_test,
    y_test,
    *,
    arch: str,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    num_classes: int = 10,
    checkpoint_dir=None,
    tag: str = "",
    progress: bool = True,
    schedule: str = "rmsprop",
    reading: str = "sequential",
    rotate: float = ROTATION,
    also_test: dict | None = None,
) -> dict:
    """Train ``arch`` from scratch with the shared loop and return test accuracy (and the 0/1 correctness
    of every test image), epochs, s/epoch, images/s, evaluation time and peak GPU memory; ``also_test``
    (``{name: images}``, labelled as ``x_test``): the trained model's accuracy on other versions of the test
    images too (``"also"``: ``{name: {"accuracy", "correct"}}``). Augmentation as the paper lists it: rotation (``±rotate``
    degrees), shift (1/8 of the side) and horizontal flip, applied after de-identification (in the cloud).
    ``schedule``: ``"rmsprop"`` (the paper's, with ``reading`` of its learning-rate sentence) or
    ``"fast"`` (one-cycle SGD)."""
    import torch

    from ppstudy import schedules, train

    torch.manual_seed(seed)
    in_chans = 1 if x_train.ndim == 3 or x_train.shape[-1] == 1 else 3
    model = classifier(arch, num_classes, in_chans=in_chans)
    if schedule == "rmsprop":
        sched = schedules.rmsprop_ko2020(epochs, batch_size=batch_size, reading=reading)
    elif schedule == "fast":
        sched = schedules.one_cycle(epochs, batch_size=batch_size)
    else:
        raise InputError(f"schedule must be 'rmsprop' (the paper's) or 'fast', got {schedule!r}")
    dev = train._device(None)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    side = x_train.shape[1]
    res = train.fit(
        model,
        (x_train, y_train),
        (x_test, y_test),
        schedule=sched,
        augment=train.Augment(pad=max(1, side // 8), flip=True, rotate=rotate),
        seed=seed,
        checkpoint_dir=checkpoint_dir or None,
        progress=progress,
        desc=tag or "train",
        tag=tag,
    )
    t0 = time.perf_counter()
    acc, correct = train.evaluate(res.model, x_test, y_test, normalization=res.normalization, return_correct=True)
    ms = 1e3 * (time.perf_counter() - t0) / max(1, len(x_test))
    also = {}
    for name, x in (also_test or {}).items():
        a, c = train.evaluate(res.model, x, y_test, normalization=res.normalization, return_correct=True)
        also[name] = {"accuracy": 100.0 * a, "correct": np.asarray(c, bool)}
    secs = [h["seconds"] for h in res.history]
    return {
        "accuracy": 100.0 * acc,
        "correct": np.asarray(correct, bool),
        "also": also,
        "eval_ms_per_image": ms,
        "train_images_per_s": res.images_per_s,
        "epochs": len(res.history),
        "s_per_epoch": float(np.mean(secs)) if secs else None,
        "train_seconds": float(sum(secs)),  # every epoch's training steps, resumed ones included
        "resumed_seconds": res.resumed_seconds,  # of them, done by an earlier invocation (checkpoints)
        "peak_gpu_mb": torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None,
    }


def classification_plan(size_train: int, out_size_train: int, sizes_table3, out_sizes_table4) -> list[tuple]:
    """The trainings in priority order: Table 6 (plain, de-identified, pixel-based), Table 3's vectorised
    row at the training size, Table 5's gray row, then the rest of Table 3 and of Table 4."""
    plan: list[tuple] = [
        ("plain", out_size_train),
        ("dei", size_train, out_size_train),
        ("pixel", out_size_train),
        ("vec", size_train, out_size_train),
        ("gray", size_train, out_size_train),
    ]
    for sz in sizes_table3:
        for kind in ("vec", "dei"):
            plan.append((kind, int(sz), out_size_train))
    for o in out_sizes_table4:
        plan.append(("dei", size_train, int(o)))
    return list(dict.fromkeys(plan))


def run_classification(
    plan: list[tuple],
    data: dict,
    key,
    *,
    settings: deid.Settings,
    time_budget_s: float = 0.0,
    workers: int = 1,
    key_seed: int = 0,
    train_kw: dict,
    clock=None,
) -> tuple[dict, list[tuple]]:
    """Prepare each item's images (one tracing gives the vectorised and the de-identified images of a
    setting; both are kept for the items that need them) and train on them, in order; with a budget, stop
    before an item whose expected time (the mean of the finished ones) would exceed what is left.

    The transfer test: the classifier trained on plain images at an output size is also scored on the
    de-identified test images of the plan's first de-identified item at that size (``results[("plain",
    out)]["also"]["deid"]``), what a model trained elsewhere recognises in the released images; and that
    item's classifier on the plain test images (``["also"]["plain"]``)."""
    clock = clock or time.perf_counter
    t0 = clock()
    prepared: dict[tuple, tuple] = {}
    results: dict[tuple, dict] = {}

    def images_of(item):
        kind = item[0]
        if kind == "plain":
            return resize_each(data["x_train"], item[1]), resize_each(data["x_test"], item[1])
        if kind == "pixel":
            return pixel_encrypt(data["x_train"], data["x_test"], item[1], key_seed)
        size, out = item[1], item[2]
        gray = kind == "gray"
        cache_key = (size, out, gray)
        if cache_key not in prepared:
            st = _settings_at(settings, size, out)
            xtr = to_gray(data["x_train"]) if gray else data["x_train"]
            xte = to_gray(data["x_test"]) if gray else data["x_test"]
            tr = deid.pipeline(xtr, key, st, outputs=("vector", "deid"), workers=workers)
            te = deid.pipeline(xte, key, st, outputs=("vector", "deid"), workers=workers)
            prepared[cache_key] = (tr, te)
        tr, te = prepared[cache_key]
        which = "vector" if kind == "vec" else "deid"
        return tr[which], te[which]

    for k, item in enumerate(plan):
        spent = clock() - t0
        if time_budget_s and results and spent + spent / len(results) > time_budget_s:
            return results, plan[k:]
        xtr, xte = images_of(item)
        also = {}
        first_dei = next((t for t in plan if t[0] == "dei" and t[2] == item[-1]), None)
        if item[0] == "plain" and first_dei is not None:
            also["deid"] = images_of(first_dei)[1]
        elif item == first_dei:
            also["plain"] = resize_each(data["x_test"], item[2])
        tag = "-".join(str(v) for v in item)
        results[item] = train_eval(
            xtr,
            data["y_train"],
            xte,
            data["y_test"],
            num_classes=len(data["classes"]),
            tag=tag,
            also_test=also,
            **train_kw,
        )
    return results, []


def _acc(results: dict, item: tuple):
    r = results.get(item)
    return None if r is None else r["accuracy"]


def table3_rows(results: dict, sizes, out_size: int, table2: dict) -> list[dict]:
    """Table 3: SDIM (from Table 2's ``{size: indices}``, None for a size it lacks) and the accuracies of
    the vectorised and de-identified images per tracing size."""
    rows = []
    for s in sizes:
        p = PAPER_TABLE3.get(int(s), (None, None, None))
        vec, dei = _acc(results, ("vec", int(s), out_size)), _acc(results, ("dei", int(s), out_size))
        rows.append(
            {
                "size": f"{s}x{s}",
                "paper: SDIM": p[0],
                "measured: SDIM": table2[int(s)]["SDIM"] if int(s) in table2 else None,
                "paper: accuracy vectorized (%)": p[1],
                "measured: accuracy vectorized (%)": vec,
                "paper: accuracy de-identified (%)": p[2],
                "measured: accuracy de-identified (%)": dei,
                "status": "trained" if vec is not None and dei is not None else "not run",
            }
        )
    return rows


def table4_rows(results: dict, size: int, out_sizes) -> list[dict]:
    """One row per de-identified size of this run or of the paper (its 75..224), in order of size."""
    rows, ours = [], {int(o) for o in out_sizes}
    for o in sorted(ours | set(PAPER_TABLE4)):
        r = results.get(("dei", size, o)) if o in ours else None
        p = PAPER_TABLE4.get(o, (None, None))
        rows.append(
            {
                "de-identified size": f"{o}x{o}",
                "paper: accuracy (%)": p[0],
                "measured: accuracy (%)": None if r is None else r["accuracy"],
                "paper: evaluation (ms/image)": p[1],
                "measured: evaluation (ms/image)": None if r is None else r["eval_ms_per_image"],
                "status": "trained" if r else ("not run" if o in ours else "not in this profile"),
            }
        )
    return rows


def table5_accuracy_rows(results: dict, size: int, out: int) -> list[dict]:
    rgb, gray = results.get(("dei", size, out)), results.get(("gray", size, out))
    return [
        {
            "image": "RGB de-identified",
            "paper: accuracy (%)": PAPER_TABLE6["deid"],
            "measured: accuracy (%)": None if rgb is None else rgb["accuracy"],
            "status": "trained" if rgb else "not run",
        },
        {
            "image": "gray de-identified",
            "paper: accuracy (%)": PAPER_GRAY_ACCURACY,
            "measured: accuracy (%)": None if gray is None else gray["accuracy"],
            "status": "trained" if gray else "not run",
        },
    ]


def table6_rows(results: dict, size: int, out: int) -> list[dict]:
    items = [
        ("plain images", "plain", ("plain", out), "—"),
        ("pixel-based: negative-positive + colour shuffle", "pixel", ("pixel", out), "8^n 6^n (paper)"),
        (
            "structural de-identification (this chapter)",
            "deid",
            ("dei", size, out),
            "(n+1)^n colour assignments (paper); one key, printed in the paper",
        ),
    ]
    rows = []
    for label, paper_key, item, ks in items:
        r = results.get(item)
        rows.append(
            {
                "method": label,
                "paper: accuracy (%)": PAPER_TABLE6[paper_key],
                "measured: accuracy (%)": None if r is None else r["accuracy"],
                "epochs": None if r is None else r["epochs"],
                "s/epoch": None if r is None else r["s_per_epoch"],
                "images/s": None if r is None else r["train_images_per_s"],
                "peak GPU MB": None if r is None else r["peak_gpu_mb"],
                "featured space (the paper's Eqs. 8, 9)": ks,
                "status": "trained" if r else "not run",
            }
        )
    return rows


def offsets(key_bytes: bytes, candidates) -> list[dict]:
    """Under ``key_bytes`` and the paper's output range, for each candidate input range ``(lo, hi)``:
    ``Enc(0)`` (``"enc0"``) and ``Enc(32) - Enc(0)`` (``"canvas_32"``, the shifted width of a 32x32 tracing)."""
    from pyope.ope import OPE, ValueRange

    from ppstudy.ciphers import ope

    out = []
    for lo, hi in candidates:
        c = OPE(key_bytes, ValueRange(lo, hi), ValueRange(*ope.PAPER_OUT_RANGE))
        e0 = c.encrypt(0)
        out.append({"in_range": (int(lo), int(hi)), "enc0": int(e0), "canvas_32": int(c.encrypt(32) - e0)})
    return out


def offset_rows(found: list[dict]) -> list[dict]:
    """The offset table as displayed (from :func:`offsets`)."""
    from ppstudy.ciphers import ope

    return [
        {
            "input range": f"{r['in_range'][0]}..{r['in_range'][1]}",
            "paper: Enc(0)": ope.PAPER_OFFSET,
            "measured: Enc(0)": r["enc0"],
            "measured: Enc(32) - Enc(0)": r["canvas_32"],
        }
        for r in found
    ]


def ope_study(key, *, n_probe: int = 200, seed: int = 0, candidates=None) -> dict:
    """The OPE section: the lookup table of ``key`` built (``"build_s"`` seconds) and compared with pyope
    on ``n_probe`` random plaintexts (``"probe_mismatches"``), the paper's key under candidate input ranges
    (:func:`offsets`) and the shifted width of a 32x32 tracing under ``key`` (``"canvas_32"``)."""
    from ppstudy.ciphers import ope

    t0 = time.perf_counter()
    table = ope.build_table(key)
    build_s = time.perf_counter() - t0
    cipher = ope.pyope_cipher(key)
    lo, hi = key.in_range
    probe = np.random.default_rng(seed).integers(lo, hi + 1, n_probe)
    want = np.array([cipher.encrypt(int(p)) for p in probe], dtype=np.int64)
    return {
        "build_s": build_s,
        "n_probe": int(n_probe),
        "probe_mismatches": int(np.count_nonzero(table[probe - lo] != want)),
        "offsets": offsets(ope.PAPER_KEY, OFFSET_CANDIDATES if candidates is None else candidates),
        "canvas_32": deid.canvas_size(key, 32),
    }


#: input ranges tried against the paper's offset: the symmetric ones around 10^4 and some far from it
OFFSET_CANDIDATES = (
    (-999, 999),
    (-9998, 9998),
    (-9999, 9999),
    (-10000, 9999),
    (-10000, 10000),
    (-10150, 10150),
    (-10200, 10200),
    (-32768, 32767),
    (0, 32767),
    (-99999, 99999),
)


def pixel_encrypt(x_train, x_test, out_size: int, seed: int):
    """The previous chapter's pixel-based cipher (neg-pos + colour shuffle) on images stretched to
    ``out_size``, one key for the data set (as Ko et al. ran it)."""
    from ppstudy.ciphers import pixel

    a, b = resize_each(x_train, out_size), resize_each(x_test, out_size)
    key = pixel.keygen(a.shape[1:], seed=seed)
    return pixel.encrypt(a, key), pixel.encrypt(b, key)


# --------------------------------------------------------------------------- security
#: the images of the security table, in its order: id -> (tracer, what is compared with the original)
SECURITY_VARIANTS = {
    "vector": ("imagetracer", "vectorized (no OPE): upper bound"),
    "released": ("imagetracer", "de-identified image as released"),
    "back": ("imagetracer", "raster only: resize back to the traced size"),
    "rank": ("imagetracer", "leaked SVG: rank inversion (no key)"),
    "linear": ("imagetracer", "leaked SVG: linear inversion (no key)"),
    "poly_vector": ("vtracer", "polygon trace, vectorized (no OPE)"),
    "poly_released": ("vtracer", "polygon trace, de-identified"),
    "poly_rank": ("vtracer", "polygon trace, leaked SVG: rank inversion (no key)"),
}


def _compared(ref: np.ndarray, vref: np.ndarray, imgs: np.ndarray, attack: dict | None = None) -> dict:
    """SSIM (mean and 95% interval over the images) and L2 to the original ``ref``, SSIM to the tracing
    ``vref``, and for an SVG inversion its coordinate errors."""
    s = M.ssim_images(ref, imgs)
    return {
        "ssim": float(s.mean()),
        "ssim_ci95": list(mean_ci(s)),
        "ssim_to_vector": float(M.ssim_images(vref, imgs).mean()),
        "l2": float(M.l2norm_images(ref, imgs).mean()),
        "coord_mae": None if attack is None else attack["coord_mae"],
        "coord_exact": None if attack is None else attack["coord_exact"],
    }


def security_study(images, key, settings: deid.Settings, *, workers=1, n_repeat: int = 4) -> dict:
    """How much of the original each image still shows: SSIM/L2 to the original (at the output size) of
    the de-identified image, of the raster-only resize-back and of the leaked-SVG inversions, for the
    chapter's tracer and for a polygon tracing with integer vertices (vtracer); and whether a second
    de-identification of the first ``n_repeat`` images gives the same images (``"deterministic"``).
    Returns ``{"variants": {id: ...} (ids of SECURITY_VARIANTS), "deterministic", "n", "examples"}``."""
    from dataclasses import replace

    from ppstudy.attacks import ope as A

    ref = resize_each(images, settings.out_size)
    r = deid.pipeline(images, key, settings, outputs=("vector", "deid"), workers=workers)
    vec, dei = r["vector"], r["deid"]
    again = deid.deidentify(images[:n_repeat], key, settings)
    back = A.resize_back(dei, settings.size)
    rank = A.svg_leak_attack(images, key, settings, method="rank")
    lin = A.svg_leak_attack(images, key, settings, method="linear")
    poly = replace(
        deid.Settings(),
        size=settings.size,
        out_size=settings.out_size,
        renderer=settings.renderer,
        density=settings.density,
        tracer="vtracer",
        mode="polygon",
        path_precision=0,
    )
    pr = deid.pipeline(images, key, poly, outputs=("vector", "deid"), workers=workers)
    prank = A.svg_leak_attack(images, key, poly, method="rank")
    variants = {
        "vector": _compared(ref, vec, vec),
        "released": _compared(ref, vec, dei),
        "back": _compared(ref, vec, back),
        "rank": _compared(ref, vec, rank["images"], rank),
        "linear": _compared(ref, vec, lin["images"], lin),
        "poly_vector": _compared(ref, pr["vector"], pr["vector"]),
        "poly_released": _compared(ref, pr["vector"], pr["deid"]),
        "poly_rank": _compared(ref, pr["vector"], prank["images"], prank),
    }
    return {
        "variants": variants,
        "deterministic": bool(np.array_equal(again, dei[:n_repeat])),
        "n_repeat": int(min(n_repeat, len(images))),
        "n": int(len(images)),
        "examples": {"original": ref[:6], "deid": dei[:6], "back": back[:6], "rank": prank["images"][:6]},
    }


def security_rows(sec: dict) -> list[dict]:
    """The security table as displayed (from :func:`security_study`)."""
    rows = []
    for vid, (tracer, label) in SECURITY_VARIANTS.items():
        v = sec["variants"][vid]
        rows.append(
            {
                "image compared with the original": label,
                "tracer": tracer,
                "measured SSIM": v["ssim"],
                "measured SSIM to the vectorized image": v["ssim_to_vector"],
                "measured L2norm": v["l2"],
                "measured coordinate MAE (px)": v["coord_mae"],
                "measured coordinates recovered exactly (%)": None
                if v["coord_exact"] is None
                else 100 * v["coord_exact"],
            }
        )
    return rows


def warp_study(key, size: int, out_size: int, *, exercise_ranges=((-99999, 99999), (-(10**7), 10**7))) -> dict:
    """The warp of position OPE on one axis (:func:`ppstudy.attacks.ope.ope_warp`) and the gaps that make
    it: ``gaps_px`` = f(x+1) - f(x) on the traced range in output pixels (min, max, coefficient of
    variation), the ciphertext gaps over the whole input domain against a geometric distribution with the
    same mean (its coefficient of variation sqrt(1 - 1/mean), medians and 90th percentiles), and the
    exercise's comparison: its key under each of ``exercise_ranges`` (largest displacement, gap spread)."""
    from scipy import stats

    from ppstudy.attacks import ope as A
    from ppstudy.ciphers import ope

    w = A.ope_warp(key, size, out_size)
    gaps = np.diff(w["landed"])
    full = np.diff(ope.table(key)).astype(np.float64)
    p = 1.0 / full.mean()
    exercise = []
    for rng in exercise_ranges:
        lo, hi = (int(v) for v in rng)
        k = ope.OPEKey(EXERCISE_KEY, key.in_range, (lo, hi))
        g = np.diff(ope.table(k)).astype(np.float64)
        exercise.append(
            {
                "out_range": [int(v) for v in rng],
                "max_dev_px": A.ope_warp(k, size, out_size)["max_dev_px"],
                "gap_cv": float(g.std() / g.mean()),
            }
        )
    return {
        **{k: w[k] for k in ("x", "landed", "linear", "max_dev_px", "mean_dev_px")},
        "size": int(size),
        "out_size": int(out_size),
        "gap_px_min": float(gaps.min()),
        "gap_px_max": float(gaps.max()),
        "gap_px_mean": float(gaps.mean()),
        "gap_cv": float(gaps.std() / gaps.mean()),
        "domain_gap_mean": float(full.mean()),
        "domain_gap_cv": float(full.std() / full.mean()),
        "geometric_cv": float(np.sqrt(1 - p)),
        "domain_gap_median": float(np.median(full)),
        "geometric_median": float(stats.geom.ppf(0.5, p)),
        "domain_gap_q90": float(np.quantile(full, 0.9)),
        "geometric_q90": float(stats.geom.ppf(0.9, p)),
        "exercise": exercise,
    }


#: the key of the chapter's exercise on the output range (32 bytes)
EXERCISE_KEY = b"an exercise key of 32 bytes long"


# --------------------------------------------------------------------------- arrays + figures
def _arrays(run_dir, name):
    from ppstudy.manifest.store import load_arrays

    return load_arrays(run_dir, name)


def fig9_arrays(images: np.ndarray, key, settings: deid.Settings) -> dict:
    """What Fig. 9 shows: the images, their tracing and de-identification, and the same for gray images."""
    r = deid.pipeline(images, key, settings, outputs=("vector", "deid"))
    gray = to_gray(images)
    return {
        "original": images,
        "vector": r["vector"],
        "deid": r["deid"],
        "gray_original": gray,
        "gray_deid": deid.deidentify(gray, key, settings),
    }


def fig9_examples(manifest: dict, run_dir):
    """Fig. 9 style: originals, vectorized, de-identified (RGB) and the gray pair (Fig. 12)."""

    a = _arrays(run_dir, "fig9")
    rows = [
        ("original", "(a) original"),
        ("vector", "(b) vectorized"),
        ("deid", "(c) de-identified"),
        ("gray_original", "gray original"),
        ("gray_deid", "gray de-identified"),
    ]
    return image_grid([(label, [np.squeeze(im) for im in a[k]]) for k, label in rows if k in a])


def fig_table2(manifest: dict, run_dir):
    """Table 2's indices against the image size: this run (solid, from the ``table2`` arrays) and the paper
    (dashed)."""
    import matplotlib.pyplot as plt

    try:
        a = _arrays(run_dir, "table2")
    except InputError:  # no table2 arrays: a run published before the table2 arrays were recorded: its table's rows
        rows = manifest["tables"]["table2"]["rows"]
        a = {"size": [int(str(r["size"]).split("x")[0]) for r in rows]}
        a.update({c: [r[f"measured {c}"] for r in rows] for c in TABLE2_COLUMNS})
    sizes = [int(v) for v in a["size"]]
    fig, ax = plt.subplots(1, 2, figsize=(8.0, 4.4))
    handles = []
    for j, (c, col) in enumerate(zip(TABLE2_COLUMNS, plt.rcParams["axes.prop_cycle"].by_key()["color"])):
        tgt = ax[0] if c in ("SSIM_vec", "SSIM_dei", "L2norm_dei") else ax[1]
        (h,) = tgt.plot(sizes, a[c], "o-", color=col, label=c)
        handles.append(h)
        ps = [(s, PAPER_TABLE2[s][j]) for s in sizes if s in PAPER_TABLE2]
        if ps:
            tgt.plot(*zip(*ps), "x--", color=col, alpha=0.7)
    for a_, title in zip(ax, ("similarity and distance", "combined indices")):
        a_.set_xlabel("size before vectorization")
        a_.set_title(title)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    fig.legend(
        handles,
        [h.get_label() for h in handles],
        loc="lower center",
        ncol=6,
        frameon=False,
        title="solid: this run; dashed: the paper",
        title_fontsize=9,
    )
    return fig


def fig_warp(manifest: dict, run_dir):
    """Where a coordinate of the trace lands in the output: position OPE against a plain rescale."""
    import matplotlib.pyplot as plt

    a = _arrays(run_dir, "warp")
    fig, ax = plt.subplots(1, 2, figsize=(8.0, 3.4))
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


def fig_seams(manifest: dict, run_dir):
    """The seams: original, its tracing, the de-identified image, the pixels no shape covers after position
    OPE (white), and the de-identified image with strokes scaled to the enlarged canvas."""
    a = _arrays(run_dir, "seams")
    rows = [
        ("original", "original"),
        ("vector", "vectorized"),
        ("deid", "de-identified"),
        ("seams", "uncovered\n(seams)"),
        ("scaled", "strokes\nscaled"),
    ]
    return image_grid([(label, [np.squeeze(im) for im in a[k]]) for k, label in rows if k in a], label_width=1.3)


#: the variants of the seam analysis: id -> (label, settings changed)
MECHANISM_VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "paper": ("the paper's pipeline", {}),
    "scaled": ("strokes scaled with the canvas (not in the paper)", {"scale_strokes": True}),
    "literal": ("literal Algorithm 2: re.sub over the whole SVG", {"ope_mode": "literal"}),
}


def ssim_gaussian(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-image SSIM with Wang et al.'s window (an 11 x 11 Gaussian of sigma 1.5, population covariance;
    scikit-image's ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False``) instead of the 7 x 7
    uniform window of :func:`ppstudy.metrics.ssim_images`; channels averaged, data range 255."""
    from skimage.metrics import structural_similarity

    axis = -1 if x.ndim == 4 else None
    return np.array(
        [
            structural_similarity(
                a, b, data_range=255, channel_axis=axis, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
            )
            for a, b in zip(x, y, strict=True)
        ]
    )


def _render_each(images: np.ndarray, key, st: deid.Settings) -> tuple[np.ndarray, dict]:
    """The pipeline image by image, keeping those that render (the literal reading corrupts some SVGs
    beyond rendering: resvg refuses them, with a Rust panic message on stderr, kept silent)."""
    from ppstudy.progress import quiet_native_stderr

    ok, parts = [], []
    for i in range(len(images)):
        try:
            with quiet_native_stderr():
                parts.append(deid.pipeline(images[i : i + 1], key, st, outputs=("vector", "deid", "shifted")))
            ok.append(i)
        except InputError:
            continue
    return np.array(ok, dtype=int), {
        "vector": np.concatenate([p["vector"] for p in parts]),
        "deid": np.concatenate([p["deid"] for p in parts]),
        "shifted": [s_ for p in parts for s_ in p["shifted"]],
    }


def mechanism(
    images: np.ndarray, key, settings: deid.Settings, *, alpha: float = 0.5, workers: int = 1, keep: int = 4
) -> dict:
    """What makes the de-identified image dissimilar: the paper's pipeline, the same with stroke widths
    scaled with the OPE canvas (the seams between shapes covered again), and the literal reading of
    Algorithm 2's ``re.sub``. Returns ``{"variants": {id: indices (:func:`summarise`) + "uncovered"
    (mean fraction of pixels no shape covers), "rendered" (indices of the images that rendered)},
    "n", "shown"}`` (ids of MECHANISM_VARIANTS; ``shown``: the first ``keep`` images for the figure)."""
    from contextlib import nullcontext
    from dataclasses import replace

    from ppstudy.progress import quiet_native_stderr

    ref = upsample_batch(images, settings.out_size)
    variants, shown = {}, {}
    for vid, (_, kw) in MECHANISM_VARIANTS.items():
        st = replace(settings, **kw)
        ok = np.arange(len(images))
        quiet = quiet_native_stderr() if kw.get("ope_mode") == "literal" else nullcontext()
        try:
            with quiet:
                r = deid.pipeline(images, key, st, outputs=("vector", "deid", "shifted"), workers=workers)
        except InputError:
            ok, r = _render_each(images, key, st)
        res = summarise(M.deid_per_image(ref[ok], r["vector"], r["deid"]), alpha)
        uncovered = []
        for svg in r["shifted"][: min(len(images), 64)]:
            try:
                with quiet_native_stderr():
                    uncovered.append(float(deid.seam_mask(svg, settings.out_size).mean()))
            except InputError:  # the literal reading can leave an SVG no renderer accepts
                continue
        res["uncovered"] = float(np.mean(uncovered)) if uncovered else None
        res["rendered"] = ok
        if vid == "paper":  # the same indices with Wang et al.'s Gaussian window
            res["gaussian"] = {
                "SSIM_vec": float(ssim_gaussian(ref[ok], r["vector"]).mean()),
                "SSIM_dei": float(ssim_gaussian(ref[ok], r["deid"]).mean()),
            }
        variants[vid] = res
        if vid == "paper":
            shown = {
                "original": ref[:keep],
                "vector": r["vector"][:keep],
                "deid": r["deid"][:keep],
                "seams": np.stack(
                    [(deid.seam_mask(svg, settings.out_size) * 255).astype(np.uint8) for svg in r["shifted"][:keep]]
                ),
            }
        elif vid == "scaled":
            shown["scaled"] = r["deid"][:keep]
    return {"variants": variants, "n": int(len(images)), "size": settings.size, "shown": shown}


def mechanism_rows(mech: dict) -> list[dict]:
    """The seam table as displayed (from :func:`mechanism`)."""
    rows = []
    for vid, (label, _) in MECHANISM_VARIANTS.items():
        v = mech["variants"][vid]
        rows.append(
            {
                "pipeline": label,
                "measured: SSIM_vec": v["SSIM_vec"],
                "measured: SSIM_dei": v["SSIM_dei"],
                "measured: L2norm_dei": v["L2norm_dei"],
                "measured: SDIM": v["SDIM"],
                "measured: uncovered pixels": v["uncovered"],
                "measured: images rendered": f"{len(v['rendered'])} of {mech['n']}",
            }
        )
    return rows


def table5(images: np.ndarray, key, settings: deid.Settings, *, table2: dict | None = None, alpha=0.5, workers=1):
    """Table 5: the indices of RGB and of gray images (:func:`to_gray`, before tracing) at ``settings``;
    the RGB ones are taken from Table 2's ``{size: indices}`` when it holds ``settings.size`` (the same
    images and pipeline), computed otherwise."""
    rgb = table2.get(settings.size) if table2 else None
    if rgb is None:
        rgb = indices_at(images, key, settings, alpha=alpha, workers=workers)[0]
    gray = indices_at(to_gray(images), key, settings, alpha=alpha, workers=workers)[0]
    return {"rgb": rgb, "gray": gray, "size": settings.size, "out_size": settings.out_size}


#: the candidate causes of Table 5's gray/RGB pattern, one factor changed at a time: id -> label
GRAY_FACTORS = {
    "chapter": "this chapter: gray before tracing (BT.601 luma), traced as three equal channels",
    "after": "gray after rendering: traced and de-identified in colour, the rendered images made gray",
    "paper_renderer": "the paper's renderer: ImageMagick's convert -density 288 (gray before tracing)",
}


def gray_factors(images: np.ndarray, key, settings: deid.Settings, *, n_paper_renderer: int = 8, alpha=0.5):
    """Table 5's pattern (gray minus RGB, SSIM_vec and SDIM, paired over the images, with 95% intervals)
    under each candidate cause of GRAY_FACTORS, one factor changed from the chapter's pipeline at a time; the
    paper's renderer on the first ``n_paper_renderer`` images only (it is slow), and not without ImageMagick."""
    from dataclasses import replace

    ref = upsample_batch(images, settings.out_size)
    gray = to_gray(images)
    gref = upsample_batch(gray, settings.out_size)

    def per(ref_, r):
        return summarise(M.deid_per_image(ref_, r["vector"], r["deid"]), alpha)["per_image"]

    def pattern(rgb, g):
        return {
            c: {"mean": float((g[c] - rgb[c]).mean()), "ci95": list(mean_ci(g[c] - rgb[c]))}
            for c in ("SSIM_vec", "SDIM")
        }

    out = {}
    rgb_r = deid.pipeline(images, key, settings, outputs=("vector", "deid"))
    rgb = per(ref, rgb_r)
    out["chapter"] = {
        **pattern(rgb, per(gref, deid.pipeline(gray, key, settings, outputs=("vector", "deid")))),
        "n": len(images),
    }
    after = {k: to_gray(rgb_r[k]) for k in ("vector", "deid")}
    out["after"] = {**pattern(rgb, per(gref, after)), "n": len(images)}
    n = min(n_paper_renderer, len(images))
    if n and deid.imagemagick_executable() is not None:
        st = replace(settings, renderer="imagemagick", density=288)
        a = per(ref[:n], deid.pipeline(images[:n], key, st, outputs=("vector", "deid")))
        b = per(gref[:n], deid.pipeline(gray[:n], key, st, outputs=("vector", "deid")))
        out["paper_renderer"] = {**pattern(a, b), "n": n}
    return out


def gray_factor_rows(factors: dict) -> list[dict]:
    """The one-factor table of Table 5's pattern, beside the paper's gray minus RGB."""
    p = PAPER_TABLE5
    rows = []
    for fid, label in GRAY_FACTORS.items():
        f = factors.get(fid)
        rows.append(
            {
                "pipeline": label,
                "paper: gray - RGB SSIM_vec": p["SSIM_vec"][1] - p["SSIM_vec"][0],
                "measured: gray - RGB SSIM_vec": None if f is None else f["SSIM_vec"]["mean"],
                "paper: gray - RGB SDIM": p["SDIM"][1] - p["SDIM"][0],
                "measured: gray - RGB SDIM": None if f is None else f["SDIM"]["mean"],
                "images": None if f is None else f["n"],
            }
        )
    return rows


def record_gray_factors(run, factors: dict) -> None:
    """Which candidate cause gives the paper's pattern (gray: higher SSIM_vec, lower SDIM), glued per factor."""
    for fid in GRAY_FACTORS:
        f = factors.get(fid)
        run.value(f"gray_factor_{fid}_images", 0 if f is None else f["n"], ",")
        for c in ("SSIM_vec", "SDIM"):
            if f is None:
                run.value(f"gray_factor_{fid}_{c.lower()}", "— (not run)", "s")
                run.value(f"gray_factor_{fid}_{c.lower()}_ci", "—", "s")
                continue
            run.value(f"gray_factor_{fid}_{c.lower()}", f[c]["mean"], ".3f")
            run.value(f"gray_factor_{fid}_{c.lower()}_ci", "{:.3f} to {:.3f}".format(*f[c]["ci95"]), "s")
    gives = [fid for fid, f in factors.items() if f["SSIM_vec"]["ci95"][0] > 0 and f["SDIM"]["ci95"][1] < 0]
    run.value("gray_factors_giving_pattern", ", ".join(GRAY_FACTORS[g].split(":")[0] for g in gives) or "none", "s")
    run.check(
        "gray-pattern-cause-found",
        "One of the candidate causes tried (the conversion after rendering, the paper's renderer) gives the "
        "paper's gray/RGB pattern (95% intervals of both paired differences on the paper's side of 0)",
        any(g != "chapter" for g in gives),
        kind="claim",
        measured=", ".join(gives) or "none",
        evidence={
            **{fid: {c: f[c] for c in ("SSIM_vec", "SDIM")} | {"images": f["n"]} for fid, f in factors.items()},
            "shown_in": ["gray_factors"],
        },
    )


def table5_rows(t5: dict) -> list[dict]:
    """Table 5 as displayed: per index, the paper's and this run's RGB and gray values."""
    return [
        {
            "index": k,
            "paper: RGB": p[0],
            "measured: RGB": t5["rgb"][k],
            "paper: gray": p[1],
            "measured: gray": t5["gray"][k],
        }
        for k, p in PAPER_TABLE5.items()
    ]


def fig_attack(manifest: dict, run_dir):

    a = _arrays(run_dir, "attack")
    rows = [
        ("original", "original"),
        ("deid", "de-identified"),
        ("back", "resize back\n(raster only)"),
        ("rank", "rank inversion of a\nleaked polygon SVG"),
    ]
    return image_grid([(label, [np.squeeze(im) for im in a[k]]) for k, label in rows], label_width=1.2)


FIGURES = {
    "fig9_examples": fig9_examples,
    "fig_table2": fig_table2,
    "fig_seams": fig_seams,
    "fig_warp": fig_warp,
    "fig_attack": fig_attack,
}


# --------------------------------------------------------------------------- what the run claims (checks)
def _ci(res: dict, c: str) -> list[float]:
    return [float(v) for v in res["ci95"][c]]


def _with_ci(res: dict, c: str) -> dict:
    return {"mean": float(res[c]), "ci95": _ci(res, c)}


def record_paper_values(run) -> None:
    """The paper's numbers the chapter's opening quotes, glued from the ``PAPER_*`` constants."""
    run.value("paper_acc_deid", PAPER_TABLE6["deid"], ".2f")
    run.value("paper_acc_plain", PAPER_TABLE6["plain"], ".2f")
    run.value("paper_acc_pixel", PAPER_TABLE6["pixel"], ".2f")
    run.value("paper_epochs", PAPER_EPOCHS, ",")


def record_ope(run, res: dict) -> None:
    """The OPE checks (from :func:`ope_study`): the table equals pyope; what the published offset pins
    down; Fig. 6's width."""
    from ppstudy.ciphers import ope

    run.value("ope_table_build_s", res["build_s"], ".1f")
    run.value("ope_probe_n", res["n_probe"], ",")
    run.value("canvas_32", res["canvas_32"], ",")
    run.value("paper_canvas_32", PAPER_CANVAS_32, ",")
    n, bad = res["n_probe"], res["probe_mismatches"]
    run.check(
        "ope-table-is-pyope",
        f"The OPE lookup table equals pyope's encryption value by value ({n:,} random plaintexts)",
        bad == 0,
        kind="exact",
        measured=f"{bad} mismatches in {n:,}",
        evidence={"plaintexts probed": n, "mismatches": bad},
    )
    label = [f"{r['in_range'][0]}..{r['in_range'][1]}" for r in res["offsets"]]
    hits = [lab for lab, r in zip(label, res["offsets"]) if r["enc0"] == ope.PAPER_OFFSET]
    misses = [lab for lab, r in zip(label, res["offsets"]) if r["enc0"] != ope.PAPER_OFFSET]
    half = [max(-r["in_range"][0], r["in_range"][1]) for r in res["offsets"] if r["enc0"] == ope.PAPER_OFFSET]
    far = max((abs(h - 1e4) / 1e4 for h in half), default=float("inf"))
    run.value("offset_ranges", ", ".join(hits), "s")
    run.check(
        "offset-pins-1e4",
        f"The published offset {ope.PAPER_OFFSET} pins the input range's half-width to about 10^4: more than "
        f"one candidate range gives it, each within {OFFSET_TOLERANCE:.0%} of 10^4 (a tolerance of this chapter), "
        "and no candidate far from 10^4 does",
        len(hits) > 1 and far <= OFFSET_TOLERANCE,
        kind="claim",
        paper=f"Enc(0) = {ope.PAPER_OFFSET}",
        measured=", ".join(hits) or "none",
        evidence={
            "ranges giving the offset": hits,
            "ranges not giving it": misses,
            "largest distance of their half-width from 10^4 (fraction)": far if hits else None,
            "tolerance": OFFSET_TOLERANCE,
            "shown_in": ["offset"],
        },
    )
    run.check(
        "canvas-width-fig6",
        f"The shifted SVG of a 32x32 tracing is {PAPER_CANVAS_32} wide, as in the paper's Fig. 6",
        res["canvas_32"] == PAPER_CANVAS_32,
        kind="paper",
        paper=f"{PAPER_CANVAS_32:,}",
        measured=f"{res['canvas_32']:,}",
        evidence={
            "Enc(32) - Enc(0), this run's key": res["canvas_32"],
            "the paper's Fig. 6": PAPER_CANVAS_32,
            "candidate ranges giving it": [
                lab for lab, r in zip(label, res["offsets"]) if r["canvas_32"] == PAPER_CANVAS_32
            ],
            "shown_in": ["offset"],
        },
    )


def record_table2(run, t2: dict) -> None:
    """Table 2's arrays (for its figure) and checks, from ``{size: indices}`` (:func:`table2_indices`): the
    OPE step costs more than the tracing at 50x50, the levels against the paper's, where SDIM is lowest."""
    sizes = list(t2)
    run.arrays(
        "table2",
        size=np.array(sizes),
        **{c: np.array([t2[s][c] for s in sizes]) for c in TABLE2_COLUMNS},
        **{f"{c}_ci95": np.array([_ci(t2[s], c) for s in sizes]) for c in TABLE2_COLUMNS},
    )
    if 50 in t2:
        r, p = t2[50], PAPER_TABLE2[50]
        pi = r["per_image"]
        # the loss from the original (SSIM 1) to the de-identified image, split at the tracing
        trace_loss = 1 - r["SSIM_vec"]
        ope_loss = r["SSIM_vec"] - r["SSIM_dei"]
        d = (pi["SSIM_vec"] - pi["SSIM_dei"]) - (1 - pi["SSIM_vec"])
        lo, hi = mean_ci(d)
        paper_share = (p[0] - p[1]) / (1 - p[1])
        run.value("ope_loss_share", 100 * ope_loss / (trace_loss + ope_loss), ".0f")
        run.value("paper_ope_loss_share", 100 * paper_share, ".0f")
        run.check(
            "loss-from-ope-step",
            "At 50x50 the OPE and rasterisation step costs more SSIM than the tracing "
            "(SSIM_vec - SSIM_dei > 1 - SSIM_vec, the 95% interval of the difference over the images above 0; "
            "the paper's Table 2 reads so)",
            lo > 0,
            kind="claim",
            paper=f"{p[0]} -> {p[1]}",
            measured=f"{r['SSIM_vec']:.3f} -> {r['SSIM_dei']:.3f}",
            evidence={
                "SSIM_vec": _with_ci(r, "SSIM_vec"),
                "SSIM_dei": _with_ci(r, "SSIM_dei"),
                "OPE-step loss minus tracing loss": {"mean": float(d.mean()), "ci95": [lo, hi]},
                "paper SSIM_vec, SSIM_dei": [p[0], p[1]],
                "images": r["n"],
                "shown_in": ["table2", "fig_table2"],
            },
        )
    papered = [s for s in sizes if s in PAPER_TABLE2]
    if papered:
        gaps = {s: abs(t2[s]["SSIM_dei"] - PAPER_TABLE2[s][1]) for s in papered}
        gap = max(gaps.values())
        run.value("table2_max_gap_ssim_dei", gap, ".3f")
        run.value("table2_level_tolerance", LEVEL_TOLERANCE, ".2f")
        run.check(
            "table2-ssim-dei-level",
            f"SSIM_dei within {LEVEL_TOLERANCE} (a tolerance of this chapter) of the paper's at every size",
            gap <= LEVEL_TOLERANCE,
            kind="claim",
            paper="Table 2",
            measured=f"largest gap {gap:.3f}",
            evidence={
                "per size: this run (95% interval), the paper's": {
                    str(s): [t2[s]["SSIM_dei"], _ci(t2[s], "SSIM_dei"), PAPER_TABLE2[s][1]] for s in papered
                },
                "largest gap": gap,
                "tolerance": LEVEL_TOLERANCE,
                "shown_in": ["table2", "fig_table2"],
            },
        )
    best = min(sizes, key=lambda s: t2[s]["SDIM"])
    run.value("sdim_argmin_size", f"{best} x {best}", "s")
    if len(sizes) >= 5:
        run.check(
            "sdim-minimum-at-50",
            "SDIM is lowest at 50x50, the paper's chosen size",
            best == 50,
            kind="paper",
            paper="50x50",
            measured=f"{best}x{best}",
            evidence={
                "SDIM per size (95% interval)": {str(s): [t2[s]["SDIM"], _ci(t2[s], "SDIM")] for s in sizes},
                "lowest at": best,
                "shown_in": ["table2", "fig_table2"],
            },
        )


def record_seams(run, mech: dict) -> None:
    """The seam check (from :func:`mechanism`): covering the seams raises SSIM_dei, paired over the images."""
    plain, scaled = mech["variants"]["paper"], mech["variants"]["scaled"]
    both = np.intersect1d(plain["rendered"], scaled["rendered"])
    pos = {int(i): j for j, i in enumerate(plain["rendered"])}
    pos_s = {int(i): j for j, i in enumerate(scaled["rendered"])}
    d = np.array(
        [scaled["per_image"]["SSIM_dei"][pos_s[int(i)]] - plain["per_image"]["SSIM_dei"][pos[int(i)]] for i in both]
    )
    lo, hi = mean_ci(d)
    run.value("seam_ssim_rise", float(d.mean()), ".3f")
    run.value("mechanism_images", mech["n"], ",")
    run.value("mechanism_size", f"{mech['size']} x {mech['size']}", "s")
    for c in ("SSIM_vec", "SSIM_dei"):
        run.value(f"uniform_{c.lower()}", plain[c], ".3f")
        run.value(f"gaussian_{c.lower()}", plain["gaussian"][c], ".3f")
    run.value("scaled_ssim_dei", scaled["SSIM_dei"], ".3f")
    run.value("seam_rise_threshold", SEAM_THRESHOLD, ".2f")
    run.check(
        "seams-cause-loss",
        f"Covering the seams (strokes scaled with the canvas) raises SSIM_dei by more than {SEAM_THRESHOLD} "
        "(the 95% interval over the images above it; the threshold is this chapter's tolerance for SSIM_dei "
        "against the paper's): much of the measured dissimilarity is white gaps between shapes",
        lo > SEAM_THRESHOLD,
        kind="claim",
        measured=f"{plain['SSIM_dei']:.3f} -> {scaled['SSIM_dei']:.3f}",
        evidence={
            "SSIM_dei, the paper's pipeline": _with_ci(plain, "SSIM_dei"),
            "SSIM_dei, strokes scaled": _with_ci(scaled, "SSIM_dei"),
            "rise (paired over the images)": {"mean": float(d.mean()), "ci95": [lo, hi]},
            "threshold": SEAM_THRESHOLD,
            "images": int(len(d)),
            "shown_in": ["mechanism", "fig_seams"],
        },
    )


def record_table5(run, t5: dict) -> None:
    """Table 5's check: the paper's pattern (gray images: higher SSIM_vec, lower SDIM), paired over the images."""
    rgb, gray = t5["rgb"]["per_image"], t5["gray"]["per_image"]
    d = {c: gray[c] - rgb[c] for c in ("SSIM_vec", "SDIM")}
    ci = {c: mean_ci(v) for c, v in d.items()}
    run.value("gray_minus_rgb_ssim_vec", float(d["SSIM_vec"].mean()), ".3f")
    run.value("gray_minus_rgb_sdim", float(d["SDIM"].mean()), ".3f")
    p = PAPER_TABLE5
    run.check(
        "table5-gray-pattern",
        "Gray images have a higher SSIM_vec and a lower SDIM than RGB ones (the paper's Table 5; 95% intervals "
        "of the paired differences over the images)",
        ci["SSIM_vec"][0] > 0 and ci["SDIM"][1] < 0,
        kind="paper",
        paper=f"SSIM_vec {p['SSIM_vec'][1]} vs {p['SSIM_vec'][0]}; SDIM {p['SDIM'][1]} vs {p['SDIM'][0]}",
        measured=f"SSIM_vec {t5['gray']['SSIM_vec']:.3f} vs {t5['rgb']['SSIM_vec']:.3f}; "
        f"SDIM {t5['gray']['SDIM']:.3f} vs {t5['rgb']['SDIM']:.3f}",
        evidence={
            **{f"gray - RGB {c}": {"mean": float(v.mean()), "ci95": list(ci[c])} for c, v in d.items()},
            "images": int(len(d["SDIM"])),
            "shown_in": ["table5"],
        },
    )


def record_warp(run, w: dict) -> None:
    """The warp (from :func:`warp_study`): its gaps and displacement, glued, and the check that it stays
    close to a straight line."""
    for name, fmt in (
        ("max_dev_px", ".1f"),
        ("mean_dev_px", ".1f"),
        ("gap_px_min", ".2f"),
        ("gap_px_max", ".1f"),
        ("gap_px_mean", ".2f"),
        ("gap_cv", ".2f"),
        ("domain_gap_mean", ".1f"),
        ("domain_gap_cv", ".2f"),
        ("geometric_cv", ".2f"),
        ("domain_gap_median", ".0f"),
        ("geometric_median", ".0f"),
        ("domain_gap_q90", ".0f"),
        ("geometric_q90", ".0f"),
    ):
        run.value(f"warp_{name}", w[name], fmt)
    for i, e in enumerate(w["exercise"]):
        run.value(f"exercise_range_{i}", f"±{e['out_range'][1]:,}", "s")
        run.value(f"exercise_max_dev_{i}", e["max_dev_px"], ".1f")
        run.value(f"exercise_gap_cv_{i}", e["gap_cv"], ".2f")
    bar = w["out_size"] * WARP_BAR
    run.value("warp_bar_px", bar, ".0f")
    run.check(
        "ope-warp-small",
        "Position OPE keeps every coordinate within a sixth of the output side of where a plain rescale puts it "
        "(a threshold of this chapter: half a cell of a 3 x 3 grid, so that a point at the centre of one of "
        "the image's nine regions stays in it and the layout survives)",
        w["max_dev_px"] < bar,
        kind="claim",
        measured=f"at most {w['max_dev_px']:.1f} px of {w['out_size']} (mean {w['mean_dev_px']:.1f})",
        evidence={
            "largest displacement (px)": w["max_dev_px"],
            "mean displacement (px)": w["mean_dev_px"],
            "bar (px)": bar,
            "output side (px)": w["out_size"],
            "gaps f(x+1) - f(x) in output pixels: min, max, coefficient of variation": [
                w["gap_px_min"],
                w["gap_px_max"],
                w["gap_cv"],
            ],
            "shown_in": ["fig_warp"],
        },
    )


def _binomial(acc: float, n: int) -> list[float]:
    k = int(round(acc * n / 100))
    return [100 * v for v in M.binomial_ci(k, n)]


def transfer_rows(results: dict, size: int, out: int) -> list[dict]:
    """The transfer table: the classifier trained on plain images scored on plain and on de-identified test
    images, and the one trained on de-identified images, each with its 95% (Clopper-Pearson) interval."""
    plain, dei = results.get(("plain", out)), results.get(("dei", size, out))
    rows = []
    for label, r, acc in (
        ("trained on plain, tested on plain", plain, None if plain is None else plain["accuracy"]),
        (
            "trained on plain, tested on de-identified",
            plain,
            None if plain is None or "deid" not in plain["also"] else plain["also"]["deid"]["accuracy"],
        ),
        ("trained on de-identified, tested on de-identified", dei, None if dei is None else dei["accuracy"]),
        (
            "trained on de-identified, tested on plain",
            dei,
            None if dei is None or "plain" not in dei["also"] else dei["also"]["plain"]["accuracy"],
        ),
    ):
        n = None if r is None else len(r["correct"])
        ci = None if acc is None or n is None else _binomial(acc, n)
        rows.append(
            {
                "classifier": label,
                "measured: accuracy (%)": acc,
                "measured: 95% interval (%)": None if ci is None else f"{ci[0]:.1f}–{ci[1]:.1f}",
                "status": "trained" if acc is not None else "not run",
            }
        )
    return rows


def paper_scale(data: dict, *, out: int, arch: str, epochs: int, schedule: str) -> bool:
    """Whether the classifiers ran at the paper's scale: all 50,000 CIFAR-10 training images, 224 x 224,
    Inception-ResNet-v2 and the paper's RMSprop schedule for its 675 epochs (anything less cannot be held
    against the paper's accuracy levels)."""
    return (
        len(data["x_train"]) >= 50_000
        and out == 224
        and arch == "inception_resnet_v2"
        and schedule == "rmsprop"
        and epochs >= PAPER_EPOCHS
    )


def record_classification(
    run, results: dict, not_run: list, data: dict, *, size: int, out: int, arch: str, epochs: int, schedule: str
) -> None:
    """What the classifiers say: the run's scale, Table 6's ordering (plain > de-identified > pixel-based),
    the vectorised and gray comparisons (their levels need the paper's scale, :func:`paper_scale`) and the
    transfer test."""
    full_scale = not run.smoke and paper_scale(data, out=out, arch=arch, epochs=epochs, schedule=schedule)
    needs = None if full_scale else "a GPU run at the paper's scale"
    n_classes = len(data["classes"])
    chance = 100.0 / n_classes
    run.reused_compute(
        sum(r.get("resumed_seconds") or 0.0 for r in results.values()), "training resumed from checkpoints"
    )
    run.value("not_run", ["-".join(map(str, i)) for i in not_run])
    run.value(
        "classifier_scale",
        f"{len(data['x_train']):,} training and {len(data['x_test']):,} test images at {out} x {out}, {arch}, "
        f"{epochs} epochs",
        "s",
    )
    run.value("chance_accuracy", chance, ".3g")
    items = {
        "plain": ("plain", out),
        "deid": ("dei", size, out),
        "pixel": ("pixel", out),
        "gray": ("gray", size, out),
        "vec": ("vec", size, out),
    }
    acc = {k: _acc(results, item) for k, item in items.items()}
    n_test = len(data["x_test"])
    ci = {k: None if v is None else _binomial(v, n_test) for k, v in acc.items()}
    if all(acc[k] is not None for k in ("plain", "deid", "pixel")):
        run.check(
            "table6-ordering",
            "Plain images score higher than de-identified ones, which score higher than pixel-encrypted ones (Table 6)",
            acc["plain"] > acc["deid"] > acc["pixel"],
            kind="paper",
            paper=f"{PAPER_TABLE6['plain']} > {PAPER_TABLE6['deid']} > {PAPER_TABLE6['pixel']}",
            measured=f"{acc['plain']:.2f} / {acc['deid']:.2f} / {acc['pixel']:.2f}",
            needs=needs,
            evidence={
                **{f"{k} accuracy (%, 95% interval)": [acc[k], ci[k]] for k in ("plain", "deid", "pixel")},
                "test images": n_test,
                "paper": PAPER_TABLE6,
                "shown_in": ["table6"],
            },
        )
    if acc["deid"] is not None and acc["vec"] is not None:
        run.check(
            "ope-costs-little-accuracy",
            f"De-identified images cost at most {ACCURACY_TOLERANCE_VEC:g} points of accuracy against the "
            "vectorised ones (a tolerance of this chapter; the paper's Table 3 has the de-identified ones ahead)",
            acc["vec"] - acc["deid"] <= ACCURACY_TOLERANCE_VEC,
            kind="claim",
            paper=f"{PAPER_TABLE3[50][2]} vs {PAPER_TABLE3[50][1]} at 50x50",
            measured=f"{acc['deid']:.2f} vs {acc['vec']:.2f}",
            needs=needs,
            evidence={
                "de-identified accuracy (%, 95% interval)": [acc["deid"], ci["deid"]],
                "vectorised accuracy (%, 95% interval)": [acc["vec"], ci["vec"]],
                "tolerance (points)": ACCURACY_TOLERANCE_VEC,
                "shown_in": ["table3"],
            },
        )
    if acc["gray"] is not None and acc["deid"] is not None:
        run.check(
            "gray-works",
            f"Gray de-identified images score within {ACCURACY_TOLERANCE_GRAY:g} points of RGB ones "
            "(a tolerance of this chapter)",
            abs(acc["gray"] - acc["deid"]) <= ACCURACY_TOLERANCE_GRAY,
            kind="claim",
            paper=f"{PAPER_GRAY_ACCURACY} vs {PAPER_TABLE6['deid']}",
            measured=f"{acc['gray']:.2f} vs {acc['deid']:.2f}",
            needs=needs,
            evidence={
                "gray accuracy (%, 95% interval)": [acc["gray"], ci["gray"]],
                "RGB accuracy (%, 95% interval)": [acc["deid"], ci["deid"]],
                "tolerance (points)": ACCURACY_TOLERANCE_GRAY,
                "shown_in": ["table5_accuracy"],
            },
        )
    plain = results.get(items["plain"])
    if plain is not None and "deid" in plain.get("also", {}):
        t = plain["also"]["deid"]
        tci = _binomial(t["accuracy"], n_test)
        run.value("transfer_accuracy", t["accuracy"], ".1f")
        run.value("transfer_ci", f"{tci[0]:.1f}–{tci[1]:.1f}", "s")
        if acc["deid"] is not None:
            run.value("deid_accuracy", acc["deid"], ".1f")
            dci = ci["deid"]
            assert dci is not None  # an accuracy has its interval
            run.value("deid_ci", f"{dci[0]:.1f}–{dci[1]:.1f}", "s")
            back = results[items["deid"]].get("also", {}).get("plain")
            if back is not None:
                bci = _binomial(back["accuracy"], n_test)
                run.value("reverse_transfer_accuracy", back["accuracy"], ".1f")
                run.value("reverse_transfer_ci", f"{bci[0]:.1f}–{bci[1]:.1f}", "s")
        run.check(
            "plain-model-recognises-deid",
            "A classifier trained on plain images recognises de-identified test images above chance (95% "
            "interval above 1 / classes): what the de-identified images show is what the originals show",
            tci[0] > chance,
            kind="claim",
            measured=f"{t['accuracy']:.1f}% ({tci[0]:.1f}–{tci[1]:.1f}); chance {chance:.3g}%",
            evidence={
                "trained on plain, tested on de-identified (%, 95% interval)": [t["accuracy"], tci],
                "trained on de-identified, tested on de-identified (%, 95% interval)": [acc["deid"], ci["deid"]],
                "trained on plain, tested on plain (%, 95% interval)": [acc["plain"], ci["plain"]],
                "chance (%)": chance,
                "test images": n_test,
                "shown_in": ["transfer"],
            },
        )


def record_security(run, sec: dict, mech: dict | None = None) -> None:
    """The security checks (from :func:`security_study`); with ``mech`` (the seam analysis on the same
    images) also whether the linear inversion of a leaked SVG is the de-identified image with its seams
    covered."""
    v = sec["variants"]
    released, vec, linear = v["released"], v["vector"], v["linear"]
    run.value("linear_inversion_ssim", linear["ssim"], ".3f")
    run.value("vectorized_ssim", vec["ssim"], ".3f")
    run.value("released_ssim", released["ssim"], ".3f")
    run.value(
        "linear_inversion_gap_share",
        100 * (linear["ssim"] - released["ssim"]) / (vec["ssim"] - released["ssim"]),
        ".0f",
    )
    run.value("rank_exact_pct", 100 * v["poly_rank"]["coord_exact"], ".0f")
    run.value("rank_exact_pct_imagetracer", 100 * v["rank"]["coord_exact"], ".1f")
    run.value("rank_mae_px", v["poly_rank"]["coord_mae"], ".2f")
    run.value("rank_mae_px_imagetracer", v["rank"]["coord_mae"], ".2f")
    run.value("security_images", sec["n"], ",")
    if mech is not None:
        scaled = mech["variants"]["scaled"]["SSIM_dei"]
        run.check(
            "linear-inversion-covers-seams",
            f"Reading the OPE as linear does not undo the warp (an affine map keeps it): it renders the shifted "
            f"shapes at the traced scale, the seams covered, within {LINEAR_TOLERANCE} SSIM (a tolerance of this "
            "chapter) of the strokes-scaled image",
            abs(linear["ssim"] - scaled) < LINEAR_TOLERANCE,
            kind="claim",
            measured=f"SSIM {linear['ssim']:.4f} vs {scaled:.4f}",
            evidence={
                "linear inversion SSIM (95% interval)": [linear["ssim"], linear["ssim_ci95"]],
                "strokes-scaled SSIM_dei (95% interval)": [scaled, _ci(mech["variants"]["scaled"], "SSIM_dei")],
                "tolerance": LINEAR_TOLERANCE,
                "shown_in": ["security", "mechanism"],
            },
        )
    run.check(
        "deterministic",
        "De-identification is deterministic for a fixed key (a second run gives the same images, bit for bit)",
        sec["deterministic"],
        kind="exact",
        measured="identical outputs" if sec["deterministic"] else "outputs differ",
        evidence={"images de-identified twice": sec["n_repeat"], "identical": sec["deterministic"]},
    )
    for check, tracer, rank, rel in (
        ("leaked-svg-inverted", "a polygon tracing with integer vertices (vtracer)", "poly_rank", "poly_released"),
        ("leaked-svg-inverted-imagetracer", "the paper's tracer (imagetracerjs)", "rank", "released"),
    ):
        run.check(
            check,
            f"Without the key, sorting the coordinates of a leaked SVG of {tracer} gives back an image closer to "
            "the tracing than the released de-identified one",
            v[rank]["ssim_to_vector"] > v[rel]["ssim_to_vector"],
            kind="claim",
            measured=f"SSIM to the tracing {v[rel]['ssim_to_vector']:.3f} -> {v[rank]['ssim_to_vector']:.3f}; "
            f"coordinates exact {100 * v[rank]['coord_exact']:.1f}%",
            evidence={
                "SSIM to the tracing: released, rank inversion": [v[rel]["ssim_to_vector"], v[rank]["ssim_to_vector"]],
                "coordinates recovered exactly (fraction)": v[rank]["coord_exact"],
                "coordinate MAE (px of the traced canvas)": v[rank]["coord_mae"],
                "images": sec["n"],
                "shown_in": ["security", "fig_attack"],
            },
        )
