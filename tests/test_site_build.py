"""The whole book builds from the smoke runs and reads well in a real headless browser (offline).

The reader checks (``ppstudy.site.check`` on the HTML, widths and page weight in Chromium) fail the test.
While the chapters are being rewritten, ``PPSTUDY_BOOK_READER_CHECKS=report`` turns their failures into
xfails that list every problem.

The phone and navigation checks run on ``PPSTUDY_BOOK_HTML`` (the folder of a built book's ``index.html``,
e.g. ``_build/_build/html`` from ``ppstudy book``) when it is set, else on the smoke build.
"""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import pytest
from chapter_runs import ensure_run, shared_dir
from sitecheck import (
    CHAPTER_PAGE_LIMIT,
    check_navigation,
    check_phone,
    check_site,
    chromium_path,
    phone_problems,
    phone_table,
    weight_table,
)

from ppstudy.project import paths
from ppstudy.project.chapters import CHAPTERS
from ppstudy.site import build
from ppstudy.site import check as bookcheck

pytestmark = pytest.mark.slow
NO_CHROMIUM = "Debian's chromium is not installed (scripts/setup.sh --browser)"
READER_CHECKS_STRICT = os.environ.get("PPSTUDY_BOOK_READER_CHECKS", "strict") != "report"


def reader_problems(problems: list[str]) -> None:
    if not problems:
        return
    if READER_CHECKS_STRICT:
        pytest.fail("\n".join(problems))
    pytest.xfail(f"{len(problems)} reader problem(s) (PPSTUDY_BOOK_READER_CHECKS=report):\n" + "\n".join(problems))


@pytest.fixture(scope="session")
def book_env(tmp_path_factory):
    shared = shared_dir(tmp_path_factory)
    for name in CHAPTERS:
        ensure_run(name, shared)
    return {"PPSTUDY_RUNS": str(shared / "runs"), "PPSTUDY_BUILD": str(tmp_path_factory.mktemp("build"))}


@pytest.fixture(scope="session")
def built_book(book_env):
    with mock.patch.dict(os.environ, book_env):
        index = build.build_book("smoke", rerun=False, strict=True, progress=False, check=False)
    return index.parent


@pytest.fixture(scope="session")
def site_html(request):
    """The built site the phone and navigation checks open: ``PPSTUDY_BOOK_HTML`` or the smoke build."""
    given = os.environ.get("PPSTUDY_BOOK_HTML")
    return Path(given) if given else request.getfixturevalue("built_book")


@pytest.fixture(scope="session")
def site_reports(built_book):
    return check_site(built_book)


def test_book_has_every_chapter(built_book):
    for name in CHAPTERS:
        page = built_book / "book" / f"{name}.html"
        html = page.read_text()
        assert "paper" in html and "this run (smoke" in html, f"{name}: no paper-vs-measured table"
    assert (built_book / "_static" / "mathjax" / "startup.js").is_file()
    assert not list(built_book.rglob("*.map")), "source maps in the site"
    assert (built_book / "_sources" / "book" / "etc.md").is_file(), "no .md download"


def test_book_passes_bookcheck(built_book, book_env):
    with mock.patch.dict(os.environ, book_env):
        runs = {name: paths.run_dir(name, "smoke") for name in CHAPTERS}
        machine = [str(paths.runs_root()), str(paths.build_root())]
    reader_problems(bookcheck.check_book(built_book, runs, machine_paths=machine, strict=False))


@pytest.mark.browser
@pytest.mark.skipif(chromium_path() is None, reason=NO_CHROMIUM)
def test_book_in_headless_chromium(site_reports):
    reports = site_reports
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
        if r.math_errors:
            problems.append(f"{r.url}: {r.math_errors} math elements render as errors")
    for name in CHAPTERS:
        rep = next(r for r in reports if r.url == f"book/{name}.html")
        if rep.images == 0:
            problems.append(f"book/{name}.html shows no figure")
    assert not problems, "\n".join(problems)


@pytest.mark.browser
@pytest.mark.skipif(chromium_path() is None, reason=NO_CHROMIUM)
def test_book_fits_the_column_and_weighs_little(site_reports):
    print("\n" + weight_table(site_reports))
    problems = [f"{r.url}: {w}" for r in site_reports for w in r.wide]
    for name in CHAPTERS:
        rep = next(r for r in site_reports if r.url == f"book/{name}.html")
        if rep.weight > CHAPTER_PAGE_LIMIT:
            big = ", ".join(f"{u} {n / 1e3:.0f} kB" for u, n in rep.resources[:5])
            problems.append(f"{rep.url}: first load {rep.weight / 1e6:.2f} MB > {CHAPTER_PAGE_LIMIT / 1e6} MB ({big})")
    reader_problems(problems)


@pytest.mark.browser
@pytest.mark.skipif(chromium_path() is None, reason=NO_CHROMIUM)
def test_book_navigation_on_a_phone_and_a_desktop(site_html):
    """390 px: the menu button opens the site navigation, the contents button the page's contents list;
    1400 px: the sidebar toggle hides the sidebar and shows it again (issue 27)."""
    for page in ("book/etc.html", "book/intro.html"):
        rep = check_navigation(site_html, page)
        assert not rep.problems, f"{page}:\n" + "\n".join(rep.problems)


@pytest.mark.browser
@pytest.mark.skipif(chromium_path() is None, reason=NO_CHROMIUM)
def test_book_tables_and_figures_on_a_phone(site_html):
    """390 px: each row of a table of claims (verdicts, the intro's dashboard) shows its claim and its status
    without scrolling sideways, and every figure is drawn as wide as the text column."""
    pages = ["book/intro.html"] + [f"book/{name}.html" for name in CHAPTERS]
    reports = check_phone(site_html, pages)
    print("\n" + phone_table(reports))
    claims = [t for r in reports for t in r.tables if t["claims"]]
    assert len(claims) >= len(CHAPTERS) + 1, "no verdict table or dashboard found"
    assert all(r.figures for r in reports if r.url != "book/intro.html"), "a chapter shows no figure"
    reader_problems(phone_problems(reports))
