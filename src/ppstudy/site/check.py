"""Checks of the built HTML book that a reader would otherwise find by eye.

``check_book`` is run at the end of :func:`ppstudy.site.build.build_book`. For each chapter page it checks that

- every table recorded with ``run.table`` shows its caption, and every registered figure
  (``results.json`` ``"figures"``: files ``figures/<name>.png``) is on the page: an image whose file name is
  the figure's name, or whose bytes or decoded pixels equal the saved PNG/SVG;
- in a run that records evidence (``"evidence_recorded": true``, runs made since chapters record it), every
  check carries its evidence and names in ``shown_in`` only tables and figures of the run;
- in a run whose chapter refers to everything it shows (``"text_references_all": true``), the text (not a
  table) links to every table and every figure on the page at least once;

and for every page that each image of the article has alt text that says something (not missing, empty,
a file name or path, or a hash: Sphinx writes an image's path as its alt when it has none), and that no cell
output holds a traceback, a Python warning, a progress bar, a ``PosixPath``
or ``<torch.`` repr, an object address (``<... at 0x...>``), a temporary or home path, or one of the given
machine paths, that papermill's injected-parameters cell is not shown, and that the links of verdict tables
and the dashboard to a table or figure lead to one.

The browser-side checks (widths at 1400 px, page weight) are in ``tests/sitecheck.py``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ppstudy import PPStudyError
from ppstudy.manifest.status import EVIDENCE_FLAG, REFERENCES_FLAG, evidence_missing
from ppstudy.render import shown_in

#: Text that must never appear in a cell output: (what it is, pattern).
OUTPUT_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("a traceback", re.compile(r"Traceback \(most recent call last\)")),
    ("a Python warning", re.compile(r"\b[A-Za-z]*Warning: |warnings\.warn|TqdmWarning")),
    ("a progress bar", re.compile(r"\d{1,3}%\|")),
    ("a PosixPath repr", re.compile(r"\b(Posix|Windows)Path\b")),
    ("a torch repr", re.compile(r"<torch\.")),
    ("an object repr", re.compile(r"<[A-Za-z_][\w.]* (object )?at 0x[0-9a-fA-F]+>")),
    ("a temporary path", re.compile(r"/tmp/|/var/folders/")),
    ("a home path", re.compile(r"/root/|/home/|/Users/|[A-Za-z]:\\Users\\")),
]
#: Alt text that is a file name or path (``../_images/3f2a.png``, ``figures/fig1.svg``) or holds a hash.
_PATH_ALT = re.compile(r"^\S*(?:[/\\]\S*|\.(?:png|jpe?g|gif|svg|webp|bmp|tiff?|pdf|eps))$", re.I)
_HASH_ALT = re.compile(r"[0-9a-fA-F]{16,}")
#: Output containers whose CSS class says what they are.
ERROR_CLASSES = ("traceback", "error")


class BookCheckError(PPStudyError):
    """The built book has problems; ``problems`` lists them, one line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"the built book has {len(problems)} problem(s):\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class PageImage:
    src: str
    data: bytes | None  # None when the file cannot be found


def _soup(html: str):
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser")


def _text(el) -> str:
    return re.sub(r"\s+", " ", el.get_text(" ")).strip()


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def output_problems(html: str, machine_paths: Iterable[str] = ()) -> list[str]:
    """What is wrong with the cell outputs of one page (myst-nb's ``div.cell_output``)."""
    soup = _soup(html)
    problems = []
    if soup.select("div.cell.tag_injected-parameters"):
        problems.append("papermill's injected-parameters cell is shown (tag it remove-cell)")
    extra = [
        (f"the machine path {p}", re.compile(re.escape(p.rstrip("/")) + r"(/|\b)"))
        for p in machine_paths
        if p and p.strip("/")
    ]
    for i, out in enumerate(soup.select("div.cell_output"), 1):
        text = out.get_text("\n")
        classes = {c for el in out.find_all(class_=True) for c in el.get("class", [])}
        found = [what for what, pat in OUTPUT_PATTERNS + extra if pat.search(text)]
        if classes & set(ERROR_CLASSES) and "a traceback" not in found:
            found.insert(0, "an error output")
        for what in found:
            pat = dict(OUTPUT_PATTERNS + extra).get(what)
            m = pat.search(text) if pat else None
            snippet = _norm(text[max(0, m.start() - 30) : m.end() + 30]) if m else _norm(text)[:60]
            problems.append(f"output {i} shows {what}: {snippet!r}")
    return problems


