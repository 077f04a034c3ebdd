"""Sphinx extension used by the book: a light site that works offline.

- MathJax 3 is served from the built site, not a CDN, and only the components the pages load are shipped:
  the loader (``startup.js``), ``core``, TeX input, CommonHTML output with its TeX font data and web fonts,
  the assistive MathML, and the TeX extensions that ``autoload`` fetches when a page uses their macros.
  The files come from the ``django-static-mathjax`` wheel (MathJax 3.2.2, es5 build; it has no dependency
  on Django).
- No source maps (``*.map``) in ``_static/`` and no ``sourceMappingURL`` comments pointing at them.
- The theme's Font Awesome script (1.5 MB, it swaps icons for inline SVG) is dropped: the theme's CSS and
  web fonts draw the same icons, and those fonts are cut down to the glyphs the site uses (WOFF subsets
  made with fontTools, a dependency of matplotlib).
- Chapter pages offer their MyST source (``.md``) beside the executed ``.ipynb`` for download; with a known
  repository (see :mod:`ppstudy.site.config`), Binder opens that source, and Colab a notebook when configured.
- Navigation works with pydata-sphinx-theme 0.17: that version adds its own sidebar toggles to its header
  bar (hidden under sphinx-book-theme) ahead of the book theme's, and both themes' scripts bind their
  listeners to the first ``.primary-toggle`` / ``.secondary-toggle`` of the page only, so the visible buttons
  did nothing (pydata-sphinx-theme issue 2451). The header's copies are removed from every page.
- Every cell of a table carries its column's header as ``data-label``; tables of claims or prose (class
  ``ppstudy-cards``) become one card per row on a phone (``static/ppstudy.css``).
- An image inside a figure whose alt text is missing or is a file path gets the figure's caption as alt.
"""

from __future__ import annotations

import html as _html
import posixpath
import re
import shutil
from pathlib import Path

MATHJAX_ENTRY = "mathjax/startup.js"
#: MathJax components named in the loader configuration (the loader adds ``core``).
MATHJAX_LOAD = ["input/tex", "output/chtml", "a11y/assistive-mml"]
#: Files and folders (relative to the es5 build) copied into ``_static/mathjax``.
MATHJAX_FILES = [
    "startup.js",
    "core.js",
    "input/tex.js",
    "input/tex/extensions",
    "output/chtml.js",
    "output/chtml/fonts/tex.js",
    "output/chtml/fonts/woff-v2",
    "a11y/assistive-mml.js",
]
FONTAWESOME_JS = "_static/scripts/fontawesome.js"
CSS_FILE = "ppstudy.css"
#: The book's style sheet, shipped in the package (copied to ``_static/`` at the end of the build).
CSS_SOURCE = Path(__file__).parents[1] / "static" / CSS_FILE
#: Wide content scrolls inside this class on purpose (the browser test accepts it); nothing else may be
#: wider than the text column.
SCROLL_CLASS = "ppstudy-scroll"
#: Tables shown as one card per row on narrow screens (see ``static/ppstudy.css``).
CARDS_CLASS = "ppstudy-cards"
#: A table becomes cards when a header names a claim or a body cell holds this many characters of prose.
CARDS_MIN_TEXT = 40
FA_FONTS = "_static/vendor/fontawesome/webfonts"
FA_FACES = ("fa-solid-900", "fa-regular-400", "fa-brands-400")
_FA_RULE = re.compile(r"((?:\.fa-[\w-]+:(?:before|after),?)+)\{content:\s*\"\\([0-9a-fA-F]{4,5})\"\}")
_FA_NAME = re.compile(r"\bfa-[a-z0-9]+(?:-[a-z0-9]+)*")
_GLYPH = re.compile(r"\\([eEfF][0-9a-fA-F]{3})\b")
_FA_SRC = re.compile(
    r'url\(([^)]*?)(fa-(?:solid-900|regular-400|brands-400))\.woff2\)\s*format\("woff2"\)'
    r'\s*,\s*url\([^)]*?\.ttf\)\s*format\("truetype"\)'
)
_SOURCEMAP = re.compile(rb"\n?(//# sourceMappingURL=[^\n]*|/\*# sourceMappingURL=[^*]*\*/)\s*$")
_FA_TAG = re.compile(r'[ \t]*<script[^>]*src="[^"]*_static/scripts/fontawesome\.js[^"]*"[^>]*></script>\n?')
_PST_HEADER = re.compile(r'<header\b[^>]*\bid="pst-header"[^>]*>.*?</header>', re.S)
_TOGGLE = re.compile(r'<button\b[^>]*\bclass="[^"]*\b(?:primary|secondary)-toggle\b[^"]*"[^>]*>.*?</button>\s*', re.S)
_TABLE = re.compile(r"<table\b[^>]*>.*?</table>", re.S)
_CELL = re.compile(r"<(td|th)\b([^>]*)>")


