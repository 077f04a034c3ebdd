"""Execute chapters with papermill and build the book from the executed notebooks.

``run("etc", "smoke")`` reads ``book/etc.md`` with jupytext, executes it with papermill into a staging
directory and, only when it succeeds, swaps that directory in as ``runs/etc/smoke/`` (notebook,
``results.json``, ``figures/``). A failed run never overwrites the last good one: its partial notebook is
kept in ``runs/etc/smoke.failed/``. ``build_book`` stages the executed notebooks beside the static pages in
``_build/stage/`` and runs Jupyter Book there with execution off.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from ppstudy import InputError, PPStudyError
from ppstudy import chapters as _chapters
from ppstudy.params import parameters_cell, resolve
from ppstudy.results import RESULTS_FILE, load

KERNEL = "python3"


def runs_root(root: Path | None = None) -> Path:
    env = os.environ.get("PPSTUDY_RUNS")
    return Path(env).expanduser().resolve() if env else (root or _chapters.project_root()) / "runs"


def run_dir(chapter: str, profile: str, root: Path | None = None) -> Path:
    return runs_root(root) / _chapters.get(chapter).name / profile


def read_notebook(chapter: _chapters.Chapter, root: Path | None = None):
    import jupytext

    path = chapter.notebook(root)
    if not path.is_file():
        raise InputError(f"chapter {chapter.name}: {path} does not exist")
    nb = jupytext.read(path)
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    return nb


def export_notebooks(dest: Path, root: Path | None = None, names: list[str] | None = None) -> list[Path]:
    """Write each chapter as a plain ``.ipynb`` (no outputs) for papermill, Colab or Jupyter."""
    import nbformat

    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for name in names or list(_chapters.CHAPTERS):
        ch = _chapters.get(name)
        path = dest / f"{name}.ipynb"
        nbformat.write(read_notebook(ch, root), path)
        out.append(path)
    return out


def _swap_in(staging: Path, final: Path) -> None:
    old = final.with_name(final.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    if old.exists():
        shutil.rmtree(old)


def _fix_injected_paths(nb_path: Path, staging: Path, final: Path, root: Path) -> None:
    """The executed notebook shows the final run directory (relative to the checkout when inside it),
    not the staging directory it ran in."""
    import nbformat

    shown = os.path.relpath(final, root) if final.is_relative_to(root) else str(final)

    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "injected-parameters" in cell.metadata.get("tags", []):
            cell.source = cell.source.replace(str(staging), shown)
    nbformat.write(nb, nb_path)


def run(chapter: str, profile: str = "smoke", overrides: dict[str, Any] | None = None, *,
        root: Path | None = None, progress: bool = True, log_output: bool = False) -> Path:
    """Execute one chapter; return its run directory (``runs/<chapter>/<profile>``)."""
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    root = root or _chapters.project_root()
    ch = _chapters.get(chapter)
    nb = read_notebook(ch, root)
    params = resolve(ch, nb, profile, overrides, root)
    final = run_dir(chapter, profile, root)
    staging = final.with_name(f".{profile}.partial")
    failed = final.with_name(f"{profile}.failed")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    params["run_dir"] = str(staging)
    if "checkpoint_dir" in parameters_cell(nb):
        params["checkpoint_dir"] = str(runs_root(root) / ".checkpoints" / chapter / profile)
    source = staging / f"{chapter}.source.ipynb"
    nbformat.write(nb, source)
    out_nb = staging / f"{chapter}.ipynb"
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(str(source), str(out_nb), parameters=params, kernel_name=KERNEL, cwd=str(root),
                            progress_bar=progress, log_output=log_output, request_save_on_cell_execute=True)
    except PapermillExecutionError as e:
        if failed.exists():
            shutil.rmtree(failed)
        os.replace(staging, failed)
        evalue = str(e.evalue).strip().splitlines()[-1] if str(e.evalue).strip() else ""
        raise PPStudyError(f"chapter {chapter} [{profile}] failed in cell {e.exec_count}: {e.ename}: {evalue} "
                           f"(partial notebook: {failed / out_nb.name}; last good run kept in {final})") from None
    except BaseException:
        if staging.exists():
            if failed.exists():
                shutil.rmtree(failed)
            os.replace(staging, failed)
        raise
    source.unlink()
    if not (staging / RESULTS_FILE).is_file():
        if failed.exists():
            shutil.rmtree(failed)
        os.replace(staging, failed)
        raise PPStudyError(f"chapter {chapter} [{profile}] ran but wrote no {RESULTS_FILE} (see {failed})")
    _fix_injected_paths(out_nb, staging, final, root)
    _swap_in(staging, final)
    # The manifest records where it ran only through the final path.
    (final / "wall_time_s.txt").write_text(f"{time.perf_counter() - t0:.1f}\n")
    return final


def study_module(chapter: str):
    return importlib.import_module(_chapters.get(chapter).study)


def regenerate_figures(chapter: str, profile: str = "smoke", root: Path | None = None) -> list[Path]:
    """Redraw every figure of a finished run from its ``results.json`` (and arrays) without recomputing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ppstudy.plots import apply_style, save_figure

    rd = run_dir(chapter, profile, root)
    manifest = load(rd)
    figures: dict[str, Callable] = getattr(study_module(chapter), "FIGURES", {})
    apply_style()
    out = []
    for name, make in figures.items():
        fig = make(manifest, rd)
        out.extend(save_figure(fig, rd / "figures", name).values())
        plt.close(fig)
    return out


