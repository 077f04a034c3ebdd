"""The published runs in results/: valid manifests from commits in this history, small, redrawable, and a book
built from them that shows every table and figure they recorded."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from unittest import mock

import pytest

from ppstudy.manifest.store import load
from ppstudy.pipeline import figures, publish
from ppstudy.project import paths
from ppstudy.project.chapters import CHAPTERS
from ppstudy.site import build, stage
from ppstudy.site.check import check_book

ROOT = Path(__file__).resolve().parents[1]
INDEX = publish.published_index(ROOT)
PUBLISHED = [(ch, prof) for ch, entry in INDEX.items() for prof in entry["runs"]]


def _git(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)


def test_the_index_names_runs_that_exist():
    assert PUBLISHED, "no published runs in results/"
    for ch, entry in INDEX.items():
        assert ch in CHAPTERS and entry["main"] in entry["runs"]
        for prof in entry["runs"]:
            assert (ROOT / paths.PUBLISHED / ch / prof / "results.json").is_file(), (ch, prof)


@pytest.mark.parametrize("chapter,profile", PUBLISHED)
def test_published_manifest(chapter, profile):
    d = ROOT / paths.PUBLISHED / chapter / profile
    m = load(d)
    assert m["chapter"] == chapter and m["profile"] == profile and m["finished"]
    data = m["data"]
    assert isinstance(data, dict) and data["dataset"] and not data["smoke"], "a published run uses real data"
    assert data["files"] and all(f.get("md5") or f.get("sha256") for f in data["files"]), "files with checksums"
    assert m["git"]["commit"] and m["git"]["dirty"] is False, "published from a clean, committed tree"
    assert m["run"]["wall_s"] > 0 and m["run"]["peak_rss_mb"] > 0 and m["device"]
    assert m["checks"] and all(c["status"] != "smoke only" for c in m["checks"].values())
    size = sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
    assert size <= publish.PUBLISH_LIMIT, f"{chapter}/{profile} is {size / 1e6:.1f} MB"
    for name in m["figures"]:
        assert list((d / "figures").glob(f"{name}.*")), f"figure {name} is not published"
    assert (d / f"{chapter}.ipynb").is_file()


@pytest.mark.parametrize("chapter,profile", PUBLISHED)
def test_published_commit_is_in_this_history(chapter, profile):
    if _git("rev-parse", "--is-shallow-repository").stdout.strip() == "true":
        pytest.skip("a shallow clone does not hold the history")
    commit = load(ROOT / paths.PUBLISHED / chapter / profile)["git"]["commit"]
    assert _git("cat-file", "-e", f"{commit}^{{commit}}").returncode == 0, f"{commit} is not in this history"
    assert _git("merge-base", "--is-ancestor", commit, "HEAD").returncode == 0, f"{commit} is not an ancestor of HEAD"


@pytest.mark.parametrize("chapter,profile", PUBLISHED)
def test_published_figures_redraw(chapter, profile, tmp_path):
    src = ROOT / paths.PUBLISHED / chapter / profile
    copy = tmp_path / profile
    shutil.copytree(src, copy)
    before = {f.name for f in (copy / "figures").iterdir()}
    out = figures.regenerate_figures(chapter, profile, ROOT, source=copy)
    assert {p.name for p in out} == before, "redrawn in the formats that were published"
    assert all(p.stat().st_size > 0 for p in out)


@pytest.mark.slow
@pytest.mark.skipif(set(INDEX) != set(CHAPTERS), reason="not every chapter has a published run yet")
def test_the_book_built_from_the_published_runs_shows_everything(tmp_path):
    with mock.patch.dict(os.environ, {"PPSTUDY_BUILD": str(tmp_path / "build")}):
        index = build.build_book(None, root=ROOT, strict=True, progress=False, check=False)
        problems = check_book(
            index.parent, stage.chapter_sources(None, ROOT), strict=False, machine_paths=[str(ROOT), str(tmp_path)]
        )
    assert not problems, "\n".join(problems)
    intro = (index.parent / "book" / "intro.html").read_text()
    assert "reproduced" in intro and "Provenance" in (index.parent / "book" / "etc.html").read_text()
    for ch in CHAPTERS:
        m = json.loads((ROOT / paths.PUBLISHED / ch / INDEX[ch]["main"] / "results.json").read_text())
        assert m["profile"] in (index.parent / "book" / f"{ch}.html").read_text()
