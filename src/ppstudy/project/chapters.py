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


CHAPTERS: dict[str, Chapter] = {
    c.name: c
    for c in (
        Chapter("etc", "EtC images and SVMs (Kawamura, Kinoshita, Kiya)", "ppstudy.studies.etc", evidence=True),
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
