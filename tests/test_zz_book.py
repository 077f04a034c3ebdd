"""The whole book builds from the smoke runs and reads well in a real headless browser (offline)."""

from __future__ import annotations

import os
from unittest import mock

import pytest

from chapter_runs import ensure_run, shared_dir
from ppstudy import runner
from ppstudy.chapters import CHAPTERS
from sitecheck import check_site, chromium_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    shared = shared_dir(tmp_path_factory)
    for name in CHAPTERS:
        ensure_run(name, shared)
    build = tmp_path_factory.mktemp("build")
    with mock.patch.dict(os.environ, {"PPSTUDY_RUNS": str(shared / "runs"), "PPSTUDY_BUILD": str(build)}):
        index = runner.build_book("smoke", rerun=False, strict=True, progress=False)
    return index.parent


def test_book_has_every_chapter(built_book):
    for name in CHAPTERS:
        page = built_book / "book" / f"{name}.html"
        html = page.read_text()
        assert "paper" in html and "this run (smoke" in html, f"{name}: no paper-vs-measured table"
    assert (built_book / "_static" / "mathjax" / "tex-chtml.js").is_file()


@pytest.mark.browser
@pytest.mark.skipif(chromium_path() is None, reason="Debian's chromium is not installed (scripts/setup.sh --browser)")
def test_book_in_headless_chromium(built_book):
    reports = check_site(built_book)
    assert len(reports) >= len(CHAPTERS) + 3
    problems = []
    for r in reports:
        if r.console_errors:
            problems.append(f"{r.url}: console errors {r.console_errors}")
        if r.blocked:
            problems.append(f"{r.url}: needs the internet for {r.blocked}")
        if r.failed:
            problems.append(f"{r.url}: failed requests {r.failed}")
        if r.empty_images:
            problems.append(f"{r.url}: images of zero size {r.empty_images}")
        if r.math and r.math_rendered < r.math:
            problems.append(f"{r.url}: {r.math - r.math_rendered} math elements not rendered")
    for name in CHAPTERS:
        rep = next(r for r in reports if r.url == f"book/{name}.html")
        if rep.images == 0:
            problems.append(f"book/{name}.html shows no figure")
    assert not problems, "\n".join(problems)
