"""A chapter's profiles: ``book/params/<chapter>/<profile>.yml``, each a mapping of parameter names to values.

A profile's name is checked by :func:`ppstudy.project.paths.check_profile` (a plain word, never a path).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ppstudy import InputError
from ppstudy.project.chapters import Chapter
from ppstudy.project.paths import check_profile, params_dir


def profiles(chapter: Chapter, root: Path | None = None) -> list[str]:
    d = params_dir(chapter, root)
    return sorted(p.stem for p in d.glob("*.yml")) if d.is_dir() else []


def profile_values(chapter: Chapter, profile: str, root: Path | None = None) -> dict[str, Any]:
    check_profile(profile)
    path = params_dir(chapter, root) / f"{profile}.yml"
    if not path.is_file():
        raise InputError(
            f"unknown profile {profile!r} for chapter {chapter.name!r} "
            f"(profiles: {', '.join(profiles(chapter, root)) or 'none'})"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as e:
        raise InputError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of parameter names to values")
    return data
