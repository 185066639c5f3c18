"""The built book in a real browser: Debian's chromium, driven by playwright, offline.

The book is served from 127.0.0.1 by a thread-based ``http.server``; every request to any
other origin is blocked and recorded as a failure (the site must not need the network). On
every page: no failed request (blocked, aborted or HTTP >= 400), no page error (an uncaught
JavaScript exception), every <img> loaded, and every math element typeset by MathJax. On
every demo (``.cnn-demo``, see ``cnncourse.widgets``): each control is moved and the picture
must change. A full-page screenshot of every chapter goes to ``<build>/../screenshots/``
(``_build/screenshots`` for the default build, which git ignores).

The book comes from the session fixture ``built_book`` (a strict build into _build/html), or
from the folder named by the environment variable ``CNNCOURSE_BOOK_HTML`` when it is set.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.book, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MATH_SELECTOR = "span.math, div.math"
TIMEOUT_MS = 30_000  # per wait; a page normally settles in well under a second


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def html_root(request) -> Path:
    env = os.environ.get("CNNCOURSE_BOOK_HTML")
    root = Path(env) if env else request.getfixturevalue("built_book")
    assert (root / "index.html").is_file(), f"no built book at {root}"
    return root


@pytest.fixture(scope="module")
def server(html_root):
    handler = functools.partial(_QuietHandler, directory=str(html_root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.skip(
            f"needs Debian's chromium at {CHROMIUM}: apt-get install chromium "
            "(make test installs it when run as root); the tests never download a browser"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _pages(html_root: Path) -> list[str]:
    """Every HTML page of the book (not the theme's or the widgets' own files)."""
    pages = [
        p.relative_to(html_root).as_posix()
        for p in html_root.rglob("*.html")
        if not any(part.startswith("_") for part in p.relative_to(html_root).parts)
    ]
    assert "index.html" in pages
    return sorted(pages)


def _chapters(html_root: Path) -> list[str]:
    return [p for p in _pages(html_root) if p.startswith("book/")]


class Visit:
    """One browser context with the off-site block and the failure recorders attached."""

    def __init__(self, browser, server: str, html_root: Path):
        self.server = server
        self.html_root = html_root
        self.failures: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.page.on("pageerror", lambda err: self.failures.append(f"page error: {err}"))
        self.page.on("requestfailed", self._request_failed)
        self.page.on("response", self._response)

    def _route(self, route):
        url = route.request.url
        if not url.startswith(self.server + "/"):
            self.failures.append(f"off-site request blocked: {url}")
            route.abort()
            return
        path = urlsplit(url).path
        if path == "/favicon.ico" and not (self.html_root / "favicon.ico").is_file():
            # the browser asks for it on its own; the book declares no icon
            route.fulfill(status=204, body="")
            return
        route.continue_()

    def _request_failed(self, request):
        if request.url.startswith(self.server + "/"):
            self.failures.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response):
        if response.status >= 400:
            self.failures.append(f"HTTP {response.status}: {response.url}")

    def open(self, path: str):
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        self.failures.clear()
        self.page.goto(f"{self.server}/{path}", wait_until="networkidle")
        # images that load lazily would stay unloaded off-screen: ask for all of them now
        self.page.evaluate(
            "document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')"
        )
        waits = [("images still loading", "[...document.images].every(i => i.complete)")]
        if self.page.locator(MATH_SELECTOR).count():
            waits.append(
                (
                    "MathJax did not start",
                    "window.MathJax && MathJax.startup && MathJax.startup.promise",
                )
            )
        if self.page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count():
            waits.append(
                ("no widget rendered", "document.querySelector('.jupyter-widgets') !== null")
            )
            waits.append(waits[0])
        for what, condition in waits:
            try:
                self.page.wait_for_function(condition, timeout=TIMEOUT_MS)
            except PlaywrightTimeout:
                self.failures.append(f"{what} after {TIMEOUT_MS / 1000:g} s")
        if self.page.evaluate("!!(window.MathJax && MathJax.startup && MathJax.startup.promise)"):
            self.page.evaluate("MathJax.startup.promise")

    def close(self):
        self.context.close()


def _check_page(visit: Visit, path: str) -> list[str]:
    page = visit.page
    problems = list(visit.failures)
    broken = page.evaluate(
        "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0))"
        ".map(i => i.currentSrc || i.src)"
    )
    problems += [f"image not loaded: {src}" for src in broken]
    untypeset = page.evaluate(
        f"[...document.querySelectorAll('{MATH_SELECTOR}')]"
        ".filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 60))"
    )
    problems += [f"math not typeset: {text!r}" for text in untypeset]
    views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
    if views:
        rendered = page.locator(".jupyter-widgets").count()
        if not rendered:
            problems.append(f"{views} widget outputs but no widget rendered")
    return [f"{path}: {p}" for p in problems]


def test_every_page_loads_cleanly_offline(browser, server, html_root):
    shots = html_root.parent / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    chapters = set(_chapters(html_root))
    assert chapters, f"no chapters under {html_root / 'book'}"
    visit = Visit(browser, server, html_root)
    problems = []
    try:
        for path in _pages(html_root):
            visit.open(path)
            problems += _check_page(visit, path)
            if path in chapters or path == "index.html":
                name = path.removesuffix(".html").replace("/", "__")
                visit.page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    finally:
        visit.close()
    assert not problems, "\n".join(problems)


_VISIBLE_IMAGE = """demo => {
    const shown = [...demo.querySelectorAll('img')].filter(i => i.offsetParent !== null);
    return shown.map(i => [i.src, i.complete && i.naturalWidth > 0]);
}"""


def _move(control, page) -> None:
    """Move a control one step: the next option of a select, one key press on a slider."""
    tag = control.evaluate("el => el.tagName")
    if tag == "SELECT":
        n = control.evaluate("el => el.options.length")
        current = control.evaluate("el => el.selectedIndex")
        control.select_option(index=(current + 1) % n)
        return
    now = float(control.get_attribute("aria-valuenow"))
    top = float(control.get_attribute("aria-valuemax"))
    control.focus()
    page.keyboard.press("ArrowLeft" if now >= top else "ArrowRight")


def test_every_demo_changes_its_picture(browser, server, html_root):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    visit = Visit(browser, server, html_root)
    problems, demos_seen = [], 0
    try:
        for path in _pages(html_root):
            visit.open(path)
            demos = visit.page.locator(".cnn-demo")
            for k in range(demos.count()):
                demos_seen += 1
                demo = demos.nth(k)
                title = demo.locator(".widget-html-content").first.inner_text()
                controls = demo.locator("select, .noUi-handle")
                if not controls.count():
                    problems.append(f"{path}: demo {title!r} has no controls")
                for c in range(controls.count()):
                    before = demo.evaluate(_VISIBLE_IMAGE)
                    if len(before) != 1:
                        problems.append(f"{path}: {title!r} shows {len(before)} pictures, not 1")
                        break
                    pixels = demo.locator("img:visible").screenshot()
                    _move(controls.nth(c), visit.page)
                    try:
                        visit.page.wait_for_function(
                            f"([demo, src]) => ({_VISIBLE_IMAGE})(demo)[0]?.[0] !== src",
                            arg=[demo.element_handle(), before[0][0]],
                            timeout=5_000,
                        )
                    except PlaywrightTimeout:
                        problems.append(
                            f"{path}: {title!r} control {c}: the picture did not change"
                        )
                        continue
                    after = demo.evaluate(_VISIBLE_IMAGE)
                    if len(after) != 1 or not after[0][1]:
                        problems.append(f"{path}: {title!r} control {c}: shows {after}")
                    elif demo.locator("img:visible").screenshot() == pixels:
                        problems.append(f"{path}: {title!r} control {c}: same pixels after moving")
            problems += [f"{path}: {f}" for f in visit.failures]
    finally:
        visit.close()
    assert demos_seen >= 6, f"expected at least six demos in the book, found {demos_seen}"
    assert not problems, "\n".join(problems)
