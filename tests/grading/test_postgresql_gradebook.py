"""`cnncourse grade --gradebook postgresql://...` against a real PostgreSQL server: the same
gradebook as SQLite, nbgrader's own export and feedback reading it, and two grading
processes writing it at once."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CLI, grade
from grading_corpus import CASES, COURSE, SOURCE, build
from postgres_server import PostgresServer, missing_message, server_binaries

from cnncourse.grading.gradebook_locks import SCHEMA, held, student_key

pytestmark = pytest.mark.skipif(server_binaries() is None, reason=missing_message())

BIN = Path(sys.executable).parent
CLASS = {  # student -> the corpus case they hand in
    "ada": "honest",
    "bo": "released_stubs",
    "cy": "monkeypatches_numpy_builtins_and_checks",
}
COURSE_ID = "default_course"  # what cnncourse grade uses where the course sets none


@pytest.fixture(scope="module")
def server():
    with PostgresServer() as running:
        yield running


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [str(BIN / "nbgrader"), *args], cwd=course, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stderr[-3000:]}"
    return result


def _snapshot(url: str) -> dict[str, dict]:
    """What nbgrader's API reads from the gradebook: by student, the total score, and each
    grade cell's (auto score, manual score, needs manual grade) and each comment."""
    from nbgrader.api import Gradebook

    students = {}
    with Gradebook(url, COURSE_ID) as gradebook:
        for submission in gradebook.assignment_submissions("sample"):
            (notebook,) = submission.notebooks
            students[submission.student_id] = {
                "score": submission.score,
                "grades": {
                    g.name: (g.auto_score, g.manual_score, g.needs_manual_grade)
                    for g in notebook.grades
                },
                "comments": {c.name: c.auto_comment for c in notebook.comments},
            }
    return students


def _row_counts(server: PostgresServer, database: str) -> dict[str, list]:
    """Rows of the submission tables per student, straight from SQL."""
    queries = {
        "submissions": "SELECT s.student_id, count(*) FROM submitted_assignment s"
        " GROUP BY s.student_id ORDER BY 1",
        "grades": "SELECT s.student_id, count(*) FROM grade g"
        " JOIN submitted_notebook n ON g.notebook_id = n.id"
        " JOIN submitted_assignment s ON n.assignment_id = s.id GROUP BY 1 ORDER BY 1",
    }
    with server.connect(database) as connection:
        return {name: connection.execute(sql).fetchall() for name, sql in queries.items()}


def _grade_cells() -> int:
    import nbformat

    cells = nbformat.read(SOURCE, as_version=4).cells
    return sum(1 for cell in cells if cell.metadata.get("nbgrader", {}).get("grade"))


def _hand_in(course: Path, students: dict[str, str]) -> Path:
    for student, case in students.items():
        build(CASES[case], course / "submitted" / student / "sample" / "sample.ipynb", {})
    return course / "submitted"


# -- one class graded into PostgreSQL, then read by nbgrader ---------------------------------


@pytest.fixture(scope="module")
def graded_class(server, tmp_path_factory):
    """A course graded into PostgreSQL (a real run) and into SQLite (the same records, reused
    from the JSON file). Returns (course, PostgreSQL URL, SQLite URL, records by student)."""
    course = tmp_path_factory.mktemp("pg-course")
    (course / "source" / "sample").mkdir(parents=True)
    shutil.copy(SOURCE, course / "source" / "sample" / "sample.ipynb")
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    database = server.create_database()
    # the plain URL an instructor writes: cnncourse maps it to the installed driver
    url = server.url(database, driver="postgresql")
    submitted = _hand_in(course, CLASS)
    out = course / "grades.json"
    for gradebook in (url, f"sqlite:///{course / 'gradebook.db'}"):
        process = grade("sample", str(submitted), "--json", str(out), "--gradebook", gradebook)
        assert process.returncode == 0, process.stderr[-3000:]
    records = {r["student"]: r for r in json.loads(out.read_text())["submissions"]}
    return course, url, f"sqlite:///{course / 'gradebook.db'}", records


def test_the_postgresql_gradebook_holds_what_the_sqlite_one_holds(graded_class):
    _course, url, sqlite_url, _records = graded_class
    in_postgresql, in_sqlite = _snapshot(url), _snapshot(sqlite_url)
    assert sorted(in_postgresql) == sorted(CLASS), in_postgresql
    assert in_postgresql == in_sqlite


