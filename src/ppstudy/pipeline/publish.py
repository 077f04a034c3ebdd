"""Publishing: a finished run copied into ``results/<chapter>/<profile>/``, what the book is rendered from.

``publish("etc", "paper")`` copies a finished run (notebook, ``results.json`` with its digest, figures, the
arrays its figures need) into ``results/etc/paper/`` and lists it in ``results/index.json``; the first
published run of a chapter (or one published with ``main=True``) is the one its page shows.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from ppstudy import InputError
from ppstudy.manifest.store import (
    RESULTS_FILE,
    load,
    pixels_only,
    published_index,
    published_run,  # noqa: F401  (reading results/ lives in the manifest layer; re-exported for the site)
    verify_digest,
    write_digest,
    write_json_atomic,
)
from ppstudy.project.paths import INDEX, inside, project_root, published_root, remove, run_dir

#: largest published run (bytes): a published run keeps what its tables and figures need
PUBLISH_LIMIT = 2_500_000


def publish(chapter: str, profile: str, *, root: Path | None = None, main: bool | None = None) -> Path:
    """Copy the finished run ``runs/<chapter>/<profile>`` into ``results/<chapter>/<profile>``: its
    results.json, executed notebook, figures and the arrays its figures need (nothing else). Arrays of
    pixels only (photographs; see :func:`ppstudy.manifest.store.pixels_only`) stay in the run: their figure is
    published as its JPEG, which :func:`ppstudy.pipeline.figures.regenerate_figures` keeps. The first published run of a chapter (or
    one published with ``main=True``) is the one the book renders."""
    root = root or project_root()
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
    inside(dest.parent, pub, "publish into")  # results/<chapter> is ours, whatever links say
    real_src = Path(os.path.realpath(src))

    def source(path: Path) -> Path:  # a file of the run, never one a link inside it leads out to
        return inside(path, real_src, "publish") if path.exists() else path

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
            remove(old, dest.parent)
    finally:
        with contextlib.suppress(OSError):
            remove(tmp, dest.parent)
    index = published_index(root)
    entry = index.setdefault(chapter, {"main": profile, "runs": []})
    if profile not in entry["runs"]:
        entry["runs"].append(profile)
    if main or not entry.get("main"):
        entry["main"] = profile
    write_json_atomic(published_root(root) / INDEX, index)
    return dest


def _plain_names(manifest: dict[str, Any], kind: str, where: Path) -> list[str]:
    """The ``arrays`` or ``figures`` a run's manifest lists: plain names (as :meth:`ppstudy.kernel.run.Run.arrays`
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


_PLAIN_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")  # the names ppstudy.kernel.run.Run gives its files
