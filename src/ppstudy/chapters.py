"""The old home of the chapters and the project's root (a re-export): see :mod:`ppstudy.project`."""

from __future__ import annotations

from ppstudy.project.chapters import CHAPTERS, Chapter, get
from ppstudy.project.paths import inside, project_root, remove

__all__ = ["CHAPTERS", "Chapter", "get", "inside", "project_root", "remove"]
