"""An exercise notebook's visible self-checks, run from a shell (``cnncourse check NOTEBOOK``).

The notebook runs in a fresh Jupyter kernel, the way the student runs it, with any hidden
test section removed first (an instructor's copy contains them), so nothing hidden is run
or shown. :func:`check_notebook` returns one :class:`CheckResult` per checked cell.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cnncourse.grading.cells import HiddenTestsError, is_test, nbgrader_meta, strip_hidden
from cnncourse.grading.notebook import NotebookError, read_notebook


class CheckError(ValueError):
    """A notebook whose self-checks cannot be run (unreadable, no check cells, bad markers)."""


@dataclass(frozen=True)
class CheckResult:
    """One self-check cell: ``status`` is ``passed``, ``failed`` or ``not_run``."""

    grade_id: str
    points: float
    status: str
    message: str = ""


def _check_cells(notebook, name: str) -> list:
    cells = []
    for cell in notebook.cells:
        if cell.cell_type == "code" and is_test(cell):
            try:
                cell.source = strip_hidden(cell.source)
            except HiddenTestsError as exc:
                grade_id = nbgrader_meta(cell).get("grade_id")
                raise CheckError(f"{name}: test cell {grade_id!r}: {exc}") from exc
            cells.append(cell)
    if not cells:
        raise CheckError(f"{name} has no self-check cells")
    return cells


def _result(cell) -> CheckResult:
    meta = nbgrader_meta(cell)
    grade_id, points = str(meta.get("grade_id")), float(meta.get("points", 0))
    errors = [out for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    if errors:
        message = f"{errors[0].get('ename')}: {errors[0].get('evalue')}".strip(": ")
        return CheckResult(grade_id, points, "failed", message[:300])
    if cell.get("execution_count") is None:
        return CheckResult(grade_id, points, "not_run")
    return CheckResult(grade_id, points, "passed")


def check_notebook(
    path: str | os.PathLike, *, timeout: float = 120
) -> tuple[list[CheckResult], str | None]:
    """Run the notebook at ``path`` in a fresh kernel and read its self-check cells.

    Returns the results and, when the run stopped early (a dead kernel, a cell over
    ``timeout`` seconds), why; the cells after that point are ``not_run``.
    Raises CheckError when the notebook cannot be read or has no self-check cells.
    """
    from nbclient import NotebookClient

    path = Path(path)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    try:
        notebook = read_notebook(path)
    except NotebookError as exc:
        raise CheckError(str(exc)) from exc
    cells = _check_cells(notebook, path.name)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.resolve().parent)}},
    )
    stopped = None
    try:
        client.execute()
    except Exception as exc:  # the kernel died or a cell timed out: report what ran
        stopped = f"{type(exc).__name__}: {str(exc)[:300]}"
    return [_result(cell) for cell in cells], stopped
