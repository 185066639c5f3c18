"""Every chapter opens as a notebook: in Jupyter through jupytext, and as the paired .ipynb
that the Binder, Colab and JupyterHub launch buttons open.

The MyST .md file is the source of each chapter; ``make notebooks`` regenerates its paired
.ipynb (no outputs). The launch environments are configured in ``binder/`` (Binder) and by
the first, hidden cell of every chapter (Colab or a bare JupyterHub: install the package
when it is missing).
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc["parts"]:
        walk(part["chapters"])
    return files


def _is_notebook(md: Path) -> bool:
    return "```{code-cell}" in md.read_text(encoding="utf-8")


CHAPTERS = [ROOT / f"{name}.md" for name in _toc_files() if _is_notebook(ROOT / f"{name}.md")]
IDS = [path.stem for path in CHAPTERS]


def _cells(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def test_the_chapters_with_code_are_the_ten_chapters_of_the_slides():
    assert [p.name for p in CHAPTERS] == sorted(p.name for p in ROOT.glob("book/[0-9]*.md"))
    assert len(CHAPTERS) == 10, [p.name for p in CHAPTERS]


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_chapter_opens_as_a_valid_python_notebook_with_jupytext(md):
    notebook = jupytext.read(md)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3", notebook.metadata
    assert sum(cell.cell_type == "code" for cell in notebook.cells) >= 3


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_chapter_is_paired_with_an_ipynb_for_the_launch_buttons(md):
    formats = jupytext.read(md).metadata["jupytext"]["formats"]
    assert formats == "ipynb,md:myst", f"{md.name}: jupytext formats {formats!r}"


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_paired_ipynb_holds_the_same_cells_as_the_chapter(md):
    ipynb = md.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{ipynb.name} is missing: run `make notebooks`"
    paired = nbformat.read(ipynb, as_version=4)
    nbformat.validate(paired)
    source, notebook = _cells(jupytext.read(md)), _cells(paired)
    assert notebook == source, f"{ipynb.name} is out of date with {md.name}: run `make notebooks`"
    assert all(not cell.get("outputs") for cell in paired.cells if cell.cell_type == "code")


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_first_code_cell_installs_the_course_where_it_is_missing(md):
    first = next(cell for cell in jupytext.read(md).cells if cell.cell_type == "code")
    # the source names no address; the build writes the configured one (test_launch.py)
    assert 'find_spec("cnncourse") is None' in first.source, first.source
    assert 'REPOSITORY = ""' in first.source.splitlines(), first.source
    assert '%pip install --quiet "cnncourse @ git+{REPOSITORY}"' in first.source, first.source
    assert "remove-cell" in first.metadata.get("tags", []), "the book's readers need not see it"


def test_binder_installs_the_cpu_torch_pinned_in_constraints():
    constraints = (ROOT / "constraints.txt").read_text(encoding="utf-8")
    pinned = re.search(r"^torch==(\S+)$", constraints, re.M).group(1)
    requirements = (ROOT / "binder" / "requirements.txt").read_text(encoding="utf-8")
    assert f"torch=={pinned}" in requirements.splitlines(), requirements
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in requirements


def test_binder_post_build_installs_the_course_with_the_constraints():
    post_build = ROOT / "binder" / "postBuild"
    assert post_build.stat().st_mode & 0o111, "postBuild must be executable"
    text = post_build.read_text(encoding="utf-8")
    assert text.startswith("#!/bin/bash\n")
    assert '-c constraints.txt -e ".[book]"' in text, text


def test_binder_python_is_the_one_the_course_is_pinned_for():
    runtime = (ROOT / "binder" / "runtime.txt").read_text(encoding="utf-8").strip()
    assert runtime == "python-3.11", runtime