def _last_names(person) -> str:
    from pybtex.richtext import Text

    return Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")


def author_year_label(entry) -> str:
    """``Kawamura et al., 2020``; ``Fan and Vercauteren, 2012``; ``Krizhevsky, 2009``."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_last_names(p) for p in persons]
    if not names:
        who = entry.fields.get("organization") or entry.fields.get("title") or entry.key
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


def _register_bibliography_style() -> None:
    """pybtex styles ``ppstudy``: unsrt entries, author-year labels (``a``/``b`` when two are equal), sorted by
    author, year and title."""
    from collections import Counter

    from pybtex.plugin import register_plugin
    from pybtex.style.formatting.unsrt import Style as Unsrt
    from pybtex.style.labels import BaseLabelStyle
    from pybtex.style.sorting.author_year_title import SortingStyle as AuthorYearTitle

    class AuthorYearLabels(BaseLabelStyle):
        def format_labels(self, sorted_entries):
            labels = [author_year_label(e) for e in sorted_entries]
            counts, seen = Counter(labels), Counter[str]()
            for lab in labels:
                if counts[lab] > 1:
                    seen[lab] += 1
                    yield lab + "abcdefghijklmnopqrstuvwxyz"[seen[lab] - 1]
                else:
                    yield lab

    class PlainNameSorting(AuthorYearTitle):
        """author_year_title on the names as printed: an organisation written ``{Vision Cortex}`` sorts under
        V, not after every letter (its brace)."""

        def person_key(self, person):
            return _last_names(person).lower() + "  " + super().person_key(person)

    class AuthorYearStyle(Unsrt):
        default_label_style = "ppstudy_author_year"
        default_sorting_style = "ppstudy_plain_names"

    register_plugin("pybtex.style.labels", "ppstudy_author_year", AuthorYearLabels, force=True)
    register_plugin("pybtex.style.sorting", "ppstudy_plain_names", PlainNameSorting, force=True)
    register_plugin("pybtex.style.formatting", "ppstudy", AuthorYearStyle, force=True)


def mathjax_source() -> Path:
    import mathjax  # the django-static-mathjax distribution

    src = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    missing = [f for f in MATHJAX_FILES if not (src / f).exists()]
    if missing:  # pragma: no cover - broken install
        raise FileNotFoundError(f"MathJax es5 build under {src} lacks {missing}")
    return src


def copy_mathjax(dest: Path) -> list[Path]:
    """Copy the MathJax subset into ``dest`` (``_static/mathjax``); return the files written."""
    from ppstudy.project.paths import remove

    src = mathjax_source()
    remove(dest, dest.parent)  # a link there is unlinked, never followed
    for rel in MATHJAX_FILES:
        s, d = src / rel, dest / rel
        d.parent.mkdir(parents=True, exist_ok=True)
        if s.is_dir():
            shutil.copytree(s, d)
        else:
            shutil.copy2(s, d)
    return sorted(p for p in dest.rglob("*") if p.is_file())


def strip_source_maps(static: Path) -> int:
    """Delete ``*.map`` files under ``static`` and the comments that point at them; return files deleted."""
    n = 0
    for p in list(static.rglob("*.map")):
        p.unlink()
        n += 1
    for p in static.rglob("*"):
        if p.suffix in (".js", ".css") and p.is_file():
            data = p.read_bytes()
            new = _SOURCEMAP.sub(b"\n", data)
            if new != data:
                p.write_bytes(new)
    return n


def drop_fontawesome_js(outdir: Path) -> int:
    """Remove the Font Awesome script tag from every page and the script itself; return pages changed."""
    n = 0
    for page in outdir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        new = _FA_TAG.sub("", text)
        if new != text:
            page.write_text(new, encoding="utf-8")
            n += 1
    for p in (outdir / FONTAWESOME_JS, outdir / (FONTAWESOME_JS + ".LICENSE.txt")):
        if p.is_file():
            p.unlink()
    return n


def drop_duplicate_toggles(outdir: Path) -> int:
    """Remove the sidebar toggles of pydata-sphinx-theme's header bar (0.17 and later) from pages that have the
    book theme's own toggles; return the pages changed.

    Both themes' scripts attach their click handlers to ``document.querySelector(".primary-toggle")`` (and
    ``.secondary-toggle``), the first such button of the page: that is the header's copy, which
    sphinx-book-theme hides, so the visible buttons of the article header did nothing (no drawer on a phone,
    no collapsing sidebar on a desktop)."""
    n = 0
    for page in outdir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        m = _PST_HEADER.search(text)
        if m is None:
            continue
        header = m.group(0)
        rest = text[: m.start()] + text[m.end() :]
        if not _TOGGLE.search(header) or not _TOGGLE.search(rest):
            continue
        page.write_text(text[: m.start()] + _TOGGLE.sub("", header) + text[m.end() :], encoding="utf-8")
        n += 1
    return n


def _cell_text(el) -> str:
    return re.sub(r"\s+", " ", el.get_text(" ")).strip()


def _span(cell, name: str) -> int:
    try:
        return max(1, int(cell.get(name, 1)))
    except (TypeError, ValueError):
        return 1


def _layout(rows) -> list[list[tuple[int, int]]]:
    """For each row, each cell's (first column, number of columns), honouring rowspan and colspan."""
    taken: set[tuple[int, int]] = set()
    out = []
    for r, tr in enumerate(rows):
        c, cells = 0, []
        for cell in tr.find_all(["td", "th"], recursive=False):
            while (r, c) in taken:
                c += 1
            rs, cs = _span(cell, "rowspan"), _span(cell, "colspan")
            taken |= {(r + i, c + j) for i in range(rs) for j in range(cs)}
            cells.append((c, cs))
            c += cs
        out.append(cells)
    return out


