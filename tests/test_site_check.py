"""The book's site: the built-HTML checks (ppstudy.site.check), build-time settings (ppstudy.site.config),
the site's post-processing (ppstudy.sphinxext) and a real Jupyter Book build of a page with exercises."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from ppstudy import InputError, PPStudyError
from ppstudy.site import check as bookcheck
from ppstudy.site import config as bookconfig
from ppstudy.site import sphinxext

ROOT = Path(__file__).resolve().parents[1]

CAPTION = "Table 1: EER, SVM with linear kernel, key condition 2"


def png_bytes(seed: int = 0, size: tuple[int, int] = (12, 8), text: str | None = None) -> bytes:
    rng = np.random.default_rng(seed)
    im = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    buf = io.BytesIO()
    info = None
    if text is not None:
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_text("Software", text)
    im.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def cell(output: str, tags: str = "") -> str:
    return (
        f'<div class="cell{" " + tags if tags else ""} docutils container">'
        '<div class="cell_input docutils container"><pre>x = 1</pre></div>'
        f'<div class="cell_output docutils container">{output}</div></div>'
    )


def page(body: str) -> str:
    return f"<html><body><main><article>{body}</article></main></body></html>"


def stream(text: str, kind: str = "stream") -> str:
    return (
        f'<div class="output {kind} highlight-myst-ansi notranslate">'
        f'<div class="highlight"><pre>{text}</pre></div></div>'
    )


GOOD_BODY = (
    "<h1>EtC</h1><p>Prose may mention /tmp/ or a UserWarning: in a sentence.</p>"
    + cell(
        f'<div class="output text_html"><p class="ppstudy-caption"><strong>{CAPTION} [this run (smoke): '
        "bundled]</strong></p><table><tr><td>0.02</td></tr></table></div>"
    )
    + cell('<img alt="fig" src="../_images/3f2a9c.png" />')
    + cell(stream("EER 0.0223"))
)


@pytest.fixture()
def book(tmp_path):
    """A built book with one chapter page, and its run directory."""
    html = tmp_path / "html"
    (html / "book").mkdir(parents=True)
    (html / "_images").mkdir()
    (html / "_images" / "3f2a9c.png").write_bytes(png_bytes(1))
    (html / "index.html").write_text(page("<p>intro</p>"))
    run = tmp_path / "runs" / "etc" / "smoke"
    (run / "figures").mkdir(parents=True)
    (run / "figures" / "fig1_steps.png").write_bytes(png_bytes(1))
    (run / "results.json").write_text(
        json.dumps({"tables": {"table1": {"caption": CAPTION, "columns": [], "rows": []}}, "figures": ["fig1_steps"]})
    )

    def write(body: str) -> Path:
        (html / "book" / "etc.html").write_text(page(body))
        return html

    write(GOOD_BODY)
    return html, run, write


def test_good_page_passes(book):
    html, run, _ = book
    assert bookcheck.check_book(html, {"etc": run}, machine_paths=["/work/wt/book"]) == []


def test_missing_caption_and_figure(book):
    html, run, write = book
    write("<p>nothing</p>")
    problems = bookcheck.check_book(html, {"etc": run}, strict=False)
    assert problems == [
        f"book/etc.html: table 'table1' is not shown (caption {CAPTION!r} not on the page)",
        "book/etc.html: figure 'fig1_steps' is not on the page",
    ]
    with pytest.raises(bookcheck.BookCheckError) as e:
        bookcheck.check_book(html, {"etc": run})
    assert isinstance(e.value, PPStudyError) and e.value.problems == problems
    assert "2 problem(s)" in str(e.value) and "fig1_steps" in str(e.value)


def test_table_without_caption_is_a_problem(book):
    html, run, _ = book
    res = json.loads((run / "results.json").read_text())
    res["tables"]["bare"] = {"caption": "", "columns": [], "rows": []}
    (run / "results.json").write_text(json.dumps(res))
    assert bookcheck.check_book(html, {"etc": run}, strict=False) == ["book/etc.html: table 'bare' has no caption"]


def test_figure_found_by_name_by_pixels_and_as_data_uri(book):
    html, run, write = book
    (html / "_images").joinpath("fig1_steps1.png").write_bytes(b"not compared")
    write(GOOD_BODY.replace("3f2a9c.png", "fig1_steps1.png"))
    assert bookcheck.check_book(html, {"etc": run}) == []  # Sphinx's copy of figures/fig1_steps.png
    # the same pixels with other PNG metadata (e.g. the inline backend's rendering of the same figure)
    (html / "_images" / "inline.png").write_bytes(png_bytes(1, text="matplotlib"))
    assert (html / "_images" / "inline.png").read_bytes() != (run / "figures" / "fig1_steps.png").read_bytes()
    write(GOOD_BODY.replace("3f2a9c.png", "inline.png"))
    assert bookcheck.check_book(html, {"etc": run}) == []
    import base64

    uri = "data:image/png;base64," + base64.b64encode(png_bytes(1)).decode()
    write(GOOD_BODY.replace("../_images/3f2a9c.png", uri))
    assert bookcheck.check_book(html, {"etc": run}) == []


@pytest.mark.parametrize("other", [png_bytes(2), png_bytes(1, size=(13, 8))])
def test_other_image_is_not_the_figure(book, other):
    html, run, _ = book
    (html / "_images" / "3f2a9c.png").write_bytes(other)
    assert bookcheck.check_book(html, {"etc": run}, strict=False) == [
        "book/etc.html: figure 'fig1_steps' is not on the page"
    ]


@pytest.mark.parametrize(
    ("output", "what"),
    [
        (stream('Traceback (most recent call last):\n  File "x.py"', "traceback"), "a traceback"),
        (
            '<div class="output traceback highlight-ipythontb notranslate"><pre>ZeroDivisionError</pre></div>',
            "an error output",
        ),
        (stream("/opt/x.py:3: UserWarning: lr is large", "stderr"), "a Python warning"),
        (stream("TqdmWarning: IProgress not found", "stderr"), "a Python warning"),
        (stream("  warnings.warn(msg)", "stderr"), "a Python warning"),
        (stream("Warning: deprecated"), "a Python warning"),
        (stream(" 40%|████      | 4/10 [00:01&lt;00:02]", "stderr"), "a progress bar"),
        ("<div class=\"output text_plain\"><pre>PosixPath('runs/deid/results.json')</pre></div>", "a PosixPath repr"),
        ('<div class="output text_plain"><pre>&lt;torch._C.Generator at 0x7f3a&gt;</pre></div>', "a torch repr"),
        (
            '<div class="output text_plain"><pre>&lt;matplotlib.figure.Figure at 0x7f3a2c&gt;</pre></div>',
            "an object repr",
        ),
        ('<div class="output text_plain"><pre>&lt;foo.Bar object at 0x10ab&gt;</pre></div>', "an object repr"),
        (stream("saved to /tmp/tmpab12/x.npz"), "a temporary path"),
        (stream("cache: /root/.cache/ppstudy"), "a home path"),
        (stream("cache: /home/alice/.cache"), "a home path"),
        (stream("cache: /Users/alice/.cache"), "a home path"),
        (stream("run dir /work/wt/book/runs/etc"), "the machine path /work/wt/book"),
    ],
)
def test_each_output_problem(book, output, what):
    html, run, write = book
    write(GOOD_BODY + cell(output))
    problems = bookcheck.check_book(html, {"etc": run}, machine_paths=["/work/wt/book"], strict=False)
    assert len(problems) >= 1 and all(p.startswith("book/etc.html: output 4 shows ") for p in problems)
    assert any(f"shows {what}:" in p for p in problems), problems


def test_machine_path_needs_a_path_boundary(book):
    html, run, write = book
    write(GOOD_BODY + cell(stream("/work/wt/bookish is another folder")))
    assert bookcheck.check_book(html, {"etc": run}, machine_paths=["/work/wt/book"]) == []


def test_injected_parameters_cell_shown(book):
    html, run, write = book
    write(GOOD_BODY + cell("", tags="tag_injected-parameters"))
    assert bookcheck.check_book(html, {"etc": run}, strict=False) == [
        "book/etc.html: papermill's injected-parameters cell is shown (tag it remove-cell)"
    ]


@pytest.mark.parametrize(
    "img",
    [
        '<img alt="../_images/3f2a9c.png" src="../_images/3f2a9c.png" />',  # Sphinx's alt for an image without one
        '<img src="../_images/3f2a9c.png" />',
        '<img alt="" src="../_images/3f2a9c.png" />',
        '<img alt="3f2a9c" src="../_images/3f2a9c.png" />',
        '<img alt="figures/fig1_steps.png" src="../_images/3f2a9c.png" />',
        '<img alt="34093eccf55259782a3d75f0e52332dd" src="../_images/3f2a9c.png" />',
    ],
)
def test_image_without_meaningful_alt_text_is_a_problem(book, img):
    html, run, write = book
    write(GOOD_BODY.replace('<img alt="fig" src="../_images/3f2a9c.png" />', img))
    problems = bookcheck.check_book(html, {"etc": run}, strict=False)
    assert len(problems) == 1 and problems[0].startswith(
        "book/etc.html: image ../_images/3f2a9c.png has no meaningful alt text"
    ), problems


def test_meaningful_alt_text():
    assert bookcheck.meaningful_alt("The EtC steps applied to the astronaut", "../_images/3f2a9c.png")
    assert bookcheck.meaningful_alt("fig", "../_images/3f2a9c.png")
    for alt in ("", "  ", None, "x.svg", "../_images/a.png", "a/b", "deadbeefdeadbeef01"):
        assert not bookcheck.meaningful_alt(alt, "../_images/x.png"), alt


def test_static_pages_are_checked_and_missing_pages_reported(book, tmp_path):
    html, run, _ = book
    (html / "book" / "intro.html").write_text(page(cell(stream("PosixPath('x')"))))
    (html / "_static").mkdir()
    (html / "_static" / "x.html").write_text(page(cell(stream("PosixPath('x')"))))  # theme assets: skipped
    problems = bookcheck.check_book(html, {"etc": run, "cup": tmp_path / "nowhere"}, strict=False)
    assert problems == [
        "book/cup.html: the page was not built",
        "book/intro.html: output 1 shows a PosixPath repr: \"PosixPath('x')\"",
    ]


def test_a_check_without_evidence_fails_in_a_run_that_records_evidence(book):
    html, run, _ = book
    res = json.loads((run / "results.json").read_text())
    res["checks"] = {
        "kept": {"claim": "a", "status": "holds", "evidence": {"eer": 0.02, "shown_in": ["table1", "fig1_steps"]}},
        "bare": {"claim": "b", "status": "holds", "evidence": None},
        "elsewhere": {"claim": "c", "status": "holds", "evidence": {"eer": 0.02, "shown_in": ["table9"]}},
    }
    (run / "results.json").write_text(json.dumps(res))
    # a run recorded before evidence was recorded (no flag) is not held to it
    assert bookcheck.check_book(html, {"etc": run}, strict=False) == []
    res["evidence_recorded"] = True
    (run / "results.json").write_text(json.dumps(res))
    assert bookcheck.check_book(html, {"etc": run}, strict=False) == [
        "book/etc.html: check 'bare' records no evidence",
        "book/etc.html: check 'elsewhere': its evidence is shown in 'table9', which the run neither tabled nor drew",
    ]


def test_links_of_verdicts_and_dashboard_lead_somewhere(book):
    html, run, write = book
    link = '<a class="reference internal" href="#ppstudy-table-table1">Table 1</a>'
    fig = '<a class="reference internal ppstudy-figref" href="etc.html#fig-etc-steps">Fig. 1</a>'
    target = '<p class="ppstudy-caption" id="ppstudy-table-table1">T</p><figure id="fig-etc-steps"></figure>'
    write(GOOD_BODY + target + f"<table><tr><td>{link}</td></tr></table>")
    (html / "intro.html").write_text(page(fig.replace("etc.html", "book/etc.html")))
    assert bookcheck.check_book(html, {"etc": run}, strict=False) == []
    write(GOOD_BODY + f"<table><tr><td>{link}</td></tr></table>")  # the targets are gone
    assert bookcheck.check_book(html, {"etc": run}, strict=False) == [
        "book/etc.html: the link 'Table 1' leads to #ppstudy-table-table1, which is not there",
        "intro.html: the link 'Fig. 1' leads to book/etc.html#fig-etc-steps, which is not there",
    ]


def test_figure_links_get_the_figure_number():
    numbers = {"book/etc": {"figure": {"fig-etc-steps": (3,)}}, "book/intro": {}}
    local = '<a class="reference internal ppstudy-figref" href="#fig-etc-steps">Figure</a>'
    other = '<a class="reference internal ppstudy-figref" href="etc.html#fig-etc-steps">Figure</a>'
    unknown = '<a class="reference internal ppstudy-figref" href="#fig-none">Figure</a>'
    assert (
        sphinxext.number_figure_links(local + unknown, "book/etc", numbers)
        == local.replace("Figure<", "Fig. 3<") + unknown
    )
    assert sphinxext.number_figure_links(other, "book/intro", numbers, "Figure %s") == other.replace(
        "Figure<", "Figure 3<"
    )
    assert sphinxext.number_figure_links(local, "book/etc", {}) == local


# ------------------------------------------------------------------------------------------ bookconfig


def test_repository_url_from_the_environment():
    assert bookconfig.repository_url({}) is None
    assert bookconfig.repository_url({"GITHUB_REPOSITORY": "o/r"}) is None
    gh = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "org/ppstudy"}
    assert bookconfig.repository_url(gh) == "https://github.com/org/ppstudy"
    own = {**gh, "PPSTUDY_REPOSITORY_URL": "https://gitlab.com/team/ppstudy.git/"}
    assert bookconfig.repository_url(own) == "https://gitlab.com/team/ppstudy"
    for bad in (
        "github.com/org/repo",
        "https://github.com/org",
        "https://github.com/o/r x",
        "https://example.org/org/repo",
    ):
        with pytest.raises(InputError):
            bookconfig.repository_url({"PPSTUDY_REPOSITORY_URL": bad})


def test_book_settings():
    assert bookconfig.book_settings({}) == {}
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "org/ppstudy", "GITHUB_REF_NAME": "dev"}
    s = bookconfig.book_settings(env)
    assert s["repository"] == {"url": "https://github.com/org/ppstudy", "branch": "dev", "path_to_book": ""}
    assert s["html"] == {"use_repository_button": True}
    assert s["launch_buttons"] == {"binderhub_url": "https://mybinder.org"}
    assert "colab" not in s["sphinx"]["config"]["ppstudy_repository"]
    s = bookconfig.book_settings({**env, "PPSTUDY_NOTEBOOKS_REF": "notebooks"})
    assert s["sphinx"]["config"]["ppstudy_repository"]["colab"] == (
        "https://colab.research.google.com/github/org/ppstudy/blob/notebooks/notebooks"
    )
    s = bookconfig.book_settings({"PPSTUDY_REPOSITORY_URL": "https://gitlab.com/t/p"})
    assert "launch_buttons" not in s and s["repository"]["branch"] == "main"  # Binder/Colab: GitHub only
    hub = {"PPSTUDY_JUPYTERHUB_URL": "https://hub.example.edu/"}
    s = bookconfig.book_settings({"PPSTUDY_REPOSITORY_URL": "https://gitlab.com/t/p", **hub})
    assert s["launch_buttons"] == {"jupyterhub_url": "https://hub.example.edu"}  # a hub pulls from any host
    s = bookconfig.book_settings({**env, **hub})
    assert s["launch_buttons"] == {"jupyterhub_url": "https://hub.example.edu", "binderhub_url": "https://mybinder.org"}
    assert bookconfig.book_settings(hub) == {}  # no repository: nothing to pull
    for bad in ("hub.example.edu", "https://hub.example.edu/a b", "javascript:alert(1)", "https://h/?q=1"):
        with pytest.raises(InputError, match="PPSTUDY_JUPYTERHUB_URL"):
            bookconfig.book_settings({**env, "PPSTUDY_JUPYTERHUB_URL": bad})
    with pytest.raises(InputError):
        bookconfig.book_settings({**env, "GITHUB_REF_NAME": "a b"})


def test_configure_stage(tmp_path):
    stage = tmp_path / "stage"
    stage.mkdir()
    shutil.copy2(ROOT / "_config.yml", stage / "_config.yml")
    before = yaml.safe_load((stage / "_config.yml").read_text())
    assert bookconfig.configure_stage(stage, ROOT, env={}) == {}
    cfg = yaml.safe_load((stage / "_config.yml").read_text())
    assert "repository" not in cfg and cfg["launch_buttons"] == before["launch_buttons"]
    assert bookconfig.MD_SOURCES in cfg["exclude_patterns"]
    assert cfg["sphinx"]["config"]["ppstudy_md_sources"] == bookconfig.MD_SOURCES
    assert cfg["sphinx"]["config"]["bibtex_reference_style"] == "author_year"  # the rest is kept
    for name in ("etc", "pixel", "deid", "cup"):
        staged = stage / bookconfig.MD_SOURCES / f"{name}.md"
        assert staged.read_bytes() == (ROOT / "book" / f"{name}.md").read_bytes()
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "org/ppstudy"}
    bookconfig.configure_stage(stage, ROOT, env=env)
    cfg = yaml.safe_load((stage / "_config.yml").read_text())
    assert cfg["repository"]["url"] == "https://github.com/org/ppstudy"
    assert cfg["html"]["use_repository_button"] is True and cfg["html"]["use_download_button"] is True
    assert cfg["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert cfg["launch_buttons"]["notebook_interface"] == "classic"
    with pytest.raises(InputError):
        bookconfig.configure_stage(tmp_path / "nowhere", ROOT, env={})


# ------------------------------------------------------------------------------------------ sphinxext


def test_strip_source_maps(tmp_path):
    s = tmp_path / "_static"
    (s / "scripts").mkdir(parents=True)
    (s / "scripts" / "a.js").write_text("var a=1;\n//# sourceMappingURL=a.js.map\n")
    (s / "scripts" / "a.js.map").write_text("{}")
    (s / "b.css").write_text("p{}\n/*# sourceMappingURL=b.css.map */")
    (s / "c.js").write_text("var sourceMappingURL = 1;\n")
    assert sphinxext.strip_source_maps(s) == 1
    assert sorted(p.name for p in s.rglob("*")) == ["a.js", "b.css", "c.js", "scripts"]
    assert (s / "scripts" / "a.js").read_text() == "var a=1;\n" and (s / "b.css").read_text() == "p{}\n"
    assert (s / "c.js").read_text() == "var sourceMappingURL = 1;\n"


def test_drop_fontawesome_js(tmp_path):
    (tmp_path / "_static" / "scripts").mkdir(parents=True)
    (tmp_path / sphinxext.FONTAWESOME_JS).write_text("x")
    head = (
        '  <script defer src="../_static/scripts/fontawesome.js?digest=55c2"></script>\n'
        '  <link rel="preload" as="script" href="../_static/scripts/bootstrap.js?digest=55c2" />\n'
    )
    (tmp_path / "p.html").write_text(head)
    assert sphinxext.drop_fontawesome_js(tmp_path) == 1
    assert (tmp_path / "p.html").read_text() == head.splitlines(keepends=True)[1]
    assert not (tmp_path / sphinxext.FONTAWESOME_JS).exists()


VERDICTS = (
    '<table class="table" aria-labelledby="v"><thead><tr><th rowspan="2">claim</th><th colspan="2">value</th>'
    '<th rowspan="2">status</th></tr><tr><th>paper</th><th>this run<br>(smoke)</th></tr></thead><tbody>'
    '<tr><td>Q is orthogonal</td><td>—</td><td class="num">0</td><td>exact</td></tr>'
    "<tr><td>EER falls</td><td>0.02</td><td>0.03 &amp; more</td><td>differs</td></tr></tbody></table>"
)
NUMBERS = (
    '<table class="table"><thead><tr class="row-odd"><th class="head"><p>ratio</p></th>'
    '<th class="head"><p>EER</p></th></tr></thead><tbody><tr class="row-even"><td><p>1/20</p></td>'
    "<td><p>0.02</p></td></tr></tbody></table>"
)


def test_label_tables_labels_cells_and_makes_claims_cards():
    from bs4 import BeautifulSoup

    out = sphinxext.label_tables(f"<p>a</p>{VERDICTS}<p>b</p>{NUMBERS}")
    soup = BeautifulSoup(out, "html.parser")
    verdicts, numbers = soup.find_all("table")
    assert verdicts["class"] == ["ppstudy-cards", "table"] and numbers["class"] == ["table"]
    assert [td.get("data-label") for td in verdicts.find_all("td")] == [
        "claim",
        "value: paper",
        "value: this run (smoke)",
        "status",
    ] * 2
    assert all(th.get("data-label") is None for th in verdicts.find_all("th"))
    assert [td["data-label"] for td in numbers.find_all("td")] == ["ratio", "EER"]
    assert verdicts.find_all("td")[6].get_text() == "0.03 & more"  # the cells themselves are untouched
    assert out.startswith("<p>a</p>") and '<td class="num" data-label=' in out
    assert sphinxext.label_tables(out) == out  # idempotent
    long = NUMBERS.replace("1/20", "a row label that is a sentence of prose, long enough")
    assert "ppstudy-cards" in sphinxext.label_tables(long)


def test_css_makes_cards_on_a_phone():
    css = sphinxext.CSS_SOURCE.read_text()
    assert "@media (max-width: 700px)" in css and "content: attr(data-label)" in css
    assert f"table.{sphinxext.CARDS_CLASS}" in css and f".{sphinxext.SCROLL_CLASS} {{ overflow-x: auto" in css


HEADER = (
    '<header id="pst-header" class="bd-header navbar"><div class="bd-header__inner">\n'
    '  <button class="pst-navbar-icon sidebar-toggle primary-toggle" aria-label="Site navigation">\n'
    '    <span class="fa-solid fa-bars"></span>\n  </button>\n  <div class="navbar-persistent--mobile">search</div>\n'
    '  <button class="pst-navbar-icon sidebar-toggle secondary-toggle" aria-label="On this page">\n'
    '    <span class="fa-solid fa-outdent"></span>\n  </button>\n</div></header>'
)
ARTICLE_TOGGLES = (
    '<div class="bd-header-article"><button class="sidebar-toggle primary-toggle btn btn-sm">x</button>'
    '<button class="sidebar-toggle secondary-toggle btn btn-sm">y</button></div>'
)


def test_drop_duplicate_toggles(tmp_path):
    (tmp_path / "a.html").write_text(f"<body>{HEADER}{ARTICLE_TOGGLES}</body>")
    (tmp_path / "b.html").write_text(f"<body>{HEADER}<p>no article header</p></body>")
    assert sphinxext.drop_duplicate_toggles(tmp_path) == 1
    a = (tmp_path / "a.html").read_text()
    assert a.count("primary-toggle") == 1 and a.count("secondary-toggle") == 1
    assert 'id="pst-header"' in a and "navbar-persistent--mobile" in a and "fa-bars" not in a
    assert ARTICLE_TOGGLES in a
    assert (tmp_path / "b.html").read_text().count("primary-toggle") == 1  # its only toggle stays
    assert sphinxext.drop_duplicate_toggles(tmp_path) == 0


def test_figure_alt_text_from_the_caption():
    from docutils.core import publish_doctree

    doctree = publish_doctree(
        ".. figure:: ../_images/3f2a9c.png\n\n   The EtC steps applied\n   one after the other.\n\n"
        ".. figure:: b.png\n   :alt: Two faces\n\n   Caption b.\n\n"
        ".. figure:: c.png\n   :alt: c.png\n\n   Caption c.\n\n"
        ".. image:: d.png\n",
        settings_overrides={"report_level": 5},
    )
    assert sphinxext.figure_alt_text(doctree) == 2
    from docutils import nodes

    alts = [img.get("alt") for img in doctree.findall(nodes.image)]
    assert alts == ["The EtC steps applied one after the other.", "Two faces", "Caption c.", None]


def test_mathjax_subset(tmp_path):
    files = sphinxext.copy_mathjax(tmp_path / "mathjax")
    names = {p.relative_to(tmp_path / "mathjax").as_posix() for p in files}
    assert {
        "startup.js",
        "core.js",
        "input/tex.js",
        "output/chtml.js",
        "output/chtml/fonts/tex.js",
        "a11y/assistive-mml.js",
        "input/tex/extensions/boldsymbol.js",
    } <= names
    assert any(n.startswith("output/chtml/fonts/woff-v2/") and n.endswith(".woff") for n in names)
    assert not any(n.endswith(".map") or n.startswith(("sre/", "ui/")) for n in names)
    total = sum(p.stat().st_size for p in files)
    assert total < 2_000_000, total  # the whole es5 distribution is ~24 MB


# ------------------------------------------------------------------------------------------ a real build

# The exercise syntax the chapters use (a MyST notebook, as book/<chapter>.md): a plain exercise with a
# hint and a hidden solution, and a gated one (exercise-start/-end) around a starter code cell.
EXERCISE_MD = """\
---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {name: python3, display_name: Python 3, language: python}
---

