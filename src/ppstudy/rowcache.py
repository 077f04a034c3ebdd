"""Finished rows of a chapter's training tables, kept as results (not weights) so that a long run survives.

A row (one training: a cipher, a placement of the augmentation, a seed) is a task whose result is a small
JSON record (accuracy, per-image correctness, timings). :class:`RowCache` keeps each finished row in
``<root>/<key>.json``, ``key`` being a digest of everything that determines the row (:func:`row_key`: the
row's specification, which the chapter builds from its configuration, data digest, key seed, network,
schedule, augmentation, precision and :data:`RECIPE_VERSION`). A run that is stopped and resumed, days later
and on another machine, finds the rows already finished and trains only the missing ones (:func:`run_rows`);
a row whose specification changed has another key and is trained afresh. The published profiles keep their
cache beside the published run (``results/<chapter>/<profile>/rows/``), in git, so that "another machine"
has it; a row in progress is the most a lost machine can cost.

:func:`run_rows` runs the missing rows in priority order, in this process within a time budget, or as
independent tasks on a Dask ``distributed`` cluster (``client``: a ``LocalCluster``'s client, or one of
dask-jobqueue's Slurm/PBS clusters or dask-kubernetes, configured by the user, not here): each task writes
its row into the cache, and the assembled results are the same whichever ran them.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ppstudy import InputError

#: bumped when the code that trains a row changes what a row's numbers mean (a cached row of an older
#: version is then not reused); commits that move code or change prose leave the rows valid
RECIPE_VERSION = 1


def _canonical(spec: Mapping[str, Any]) -> str:
    try:
        return json.dumps(spec, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise InputError(f"a row specification must be plain JSON (no NaN): {e}") from None


def row_key(spec: Mapping[str, Any]) -> str:
    """The digest (20 hex digits) of a row's specification, :data:`RECIPE_VERSION` included."""
    if not isinstance(spec, Mapping) or not spec:
        raise InputError("a row specification must be a non-empty mapping")
    return hashlib.sha256(_canonical({"recipe_version": RECIPE_VERSION, **spec}).encode()).hexdigest()[:20]


class RowCache:
    """Finished rows in ``root`` (created on the first write), one JSON file per row key."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, spec: Mapping[str, Any]) -> Path:
        return self.root / f"{row_key(spec)}.json"

    def get(self, spec: Mapping[str, Any]) -> dict | None:
        """The result of the row ``spec`` if it finished before; None otherwise. A file that is unreadable,
        corrupt or written for another specification is ignored with a warning (the row is retrained)."""
        p = self.path(spec)
        if not p.is_file():
            return None
        try:
            rec = json.loads(p.read_text())
            ok = (
                isinstance(rec, dict)
                and rec.get("key") == p.stem
                and rec.get("spec") == json.loads(_canonical(spec))
                and rec.get("digest") == _result_digest(rec.get("result"))
            )
        except (OSError, ValueError, UnicodeDecodeError):
            ok = False
        if not ok:
            warnings.warn(f"row cache: {p} is corrupt or not this row's; the row is trained again", stacklevel=2)
            return None
        return rec["result"]

    def put(self, spec: Mapping[str, Any], result: Mapping[str, Any], *, name: str = "") -> Path:
        """Keep ``result`` (plain JSON) as the row ``spec``'s, atomically."""
        p = self.path(spec)
        rec = {
            "key": p.stem,
            "name": name,
            "spec": json.loads(_canonical(spec)),
            "result": json.loads(_canonical(result)),
            "digest": _result_digest(json.loads(_canonical(result))),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{p.stem}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(rec, indent=1, sort_keys=True) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return p


def _result_digest(result: Any) -> str:
    return hashlib.sha256(_canonical({"result": result}).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RowTask:
    """One row: its ``name`` (unique in a table), its ``spec`` (what determines it) and ``fn(**kwargs)``,
    which trains it and returns its result (plain JSON). For a Dask cluster ``fn`` and ``kwargs`` must be
    picklable (a module-level function)."""

    name: str
    spec: dict
    fn: Callable[..., dict] = field(repr=False, compare=False)
    kwargs: dict = field(default_factory=dict, repr=False, compare=False)


def _run_and_keep(task: RowTask, root: str | None) -> dict:
    result = task.fn(**task.kwargs)
    if root is not None:
        RowCache(root).put(task.spec, result, name=task.name)
    return result


def run_rows(
    tasks: list[RowTask],
    cache: RowCache | None,
    *,
    budget_s: float = 0.0,
    client=None,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[dict[str, dict], list[str], list[str]]:
    """Every row of ``tasks`` (in priority order): from ``cache`` when it finished before, else trained.

    Returns ``(results by name, names reused from the cache, names not run)``; ``cache`` None: nothing is
    reused or kept. In this process (``client``
    None) the missing rows run in order; with ``budget_s`` > 0 a row is not started when the mean time of
    the rows trained so far would take the run past the budget. With a Dask ``client`` the missing rows are
    submitted as independent tasks (priority kept) and those not finished within the budget are cancelled.
    """
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise InputError(f"row names must be unique, got {names}")
    results: dict[str, dict] = {}
    reused: list[str] = []
    missing: list[RowTask] = []
    for t in tasks:
        got = cache.get(t.spec) if cache is not None else None
        if got is not None:
            results[t.name] = got
            reused.append(t.name)
        else:
            missing.append(t)
    not_run: list[str] = []
    if client is None:
        t0 = clock()
        for k, t in enumerate(missing):  # k rows trained so far
            spent = clock() - t0
            if budget_s and k and spent + spent / k > budget_s:
                not_run = [m.name for m in missing[k:]]
                break
            results[t.name] = _run_and_keep(t, None if cache is None else str(cache.root))
    elif missing:
        from distributed import wait

        futures = {
            t.name: client.submit(
                _run_and_keep,
                t,
                None if cache is None else str(cache.root),
                key=f"row-{t.name}-{row_key(t.spec)}",
                priority=len(missing) - i,
                pure=False,
            )
            for i, t in enumerate(missing)
        }
        done, pending = wait(list(futures.values()), timeout=budget_s or None)
        for t in missing:
            f = futures[t.name]
            if f in done and f.status == "finished":
                results[t.name] = f.result()
            else:
                if f.status == "error":
                    f.result()  # raises the task's error here
                f.cancel()
                not_run.append(t.name)
    ordered = {n: results[n] for n in names if n in results}
    return ordered, reused, not_run
