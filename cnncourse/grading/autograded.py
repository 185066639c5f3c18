"""nbgrader's ``autograded/`` notebooks, so that ``nbgrader generate_feedback`` works after us.

``nbgrader generate_feedback ASSIGNMENT`` renders ``COURSE/autograded/<student>/<assignment>/
<notebook>.ipynb`` to HTML, taking every score from the gradebook by the cells' nbgrader
``grade_id``. ``cnncourse grade --gradebook`` writes those notebooks for submissions that
come in nbgrader's ``COURSE/submitted/<student>/<assignment>/`` layout:

- the student's cells in the student's order; answer (solution) cells keep the student's
  text, every other cell of the instructor's notebook is the instructor's version, with
  hidden test sections removed (the version released to students); cells the student added
  stay, without nbgrader metadata; nbgrader metadata always comes from the instructor's
  notebook, so it matches the gradebook;
- no outputs of the student's own, and each autograded test cell gets one output: the
  outcome, points and message of every hidden test of that cell (test cells the student
  deleted are appended at the end, with their outcomes);
- the notebook-level metadata of the instructor's notebook.

The hidden suite's source never enters these notebooks: only test names, outcomes, points
and the messages the student sees in the ``--feedback`` page.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from cnncourse.grading.cells import strip_hidden as released
from cnncourse.grading.notebook import NotebookError, read_cells
from cnncourse.grading.report import STATUS_TEXT
from cnncourse.grading.results import atomic_write

# what nbgrader collect writes beside a submission; generate_feedback carries them to the
# feedback folder, where release_feedback needs them
EXCHANGE_FILES = ("timestamp.txt", "submission_secret.txt")


def nbgrader_course(notebook: Path, student: str) -> Path | None:
    """The nbgrader course folder of a notebook in ``COURSE/submitted/<student>/``: at
    ``<assignment>/``, one folder below it or one above it (where collection finds it)."""
    for folder in list(Path(notebook).parents)[:3]:
        if folder.name == student and folder.parent.name == "submitted":
            return folder.parent.parent
    return None


def autograded_path(record: dict, source_path: Path) -> Path | None:
    """Where nbgrader expects this submission's autograded notebook, or None (not nbgrader's
    layout). The notebook is named after the instructor's notebook, as in the gradebook."""
    course = nbgrader_course(Path(record["notebook"]), record["student"])
    if course is None:
        return None
    folder = course / "autograded" / record["student"] / record["assignment"]
    return folder / f"{Path(source_path).stem}.ipynb"


def write_autograded(record: dict, source_path: Path) -> Path | None:
    """Write the autograded notebook of one graded submission (None: not nbgrader's layout).

    The submission folder's ``timestamp.txt`` and ``submission_secret.txt`` (written by
    ``nbgrader collect``) are copied too, as ``nbgrader autograde`` does.
    """
    path = autograded_path(record, source_path)
    if path is None:
        return None
    submitted = Path(record["notebook"])
    try:
        cells = read_cells(submitted)
    except NotebookError:
        cells = []  # unreadable: the feedback still lists every test cell and its outcome
    with open(source_path, encoding="utf-8") as handle:
        source = json.load(handle)
    notebook = autograded_notebook(cells, source, record)
    atomic_write(path, json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    for name in EXCHANGE_FILES:
        if (submitted.parent / name).is_file():
            shutil.copyfile(submitted.parent / name, path.parent / name)
    return path


def autograded_notebook(submitted: list[dict], source: dict, record: dict) -> dict:
    """The autograded notebook (nbformat 4.5) from the submitted cells and the source."""
    by_id = {}
    for cell in source["cells"]:
        grade_id = _meta(cell).get("grade_id")
        if grade_id is not None and grade_id not in by_id:
            by_id[grade_id] = cell
    cells, seen = [], set()
    for cell in submitted:
        grade_id = _meta(cell).get("grade_id")
        original = by_id.get(grade_id) if grade_id not in seen else None
        if original is None:
            cells.append(_cell(cell["cell_type"], cell["source"], {}))
            continue
        seen.add(grade_id)
        if _meta(original).get("solution"):
            cells.append(_cell(cell["cell_type"], cell["source"], _meta(original)))
        else:
            cells.append(_from_source(original, record))
    for grade_id, original in by_id.items():
        if grade_id not in seen and _is_test(original):  # a test cell the student deleted
            cells.append(_from_source(original, record))
    for index, cell in enumerate(cells):
        cell["id"] = f"cell-{index}"
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": source.get("metadata", {}),
        "cells": cells,
    }


def _meta(cell: dict) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
    return meta if isinstance(meta, dict) else {}


def _is_test(cell: dict) -> bool:
    meta = _meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution")


def _cell(cell_type: str, source: str, nbgrader: dict) -> dict:
    cell: dict[str, Any] = {
        "cell_type": cell_type if cell_type in ("code", "markdown") else "raw",
        "metadata": {"nbgrader": dict(nbgrader)} if nbgrader else {},
        "source": source,
    }
    if cell["cell_type"] == "code":
        cell.update(outputs=[], execution_count=None)
    return cell


def _from_source(original: dict, record: dict) -> dict:
    text = original["source"]
    text = "".join(text) if isinstance(text, list) else text
    cell = _cell(original["cell_type"], released(text), _meta(original))
    if _is_test(original) and cell["cell_type"] == "code":
        cell["outputs"] = [_results_output(_meta(original)["grade_id"], record)]
    return cell


def _results_output(grade_id: str, record: dict) -> dict:
    """A stream output listing each hidden test of this cell: outcome, points, message."""
    tests = [test for test in record["tests"] if test["grade_id"] == grade_id]
    earned = sum(test["points"] for test in tests)
    possible = sum(test["max_points"] for test in tests)
    lines = [f"cnncourse grade: {earned:g} / {possible:g} points from the hidden tests"]
    for test in tests:
        outcome = STATUS_TEXT.get(test["status"], test["status"])
        lines.append(f"  {test['points']:g} / {test['max_points']:g}  {test['name']}: {outcome}")
        if test.get("message") and test["status"] != "passed":
            lines += [f"      {line}" for line in test["message"].splitlines()]
    return {
        "output_type": "stream",
        "name": "stdout" if earned == possible else "stderr",
        "text": "\n".join(lines) + "\n",
    }