def test_each_students_score_in_postgresql_is_the_corpus_score(graded_class):
    _course, url, _sqlite_url, _records = graded_class
    scores = {student: entry["score"] for student, entry in _snapshot(url).items()}
    expected = {student: CASES[case].expected_score() for student, case in CLASS.items()}
    assert scores == expected


def test_nbgrader_export_reads_the_postgresql_gradebook(graded_class):
    course, url, _sqlite_url, records = graded_class
    _nbgrader(course, "export", f"--CourseDirectory.db_url={url}", "--to=grades.csv")
    with open(course / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    exported = {student: float(row["score"]) for student, row in rows.items()}
    ours = {student: record["score"] for student, record in records.items()}
    assert exported == ours


def test_nbgrader_generate_feedback_reads_the_postgresql_gradebook(graded_class):
    course, url, _sqlite_url, records = graded_class
    _nbgrader(course, "generate_feedback", "sample", f"--CourseDirectory.db_url={url}")
    for student, record in records.items():
        page = (course / "feedback" / student / "sample" / "sample.html").read_text()
        header = f"sample (Score: {round(record['score'], 2)} / {round(record['max_score'], 2)})"
        assert header in page, f"{student}: {header!r} not in the feedback page"


# -- two grading processes writing one gradebook at once -------------------------------------


def _start_grading(course: Path, url: str) -> subprocess.Popen:
    command = [*CLI, "grade", "sample", str(course / "submitted"), "--gradebook", url]
    command += ["--json", str(course / "grades.json"), "--jobs", "1"]
    return subprocess.Popen(command, cwd=COURSE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(process: subprocess.Popen) -> None:
    _stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr.decode()[-3000:]


def _wait_for(condition, what: str, timeout: float = 400) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.2)


def test_two_processes_grading_different_students_lose_nothing(server, tmp_path):
    database = server.create_database()  # empty: both processes also create the tables
    url = server.url(database)
    classes = {"first": {"ada": CLASS["ada"]}, "second": {"bo": CLASS["bo"]}}
    processes = []
    # the test holds the lock of nbgrader's tables until both runs wait for it: then both
    # set up the gradebook at the same moment
    with held(url, SCHEMA):
        for name, students in classes.items():
            _hand_in(tmp_path / name, students)
            processes.append(_start_grading(tmp_path / name, url))
        _wait_for(lambda: server.lock_waiters(database, SCHEMA) == 2, "both runs wait")
    for process in processes:
        _finish(process)
    scores = {student: entry["score"] for student, entry in _snapshot(url).items()}
    expected = {student: CASES[case].expected_score() for student, case in CLASS.items()}
    assert scores == {student: expected[student] for student in ("ada", "bo")}
    counts = _row_counts(server, database)
    assert counts == {
        "submissions": [("ada", 1), ("bo", 1)],
        "grades": [("ada", _grade_cells()), ("bo", _grade_cells())],
    }


def test_two_processes_grading_the_same_student_leave_the_later_write(server, tmp_path):
    database = server.create_database()
    url = server.url(database)
    key = student_key(COURSE_ID, "sample", "ada")
    first, second = tmp_path / "first", tmp_path / "second"
    _hand_in(first, {"ada": "honest"})
    _hand_in(second, {"ada": "monkeypatches_numpy_builtins_and_checks"})
    # the test holds ada's lock, so the writes queue up: first's, then second's
    with held(url, key):
        earlier = _start_grading(first, url)
        _wait_for(lambda: server.lock_waiters(database, key) == 1, "the first run waits")
        later = _start_grading(second, url)
        _wait_for(lambda: server.lock_waiters(database, key) == 2, "both runs wait")
    for process in (earlier, later):
        _finish(process)
    later_record = json.loads((second / "grades.json").read_text())["submissions"][0]
    (entry,) = _snapshot(url).values()
    expected = CASES["monkeypatches_numpy_builtins_and_checks"].expected_score()
    assert entry["score"] == later_record["score"] == expected, (entry, later_record["score"])
    per_cell: dict[str, float] = {}
    for test in later_record["tests"]:
        per_cell[test["grade_id"]] = per_cell.get(test["grade_id"], 0.0) + test["points"]
    autograded = {name: scores[0] for name, scores in entry["grades"].items() if name in per_cell}
    assert autograded == per_cell
    assert _row_counts(server, database) == {
        "submissions": [("ada", 1)],
        "grades": [("ada", _grade_cells())],
    }
