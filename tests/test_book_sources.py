"""The book's sources are consistent: every cited key is defined exactly once, every chapter is in the TOC."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ppstudy.chapters import CHAPTERS

ROOT = Path(__file__).resolve().parents[1]


def bib_keys() -> list[str]:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    keys = []
    for f in config["bibtex_bibfiles"]:
        keys += re.findall(r"^@\w+\{([^,\s]+),", (ROOT / f).read_text(), flags=re.M)
    return keys


def test_bib_keys_defined_once():
    keys = bib_keys()
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    assert not dupes, f"defined in more than one .bib file: {dupes}"


def test_every_citation_is_defined():
    keys = set(bib_keys())
    cited = set()
    for md in (ROOT / "book").glob("*.md"):
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", md.read_text()):
            cited |= {k.strip() for k in group.split(",")}
    assert cited <= keys, f"cited but not defined: {sorted(cited - keys)}"


def test_toc_lists_every_chapter_and_params_exist():
    toc = (ROOT / "_toc.yml").read_text()
    for name in CHAPTERS:
        assert f"file: book/{name}\n" in toc
        for profile in ("smoke", "quick", "paper"):
            assert (ROOT / "book" / "params" / name / f"{profile}.yml").is_file(), (name, profile)
