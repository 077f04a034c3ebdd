"""Load every page of a built book in headless Chromium (Debian's) and report what a reader would see go wrong.

Used by the book test. Everything is served from 127.0.0.1; any request to another host is blocked and
reported, so a page that needs the internet (a CDN script, a web font) fails the check.

Each page is opened in a fresh browser context (empty cache) at 1400 x 900 px, as a first visit:

- page weight: the bytes Chromium reports as transferred (``Network.loadingFinished.encodedDataLength``,
  headers and bodies) from navigation until MathJax has typeset and the network has been quiet for 0.5 s.
  The local server gzips text (HTML, CSS, JS, SVG, JSON) as GitHub Pages does; ``weight_raw`` is the
  same load uncompressed (the decoded bodies);
- width: every table, image, figure and SVG of the article that is wider than the text column, unless it
  sits in a ``.ppstudy-scroll`` container (``overflow-x: auto``) that itself fits the column.

``check_navigation`` taps the menu and contents buttons of a page on a phone (390 px) and clicks the sidebar
toggle on a desktop (1400 px); ``check_phone`` measures, at 390 px, which tables scroll sideways, whether the
claim and the status of each row of a table of claims are both in view, and how wide each figure is drawn.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import shutil
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
#: links of the site navigation (primary sidebar) and of the page's contents list (secondary sidebar)
PRIMARY_NAV = "nav.bd-docs-nav a"
PAGE_TOC = "nav.page-toc a"
#: Goal of issue 9 for the first load of a chapter page (bytes transferred).
CHAPTER_PAGE_LIMIT = 1_500_000
SCROLL_CLASS = "ppstudy-scroll"
_TEXT_TYPES = ("text/", "javascript", "json", "svg", "xml")

# Elements of the article wider than its text column, with the reason they are allowed when they are.
_WIDE_JS = r"""(scrollClass) => {
  const col = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const cs = getComputedStyle(col);
  const cr = col.getBoundingClientRect();
  const left = cr.left + parseFloat(cs.paddingLeft), right = cr.right - parseFloat(cs.paddingRight);
  const width = right - left;
  const out = [];
  const sel = 'table, img, figure, object, svg';
  for (const el of col.querySelectorAll(sel)) {
    if (el.closest('mjx-container') || (el.tagName === 'svg' && el.closest('button, a, .headerlink'))) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;  // hidden (e.g. a closed dropdown)
    if (r.width <= width + 1) continue;
    let ok = false;
    for (let a = el.parentElement; a && a !== col.parentElement; a = a.parentElement) {
      if (a.classList.contains(scrollClass)) {
        const ox = getComputedStyle(a).overflowX;
        ok = (ox === 'auto' || ox === 'scroll') && a.getBoundingClientRect().width <= width + 1;
        break;
      }
    }
    if (ok) continue;
    const cell = el.closest('.cell'), cells = [...document.querySelectorAll('.cell')];
    const out_ = el.closest('.output, figure');
    const cap = el.querySelector('caption') || (out_ && out_.querySelector('.ppstudy-caption, figcaption'));
    const where = el.id ? '#' + el.id : (el.getAttribute('src')
                  || '"' + ((cap || el).textContent || '').trim().replace(/\s+/g, ' ').slice(0, 60) + '"');
    out.push(`${el.tagName.toLowerCase()} ${where} is ${Math.round(r.width)} px wide, the text column `
             + `${Math.round(width)} px` + (cell ? ` (cell ${cells.indexOf(cell) + 1})` : ''));
  }
  return {column: width, wide: out};
}"""


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageReport:
    url: str
    console_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    images: int = 0
    empty_images: list[str] = field(default_factory=list)
    math: int = 0
    math_rendered: int = 0
    math_errors: int = 0
    weight: int = 0  # bytes transferred on a first load
    weight_raw: int = 0  # the same load, decoded (uncompressed bodies)
    resources: list[tuple[str, int]] = field(default_factory=list)  # (path, bytes), largest first
    column_px: float = 0.0
    wide: list[str] = field(default_factory=list)  # tables/figures wider than the text column
    scaled_images: list[tuple[str, int, int]] = field(default_factory=list)  # (src, natural px, shown px)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    """Serves the site as GitHub Pages does: text (HTML, CSS, JS, SVG, JSON) gzipped when the browser asks."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        ctype = self.guess_type(str(path))
        if not (
            path.is_file()
            and "gzip" in self.headers.get("Accept-Encoding", "")
            and any(t in ctype for t in _TEXT_TYPES)
        ):
            return super().do_GET()
        body = gzip.compress(path.read_bytes(), 6)
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serve(directory: Path):
    handler = functools.partial(_Quiet, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def check_site(html_dir: Path, pages: list[str] | None = None, timeout_ms: int = 30000) -> list[PageReport]:
    from playwright.sync_api import sync_playwright

    html_dir = Path(html_dir)
    pages = pages or sorted(
        str(p.relative_to(html_dir))
        for p in html_dir.rglob("*.html")
        if p.name not in ("genindex.html", "search.html") and "_static" not in p.parts
    )
    reports = []
    with serve(html_dir) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            for rel in pages:
                reports.append(_check_page(browser, base, html_dir, rel, timeout_ms))
        finally:
            browser.close()
    return reports


def _check_page(browser, base: str, html_dir: Path, rel: str, timeout_ms: int) -> PageReport:
    rep = PageReport(rel)
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    urls: dict[str, str] = {}
    finished: dict[str, int] = {}
    decoded: dict[str, int] = {}
    cdp.on("Network.responseReceived", lambda e: urls.__setitem__(e["requestId"], e["response"]["url"]))
    cdp.on(
        "Network.dataReceived",
        lambda e: decoded.__setitem__(e["requestId"], decoded.get(e["requestId"], 0) + int(e["dataLength"])),
    )
    cdp.on("Network.loadingFinished", lambda e: finished.__setitem__(e["requestId"], int(e["encodedDataLength"])))

    def route(r):
        if r.request.url.startswith(base) or r.request.url.startswith("data:"):
            r.continue_()
        else:
            rep.blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: rep.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: rep.console_errors.append(str(e)))
    page.on("requestfailed", lambda r: rep.failed.append(r.url))
    page.on("response", lambda r: rep.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        page.goto(f"{base}/{rel}", wait_until="networkidle", timeout=timeout_ms)
        rep.math = page.locator(".math").count()
        if rep.math:
            try:
                page.wait_for_selector("mjx-container", timeout=timeout_ms)
                page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
            except Exception:
                pass
            rep.math_rendered = page.locator("mjx-container").count()
            rep.math_errors = page.locator("mjx-merror").count()
        _settle(page, finished, timeout_ms)
        sizes = page.eval_on_selector_all(
            "img",
            "els => els.map(e => [e.getAttribute('src'), e.naturalWidth, e.naturalHeight,"
            " Math.round(e.getBoundingClientRect().width)])",
        )
        rep.images = len(sizes)
        rep.empty_images = [s for s, w, h, _ in sizes if not (w and h)]
        rep.scaled_images = [(s, w, shown) for s, w, h, shown in sizes if w and shown and shown < 0.8 * w]
        wide = page.evaluate(_WIDE_JS, SCROLL_CLASS)
        rep.column_px, rep.wide = wide["column"], wide["wide"]
    finally:
        page.close()
        context.close()
    per_url: dict[str, int] = {}
    for rid, n in finished.items():
        url = urls.get(rid, "?")
        rep.weight += n
        rep.weight_raw += decoded.get(rid, 0)
        key = url[len(base) :] if url.startswith(base) else url
        per_url[key] = per_url.get(key, 0) + n
    rep.resources = sorted(per_url.items(), key=lambda kv: -kv[1])
    return rep


def _settle(page, finished: dict[str, int], timeout_ms: int, quiet_ms: int = 500) -> None:
    """Wait until no request has finished for ``quiet_ms`` (late fonts and images), at most ``timeout_ms``."""
    t_end = time.monotonic() + timeout_ms / 1000
    n = -1
    while time.monotonic() < t_end and n != len(finished):
        n = len(finished)
        page.wait_for_timeout(quiet_ms)


# Whether any element matching the selector is drawn inside the viewport.
_SHOWN_JS = r"""(sel) => [...document.querySelectorAll(sel)].some(el => {
  const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
  return r.width > 0 && r.height > 0 && cs.visibility !== 'hidden' && parseFloat(cs.opacity || '1') > 0.1
         && r.right > 0 && r.left < innerWidth && r.bottom > 0 && r.top < innerHeight;
})"""


@dataclass
class NavReport:
    url: str
    problems: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


def _shown(page, selector: str) -> bool:
    return bool(page.evaluate(_SHOWN_JS, selector))


def _wait_shown(page, selector: str, shown: bool, timeout_ms: int = 3000) -> bool:
    js = f"(sel) => ({_SHOWN_JS})(sel) === {'true' if shown else 'false'}"
    try:
        page.wait_for_function(js, arg=selector, timeout=timeout_ms)
        return True
    except Exception:
        return False


def check_navigation(html_dir: Path, rel: str = "book/etc.html", timeout_ms: int = 30000) -> NavReport:
    """On a phone, tapping the menu button shows the site navigation and tapping the contents button the
    page's contents list; on a desktop the sidebar toggle hides the site navigation and shows it again."""
    from playwright.sync_api import sync_playwright

    rep = NavReport(rel)
    with serve(Path(html_dir)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            for phone in (True, False):
                kw = {"viewport": PHONE, "is_mobile": True, "has_touch": True} if phone else {"viewport": VIEWPORT}
                context = browser.new_context(**kw)
                page = context.new_page()
                page.on("console", lambda m: rep.console_errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: rep.console_errors.append(str(e)))
                try:
                    page.goto(f"{base}/{rel}", wait_until="networkidle", timeout=timeout_ms)
                    (_phone_nav if phone else _desktop_nav)(page, rep)
                finally:
                    page.close()
                    context.close()
        finally:
            browser.close()
    return rep


def _visible_button(page, cls: str):
    loc = page.locator(f"button.{cls}:visible")
    return loc.first if loc.count() else None


def _phone_nav(page, rep: NavReport) -> None:
    w = PHONE["width"]
    if _shown(page, PRIMARY_NAV):
        rep.problems.append(f"{w} px: the site navigation is shown before the menu button is tapped")
    for cls, sel, what in (
        ("primary-toggle", PRIMARY_NAV, "the site navigation"),
        ("secondary-toggle", PAGE_TOC, "the page's contents list"),
    ):
        button = _visible_button(page, cls)
        if button is None:
            rep.problems.append(f"{w} px: no visible .{cls} button")
            continue
        button.tap()
        if not _wait_shown(page, sel, True):
            rep.problems.append(f"{w} px: tapping the .{cls} button does not show {what} ({sel})")
            continue
        page.keyboard.press("Escape")  # closes the drawer
        if not _wait_shown(page, sel, False):
            rep.problems.append(f"{w} px: Escape does not close {what}")


def _desktop_nav(page, rep: NavReport) -> None:
    w = VIEWPORT["width"]
    if not _shown(page, PRIMARY_NAV):
        rep.problems.append(f"{w} px: the site navigation is not shown")
        return
    button = _visible_button(page, "primary-toggle")
    if button is None:
        rep.problems.append(f"{w} px: no visible sidebar toggle (.primary-toggle)")
        return
    article = page.locator("article.bd-article").bounding_box() or {"width": 0}
    button.click()
    if not _wait_shown(page, PRIMARY_NAV, False):
        rep.problems.append(f"{w} px: the sidebar toggle does not hide the site navigation")
        return
    if _shown(page, "dialog[open]"):
        rep.problems.append(f"{w} px: the sidebar toggle opens a drawer instead of hiding the sidebar")
    page.wait_for_timeout(400)  # the theme's transition
    wider = page.locator("article.bd-article").bounding_box() or {"width": 0}
    if wider["width"] <= article["width"]:
        rep.problems.append(
            f"{w} px: the article is no wider with the sidebar hidden ({article['width']:.0f} px,"
            f" then {wider['width']:.0f} px)"
        )
    _visible_button(page, "primary-toggle").click()
    if not _wait_shown(page, PRIMARY_NAV, True):
        rep.problems.append(f"{w} px: the sidebar toggle does not show the site navigation again")


# Tables and figures of the article at a phone's width.
_PHONE_JS = r"""() => {
  const col = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const cs = getComputedStyle(col), cr = col.getBoundingClientRect();
  const left = cr.left + parseFloat(cs.paddingLeft), right = cr.right - parseFloat(cs.paddingRight);
  const text = el => (el ? el.textContent : '').trim().replace(/\s+/g, ' ');
  const tables = [];
  for (const t of col.querySelectorAll('table')) {
    const r = t.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const capId = t.getAttribute('aria-labelledby');
    const cap = capId ? document.getElementById(capId) : t.closest('figure, .ppstudy-table');
    const first = t.querySelector('thead tr') || t.querySelector('tr');
    const heads = [];  // header text of each column of the first header row (colspan expanded)
    for (const th of first ? first.children : []) {
      for (let i = 0; i < (th.colSpan || 1); i++) heads.push(text(th).toLowerCase());
    }
    const claimCol = heads.findIndex(h => h.includes('claim')), statusCol = heads.indexOf('status');
    const inView = el => { const b = el.getBoundingClientRect(); return b.left >= left - 1 && b.right <= right + 1; };
    let rows = 0, bothInView = 0;
    if (claimCol >= 0 && statusCol >= 0) {
      for (const tr of t.querySelectorAll('tbody tr')) {
        const cells = [...tr.children];
        const byLabel = l => cells.find(c => (c.dataset.label || '').toLowerCase() === l);
        const claim = cells.find(c => (c.dataset.label || '').toLowerCase().includes('claim')) || cells[claimCol];
        const status = byLabel('status') || cells[statusCol];
        if (!claim || !status) continue;
        rows += 1;
        if (inView(claim) && inView(status)) bothInView += 1;
      }
    }
    tables.push({name: text(cap).slice(0, 70) || heads.join(' | ').slice(0, 70),
                 claims: claimCol >= 0 && statusCol >= 0, cards: t.classList.contains('ppstudy-cards'),
                 scrolls: r.width > right - left + 1 || t.scrollWidth > right - left + 1,
                 width: Math.round(r.width), rows, bothInView});
  }
  const figures = [...col.querySelectorAll('figure img, .cell_output img')].map(im => ({
    src: im.getAttribute('src'), alt: im.getAttribute('alt'), shown: Math.round(im.getBoundingClientRect().width),
    natural: im.naturalWidth}));
  return {column: right - left, tables, figures, scrollX: document.documentElement.scrollWidth > innerWidth + 1};
}"""


@dataclass
class PhoneReport:
    url: str
    column_px: float = 0.0
    tables: list[dict] = field(default_factory=list)  # name, claims, cards, scrolls, width, rows, bothInView
    figures: list[dict] = field(default_factory=list)  # src, alt, shown (px), natural (px)
    page_scrolls_sideways: bool = False
    console_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def check_phone(html_dir: Path, pages: list[str], timeout_ms: int = 30000) -> list[PhoneReport]:
    from playwright.sync_api import sync_playwright

    reports = []
    with serve(Path(html_dir)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
            for rel in pages:
                rep = PhoneReport(rel)
                page = context.new_page()
                page.on("console", lambda m, rep=rep: rep.console_errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e, rep=rep: rep.console_errors.append(str(e)))
                page.on(
                    "response", lambda r, rep=rep: rep.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None
                )
                try:
                    page.goto(f"{base}/{rel}", wait_until="networkidle", timeout=timeout_ms)
                    out = page.evaluate(_PHONE_JS)
                finally:
                    page.close()
                rep.column_px, rep.tables, rep.figures = out["column"], out["tables"], out["figures"]
                rep.page_scrolls_sideways = out["scrollX"]
                reports.append(rep)
            context.close()
        finally:
            browser.close()
    return reports


def phone_problems(reports: list[PhoneReport]) -> list[str]:
    """Tables of claims that scroll sideways or hide a row's claim or status, figures narrower than the text
    column, and pages that scroll sideways, at 390 px."""
    problems = []
    for r in reports:
        if r.page_scrolls_sideways:
            problems.append(f"{r.url}: the page scrolls sideways at {PHONE['width']} px")
        for t in r.tables:
            if t["claims"] and (t["scrolls"] or t["bothInView"] < t["rows"]):
                problems.append(
                    f"{r.url}: table {t['name']!r} is {t['width']} px wide in a {r.column_px:.0f} px column; the claim"
                    f" and the status are both in view in {t['bothInView']} of {t['rows']} rows"
                )
        for f in r.figures:
            if f["shown"] < r.column_px - 1:
                problems.append(
                    f"{r.url}: figure {f['src']} is drawn {f['shown']} px wide, the column {r.column_px:.0f} px"
                )
    return problems


def phone_table(reports: list[PhoneReport]) -> str:
    """At 390 px: per page, the column, tables (cards / scrolling) and figure widths."""
    lines = []
    for r in reports:
        cards = sum(t["cards"] for t in r.tables)
        scroll = [t["name"][:40] for t in r.tables if t["scrolls"]]
        widths = ", ".join(f"{f['shown']}/{f['natural']}" for f in r.figures)
        lines.append(
            f"{r.url:20s} column {r.column_px:.0f} px; {len(r.tables)} tables, {cards} as cards, {len(scroll)} scroll"
            f" sideways {scroll}; figures shown/natural px: {widths or '-'}"
        )
    return "\n".join(lines)


def weight_table(reports: list[PageReport], top: int = 4) -> str:
    """One line per page: bytes transferred (and uncompressed), then its largest transfers."""
    lines = []
    for r in reports:
        big = ", ".join(f"{u.split('?')[0].rsplit('/', 1)[-1]} {n / 1e3:.0f} kB" for u, n in r.resources[:top])
        lines.append(f"{r.url:28s} {r.weight / 1e6:6.2f} MB  (uncompressed {r.weight_raw / 1e6:5.2f} MB)  {big}")
    return "\n".join(lines)


if __name__ == "__main__":  # python tests/sitecheck.py _build/_build/html  -> weights and wide elements
    import sys

    reps = check_site(Path(sys.argv[1]), sys.argv[2:] or None)
    print(weight_table(reps))
    for r in reps:
        for w in r.wide:
            print(f"WIDE {r.url}: {w}")
        for s, nat, shown in r.scaled_images:
            print(f"SCALED {r.url}: {s} drawn {nat} px, shown {shown} px")
        for what in ("console_errors", "blocked", "failed", "empty_images"):
            if getattr(r, what):
                print(f"{what.upper()} {r.url}: {getattr(r, what)}")
        if r.math_errors or r.math_rendered < r.math:
            print(f"MATH {r.url}: {r.math} elements, {r.math_rendered} rendered, {r.math_errors} errors")