# Demo chapter

Some text with math $x^2$ and a reference to {ref}`etc-ex-keyspace`.

```{figure} demo.png
:name: fig-demo

The demo figure's caption.
```

| claim | status |
|---|---|
| The demo claim holds | **holds** |

::::{exercise} Key space of 16 × 16 blocks · easy · 10 min
:label: etc-ex-keyspace

Predict how the key space changes when `block` goes from 8 to 16, then run the starter cell.

:::{hint}
:class: dropdown
Count the blocks of a 32 × 32 image first.
:::
::::

::::{solution} etc-ex-keyspace
:label: etc-sol-keyspace
:class: dropdown

Four times fewer blocks, so the block-scrambling factor falls from 16! to 4!.
::::

```{exercise-start} Gated · medium · 15 min
:label: etc-ex-gated
```

Run the starter cell as it is, then change one parameter.

```{code-cell} ipython3
print(2 ** 4)
```

:::{hint}
:class: dropdown
The starter cell needs no edit to the package.
:::

```{exercise-end}
```

```{solution-start} etc-ex-gated
:label: etc-sol-gated
:class: dropdown
```

Sixteen.

```{solution-end}
```
"""


def _notebook(path: Path) -> None:
    import jupytext
    import nbformat

    nb = jupytext.reads(EXERCISE_MD, fmt="md:myst")
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="16\n")]
    nbformat.write(nb, path)


def _build(tmp_path: Path, env: dict[str, str]) -> Path:
    stage = tmp_path / "stage"
    (stage / "book").mkdir(parents=True)
    shutil.copy2(ROOT / "_config.yml", stage / "_config.yml")
    shutil.copy2(ROOT / "book" / "references.bib", stage / "book" / "references.bib")
    (stage / "_toc.yml").write_text("format: jb-book\nroot: book/etc\n")
    _notebook(stage / "book" / "etc.ipynb")
    (stage / "book" / "demo.png").write_bytes(png_bytes(4, size=(40, 30)))
    bookconfig.configure_stage(stage, ROOT, chapters=["etc"], env=env)
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book")
    if jb is None:
        pytest.skip("jupyter-book is not installed")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PPSTUDY_REPOSITORY"))}
    proc = subprocess.run(
        [
            jb,
            "build",
            str(stage),
            "--path-output",
            str(tmp_path / "out"),
            "--builder",
            "html",
            "-W",
            "-n",
            "--keep-going",
        ],
        capture_output=True,
        text=True,
        env=clean,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return tmp_path / "out" / "_build" / "html"


def test_book_builds_exercises_and_download_buttons_without_a_repository(tmp_path):
    from bs4 import BeautifulSoup

    html = _build(tmp_path, env={})
    soup = BeautifulSoup((html / "book" / "etc.html").read_text(), "html.parser")
    ex = soup.select_one("div.exercise#etc-ex-keyspace")
    assert ex is not None and "Key space of 16 × 16 blocks · easy · 10 min" in ex.get_text()
    assert ex.select_one("div.hint.dropdown, div.admonition.hint.dropdown") is not None
    sol = soup.select_one("div.solution#etc-sol-keyspace")
    assert sol is not None and "dropdown" in sol["class"] and "16!" in sol.get_text()
    gated = soup.select_one("div.exercise#etc-ex-gated")
    assert gated is not None and "Gated · medium · 15 min" in gated.get_text()
    assert gated.select_one("div.cell div.cell_output") is not None  # the starter cell is inside
    assert gated.select_one("div.hint.dropdown") is not None
    gsol = soup.select_one("div.solution#etc-sol-gated")
    assert gsol is not None and "dropdown" in gsol["class"] and "Sixteen" in gsol.get_text()
    assert soup.select_one('a[href="#etc-ex-keyspace"]') is not None
    downloads = [a.get("href") for a in soup.select(".dropdown-download-buttons a")]
    assert "../_sources/book/etc.md" in downloads and "../_sources/book/etc.ipynb" in downloads
    assert (html / "_sources" / "book" / "etc.md").read_bytes() == (ROOT / "book" / "etc.md").read_bytes()
    assert soup.select(".dropdown-launch-buttons") == []
    assert "github.com" not in str(soup.select(".article-header-buttons"))
    assert not list(html.rglob("*.map")) and not (html / sphinxext.FONTAWESOME_JS).exists()
    assert "fontawesome.js" not in (html / "book" / "etc.html").read_text()
    # Font Awesome: WOFF subsets that hold every icon the page shows, and nothing else is left of the fonts
    from fontTools.ttLib import TTFont

    fonts = html / sphinxext.FA_FONTS
    assert sorted(p.name for p in fonts.iterdir()) == sorted(f"{f}.woff" for f in sphinxext.FA_FACES)
    cmap = set().union(*(TTFont(str(p)).getBestCmap() for p in fonts.iterdir()))
    icons = {
        0xF019: "download",
        0xF303: "pencil (exercise title)",
        0xF0EB: "lightbulb (hint)",
        0xF065: "expand",
        0xF002: "magnifying glass",
        0xF185: "sun",
        0xF186: "moon",
    }
    assert {cp for cp in icons if cp not in cmap} == set()
    assert sphinxext.fontawesome_codepoints(html) <= cmap
    assert sum(p.stat().st_size for p in fonts.iterdir()) < 30_000
    css = (html / "_static" / "styles" / "pydata-sphinx-theme.css").read_text()
    assert ".woff2" not in css and "fa-solid-900.woff)" in css
    assert (html / "_static" / "mathjax" / "startup.js").is_file()
    assert "mathjax/startup.js" in (html / "book" / "etc.html").read_text()
    # issue 27: the figure's alt text is its caption, table cells carry their header, no second toggle
    assert [img.get("alt") for img in soup.select("figure img")] == ["The demo figure’s caption."]
    assert bookcheck.alt_problems(str(soup)) == []
    claims = next(t for t in soup.select("table") if "claim" in t.get_text())
    assert "ppstudy-cards" in claims["class"]
    assert [td.get("data-label") for td in claims.select("tbody td")] == ["claim", "status"]
    assert len(soup.select(".primary-toggle")) == 1 and len(soup.select(".secondary-toggle")) <= 1
    assert soup.select("#pst-header .primary-toggle, #pst-header .secondary-toggle") == []
    assert (html / "_static" / sphinxext.CSS_FILE).read_text() == sphinxext.CSS_SOURCE.read_text()


def test_book_has_repository_and_launch_buttons_with_a_repository(tmp_path):
    from bs4 import BeautifulSoup

    env = {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "org/ppstudy",
        "GITHUB_REF_NAME": "main",
        "PPSTUDY_NOTEBOOKS_REF": "notebooks",
        "PPSTUDY_JUPYTERHUB_URL": "https://hub.example.edu",
    }
    html = _build(tmp_path, env=env)
    soup = BeautifulSoup((html / "book" / "etc.html").read_text(), "html.parser")
    links = [a.get("href") for a in soup.select(".article-header-buttons a")]
    assert "https://github.com/org/ppstudy" in links
    assert "https://mybinder.org/v2/gh/org/ppstudy/main?urlpath=tree/book/etc.md" in links
    assert "https://colab.research.google.com/github/org/ppstudy/blob/notebooks/notebooks/etc.ipynb" in links
    hub = (
        "https://hub.example.edu/hub/user-redirect/git-pull?repo=https%3A//github.com/org/ppstudy"
        "&urlpath=tree/ppstudy/book/etc.md&branch=main"
    )
    assert hub in links  # the MyST source, as for Binder (the repository holds no .ipynb)


# ------------------------------------------------------------------------------------------ sitecheck


@pytest.mark.browser
def test_sitecheck_flags_wide_elements_and_weighs_pages(tmp_path):
    from sitecheck import check_site, chromium_path

    if chromium_path() is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh --browser)")
    big = png_bytes(3, size=(400, 300))
    (tmp_path / "big.png").write_bytes(big)
    wide_table = "<table><tr>" + "".join(f"<td>column {i}</td>" for i in range(60)) + "</tr></table>"
    (tmp_path / "p.html").write_text(f"""<!doctype html><html><head><style>
        body {{ margin: 0 }} article.bd-article {{ width: 784px; padding: 0 10px }} img {{ max-width: 100% }}
        .ppstudy-scroll {{ overflow-x: auto; max-width: 100% }}</style></head><body><main>
        <article class="bd-article">
          <div id="a">{wide_table.replace("<table>", '<table id="t-wide">')}</div>
          <div class="ppstudy-scroll">{wide_table.replace("<table>", '<table id="t-scroll">')}</div>
          <div style="overflow-x: auto">{wide_table.replace("<table>", '<table id="t-auto">')}</div>
          <img id="i-small" src="big.png" style="width: 200px">
          <img id="i-wide" src="big.png" style="width: 1000px; max-width: none">
          <table id="t-narrow"><tr><td>fits</td></tr></table>
        </article></main></body></html>""")
    (rep,) = check_site(tmp_path, ["p.html"])
    assert rep.column_px == 784
    flagged = sorted(w.split()[1] for w in rep.wide)
    assert flagged == ["#i-wide", "#t-auto", "#t-wide"], rep.wide
    assert len(big) < rep.weight < len(big) + 20_000  # the page and the image once (cached for the 2nd img)
    assert rep.weight_raw >= rep.weight - 2_000
    assert rep.scaled_images == [("big.png", 400, 200)]  # drawn at 400 px, shown at 200 px
    assert not (rep.console_errors or rep.failed or rep.blocked)


# ------------------------------------------------------------------------------- numbering and references
def _chapter_notebook(path: Path, chapter: str, text: str) -> None:
    """A chapter notebook whose text is ``text`` (MyST) and whose one output is the run's table ``t1``."""
    import nbformat

    from ppstudy.kernel.run import Run
    from ppstudy.render import render_table

    run = Run(chapter, "quick", {}, path.parent / f"run-{chapter}", data="toy")
    run.table("t0", [{"x": 0}], caption="First table", show=False)
    run.manifest["tables"]["t0"]["number"] = 1
    run.table("t1", [{"x": 1}], caption="Second table", show=False)
    run.manifest["tables"]["t1"]["number"] = 2
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    code = nbformat.v4.new_code_cell("run.table(...)")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": render_table(run.manifest, n)}) for n in ("t0", "t1")
    ]
    nb.cells = [nbformat.v4.new_markdown_cell(text), code]
    nbformat.write(nb, path)


