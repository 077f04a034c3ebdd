"""The book's chapters and where the project lives on disk."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ppstudy import InputError


@dataclass(frozen=True)
class Chapter:
    name: str
    title: str
    study: str  # module with the chapter's logic and its FIGURES registry

    def notebook(self, root: Path | None = None) -> Path:
        return (root or project_root()) / "book" / f"{self.name}.md"

    def params_dir(self, root: Path | None = None) -> Path:
        return (root or project_root()) / "book" / "params" / self.name


CHAPTERS: dict[str, Chapter] = {
    c.name: c
    for c in (
        Chapter("etc", "EtC images and SVMs (Kawamura, Kinoshita, Kiya)", "ppstudy.studies.etc"),
        Chapter(
            "pixel",
            "Pixel-based encryption and the adaptation network (Sirichotedumrong et al.)",
            "ppstudy.studies.pixel",
        ),
        Chapter(
            "deid", "Structural de-identification with order-preserving encryption (Ko et al.)", "ppstudy.studies.deid"
        ),
        Chapter("cup", "Matching encrypted images: the IEEE Big Data Cup 2022 (Thing)", "ppstudy.studies.cup"),
    )
}


def get(name: str) -> Chapter:
    try:
        return CHAPTERS[name]
    except KeyError:
        raise InputError(f"unknown chapter {name!r} (chapters: {', '.join(CHAPTERS)})") from None


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
