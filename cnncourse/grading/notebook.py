"""Read the instructor's source notebook and a submission; assemble what the child runs.

Answer cells (nbgrader solution cells) come from the submission, matched by grade id; setup
and read-only cells come from the source; test cells come from neither. Points come from
the source only, so nothing a student does to the metadata of their copy changes them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from cnncourse.grading.cells import cell_kind, nbgrader_meta


class NotebookError(Exception):
    """A notebook that cannot be read or does not have the cells grading needs."""


@dataclass(frozen=True)
class Cell:
    kind: str  # "setup" or "answer"
    source: str
    grade_id: str | None = None


@dataclass
class SourceNotebook:
    """The instructor's notebook, reduced to what grading needs."""

    path: Path
    cells: list[Cell]
    answer_ids: list[str]
    points: dict[str, float]  # grade id of every autograded cell -> its points


@dataclass
class Submission:
    """The answers found in a student's notebook."""

    path: Path
    answers: dict[str, str]  # grade id -> source of the answer cell
    notes: list[str] = field(default_factory=list)  # anomalies shown to the instructor


def read_notebook(path: Path):
    """The notebook as an ``nbformat.NotebookNode`` (any nbformat version, converted to 4)."""
    import nbformat  # slow to import (its schema validator's dependencies): only when needed

    try:
        with open(path, encoding="utf-8") as handle:
            return nbformat.read(handle, as_version=4)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotebookError(f"{path.name} could not be read: {exc}") from None
    except Exception as exc:  # nbformat raises several kinds on malformed documents
        raise NotebookError(f"{path.name} is not a valid notebook: {exc}") from None


def read_cells(path: Path) -> list[dict]:
    """The notebook's cells as dicts with ``cell_type``, ``metadata`` and ``source`` (a str).

    nbformat 4 documents are parsed here with the json module: importing nbformat takes
    seconds, more than grading a submission. Other versions go through nbformat's conversion.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotebookError(f"{path.name} could not be read: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise NotebookError(f"{path.name} is not a valid notebook: {exc}") from None
    if not isinstance(document, dict) or document.get("nbformat") != 4:
        return [dict(cell) for cell in read_notebook(path).cells]
    cells = document.get("cells")
    if not isinstance(cells, list):
        raise NotebookError(f"{path.name} is not a valid notebook: it has no list of cells")
    return [_checked_cell(cell, index, path) for index, cell in enumerate(cells)]


def _checked_cell(cell, index: int, path: Path) -> dict:
    source = cell.get("source") if isinstance(cell, dict) else None
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        source = "".join(source)
    if not (
        isinstance(source, str)
        and isinstance(cell.get("cell_type"), str)
        and isinstance(cell.get("metadata"), dict)
    ):
        raise NotebookError(
            f"{path.name} is not a valid notebook: cell {index} needs a cell_type, "
            "metadata and source"
        )
    return {**cell, "source": source}


def load_source(path: Path) -> SourceNotebook:
    cells: list[Cell] = []
    answer_ids: list[str] = []
    points: dict[str, float] = {}
    for index, cell in enumerate(read_cells(path)):
        meta, kind = nbgrader_meta(cell), cell_kind(cell)
        if kind == "test":
            points[_grade_id(meta, kind, index, path)] = float(meta.get("points", 0))
        if cell["cell_type"] != "code":
            continue
        if kind in ("answer", "manual"):
            grade_id = _grade_id(meta, kind, index, path)
            cells.append(Cell("answer", "", grade_id))
            answer_ids.append(grade_id)
        elif kind in ("readonly", "plain"):
            cells.append(Cell("setup", to_python(cell["source"])))
    if not answer_ids:
        raise NotebookError(f"{path} has no answer (nbgrader solution) cells")
    return SourceNotebook(path, cells, answer_ids, points)


def _grade_id(meta: dict, kind: str, index: int, path: Path) -> str:
    """The grade id of a graded or answer cell of the source, which nbgrader requires."""
    grade_id = meta.get("grade_id")
    if not isinstance(grade_id, str):
        raise NotebookError(f"{path.name}: {kind} cell {index} has no nbgrader grade_id")
    return grade_id


def load_submission(path: Path, source: SourceNotebook) -> Submission:
    wanted = set(source.answer_ids)
    answers: dict[str, str] = {}
    notes: list[str] = []
    for cell in read_cells(path):
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id not in wanted:
            continue
        if grade_id in answers:
            notes.append(f"cell {grade_id!r} appears more than once; the first one was graded")
            continue
        if cell["cell_type"] != "code":
            notes.append(f"answer cell {grade_id!r} is not a code cell any more")
            answers[grade_id] = ""
            continue
        answers[grade_id] = to_python(cell["source"])
    for grade_id in source.answer_ids:
        if grade_id not in answers:
            notes.append(f"answer cell {grade_id!r} is missing from the notebook")
    return Submission(path, answers, notes)


def program_cells(source: SourceNotebook, submission: Submission) -> list[dict]:
    """The cells the child runs, in the source's order, as plain dicts for the wire."""
    cells = []
    for index, cell in enumerate(source.cells):
        if cell.kind == "answer":
            if cell.grade_id is None:
                raise NotebookError(f"{source.path.name}: answer cell {index} has no grade_id")
            text = submission.answers.get(cell.grade_id, "")
            cells.append({"kind": "answer", "grade_id": cell.grade_id, "source": text})
        else:
            cells.append({"kind": "setup", "index": str(index), "source": cell.source})
    return cells


_MAGIC = re.compile(r"^\s*[%!]|\?\s*$", re.M)


def to_python(source: str) -> str:
    """Cell text as plain Python: magics and ``!shell`` lines become ``get_ipython()`` calls."""
    if not _MAGIC.search(source):
        return source  # plain Python: skip IPython's (slow to import) transformer
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # a cell IPython cannot parse either: let compile() report it in context
        return source
