"""Run manifest and the chapter contract: what a chapter run measured, checked and drew.

A chapter starts one :class:`Run` from its parameters (:meth:`Run.start` reads them from the notebook's
namespace, so they are never retyped), names its data (:meth:`Run.use_data`), times its stages, records
tables of ``paper`` vs ``measured`` values (:meth:`Run.table`), scalar findings (:meth:`Run.value`),
claims as named checks (:meth:`Run.check`), arrays (:meth:`Run.arrays`) and registered figures
(:meth:`Run.draw`), and saves ``results.json`` beside its figures. The book shows tables rendered by one
formatter (:func:`render_table`) and figures and numbers glued into the text (myst-nb ``glue``).

Table rows are plain dicts. A column named ``paper: Q`` (or ``paper Q``) holds the paper's published value
of quantity ``Q`` (``None`` where the paper gives none); ``measured: Q`` this run's; any other column is a
row label. The formatter groups ``paper`` and ``measured`` columns of one quantity under a two-level header
(``Q`` / ``paper`` | ``this run (profile)``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import platform
import re
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from html import escape
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ppstudy import InputError

RESULTS_FILE = "results.json"
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

#: statuses of the verdict table
STATUSES = ("reproduced", "differs", "exact", "holds", "fails", "smoke only", "needs a GPU run")


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


def device_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
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


def device_label(device: Mapping[str, Any]) -> str:
    """A short human label: the GPU's name, else the CPU cores."""
    if device.get("gpu"):
        return str(device["gpu"])
    return f"CPU, {device.get('cpu_count', '?')} cores"


