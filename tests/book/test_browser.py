"""The built book in a real browser: Debian's chromium, driven by playwright, offline.

The book is served from 127.0.0.1 by a thread-based ``http.server``; every request to any
other origin is blocked and recorded as a failure (the site must not need the network). On
every page: no failed request (blocked, aborted or HTTP >= 400), no page error (an uncaught
JavaScript exception), every <img> loaded, and every math element typeset by MathJax with no
literal backslash or MathJax error left in it (an unknown or unexpandable command, such as
an escaped underscore inside a text command, is printed as typed). On
every demo (``.cnn-demo``, see ``cnncourse.book.widgets``): each control is moved and the picture
must change. A full-page screenshot of every chapter goes to ``<build>/../screenshots/``
(``_build/screenshots`` for the default build, which git ignores).

The book comes from the session fixture ``built_book`` (a strict build into _build/html), or
from the folder named by the environment variable ``CNNCOURSE_BOOK_HTML`` when it is set.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.book, pytest.mark.slow]

# After typesetting, the math a reader sees: the CHTML glyphs (a backslash is U+005C, class
# mjx-c5C) and the MathML copy for screen readers (its text holds what was typeset).
_MATH_LEFT_AS_TYPED = """() => [...document.querySelectorAll('mjx-container')].flatMap(m => {
    const said = (m.querySelector('mjx-assistive-mml') || {}).textContent || '';
    const problems = [];
    if (said.includes('\\\\') || m.querySelector('mjx-c.mjx-c5C'))
        problems.push('literal backslash');
    if (m.querySelector('mjx-merror'))
        problems.push('MathJax error');
    const where = m.closest('.math') || m.parentElement;
    return problems.map(p => p + ' in ' + JSON.stringify((where.textContent || said).slice(0, 80)));
})"""


def _check_page(visit, path: str) -> list[str]:
    page = visit.page
    problems = list(visit.failures)
    broken = page.evaluate(
        "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0))"
        ".map(i => i.currentSrc || i.src)"
    )
    problems += [f"image not loaded: {src}" for src in broken]
    untypeset = page.evaluate(
        f"[...document.querySelectorAll('{visit.MATH_SELECTOR}')]"
        ".filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 60))"
    )
    problems += [f"math not typeset: {text!r}" for text in untypeset]
    problems += page.evaluate(_MATH_LEFT_AS_TYPED)
    views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
    if views:
        rendered = page.locator(".jupyter-widgets").count()
        if not rendered:
            problems.append(f"{views} widget outputs but no widget rendered")
    return [f"{path}: {p}" for p in problems]


def test_every_page_loads_cleanly_offline(visit, html_root, site_pages, chapter_pages):
    shots = html_root.parent / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    chapters = set(chapter_pages)
    assert chapters, f"no chapters under {html_root / 'book'}"
    browser_page = visit()
    problems = []
    for path in site_pages:
        browser_page.open(path)
        problems += _check_page(browser_page, path)
        if path in chapters or path == "index.html":
            name = path.removesuffix(".html").replace("/", "__")
            browser_page.page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
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


def test_every_demo_changes_its_picture(visit, site_pages):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page_visit = visit()
    problems, demos_seen = [], 0
    for path in site_pages:
        page_visit.open(path)
        demos = page_visit.page.locator(".cnn-demo")
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
                _move(controls.nth(c), page_visit.page)
                try:
                    page_visit.page.wait_for_function(
                        f"([demo, src]) => ({_VISIBLE_IMAGE})(demo)[0]?.[0] !== src",
                        arg=[demo.element_handle(), before[0][0]],
                        timeout=5_000,
                    )
                except PlaywrightTimeout:
                    problems.append(f"{path}: {title!r} control {c}: the picture did not change")
                    continue
                after = demo.evaluate(_VISIBLE_IMAGE)
                if len(after) != 1 or not after[0][1]:
                    problems.append(f"{path}: {title!r} control {c}: shows {after}")
                elif demo.locator("img:visible").screenshot() == pixels:
                    problems.append(f"{path}: {title!r} control {c}: same pixels after moving")
        problems += [f"{path}: {f}" for f in page_visit.failures]
    assert demos_seen >= 6, f"expected at least six demos in the book, found {demos_seen}"
    assert not problems, "\n".join(problems)
