"""The book's chapters: name, title and study module (data only; their files are in :mod:`.paths`)."""

from __future__ import annotations

from dataclasses import dataclass

from ppstudy import InputError


@dataclass(frozen=True)
class Chapter:
    name: str
    title: str
    study: str  # module with the chapter's logic and its FIGURES registry
    #: every check of this chapter records its evidence (the numbers it compared, and ``shown_in``: the
    #: tables or figures that show them); its runs say so in their manifest and the book check refuses a
    #: check without evidence in such a run
    evidence: bool = False
    #: the chapter's text refers to every table (``{tabref}`name```) and figure (``{numref}``) its runs show;
    #: its runs say so in their manifest and the book check refuses a page with one never referred to
    references: bool = False


CHAPTERS: dict[str, Chapter] = {
    c.name: c
    for c in (
        Chapter(
            "etc",
            "EtC images and SVMs (Kawamura, Kinoshita, Kiya)",
            "ppstudy.studies.etc",
            evidence=True,
            references=True,
        ),
        Chapter(
            "pixel",
            "Pixel-based encryption and the adaptation network (Sirichotedumrong et al.)",
            "ppstudy.studies.pixel",
            evidence=True,
            references=True,
        ),
        Chapter(
            "deid",
            "Structural de-identification with order-preserving encryption (Ko et al.)",
            "ppstudy.studies.deid",
            evidence=True,
            references=True,
        ),
        Chapter(
            "cup",
            "Matching encrypted images: the IEEE Big Data Cup 2022 (Thing)",
            "ppstudy.studies.cup",
            evidence=True,
            references=True,
        ),
        Chapter(
            "attacks",
            "Every scheme under every attack, side by side",
            "ppstudy.studies.attacks",
            evidence=True,
            references=True,
        ),
    )
}


def number(name: str) -> int | None:
    """The chapter's number in the book (its place in :data:`CHAPTERS`, which is the order of ``_toc.yml``'s
    numbered part: tables are numbered "Table <chapter>.<k>", as Sphinx numbers the figures); None for a
    name that is not a chapter (a test's run)."""
    return list(CHAPTERS).index(name) + 1 if name in CHAPTERS else None


def get(name: str) -> Chapter:
    try:
        return CHAPTERS[name]
    except KeyError:
        raise InputError(f"unknown chapter {name!r} (chapters: {', '.join(CHAPTERS)})") from None
