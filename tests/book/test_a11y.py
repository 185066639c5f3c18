"""Accessibility of the built book, checked in the browser on every page.

axe-core (the npm package pinned in package.json / package-lock.json; ``make test`` installs it
with ``npm ci``) runs on every page after MathJax and the widgets have rendered: no violation
of impact "serious" or "critical" may remain. axe accepts any alt text, the hashed file name
that myst-nb writes by default too, so every picture in the text is also checked for a
description a reader can use: several words, not a file name.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.book, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
# myst-nb names an output image by its hash; a path or file name is no description
_FILE_NAME = re.compile(r"(^|/)[\w.-]+\.(png|jpe?g|gif|svg|webp)$|^[0-9a-f]{16,}", re.I)


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        if shutil.which("npm") is None:
            pytest.skip("needs npm to install axe-core: apt-get install npm (make test does it)")
        pytest.fail(f"axe-core is not installed at {AXE}: run `npm ci` (make test runs it)")
    return AXE.read_text(encoding="utf-8")


def describes(text: str | None) -> bool:
    """Alt text that says something: at least three words, and not a file name."""
    text = (text or "").strip()
    return len(text.split()) >= 3 and not _FILE_NAME.search(text)


def test_a_description_is_words_not_a_file_name():
    assert describes("Bar chart of the top-5 error per year")
    bad_ones = ["", "   ", "figure", "a plot", "../_images/5f3a9c0d.png", "5f3a9c0d1e2b4a6f7"]
    for bad in bad_ones:
        assert not describes(bad), bad


def test_axe_finds_no_serious_or_critical_violation_on_any_page(visit, site_pages, axe_source):
    page_visit = visit()
    problems = []
    for path in site_pages:
        page_visit.open(path)
        page = page_visit.page
        page.add_script_tag(content=axe_source)
        result = page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5), n: v.nodes.length}))"
        )
        problems += [
            f"{path}: {v['impact']} {v['id']} ({v['help']}) on {v['n']} element(s): {v['nodes']}"
            for v in result
            if v["impact"] in BLOCKING
        ]
    assert not problems, "\n".join(problems)


def test_every_picture_in_the_text_is_described(visit, site_pages):
    page_visit = visit()
    problems = []
    for path in site_pages:
        page_visit.open(path)
        images = page_visit.page.evaluate(
            "[...document.querySelectorAll('article img')].map(i => [i.currentSrc || i.src,"
            " i.getAttribute('alt'), i.getAttribute('title')])"
        )
        problems += [
            f"{path}: {src[-60:]} has alt={alt!r} title={title!r}"
            for src, alt, title in images
            if not (describes(alt) or (not alt and describes(title)))
        ]
    assert not problems, "\n".join(problems)
