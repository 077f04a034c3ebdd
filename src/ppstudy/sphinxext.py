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
  repository (see ``ppstudy.bookconfig``), Binder opens that source, and Colab a notebook when configured.
"""

from __future__ import annotations

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
#: Wide content scrolls inside this class on purpose (the browser test accepts it); nothing else may be
#: wider than the text column.
SCROLL_CLASS = "ppstudy-scroll"
CSS = f""".{SCROLL_CLASS} {{ overflow-x: auto; max-width: 100%; }}
.ppstudy-table {{ margin-bottom: 1.5em; }}
.ppstudy-table > .ppstudy-caption {{ margin-bottom: 0.3em; }}
.ppstudy-table > .{SCROLL_CLASS} > table {{ margin-bottom: 0.3em; }}
.ppstudy-wide table {{ font-size: 0.76em; }}
.ppstudy-wide th, .ppstudy-wide td {{ padding: 0.25em 0.3em; }}
"""
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
    from ppstudy.chapters import remove

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
        if b.get("text") == "Binder":  # open the MyST source: the repository holds no .ipynb
            b["url"] = re.sub(r"(urlpath=[^&]*?)\.ipynb$", r"\1.md", b["url"])
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
    subset_fontawesome(out)
    (out / "_static" / CSS_FILE).write_text(CSS)
    rel = app.config.ppstudy_md_sources
    if rel and (Path(app.srcdir) / rel).is_dir():
        dest = out / "_sources" / "book"
        dest.mkdir(parents=True, exist_ok=True)
        for md in (Path(app.srcdir) / rel).glob("*.md"):
            shutil.copy2(md, dest / md.name)


def setup(app):
    _register_bibliography_style()
    app.add_config_value("ppstudy_md_sources", "", "html")
    app.add_config_value("ppstudy_repository", {}, "html")
    app.connect("config-inited", _config_inited, priority=900)
    app.connect("builder-inited", _builder_inited)
    app.connect("html-page-context", _page_context)
    app.connect("html-page-context", _buttons, priority=600)
    app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "2"}