def _numbered_book(tmp_path: Path, pixel_text: str) -> Path:
    stage = tmp_path / "stage"
    (stage / "book").mkdir(parents=True)
    shutil.copy2(ROOT / "_config.yml", stage / "_config.yml")
    shutil.copy2(ROOT / "book" / "references.bib", stage / "book" / "references.bib")
    toc = (ROOT / "_toc.yml").read_text()
    numbered = next(line.strip() for line in toc.splitlines() if line.strip().startswith("numbered:"))
    (stage / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nparts:\n  - caption: Chapters\n"
        f"    {numbered}\n    chapters:\n      - file: book/etc\n      - file: book/pixel\n"
    )
    (stage / "book" / "intro.md").write_text("# Intro\n\nThe book.\n")
    (stage / "book" / "demo.png").write_bytes(png_bytes(4, size=(40, 30)))
    fig = "\n\n```{figure} demo.png\n:name: fig-%s\n:alt: a demo figure\n\nA demo figure.\n```\n"
    _chapter_notebook(
        stage / "book" / "etc.ipynb",
        "etc",
        "# EtC\n\nSee {tabref}`t0`, {tabref}`t1` and {numref}`fig-etc`." + fig % "etc",
    )
    _chapter_notebook(stage / "book" / "pixel.ipynb", "pixel", "# Pixel\n\n" + pixel_text + fig % "pixel")
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book")
    if jb is None:
        pytest.skip("jupyter-book is not installed")
    out = tmp_path / "out"
    proc = subprocess.run(
        [jb, "build", str(stage), "--path-output", str(out), "--builder", "html", "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out / "_build" / "html"


def test_tables_and_figures_are_numbered_per_chapter_and_referred_to_by_number(tmp_path):
    from bs4 import BeautifulSoup

    html = _numbered_book(tmp_path, "As {tabref}`t1` and {numref}`fig-pixel` show; {tabref}`t0` too.")
    page = (html / "book" / "pixel.html").read_text()
    soup = BeautifulSoup(page, "html.parser")
    assert "Table 2.2. Second table" in soup.get_text() and "Table 2.1. First table" in soup.get_text()
    links = {a["href"]: a.get_text() for a in soup.select("main a[href^='#']:not(.headerlink)")}
    assert links["#ppstudy-table-t1"] == "Table 2.2" and links["#ppstudy-table-t0"] == "Table 2.1"
    assert links["#fig-pixel"] == "Fig. 2.1"  # Sphinx numbers figures per chapter, as the tables are
    assert soup.select_one("figure#fig-pixel .caption-number").get_text().strip().startswith("Fig. 2.1")
    flagged = {bookcheck.REFERENCES_FLAG: True}
    assert bookcheck.reference_problems(page, flagged) == []
    etc = (html / "book" / "etc.html").read_text()
    assert "Table 1.2. Second table" in etc and bookcheck.reference_problems(etc, flagged) == []


def test_the_book_check_finds_tables_and_figures_the_text_never_refers_to(tmp_path):
    html = _numbered_book(tmp_path, "Only {tabref}`t1` is referred to; a link to {tabref}`missing` leads nowhere.")
    page_path = html / "book" / "pixel.html"
    page = page_path.read_text()
    problems = bookcheck.reference_problems(page, {bookcheck.REFERENCES_FLAG: True})
    assert len(problems) == 2
    assert "Table 2.1. First table" in problems[0] and "fig-pixel" in problems[1]
    assert bookcheck.reference_problems(page, {}) == []  # a run whose chapter does not claim it is not held to it
    # the evidence links inside a table do not count as the text referring to it
    inside = page.replace(
        '<p class="ppstudy-caption"', '<a href="#ppstudy-table-t0">x</a><p class="ppstudy-caption"', 1
    )
    assert len(bookcheck.reference_problems(inside, {bookcheck.REFERENCES_FLAG: True})) == 2
    assert any("missing" in p and "not there" in p for p in bookcheck.link_problems(page, page_path))
