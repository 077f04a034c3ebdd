"""De-identification: throughput per stage, Table 2 on real CIFAR-10 beside the paper, the whole protocol.

Prints figures; asserts nothing. Three commands (run from the repository root)::

    python benchmarks/bench_deid.py stages [--n 64] [--sizes 32 50 100]
        per stage, one process: images/s (wall clock and CPU time of this process and its Node child),
        the OPE table build against pyope, SSIM batched against scikit-image.
    python benchmarks/bench_deid.py table2 --cifar PATH/test_batch [--n 100] [--sizes 32 50 64 100]
                                   [--configs resvg imagemagick resvg-scaled] [--workers 2]
        Table 2's indices on the first n CIFAR-10 test images (read from the python-version pickle
        here, not through ppstudy's loader) for each pipeline configuration, beside the paper's values.
    python benchmarks/bench_deid.py protocol --cifar PATH/test_batch [--n 10000] [--workers 2]
                                   [--cache-dir DIR] [--sizes ...13 sizes]
        ``studies.deid.table2_protocol`` end to end (resumable: finished sizes and blocks are read from DIR);
        prints worker time per size and the shared per-image work.
"""

from __future__ import annotations

import argparse
import os
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np

SIZES13 = [32, 36, 42, 46, 48, 50, 52, 54, 58, 62, 64, 75, 100]
CONFIGS = {
    "resvg": dict(),  # the default: resvg at the output size
    "resvg288": dict(density=288),  # resvg at density 288, Lanczos to 224
    "imagemagick": dict(renderer="imagemagick"),  # convert -density 288 in.svg -resize 224x224! out.png
    "resvg-scaled": dict(scale_strokes=True),  # strokes scaled with the OPE canvas
    "imagemagick-scaled": dict(renderer="imagemagick", scale_strokes=True),
    "literal": dict(ope_mode="literal"),  # Algorithm 2's re.sub over the document
    "literal-imagemagick": dict(ope_mode="literal", renderer="imagemagick"),
    "vtracer": dict(tracer="vtracer"),  # the previous tracer
    "skia": dict(renderer="skia"),  # Skia at the output size (fast)
}


def cifar_test(path: str, n: int) -> np.ndarray:
    with open(path, "rb") as f:
        d = pickle.load(f, encoding="bytes")
    x = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(x[:n])


