"""Execute a chapter with papermill into a run directory of its own, switched into place only when it succeeds.

``run("etc", "smoke")`` reads ``book/etc.md`` with jupytext and executes it with papermill into a fresh
staging directory of its own; only when it succeeds is ``runs/etc/smoke`` (a symbolic link to the run's
directory) switched to it, in one atomic rename, so the last good run is never lost or mixed with a failed
or concurrent one. A second run of the same chapter and profile while one is in progress is refused (a
lock per run directory). A failed run keeps its partial notebook in ``runs/etc/smoke.failed/``. The
runner records the invocation, wall time and peak memory in the run's ``results.json``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import resource
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ppstudy import InputError, PPStudyError
from ppstudy.manifest.environment import INVOCATION_ENV
from ppstudy.manifest.store import RESULTS_FILE, load, write_json_atomic
from ppstudy.pipeline.params import resolve
from ppstudy.project import chapters as _chapters
from ppstudy.project.notebook import KERNEL, parameters_cell, read_notebook
from ppstudy.project.paths import check_profile, checkpoints_root, inside, project_root, remove, run_dir, runs_root
from ppstudy.render import compute_seconds


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
            remove(old, store)


def _keep_failed(staging: Path, failed: Path) -> None:
    remove(failed, failed.parent)  # a link there is unlinked, never followed
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
                remove(p, store)
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

    root = root or project_root()
    ch = _chapters.get(chapter)
    check_profile(profile)
    nb = read_notebook(ch, root)
    params = resolve(ch, nb, profile, overrides, root)
    final = run_dir(chapter, profile, root)
    store = final.parent / f".{profile}.runs"
    failed = final.with_name(f"{profile}.failed")
    # everything a run writes or replaces lies in runs/<chapter>/, wherever a link there points
    base = runs_root(root)
    inside(final.parent, base)
    inside(store, base)
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
        # the cost from scratch: this invocation plus the work it reused (Run.reused_compute)
        m["run"]["compute_s"] = round(compute_seconds(m) or 0.0, 1)
        write_json_atomic(staging / RESULTS_FILE, m)
        _tidy_notebook(out_nb, staging, final, root)
        target = staging.with_suffix("")  # drop ".partial": a finished run
        os.replace(staging, target)
        _switch(final, target)
    return final
