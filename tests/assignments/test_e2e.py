"""End to end: real graders on the solutions, the released notebooks and wrong submissions.

Two graders, each in a course of its own built in a temporary folder:

- ``cnncourse grade`` (the sandboxed autograder with the hidden suites);
- ``nbgrader generate_assignment`` + ``nbgrader autograde`` (a real nbgrader course with a
  gradebook), which also executes every notebook top to bottom.

Expected results: every solution gets full marks from both; every released notebook gets 0,
its tests reported "not implemented", without a crash; every wrong submission of
``wrong_submissions.WRONG`` gets exactly the maximum minus the points of the tests its bug
touches, as listed there with the reason. Both graders score from the one specification
(``cnncourse/checks/<a>.py``): nbgrader gives each test cell the points of its groups that
pass (the check's value in grading mode), ``cnncourse grade`` runs one test per group, so the
two agree cell by cell.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from assignment_course import (
    ASSIGNMENTS,
    ROOT,
    graded_test_cells,
    make_course,
    read,
    released,
    solution_path,
    submission,
    suite_markers,
    write,
)
from wrong_submissions import WRONG

from cnncourse import checks

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent


def _env() -> dict:
    env = dict(os.environ)
    # nbgrader runs `alembic` to create its gradebook; BLAS threads only slow small matrices
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def _submissions(a: str) -> dict[str, nbformat.NotebookNode]:
    subs = {"solution": submission(a), "released": released(a)}
    subs.update({w.name: submission(a, w.answers) for w in WRONG if w.assignment == a})
    return subs


@pytest.fixture(scope="module")
def grade_results(tmp_path_factory) -> dict[str, dict[str, dict]]:
    """``cnncourse grade`` on every submission: assignment -> student -> result record."""
    course = make_course(tmp_path_factory.mktemp("grade-course"))
    results = {}
    for a in ASSIGNMENTS:
        # nbgrader's submitted/<student>/<assignment>/ layout names the students
        folder = course / "submitted"
        paths = [
            str(write(nb, folder / name / a / f"{a}.ipynb")) for name, nb in _submissions(a).items()
        ]
        out = course / f"{a}.json"
        proc = subprocess.run(
            [
                str(VENV_BIN / "cnncourse"),
                "grade",
                a,
                *paths,
                "--course",
                str(course),
                "--json",
                str(out),
                "--jobs",
                "2",
            ],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=900,
        )
        assert out.exists(), f"cnncourse grade {a} wrote no results:\n{proc.stdout}\n{proc.stderr}"
        data = json.loads(out.read_text())
        results[a] = {record["student"]: record for record in data["submissions"]}
    return results


@pytest.fixture(scope="module")
def nbgrader_results(tmp_path_factory) -> dict[str, dict[str, dict]]:
    """nbgrader's autograde on every submission: assignment -> student -> scores."""
    course = make_course(tmp_path_factory.mktemp("nbgrader-course"))
    for a in ASSIGNMENTS:
        for name, nb in _submissions(a).items():
            write(nb, course / "autograde" / "submitted" / name / a / f"{a}.ipynb")
    out = course / "nbgrader.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("nbgrader_run.py")),
            str(course),
            str(out),
            *ASSIGNMENTS,
        ],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=1500,
    )
    assert proc.returncode == 0, f"nbgrader failed:\n{proc.stderr[-6000:]}"
    return json.loads(out.read_text())


def _max_autograded(a: str) -> float:
    return sum(graded_test_cells(read(solution_path(a))).values())


def _cell_points(wrong) -> dict[str, float]:
    """What each test cell is worth to this wrong submission: its points minus its failing
    tests' (from the specification, the same for both graders)."""
    spec = checks.spec(wrong.assignment)
    lost = {name: p for name, _, p in spec.tests() if name in wrong.failing_tests}
    return {
        c.grade_id: c.points - sum(lost.get(f"test_{g.name}", 0.0) for g in c.groups)
        for c in spec.checks
    }


def _grade_cells(record: dict) -> dict[str, float]:
    cells: dict[str, float] = {}
    for test in record["tests"]:
        cells[test["grade_id"]] = cells.get(test["grade_id"], 0.0) + test["points"]
    return cells


