"""Execute chapters with papermill, publish finished runs, and build the book from them.

``run("etc", "smoke")`` reads ``book/etc.md`` with jupytext and executes it with papermill into a fresh
staging directory of its own; only when it succeeds is ``runs/etc/smoke`` (a symbolic link to the run's
directory) switched to it, in one atomic rename, so the last good run is never lost or mixed with a failed
or concurrent one. A second run of the same chapter and profile while one is in progress is refused (a
lock per run directory). A failed run keeps its partial notebook in ``runs/etc/smoke.failed/``.

``publish("etc", "paper")`` copies a finished run (notebook, ``results.json``, figures, the arrays its
figures need) into ``results/etc/paper/``, the published runs the book is rendered from. ``build_book()``
stages the published notebooks (or, with a profile, freshly executed ones) beside the static pages in
``_build/stage/``, opens each chapter with its provenance, and runs Jupyter Book there with execution off.
"""

from __future__ import annotations

import ast
import contextlib
import errno
import fcntl
import importlib
import io
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
import tokenize
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ppstudy import InputError, PPStudyError
from ppstudy import chapters as _chapters
from ppstudy.params import parameters_cell, resolve
from ppstudy.results import (
    INVOCATION_ENV,
    RESULTS_FILE,
    MissingArraysError,
    device_label,
    load,
    pixels_only,
    verify_digest,
    write_digest,
    write_json_atomic,
)

KERNEL = "python3"
PROFILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
PUBLISHED = "results"
INDEX = "index.json"
#: largest published run (bytes): a published run keeps what its tables and figures need
PUBLISH_LIMIT = 2_500_000


def check_profile(profile: str) -> str:
    """A profile name is a plain word (letters, digits, '-', '_'): never a path."""
    if not isinstance(profile, str) or not PROFILE_NAME.match(profile):
        raise InputError(f"profile {profile!r}: use lower-case letters, digits, '-' and '_' (e.g. smoke, quick)")
    return profile


def runs_root(root: Path | None = None, *, must_exist: bool = False) -> Path:
    """Where runs live: ``$PPSTUDY_RUNS`` or ``runs/`` of the checkout. ``$PPSTUDY_RUNS`` naming a file (or a
    path below one) is an InputError; with ``must_exist`` (commands that read runs) so is a missing one."""
    env = os.environ.get("PPSTUDY_RUNS")
    if not env:
        return (root or _chapters.project_root()) / "runs"
    p = Path(env).expanduser().resolve()
    for a in (p, *p.parents):
        if a.exists():
            if not a.is_dir():
                what = "is a file" if a == p else f"lies below the file {a}"
                raise InputError(f"PPSTUDY_RUNS={env} {what}: set it to a directory for the runs (or unset it)")
            break
    if must_exist and not p.is_dir():
        raise InputError(f"PPSTUDY_RUNS={env} does not exist: set it to the directory holding the runs (or unset it)")
    return p


def run_dir(chapter: str, profile: str, root: Path | None = None) -> Path:
    return runs_root(root) / _chapters.get(chapter).name / check_profile(profile)


def checkpoints_root(root: Path | None = None) -> Path:
    """Where chapters keep training checkpoints by default (one directory per fingerprint below it)."""
    return runs_root(root) / ".checkpoints"


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

    if dest.exists() and not dest.is_dir():
        raise InputError(f"--out {dest} is a file, not a directory")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create {dest}: {e.strerror}") from None
    out = []
    for name in names or list(_chapters.CHAPTERS):
        ch = _chapters.get(name)
        path = dest / f"{name}.ipynb"
        nbformat.write(read_notebook(ch, root), path)
        out.append(path)
    return out


