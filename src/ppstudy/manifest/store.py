"""Reading and writing ``results.json``, the arrays a run saves beside it, and a published run's digest."""

from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ppstudy import InputError, PPStudyError
from ppstudy.project.paths import INDEX, PUBLISHED, check_profile, project_root, published_root

RESULTS_FILE = "results.json"
#: beside a published run's results.json: ``sha256:<hex>``, the digest of :func:`canonical_json` of it
DIGEST_FILE = "results.sha256"


def jsonable(v: Any) -> Any:
    """Convert numpy scalars/arrays, paths and data records to JSON; NaN/inf become None (JSON has no NaN)."""
    if hasattr(v, "to_dict") and callable(v.to_dict) and not isinstance(v, type):
        return jsonable(v.to_dict())
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist())
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
    write_text_atomic(path, json.dumps(jsonable(data), indent=2, sort_keys=False) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """``text`` into ``path`` through a new temporary file beside it (created exclusively, so never through a
    link someone left there) and a rename (which replaces a link at ``path`` itself, never its target)."""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with open(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load(run_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(run_dir) / RESULTS_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"no {RESULTS_FILE} in {run_dir}: run the chapter first") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path} is corrupt: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("tables", {}), dict):
        raise InputError(f"{path} is not a ppstudy results file")
    return data


class MissingArraysError(InputError):
    """A run lacks one of its array files (a published run leaves out arrays of pixels: see
    :func:`ppstudy.pipeline.publish.publish`)."""


def pixels_only(path: str | os.PathLike) -> bool:
    """Whether every array in the ``.npz`` file is ``uint8`` of two or more dimensions: images, which a
    published run keeps as its figure's JPEG rather than as arrays."""
    with np.load(path, allow_pickle=False) as z:
        return bool(z.files) and all(z[k].dtype == np.uint8 and z[k].ndim >= 2 for k in z.files)


def load_arrays(run_dir: str | os.PathLike, name: str) -> dict[str, np.ndarray]:
    """The arrays a run saved with :meth:`Run.arrays` (``run_dir/<name>.npz``), read into memory."""
    import zipfile

    path = Path(run_dir) / f"{name}.npz"
    if not path.is_file():
        raise MissingArraysError(f"no {path.name} in {run_dir}: run the chapter first")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise InputError(f"{path} is unreadable ({type(e).__name__}: {e}); rerun the chapter") from None


def canonical_json(data: Any) -> bytes:
    """The manifest as canonical JSON (keys sorted, no whitespace, UTF-8): what its digest is of, so that
    re-indenting the file or another line ending does not change it, and any changed value does."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def digest(data: Any) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(canonical_json(data)).hexdigest()


def write_digest(run_dir: str | os.PathLike) -> str:
    """Record the digest of ``run_dir/results.json`` in ``run_dir/results.sha256``; return it."""
    d = digest(load(run_dir))
    write_text_atomic(Path(run_dir) / DIGEST_FILE, d + "\n")
    return d


def verify_digest(run_dir: str | os.PathLike) -> bool:
    """Whether ``run_dir/results.json`` has a recorded digest (runs published before digests have none: they
    pass). A recorded digest that does not match the file is an InputError naming it."""
    path = Path(run_dir) / DIGEST_FILE
    if not path.is_file():
        return False
    try:
        want = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path} is unreadable: {e}") from None
    got = digest(load(run_dir))
    if got != want:
        raise InputError(
            f"{Path(run_dir) / RESULTS_FILE} does not match its digest in {path} (recorded {want[:19]}..., "
            f"file {got[:19]}...): the published run was changed or damaged since it was published; "
            "restore it (git checkout) or publish it again"
        )
    return True


# ---------------------------------------------------------------- the published runs (results/)
def published_index(root: Path | None = None) -> dict[str, Any]:
    """``results/index.json``: each chapter's published profiles and its main one ({} when none)."""
    path = published_root(root) / INDEX
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError as e:
        raise InputError(f"{path} is corrupt: {e}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a mapping of chapters to published runs")
    return data


def published_run(chapter: str, root: Path | None = None, profile: str | None = None) -> Path:
    """The directory of a chapter's published run (its main one unless ``profile`` is given)."""
    root = root or project_root()
    index = published_index(root)
    entry = index.get(chapter)
    if not entry:
        raise PPStudyError(
            f"chapter {chapter} has no published run: run it with a real-data profile and "
            f"`ppstudy publish {chapter} --profile P` (or build with --profile smoke)"
        )
    prof = profile or entry["main"]
    d = published_root(root) / chapter / check_profile(prof)
    if not (d / RESULTS_FILE).is_file():
        raise PPStudyError(f"{d} is listed in {PUBLISHED}/{INDEX} but holds no {RESULTS_FILE}")
    verify_digest(d)
    return d