def _jsonable(v: Any) -> Any:
    """Convert numpy scalars/arrays, paths and data records to JSON; NaN/inf become None (JSON has no NaN)."""
    if hasattr(v, "to_dict") and callable(v.to_dict) and not isinstance(v, type):
        return _jsonable(v.to_dict())
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
    _write_atomic(path, json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n")


def _write_atomic(path: Path, text: str) -> None:
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


def _glue(name: str, obj: Any) -> None:
    """myst-nb's glue inside a notebook kernel; nothing elsewhere (scripts, tests). ``obj`` may be a
    zero-argument callable that makes the object (so that nothing is built outside a kernel)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    if get_ipython() is None:
        return
    from myst_nb import glue

    glue(name, obj() if callable(obj) else obj, display=False)


_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


def _check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(f"{kind} name {name!r}: use lower-case letters, digits, '_' and '-'")
    return name


class Run:
    """One execution of a chapter: parameters, data, timings, tables, checks and figures -> ``results.json``."""

    def __init__(
        self, chapter: str, profile: str, params: dict[str, Any], run_dir: str | os.PathLike, *, data: Any = ""
    ):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.figures_dir = self.run_dir / "figures"
        self._tables_shown = 0
        self.manifest: dict[str, Any] = {
            "chapter": chapter,
            "profile": profile,
            "data": _jsonable(data),
            "params": _jsonable(dict(params)),
            "invocation": _invocation(),
            "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "finished": None,
            "versions": package_versions(),
            "device": device_info(),
            "git": git_commit(),
            "timings_s": {},
            "tables": {},
            "values": {},
            "checks": {},
            "arrays": [],
            "figures": [],
            "figure_captions": {},
        }

    @classmethod
    def start(cls, chapter: str, namespace: Mapping[str, Any], *, data: Any = "") -> Run:
        """A run whose parameters are the values in ``namespace`` (the notebook's ``globals()``) of every
        name in the chapter's parameters cell; ``profile`` and ``run_dir`` come from there too."""
        from ppstudy import chapters

        names = _parameter_names(chapters.get(chapter), namespace)
        missing = [n for n in ("profile", "run_dir") if n not in namespace]
        if missing:
            raise InputError(f"Run.start: the namespace lacks {', '.join(missing)} (run the parameters cell first)")
        params = {n: namespace[n] for n in names if n not in ("profile", "run_dir") and n in namespace}
        return cls(chapter, str(namespace["profile"]), params, namespace["run_dir"], data=data)

    # ------------------------------------------------------------------ data and stages
    def use_data(self, source: Any) -> Any:
        """Record the data the run uses (a :class:`ppstudy.data.source.DataSource`); returns it."""
        self.manifest["data"] = _jsonable(source)
        return source

    @property
    def smoke(self) -> bool:
        """Whether this run's data are stand-in smoke data."""
        d = self.manifest.get("data")
        return bool(d.get("smoke")) if isinstance(d, dict) else self.manifest.get("profile") == "smoke"

    @property
    def data_label(self) -> str:
        d = self.manifest.get("data")
        if isinstance(d, dict):
            return f"{d.get('dataset', '')}: {d.get('description', '')}".strip(": ")
        return str(d or "")

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage of the chapter (wall clock); repeated names accumulate."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            dt = time.perf_counter() - t0
            self.manifest["timings_s"][name] = self.manifest["timings_s"].get(name, 0.0) + dt

    # ------------------------------------------------------------------ recording
    def table(
        self,
        name: str,
        rows: list[dict[str, Any]],
        *,
        caption: str,
        columns: list[str] | None = None,
        formats: Mapping[str, str] | None = None,
        exact: bool = False,
        show: bool = True,
    ) -> None:
        """Record a table (list of row dicts) and, with ``show``, display it in the notebook where it is
        recorded (rendered by :func:`render_table`; nothing is displayed outside a kernel).

        ``formats`` maps a column (or quantity) to a format spec (``".2f"``); ``exact=True`` marks a table
        that involves no data (key spaces, periods): it is labelled exact, never "smoke".
        """
        _check_name("table", name)
        if not rows:
            raise InputError(f"table {name!r} has no rows")
        if not isinstance(caption, str) or not caption.strip():
            raise InputError(f"table {name!r} needs a caption")
        cols = list(columns) if columns else list(dict.fromkeys(k for r in rows for k in r))
        self.manifest["tables"][name] = {
            "caption": caption,
            "columns": cols,
            "formats": dict(formats or {}),
            "exact": bool(exact),
            "rows": [_jsonable({c: r.get(c) for c in cols}) for r in rows],
        }
        if show:
            self._tables_shown += 1
            self.manifest["tables"][name]["number"] = self._tables_shown
            _glue(f"tab:{name}", f"Table {self._tables_shown}")
            _display(Table(self.manifest, name))

    def value(self, name: str, value: Any, fmt: str | None = None) -> None:
        """Record a scalar (or small list/dict) finding; with ``fmt`` also glue it, formatted, for the
        prose (``{glue:text}`name```)."""
        self.manifest["values"][name] = _jsonable(value)
        if fmt is not None:
            _glue(name, format_value(value, fmt))

    def check(
        self,
        name: str,
        claim: str,
        passed: bool,
        *,
        kind: str = "claim",
        paper: Any = None,
        measured: Any = None,
        evidence: Any = None,
        needs: str | None = None,
    ) -> None:
        """Record a claim of the chapter as a named check that this run evaluates.

        ``kind``: ``"exact"`` (no data involved: a key space, a period, an identity), ``"paper"`` (this
        run's value against the paper's, ``paper``/``measured``) or ``"claim"`` (a finding of this
        chapter). ``needs``: what a verdict still needs (e.g. ``"a GPU run"``) when this run's scale
        cannot settle it. The status shown in the book follows from these and from the data
        (:func:`check_status`).
        """
        _check_name("check", name)
        if kind not in ("exact", "paper", "claim"):
            raise InputError(f"check {name!r}: kind must be 'exact', 'paper' or 'claim', got {kind!r}")
        rec = {
            "claim": claim,
            "passed": bool(passed),
            "kind": kind,
            "paper": _jsonable(paper),
            "measured": _jsonable(measured),
            "evidence": _jsonable(evidence),
            "needs": needs,
            "data": self.data_label,
            "smoke": self.smoke,
            "profile": self.manifest["profile"],
        }
        rec["status"] = check_status(rec)
        self.manifest["checks"][name] = rec
        # glue:text reads what follows a colon as a format spec: the status is glued as check-<name>
        _glue(f"check-{name}", rec["status"])

    def arrays(self, name: str, **arrays: Any) -> None:
        """Save arrays a figure needs as ``run_dir/<name>.npz`` (compressed) and list the file."""
        _check_name("array file", name)
        path = self.run_dir / f"{name}.npz"
        np.savez_compressed(path, **{k: np.asarray(v) for k, v in arrays.items()})  # type: ignore[arg-type]
        if name not in self.manifest["arrays"]:
            self.manifest["arrays"].append(name)

    def figure(self, fig, name: str, *, caption: str = "", photo: bool = False) -> None:
        """Save a matplotlib figure (PNG + SVG, plus JPEG when ``photo``) under ``figures/``, list it in the
        manifest and glue it for ``{glue:figure}`` (no output in the cell); the figure is closed."""
        import matplotlib.pyplot as plt

        from ppstudy.plots import check_readable, save_figure

        _check_name("figure", name)
        check_readable(fig, name)
        paths = save_figure(fig, self.figures_dir, name, photo=photo)
        if name not in self.manifest["figures"]:
            self.manifest["figures"].append(name)
        if caption:
            self.manifest["figure_captions"][name] = caption
        shown = paths["jpg" if photo else "png"]
        _glue(name, lambda: _display_image(shown))
        plt.close(fig)

    def draw(self, name: str, *, caption: str = "", photo: bool = False) -> None:
        """Draw the registered figure ``name`` of the chapter's study module (``FIGURES[name](manifest,
        run_dir)``) from what the run recorded, and save it as :meth:`figure` does."""
        import importlib

        from ppstudy import chapters

        study = importlib.import_module(chapters.get(self.manifest["chapter"]).study)
        figures = getattr(study, "FIGURES", {})
        if name not in figures:
            raise InputError(
                f"chapter {self.manifest['chapter']}: no registered figure {name!r} (figures: {', '.join(figures)})"
            )
        self.figure(figures[name](self.manifest, self.run_dir), name, caption=caption, photo=photo)

    def save(self) -> None:
        """Write ``results.json`` (atomically) into the run directory."""
        self.manifest["finished"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        write_json_atomic(self.run_dir / RESULTS_FILE, self.manifest)

    # ------------------------------------------------------------------ display
    def frame(self, name: str):
        return table_frame(self.manifest, name)

    @property
    def measured_label(self) -> str:
        return measured_label(self.manifest)

    def verdicts(self, *, caption: str = "What this run says about the paper's claims") -> None:
        """The chapter's verdict table, from its checks: claim | paper | this run | data | status."""
        d = self.manifest.get("data")
        dataset = "smoke data" if self.smoke else (d.get("dataset", "") if isinstance(d, dict) else str(d or ""))
        rows = [
            {
                "claim": c["claim"],
                "paper: value": c["paper"],
                "measured: value": c["measured"],
                "data": "—" if c["kind"] == "exact" else dataset,
                "status": c["status"],
            }
            for c in self.manifest["checks"].values()
        ]
        if not rows:
            raise InputError("verdicts: this run recorded no checks")
        self.table("verdicts", rows, caption=caption)

    def summary(self) -> None:
        """Display every check as one sentence with its status and evidence (the chapter's summary list)."""
        _display(Summary(self.manifest))


def _invocation() -> dict[str, Any]:
    raw = os.environ.get(INVOCATION_ENV)
    if not raw:
        return {"runner": None}
    try:
        return json.loads(raw)
    except ValueError:
        return {"runner": None}


def _parameter_names(chapter, namespace: Mapping[str, Any]) -> list[str]:
    """Names of the chapter's parameters cell (from its notebook source), or, when the source is not at
    hand (an exported notebook run elsewhere), the literal-valued names of the namespace."""
    from ppstudy.params import parameters_cell

    try:
        import jupytext

        return list(parameters_cell(jupytext.read(chapter.notebook())))
    except (InputError, OSError, ValueError):
        literal = (int, float, str, bool, list, tuple, dict, type(None))
        skip = {"In", "Out", "exit", "quit", "get_ipython"}
        return [k for k, v in namespace.items() if not k.startswith("_") and k not in skip and isinstance(v, literal)]


def check_status(rec: Mapping[str, Any]) -> str:
    """The verdict of a check: exact results are ``exact`` (or ``fails``); a comparison with the paper is
    ``reproduced`` / ``differs``; a finding ``holds`` / ``fails``; but a result on smoke data is ``smoke
    only`` and one that needs a larger run says so (``needs a GPU run``)."""
    if rec["kind"] == "exact":
        return "exact" if rec["passed"] else "fails"
    if rec.get("smoke"):
        return "smoke only"
    if rec.get("needs"):
        return f"needs {rec['needs']}" if not str(rec["needs"]).startswith("needs") else str(rec["needs"])
    if rec["kind"] == "paper":
        return "reproduced" if rec["passed"] else "differs"
    return "holds" if rec["passed"] else "fails"


def measured_label(manifest: Mapping[str, Any]) -> str:
    """Header of measured columns, e.g. ``this run (smoke)``."""
    return f"this run ({manifest.get('profile', '?')})"


class MissingArraysError(InputError):
    """A run lacks one of its array files (a published run leaves out arrays of pixels: see
    :func:`ppstudy.runner.publish`)."""


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


# ---------------------------------------------------------------------- integrity of a published run
#: beside a published run's results.json: ``sha256:<hex>``, the digest of :func:`canonical_json` of it
DIGEST_FILE = "results.sha256"


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
    _write_atomic(Path(run_dir) / DIGEST_FILE, d + "\n")
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


# ---------------------------------------------------------------------- formatting
def format_value(v: Any, fmt: str | None = None) -> str:
    """One cell: ``—`` for missing, ``yes``/``no`` for booleans, ``fmt`` when given, else :func:`auto_format`."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (list, tuple)):
        return ", ".join(format_value(x, fmt) for x in v)
    if isinstance(v, (int, float, np.integer, np.floating)) and fmt:
        if fmt == "%":
            return f"{100 * float(v):.1f}%"
        return format(v, fmt)
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        return auto_format([float(v)])(float(v))
    return str(v)


def auto_format(values: list[Any], *, paper: bool = False):
    """A formatter for a column of numbers with the precision its values justify.

    Integers get thousands separators; the paper's numbers are shown as printed (shortest form); measured
    floats get 1-2 decimals above 10, 3 above 1, 4 below 1, and 3 significant digits below 0.001.
    """
    nums = [
        float(v)
        for v in values
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(float(v))
    ]
    if (
        nums
        and all(float(v).is_integer() and abs(v) < 1e15 for v in nums)
        and all(isinstance(v, (int, np.integer)) for v in values if v is not None and not isinstance(v, bool))
    ):
        return lambda v: f"{int(v):,}"
    if paper:
        return lambda v: f"{float(v):.6g}"
    big = max((abs(v) for v in nums), default=0.0)
    small = min((abs(v) for v in nums if v != 0), default=1.0)
    if big >= 1000:
        return lambda v: f"{float(v):,.0f}"
    if big >= 10:
        return lambda v: f"{float(v):.2f}"
    if big >= 1:
        return lambda v: f"{float(v):.3f}"
    if small >= 1e-3:
        return lambda v: "0" if v == 0 else f"{float(v):.4f}"
    return lambda v: "0" if v == 0 else f"{float(v):.3g}"


def _split_column(col: str) -> tuple[str, str]:
    """``("paper" | "measured" | "", quantity)`` of a column name."""
    for kind in ("paper", "measured"):
        if col == kind:
            return kind, ""
        if col.startswith(kind) and col[len(kind)] in " _:":
            return kind, col[len(kind) :].strip(" _:").replace("_", " ")
    return "", col.replace("_", " ") if "_" in col and " " not in col else col


def _cell_formatter(table: Mapping[str, Any], col: str):
    kind, q = _split_column(col)
    fmts = table.get("formats") or {}
    fmt = fmts.get(col) or fmts.get(q)
    values = [r.get(col) for r in table["rows"]]
    if fmt:
        return lambda v: format_value(v, fmt)
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not nums:
        return format_value
    auto = auto_format(values, paper=(kind == "paper"))

    def f(v):
        if v is None or isinstance(v, (bool, str, list, tuple)) or (isinstance(v, float) and not math.isfinite(v)):
            return format_value(v)
        return auto(v)

    return f


def render_table(manifest: Mapping[str, Any], name: str) -> str:
    """The recorded table as HTML: no index, two-level headers (quantity / paper | this run), per-column
    precision, ``—`` for missing values, the caption above, a smoke or exact note below."""
    try:
        t = manifest["tables"][name]
    except KeyError:
        raise InputError(f"no table {name!r} in the results of {manifest.get('chapter')!r}") from None
    cols = t["columns"]
    parts = [_split_column(c) for c in cols]
    label = measured_label(manifest)
    groups: list[tuple[str, list[int]]] = []  # (top header, column indices)
    for i, (kind, q) in enumerate(parts):
        if (
            kind
            and groups
            and groups[-1][0] == q
            and parts[groups[-1][1][-1]][0] in ("paper", "measured")
            and kind not in {parts[j][0] for j in groups[-1][1]}
        ):
            groups[-1][1].append(i)
        else:
            groups.append((q if kind else cols[i], [i]))
    top, sub = [], []
    two_level = any(k == "paper" for k, _ in parts)  # measured-only tables need no "this run" row
    for head, idx in groups:
        kinds = [parts[i][0] for i in idx]
        if kinds == [""] or not two_level:
            span = ' rowspan="2"' if two_level else ""
            top.append(f"<th{span}>{escape(str(head))}</th>")
            continue
        top.append(f'<th colspan="{len(idx)}">{escape(head) if head else ""}</th>')
        for k in kinds:
            # "this run (quick)" on two lines: a column no wider than its numbers
            sub.append(f"<th>{'paper' if k == 'paper' else escape(label).replace(' (', '<br>(', 1)}</th>")
    fmts = [_cell_formatter(t, c) for c in cols]
    body = []
    for r in t["rows"]:
        cells = []
        for c, f in zip(cols, fmts):
            v = r.get(c)
            cls = ' class="num"' if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
            cells.append(f"<td{cls}>{escape(f(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    number = t.get("number")
    cap = (f"Table {number}. " if number else "") + t["caption"]
    head = "<tr>" + "".join(top) + "</tr>" + ("<tr>" + "".join(sub) + "</tr>" if sub else "")
    notes = []
    d = manifest.get("data")
    smoke = bool(d.get("smoke")) if isinstance(d, dict) else manifest.get("profile") == "smoke"
    if t.get("exact"):
        notes.append('<p class="ppstudy-note">Exact: computed without data; the same in every profile.</p>')
    elif smoke:
        notes.append(
            '<div class="admonition warning"><p class="admonition-title">Smoke run</p><p>These numbers '
            "come from stand-in data (the smoke profile): they show that the pipeline runs, not "
            "what the paper measured.</p></div>"
        )
    data = "" if t.get("exact") else _data_line(manifest)
    # the caption above the scrolling part (so that it wraps in the text column however wide the table);
    # tables of many columns in a smaller font
    ident = f"ppstudy-table-{escape(name)}"
    wide = " ppstudy-wide" if len(cols) >= 8 else ""
    return (
        f'<div class="ppstudy-table{wide}"><p class="ppstudy-caption" id="{ident}">{escape(cap)}</p>'
        f'<div class="ppstudy-scroll" style="overflow-x: auto; max-width: 100%;">'
        f'<table class="table" aria-labelledby="{ident}">'
        f"<thead>{head}</thead><tbody>{''.join(body)}</tbody></table></div>{data}{''.join(notes)}</div>"
    )


def _data_line(manifest: Mapping[str, Any]) -> str:
    d = manifest.get("data")
    if isinstance(d, dict):
        text = f"{d.get('dataset', '')}: {d.get('description', '')}".strip(": ")
    else:
        text = str(d or "")
    if not text:
        return ""
    return f'<p class="ppstudy-data"><small>{escape(measured_label(manifest))}: {escape(text)}</small></p>'


class Table:
    """A recorded table, shown in a notebook through :func:`render_table` (and as text outside one)."""

    def __init__(self, manifest: Mapping[str, Any], name: str):
        self._manifest, self.name = manifest, name

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self._manifest["tables"][self.name]["rows"]

    def _repr_html_(self) -> str:
        return render_table(self._manifest, self.name)

    def __repr__(self) -> str:
        t = self._manifest["tables"][self.name]
        return f"<table {self.name!r}: {t['caption']} ({len(t['rows'])} rows)>"

    def frame(self):
        return table_frame(self._manifest, self.name)


class Summary:
    """The checks of a run as a list of sentences with their status (the chapter's summary)."""

    def __init__(self, manifest: Mapping[str, Any]):
        self._manifest = manifest

    def _repr_html_(self) -> str:
        items = []
        for c in self._manifest["checks"].values():
            ev = c.get("evidence")
            ev_txt = (
                ""
                if ev is None
                else f" <small>({escape(format_value(ev) if not isinstance(ev, dict) else '; '.join(f'{k}: {format_value(v)}' for k, v in ev.items()))})</small>"
            )
            items.append(f"<li><strong>[{escape(c['status'])}]</strong> {escape(c['claim'])}{ev_txt}</li>")
        return '<ul class="ppstudy-summary">' + "".join(items) + "</ul>"

    def __repr__(self) -> str:
        return "\n".join(f"[{c['status']}] {c['claim']}" for c in self._manifest["checks"].values())


def table_frame(manifest: Mapping[str, Any], name: str):
    """A recorded table as a pandas DataFrame (for analysis; the book shows :func:`render_table`)."""
    import pandas as pd

    try:
        t = manifest["tables"][name]
    except KeyError:
        raise InputError(f"no table {name!r} in the results of {manifest.get('chapter')!r}") from None
    df = pd.DataFrame(t["rows"], columns=t["columns"])
    label = measured_label(manifest)
    ren = {}
    for c in df.columns:
        kind, q = _split_column(c)
        if kind:
            ren[c] = ("paper" if kind == "paper" else label) + (f": {q}" if q else "")
    df = df.rename(columns=ren)
    df.attrs["caption"] = t.get("caption", "")
    return df


def _display(obj: Any) -> None:
    """Show ``obj`` in a notebook kernel; nothing elsewhere."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is not None:
        display(obj)


def _display_image(path: Path):
    from IPython.display import Image

    return Image(filename=str(path))
