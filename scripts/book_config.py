"""Write a copy of the book's _config.yml with a course's own settings filled in.

``make book`` runs ``python scripts/book_config.py _build/_config.local.yml`` and builds with
``jupyter-book build . --config _build/_config.local.yml``.

The repository address. Launch buttons (Binder, Colab, JupyterHub), the repository button and
the notebooks' install fallback all use one address, the first of

1. ``--repository-url`` (``make book REPOSITORY_URL=https://github.com/org/repo``);
2. ``repository.url`` in ``_config.yml``;
3. the ``origin`` remote of the git checkout, when it is a GitHub repository.

With none of them the book is built without those buttons: no address is made up. Colab opens
the chapter's committed ``.ipynb``, so its button appears only when the chapters' install cells
carry the same address (``--write-install-address`` writes it into ``book/NN_*.md``; then
``make notebooks``).

A course that runs its own JupyterHub adds ``JUPYTERHUB_URL=https://hub.your-university.edu``:
every chapter then gets a button that clones (or updates) the repository into the student's
hub account with nbgitpuller and opens the chapter as a notebook.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[1]
BINDERHUB_URL = "https://mybinder.org"
COLAB_URL = "https://colab.research.google.com"
INSTALL_LINE = re.compile(r'^REPOSITORY = "(?P<url>[^"]*)"$', re.MULTILINE)
GITHUB_SSH = re.compile(r"^(?:ssh://)?git@github\.com[:/](?P<path>[^/]+/[^/]+?)(?:\.git)?/?$")


def hub_url(value: str) -> str:
    """The hub's base address: an http(s) URL with a host, without a trailing slash."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(
            f"expected an http(s) address such as https://hub.your-university.edu, got {value!r}"
        )
    return value.rstrip("/")


def repository_url(value: str) -> str:
    """A repository's web address: https://<host>/<org>/<repo>, without ``.git`` or ``/``."""
    parts = urlsplit(value)
    path = parts.path.strip("/").removesuffix(".git")
    if parts.scheme not in ("http", "https") or not parts.netloc or path.count("/") != 1:
        raise argparse.ArgumentTypeError(
            f"expected a repository address such as https://github.com/org/repo, got {value!r}"
        )
    return f"{parts.scheme}://{parts.netloc}/{path}"


def origin_url(root: Path = ROOT) -> str | None:
    """The ``origin`` remote of the checkout at ``root`` as a web address, if it is one."""
    try:
        remote = subprocess.run(
            ["git", "-C", str(root), "remote", "get-url", "origin"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    ssh = GITHUB_SSH.match(remote)
    if ssh:
        remote = f"https://github.com/{ssh['path']}"
    try:
        return repository_url(remote)
    except argparse.ArgumentTypeError:
        return None


def install_addresses(root: Path = ROOT) -> dict[str, str]:
    """Each chapter's install-cell address (``REPOSITORY = "..."``), by chapter file name."""
    found = {}
    for chapter in sorted((root / "book").glob("[0-9]*.md")):
        match = INSTALL_LINE.search(chapter.read_text(encoding="utf-8"))
        if match is None:
            raise ValueError(f'{chapter.name} has no install cell line REPOSITORY = "..."')
        found[chapter.name] = match["url"]
    return found


def write_install_address(url: str, root: Path = ROOT) -> list[Path]:
    """Set the install cell of every chapter to ``url``; returns the files changed."""
    changed = []
    for chapter in sorted((root / "book").glob("[0-9]*.md")):
        text = chapter.read_text(encoding="utf-8")
        new = INSTALL_LINE.sub(f'REPOSITORY = "{url}"', text, count=1)
        if new != text:
            chapter.write_text(new, encoding="utf-8")
            changed.append(chapter)
    return changed


def launch_settings(config: dict, url: str | None, *, root: Path = ROOT) -> None:
    """Turn the repository and launch buttons on for ``url``, or off without one (in place)."""
    html = config.setdefault("html", {})
    launch = config.setdefault("launch_buttons", {})
    repository = config.setdefault("repository", {})
    # for book/_ext/launch_address.py (the notebooks' install cell)
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    sphinx_config["cnncourse_repository_url"] = url or ""
    if not url:
        repository.pop("url", None)
        html["use_repository_button"] = False
        html["use_issues_button"] = html["use_edit_page_button"] = False
        launch["binderhub_url"] = launch["colab_url"] = ""
        if launch.get("jupyterhub_url"):
            raise ValueError("a JupyterHub button needs a repository address for nbgitpuller")
        return
    repository["url"] = url
    html["use_repository_button"] = True
    launch["binderhub_url"] = BINDERHUB_URL
    github = urlsplit(url).netloc == "github.com"
    carried = set(install_addresses(root).values()) == {url}
    launch["colab_url"] = COLAB_URL if github and carried else ""


def local_config(
    base: Path,
    *,
    jupyterhub_url: str | None = None,
    execute: str | None = None,
    repository: str | None = None,
    use_origin: bool = True,
    root: Path = ROOT,
) -> dict:
    """The configuration in ``base`` with the given settings replaced, and its launch
    buttons set for the repository address (``repository``, else the configuration's, else
    the ``origin`` remote when ``use_origin``), or left out without one."""
    config = yaml.safe_load(base.read_text(encoding="utf-8"))
    # jupyter-book finds local extensions relative to the config file, which moves
    extensions = config.get("sphinx", {}).get("local_extensions") or {}
    for name, folder in extensions.items():
        extensions[name] = str((base.parent / folder).resolve())
    if jupyterhub_url is not None:
        config.setdefault("launch_buttons", {})["jupyterhub_url"] = jupyterhub_url
    if execute is not None:
        config.setdefault("execute", {})["execute_notebooks"] = execute
    url = repository or (config.get("repository") or {}).get("url") or None
    if url is None and use_origin:
        url = origin_url(root)
    launch_settings(config, repository_url(url) if url else None, root=root)
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, nargs="?", help="where to write the configuration")
    parser.add_argument("--jupyterhub-url", type=hub_url, help="the course's JupyterHub")
    parser.add_argument(
        "--repository-url", type=repository_url, help="the course's repository (web address)"
    )
    parser.add_argument(
        "--write-install-address",
        action="store_true",
        help="write the repository address into every chapter's install cell, then stop",
    )
    parser.add_argument(
        "--execute",
        choices=("auto", "cache", "force", "off"),
        help="execute_notebooks (default: as in _config.yml)",
    )
    parser.add_argument("--base", type=Path, default=ROOT / "_config.yml")
    args = parser.parse_args(argv)
    if args.write_install_address:
        config = local_config(args.base, repository=args.repository_url)
        url = config.get("repository", {}).get("url", "")
        for path in write_install_address(url):
            print(f"{path.relative_to(ROOT)}: REPOSITORY = {url!r}")
        return 0
    if args.output is None:
        parser.error("the output path is required")
    try:
        config = local_config(
            args.base,
            jupyterhub_url=args.jupyterhub_url,
            execute=args.execute,
            repository=args.repository_url,
        )
    except ValueError as err:
        parser.error(str(err))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
