"""De-identification throughput, 50x50 -> 224x224, per stage, and the OPE lookup table's speed-up.

Run: ``.venv/bin/python benchmarks/bench_deid.py [--n 64] [--workers 2]``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=64, help="images (patches of the bundled photographs)")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--probe", type=int, default=300, help="values encrypted one by one with pyope")
    args = ap.parse_args()
    os.environ.setdefault("PPSTUDY_DATA", tempfile.mkdtemp(prefix="ppstudy-bench-"))

    from ppstudy.ciphers import deid, ope
    from ppstudy.data import bundled

    imgs, _ = bundled.random_patches(list(bundled.photographs().values()), args.n, 32, seed=0)
    key = ope.paper_key()
    s = deid.Settings(size=50, out_size=224)

    # --- OPE: table build vs one pyope call per value
    t0 = time.perf_counter()
    table = ope.build_table(key)
    t_build = time.perf_counter() - t0
    ope.table(key)
    c = ope.pyope_cipher(key)
    probe = np.random.default_rng(0).integers(key.in_range[0], key.in_range[1] + 1, args.probe)
    t0 = time.perf_counter()
    ref = [c.encrypt(int(p)) for p in probe]
    per_value = (time.perf_counter() - t0) / len(probe)
    assert np.array_equal(ref, table[probe - key.in_range[0]])
    print(f"OPE table: {len(table)} ciphertexts (input {key.in_range}, output {key.out_range})")
    print(f"  depth-first table build      {t_build:8.2f} s")
    print(f"  pyope, one call per value    {per_value * 1e3:8.3f} ms/value -> {per_value * len(table):.1f} s for the domain"
          f"  (table build speed-up {per_value * len(table) / t_build:.1f}x)")

    # --- per stage, one process
    svgs, shifted = [], []
    t0 = time.perf_counter()
    for im in imgs:
        svgs.append(deid.vectorize(im, s))
    t_vec = time.perf_counter() - t0
    t0 = time.perf_counter()
    for sv in svgs:
        shifted.append(deid.pos_ope(sv, key))
    t_ope = time.perf_counter() - t0
    t0 = time.perf_counter()
    for sv in shifted:
        deid.rasterize(sv, 224)
    t_ras = time.perf_counter() - t0
    n = len(imgs)
    ncoord = sum(len(__import__("ppstudy.attacks.ope", fromlist=["x"]).svg_coordinates(sv)) * 2 for sv in svgs)
    # the same coordinates through pyope, value by value (integers only: floor of each coordinate)
    from ppstudy.attacks import ope as attacks

    xy = np.concatenate([attacks.svg_coordinates(sv).ravel() for sv in svgs[:4]])
    t0 = time.perf_counter()
    for v in np.floor(xy).astype(int):
        c.encrypt(int(v))
    pyope_coord = (time.perf_counter() - t0) / len(xy)
    t0 = time.perf_counter()
    ope.encrypt_real(xy, key)
    table_coord = (time.perf_counter() - t0) / len(xy)
    print(f"\n{n} images, 50x50 -> 224x224, {ncoord / n:.0f} coordinates per image, one process:")
    for name, t in (("vectorize (vtracer)", t_vec), ("position OPE (table)", t_ope), ("rasterize (resvg)", t_ras)):
        print(f"  {name:24s} {n / t:9.1f} images/s  ({1e3 * t / n:6.2f} ms/image)")
    tot = t_vec + t_ope + t_ras
    print(f"  {'all three stages':24s} {n / tot:9.1f} images/s")
    print(f"  coordinate encryption: table {table_coord * 1e6:.3f} us/coordinate, pyope {pyope_coord * 1e6:.0f} us/coordinate"
          f" -> {pyope_coord / table_coord:.0f}x; with pyope per coordinate the OPE stage would take "
          f"{1e3 * pyope_coord * ncoord / n:.0f} ms/image")

    # --- whole pipeline with workers
    t0 = time.perf_counter()
    deid.deidentify(imgs, key, s, workers=args.workers)
    t = time.perf_counter() - t0
    print(f"\ndeidentify(..., workers={args.workers}): {n / t:.1f} images/s end to end")


if __name__ == "__main__":
    main()
