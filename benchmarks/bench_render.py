"""Rasterization against the paper's ImageMagick command, index by index (Table 2's indices).

Prints figures; asserts nothing. Run from the repository root::

    python benchmarks/bench_render.py [--n 100] [--size 50] [--workers 2] [--renderers NAME ...]

The first ``n`` CIFAR-10 test images (ppstudy's loader, the local cache) are traced once at ``size`` x
``size`` (imagetracerjs 'default', the paper's key); the vectorized and the position-shifted SVGs are then
rasterized to 224 x 224 by each renderer, and Table 2's indices (SSIM_vec, SSIM_dei, SSIM_pos, L2norm_dei,
DI, SDIM; :func:`ppstudy.metrics.deid_indices`, originals up-sampled bilinearly as the study does) are
printed with their differences from the paper's command, ``convert -density 288 in.svg -resize 224x224!
out.png`` (Debian's ImageMagick 6 and its internal MSVG renderer), and the milliseconds per image (one
vectorized and one de-identified raster) on this machine.

Renderers (``ppstudy.ciphers.deid.RENDERERS`` and the settings below):

* ``imagemagick``: the paper's command, one ``convert`` per group of SVGs, in this process;
* ``imagemagick-pool``: the same command in ``--workers`` processes (identical images, checked);
* ``resvg``, ``skia``: resvg or Skia directly at 224 x 224 (the chapter's renderers until this benchmark);
* ``resvg-288``: resvg at density 288, then Pillow's Lanczos resize;
* ``skia-288-magick``: Skia at density 288, then ImageMagick's resize filter for this image (Mitchell;
  ``convert -define filter:verbose=1`` prints it: the MSVG render carries an alpha channel, for which
  ImageMagick 6 picks Mitchell rather than Lanczos) with ImageMagick's half-pixel drawing offset.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

COLUMNS = ("SSIM_vec", "SSIM_dei", "SSIM_pos", "L2norm_dei", "DI", "SDIM")
RENDERERS = {
    "imagemagick": dict(renderer="imagemagick", density=288),
    "imagemagick-pool": dict(renderer="imagemagick", density=288),
    "resvg": dict(renderer="resvg", density=None),
    "skia": dict(renderer="skia", density=None),
    "resvg-288": dict(renderer="resvg", density=288),
    "skia-288-magick": dict(renderer="skia-magick", density=288),
}
#: the agreement the chapter asks of a renderer standing in for the paper's command, on every index
TOLERANCE = 0.005


def _render(args):
    from ppstudy.ciphers import deid

    svgs, kw = args
    return deid.rasterize_many(svgs, 224, **kw)


def render(svgs: list[str], kw: dict, workers: int = 1) -> np.ndarray:
    if workers <= 1:
        return _render((svgs, kw))
    import multiprocessing as mp

    step = max(1, -(-len(svgs) // (4 * workers)))
    parts = [(svgs[i : i + step], kw) for i in range(0, len(svgs), step)]
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as ex:
        return np.concatenate(list(ex.map(_render, parts)))


def main(argv=None) -> None:
    from ppstudy import metrics as M
    from ppstudy.ciphers import deid, ope
    from ppstudy.data import cifar10
    from ppstudy.studies import deid as study

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--size", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--renderers", nargs="+", default=list(RENDERERS), choices=list(RENDERERS))
    a = ap.parse_args(argv)
    if deid.imagemagick_executable() is None:
        raise SystemExit("ImageMagick's convert is not installed (apt-get install imagemagick)")
    x, _, _ = cifar10.load_with_source("test")
    x = x[: a.n]
    key = ope.paper_key()
    t0 = time.perf_counter()
    r = deid.pipeline(x, key, deid.Settings(size=a.size, out_size=224), outputs=("svg", "shifted"))
    print(
        f"# {len(x)} CIFAR-10 test images traced at {a.size}x{a.size} (imagetracerjs 'default', the paper's key) "
        f"in {time.perf_counter() - t0:.0f} s; rasterized to 224x224; Table 2's indices, differences from the "
        f"paper's command; agreement asked: {TOLERANCE} on every index"
    )
    ref = study.upsample_batch(x, 224)
    out, base = {}, None
    for name in ["imagemagick"] + [n for n in a.renderers if n != "imagemagick"]:
        kw = RENDERERS[name]
        workers = a.workers if name == "imagemagick-pool" else 1
        t0 = time.perf_counter()
        vec, dei = render(r["svg"], kw, workers), render(r["shifted"], kw, workers)
        ms = 1e3 * (time.perf_counter() - t0) / len(x)
        idx = M.deid_indices(ref, vec, dei)
        if base is None:
            base = (idx, vec, dei)
        same = bool(np.array_equal(vec, base[1]) and np.array_equal(dei, base[2]))
        diff = {c: idx[c] - base[0][c] for c in COLUMNS}
        worst = max(abs(v) for v in diff.values())
        out[name] = (idx, diff, ms, worst, same)
    print("\n| renderer | ms/image | " + " | ".join(COLUMNS) + " | largest |diff| | agrees |")
    print("|---|---:|" + "---:|" * len(COLUMNS) + "---:|---|")
    for name, (idx, diff, ms, worst, same) in out.items():
        cells = [f"{idx[c]:.4f}" if name == "imagemagick" else f"{idx[c]:.4f} ({diff[c]:+.4f})" for c in COLUMNS]
        verdict = "the reference" if name == "imagemagick" else ("yes" if worst <= TOLERANCE else "no")
        if same and name != "imagemagick":
            verdict += " (identical images)"
        print(f"| {name} | {ms:.0f} | " + " | ".join(cells) + f" | {worst:.4f} | {verdict} |")


if __name__ == "__main__":
    main()
