"""The launch buttons and downloads of every chapter and exercise page, in the built book.

One repository address serves the launch buttons (Binder, Colab, JupyterHub), the repository
button and the notebooks' install fallback. ``scripts/book_config.py`` resolves it (the
``--repository-url`` option, ``_config.yml``'s ``repository.url``, the ``origin`` remote); the
shared ``_config.yml`` names none, so the session build must have none of those buttons and no
address in its notebooks, and a build with an address (from the session's cache) must point
every button at it: chapters at their paired .ipynb, exercise pages at the released exercise
notebook. The download menu offers the executed notebook and the .md source.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
REPO = "https://github.com/example-org/example-course"  # a course's address, for the tests
ORG_REPO = urlsplit(REPO).path.strip("/")
BRANCH = CONFIG["repository"]["branch"]
CHAPTERS = sorted(p.stem for p in ROOT.glob("book/[0-9]*.md"))
EXERCISES = sorted(p.stem for p in ROOT.glob("book/exercises/*.md") if p.stem != "index")
HUB = "https://hub.example.edu"
LAUNCH_HOSTS = ("mybinder.org", "colab.research.google.com", "github.com", "/hub/")

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


def _install_line(notebook: Path) -> str:
    cells = nbformat.read(notebook, 4).cells
    lines = [
        line
        for cell in cells
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if line.startswith("REPOSITORY = ")
    ]
    assert len(lines) == 1, f"{notebook.name}: expected one install line, got {lines}"
    return lines[0]


def test_the_shared_config_names_no_repository_address():
    assert "url" not in CONFIG["repository"], "no address is true for every course"
    assert set(book_config.install_addresses().values()) == {""}, "install cells name none"


@pytest.mark.parametrize(
    "page", [f"book/{c}" for c in CHAPTERS] + [f"book/exercises/{e}" for e in EXERCISES]
)
def test_without_an_address_no_page_has_launch_or_repository_buttons(built_book, page):
    links = _links(built_book / f"{page}.html")
    launch = [link for link in links if any(host in link for host in LAUNCH_HOSTS)]
    assert launch == [], f"{page} links to {launch} although no address is configured"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_without_an_address_the_install_cell_names_none(built_book, chapter):
    line = _install_line(built_book / "_sources" / "book" / f"{chapter}.ipynb")
    assert line == 'REPOSITORY = ""', line


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


@pytest.fixture(scope="module")
def addressed_book(built_book, tmp_path_factory) -> Path:
    """The book built with a repository address and a hub, every page from the cache."""
    config = book_config.local_config(
        ROOT / "_config.yml", repository=REPO, jupyterhub_url=HUB, use_origin=False
    )
    return _build_from_the_cache(config, built_book, tmp_path_factory.mktemp("addressed"))


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_with_an_address_binder_opens_the_chapter_notebook(addressed_book, chapter):
    expected = (
        f"https://mybinder.org/v2/gh/{ORG_REPO}/{BRANCH}?urlpath=lab/tree/book/{chapter}.ipynb"
    )
    links = _links(addressed_book / "book" / f"{chapter}.html")
    assert expected in links, [link for link in links if "binder" in link]
    assert (ROOT / "book" / f"{chapter}.ipynb").is_file(), "the button needs the .ipynb"
    assert REPO in links, "the repository button"


@pytest.mark.slow
@pytest.mark.parametrize("exercise", EXERCISES)
def test_with_an_address_exercise_pages_launch_the_released_notebook(addressed_book, exercise):
    released = f"exercises/{exercise}/{exercise}.ipynb"
    assert (ROOT / released).is_file(), released
    links = _links(addressed_book / "book" / "exercises" / f"{exercise}.html")
    binder = f"https://mybinder.org/v2/gh/{ORG_REPO}/{BRANCH}?urlpath=lab/tree/{released}"
    assert binder in links, [link for link in links if "binder" in link]
    hub = [link for link in links if link.startswith(f"{HUB}/hub/user-redirect/")]
    assert len(hub) == 1, hub
    query = parse_qs(urlsplit(hub[0].replace("&amp;", "&")).query)
    assert query["urlpath"] == [f"lab/tree/{ORG_REPO.split('/')[1]}/{released}"], query


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_with_an_address_the_downloaded_notebook_installs_from_it(addressed_book, chapter):
    line = _install_line(addressed_book / "_sources" / "book" / f"{chapter}.ipynb")
    assert line == f'REPOSITORY = "{REPO}"', line


@pytest.mark.slow
def test_colab_is_left_out_while_the_committed_notebooks_do_not_carry_the_address(
    addressed_book,
):
    """Colab opens the committed .ipynb, whose install cell names no address yet."""
    links = _links(addressed_book / "book" / f"{CHAPTERS[0]}.html")
    assert not [link for link in links if "colab" in link]


@pytest.mark.slow
def test_a_course_build_with_its_hub_gets_a_nbgitpuller_button(addressed_book):
    page = addressed_book / "book" / f"{CHAPTERS[0]}.html"
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


@pytest.mark.parametrize("address", ["hub.example.edu", "ftp://hub.example.edu", "https://"])
def test_book_config_refuses_a_hub_address_that_is_not_http(address):
    with pytest.raises(argparse.ArgumentTypeError, match="expected an http\\(s\\) address"):
        book_config.hub_url(address)


@pytest.mark.parametrize(
    "address",
    [
        "https://github.com/example-org/example-course",
        "https://github.com/example-org/example-course.git",
        "https://github.com/example-org/example-course/",
    ],
)
def test_book_config_normalizes_a_repository_address(address):
    assert book_config.repository_url(address) == REPO


@pytest.mark.parametrize(
    "address", ["github.com/org/repo", "https://github.com/org", "https://github.com/a/b/c"]
)
def test_book_config_refuses_an_address_that_is_not_a_repository(address):
    with pytest.raises(argparse.ArgumentTypeError, match="expected a repository address"):
        book_config.repository_url(address)


def _git_checkout(folder: Path, remote: str | None) -> Path:
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    if remote:
        subprocess.run(["git", "-C", str(folder), "remote", "add", "origin", remote], check=True)
    return folder


@pytest.mark.parametrize("remote", [f"{REPO}.git", "git@github.com:example-org/example-course.git"])
def test_book_config_reads_the_origin_remote(tmp_path, remote):
    assert book_config.origin_url(_git_checkout(tmp_path, remote)) == REPO


def test_book_config_finds_no_origin_in_a_checkout_without_one(tmp_path):
    assert book_config.origin_url(_git_checkout(tmp_path, None)) is None


def _course_copy(tmp_path: Path, install_address: str) -> Path:
    """A checkout with the repository's _config.yml and one chapter's install cell."""
    root = _git_checkout(tmp_path / "course", None)
    (root / "book").mkdir()
    shutil.copy(ROOT / "_config.yml", root / "_config.yml")
    chapter = (ROOT / "book" / f"{CHAPTERS[0]}.md").read_text(encoding="utf-8")
    chapter = chapter.replace('REPOSITORY = ""', f'REPOSITORY = "{install_address}"')
    (root / "book" / f"{CHAPTERS[0]}.md").write_text(chapter, encoding="utf-8")
    return root


def test_book_config_without_any_address_turns_every_button_off(tmp_path):
    root = _course_copy(tmp_path, "")
    config = book_config.local_config(root / "_config.yml", root=root)
    assert "url" not in config["repository"]
    assert config["html"]["use_repository_button"] is False
    launch = config["launch_buttons"]
    assert (launch["binderhub_url"], launch["colab_url"], launch["jupyterhub_url"]) == ("",) * 3


def test_book_config_takes_the_origin_remote_when_the_config_has_none(tmp_path):
    root = _course_copy(tmp_path, "")
    subprocess.run(["git", "-C", str(root), "remote", "add", "origin", REPO], check=True)
    config = book_config.local_config(root / "_config.yml", root=root)
    assert config["repository"]["url"] == REPO
    assert config["launch_buttons"]["binderhub_url"] == book_config.BINDERHUB_URL


@pytest.mark.parametrize(("install_address", "colab"), [("", False), (REPO, True)])
def test_book_config_offers_colab_only_when_the_notebooks_install_from_the_address(
    tmp_path, install_address, colab
):
    root = _course_copy(tmp_path, install_address)
    config = book_config.local_config(root / "_config.yml", repository=REPO, root=root)
    expected = book_config.COLAB_URL if colab else ""
    assert config["launch_buttons"]["colab_url"] == expected, config["launch_buttons"]


def test_book_config_writes_the_address_into_every_install_cell(tmp_path):
    root = _course_copy(tmp_path, "")
    changed = book_config.write_install_address(REPO, root)
    assert [p.name for p in changed] == [f"{CHAPTERS[0]}.md"]
    assert book_config.install_addresses(root) == {f"{CHAPTERS[0]}.md": REPO}


def test_book_config_refuses_a_hub_without_a_repository(tmp_path):
    root = _course_copy(tmp_path, "")
    with pytest.raises(ValueError, match="needs a repository address"):
        book_config.local_config(root / "_config.yml", jupyterhub_url=HUB, root=root)


def test_book_config_fills_in_the_hub_and_keeps_everything_else(tmp_path):
    out = tmp_path / "_config.yml"
    book_config.main(["--jupyterhub-url", HUB + "/", "--repository-url", REPO, str(out)])
    written = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert written["launch_buttons"]["jupyterhub_url"] == HUB
    assert written["repository"].pop("url") == REPO
    for key in ("jupyterhub_url", "binderhub_url", "colab_url"):
        written["launch_buttons"][key] = CONFIG["launch_buttons"][key]
    written["html"]["use_repository_button"] = CONFIG["html"]["use_repository_button"]
    assert written["sphinx"]["config"].pop("cnncourse_repository_url") == REPO
    extensions = written["sphinx"]["local_extensions"]
    expected = {name: str(ROOT / "book" / "_ext") for name in CONFIG["sphinx"]["local_extensions"]}
    assert extensions == expected, "made absolute"
    written["sphinx"]["local_extensions"] = CONFIG["sphinx"]["local_extensions"]
    assert written == CONFIG


@pytest.mark.slow
def test_downloads_keep_their_outputs_when_every_page_comes_from_the_cache(addressed_book):
    """myst-nb writes the download from the unmerged notebook (book/_ext fixes it)."""
    for chapter in CHAPTERS:
        download = addressed_book / "_sources" / "book" / f"{chapter}.ipynb"
        executed = nbformat.read(download, 4)
        outputs = sum(len(cell.get("outputs", [])) for cell in executed.cells)
        assert outputs > 0, f"{chapter}.ipynb from a cached build has no outputs"
