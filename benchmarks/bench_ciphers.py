"""Throughput of every image cipher on a CIFAR-10-sized batch (50,000 x 32x32x3 uint8), next to a plain
numpy copy of the same batch measured in the same run. Prints figures; asserts nothing about speed.

    .venv/bin/python benchmarks/bench_ciphers.py [--n 50000] [--repeat 3]
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import best_time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    from ppstudy.ciphers import chaotic, etc, pixel, tanaka

    shape = (32, 32, 3)
    x = np.random.default_rng(0).integers(0, 256, (a.n, *shape), dtype=np.uint8)
    mb = x.nbytes / 1e6
    copies = [best_time(lambda: x.copy(), a.repeat)]
    t_copy = copies[0]
    print(f"batch {a.n} x {shape} uint8 = {mb:.0f} MB; numpy copy {t_copy * 1e3:.1f} ms ({mb / t_copy / 1e3:.2f} GB/s)")
    schemes = [
        ("pixel step 2", pixel, pixel.keygen(shape, seed=0, shuffle=False)),
        ("pixel steps 2+3", pixel, pixel.keygen(shape, seed=0)),
        ("tanaka 4x4", tanaka, tanaka.keygen(shape, 4, seed=0)),
        ("etc 4x4 (all steps)", etc, etc.keygen(shape, block=4, seed=0)),
        ("etc 8x8 (all steps)", etc, etc.keygen(shape, block=8, seed=0)),
        ("chaotic (logistic + RC4)", chaotic, chaotic.keygen(shape, seed=0)),
    ]
    print(f"{'cipher':<26}{'encrypt ms':>11}{'decrypt ms':>11}{'enc img/s':>12}{'enc/copy':>10}{'dec/copy':>10}")
    for name, mod, key in schemes:
        y = mod.encrypt(x, key)
        assert np.array_equal(mod.decrypt(y, key), x)
        te = td = float("inf")
        for _ in range(a.repeat):  # interleave with copies: the machine's load changes under us
            copies.append(best_time(lambda: x.copy(), 1))
            te = min(te, best_time(lambda mod=mod, key=key: mod.encrypt(x, key), 1))
            td = min(td, best_time(lambda mod=mod, y=y, key=key: mod.decrypt(y, key), 1))
        t_copy = min(copies)  # the fastest copy seen so far: ratios are conservative
        print(f"{name:<26}{te * 1e3:>11.1f}{td * 1e3:>11.1f}{a.n / te:>12.0f}{t_copy / te:>10.2f}{t_copy / td:>10.2f}")
    print(f"fastest numpy copy over the run: {min(copies) * 1e3:.1f} ms")
    print("ratios are (fastest copy time) / cipher time (1.0 = as fast as a copy; target >= 0.20)")


if __name__ == "__main__":
    main()
