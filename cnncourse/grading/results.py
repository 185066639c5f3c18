"""Where grades go: the JSON results file, the class CSV and nbgrader's gradebook.

The JSON file is rewritten atomically after every submission, so an interrupted run keeps
every grade it finished, and a re-run reuses the records whose fingerprint (notebook,
source, suite, settings, isolation) has not changed.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
from pathlib import Path

SCHEMA_VERSION = 1


def load_previous(path: Path | None) -> dict[str, dict]:
    """Records of an earlier run, by student (empty if there is none or it is unreadable)."""
    if path is None or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {record["student"]: record for record in data["submissions"]}
    except (ValueError, KeyError, TypeError):
        return {}


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_json(path: Path, assignment: str, max_score: float, records: list[dict]) -> None:
    document = {
        "schema_version": SCHEMA_VERSION,
        "assignment": assignment,
        "max_score": max_score,
        "submissions": sorted(records, key=lambda record: record["student"]),
    }
    _atomic_write(path, json.dumps(document, indent=1, sort_keys=False) + "\n")


def write_csv(path: Path, records: list[dict]) -> None:
    """One row per student: score, max_score, status, isolation, then points per test."""
    tests = []
    for record in records:
        for test in record["tests"]:
            if test["name"] not in tests:
                tests.append(test["name"])
    rows = [["student", "assignment", "score", "max_score", "status", "isolation", *tests]]
    for record in sorted(records, key=lambda record: record["student"]):
        points = {test["name"]: test["points"] for test in record["tests"]}
        rows.append(
            [
                record["student"],
                record["assignment"],
                f"{record['score']:g}",
                f"{record['max_score']:g}",
                record["status"],
                record["isolation"],
                *(f"{points.get(name, 0):g}" for name in tests),
            ]
        )
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    _atomic_write(path, buffer.getvalue())


def write_gradebook(url: str, source, record: dict) -> None:
    """Store one submission's per-cell scores through nbgrader's own Gradebook API."""
    from nbgrader.api import Gradebook

    # a new database is stamped by running nbgrader's ``alembic``, found on PATH
    scripts = os.path.dirname(sys.executable)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")
    notebook = source.path.stem
    assignment = record["assignment"]
    per_cell: dict[str, float] = {}
    for test in record["tests"]:
        per_cell[test["grade_id"]] = per_cell.get(test["grade_id"], 0.0) + test["points"]
    with Gradebook(url) as gradebook:
        gradebook.update_or_create_assignment(assignment)
        gradebook.update_or_create_notebook(notebook, assignment)
        for grade_id, points in source.points.items():
            gradebook.update_or_create_grade_cell(
                grade_id, notebook, assignment, max_score=points, cell_type="code"
            )
        gradebook.update_or_create_student(record["student"])
        gradebook.update_or_create_submission(assignment, record["student"])
        for grade_id in source.points:
            grade = gradebook.find_grade(grade_id, notebook, assignment, record["student"])
            grade.auto_score = per_cell.get(grade_id, 0.0)
        gradebook.db.commit()
