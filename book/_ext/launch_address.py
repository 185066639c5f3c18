"""Point every notebook the book publishes at the one repository address it was built with.

``scripts/book_config.py`` resolves the course's repository address (``_config.yml``'s
``repository.url``, or the ``origin`` remote) and, when there is none, builds without launch
buttons. With an address, this extension

- writes it into the install cell (``REPOSITORY = ""``) of every executed notebook that the
  pages offer as a download, so the fallback installs the course from that repository;
- makes the launch buttons of an exercise page (``book/exercises/<name>.md``) open the
  released exercise notebook ``exercises/<name>/<name>.ipynb``, which is what a student works
  in, instead of the page itself.

With or without an address it keeps the executed notebook in every notebook page's download
menu: sphinx-book-theme copies it to ``_sources`` only while adding launch buttons, so a book
without launch buttons would otherwise offer the ``.md`` source alone.

Executed outputs come from the cache keyed on the cells' code, so the address is written after
execution and a new address costs no re-execution.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat

INSTALL_LINE = re.compile(r'^REPOSITORY = ""$', re.MULTILINE)
EXERCISE_PAGE = re.compile(r"^book/exercises/(?P<name>[a-z0-9_]+)$")


def _repository_url(app) -> str:
    # set by scripts/book_config.py; not html_theme_options' repository_url, which Jupyter
    # Book fills with its own repository when the configuration names none
    return app.config.cnncourse_repository_url or ""


def fill_install_address(app, env) -> None:
    """Write the repository address into the install cell of every executed notebook."""
    url = _repository_url(app)
    folder = Path(app.env.mystnb_config.output_folder)
    if not url or not folder.is_dir():
        return
    for path in folder.rglob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        changed = False
        for cell in notebook.cells:
            if cell.cell_type == "code" and INSTALL_LINE.search(cell.source):
                cell.source = INSTALL_LINE.sub(f'REPOSITORY = "{url}"', cell.source)
                changed = True
        if changed:
            nbformat.write(notebook, path)


def exercise_launch_links(app, pagename, templatename, context, doctree) -> None:
    """On an exercise page, launch the released exercise notebook rather than the page."""
    match = EXERCISE_PAGE.match(pagename)
    if not match:
        return
    name = match["name"]
    released = f"exercises/{name}/{name}.ipynb"
    if not (Path(app.srcdir) / released).is_file():
        return
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            if "url" in button:
                button["url"] = re.sub(
                    rf"book/exercises/{name}\.(md|ipynb)", released, button["url"]
                )


def notebook_download(app, pagename, templatename, context, doctree) -> None:
    """Offer the executed notebook of a MyST notebook page for download."""
    source = context.get("sourcename") or ""
    if context.get("ipynb_source") or not source.endswith((".md", ".md.txt")):
        return
    if "kernelspec" not in app.env.metadata.get(pagename, {}):
        return
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not executed.is_file():
        return
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(executed, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def setup(app):
    app.add_config_value("cnncourse_repository_url", "", "env", types=[str])
    # after executed_notebooks (priority 500) has merged the cached outputs back
    app.connect("env-updated", fill_install_address, priority=600)
    # before sphinx-book-theme's download menu (add_header_buttons, priority 501)
    app.connect("html-page-context", notebook_download, priority=500)
    # after sphinx-book-theme's add_launch_buttons (priority 501)
    app.connect("html-page-context", exercise_launch_links, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