# ---------------------------------------------------------------- cnncourse grade


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_grade_gives_the_solution_full_marks(grade_results, a):
    record = grade_results[a]["solution"]
    failed = [
        (t["name"], t["status"], t["message"]) for t in record["tests"] if t["status"] != "passed"
    ]
    assert not failed
    assert record["score"] == record["max_score"] == _max_autograded(a)


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_grade_gives_the_released_notebook_zero(grade_results, a):
    record = grade_results[a]["released"]
    assert record["status"] == "graded", record.get("notes")
    assert record["score"] == 0
    statuses = {t["name"]: t["status"] for t in record["tests"]}
    assert set(statuses.values()) == {"not_implemented"}, statuses
    assert all("not implemented" in t["message"] or "None" in t["message"] for t in record["tests"])


@pytest.mark.parametrize("wrong", WRONG, ids=lambda w: w.name)
def test_grade_gives_wrong_submissions_what_their_bug_deserves(grade_results, wrong):
    record = grade_results[wrong.assignment][wrong.name]
    failing = {t["name"].split("::")[-1] for t in record["tests"] if t["status"] != "passed"}
    assert failing == set(wrong.failing_tests), wrong.why
    points = {name: p for name, _, p in suite_markers(wrong.assignment)}
    expected = _max_autograded(wrong.assignment) - sum(points[t] for t in wrong.failing_tests)
    assert record["score"] == expected, wrong.why


@pytest.mark.parametrize("wrong", WRONG, ids=lambda w: w.name)
def test_grade_feedback_of_a_wrong_submission_names_the_function_case_and_hint(
    grade_results, wrong
):
    record = grade_results[wrong.assignment][wrong.name]
    spec = checks.spec(wrong.assignment)
    for test in record["tests"]:
        if test["status"] != "failed":
            continue  # passed, or the student's function raised (its own traceback)
        functions = spec.check(test["grade_id"]).functions
        assert test["message"].split(",")[0] in functions, test
        assert ", case " in test["message"] and "Hint: " in test["message"], test


# ---------------------------------------------------------------- nbgrader autograde


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_nbgrader_gives_the_solution_full_marks(nbgrader_results, a):
    result = nbgrader_results[a]["solution"]
    assert result["code_score"] == result["max_code_score"] == _max_autograded(a)


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_solution_notebook_executes_top_to_bottom(nbgrader_results, a):
    """nbgrader executed the whole solution notebook: no cell raised."""
    nb = nbformat.read(nbgrader_results[a]["solution"]["notebook"], as_version=4)
    errors = [
        (cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"), out.get("ename"))
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert not errors
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_nbgrader_gives_the_released_notebook_zero(nbgrader_results, a):
    result = nbgrader_results[a]["released"]
    assert result["score"] == 0 and result["max_code_score"] == _max_autograded(a)


@pytest.mark.parametrize("wrong", WRONG, ids=lambda w: w.name)
def test_nbgrader_gives_wrong_submissions_what_their_bug_deserves(nbgrader_results, wrong):
    result = nbgrader_results[wrong.assignment][wrong.name]
    cells = graded_test_cells(read(solution_path(wrong.assignment)))
    got = {gid: score for gid, (score, _) in result["cells"].items() if gid in cells}
    assert got == _cell_points(wrong), wrong.why
    losing = {gid for gid, score in got.items() if score < cells[gid]}
    assert losing == set(wrong.failing_cells), wrong.why
    expected = _max_autograded(wrong.assignment) - sum(
        p for name, _, p in suite_markers(wrong.assignment) if name in wrong.failing_tests
    )
    assert result["code_score"] == pytest.approx(expected), wrong.why


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_both_graders_give_the_same_points_cell_by_cell(grade_results, nbgrader_results, a):
    cells = graded_test_cells(read(solution_path(a)))
    for student, record in grade_results[a].items():
        nbgrader_cells = nbgrader_results[a][student]["cells"]
        got = {gid: nbgrader_cells[gid][0] for gid in cells}
        assert _grade_cells(record) == pytest.approx(got), student


def test_every_wrong_submission_names_real_tests_and_cells():
    for w in WRONG:
        tests = {name for name, _, _ in suite_markers(w.assignment)}
        assert w.failing_tests <= tests, w.name
        assert w.failing_cells <= set(graded_test_cells(read(solution_path(w.assignment)))), w.name
    assert ROOT.is_dir()