def meaningful_alt(alt: str | None, src: str = "") -> bool:
    """Whether ``alt`` tells a screen reader something: not missing or blank, not the image's file name or
    a path, no hash."""
    a = _norm(alt or "")
    if not a or _PATH_ALT.match(a) or _HASH_ALT.search(a):
        return False
    if src:
        path = unquote(urlsplit(src).path) if not src.startswith("data:") else ""
        if a in {src, path, Path(path).name, Path(path).stem} - {""}:
            return False
    return True


def alt_problems(html: str) -> list[str]:
    """Images of the page's article (``img``) without meaningful alt text (:func:`meaningful_alt`)."""
    soup = _soup(html)
    body = soup.find("article") or soup.find("main") or soup
    problems = []
    for el in body.find_all("img"):
        src = el.get("src") or ""
        if not meaningful_alt(el.get("alt"), src):
            shown = src if not src.startswith("data:") else src[:30] + "..."
            alt = el.get("alt")
            problems.append(
                f"image {shown} has no meaningful alt text ("
                + ("no alt attribute" if alt is None else f"alt {_norm(alt)[:60]!r}")
                + "; a figure's image takes its caption)"
            )
    return problems


def page_images(html: str, page: Path | None = None) -> list[PageImage]:
    """Every image of a page (``img``, ``object``, ``embed``, ``source``) with its bytes when found on disk."""
    soup = _soup(html)
    out = []
    for el in soup.find_all(["img", "object", "embed", "source"]):
        src = el.get("src") or el.get("data") or el.get("srcset") or ""
        src = src.split()[0] if src else ""
        if not src:
            continue
        data = None
        if src.startswith("data:"):
            head, _, payload = src.partition(",")
            try:
                data = base64.b64decode(payload) if ";base64" in head else unquote(payload).encode()
            except ValueError:
                data = None
        elif page is not None and not urlsplit(src).scheme:
            f = (page.parent / unquote(urlsplit(src).path)).resolve()
            data = f.read_bytes() if f.is_file() else None
        out.append(PageImage(src, data))
    return out


def _pixels(data: bytes):
    try:
        import numpy as np
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGBA"), dtype=np.int16)
    except Exception:
        return None


def figure_shown(name: str, files: list[Path], images: list[PageImage]) -> bool:
    """Whether one of ``images`` is the registered figure ``name`` (saved as ``files``)."""
    stem = re.compile(rf"^{re.escape(name)}\d*$")
    names = [Path(unquote(urlsplit(im.src).path)).stem for im in images if not im.src.startswith("data:")]
    if any(stem.match(n) for n in names):
        return True
    saved = [f.read_bytes() for f in files if f.is_file()]
    digests = {hashlib.sha256(b).digest() for b in saved}
    if any(im.data is not None and hashlib.sha256(im.data).digest() in digests for im in images):
        return True
    refs = [p for p in (_pixels(b) for b in saved) if p is not None]
    for im in images:
        if im.data is None or not refs:
            continue
        px = _pixels(im.data)
        if px is not None and any(px.shape == r.shape and int(abs(px - r).max()) <= 2 for r in refs):
            return True
    return False


def content_problems(
    html: str, results: Mapping[str, Any], run_dir: Path | None, page: Path | None = None
) -> list[str]:
    """Tables whose caption, and registered figures that, are not on the page."""
    soup = _soup(html)
    body = soup.find("main") or soup
    text = _text(body)
    problems = []
    for name, table in (results.get("tables") or {}).items():
        cap = _norm(table.get("caption") or "")
        if not cap:
            problems.append(f"table {name!r} has no caption")
        elif cap not in text:
            problems.append(f"table {name!r} is not shown (caption {cap[:70]!r} not on the page)")
    images = page_images(html, page)
    for name in results.get("figures") or []:
        files = [run_dir / "figures" / f"{name}.{ext}" for ext in ("png", "jpg", "svg")] if run_dir else []
        if not figure_shown(name, files, images):
            problems.append(f"figure {name!r} is not on the page")
    return problems


def evidence_problems(results: Mapping[str, Any]) -> list[str]:
    """Checks of a run that records evidence (its manifest's ``evidence_recorded``: see
    :attr:`ppstudy.project.chapters.Chapter.evidence`) without evidence, or whose ``shown_in`` names
    something the run neither tabled nor drew. Runs recorded before evidence was recorded have no such flag
    and are not held to it."""
    problems = [f"check {name!r} records no evidence" for name in evidence_missing(results)]
    if results.get(EVIDENCE_FLAG):
        known = set(results.get("tables") or {}) | set(results.get("figures") or [])
        for name, c in (results.get("checks") or {}).items():
            for n in shown_in(c):
                if n not in known:
                    problems.append(
                        f"check {name!r}: its evidence is shown in {n!r}, which the run neither tabled nor drew"
                    )
    return problems


