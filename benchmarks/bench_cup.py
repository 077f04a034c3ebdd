"""Big Data Cup throughput, measured in one run: cat map (images/s at 512x512), BFV encryption (ms/image,
bytes/image), and matchers (pairs/s): key-free multiset matcher, known-plaintext inversion matcher,
6-channel cross-encoder and Siamese (all-against-all), with a tiny and a paper-sized network.

    .venv/bin/python benchmarks/bench_cup.py [--quick]

Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
from _timing import best_time  # benchmarks/ is on sys.path when run as a script

from ppstudy.attacks import catmap as attacks
from ppstudy.ciphers import catmap
from ppstudy.models import pair_cnn


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer images (CI)")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1: fastest on a shared small CPU, where 2 threads contend)",
    )
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    n = 8 if a.quick else 32
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 512, 512, 3), dtype=np.uint8)
    print(
        f"# bench_cup on {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch threads {torch.get_num_threads()}, cuda {torch.cuda.is_available()}"
    )

    print("\n## cat map, 512x512x3 uint8")
    for mode, tile in (("tile", 32), ("whole", 512)):
        key = catmap.keygen((512, 512), mode=mode, tile=tile, seed=1)
        t0 = time.perf_counter()
        catmap.encrypt(x[:1], key)
        first = time.perf_counter() - t0
        enc = best_time(lambda key=key: catmap.encrypt(x, key))
        dec = best_time(lambda key=key: catmap.decrypt(x, key))
        print(
            f"{mode:5s}: first call (builds the permutation) {first * 1e3:.1f} ms; encrypt {n / enc:.0f} images/s, "
            f"decrypt {n / dec:.0f} images/s ({n * x[0].nbytes / enc / 1e9:.2f} GB/s)"
        )

    print("\n## cat-map key space: keys keygen draws from and the distinct permutations they reach (exact)")
    for side in (32, 512):
        t0 = time.perf_counter()
        c = catmap.key_space_counts((side, side), mode="whole")
        dt = time.perf_counter() - t0
        print(
            f"n={side}: {c['parameter_triples']} keys (a, b, k), {c['distinct_permutations']} distinct permutations "
            f"({c['permutation_bits']:.2f} bits), |SL(2, Z/n)| = {c['sl2_order']}; counted in {dt:.2f} s"
        )

    print("\n## BFV (Pyfhel/SEAL, n=8192), 52x52x3 faces, one ciphertext per image")
    try:
        from ppstudy.ciphers import bfv

        t0 = time.perf_counter()
        key = bfv.keygen()
        kg = time.perf_counter() - t0
        faces = rng.integers(0, 256, (n, 52, 52, 3), dtype=np.uint8)
        cts = []
        enc = best_time(lambda: cts.append(bfv.encrypt(faces, key)))
        dec = best_time(lambda: bfv.decrypt(cts[0], key))
        print(
            f"keygen {kg * 1e3:.0f} ms; encrypt {enc / n * 1e3:.2f} ms/image, decrypt {dec / n * 1e3:.2f} ms/image, "
            f"{len(cts[0][0])} bytes/image ({len(cts[0][0]) / faces[0].nbytes:.0f}x the 8112-byte image)"
        )
    except Exception as e:
        print(f"skipped: {e}")

    print("\n## matchers (pairs/s)")
    side = 512
    m = 16 if a.quick else 64
    key = catmap.keygen((side, side), tile=32, seed=2)
    o = rng.integers(0, 256, (m, side, side, 3), dtype=np.uint8)
    o = np.repeat(np.repeat(o[:, ::8, ::8], 8, 1), 8, 2)  # blocky, photograph-like repeated values
    e = catmap.encrypt(o, key)
    ms = attacks.MultisetMatcher(32).fit(o, e)
    t = best_time(lambda: ms.predict(o, e), 2)
    print(f"key-free multiset matcher (512x512, 32x32 tiles): {m / t:.1f} pairs/s")
    t0 = time.perf_counter()
    inv = attacks.InversionMatcher(32).fit(o[:8], e[:8])
    fit = time.perf_counter() - t0
    t = best_time(lambda: inv.predict(o, e), 2)
    print(
        f"known-plaintext inversion matcher (512x512): key recovery from 8 pairs {fit:.2f} s "
        f"(correct: {inv.matrix == key.matrix}); {m / t:.1f} pairs/s"
    )

    k = 32 if a.quick else 64
    for arch, size in (("tiny_resnet", 64), ("efficientnet_b0", 128)):
        oo = rng.integers(0, 256, (k, size, size, 3), dtype=np.uint8)
        ee = rng.integers(0, 256, (k, size, size, 3), dtype=np.uint8)
        norm = ([0.5] * 6, [0.25] * 6)
        torch.manual_seed(0)
        cross = pair_cnn.pair_cnn(arch)
        sia = pair_cnn.SiameseMatcher(arch, dim=128)
        kk = k if arch.startswith("tiny") else k // 4
        for model, s in ((cross, False), (sia, True)):  # warm-up: first calls build the kernels
            pair_cnn.pair_throughput(model, oo[:4], ee[:4], norm, siamese=s, batch_size=128)
        tc = pair_cnn.pair_throughput(cross, oo[:kk], ee[:kk], norm, batch_size=128)
        ts = max(
            (pair_cnn.pair_throughput(sia, oo, ee, norm, siamese=True, batch_size=128) for _ in range(3)),
            key=lambda r: r["pairs_per_s"],
        )
        print(
            f"{arch} at {size}x{size}: cross-encoder {tc['pairs_per_s']:.0f} pairs/s ({tc['pairs']} pairs), "
            f"Siamese {ts['pairs_per_s']:.0f} pairs/s ({ts['pairs']} pairs, all-against-all), "
            f"ratio {ts['pairs_per_s'] / tc['pairs_per_s']:.0f}x"
        )


if __name__ == "__main__":
    main()
