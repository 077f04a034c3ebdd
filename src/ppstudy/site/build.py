"""Build the HTML book with Jupyter Book from the staged pages, and check what it built."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from ppstudy import PPStudyError
from ppstudy.manifest.store import RESULTS_FILE
from ppstudy.pipeline.execute import run
from ppstudy.project import chapters as _chapters
from ppstudy.project.paths import build_root, project_root, run_dir, runs_root
from ppstudy.site import check as _check
from ppstudy.site.stage import chapter_sources, stage_book


def build_book(
    profile: str | None = "smoke",
    *,
    root: Path | None = None,
    rerun: bool = True,
    strict: bool = False,
    progress: bool = True,
    check: bool = True,
) -> Path:
    """Build the HTML book: from the published runs (``profile=None``), or executing every chapter in
    ``profile`` first (unless ``rerun`` is false and a run exists). With ``check`` the built pages are
    checked (:func:`ppstudy.site.check.check_book`: every table and figure shown, no tracebacks, warnings,
    reprs or machine paths in outputs) and any problem fails the build."""
    root = root or project_root()
    if profile is not None:
        for name in _chapters.CHAPTERS:
            done = (run_dir(name, profile, root) / RESULTS_FILE).is_file()
            if rerun or not done:
                print(f"ppstudy: running chapter {name} [{profile}]", file=sys.stderr, flush=True)
                run(name, profile, root=root, progress=progress)
    stage = stage_book(profile, root)
    out = build_root(root)
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book")
    if jb is None:
        raise PPStudyError("jupyter-book is not installed in this environment (pip install 'ppstudy[book]')")
    cmd = [jb, "build", str(stage), "--path-output", str(out), "--builder", "html"]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        raise PPStudyError(f"jupyter-book build failed (exit {proc.returncode}); see the log above")
    # a {glue:text} role whose key the run did not glue renders as nothing: never publish such a page
    unglued = [line.strip() for line in (proc.stdout + proc.stderr).splitlines() if "[mystnb.glue]" in line]
    if unglued:
        raise PPStudyError(
            f"{len(unglued)} glue reference(s) without a value in the chapters' runs, e.g. "
            + re.sub(r"\x1b\[[0-9;]*m", "", unglued[0])
        )
    index = out / "_build" / "html" / "index.html"
    if not index.is_file():
        raise PPStudyError(f"jupyter-book finished but {index} does not exist")
    if check:
        sources = chapter_sources(profile, root)
        _check.check_book(
            index.parent,
            sources,
            strict=True,
            machine_paths=[str(root), str(runs_root(root)), str(out), str(Path.home())],
        )
    return index
