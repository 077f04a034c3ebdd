"""The old home of running, publishing and building (a re-export for scripts that import it).

The code is in :mod:`ppstudy.pipeline` (:mod:`~ppstudy.pipeline.execute`, :mod:`~ppstudy.pipeline.publish`,
:mod:`~ppstudy.pipeline.figures`, :mod:`~ppstudy.pipeline.codechange`) and :mod:`ppstudy.site`
(:mod:`~ppstudy.site.stage`, :mod:`~ppstudy.site.build`); paths are in :mod:`ppstudy.project.paths`.
Nothing in the package imports this module.
"""

from __future__ import annotations

from ppstudy.pipeline.codechange import code_changed_since
from ppstudy.pipeline.execute import export_notebooks, run
from ppstudy.pipeline.figures import regenerate_figures, study_module
from ppstudy.pipeline.publish import PUBLISH_LIMIT, publish, published_index, published_run
from ppstudy.project.notebook import KERNEL, read_notebook
from ppstudy.project.paths import (
    INDEX,
    PROFILE_NAME,
    PUBLISHED,
    build_root,
    check_profile,
    checkpoints_root,
    published_root,
    run_dir,
    runs_root,
)
from ppstudy.site.build import build_book
from ppstudy.site.stage import DASHBOARD_MARK, STATIC_PAGES, chapter_sources, stage_book

__all__ = [
    "DASHBOARD_MARK",
    "INDEX",
    "KERNEL",
    "PROFILE_NAME",
    "PUBLISHED",
    "PUBLISH_LIMIT",
    "STATIC_PAGES",
    "build_book",
    "build_root",
    "chapter_sources",
    "check_profile",
    "checkpoints_root",
    "code_changed_since",
    "export_notebooks",
    "publish",
    "published_index",
    "published_root",
    "published_run",
    "read_notebook",
    "regenerate_figures",
    "run",
    "run_dir",
    "runs_root",
    "stage_book",
    "study_module",
]