def label_table(table_html: str) -> str:
    """One ``<table>`` (HTML text) with each body cell's column header as ``data-label`` (a column under a
    grouped header reads ``group: header``), and the class ``ppstudy-cards`` when it holds claims or prose."""
    from bs4 import BeautifulSoup

    if table_html.count("<table") != 1:  # a nested table: leave it as it is
        return table_html
    table = BeautifulSoup(table_html, "html.parser").find("table")
    if table is None:
        return table_html
    rows = table.find_all("tr")
    head = [tr for tr in rows if tr.find_parent("thead") is not None]
    if not head and rows and not rows[0].find("td"):
        head = rows[:1]
    body = [tr for tr in rows if tr not in head]
    if not head or not body:
        return table_html
    columns: dict[int, list[str]] = {}
    for tr, cells in zip(head, _layout(head), strict=True):
        for cell, (c, cs) in zip(tr.find_all(["td", "th"], recursive=False), cells, strict=True):
            for j in range(c, c + cs):
                columns.setdefault(j, []).append(_cell_text(cell))
    header = {c: ": ".join(t for t in dict.fromkeys(texts) if t) for c, texts in columns.items()}
    labels: dict[int, str] = {}  # id() of a body cell -> its label
    longest = 0
    for tr, cells in zip(body, _layout(body), strict=True):
        for cell, (c, _) in zip(tr.find_all(["td", "th"], recursive=False), cells, strict=True):
            labels[id(cell)] = header.get(c, "")
            longest = max(longest, len(_cell_text(cell)))
    order = [labels.get(id(cell)) for cell in table.find_all(["td", "th"])]
    matches = list(_CELL.finditer(table_html))
    if len(order) != len(matches):  # markup the parser read otherwise: leave it
        return table_html
    out, pos = [], 0
    for m, label in zip(matches, order, strict=True):
        out.append(table_html[pos : m.end(2)])
        if label and "data-label=" not in m.group(2):
            out.append(f' data-label="{_html.escape(label, quote=True)}"')
        pos = m.end(2)
    out.append(table_html[pos:])
    new = "".join(out)
    cards = longest >= CARDS_MIN_TEXT or any("claim" in t.lower() for t in header.values())
    start = re.match(r"<table\b[^>]*>", new)
    if start is None:  # text before the table: leave it
        return new
    opening = start.group(0)
    if cards and CARDS_CLASS not in opening:
        if re.search(r'\bclass="', opening):
            tagged = re.sub(r'\bclass="', f'class="{CARDS_CLASS} ', opening, count=1)
        else:
            tagged = opening[:-1] + f' class="{CARDS_CLASS}">'
        new = tagged + new[len(opening) :]
    return new


