"""Grade one submission: start its child, run the hidden suite against it, build the result."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

from cnncourse.grading.assignment import Assignment, AssignmentError, TestInfo, check_points
from cnncourse.grading.notebook import NotebookError, load_submission, program_cells
from cnncourse.grading.plugin import PLAIN_ARGS, Collector, GradingPlugin
from cnncourse.grading.proxy import ChildSession
from cnncourse.grading.sandbox import Sandbox

STATUSES = (
    "passed",
    "failed",
    "error",
    "not_implemented",
    "missing",
    "timeout",
    "memory",
    "crashed",
    "forbidden",
    "grader_error",
    "not_run",
)


@dataclass(frozen=True)
class SubmissionRef:
    student: str
    notebook: Path

    def digest(self) -> str:
        return hashlib.sha256(self.notebook.read_bytes()).hexdigest()


def find_submissions(paths: list[Path], assignment: str) -> list[SubmissionRef]:
    """Notebooks named on the command line, or found in nbgrader's submitted/ layout."""
    found: dict[str, SubmissionRef] = {}
    for path in map(Path, paths):
        if path.is_file():
            notebooks = [path]
        else:
            notebooks = sorted(path.glob(f"**/{assignment}/{assignment}.ipynb"))
            notebooks = notebooks or sorted(path.glob(f"{assignment}.ipynb"))
        if not notebooks:
            raise FileNotFoundError(f"{path}: no {assignment}.ipynb found")
        for notebook in notebooks:
            student = _student_of(notebook.resolve(), assignment)
            if student in found:
                raise ValueError(f"two submissions for student {student!r}: {notebook}")
            found[student] = SubmissionRef(student, notebook.resolve())
    return list(found.values())


def _student_of(notebook: Path, assignment: str) -> str:
    if notebook.parent.name == assignment:  # submitted/<student>/<assignment>/x.ipynb
        return notebook.parent.parent.name
    if notebook.stem == assignment:  # <student>/<assignment>.ipynb
        return notebook.parent.name
    return notebook.stem  # alice.ipynb


def _pytest_args(assignment: Assignment, workdir: Path) -> list[str]:
    ini = workdir / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    return [
        *map(str, assignment.test_files),
        *PLAIN_ARGS,
        "--rootdir",
        str(assignment.suite_dir),
        "-c",
        str(ini),
        "--import-mode=importlib",
        "--confcutdir",  # only the suite's own conftest.py files, not the course's others
        str(assignment.suite_dir),
    ]


def _run_pytest(args: list[str], plugin) -> tuple[int, str]:
    sink = io.StringIO()
    addopts = os.environ.pop("PYTEST_ADDOPTS", None)  # the caller's options are not the suite's
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            code = int(pytest.main(args, plugins=[plugin]))
    finally:
        if addopts is not None:
            os.environ["PYTEST_ADDOPTS"] = addopts
    return code, sink.getvalue()


def collect_tests(assignment: Assignment) -> None:
    """Fill ``assignment.tests`` from the suite's markers and check them against the notebook."""
    collector = Collector()
    with tempfile.TemporaryDirectory() as tmp:
        args = [*_pytest_args(assignment, Path(tmp)), "--collect-only"]
        code, output = _run_pytest(args, collector)
    if code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        raise AssignmentError(
            f"pytest could not load the suite in {assignment.suite_dir}:\n{output[-2000:]}"
        )
    if collector.problems:
        raise AssignmentError("the hidden suite is not usable:\n" + "\n".join(collector.problems))
    assignment.tests = [TestInfo(*entry) for entry in collector.tests]
    if not assignment.tests:
        raise AssignmentError(f"no tests were collected from {assignment.suite_dir}")
    check_points(assignment)


def grade_submission(
    assignment: Assignment, submission: SubmissionRef, level: str, hidden: list[str] = ()
) -> dict:
    """The result record of one submission; never raises for anything the student did.

    ``hidden``: more folders the child must not see (outputs, the gradebook's folder).
    """
    started = time.monotonic()
    result = {
        "student": submission.student,
        "assignment": assignment.name,
        "notebook": str(submission.notebook),
        "isolation": level,
        "fingerprint": _fingerprint(assignment, submission, level),
        "notes": [],
        "cells": {},
    }
    try:
        sub = load_submission(submission.notebook, assignment.source)
    except (NotebookError, OSError) as exc:
        tests = _not_run(assignment, f"the notebook could not be graded: {exc}")
        result.update(status="invalid", message=str(exc), tests=tests)
    else:
        result["notes"] = sub.notes
        try:
            result.update(_run_suite(assignment, sub, level, list(hidden)))
        except Exception as exc:  # a fault of the grader, recorded instead of crashing the run
            detail = "".join(traceback.format_exception(exc))[-3000:]
            tests = _not_run(assignment, "the grader failed on this submission")
            result.update(status="grader_error", message=detail, tests=tests)
    result["score"] = sum(test["points"] for test in result["tests"])
    result["max_score"] = assignment.max_score
    result["duration_s"] = round(time.monotonic() - started, 3)
    return result


def _fingerprint(assignment: Assignment, submission: SubmissionRef, level: str) -> str:
    return hashlib.sha256(
        f"{assignment.fingerprint()}:{submission.digest()}:{level}".encode()
    ).hexdigest()


def _run_suite(assignment: Assignment, sub, level: str, hidden: list[str]) -> dict:
    hidden = [*hidden, str(assignment.course), str(Path(sub.path).parent)]
    sandbox = Sandbox(level, assignment.limits, hidden=hidden)
    session = ChildSession(program_cells(assignment.source, sub), assignment.forbidden, sandbox)
    plugin = GradingPlugin(session)
    session.prestart()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            _run_pytest(_pytest_args(assignment, Path(tmp)), plugin)
    finally:
        output = session.last_output()
        session.stop()
    tests = []
    for test in assignment.tests:
        outcome = plugin.outcomes.get(
            test.name, {"status": "grader_error", "message": "the test did not run"}
        )
        points = test.points if outcome["status"] == "passed" else 0.0
        tests.append(
            {
                "name": test.name,
                "grade_id": test.grade_id,
                "points": points,
                "max_points": test.points,
                **outcome,
            }
        )
    return {
        "status": "graded",
        "tests": tests,
        "cells": session.cell_errors,
        "output": output,
        "restarts": max(0, session.starts - 1),
    }


def _not_run(assignment: Assignment, message: str) -> list[dict]:
    return [
        {
            "name": test.name,
            "grade_id": test.grade_id,
            "points": 0.0,
            "max_points": test.points,
            "status": "not_run",
            "message": message,
        }
        for test in assignment.tests
    ]