# ---------------------------------------------------------------------- locking and the atomic switch
@contextmanager
def _locked(path: Path, what: str) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # never through a link: the lock file is truncated below
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise InputError(f"{path} is a symbolic link, not a lock file: remove it") from None
        raise
    with open(fd, "r+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise PPStudyError(f"{what} is already running ({holder}); wait for it to finish") from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _switch(final: Path, target: Path) -> None:
    """Point ``final`` (a symbolic link) at ``target`` in one atomic rename; remove the run it pointed at when
    that is a run of the same store (``target``'s directory). A link to anything else is replaced, never
    followed: what it pointed at is left as it is."""
    store = target.parent
    old: Path | None = None
    if final.is_symlink():
        real = Path(os.path.realpath(final))
        if real.parent == Path(os.path.realpath(store)):
            old = store / real.name
        else:
            print(
                f"ppstudy: {final} pointed at {real}, not at a run in {store}: the link is replaced, "
                f"{real} is left as it is",
                file=sys.stderr,
            )
    elif final.exists():  # a run directory from before links: move it aside into the store first
        old = store / f"legacy-{uuid.uuid4().hex[:8]}"
        os.replace(final, old)
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.link")
    os.symlink(os.path.relpath(target, final.parent), tmp)
    os.replace(tmp, final)  # atomic: readers see the old run or the new one, never neither
    if old is not None and old.name != target.name:
        with contextlib.suppress(OSError):
            _chapters.remove(old, store)


def _keep_failed(staging: Path, failed: Path) -> None:
    _chapters.remove(failed, failed.parent)  # a link there is unlinked, never followed
    if staging.exists():
        os.replace(staging, failed)


_PARTIAL = re.compile(r"^\d{8}T\d{6}-(\d+)-[0-9a-f]+\.partial$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0  # a process of another user holds that id; an impossible id holds nothing
    return True


def _clean_stale(store: Path) -> list[Path]:
    """Remove the staging directories (``{stamp}-{pid}-{hex}.partial``) of runs killed before they could
    tidy up (SIGKILL, power loss): those whose process is gone. Returns what it removed."""
    gone = []
    for p in store.iterdir() if store.is_dir() else ():
        m = _PARTIAL.match(p.name)
        if m and not _alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                _chapters.remove(p, store)
                gone.append(p)
    return gone


# ---------------------------------------------------------------------- executed-notebook tidying
def _tidy_notebook(nb_path: Path, staging: Path, final: Path, root: Path) -> None:
    """The executed notebook shows the final run directory (relative to the checkout), hides papermill's
    injected parameters cell (the parameters are in the chapter's provenance) and folds the parameters
    cell (its defaults stay one click away)."""
    import nbformat

    shown = os.path.relpath(final, root) if final.is_relative_to(root) else final.name
    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        tags = list(cell.metadata.get("tags", []))
        if cell.cell_type != "code":
            continue
        cell.source = cell.source.replace(str(staging), shown)
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
        if "parameters" in tags and "hide-input" not in tags and "remove-cell" not in tags:
            tags.append("hide-input")
        cell.metadata["tags"] = tags
    nbformat.write(nb, nb_path)


# ---------------------------------------------------------------------- progress relay
class _Relay(threading.Thread):
    """Copies the chapter's progress log to this process's stderr while it runs."""

    def __init__(self, path: Path, enabled: bool):
        super().__init__(daemon=True)
        self.path, self.enabled, self.stop = path, enabled, threading.Event()

    def run(self) -> None:
        pos = 0
        while True:
            done = self.stop.is_set()
            try:
                with open(self.path, encoding="utf-8", errors="replace") as f:
                    f.seek(pos)
                    chunk = f.read()
                    pos = f.tell()
            except FileNotFoundError:
                chunk = ""
            if chunk and self.enabled:
                try:
                    sys.stderr.write(chunk)
                    sys.stderr.flush()
                except (OSError, ValueError):
                    self.enabled = False
            if done:
                return
            self.stop.wait(0.5)


def _peak_rss_mb() -> float:
    """Largest resident set of any finished child process (the kernel), in MB."""
    kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return kb / 1024.0


# ---------------------------------------------------------------------- running a chapter
def run(
    chapter: str,
    profile: str = "smoke",
    overrides: dict[str, Any] | None = None,
    *,
    root: Path | None = None,
    progress: bool = True,
    log_output: bool = False,
) -> Path:
    """Execute one chapter; return its run directory (``runs/<chapter>/<profile>``)."""
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    root = root or _chapters.project_root()
    ch = _chapters.get(chapter)
    check_profile(profile)
    nb = read_notebook(ch, root)
    params = resolve(ch, nb, profile, overrides, root)
    final = run_dir(chapter, profile, root)
    store = final.parent / f".{profile}.runs"
    failed = final.with_name(f"{profile}.failed")
    # everything a run writes or replaces lies in runs/<chapter>/, wherever a link there points
    base = runs_root(root)
    _chapters.inside(final.parent, base)
    _chapters.inside(store, base)
    cell = parameters_cell(nb)
    with _locked(final.parent / f".{profile}.lock", f"chapter {chapter} [{profile}]"):
        store.mkdir(parents=True, exist_ok=True)
        _clean_stale(store)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        staging = store / f"{stamp}-{os.getpid()}-{uuid.uuid4().hex[:6]}.partial"
        staging.mkdir()
        params["run_dir"] = str(staging)
        if "checkpoint_dir" in cell and not params.get("checkpoint_dir"):
            params["checkpoint_dir"] = str(checkpoints_root(root) / chapter)  # the user's choice wins
        source = staging / f"{chapter}.source.ipynb"
        nbformat.write(nb, source)
        out_nb = staging / f"{chapter}.ipynb"
        log = staging / "progress.log"
        invocation = {
            "runner": "ppstudy run",
            "profile": profile,
            "overrides": overrides or {},
            "command": " ".join(
                ["ppstudy", "run", chapter, "--profile", profile]
                + [f"-p {k} {json.dumps(v)}" for k, v in (overrides or {}).items()]
            ),
        }
        env = {INVOCATION_ENV: json.dumps(invocation, default=str), "PPSTUDY_PROGRESS": str(log)}
        relay = _Relay(log, progress)
        relay.start()
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        t0 = time.perf_counter()
        try:
            pm.execute_notebook(
                str(source),
                str(out_nb),
                parameters=params,
                kernel_name=KERNEL,
                cwd=str(root),
                progress_bar=progress,
                log_output=log_output,
                request_save_on_cell_execute=True,
            )
        except PapermillExecutionError as e:
            _keep_failed(staging, failed)
            evalue = str(e.evalue).strip().splitlines()[-1] if str(e.evalue).strip() else ""
            raise PPStudyError(
                f"chapter {chapter} [{profile}] failed in cell {e.exec_count}: {e.ename}: {evalue} "
                f"(partial notebook: {failed / out_nb.name}; last good run kept in {final})"
            ) from None
        except BaseException:
            _keep_failed(staging, failed)
            raise
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            relay.stop.set()
            relay.join(timeout=5)
        wall = time.perf_counter() - t0
        source.unlink()
        if not (staging / RESULTS_FILE).is_file():
            _keep_failed(staging, failed)
            raise PPStudyError(f"chapter {chapter} [{profile}] ran but wrote no {RESULTS_FILE} (see {failed})")
        m = load(staging)
        m["run"] = {**invocation, "wall_s": round(wall, 1), "peak_rss_mb": round(_peak_rss_mb(), 1)}
        write_json_atomic(staging / RESULTS_FILE, m)
        _tidy_notebook(out_nb, staging, final, root)
        target = staging.with_suffix("")  # drop ".partial": a finished run
        os.replace(staging, target)
        _switch(final, target)
    return final


def study_module(chapter: str):
    return importlib.import_module(_chapters.get(chapter).study)


def regenerate_figures(
    chapter: str, profile: str = "smoke", root: Path | None = None, *, source: Path | None = None
) -> list[Path]:
    """Redraw every figure of a finished (or published, with ``source``) run from its ``results.json`` and
    arrays, without recomputing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ppstudy.plots import apply_style, save_figure

    rd = source or run_dir(chapter, profile, root)
    if source is None:  # redrawing writes figures: into a run under runs/, wherever its link points
        for d in (rd, rd / "figures"):
            if d.exists() or d.is_symlink():
                _chapters.inside(d, runs_root(root), "redraw figures into")
    manifest = load(rd)
    figures: dict[str, Callable] = getattr(study_module(chapter), "FIGURES", {})
    apply_style()
    out: list[Path] = []
    import zipfile

    for name in manifest.get("figures", []):
        if name not in figures:
            raise InputError(f"{rd}: figure {name!r} is not registered in {study_module(chapter).__name__}.FIGURES")
        try:
            fig = figures[name](manifest, rd)
        except (KeyError, IndexError, TypeError) as e:
            raise InputError(
                f"{rd}: cannot redraw {name}: results.json lacks what it needs ({type(e).__name__}: {e})"
            ) from None
        except MissingArraysError:
            published = sorted((rd / "figures").glob(f"{name}.*"))
            if source is not None and [p.suffix for p in published] == [".jpg"]:
                out.append(published[0])  # a published photograph: its pixels are its JPEG, kept as it is
                continue
            raise
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
            if isinstance(e, InputError):
                raise
            raise InputError(
                f"{rd}: cannot redraw {name}: its arrays are unreadable ({type(e).__name__}: {e}); rerun the chapter"
            ) from None
        had = {f.suffix for f in (rd / "figures").glob(f"{name}.*")}
        photo = ".jpg" in had
        for path in save_figure(fig, rd / "figures", name, photo=photo).values():
            if had and path.suffix not in had:  # keep the run's formats (a published photo is its JPEG only)
                path.unlink()
            else:
                out.append(path)
        plt.close(fig)
    return out


# ---------------------------------------------------------------------- publishing
def published_root(root: Path | None = None) -> Path:
    return (root or _chapters.project_root()) / PUBLISHED


def published_index(root: Path | None = None) -> dict[str, Any]:
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


def publish(chapter: str, profile: str, *, root: Path | None = None, main: bool | None = None) -> Path:
    """Copy the finished run ``runs/<chapter>/<profile>`` into ``results/<chapter>/<profile>``: its
    results.json, executed notebook, figures and the arrays its figures need (nothing else). Arrays of
    pixels only (photographs; see :func:`ppstudy.results.pixels_only`) stay in the run: their figure is
    published as its JPEG, which :func:`regenerate_figures` keeps. The first published run of a chapter (or
    one published with ``main=True``) is the one the book renders."""
    root = root or _chapters.project_root()
    src = run_dir(chapter, profile, root)
    m = load(src)
    verify_digest(src)
    if m.get("finished") is None or m.get("profile") != profile:
        raise InputError(f"{src} is not a finished run of profile {profile}")
    commit = (m.get("git") or {}).get("commit")
    if not commit:
        raise InputError(f"{src}: the run records no git commit, so it cannot be published")
    names = {kind: _plain_names(m, kind, src) for kind in ("arrays", "figures")}
    pub = published_root(root)
    dest = pub / chapter / profile
    _chapters.inside(dest.parent, pub, "publish into")  # results/<chapter> is ours, whatever links say
    real_src = Path(os.path.realpath(src))

    def source(path: Path) -> Path:  # a file of the run, never one a link inside it leads out to
        return _chapters.inside(path, real_src, "publish") if path.exists() else path

    tmp = dest.with_name(f".{profile}.{uuid.uuid4().hex[:6]}.tmp")
    tmp.mkdir(parents=True)
    try:
        shutil.copy2(source(src / RESULTS_FILE), tmp / RESULTS_FILE)
        shutil.copy2(source(src / f"{chapter}.ipynb"), tmp / f"{chapter}.ipynb")
        for name in names["arrays"]:
            f = source(src / f"{name}.npz")
            if f.is_file() and not pixels_only(f):
                shutil.copy2(f, tmp / f"{name}.npz")
        (tmp / "figures").mkdir()
        for name in names["figures"]:
            # a figure of photographs is published as its JPEG (its PNG and SVG hold the same raster, larger);
            # a plot as PNG and SVG
            photo = source(src / "figures" / f"{name}.jpg").is_file()
            for ext in ("jpg",) if photo else ("png", "svg"):
                f = source(src / "figures" / f"{name}.{ext}")
                if f.is_file():
                    shutil.copy2(f, tmp / "figures" / f"{name}.{ext}")
        write_digest(tmp)
        size = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file())
        if size > PUBLISH_LIMIT:
            big = sorted(((f.stat().st_size, f.relative_to(tmp)) for f in tmp.rglob("*") if f.is_file()), reverse=True)[
                :3
            ]
            raise InputError(
                f"published run of {chapter} [{profile}] would be {size / 1e6:.1f} MB, over the "
                f"{PUBLISH_LIMIT / 1e6:.1f} MB limit (largest: "
                + ", ".join(f"{p} {s / 1e6:.1f} MB" for s, p in big)
                + ")"
            )
        old = dest.with_name(f".{profile}.{uuid.uuid4().hex[:6]}.old")
        if dest.exists() or dest.is_symlink():
            os.replace(dest, old)  # renames a link itself, never what it points at
        os.replace(tmp, dest)
        with contextlib.suppress(OSError):
            _chapters.remove(old, dest.parent)
    finally:
        with contextlib.suppress(OSError):
            _chapters.remove(tmp, dest.parent)
    index = published_index(root)
    entry = index.setdefault(chapter, {"main": profile, "runs": []})
    if profile not in entry["runs"]:
        entry["runs"].append(profile)
    if main or not entry.get("main"):
        entry["main"] = profile
    write_json_atomic(published_root(root) / INDEX, index)
    return dest


def _plain_names(manifest: dict[str, Any], kind: str, where: Path) -> list[str]:
    """The ``arrays`` or ``figures`` a run's manifest lists: plain names (as :meth:`ppstudy.results.Run.arrays`
    writes them), never paths; anything else (``"../x"``, ``"/etc/x"``) is an InputError."""
    names = manifest.get(kind) or []
    if not isinstance(names, list):
        raise InputError(f"{where / RESULTS_FILE}: {kind} is not a list of names")
    for name in names:
        if not isinstance(name, str) or not _PLAIN_NAME.match(name):
            raise InputError(
                f"{where / RESULTS_FILE}: {kind[:-1]} name {name!r} is not a plain name (lower-case letters, "
                "digits, '_' and '-'): refusing to publish it"
            )
    return names


_PLAIN_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")  # the names ppstudy.results.Run gives its files


def published_run(chapter: str, root: Path | None = None, profile: str | None = None) -> Path:
    """The directory of a chapter's published run (its main one unless ``profile`` is given)."""
    root = root or _chapters.project_root()
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


#: the package's code that computes a chapter's numbers and figures (what a run's commit vouches for);
#: the runner, the manifest's rendering, the CLI and the book's checks only present them
COMPUTING_CODE = (
    "src/ppstudy/ciphers",
    "src/ppstudy/attacks",
    "src/ppstudy/data",
    "src/ppstudy/models",
    "src/ppstudy/train.py",
    "src/ppstudy/schedules.py",
    "src/ppstudy/metrics.py",
    "src/ppstudy/pca.py",
    "src/ppstudy/images.py",
    "src/ppstudy/plots.py",
    "src/ppstudy/progress.py",
)


def _code_of(source: str) -> str | None:
    """What a Python module computes, as a dump of its syntax tree without docstrings or other string
    statements (which do nothing) and without comments or layout (which the tree does not keep); None if
    it does not parse."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None

    class _NoStrings(ast.NodeTransformer):
        def visit_Expr(self, node: ast.Expr):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return None
            return node

    return ast.dump(_NoStrings().visit(tree), include_attributes=False)


def _same_code(commit: str, path: str, root: Path) -> bool:
    """True when the Python file ``path`` computes the same at ``commit`` and in the working tree: only its
    docstrings, comments or layout differ."""
    try:
        old = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=root, capture_output=True, text=True, timeout=20)
        new = (root / path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, subprocess.SubprocessError):
        return False
    if old.returncode != 0:
        return False
    a, b = _code_of(old.stdout), _code_of(new)
    return a is not None and a == b


def code_changed_since(commit: str | None, chapter: str, root: Path) -> list[str] | None:
    """The chapter's code (its notebook, profiles and study module, and the package's computing code) that
    changed between ``commit`` and the working tree; None when git cannot tell (no checkout, unknown
    commit). A Python file whose changes are only docstrings, comments or layout does not count: the run's
    numbers cannot depend on them. The chapter's notebook counts for any change, since its text is what the
    published page shows."""
    if not commit:
        return None
    paths = [f"book/{chapter}.md", f"book/params/{chapter}", f"src/ppstudy/studies/{chapter}.py", *COMPUTING_CODE]
    try:
        r = subprocess.run(
            ["git", "diff", "--name-only", commit, "--", *paths], cwd=root, capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if r.returncode != 0:
        return None
    changed = [line for line in r.stdout.splitlines() if line.strip()]
    return [c for c in changed if not (c.endswith(".py") and _same_code(commit, c, root))]


def provenance(manifest: dict[str, Any], chapter: str, root: Path) -> str:
    """The chapter's provenance as MyST markdown: profile, data and checksums, commit, device, wall time,
    memory, date, and a visible note when the chapter's code changed since the run's commit."""
    data = manifest.get("data") or {}
    run = manifest.get("run") or {}
    git = manifest.get("git") or {}
    commit = git.get("commit")
    lines = [
        f"* **Profile:** `{manifest.get('profile')}`"
        + (f" — rerun with `{run['command']}`" if run.get("command") else "")
    ]
    if isinstance(data, dict) and data:
        lines.append(f"* **Data:** {data.get('dataset', '')} — {data.get('description', '')}")
        for f in data.get("files", []):
            sums = ", ".join(f"{k} `{f[k]}`" for k in ("md5", "sha256") if f.get(k))
            lines.append(f"  * `{f.get('name')}`" + (f": {sums}" if sums else ""))
    elif data:
        lines.append(f"* **Data:** {data}")
    dev = manifest.get("device") or {}
    lines.append(
        f"* **Device:** {device_label(dev)}; Python {dev.get('python', '?')}, "
        f"torch {(manifest.get('versions') or {}).get('torch') or '—'}"
    )
    if run.get("wall_s") is not None:
        mem = f", peak memory {run['peak_rss_mb'] / 1024:.1f} GB" if run.get("peak_rss_mb") else ""
        lines.append(f"* **Wall time:** {run['wall_s'] / 60:.1f} min{mem}")
    lines.append(
        f"* **Commit:** `{(commit or 'unknown')[:12]}`"
        + (" (with uncommitted changes)" if git.get("dirty") else "")
        + f"; finished {manifest.get('finished') or '—'}"
    )
    body = "\n".join(lines)
    out = f":::{{admonition}} Provenance of this page\n:class: note\n\n{body}\n:::\n"
    changed = code_changed_since(commit, chapter, root)
    if changed:
        shown = ", ".join(f"`{c}`" for c in changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")
        out += (
            f"\n:::{{warning}}\nThe chapter's code has changed since this run's commit "
            f"`{(commit or '')[:12]}` ({shown}): the numbers below are those of that commit.\n:::\n"
        )
    if isinstance(data, dict) and data.get("smoke"):
        out += (
            "\n:::{warning}\nThis page was executed in the smoke profile on stand-in data: every number "
            "on it shows that the pipeline runs, not what the paper measured.\n:::\n"
        )
    return out


def _relative_run_path(path: str) -> str:
    """An absolute path into a checkout's ``runs/`` as the repository-relative ``runs/...``; other text
    unchanged."""
    head, sep, rest = path.partition("/runs/")
    return f"runs/{rest}" if path.startswith("/") and sep else path


_QUOTED_RUN_PATH = re.compile(r"""(["'])(/[^"']*?/runs/[^"']*)\1""")


def _assignments(source: str) -> dict[str, ast.Assign]:
    """The ``name = value`` statements of a parameters cell by name (none when it does not parse)."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return {}
    return {
        n.targets[0].id: n
        for n in body
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)
    }


