"""Leave out of the published site the files no reader's browser asks for.

The theme and the vendored widget manager ship every font in several formats for old browsers
(``.eot``, ``.ttf``, ``.svg``, ``.woff`` beside ``.woff2``), and source maps (``*.map``) that
only a developer's tools load. Every browser the book supports takes the ``.woff2`` listed
first in each ``@font-face``, so after the build this removes the other formats of any font
folder that has ``.woff2`` files, and the source maps. ``tests/book/test_weight.py`` checks the
site's weight and, with the browser tests, that no page asks for a removed file.
"""

from __future__ import annotations

from pathlib import Path

OLD_FONT_FORMATS = {".eot", ".ttf", ".svg", ".woff"}


def unused_static_files(static: Path) -> list[Path]:
    """Source maps, and old font formats in folders that also hold ``.woff2`` fonts."""
    found = list(static.rglob("*.map"))
    for folder in {p.parent for p in static.rglob("*.woff2")}:
        found += [p for p in folder.iterdir() if p.suffix in OLD_FONT_FORMATS and p.is_file()]
    return sorted(found)


def remove_unused_static_files(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for path in unused_static_files(Path(app.outdir) / "_static"):
        path.unlink()


def setup(app):
    app.connect("build-finished", remove_unused_static_files)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
