"""Write a copy of the book's _config.yml with a course's own settings filled in.

The repository's _config.yml is what every course shares; a course that runs its own
JupyterHub sets its address here instead of editing the file, e.g.

    make book JUPYTERHUB_URL=https://hub.your-university.edu

which runs ``python scripts/book_config.py --jupyterhub-url URL _build/_config.local.yml``
and builds with ``jupyter-book build . --config _build/_config.local.yml``. Every chapter then
gets a JupyterHub launch button that clones (or updates) the repository into the student's
hub account with nbgitpuller and opens the chapter as a notebook.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[1]


def hub_url(value: str) -> str:
    """The hub's base address: an http(s) URL with a host, without a trailing slash."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(
            f"expected an http(s) address such as https://hub.your-university.edu, got {value!r}"
        )
    return value.rstrip("/")


def local_config(
    base: Path, *, jupyterhub_url: str | None = None, execute: str | None = None
) -> dict:
    """The configuration in ``base`` with the given settings replaced."""
    config = yaml.safe_load(base.read_text(encoding="utf-8"))
    # jupyter-book finds local extensions relative to the config file, which moves
    extensions = config.get("sphinx", {}).get("local_extensions") or {}
    for name, folder in extensions.items():
        extensions[name] = str((base.parent / folder).resolve())
    if jupyterhub_url is not None:
        config.setdefault("launch_buttons", {})["jupyterhub_url"] = jupyterhub_url
    if execute is not None:
        config.setdefault("execute", {})["execute_notebooks"] = execute
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="where to write the configuration")
    parser.add_argument("--jupyterhub-url", type=hub_url, help="the course's JupyterHub")
    parser.add_argument(
        "--execute",
        choices=("auto", "cache", "force", "off"),
        help="execute_notebooks (default: as in _config.yml)",
    )
    parser.add_argument("--base", type=Path, default=ROOT / "_config.yml")
    args = parser.parse_args(argv)
    config = local_config(args.base, jupyterhub_url=args.jupyterhub_url, execute=args.execute)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
