"""The status of a recorded check, what each status means, and whether a run records its checks' evidence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: statuses of the verdict table, each with what it means (the legend under every verdict table and the
#: intro's dashboard); a check that ``needs`` something reads ``needs <what>``: its kind is one of the
#: ``needs ...`` entries (:func:`status_kind`)
STATUS_MEANINGS: dict[str, str] = {
    "reproduced": "this run agrees with the paper",
    "differs": "this run does not agree with the paper (the chapter says by how much and why)",
    "exact": "an exact property, computed without data, holds without tolerance",
    "holds": "a finding of this book is confirmed by this run",
    "fails": "a finding of this book, or an exact property, is contradicted by this run",
    "smoke only": "the run used stand-in smoke data: it shows that the pipeline runs, not the result",
    "needs a GPU run": "the paper's scale needs a GPU run; this run's smaller scale cannot settle it",
    "needs a larger run": (
        "the 95% interval contains the claim's boundary: more images, draws or splits would settle it"
    ),
    "needs …": "what else the verdict needs, as the status says (e.g. rows this run did not train)",
}
STATUSES = tuple(STATUS_MEANINGS)

#: the manifest key that says every check of the run records its evidence (see
#: :attr:`ppstudy.project.chapters.Chapter.evidence`); runs recorded before it have no such key
EVIDENCE_FLAG = "evidence_recorded"
#: the manifest key that says the chapter's text refers to every table and figure the run shows (see
#: :attr:`ppstudy.project.chapters.Chapter.references`); the book check holds such a run's page to it
REFERENCES_FLAG = "text_references_all"


def check_status(rec: Mapping[str, Any]) -> str:
    """The verdict of a check: exact results are ``exact`` (or ``fails``); a comparison with the paper is
    ``reproduced`` / ``differs``; a finding ``holds`` / ``fails``; but a result on smoke data is ``smoke
    only`` and one that needs a larger run says so (``needs a GPU run``)."""
    if rec["kind"] == "exact":
        return "exact" if rec["passed"] else "fails"
    if rec.get("smoke"):
        return "smoke only"
    if rec.get("needs"):
        return f"needs {rec['needs']}" if not str(rec["needs"]).startswith("needs") else str(rec["needs"])
    if rec["kind"] == "paper":
        return "reproduced" if rec["passed"] else "differs"
    return "holds" if rec["passed"] else "fails"


def status_kind(status: str) -> str:
    """The entry of :data:`STATUS_MEANINGS` a status belongs to: itself, or for ``needs ...`` statuses
    ``needs a GPU run`` (it names a GPU), ``needs a larger run`` (a larger run, more draws or more splits)
    or ``needs …``."""
    if status in STATUS_MEANINGS:
        return status
    if status.startswith("needs"):
        if "GPU" in status:
            return "needs a GPU run"
        if status.startswith(("needs a larger run", "needs more")):
            return "needs a larger run"
        return "needs …"
    raise ValueError(f"unknown status {status!r}")


def evidence_missing(manifest: Mapping[str, Any]) -> list[str]:
    """The checks of a run that records evidence (:data:`EVIDENCE_FLAG`) whose ``evidence`` is missing or
    empty; none for a run without the flag."""
    if not manifest.get(EVIDENCE_FLAG):
        return []
    return [name for name, c in (manifest.get("checks") or {}).items() if not c.get("evidence")]