def _line_comment(line: str) -> str:
    """The ``# ...`` comment of one line of code ("" when it has none, or is not a whole statement)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line).readline))
    except (tokenize.TokenError, SyntaxError):
        return ""
    return next((t.string for t in tokens if t.type == tokenize.COMMENT), "")


def _show_run_parameters(nb, chapter: str) -> None:
    """The folded parameters cell of ``nb`` shows the values the run used (papermill's injected cell stays
    removed): each default the run overrode is replaced in place and a first comment says so; machine paths
    in the injected cell and the papermill metadata become repository-relative."""
    cells = [c for c in nb.cells if c.cell_type == "code"]
    defaults = next((c for c in cells if "parameters" in c.metadata.get("tags", [])), None)
    injected = next((c for c in cells if "injected-parameters" in c.metadata.get("tags", [])), None)
    if injected is not None:
        injected.source = _QUOTED_RUN_PATH.sub(
            lambda m: m.group(1) + _relative_run_path(m.group(2)) + m.group(1), injected.source
        )
    if defaults is not None and injected is not None:
        used = {
            name: ast.get_source_segment(injected.source, node.value) or ""
            for name, node in _assignments(injected.source).items()
        }
        lines = defaults.source.splitlines()
        # from the end, so that earlier line numbers stay valid
        for name, node in sorted(_assignments(defaults.source).items(), key=lambda kv: -kv[1].lineno):
            if name not in used or node.end_lineno is None:
                continue
            first, last = node.lineno - 1, node.end_lineno - 1
            comment = _line_comment(lines[first]) if first == last else ""
            text = f"{name} = {used[name]}"
            if comment:
                with_comment = text + " " * max(1, len(lines[first]) - len(comment) - len(text)) + comment
                text = with_comment if len(with_comment) <= 90 else text  # cells wrap at ~90 columns
            lines[first : last + 1] = [text]
        profile = used.get("profile", "").strip("\"'")
        head = f"# the values of this run (profile {profile}); the defaults are in book/{chapter}.md"
        defaults.source = "\n".join([head, *lines])
    pm = nb.metadata.get("papermill")
    if isinstance(pm, dict):
        for key in ("input_path", "output_path"):
            if isinstance(pm.get(key), str):
                pm[key] = os.path.basename(pm[key])
        params = pm.get("parameters")
        if isinstance(params, dict):
            for k, v in params.items():
                if isinstance(v, str):
                    params[k] = _relative_run_path(v)


_TABLE_ID = re.compile(r'id="ppstudy-table-([^"]+)"')


def _rerender_tables(nb, manifest: dict[str, Any]) -> int:
    """Replace every recorded table in ``nb``'s outputs with :func:`ppstudy.results.render_table` of the
    current package, so that a change of presentation reaches the book without rerunning the chapter. A
    table is known by its id, or (runs rendered before tables had one) by its numbered caption. Returns the
    number of tables replaced."""
    from html import escape

    from ppstudy.results import render_table

    tables = manifest.get("tables") or {}
    by_caption = {
        escape((f"Table {t['number']}. " if t.get("number") else "") + t.get("caption", "")): name
        for name, t in tables.items()
    }
    done = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            html = (out.get("data") or {}).get("text/html")
            if isinstance(html, list):
                html = "".join(html)
            if not isinstance(html, str) or 'class="ppstudy-table' not in html:
                continue
            m = _TABLE_ID.search(html)
            name = m.group(1) if m and m.group(1) in tables else None
            if name is None:
                name = next((n for cap, n in by_caption.items() if f">{cap}</caption>" in html), None)
            if name is not None:
                out["data"]["text/html"] = render_table(manifest, name)
                done += 1
    return done


def _insert_provenance(nb, manifest: dict[str, Any], chapter: str, root: Path) -> None:
    """The chapter's provenance as a markdown cell of ``nb``, after its title and opening paragraphs."""
    import nbformat

    cell = nbformat.v4.new_markdown_cell(provenance(manifest, chapter, root))
    cell.metadata["tags"] = ["ppstudy-provenance"]
    first = next(
        (i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.lstrip().startswith("# ")), None
    )
    if first is None:
        nb.cells.insert(0, cell)
    else:  # right after the title and its opening paragraphs, before the first section
        src = nb.cells[first].source
        cut = src.find("\n## ")
        if cut >= 0:
            rest = nbformat.v4.new_markdown_cell(src[cut + 1 :])
            nb.cells[first].source = src[:cut]
            nb.cells[first + 1 : first + 1] = [cell, rest]
        else:
            nb.cells.insert(first + 1, cell)


