"""What a run records about where it ran: package versions, the git commit, the device, the invocation."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

#: the run's invocation (profile, overrides, command) as the runner passes it to the kernel
INVOCATION_ENV = "PPSTUDY_INVOCATION"

#: distributions whose versions every manifest records
TRACKED_PACKAGES = (
    "ppstudy",
    "numpy",
    "scipy",
    "scikit-learn",
    "scikit-image",
    "torch",
    "torchvision",
    "timm",
    "albumentations",
    "pyope",
    "vtracer",
    "resvg-py",
    "Pyfhel",
    "papermill",
    "jupyter-book",
)


def package_versions(names=TRACKED_PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(path: Path | None = None) -> dict[str, Any]:
    """The commit of the checkout holding ``path`` (default: this package), and whether it is dirty.

    The tracked published runs under ``results/`` do not count: they are what runs write, not the code
    that computes them (publishing one chapter must not mark the next chapter's run as dirty)."""
    cwd = Path(path) if path else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top,exclude)results"],
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
        )
        return {"commit": sha, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        # a copy without .git (the device machine): the commit stamped by whoever copied it
        env = os.environ.get("PPSTUDY_GIT_COMMIT")
        if env:
            return {"commit": env, "dirty": os.environ.get("PPSTUDY_GIT_DIRTY", "0") == "1"}
        return {"commit": None, "dirty": None}


def cpu_model(cpuinfo: str | None = None) -> str | None:
    """The CPU's model name (``/proc/cpuinfo``'s first ``model name``; machines differ from session to
    session), or None where it is not known."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return None
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "model name" and value.strip():
            return value.strip()
    return None


def device_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
    }
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.is_available()
        if info["cuda"]:
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:  # torch is an optional extra
        info["cuda"] = False
    return info


def invocation() -> dict[str, Any]:
    """The runner's invocation of this kernel (``$PPSTUDY_INVOCATION``); ``{"runner": None}`` without one."""
    raw = os.environ.get(INVOCATION_ENV)
    if not raw:
        return {"runner": None}
    try:
        return json.loads(raw)
    except ValueError:
        return {"runner": None}
