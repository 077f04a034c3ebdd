"""Redraw a run's figures from its ``results.json`` and arrays, without recomputing anything."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from ppstudy import InputError
from ppstudy.manifest.store import MissingArraysError, load
from ppstudy.project import chapters as _chapters
from ppstudy.project.paths import inside, run_dir, runs_root


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
                inside(d, runs_root(root), "redraw figures into")
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
