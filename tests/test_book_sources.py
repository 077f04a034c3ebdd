"""The book's sources are consistent: one bibliography without duplicates, every cited key defined once,
well-formed DOIs, author-year labels, every chapter in the TOC."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
import yaml
from pybtex.database import parse_string
from pybtex.richtext import Text

from ppstudy.project.chapters import CHAPTERS
from ppstudy.site.sphinxext import _register_bibliography_style, author_year_label

ROOT = Path(__file__).resolve().parents[1]
DOI = re.compile(r"^10\.\d{4,9}/[-._;()/:A-Za-z0-9]+$")


def bib_files() -> list[Path]:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return [ROOT / f for f in config["bibtex_bibfiles"]]


def bib_keys() -> list[str]:
    keys = []
    for f in bib_files():
        keys += re.findall(r"^@\w+\{([^,\s]+),", f.read_text(), flags=re.M)
    return keys


def entries():
    out = {}
    for f in bib_files():
        out.update(parse_string(f.read_text(), "bibtex").entries)
    return out


def plain(latex: str) -> str:
    return Text.from_latex(latex).render_as("text")


def norm_title(title: str) -> str:
    t = unicodedata.normalize("NFKD", plain(title)).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", " ", t).strip()


def surnames(entry) -> tuple[str, ...]:
    return tuple(
        plain(" ".join(p.prelast_names + p.last_names)).lower()
        for p in entry.persons.get("author") or entry.persons.get("editor") or []
    )


def cited_keys() -> set[str]:
    cited = set()
    for md in (ROOT / "book").glob("*.md"):
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", md.read_text()):
            cited |= {k.strip() for k in group.split(",")}
    return cited


def test_one_bibliography_file():
    assert [f.relative_to(ROOT).as_posix() for f in bib_files()] == ["book/references.bib"]
    assert not list((ROOT / "book").glob("refs/*.bib")), "a .bib file that _config.yml does not list"


def test_bib_keys_defined_once():
    keys = bib_keys()
    dupes = sorted(k for k, n in Counter(keys).items() if n > 1)
    assert not dupes, f"defined more than once: {dupes}"
    assert len(entries()) == len(keys)


def test_no_work_listed_twice():
    """Two entries for one work: same first author, year and title, or the same authors in the same year."""
    by_title, by_authors = {}, {}
    problems = []
    for key, e in entries().items():
        names, year = surnames(e), e.fields.get("year", "")
        assert names, f"{key}: no author"
        t = (names[0], year, norm_title(e.fields.get("title", "")))
        a = (names, year)
        if t in by_title:
            problems.append(f"{key} and {by_title[t]}: same first author, year and title")
        if a in by_authors:
            problems.append(f"{key} and {by_authors[a]}: same authors and year (one work under two titles?)")
        by_title.setdefault(t, key)
        by_authors.setdefault(a, key)
    assert not problems, "\n".join(problems)


def test_every_citation_is_defined():
    cited = cited_keys()
    keys = set(bib_keys())
    assert cited, "no {cite} role found in book/*.md"
    assert cited <= keys, f"cited but not defined: {sorted(cited - keys)}"


def test_dois_are_well_formed():
    bad = {k: e.fields["doi"] for k, e in entries().items() if "doi" in e.fields and not DOI.match(e.fields["doi"])}
    assert not bad, f"malformed DOIs (give the bare 10.xxxx/... form): {bad}"
    for k, e in entries().items():
        url = e.fields.get("url", "")
        assert "doi.org" not in url, f"{k}: a DOI as a URL; use the doi field"


def test_doi_pattern_rejects_malformed():
    assert DOI.match("10.1109/ACCESS.2020.3005911") and DOI.match("10.1007/978-3-642-01001-9_13")
    for bad in ("https://doi.org/10.1109/X.1", "doi:10.1109/X.1", "10.11/x", "10.1109/ has space", "10.1109/"):
        assert not DOI.match(bad), bad


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("kawamura2020etc", "Kawamura et al., 2020"),
        ("fan2012bfv", "Fan and Vercauteren, 2012"),
        ("krizhevsky2009cifar", "Krizhevsky, 2009"),
        ("vtracer", "Vision Cortex, 2020"),
        ("chollet2017xception", "Chollet, 2017"),
        ("janusz2022bigdatacup", "Janusz et al., 2022"),
    ],
)
def test_author_year_labels(key, label):
    assert author_year_label(entries()[key]) == label


def test_label_style_disambiguates_equal_labels():
    from pybtex.plugin import find_plugin

    _register_bibliography_style()
    bib = parse_string(
        """
        @misc{a1, author = {Kiya, H. and Ito, I.}, title = {One}, year = {2019}}
        @misc{a2, author = {Kiya, H. and Ito, I.}, title = {Two}, year = {2019}}
        @misc{b, author = {Kiya, H.}, title = {Three}, year = {2019}}
    """,
        "bibtex",
    )
    style = find_plugin("pybtex.style.labels", "ppstudy_author_year")()
    labels = list(style.format_labels(bib.entries.values()))
    assert labels == ["Kiya and Ito, 2019a", "Kiya and Ito, 2019b", "Kiya, 2019"]
    fmt = find_plugin("pybtex.style.formatting", "ppstudy")()
    assert [e.label for e in fmt.format_entries(bib.entries.values())] == [
        "Kiya, 2019",
        "Kiya and Ito, 2019a",
        "Kiya and Ito, 2019b",
    ]  # sorted by author, year, title
    orgs = parse_string(
        """
        @misc{w, author = {Wang, Z.}, title = {SSIM}, year = {2004}}
        @misc{v, author = {{Vision Cortex}}, title = {VTracer}, year = {2020}}
        @misc{a, author = {Adams, A.}, title = {A}, year = {2000}}
    """,
        "bibtex",
    )
    assert [e.key for e in fmt.format_entries(orgs.entries.values())] == ["a", "v", "w"]  # braces ignored


def test_toc_lists_every_chapter_and_params_exist():
    toc = (ROOT / "_toc.yml").read_text()
    for name in CHAPTERS:
        assert f"file: book/{name}\n" in toc
        for profile in ("smoke", "quick", "paper"):
            assert (ROOT / "book" / "params" / name / f"{profile}.yml").is_file(), (name, profile)
