"""Every path of the project, in one place, and the guards that keep writes inside the project's roots.

The checkout (:func:`project_root`: ``$PPSTUDY_ROOT``, the working directory or a parent of it, or the
checkout this package is installed from) holds each chapter's notebook (``book/<chapter>.md``) and
profiles (``book/params/<chapter>/``), the published runs (``results/``, with ``results/index.json``) and the
build (``_build/`` or ``$PPSTUDY_BUILD``); runs live in ``runs/`` or ``$PPSTUDY_RUNS`` (checkpoints in
``.checkpoints/`` below it); datasets and other downloads in the data cache (:func:`cache_dir`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ppstudy import InputError
from ppstudy.project import chapters as _chapters
from ppstudy.project.chapters import Chapter

PROFILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
PUBLISHED = "results"
INDEX = "index.json"


def _is_root(p: Path) -> bool:
    return (p / "_toc.yml").is_file() and (p / "book").is_dir()


def project_root() -> Path:
    """The checkout holding ``_toc.yml`` and ``book/``: ``$PPSTUDY_ROOT``, the working directory or a parent
    of it, or the checkout this package is installed from (editable install)."""
    env = os.environ.get("PPSTUDY_ROOT")
    if env:
        p = Path(env).expanduser().resolve()
        if not _is_root(p):
            raise InputError(f"PPSTUDY_ROOT={env} does not hold _toc.yml and book/")
        return p
    here = Path.cwd().resolve()
    for p in (here, *here.parents, *Path(__file__).resolve().parents):
        if _is_root(p):
            return p
    raise InputError("cannot find the ppstudy book (_toc.yml and book/): run inside the checkout or set PPSTUDY_ROOT")


def notebook(chapter: Chapter, root: Path | None = None) -> Path:
    """The chapter's MyST notebook, ``book/<chapter>.md``."""
    return (root or project_root()) / "book" / f"{chapter.name}.md"


def params_dir(chapter: Chapter, root: Path | None = None) -> Path:
    """The chapter's profiles, ``book/params/<chapter>/<profile>.yml``."""
    return (root or project_root()) / "book" / "params" / chapter.name


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
        return (root or project_root()) / "runs"
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


def published_root(root: Path | None = None) -> Path:
    """The published runs the book is rendered from: ``results/`` of the checkout."""
    return (root or project_root()) / PUBLISHED


def build_root(root: Path | None = None) -> Path:
    env = os.environ.get("PPSTUDY_BUILD")
    return Path(env).expanduser().resolve() if env else (root or project_root()) / "_build"


def cache_dir() -> Path:
    """The data cache: ``$PPSTUDY_DATA`` (which must be an existing directory: it is never created), else
    ``$XDG_CACHE_HOME/ppstudy`` or ``~/.cache/ppstudy``."""
    env = os.environ.get("PPSTUDY_DATA")
    if env:
        root = Path(env).expanduser()
        if not root.exists():
            raise InputError(
                f"PPSTUDY_DATA={env} does not exist: create the directory first (or unset PPSTUDY_DATA "
                f"to use ~/.cache/ppstudy)"
            )
        if not root.is_dir():
            raise InputError(f"PPSTUDY_DATA={env} is a file, not a directory")
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "ppstudy"
    return root.resolve()


# ---------------------------------------------------------------------- staying inside the project's roots
def inside(path: Path, base: Path, doing: str = "write to") -> Path:
    """``path`` with every link followed, when that lies strictly below ``base`` (links followed too); else an
    InputError naming both. Call it before removing, replacing or writing anything that a link might
    redirect (a run link, a published run, a staged book)."""
    real, top = Path(os.path.realpath(path)), Path(os.path.realpath(base))
    if real == top or not real.is_relative_to(top):
        shown = f"{path} (which leads to {real})" if real != Path(path) else str(path)
        raise InputError(f"refusing to {doing} {shown}: it is not inside {base}")
    return real


def remove(path: Path, base: Path) -> None:
    """Remove ``path`` if it exists: a symbolic link is unlinked (what it points at is left alone); a file
    or a directory tree is removed only when it lies inside ``base`` (InputError otherwise)."""
    import shutil

    path = Path(path)
    if path.is_symlink():
        where, top = Path(os.path.realpath(path.parent)), Path(os.path.realpath(base))
        if not where.is_relative_to(top):  # the link's own directory must be ours (or base itself)
            raise InputError(f"refusing to remove {path}: it is not inside {base}")
        path.unlink()
    elif path.is_dir():
        inside(path, base, "remove")
        shutil.rmtree(path)
    elif path.exists():
        inside(path, base, "remove")
        path.unlink()