def _cpu() -> float:
    """CPU seconds of this process and of its live Node child (read from /proc)."""
    from ppstudy.ciphers import imagetracer

    t = time.process_time()
    for pid in imagetracer.node_pids():
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            t += (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return t


def _timed(fn, *args, **kw):
    w0, c0 = time.perf_counter(), _cpu()
    out = fn(*args, **kw)
    return out, time.perf_counter() - w0, _cpu() - c0


def stages(args) -> None:
    from skimage.metrics import structural_similarity

    from ppstudy import metrics as M
    from ppstudy.ciphers import deid, ope
    from ppstudy.data import bundled
    from ppstudy.studies.deid import upsample_batch

    if args.cifar:
        imgs = cifar_test(args.cifar, args.n)
        src = f"first {args.n} CIFAR-10 test images"
    else:
        imgs, _ = bundled.random_patches(list(bundled.photographs().values()), args.n, 32, seed=0)
        src = f"{args.n} 32x32 patches of the bundled photographs"
    key = ope.paper_key()
    print(
        f"# de-identification stages on {src}, one process (load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores); wall = elapsed, cpu = this process + its Node child"
    )

    t0 = time.perf_counter()
    tab = ope.build_table(key)
    t_build = time.perf_counter() - t0
    c = ope.pyope_cipher(key)
    probe = np.random.default_rng(0).integers(key.in_range[0], key.in_range[1] + 1, 200)
    t0 = time.perf_counter()
    ref = [c.encrypt(int(p)) for p in probe]
    per_value = (time.perf_counter() - t0) / len(probe)
    assert np.array_equal(ref, tab[probe - key.in_range[0]])
    ope.table(key)
    print(
        f"OPE table ({len(tab)} ciphertexts): built in {t_build:.2f} s; pyope {1e3 * per_value:.2f} ms/value "
        f"-> {per_value * len(tab):.0f} s for the domain ({per_value * len(tab) / t_build:.0f}x)"
    )

    n = len(imgs)
    deid.vectorize(imgs[:2], deid.Settings(size=32))  # start the engine outside the timings
    print(f"\n{'size':>5} {'stage':28s} {'img/s wall':>11} {'img/s cpu':>10} {'ms/img cpu':>10}")
    for size in args.sizes:
        s = deid.Settings(size=size, out_size=224)
        rows = []
        _, w, cp = _timed(lambda s_: [deid.resize(im, s_) for im in imgs], size)
        rows.append(("resize to size", w, cp))
        svgs, w, cp = _timed(deid.vectorize, imgs, s)
        rows.append(("vectorize (imagetracerjs)", w - rows[0][1], cp - rows[0][2]))
        sh, w, cp = _timed(lambda vs: [deid.pos_ope(v, key) for v in vs], svgs)
        rows.append(("position OPE", w, cp))
        vec, w, cp = _timed(deid.rasterize_many, svgs, 224)
        rows.append(("rasterize vector (resvg)", w, cp))
        dei, w, cp = _timed(deid.rasterize_many, sh, 224)
        rows.append(("rasterize shifted (resvg)", w, cp))
        m = min(n, 8)
        _, w, cp = _timed(deid.rasterize_many, sh[:m], 224, density=288)
        rows.append(("  alt: resvg density 288", w * n / m, cp * n / m))
        try:
            __import__("skia")
            _, w, cp = _timed(deid.rasterize_many, svgs + sh, 224, renderer="skia")
            rows.append(("  alt: both with skia", w / 2, cp / 2))
        except ImportError:
            pass
        if deid.imagemagick_executable():
            _, w, cp = _timed(deid.rasterize_many, sh[:m], 224, renderer="imagemagick")
            rows.append(("  alt: imagemagick 288*", w * n / m, cp * n / m))
        refs, w, cp = _timed(upsample_batch, imgs, 224)
        rows.append(("originals to 224", w, cp))
        _, w, cp = _timed(M.deid_per_image, refs, vec, dei)
        rows.append(("indices (2 SSIM + L2)", w, cp))
        _, w, cp = _timed(
            lambda r_, d_: [
                structural_similarity(a, b, data_range=255, channel_axis=-1) for a, b in zip(r_, d_, strict=True)
            ],
            refs,
            dei,
        )
        rows.append(("  alt: 2 x skimage SSIM", 2 * w, 2 * cp))
        for name, w, cp in rows:
            print(f"{size:5d} {name:28s} {n / w:11.1f} {n / cp:10.1f} {1e3 * cp / n:10.2f}")
        main = [r for r in rows if not r[0].startswith("  alt")]
        w, cp = sum(r[1] for r in main), sum(r[2] for r in main)
        print(f"{size:5d} {'Table 2 work, one image':28s} {n / w:11.1f} {n / cp:10.1f} {1e3 * cp / n:10.2f}")
    print("(* ImageMagick's CPU time is in its own processes, not counted in cpu)")


def table2(args) -> None:
    from ppstudy.ciphers import deid, ope
    from ppstudy.studies import deid as study

    imgs = cifar_test(args.cifar, args.n)
    key = ope.paper_key()
    print(
        f"# Table 2 on the first {len(imgs)} CIFAR-10 test images ({args.cifar}), paper key and ranges, "
        f"224x224, alpha 0.5; paper values: means over all 10,000 test images"
    )
    cols = ("SSIM_vec", "SSIM_dei", "SSIM_pos", "L2norm_dei", "SDIM")
    for name in args.configs:
        st = deid.Settings(**CONFIGS[name])
        timings: dict = {}
        t0 = time.perf_counter()
        rows, _ = study.table2_protocol(
            imgs,
            key,
            args.sizes,
            224,
            settings=st,
            workers=args.workers,
            progress=False,
            cache_dir=args.cache_dir,
            timings=timings,
        )
        print(f"\n## {name}: {st}  ({time.perf_counter() - t0:.0f} s)")
        print("| size | " + " | ".join(cols) + " |")
        print("|---|" + "---|" * len(cols))
        for r in rows:
            cells = [
                f"{r['measured ' + c]:.3f} (paper {r['paper ' + c]:.3f})"
                if r["paper " + c] is not None
                else f"{r['measured ' + c]:.3f}"
                for c in cols
            ]
            print(f"| {r['size']} | " + " | ".join(cells) + " |")


def protocol(args) -> None:
    from ppstudy.ciphers import deid, ope
    from ppstudy.studies import deid as study

    imgs = cifar_test(args.cifar, args.n)
    key = ope.paper_key()
    cache = args.cache_dir or tempfile.mkdtemp(prefix="ppstudy-table2-")
    timings: dict = {}
    t0 = time.perf_counter()
    rows, _ = study.table2_protocol(
        imgs,
        key,
        args.sizes,
        224,
        settings=deid.Settings(**CONFIGS[args.config]),
        workers=args.workers,
        progress=True,
        cache_dir=cache,
        timings=timings,
    )
    wall = time.perf_counter() - t0
    print(
        f"# table2_protocol: {len(imgs)} images x {len(args.sizes)} sizes, workers={args.workers}, "
        f"config {args.config}, cache {cache}: {wall:.0f} s wall "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    shared = timings.pop("originals", 0.0)
    busy = shared + sum(timings.values())
    print(
        f"  worker time {busy:.0f} s over {wall:.0f} s wall ({busy / wall:.2f} of {args.workers} workers busy); "
        f"shared per image (originals up-sampled, their SSIM statistics): {1e3 * shared / len(imgs):.1f} ms"
    )
    for s, t in timings.items():
        print(f"  {s:4d}x{s:<4d} {t:7.1f} worker-s  {1e3 * t / len(imgs):6.1f} ms/image")
    if timings:
        rate = len(imgs) * len(timings) / wall
        print(
            f"  {rate:.1f} image-sizes/s wall; the full protocol (10,000 x 13) at this rate: "
            f"{10000 * 13 / rate / 60:.0f} min"
        )
    for r in rows:
        print(
            f"  {r['size']:>8s} SSIM_vec {r['measured SSIM_vec']:.4f} SSIM_dei {r['measured SSIM_dei']:.4f} "
            f"SDIM {r['measured SDIM']:+.4f} (paper {r['paper SDIM']:+.4f})"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("stages")
    a.add_argument("--n", type=int, default=64)
    a.add_argument("--sizes", type=int, nargs="+", default=[32, 50, 100])
    a.add_argument("--cifar", help="CIFAR-10 test_batch pickle (default: bundled photographs)")
    b = sub.add_parser("table2")
    b.add_argument("--cifar", required=True)
    b.add_argument("--n", type=int, default=100)
    b.add_argument("--sizes", type=int, nargs="+", default=[32, 50, 64, 100])
    b.add_argument("--configs", nargs="+", default=["resvg", "imagemagick", "resvg-scaled"], choices=list(CONFIGS))
    b.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    b.add_argument("--cache-dir", default=None)
    c = sub.add_parser("protocol")
    c.add_argument("--cifar", required=True)
    c.add_argument("--n", type=int, default=10000)
    c.add_argument("--sizes", type=int, nargs="+", default=SIZES13)
    c.add_argument("--config", default="resvg", choices=list(CONFIGS))
    c.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    c.add_argument("--cache-dir", default=None)
    args = ap.parse_args()
    os.environ.setdefault("PPSTUDY_DATA", tempfile.mkdtemp(prefix="ppstudy-bench-"))
    {"stages": stages, "table2": table2, "protocol": protocol}[args.cmd](args)


if __name__ == "__main__":
    main()
