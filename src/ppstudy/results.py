"""Run manifest: what a chapter run measured, with everything needed to reproduce it.

A chapter creates one :class:`Run`, times its stages, records tables of ``paper`` vs ``measured``
values and scalar findings, and saves ``results.json`` beside its figures. The book's tables are
rendered from that file (:func:`table_frame`), never typed in by hand.

Table rows are plain dicts. Columns whose name starts with ``paper`` hold the paper's published
values (``None`` where the paper gives none); every other column is a key or a measured value.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import subprocess
import time
from contextlib import contextmanager
from html import escape
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from ppstudy import InputError

RESULTS_FILE = "results.json"

#: distributions whose versions every manifest records
TRACKED_PACKAGES = (
    "ppstudy", "numpy", "scipy", "scikit-learn", "scikit-image", "torch", "torchvision", "timm",
    "albumentations", "pyope", "vtracer", "resvg-py", "Pyfhel", "papermill", "jupyter-book",
)


def package_versions(names=TRACKED_PACKAGES) -> dict[str, str | None]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(path: Path | None = None) -> dict[str, Any]:
    """The commit of the checkout holding ``path`` (default: this package), and whether it is dirty."""
    cwd = Path(path) if path else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
        return {"commit": sha, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def device_info() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version(),
                            "processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count()}
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.is_available()
        if info["cuda"]:
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:  # pragma: no cover - torch is a hard dependency
        info["cuda"] = False
    return info


def _jsonable(v: Any) -> Any:
    """Convert numpy scalars/arrays and paths to JSON; NaN/inf become None (JSON has no NaN)."""
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, Path):
        return str(v)
    return v


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON through a temporary file and a rename, so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


class Run:
    """One execution of a chapter: parameters, timings, tables and findings, saved as ``results.json``."""

    def __init__(self, chapter: str, profile: str, params: dict[str, Any], run_dir: str | os.PathLike,
                 *, data: str = ""):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.figures_dir = self.run_dir / "figures"
        self.manifest: dict[str, Any] = {
            "chapter": chapter,
            "profile": profile,
            "data": data,
            "params": dict(params),
            "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "finished": None,
            "versions": package_versions(),
            "device": device_info(),
            "git": git_commit(),
            "timings_s": {},
            "tables": {},
            "values": {},
            "figures": [],
        }

    # ------------------------------------------------------------------ recording
    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage of the chapter (wall clock); repeated names accumulate."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            dt = time.perf_counter() - t0
            self.manifest["timings_s"][name] = self.manifest["timings_s"].get(name, 0.0) + dt

    def table(self, name: str, rows: list[dict[str, Any]], *, caption: str = "",
              columns: list[str] | None = None) -> "Any":
        """Record a table (list of row dicts) and return it as a DataFrame for display."""
        if not rows:
            raise InputError(f"table {name!r} has no rows")
        cols = list(columns) if columns else list(dict.fromkeys(k for r in rows for k in r))
        self.manifest["tables"][name] = {"caption": caption, "columns": cols,
                                         "rows": [_jsonable({c: r.get(c) for c in cols}) for r in rows]}
        return table_frame(self.manifest, name)

    def value(self, name: str, value: Any) -> Any:
        """Record a scalar (or small list/dict) finding, e.g. a maximum absolute difference."""
        self.manifest["values"][name] = _jsonable(value)
        return value

    def figure(self, fig, name: str) -> dict[str, Path]:
        """Save a matplotlib figure as PNG + SVG under ``figures/`` and list it in the manifest."""
        from ppstudy.plots import save_figure

        paths = save_figure(fig, self.figures_dir, name)
        if name not in self.manifest["figures"]:
            self.manifest["figures"].append(name)
        return paths

    def save(self) -> Path:
        self.manifest["finished"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        path = self.run_dir / RESULTS_FILE
        write_json_atomic(path, self.manifest)
        return path

    # ------------------------------------------------------------------ display
    def frame(self, name: str):
        return table_frame(self.manifest, name)

    @property
    def measured_label(self) -> str:
        return measured_label(self.manifest)


def measured_label(manifest: dict[str, Any]) -> str:
    """Header of measured columns, e.g. ``this run (smoke)``; the data used is in the caption."""
    return f"this run ({manifest.get('profile', '?')})"


def load(run_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(run_dir) / RESULTS_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"no {RESULTS_FILE} in {run_dir}: run the chapter first") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path} is corrupt: {e}") from None


class ResultTable(pd.DataFrame):
    """A DataFrame whose HTML shows its caption (``attrs["caption"]``) above the table."""

    @property
    def _constructor(self):
        return ResultTable

    def _repr_html_(self):
        html = super()._repr_html_()
        cap = self.attrs.get("caption")
        return f'<p class="ppstudy-caption"><strong>{escape(cap)}</strong></p>\n{html}' if cap else html


def table_frame(manifest: dict[str, Any], name: str):
    """A recorded table as a pandas DataFrame; the paper's columns are labelled as the paper's.

    In a notebook the table shows its caption (with the data the run used) above it.
    """


    try:
        t = manifest["tables"][name]
    except KeyError:
        raise InputError(f"no table {name!r} in the results of {manifest.get('chapter')!r}") from None
    df = ResultTable(t["rows"], columns=t["columns"])
    label = measured_label(manifest)
    ren = {}
    for c in df.columns:
        if c.startswith("paper"):
            ren[c] = "paper" + (f": {c[5:].strip(' _:')}" if c[5:].strip(" _:") else "")
        elif c.startswith("measured"):
            ren[c] = label + (f": {c[8:].strip(' _:')}" if c[8:].strip(" _:") else "")
    df = df.rename(columns=ren)
    data = manifest.get("data") or ""
    df.attrs["caption"] = t.get("caption", "") + (f" [{label}: {data}]" if data else "")
    return df