def reference_problems(html: str, results: Mapping[str, Any]) -> list[str]:
    """Tables and figures of a page that its text never links to, for a run whose chapter refers to all it
    shows (its manifest's ``text_references_all``: :attr:`ppstudy.project.chapters.Chapter.references`).
    A link from inside a table (a verdict's evidence) does not count: the reader is pointed to the table
    or figure from the prose. None for a run without the flag."""
    if not results.get(REFERENCES_FLAG):
        return []
    soup = _soup(html)
    body = soup.find("main") or soup
    referred = set()
    for a in body.find_all("a", href=True):
        target, _, frag = a["href"].partition("#")
        if "headerlink" in (a.get("class") or []):  # a caption's own permalink ("#")
            continue
        if frag and not target and a.find_parent("div", class_="ppstudy-table") is None:
            referred.add(unquote(frag))
    problems = []
    for cap in body.find_all("p", class_="ppstudy-caption", id=True):
        if cap["id"] not in referred:
            problems.append(f"{_text(cap)[:60]!r} is never referred to in the text ({{tabref}}`...`)")
    for fig in body.find_all("figure", id=True):
        if fig["id"] not in referred:
            problems.append(f"figure {fig['id']!r} is never referred to in the text ({{numref}}`...`)")
    return problems


def link_problems(html: str, page: Path) -> list[str]:
    """Links of the verdict tables and the dashboard (to a table, ``#ppstudy-table-...``, or a figure,
    ``ppstudy-figref``) whose target is not on the page they point at."""
    soup = _soup(html)
    problems = []
    ids: dict[Path, set[str]] = {}
    for a in soup.find_all("a", href=True):
        href = a["href"]
        target, _, frag = href.partition("#")
        if (
            not frag
            or urlsplit(href).scheme
            or not (frag.startswith("ppstudy-table-") or "ppstudy-figref" in (a.get("class") or []))
        ):
            continue
        dest = (page.parent / unquote(target)).resolve() if target else page
        if dest not in ids:
            ids[dest] = (
                {el.get("id") for el in _soup(dest.read_text(encoding="utf-8")).find_all(id=True)}
                if dest.is_file()
                else set()
            )
        if unquote(frag) not in ids[dest]:
            problems.append(f"the link {_text(a)!r} leads to {href}, which is not there")
    return problems


def check_book(
    html_dir: str | Path, run_dirs: Mapping[str, str | Path], *, machine_paths: Iterable[str] = (), strict: bool = True
) -> list[str]:
    """Check the built book under ``html_dir`` (the folder of ``index.html``).

    ``run_dirs`` maps each chapter to its run directory (``results.json``, ``figures/``); its page is
    ``book/<chapter>.html``. ``machine_paths`` (e.g. the checkout and the runs folder) must not appear in
    any cell output. Returns the problems, one line each ("page: problem"); with ``strict`` (the default)
    raises ``BookCheckError`` listing them instead when there is any.
    """
    html_dir = Path(html_dir)
    machine_paths = [str(p) for p in machine_paths]
    problems: list[str] = []
    for chapter, rd in run_dirs.items():
        rd = Path(rd)
        page = html_dir / "book" / f"{chapter}.html"
        rel = page.relative_to(html_dir).as_posix()
        if not page.is_file():
            problems.append(f"{rel}: the page was not built")
            continue
        try:
            results = json.loads((rd / "results.json").read_text())
        except (OSError, json.JSONDecodeError) as e:
            problems.append(f"{rel}: cannot read {rd / 'results.json'}: {e}")
            continue
        html = page.read_text(encoding="utf-8")
        problems += [f"{rel}: {p}" for p in content_problems(html, results, rd, page)]
        problems += [f"{rel}: {p}" for p in evidence_problems(results)]
        problems += [f"{rel}: {p}" for p in reference_problems(html, results)]
    for page in sorted(html_dir.rglob("*.html")):
        if "_static" in page.parts or page.name in ("genindex.html", "search.html"):
            continue
        rel = page.relative_to(html_dir).as_posix()
        text = page.read_text(encoding="utf-8")
        problems += [f"{rel}: {p}" for p in alt_problems(text)]
        problems += [f"{rel}: {p}" for p in output_problems(text, machine_paths)]
        if "ppstudy-table-" in text or "ppstudy-figref" in text:
            problems += [f"{rel}: {p}" for p in link_problems(text, page)]
    if problems and strict:
        raise BookCheckError(problems)
    return problems
