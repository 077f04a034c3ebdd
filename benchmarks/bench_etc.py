"""EtC encryption throughput (GB/s of plain image bytes) next to a plain numpy copy of the same array.

Run: .venv/bin/python benchmarks/bench_etc.py [--repeat N]
Prints figures only; never asserts timings.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ppstudy.ciphers import etc

CASES = [
    ("CIFAR-sized 50000x32x32x3, block 4", (50000, 32, 32, 3), 4, False),
    ("CIFAR-sized, grayscale-based, block 4", (50000, 32, 32, 3), 4, True),
    ("Yale-sized 1216x192x160 grayscale, block 8", (1216, 192, 160, 1), 8, False),
    ("Yale-sized 1216x192x160x3 colour, block 8", (1216, 192, 160, 3), 8, False),
]


def best_of(f, repeat: int) -> float:
    f()  # warm up (page faults of the output)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'case':46s} {'copy GB/s':>10s} {'encrypt GB/s':>13s} {'decrypt GB/s':>13s} {'enc/copy':>9s}")
    for name, shape, block, gray in CASES:
        x = rng.integers(0, 256, shape, dtype=np.uint8)
        t0 = time.perf_counter()
        key = etc.keygen(shape[1:], block, seed=0, grayscale=gray)
        tkey = time.perf_counter() - t0
        y = etc.encrypt(x, key)
        assert np.array_equal(etc.decrypt(y, key), x)
        gb = x.nbytes / 1e9
        t_copy = best_of(x.copy, args.repeat)
        t_enc = best_of(lambda x=x, key=key: etc.encrypt(x, key), args.repeat)
        t_dec = best_of(lambda y=y, key=key: etc.decrypt(y, key), args.repeat)
        print(
            f"{name:46s} {gb / t_copy:10.2f} {gb / t_enc:13.2f} {gb / t_dec:13.2f} {t_copy / t_enc:9.2f}"
            f"   (key {tkey * 1e3:.1f} ms)"
        )


if __name__ == "__main__":
    main()
