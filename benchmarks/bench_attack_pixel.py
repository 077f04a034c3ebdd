"""Whole-key success of the pixel-cipher key recovery on real CIFAR-10, with 95% intervals and timings.

Cipher images: random subsets of the CIFAR-10 test batch, each under a fresh seeded key; public prior:
the first ``--public`` images of data_batch_1. Reads the batches from ``$PPSTUDY_DATA/cifar10/
cifar-10-batches-py`` (or ``~/.cache/ppstudy/...``) and prints a note instead when they are not there.

    PPSTUDY_DATA=/work/cache/ppstudy python benchmarks/bench_attack_pixel.py --draws 50 --counts 2 3 5 10 20 50
"""

from __future__ import annotations

import argparse
import os
import pickle
import time
from pathlib import Path

import numpy as np

from ppstudy.attacks import pixel as attacks


def _batch(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        d = pickle.load(f, encoding="bytes")
    return np.ascontiguousarray(np.asarray(d[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=50)
    ap.add_argument("--counts", type=int, nargs="+", default=[2, 3, 5, 10, 20, 50])
    ap.add_argument("--public", type=int, default=5000, help="public prior images from data_batch_1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", nargs="+", default=["step2", "steps23"], choices=["step2", "steps23"])
    args = ap.parse_args()
    cache = Path(os.environ.get("PPSTUDY_DATA", Path.home() / ".cache" / "ppstudy"))
    root = cache / "cifar10" / "cifar-10-batches-py"
    if not (root / "test_batch").exists() or not (root / "data_batch_1").exists():
        print(f"CIFAR-10 batches not found under {root}: nothing to measure")
        return
    pool = _batch(root / "test_batch")
    public = _batch(root / "data_batch_1")[: args.public]
    print(
        f"cipher pool: {len(pool)} CIFAR-10 test images; public prior: {len(public)} images of data_batch_1; "
        f"seed {args.seed}; {os.cpu_count()} CPU cores"
    )
    print(
        f"{'cipher':<10} {'images':>6} {'draws':>5} {'ok':>5} {'rate':>7} {'95% CI':>17} {'key bits':>9} "
        f"{'s/attack':>9}"
    )
    total = time.perf_counter()
    for variant in args.variants:
        shuffle = variant == "steps23"
        t0 = time.perf_counter()
        prior = attacks.pixel_prior(public, shuffle=shuffle)
        print(f"prior for {variant}: {time.perf_counter() - t0:.1f} s")
        for n in args.counts:
            t0 = time.perf_counter()
            (r,) = attacks.success_rates(pool, prior, [n], draws=args.draws, shuffle=shuffle, seed=args.seed)
            dt = (time.perf_counter() - t0) / args.draws
            print(
                f"{r['cipher']:<10} {n:>6} {r['draws']:>5} {r['successes']:>5} {r['rate']:>7.3f} "
                f"[{r['ci95_low']:.3f}, {r['ci95_high']:.3f}] {r['mean_key_bits']:>9.5f} {dt:>9.3f}",
                flush=True,
            )
    print(f"total {time.perf_counter() - total:.1f} s")


if __name__ == "__main__":
    main()
