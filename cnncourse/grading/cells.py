"""Notebook cells as nbgrader sees them: their kinds and the hidden test sections.

The one place that knows how nbgrader marks cells (``metadata.nbgrader``) and how a hidden
test section is delimited, used by the release (``cnncourse release``), the grader's notebook
reader, ``cnncourse check`` and the autograded notebooks written for nbgrader's feedback.

Cell kinds (nbgrader's names in brackets):

========== =========================================== ==================================
kind       nbgrader metadata                           what it is
========== =========================================== ==================================
answer     solution, not grade (autograded answer)     a student's code, graded by tests
manual     solution and grade (manually graded answer) a written answer, graded by hand
test       grade, not solution (autograder tests)      a test cell with points
readonly   locked, neither solution nor grade          instructor code or text, locked
plain      no nbgrader metadata                        anything else
========== =========================================== ==================================
"""

from __future__ import annotations

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
# nbgrader matches its delimiters anywhere in a line, without the leading ###
_BEGIN, _END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"

KINDS = ("answer", "manual", "test", "readonly", "plain")


class HiddenTestsError(ValueError):
    """A hidden test section that is not closed, or is opened inside another one."""


def nbgrader_meta(cell) -> dict:
    """The cell's nbgrader metadata (empty when it has none or it is not a dict)."""
    meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
    return meta if isinstance(meta, dict) else {}


def cell_kind(cell) -> str:
    """One of :data:`KINDS`, from the cell's nbgrader metadata."""
    meta = nbgrader_meta(cell)
    solution, grade = bool(meta.get("solution")), bool(meta.get("grade"))
    if solution:
        return "manual" if grade else "answer"
    if grade:
        return "test"
    return "readonly" if meta.get("locked") else "plain"


def is_answer(cell) -> bool:
    return cell_kind(cell) == "answer"


def is_test(cell) -> bool:
    return cell_kind(cell) == "test"


def nbgrader_metadata(kind: str, grade_id: str, points: float | None = None) -> dict:
    """The nbgrader metadata (schema 3) of a new cell of ``kind`` (not ``plain``)."""
    if kind not in KINDS or kind == "plain":
        raise ValueError(f"kind: expected one of {KINDS[:-1]}, got {kind!r}")
    graded = kind in {"test", "manual"}
    if graded != (points is not None):
        raise ValueError(f"points: a {kind} cell {'needs' if graded else 'has no'} points")
    meta = {
        "grade": graded,
        "grade_id": grade_id,
        "locked": kind in {"readonly", "test"},
        "schema_version": 3,
        "solution": kind in {"answer", "manual"},
        "task": False,
    }
    if points is not None:  # exactly when graded (checked above)
        value = float(points)
        meta["points"] = int(value) if value.is_integer() else value
    return meta


def strip_hidden(source: str) -> str:
    """The cell's text without its hidden test sections, as nbgrader releases it.

    As nbgrader's ``ClearHiddenTests``: every line from one containing ``BEGIN HIDDEN TESTS``
    to the next containing ``END HIDDEN TESTS``, both included, is removed. Like nbgrader,
    a section opened inside another one or never closed is an error
    (:class:`HiddenTestsError`, naming the line), never silently cut or kept.
    """
    kept, opened = [], None
    for number, line in enumerate(source.split("\n"), start=1):
        if _BEGIN in line:
            if opened is not None:
                raise HiddenTestsError(
                    f"line {number}: BEGIN HIDDEN TESTS inside the section opened on line "
                    f"{opened} (hidden test sections cannot be nested)"
                )
            opened = number
        elif _END in line:
            if opened is None:
                raise HiddenTestsError(f"line {number}: END HIDDEN TESTS without a BEGIN")
            opened = None
        elif opened is None:
            kept.append(line)
    if opened is not None:
        raise HiddenTestsError(f"line {opened}: BEGIN HIDDEN TESTS is never closed")
    return "\n".join(kept)


def has_hidden(source: str) -> bool:
    return _BEGIN in source
