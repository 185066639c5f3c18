"""Keep the downloadable executed notebooks complete when their outputs come from the cache.

myst-nb (1.4) writes ``_build/jupyter_execute/<page>.ipynb``, which sphinx-book-theme offers as
the page's ".ipynb" download, from the notebook it parsed, not from the one it merged with the
jupyter-cache. A page whose code is unchanged (a text-only edit) is re-read, its HTML gets
the cached outputs, but its downloadable notebook has none. After the pages are read, this
merges the cached outputs back into every such notebook.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from jupyter_cache import get_cache


def restore_cached_outputs(app, env) -> None:
    cache_path = app.env.mystnb_config.execution_cache_path  # resolved by myst-nb at start-up
    folder = Path(app.env.mystnb_config.output_folder)
    if not cache_path or not Path(cache_path).is_dir() or not folder.is_dir():
        return
    cache = get_cache(cache_path)
    for path in folder.rglob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        if any(cell.get("outputs") for cell in notebook.cells):
            continue  # executed in this build, or already complete
        try:
            _, merged = cache.merge_match_into_notebook(notebook)
        except KeyError:  # not in the cache: nothing to restore
            continue
        nbformat.write(merged, path)


def setup(app):
    app.connect("env-updated", restore_cached_outputs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