STATIC_PAGES = ("intro.md", "rerun.md", "references.md")


def build_root(root: Path | None = None) -> Path:
    env = os.environ.get("PPSTUDY_BUILD")
    return Path(env).expanduser().resolve() if env else (root or _chapters.project_root()) / "_build"


def stage_book(profile: str = "smoke", root: Path | None = None) -> Path:
    """Copy the book's static pages and the executed chapter notebooks into ``_build/stage``."""
    root = root or _chapters.project_root()
    stage = build_root(root) / "stage"
    if stage.exists():
        shutil.rmtree(stage)
    (stage / "book").mkdir(parents=True)
    for f in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / f, stage / f)
    for item in (root / "book").iterdir():
        if item.name == "params" or (item.suffix == ".md" and item.stem in _chapters.CHAPTERS):
            continue
        if item.is_dir():
            shutil.copytree(item, stage / "book" / item.name)
        else:
            shutil.copy2(item, stage / "book" / item.name)
    for name in _chapters.CHAPTERS:
        executed = run_dir(name, profile, root) / f"{name}.ipynb"
        if not executed.is_file():
            raise PPStudyError(f"chapter {name} has no executed notebook for profile {profile}: "
                               f"run `ppstudy run {name} --profile {profile}` first")
        shutil.copy2(executed, stage / "book" / f"{name}.ipynb")
    return stage


def build_book(profile: str = "smoke", *, root: Path | None = None, rerun: bool = True,
               strict: bool = False, progress: bool = True) -> Path:
    """Execute every chapter (unless ``rerun`` is false and a run exists), stage, and build the HTML book."""
    root = root or _chapters.project_root()
    for name in _chapters.CHAPTERS:
        done = (run_dir(name, profile, root) / RESULTS_FILE).is_file()
        if rerun or not done:
            print(f"ppstudy: running chapter {name} [{profile}]", file=sys.stderr, flush=True)
            run(name, profile, root=root, progress=progress)
    stage = stage_book(profile, root)
    out = build_root(root)
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book")
    if jb is None:
        raise PPStudyError("jupyter-book is not installed in this environment (pip install 'jupyter-book>=1.0.4,<2')")
    cmd = [jb, "build", str(stage), "--path-output", str(out), "--builder", "html"]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    proc = subprocess.run(cmd, cwd=root)
    if proc.returncode != 0:
        raise PPStudyError(f"jupyter-book build failed (exit {proc.returncode}); see the log above")
    index = out / "_build" / "html" / "index.html"
    if not index.is_file():
        raise PPStudyError(f"jupyter-book finished but {index} does not exist")
    return index
