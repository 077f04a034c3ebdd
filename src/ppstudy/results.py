"""The old home of the run manifest, its rendering and the kernel's :class:`Run` (a re-export).

Chapters import ``Run`` and ``load_arrays`` from here and DEVELOPING.md documents
``ppstudy.results.render_table``; the code is in :mod:`ppstudy.manifest` (reading, writing, statuses),
:mod:`ppstudy.render` (tables, summary, Markdown) and :mod:`ppstudy.kernel.run` (the ``Run``).
"""

from __future__ import annotations

from ppstudy.kernel.run import Run
from ppstudy.manifest.environment import INVOCATION_ENV, TRACKED_PACKAGES, device_info, git_commit, package_versions
from ppstudy.manifest.status import STATUSES, check_status
from ppstudy.manifest.store import (
    DIGEST_FILE,
    RESULTS_FILE,
    MissingArraysError,
    canonical_json,
    digest,
    load,
    load_arrays,
    pixels_only,
    verify_digest,
    write_digest,
    write_json_atomic,
)
from ppstudy.render import (
    Summary,
    Table,
    auto_format,
    device_label,
    format_value,
    measured_label,
    render_table,
    table_frame,
)

__all__ = [
    "DIGEST_FILE",
    "INVOCATION_ENV",
    "RESULTS_FILE",
    "STATUSES",
    "TRACKED_PACKAGES",
    "MissingArraysError",
    "Run",
    "Summary",
    "Table",
    "auto_format",
    "canonical_json",
    "check_status",
    "device_info",
    "device_label",
    "digest",
    "format_value",
    "git_commit",
    "load",
    "load_arrays",
    "measured_label",
    "package_versions",
    "pixels_only",
    "render_table",
    "table_frame",
    "verify_digest",
    "write_digest",
    "write_json_atomic",
]
