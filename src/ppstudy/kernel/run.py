"""The chapter contract, kernel side: one :class:`Run` records what a chapter run measured, checked and drew.

A chapter starts one :class:`Run` from its parameters (:meth:`Run.start` reads them from the notebook's
namespace, so they are never retyped), names its data (:meth:`Run.use_data`), times its stages, records
tables of ``paper`` vs ``measured`` values (:meth:`Run.table`), scalar findings (:meth:`Run.value`),
claims as named checks (:meth:`Run.check`), arrays (:meth:`Run.arrays`) and registered figures
(:meth:`Run.draw`), and saves ``results.json`` beside its figures. The book shows tables rendered by one
formatter (:func:`ppstudy.render.render_table`) and figures and numbers glued into the text (myst-nb
``glue``).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ppstudy import InputError
from ppstudy.manifest.environment import device_info, git_commit, invocation, package_versions
from ppstudy.manifest.status import EVIDENCE_FLAG, REFERENCES_FLAG, check_status
from ppstudy.manifest.store import RESULTS_FILE, jsonable, write_json_atomic
from ppstudy.project import chapters as _chapters
from ppstudy.project.notebook import chapter_figure_labels, exercise_starters, parameters_cell, read_notebook
from ppstudy.render import Summary, Table, format_value, measured_label, table_frame, table_label


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
            "data": jsonable(data),
            "params": jsonable(dict(params)),
            "invocation": invocation(),
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
        ch = _chapters.CHAPTERS.get(chapter)
        if ch is not None and ch.evidence:  # every check records its evidence (the book check holds it to that)
            self.manifest[EVIDENCE_FLAG] = True
        if ch is not None and ch.references:  # the text refers to every table and figure (the book check holds it)
            self.manifest[REFERENCES_FLAG] = True
        self._figure_labels: dict[str, str] | None = None

    @classmethod
    def start(cls, chapter: str, namespace: Mapping[str, Any], *, data: Any = "") -> Run:
        """A run whose parameters are the values in ``namespace`` (the notebook's ``globals()``) of every
        name in the chapter's parameters cell; ``profile`` and ``run_dir`` come from there too."""
        names = _parameter_names(_chapters.get(chapter), namespace)
        missing = [n for n in ("profile", "run_dir") if n not in namespace]
        if missing:
            raise InputError(f"Run.start: the namespace lacks {', '.join(missing)} (run the parameters cell first)")
        params = {n: namespace[n] for n in names if n not in ("profile", "run_dir") and n in namespace}
        return cls(chapter, str(namespace["profile"]), params, namespace["run_dir"], data=data)

    # ------------------------------------------------------------------ data and stages
    def use_data(self, source: Any) -> Any:
        """Record the data the run uses (a :class:`ppstudy.data.source.DataSource`); returns it."""
        self.manifest["data"] = jsonable(source)
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
            "rows": [jsonable({c: r.get(c) for c in cols}) for r in rows],
        }
        if show:
            self._show_table(name)

    def _show_table(self, name: str) -> None:
        """Number the table, glue its number (``tab:<name>``) and display it."""
        self._tables_shown += 1
        self.manifest["tables"][name]["number"] = self._tables_shown
        _glue(f"tab:{name}", table_label(self.manifest, name))
        _display(Table(self.manifest, name, self.figure_labels))

    @property
    def figure_labels(self) -> dict[str, str]:
        """The Sphinx label of each figure the chapter's notebook shows (``{glue:figure}`` with ``:name:``)."""
        if self._figure_labels is None:
            ch = _chapters.CHAPTERS.get(self.manifest["chapter"])
            self._figure_labels = chapter_figure_labels(ch) if ch is not None else {}
        return self._figure_labels

    def value(self, name: str, value: Any, fmt: str | None = None) -> None:
        """Record a scalar (or small list/dict) finding; with ``fmt`` also glue it, formatted, for the
        prose (``{glue:text}`name```)."""
        self.manifest["values"][name] = jsonable(value)
        if fmt is not None:
            _glue(name, format_value(value, fmt))

    def exercise_outputs(self, *, root: Path | None = None, timeout_s: float = 600.0) -> dict[str, str]:
        """Run each exercise's starter as the page prints it (a fresh Python process in an empty folder, as a
        student would) and record what it prints, on one line, as the value ``<label>_out`` (dashes made
        underscores), glued for the solutions: the output a student should expect, not typed. Returns
        label -> output; a starter that fails raises, naming the exercise."""
        import subprocess
        import sys
        import tempfile

        out = {}
        for label, code in exercise_starters(_chapters.get(self.manifest["chapter"]), root).items():
            with tempfile.TemporaryDirectory(prefix="ppstudy-exercise-") as tmp:
                r = subprocess.run(
                    [sys.executable, "-c", code], cwd=tmp, capture_output=True, text=True, timeout=timeout_s
                )
            if r.returncode != 0:
                tail = (r.stderr.strip().splitlines() or ["no message"])[-1]
                raise InputError(f"exercise {label}: its starter failed: {tail}")
            text = " / ".join(line.strip() for line in r.stdout.strip().splitlines() if line.strip())
            out[label] = text
            self.value(label.replace("-", "_") + "_out", text, "s")
        return out

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
        cannot settle it. ``evidence``: the numbers the check compared (intervals where there are), and
        under ``"shown_in"`` the names of the run's tables and figures that show them (the verdict table
        links to them); a chapter whose registry entry says it records evidence
        (:attr:`ppstudy.project.chapters.Chapter.evidence`) must give it for every check (the book check
        refuses a check without). The status shown in the book follows from these and from the data
        (:func:`ppstudy.manifest.status.check_status`).
        """
        _check_name("check", name)
        if kind not in ("exact", "paper", "claim"):
            raise InputError(f"check {name!r}: kind must be 'exact', 'paper' or 'claim', got {kind!r}")
        rec = {
            "claim": claim,
            "passed": bool(passed),
            "kind": kind,
            "paper": jsonable(paper),
            "measured": jsonable(measured),
            "evidence": jsonable(evidence),
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

        study = importlib.import_module(_chapters.get(self.manifest["chapter"]).study)
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
        """The chapter's verdict table, from its checks: check | claim | paper | this run | data | evidence |
        shown in | status (:func:`ppstudy.render.render_verdicts`), with the legend of every status."""
        d = self.manifest.get("data")
        dataset = "smoke data" if self.smoke else (d.get("dataset", "") if isinstance(d, dict) else str(d or ""))
        rows = [
            {
                "check": cid,
                "claim": c["claim"],
                "paper: value": c["paper"],
                "measured: value": c["measured"],
                "data": "—" if c["kind"] == "exact" else dataset,
                "status": c["status"],
            }
            for cid, c in self.manifest["checks"].items()
        ]
        if not rows:
            raise InputError("verdicts: this run recorded no checks")
        self.table("verdicts", rows, caption=caption, show=False)
        self.manifest["tables"]["verdicts"]["verdicts"] = True  # rendered from the checks
        self._show_table("verdicts")

    def reused_compute(self, seconds: float, what: str) -> None:
        """Record ``seconds`` of work this invocation did not do but its numbers need (training epochs resumed
        from checkpoints, rows reused from a row cache: ``what`` says which): the run's cost from scratch is
        its wall time plus these (``run.compute_s`` in the manifest, shown in the provenance and the intro's
        cost table). Repeated calls with the same ``what`` accumulate."""
        s = float(seconds)
        if not math.isfinite(s) or s < 0:
            raise InputError(f"reused_compute: seconds must be a finite number >= 0, got {seconds!r}")
        reused = self.manifest.setdefault("reused_compute_s", {})
        reused[str(what)] = reused.get(str(what), 0.0) + s

    def summary(self) -> None:
        """Display every check as one sentence with its status and evidence (the chapter's summary list)."""
        _display(Summary(self.manifest))


def _parameter_names(chapter, namespace: Mapping[str, Any]) -> list[str]:
    """Names of the chapter's parameters cell (from its notebook source), or, when the source is not at
    hand (an exported notebook run elsewhere), the literal-valued names of the namespace."""
    try:
        return list(parameters_cell(read_notebook(chapter)))
    except (InputError, OSError, ValueError):
        literal = (int, float, str, bool, list, tuple, dict, type(None))
        skip = {"In", "Out", "exit", "quit", "get_ipython"}
        return [k for k, v in namespace.items() if not k.startswith("_") and k not in skip and isinstance(v, literal)]


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