# ---------------------------------------------------------------------- the book
STATIC_PAGES = ("intro.md", "rerun.md", "references.md")
#: where the intro page receives the dashboard generated from the chapters' runs
DASHBOARD_MARK = "<!-- ppstudy:dashboard -->"


def _md_cell(v: Any) -> str:
    from ppstudy.results import format_value

    return format_value(v).replace("|", "\\|").replace("\n", " ")


def dashboard(manifests: dict[str, dict[str, Any]]) -> str:
    """The intro's dashboard as MyST markdown, from the runs the book shows: every claim of a paper that
    a chapter checks (claim, paper, this book, status), and what each run cost (profile, data, device,
    wall time, memory)."""
    out = ["| chapter | the paper's claim | paper | this book | status |", "|---|---|---|---|---|"]
    for name, m in manifests.items():
        title = _chapters.get(name).title.split(" (")[0]
        for c in m.get("checks", {}).values():
            if c.get("kind") != "paper":
                continue
            out.append(
                f"| [{title}]({name}) | {_md_cell(c['claim'])} | {_md_cell(c.get('paper'))} | "
                f"{_md_cell(c.get('measured'))} | **{c['status']}** |"
            )
    cost = ["| chapter | profile | data | device | wall time | peak memory |", "|---|---|---|---|---|---|"]
    for name, m in manifests.items():
        run = m.get("run") or {}
        data = m.get("data") or {}
        ds = data.get("dataset", "") if isinstance(data, dict) else str(data)
        wall = f"{run['wall_s'] / 60:.0f} min" if run.get("wall_s") else "—"
        mem = f"{run['peak_rss_mb'] / 1024:.1f} GB" if run.get("peak_rss_mb") else "—"
        cost.append(
            f"| [{name}]({name}) | `{m.get('profile')}` | {_md_cell(ds)} | "
            f"{_md_cell(device_label(m.get('device') or {}))} | {wall} | {mem} |"
        )
    return (
        "\n".join(out) + "\n\nWhat the runs shown in this book cost (rerun any of them with the command in its "
        "chapter's provenance):\n\n" + "\n".join(cost) + "\n"
    )


