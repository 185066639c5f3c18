"""Every page of the built book fits the screen: measured in the browser on every page.

At 1280 px (a laptop) nothing is wider than the text column: no element sticks out of it, and
no code block, output, table or display formula hides part of its content behind a sideways
scroll bar. At 390 px (a phone) the page itself never scrolls sideways and nothing sticks out
of the screen; wide blocks (code, tables) scroll inside their own boxes there.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.book, pytest.mark.slow]

DESKTOP, PHONE = 1280, 390

# Reports, for the page open in the browser, what does not fit. The text column is the
# theme's <article>; MathJax's hidden copy for screen readers (mjx-assistive-mml) is clipped to
# one pixel but inflates scroll widths, so it is left out of the measurement.
_MEASURE = """(strict) => {
    const hide = document.createElement('style');
    hide.textContent = 'mjx-assistive-mml { display: none !important; }';
    document.head.appendChild(hide);
    const column = (document.querySelector('article.bd-article') || document.body)
        .getBoundingClientRect();
    const right = strict ? column.right : window.innerWidth;
    const left = strict ? column.left : 0;
    const name = el => {
        let s = el.tagName.toLowerCase();
        if (el.id) s += '#' + el.id;
        if (el.classList.length) s += '.' + [...el.classList].slice(0, 3).join('.');
        const section = el.closest('section[id]');
        return s + (section ? ' in #' + section.id : '');
    };
    const scrolls = el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
    const clippedAbove = el => {
        for (let a = el.parentElement; a && a !== document.body; a = a.parentElement)
            if (getComputedStyle(a).overflowX !== 'visible') return true;
        return false;
    };
    const problems = [];
    const root = document.scrollingElement;
    if (root.scrollWidth > window.innerWidth + 1)
        problems.push(`the page scrolls sideways: ${root.scrollWidth} px `
                      + `in a ${window.innerWidth} px window`);
    const scope = document.querySelector('article.bd-article') || document.body;
    for (const el of scope.querySelectorAll('*')) {
        const r = el.getBoundingClientRect();
        if (!r.width || !r.height || getComputedStyle(el).visibility === 'hidden') continue;
        if (strict && scrolls(el) && el.scrollWidth > el.clientWidth + 1)
            problems.push(`${name(el)}: ${el.scrollWidth} px of content `
                          + `in a ${el.clientWidth} px box`);
        if (clippedAbove(el)) continue;
        if (r.right > right + 1 || r.left < left - 1)
            problems.push(`${name(el)} spans ${Math.round(r.left)}-${Math.round(r.right)} px, `
                          + `outside ${Math.round(left)}-${Math.round(right)}`);
    }
    hide.remove();
    return problems;
}"""


def _measure(visit, site_pages, width: int) -> list[str]:
    page_visit = visit(width)
    problems = []
    for path in site_pages:
        page_visit.open(path)
        found = page_visit.page.evaluate(_MEASURE, width == DESKTOP)
        problems += [f"{path} at {width} px: {p}" for p in found]
    return problems


def test_nothing_is_wider_than_the_text_column_at_1280_px(visit, site_pages):
    problems = _measure(visit, site_pages, DESKTOP)
    assert not problems, "\n".join(problems)


def test_no_page_scrolls_sideways_on_a_390_px_phone(visit, site_pages):
    problems = _measure(visit, site_pages, PHONE)
    assert not problems, "\n".join(problems)
