"""Leave out of the published site the files no reader's browser asks for.

The theme and the vendored widget manager ship every font in several formats for old browsers
(``.eot``, ``.ttf``, ``.svg``, ``.woff`` beside ``.woff2``), source maps (``*.map``) that
only a developer's tools load, and the theme's message catalogues (``.po``, ``.mo``), which
Sphinx reads from the installed theme while it builds, never from the site. Every browser the
book supports takes the ``.woff2`` listed first in each ``@font-face``, so after the build this
removes the other formats of any font folder that has ``.woff2`` files, the source maps and
the catalogues. The downloadable executed notebooks (``_sources/**/*.ipynb``) lose their saved
widget state: it is the page's demo pictures a second time (2.5 MB in all), and in Jupyter a
demo is drawn again when its cell runs. ``tests/book/test_weight.py`` checks the
site's weight and, with the browser tests, that no page asks for a removed file.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

OLD_FONT_FORMATS = {".eot", ".ttf", ".svg", ".woff"}


def unused_static_files(static: Path) -> list[Path]:
    """Source maps, catalogues, and old font formats in folders that also hold ``.woff2``."""
    found = [p for pattern in ("*.map", "*.po", "*.mo") for p in static.rglob(pattern)]
    for folder in {p.parent for p in static.rglob("*.woff2")}:
        found += [p for p in folder.iterdir() if p.suffix in OLD_FONT_FORMATS and p.is_file()]
    return sorted(found)


ICON_SCRIPT = re.compile(
    r'<script[^>]*src="[^"]*_static/scripts/fontawesome\.js[^"]*"[^>]*></script>\s*'
)
MAX_MEAN_ERROR = 1.5  # per channel (alpha included: transparent figures stay), out of 255


def drop_icon_script(outdir: Path) -> None:
    """Remove fontawesome.js and the tag that loads it from every page."""
    for page in outdir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        slim = ICON_SCRIPT.sub("", text)
        if slim != text:
            page.write_text(slim, encoding="utf-8")
    (outdir / "_static" / "scripts" / "fontawesome.js").unlink(missing_ok=True)


def palette_png(data: bytes) -> bytes | None:
    """``data`` with a 256-colour palette, or None when that would change the picture."""
    import numpy as np
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    if image.mode == "P":
        return None  # already a palette PNG (this build or an earlier one re-encoded it)
    rgba = image.convert("RGBA")
    quantized = rgba.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    error = np.abs(
        np.asarray(quantized.convert("RGBA"), dtype=float) - np.asarray(rgba, dtype=float)
    ).mean()
    out = io.BytesIO()
    quantized.save(out, "png", optimize=True)
    smaller = out.getvalue()
    return smaller if error < MAX_MEAN_ERROR and len(smaller) < len(data) else None


def compress_figures(images: Path) -> None:
    for path in images.glob("*.png"):
        smaller = palette_png(path.read_bytes())
        if smaller is not None:
            path.write_bytes(smaller)


def drop_widget_state(sources: Path) -> None:
    for path in sources.rglob("*.ipynb"):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        if notebook.get("metadata", {}).pop("widgets", None) is not None:
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False), encoding="utf-8")


def remove_unused_static_files(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    for path in unused_static_files(static):
        path.unlink()
    for folder in sorted(static.rglob("*"), key=lambda p: -len(p.parts)):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # left empty (the catalogues' locales/<language>/LC_MESSAGES)
    drop_icon_script(Path(app.outdir))
    compress_figures(Path(app.outdir) / "_images")
    drop_widget_state(Path(app.outdir) / "_sources")


def setup(app):
    app.connect("build-finished", remove_unused_static_files)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
