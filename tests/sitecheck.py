"""Load every page of a built book in headless Chromium (Debian's) and report what a reader would see go wrong.

Used by the book test. Everything is served from 127.0.0.1; any request to another host is blocked and
reported, so a page that needs the internet (a CDN script, a web font) fails the check.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


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


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


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
    pages = pages or sorted(str(p.relative_to(html_dir)) for p in html_dir.rglob("*.html")
                            if p.name not in ("genindex.html", "search.html") and "_static" not in p.parts)
    reports = []
    with serve(html_dir) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            for rel in pages:
                rep = PageReport(rel)
                page = browser.new_page()

                def route(r, rep=rep):
                    if r.request.url.startswith(base) or r.request.url.startswith("data:"):
                        r.continue_()
                    else:
                        rep.blocked.append(r.request.url)
                        r.abort()

                page.route("**/*", route)
                page.on("console", lambda m, rep=rep: rep.console_errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e, rep=rep: rep.console_errors.append(str(e)))
                page.on("requestfailed", lambda r, rep=rep: rep.failed.append(r.url))
                page.on("response", lambda r, rep=rep: rep.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
                page.goto(f"{base}/{rel}", wait_until="networkidle", timeout=timeout_ms)
                rep.math = page.locator(".math").count()
                if rep.math:
                    try:
                        page.wait_for_selector("mjx-container", timeout=timeout_ms)
                    except Exception:  # noqa: BLE001 - reported below as unrendered math
                        pass
                    rep.math_rendered = page.locator("mjx-container").count()
                sizes = page.eval_on_selector_all(
                    "img", "els => els.map(e => [e.getAttribute('src'), e.naturalWidth, e.naturalHeight])")
                rep.images = len(sizes)
                rep.empty_images = [s for s, w, h in sizes if not (w and h)]
                reports.append(rep)
                page.close()
        finally:
            browser.close()
    return reports
