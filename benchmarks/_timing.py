"""Timing helper shared by the benchmark scripts (run as `python benchmarks/bench_X.py`)."""

from __future__ import annotations

import time


def best_time(fn, repeat: int = 3) -> float:
    """The fastest of ``repeat`` wall-clock timings of ``fn()``, in seconds (least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best
