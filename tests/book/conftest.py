"""Shared by the tests of the built book in a real browser (Debian's chromium, playwright).

The book is served from 127.0.0.1 by a thread-based ``http.server``; every request to any
other origin is blocked and recorded as a failure (the site must not need the network).
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


@pytest.fixture(scope="session")
def html_root(request) -> Path:
    env = os.environ.get("CNNCOURSE_BOOK_HTML")
    root = Path(env) if env else request.getfixturevalue("built_book")
    assert (root / "index.html").is_file(), f"no built book at {root}"
    return root


@pytest.fixture(scope="session")
def server(html_root):
    handler = functools.partial(_QuietHandler, directory=str(html_root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def site_pages(html_root) -> list[str]:
    """Every HTML page of the book (not the theme's or the widgets' own files)."""
    pages = [
        p.relative_to(html_root).as_posix()
        for p in html_root.rglob("*.html")
        if not any(part.startswith("_") for part in p.relative_to(html_root).parts)
    ]
    assert "index.html" in pages
    return sorted(pages)


@pytest.fixture(scope="session")
def chapter_pages(site_pages) -> list[str]:
    return [p for p in site_pages if p.startswith("book/")]


class Visit:
    """One browser context with the off-site block and the failure recorders attached."""

    MATH_SELECTOR = MATH_SELECTOR

    def __init__(self, browser, server: str, html_root: Path, width: int = 1280):
        self.server = server
        self.html_root = html_root
        self.failures: list[str] = []
        self.responses: list = []  # every response of the page last opened
        self.context = browser.new_context(viewport={"width": width, "height": 900})
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
        self.responses.append(response)
        if response.status >= 400:
            self.failures.append(f"HTTP {response.status}: {response.url}")

    def open(self, path: str):
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        self.failures.clear()
        self.responses.clear()
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


@pytest.fixture
def visit(browser, server, html_root):
    """``visit(width=1280)``: a :class:`Visit` (a browser context) at that viewport width;
    every context opened is closed after the test."""
    opened: list[Visit] = []

    def make(width: int = 1280) -> Visit:
        opened.append(Visit(browser, server, html_root, width))
        return opened[-1]

    yield make
    for v in opened:
        v.close()