def build_root(root: Path | None = None) -> Path:
    env = os.environ.get("PPSTUDY_BUILD")
    return Path(env).expanduser().resolve() if env else (root or _chapters.project_root()) / "_build"


def chapter_sources(profile: str | None, root: Path | None = None) -> dict[str, Path]:
    """The run directory each chapter is rendered from: its published run (``profile=None``) or the run of
    ``profile`` under ``runs/``."""
    root = root or _chapters.project_root()
    out = {}
    for name in _chapters.CHAPTERS:
        d = published_run(name, root) if profile is None else run_dir(name, profile, root)
        if not (d / f"{name}.ipynb").is_file():
            raise PPStudyError(
                f"chapter {name} has no executed notebook in {d}: run `ppstudy run {name} --profile {profile}` first"
                if profile
                else f"{d} holds no {name}.ipynb"
            )
        out[name] = d
    return out


def stage_book(profile: str | None = "smoke", root: Path | None = None) -> Path:
    """Copy the book's static pages and the executed chapter notebooks (with their provenance) into
    ``_build/stage``."""
    import nbformat

    root = root or _chapters.project_root()
    stage = build_root(root) / "stage"
    _chapters.remove(stage, build_root(root))  # a link there is unlinked, never followed
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
    sources = chapter_sources(profile, root)
    for name, d in sources.items():
        verify_digest(d)  # a published run whose results.json was changed since is refused
        notebook = nbformat.read(d / f"{name}.ipynb", as_version=4)
        _show_run_parameters(notebook, name)
        manifest = load(d)
        _rerender_tables(notebook, manifest)
        _insert_provenance(notebook, manifest, name, root)
        nbformat.write(notebook, stage / "book" / f"{name}.ipynb")
    intro = stage / "book" / "intro.md"
    if intro.is_file():
        intro.write_text(intro.read_text().replace(DASHBOARD_MARK, dashboard({n: load(d) for n, d in sources.items()})))
    from ppstudy import bookconfig

    bookconfig.configure_stage(stage, root)  # repository link, launch buttons, .md downloads
    return stage


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
    checked (:func:`ppstudy.bookcheck.check_book`: every table and figure shown, no tracebacks, warnings,
    reprs or machine paths in outputs) and any problem fails the build."""
    root = root or _chapters.project_root()
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
        from ppstudy import bookcheck

        sources = chapter_sources(profile, root)
        bookcheck.check_book(
            index.parent,
            sources,
            strict=True,
            machine_paths=[str(root), str(runs_root(root)), str(out), str(Path.home())],
        )
    return index
