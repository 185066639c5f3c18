"""A grading worker runs one pytest session for many submissions; each still grades alone.

Every test here grades with ``--jobs 1``, so one worker (one pytest session, one collection
of the hidden suite) takes the submissions in turn, with the next one's child starting while
the current one is graded.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import grade
from grading_corpus import CASES, COURSE, Case, build

SIZE_TEST = """@pytest.mark.points(1, grade_id="test_output_size")
def test_output_size(student):
    assert_scalar_close(student.value("out_size"), 32, name="out_size")
"""


def _course(tmp_path: Path, size_test: str, conftest: str = "") -> Path:
    """A copy of the sample course whose test_output_size is ``size_test``."""
    course = tmp_path / "course"
    shutil.copytree(COURSE, course)
    suite = course / "autograde" / "sample" / "test_sample.py"
    text = suite.read_text()
    assert SIZE_TEST in text
    suite.write_text("import os\n" + text.replace(SIZE_TEST, size_test))
    if conftest:
        (suite.parent / "conftest.py").write_text(conftest)
    return course


def _grade_one_worker(tmp_path: Path, course: Path, cases: dict[str, Case]) -> dict[str, dict]:
    for student, case in cases.items():
        build(case, tmp_path / "submitted" / student / "sample" / "sample.ipynb", {})
    out = tmp_path / "results.json"
    args = [str(tmp_path / "submitted"), "--course", str(course), "--json", str(out)]
    result = grade("sample", *args, "--jobs", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    return {r["student"]: r for r in json.loads(out.read_text())["submissions"]}


def _statuses(record: dict) -> dict[str, str]:
    return {test["name"].split("::")[-1]: test["status"] for test in record["tests"]}


def test_submissions_graded_in_turn_each_get_their_own_outcomes(tmp_path):
    order = ["monkeypatches_numpy_builtins_and_checks", "honest", "released_stubs", "honest"]
    cases = {f"s{index}_{name}": CASES[name] for index, name in enumerate(order)}
    records = _grade_one_worker(tmp_path, COURSE, cases)
    got = {student: _statuses(record) for student, record in records.items()}
    assert got == {student: case.expected() for student, case in cases.items()}


def test_fixtures_are_set_up_anew_for_every_submission(tmp_path):
    conftest = (
        "import pytest\n\n\n@pytest.fixture(scope='session')\ndef session_calls():\n    return []\n"
    )
    size_test = SIZE_TEST.replace("(student)", "(student, session_calls)") + (
        "    session_calls.append(1)\n"
        "    assert len(session_calls) == 1, f'session fixture reused: {len(session_calls)}'\n"
    )
    course = _course(tmp_path, size_test, conftest)
    records = _grade_one_worker(tmp_path, course, {f"s{i}": CASES["honest"] for i in range(3)})
    assert {student: r["score"] for student, r in records.items()} == {"s0": 6, "s1": 6, "s2": 6}


@pytest.fixture(scope="module")
def worker_death(tmp_path_factory):
    """A suite that ends the grader's own process for one submission (out_size == 99)."""
    tmp_path = tmp_path_factory.mktemp("worker-death")
    size_test = SIZE_TEST.replace(
        "    assert_scalar_close", "    if student.value('out_size') == 99:\n        os._exit(3)\n"
        "    assert_scalar_close",
    )  # fmt: skip
    course = _course(tmp_path, size_test)
    cases = {
        "a_honest": CASES["honest"],
        "b_kills_the_worker": Case(answers={"output_size": "out_size = 99"}),
        "c_honest": CASES["honest"],
        "d_honest": CASES["honest"],
    }
    return _grade_one_worker(tmp_path, course, cases)


def test_a_dying_worker_costs_only_the_submission_it_was_grading(worker_death):
    scores = {student: record["score"] for student, record in worker_death.items()}
    assert scores == {"a_honest": 6, "b_kills_the_worker": 0, "c_honest": 6, "d_honest": 6}


def test_the_submission_lost_with_a_worker_is_a_grader_error(worker_death):
    record = worker_death["b_kills_the_worker"]
    assert record["status"] == "grader_error", record["status"]
    assert "worker process ended (exit status 3)" in record["message"], record["message"]
    assert {test["status"] for test in record["tests"]} == {"not_run"}


def test_the_submission_lost_with_a_worker_is_regraded_by_the_next_run(worker_death):
    assert worker_death["b_kills_the_worker"]["fingerprint"] is None
    assert worker_death["a_honest"]["fingerprint"]