def label_tables(html: str) -> str:
    """:func:`label_table` on every table of a page's HTML."""
    if "<table" not in html:
        return html
    return _TABLE.sub(lambda m: label_table(m.group(0)), html)


#: class of the links the ``{tabref}`` role writes; their text becomes the table's label ("Table 1.2")
TABREF_CLASS = "ppstudy-tabref"
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_CAPTION = re.compile(r'<p class="ppstudy-caption" id="ppstudy-table-([^"]+)">(Table [0-9.]+)\. ')
_TABREF = re.compile(r'(<a class="reference internal ' + TABREF_CLASS + r'" href="#ppstudy-table-([^"]+)">)Table(</a>)')


def tabref_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{tabref}`table2``` in a chapter's text: a link to the run's table ``table2`` on the same page, its
    text the table's label ("Table 2.1", filled in by :func:`number_table_links` once the page is
    rendered: the number is the run's)."""
    from docutils import nodes

    from ppstudy.render import table_anchor

    table = text.strip()
    if not _TABLE_NAME.match(table):
        msg = inliner.reporter.error(f"tabref: {table!r} is not a table name", line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    html = f'<a class="reference internal {TABREF_CLASS}" href="#{table_anchor(table)}">Table</a>'
    return [nodes.raw(rawtext, html, format="html")], []


def number_table_links(html: str) -> str:
    """The ``{tabref}`` links of a page with the label of the table they lead to, read from the table's
    caption on the same page; a link to a table the page does not show keeps "Table" (the book check
    reports it as a link to nothing)."""
    if TABREF_CLASS not in html:
        return html
    labels = {m.group(1): m.group(2) for m in _CAPTION.finditer(html)}
    return _TABREF.sub(
        lambda m: m.group(1) + labels[m.group(2)] + m.group(3) if m.group(2) in labels else m.group(0), html
    )


_FIGREF = re.compile(r'(<a class="reference internal ppstudy-figref" href="([^"#]*)#([^"]+)">)Figure(</a>)')


def number_figure_links(html: str, pagename: str, fignumbers, fmt: str = "Fig. %s") -> str:
    """The figure links of verdict tables and the dashboard (:func:`ppstudy.render.shown_in_links`, text
    "Figure") with the figure's number as text (``fignumbers``: Sphinx's ``env.toc_fignumbers``, by page;
    ``fmt``: ``numfig_format["figure"]``); a figure Sphinx did not number keeps "Figure"."""

    def number(m: re.Match) -> str:
        page, ident = _html.unescape(m.group(2)), m.group(3)
        doc = pagename
        if page:
            stem = page[: -len(".html")] if page.endswith(".html") else page
            doc = posixpath.normpath(posixpath.join(posixpath.dirname(pagename), stem))
        num = ((fignumbers or {}).get(doc) or {}).get("figure", {}).get(ident)
        if not num:
            return m.group(0)
        return m.group(1) + _html.escape(fmt % ".".join(str(n) for n in num)) + m.group(4)

    return _FIGREF.sub(number, html) if "ppstudy-figref" in html else html


def figure_alt_text(doctree) -> int:
    """Give every image inside a figure whose alt text is missing or a file name/path the figure's caption as
    alt text (Sphinx's HTML writer otherwise writes the image's path); return the images changed."""
    from docutils import nodes

    from ppstudy.site.check import meaningful_alt

    n = 0
    for fig in doctree.findall(nodes.figure):
        cap = next(iter(fig.findall(nodes.caption)), None)
        text = re.sub(r"\s+", " ", cap.astext()).strip() if cap is not None else ""
        if not text:
            continue
        for img in fig.findall(nodes.image):
            if not meaningful_alt(img.get("alt", ""), img.get("uri", "")):
                img["alt"] = text
                n += 1
    return n


def fontawesome_codepoints(outdir: Path) -> set[int]:
    """Code points of the Font Awesome glyphs the site can show: icon classes named in its HTML and scripts,
    and glyphs that its style sheets draw themselves (admonition and link icons)."""
    static = outdir / "_static"
    css = {p: p.read_text(encoding="utf-8", errors="replace") for p in static.rglob("*.css")}
    by_name: dict[str, int] = {}
    other: set[int] = set()
    for text in css.values():
        for sels, cp in _FA_RULE.findall(text):
            for name in re.findall(r"\.(fa-[\w-]+):", sels):
                by_name[name] = int(cp, 16)
        rest = _FA_RULE.sub("", text)
        other |= {int(cp, 16) for cp in _GLYPH.findall(rest)} | _private_use(rest)
    used: set[str] = set()
    for p in list(outdir.rglob("*.html")) + list(static.rglob("*.js")):
        text = p.read_text(encoding="utf-8", errors="replace")
        used |= set(_FA_NAME.findall(text))
        other |= _private_use(text)
    return other | {by_name[n] for n in used if n in by_name}


def _private_use(text: str) -> set[int]:
    """Literal characters of Unicode's private use area (where Font Awesome keeps its glyphs)."""
    return {ord(c) for c in set(text) if 0xE000 <= ord(c) <= 0xF8FF}


def subset_fontawesome(outdir: Path) -> dict[str, int]:
    """Replace the theme's Font Awesome web fonts (~300 kB of woff2 loaded by every page) by WOFF subsets
    holding only the glyphs the site uses; return the size of each subset."""
    from fontTools import subset

    fonts = outdir / FA_FONTS
    if not all((fonts / f"{face}.ttf").is_file() for face in FA_FACES):
        return {}
    unicodes = sorted(fontawesome_codepoints(outdir))
    sizes = {}
    for face in FA_FACES:
        opts = subset.Options()
        opts.flavor = "woff"
        opts.layout_features = ["*"]
        opts.notdef_outline = True
        font = subset.load_font(str(fonts / f"{face}.ttf"), opts)
        sub = subset.Subsetter(opts)
        sub.populate(unicodes=unicodes)
        sub.subset(font)
        subset.save_font(font, str(fonts / f"{face}.woff"), opts)
        sizes[face] = (fonts / f"{face}.woff").stat().st_size
    for p in (outdir / "_static").rglob("*.css"):
        text = p.read_text(encoding="utf-8")
        new = _FA_SRC.sub(lambda m: f'url({m.group(1)}{m.group(2)}.woff) format("woff")', text)
        if new != text:
            p.write_text(new, encoding="utf-8")
    for face in FA_FACES:
        for ext in ("woff2", "ttf"):
            (fonts / f"{face}.{ext}").unlink(missing_ok=True)
    return sizes


def _config_inited(app, config) -> None:
    config.mathjax_path = MATHJAX_ENTRY
    mj = dict(config.mathjax3_config or {})
    loader = dict(mj.get("loader") or {})
    loader["load"] = list(dict.fromkeys(list(loader.get("load") or []) + MATHJAX_LOAD))
    mj["loader"] = loader
    config.mathjax3_config = mj


def _doctree_resolved(app, doctree, docname) -> None:
    figure_alt_text(doctree)


def _label_tables(app, pagename, templatename, context, doctree) -> None:
    if context.get("body"):
        fmt = (getattr(app.config, "numfig_format", None) or {}).get("figure", "Fig. %s")
        body = number_figure_links(context["body"], pagename, getattr(app.env, "toc_fignumbers", {}), fmt)
        context["body"] = label_tables(number_table_links(body))


def _builder_inited(app) -> None:
    if app.builder.format == "html":
        app.add_css_file(CSS_FILE)


def _md_source(app, pagename: str) -> Path | None:
    rel = app.config.ppstudy_md_sources
    if not rel or not pagename.startswith("book/"):
        return None
    p = Path(app.srcdir) / rel / f"{pagename.split('/', 1)[1]}.md"
    return p if p.is_file() else None


def _page_context(app, pagename, templatename, context, doctree) -> None:
    """Set the theme's default colour mode and drop sphinx-thebe's scripts: the book has no live kernels, and
    jupyter-book registers thebe's configuration twice, which the browser reports as a redeclared constant."""
    if not context.get("default_mode"):
        context["default_mode"] = "light"  # else pydata-sphinx-theme logs "invalid theme mode" on a first visit
    scripts = context.get("script_files")
    if scripts:
        context["script_files"] = [
            s for s in scripts if "thebe" not in (str(s) + str(getattr(s, "attributes", {}).get("body", "")))
        ]


def _buttons(app, pagename, templatename, context, doctree) -> None:
    """After the theme's header buttons: a ``.md`` download, and launch links that open files that exist."""
    buttons = context.get("header_buttons")
    md = _md_source(app, pagename)
    if buttons is None or md is None:
        return
    pathto = context["pathto"]
    chapter = pagename.split("/", 1)[1]
    for group in buttons:
        if group.get("label") == "download-buttons":
            group["buttons"].insert(
                0,
                {
                    "type": "link",
                    "url": f"{pathto('_sources', 1)}/{pagename}.md",
                    "text": ".md",
                    "icon": "fas fa-file",
                    "tooltip": "Download the chapter's MyST source (no outputs)",
                    "label": "download-myst-button",
                },
            )
    repo = app.config.ppstudy_repository or {}
    launch = next((g for g in buttons if g.get("label") == "launch-buttons"), None)
    if launch is None and repo.get("colab"):
        launch = {
            "type": "group",
            "tooltip": "Launch interactive content",
            "icon": "fas fa-rocket",
            "buttons": [],
            "label": "launch-buttons",
        }
        buttons.append(launch)
    if launch is None:
        return
    for b in launch["buttons"]:
        if b.get("text") in ("Binder", "JupyterHub"):  # open the MyST source: the repository holds no .ipynb
            b["url"] = re.sub(r"(urlpath=[^&]*?)\.ipynb(?=&|$)", r"\1.md", b["url"])
    launch["buttons"] = [b for b in launch["buttons"] if b.get("text") != "Colab"]
    if repo.get("colab"):
        launch["buttons"].append(
            {
                "type": "link",
                "text": "Colab",
                "tooltip": "Launch on Colab",
                "icon": "_static/images/logo_colab.png",
                "url": f"{repo['colab']}/{chapter}.ipynb",
            }
        )


def _build_finished(app, exc) -> None:
    if exc is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    copy_mathjax(out / "_static" / "mathjax")
    strip_source_maps(out / "_static")
    drop_fontawesome_js(out)
    drop_duplicate_toggles(out)
    subset_fontawesome(out)
    shutil.copyfile(CSS_SOURCE, out / "_static" / CSS_FILE)
    rel = app.config.ppstudy_md_sources
    if rel and (Path(app.srcdir) / rel).is_dir():
        dest = out / "_sources" / "book"
        dest.mkdir(parents=True, exist_ok=True)
        for md in (Path(app.srcdir) / rel).glob("*.md"):
            shutil.copy2(md, dest / md.name)


def setup(app):
    _register_bibliography_style()
    app.add_config_value("ppstudy_md_sources", "", "html")
    app.add_role("tabref", tabref_role)
    app.add_config_value("ppstudy_repository", {}, "html")
    app.connect("config-inited", _config_inited, priority=900)
    app.connect("builder-inited", _builder_inited)
    app.connect("html-page-context", _page_context)
    app.connect("html-page-context", _buttons, priority=600)
    app.connect("html-page-context", _label_tables)
    app.connect("doctree-resolved", _doctree_resolved)
    app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "3"}
