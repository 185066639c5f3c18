"""The launch buttons and downloads of every chapter, in the built book.

Binder and Colab links come from ``_config.yml`` and point at each chapter's paired .ipynb
(tests/book/test_notebooks.py checks the pairs); the download menu offers the executed
notebook and the .md source. A JupyterHub button appears when a course builds with its hub's
address (``make book JUPYTERHUB_URL=...``, through ``scripts/book_config.py``): the last test
builds the book that way, reusing the executed cells of the session build.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
REPO = CONFIG["repository"]["url"]  # https://github.com/<org>/<repo>
ORG_REPO = urlsplit(REPO).path.strip("/")
BRANCH = CONFIG["repository"]["branch"]
CHAPTERS = sorted(p.stem for p in ROOT.glob("book/[0-9]*.md"))
HUB = "https://hub.example.edu"

pytestmark = pytest.mark.book


def _load_book_config():
    spec = importlib.util.spec_from_file_location("book_config", ROOT / "scripts/book_config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


book_config = _load_book_config()


def _links(page: Path) -> list[str]:
    return re.findall(r'href="([^"]+)"', page.read_text(encoding="utf-8"))


def _build_from_the_cache(config: dict, built_book: Path, folder: Path) -> Path:
    """Build the book with ``config`` into ``folder``, every page's outputs from the cache."""
    config["execute"]["cache"] = str(built_book.parent / ".jupyter_cache")  # no re-execution
    (folder / "_config.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book), "build", str(ROOT), "-W", "--config", str(folder / "_config.yml")]
    proc = subprocess.run(
        [*command, "--path-output", str(folder)], capture_output=True, text=True, cwd=ROOT
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert "Executing notebook" not in log, "expected every page from the cache"
    return folder / "_build" / "html"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_binder_button_opens_the_chapter_notebook_in_jupyterlab(built_book, chapter):
    expected = (
        f"https://mybinder.org/v2/gh/{ORG_REPO}/{BRANCH}?urlpath=lab/tree/book/{chapter}.ipynb"
    )
    links = _links(built_book / "book" / f"{chapter}.html")
    assert expected in links, [link for link in links if "binder" in link]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_colab_button_opens_the_chapter_notebook_from_github(built_book, chapter):
    expected = (
        f"https://colab.research.google.com/github/{ORG_REPO}/blob/{BRANCH}/book/{chapter}.ipynb"
    )
    links = _links(built_book / "book" / f"{chapter}.html")
    assert expected in links, [link for link in links if "colab" in link]
    assert (ROOT / "book" / f"{chapter}.ipynb").is_file(), "the button needs the .ipynb"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_download_menu_offers_the_executed_notebook_and_the_source(built_book, chapter):
    links = _links(built_book / "book" / f"{chapter}.html")
    for suffix in (".ipynb", ".md"):
        href = f"../_sources/book/{chapter}{suffix}"
        assert href in links, f"no {suffix} download on {chapter}"
        assert (built_book / "book" / href).resolve().is_file(), href
    executed = nbformat.read(built_book / "_sources" / "book" / f"{chapter}.ipynb", 4)
    outputs = sum(len(cell.get("outputs", [])) for cell in executed.cells)
    assert outputs > 0, f"the downloaded {chapter}.ipynb has no outputs"


def test_the_shared_build_has_no_jupyterhub_button(built_book):
    links = _links(built_book / "book" / f"{CHAPTERS[0]}.html")
    assert not [link for link in links if "git-pull" in link], "no hub address is configured"


@pytest.mark.parametrize("address", ["hub.example.edu", "ftp://hub.example.edu", "https://"])
def test_book_config_refuses_a_hub_address_that_is_not_http(address):
    with pytest.raises(argparse.ArgumentTypeError, match="expected an http\\(s\\) address"):
        book_config.hub_url(address)


def test_book_config_fills_in_the_hub_and_keeps_everything_else(tmp_path):
    out = tmp_path / "_config.yml"
    book_config.main(["--jupyterhub-url", HUB + "/", str(out)])
    written = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert written["launch_buttons"]["jupyterhub_url"] == HUB
    written["launch_buttons"]["jupyterhub_url"] = CONFIG["launch_buttons"]["jupyterhub_url"]
    extensions = written["sphinx"]["local_extensions"]
    assert extensions == {"executed_notebooks": str(ROOT / "book" / "_ext")}, "made absolute"
    written["sphinx"]["local_extensions"] = CONFIG["sphinx"]["local_extensions"]
    assert written == CONFIG


@pytest.mark.slow
def test_a_course_build_with_its_hub_gets_a_nbgitpuller_button(built_book, tmp_path):
    config = book_config.local_config(ROOT / "_config.yml", jupyterhub_url=HUB)
    html = _build_from_the_cache(config, built_book, tmp_path)
    page = html / "book" / f"{CHAPTERS[0]}.html"
    hub_links = [link for link in _links(page) if link.startswith(f"{HUB}/hub/user-redirect/")]
    assert len(hub_links) == 1, hub_links
    url = urlsplit(hub_links[0].replace("&amp;", "&"))
    assert url.path == "/hub/user-redirect/git-pull", url
    query = parse_qs(url.query)
    repo_name = ORG_REPO.split("/")[1]
    assert query == {
        "repo": [REPO],
        "urlpath": [f"lab/tree/{repo_name}/book/{CHAPTERS[0]}.ipynb"],
        "branch": [BRANCH],
    }


@pytest.mark.slow
def test_downloads_keep_their_outputs_when_every_page_comes_from_the_cache(built_book, tmp_path):
    """myst-nb writes the download from the unmerged notebook (book/_ext fixes it)."""
    html = _build_from_the_cache(
        book_config.local_config(ROOT / "_config.yml"), built_book, tmp_path
    )
    for chapter in CHAPTERS:
        download = html / "_sources" / "book" / f"{chapter}.ipynb"
        executed = nbformat.read(download, 4)
        outputs = sum(len(cell.get("outputs", [])) for cell in executed.cells)
        assert outputs > 0, f"{chapter}.ipynb from a cached build has no outputs"
