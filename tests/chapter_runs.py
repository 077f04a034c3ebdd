"""Execute each chapter once per test session (smoke profile), shared by pytest-xdist workers via file locks."""

from __future__ import annotations

import os
import time
from pathlib import Path
from unittest import mock

from filelock import FileLock

from ppstudy.pipeline import execute
from ppstudy.project import paths


def shared_dir(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # one directory for all workers of this session
    d = base / "ppstudy-shared"
    d.mkdir(exist_ok=True)
    return d


def ensure_run(name: str, shared: Path, profile: str = "smoke") -> Path:
    """Run chapter ``name`` into ``shared/runs`` unless a worker already did; return its run directory."""
    runs = shared / "runs"
    with FileLock(str(shared / f"{name}.lock")), mock.patch.dict(os.environ, {"PPSTUDY_RUNS": str(runs)}):
        out = paths.run_dir(name, profile)
        if not (out / "results.json").is_file():
            t0 = time.perf_counter()
            out = execute.run(name, profile, progress=False)
            print(f"chapter {name} [{profile}] executed in {time.perf_counter() - t0:.1f} s")
        return out
