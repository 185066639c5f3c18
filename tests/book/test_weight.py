"""The weight of the built site: what a course hosts, and what a reader downloads per page.

- The whole site (every file of the HTML folder, as stored) is at most 15 MB.
- No page costs more than 2 MB to load: the page and everything the browser fetches for it
  (scripts, styles, fonts, images; the demos' pictures are inside the page), measured in the
  browser. Text (HTML, JavaScript, CSS, JSON, SVG) is counted as a static host sends it,
  gzip-compressed; images and fonts, already compressed, as they are.
- ``book/_ext/slim_site.py`` leaves out what no browser loads (source maps, old font formats).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE_LIMIT = 15_000_000
PAGE_LIMIT = 2_000_000
_TEXT = ("text/", "application/javascript", "application/json", "image/svg+xml")


def _slim_site():
    spec = importlib.util.spec_from_file_location("slim_site", ROOT / "book/_ext/slim_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sent_bytes(body: bytes, content_type: str) -> int:
    """Bytes a static host with compression sends for a response."""
    if content_type.split(";")[0].strip().startswith(_TEXT):
        return len(gzip.compress(body, compresslevel=6))
    return len(body)


def test_text_is_counted_compressed_and_images_as_they_are():
    text = b"<p>" + b"the same words " * 1000 + b"</p>"
    assert sent_bytes(text, "text/html; charset=utf-8") < len(text) / 10
    assert sent_bytes(text, "image/png") == len(text)


def test_slim_site_removes_only_what_no_browser_loads(tmp_path):
    files = {
        "scripts/app.js": True,
        "scripts/app.js.map": False,
        "fonts/a.woff2": True,
        "fonts/a.woff": False,
        "fonts/a.ttf": False,
        "fonts/a.eot": False,
        "fonts/a.svg": False,
        "mathjax/fonts/b.woff": True,  # no woff2 beside it: the only format there
        "images/logo.svg": True,
        "locales/de/LC_MESSAGES/theme.mo": False,
    }
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    unused = _slim_site().unused_static_files(tmp_path)
    removed = {p.relative_to(tmp_path).as_posix() for p in unused}
    assert removed == {name for name, kept in files.items() if not kept}


@pytest.mark.book
def test_downloaded_notebooks_keep_their_outputs_but_not_the_widget_state(tmp_path):
    notebook = {
        "cells": [{"cell_type": "code", "outputs": [{"output_type": "stream", "text": "4"}]}],
        "metadata": {"widgets": {"state": {"m": "x" * 1000}}, "kernelspec": {"name": "py"}},
    }
    path = tmp_path / "book" / "ch.ipynb"
    path.parent.mkdir()
    path.write_text(json.dumps(notebook), encoding="utf-8")
    _slim_site().drop_widget_state(tmp_path)
    slimmed = json.loads(path.read_text(encoding="utf-8"))
    assert "widgets" not in slimmed["metadata"], slimmed["metadata"]
    assert slimmed["cells"] == notebook["cells"]
    assert slimmed["metadata"]["kernelspec"] == {"name": "py"}


def test_the_whole_site_is_at_most_15_mb(html_root):
    sizes = {p: p.stat().st_size for p in html_root.rglob("*") if p.is_file()}
    total = sum(sizes.values())
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:8]
    listing = "\n".join(f"  {size / 1e6:6.2f} MB {p.relative_to(html_root)}" for p, size in largest)
    assert total <= SITE_LIMIT, f"the site is {total / 1e6:.2f} MB; the largest files:\n{listing}"


@pytest.mark.book
@pytest.mark.slow
def test_no_page_costs_more_than_2_mb_to_load(visit, site_pages, html_root):
    page_visit = visit()
    problems, report = [], []
    for path in site_pages:
        page_visit.open(path)
        loads = []
        for response in page_visit.responses:
            if response.status >= 300:
                continue
            # every request the page makes is a file of the site (others are blocked); the
            # browser may drop a body once the page has loaded, so the file is read instead
            body = (html_root / unquote(urlsplit(response.url).path).lstrip("/")).read_bytes()
            sent = sent_bytes(body, response.headers.get("content-type", ""))
            loads.append((sent, len(body), response.url))
        total = sum(sent for sent, _, _ in loads)
        report.append(f"{total / 1e6:5.2f} MB {path}")
        if total > PAGE_LIMIT:
            top = sorted(loads, reverse=True)[:6]
            detail = "; ".join(f"{s / 1e3:.0f} kB ({r / 1e3:.0f} kB raw) {u}" for s, r, u in top)
            problems.append(f"{path}: {total / 1e6:.2f} MB sent: {detail}")
    print("\n".join(report))
    assert not problems, "\n".join(problems)
