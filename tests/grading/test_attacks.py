"""The attack corpus: no undeserved point, and the rest of each submission still grades."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3

import pytest
from grading_corpus import ALL, CASES, COURSE


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_test_ends_in_the_expected_outcome(corpus_run, name):
    records, _paths, _process = corpus_run
    record = records[name]
    got = {test["name"].split("::")[-1]: test["status"] for test in record["tests"]}
    assert got == CASES[name].expected(), [t["message"][:300] for t in record["tests"]]


@pytest.mark.parametrize("name", sorted(CASES))
def test_score_is_exactly_what_the_working_answers_earn(corpus_run, name):
    record = corpus_run[0][name]
    assert record["score"] == CASES[name].expected_score()
    assert record["max_score"] == 6


@pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="needs bubblewrap (bwrap): apt-get install bubblewrap (make test installs it as root)",
)
def test_every_submission_reports_bubblewrap_isolation(corpus_run):
    # wherever bwrap is installed the grader must use it: a fallback here fails
    assert {record["isolation"] for record in corpus_run[0].values()} == {"bubblewrap"}


def test_honest_submissions_get_full_marks(corpus_run):
    for name in ("honest", "honest_with_warnings"):
        assert corpus_run[0][name]["score"] == 6


def test_a_failed_comparison_names_shapes_and_worst_element(corpus_run):
    message = corpus_run[0]["monkeypatches_numpy_builtins_and_checks"]["tests"][0]["message"]
    assert "rel_error" in message and "at index" in message and "shape (4, 5)" in message


def test_a_look_alike_array_is_rejected_by_name(corpus_run):
    message = corpus_run[0]["returns_an_object_pretending_to_be_an_array"]["tests"][0]["message"]
    assert "expected a numpy array, got a Fake object" in message


def test_the_reference_package_is_not_in_the_sandbox_and_the_message_says_so(corpus_run):
    tests = corpus_run[0]["calls_the_reference_directly_and_through_an_alias"]["tests"]
    for test in tests[:4]:
        assert "No module named 'cnncourse'" in test["message"], test["message"]
        assert "graded code may import only: the standard library, numpy" in test["message"]


def test_a_forbidden_routine_is_reported_by_name(corpus_run):
    tests = corpus_run[0]["uses_a_routine_the_assignment_forbids"]["tests"]
    assert "einsum" in tests[2]["message"], tests[2]["message"]


def test_nothing_of_the_course_leaks_through_proc(corpus_run):
    record = corpus_run[0]["reads_the_hidden_tests_through_proc_and_leaks_them"]
    messages = " ".join(test["message"] for test in record["tests"])
    assert "pytest.mark.points" not in messages and record["score"] == 6, record["tests"]


def test_the_course_is_unchanged_after_a_symlink_attack(corpus_run):
    suite = COURSE / "autograde" / "sample" / "test_sample.py"
    assert "def test_nothing" not in suite.read_text(), "student code rewrote the hidden suite"


def test_student_exception_traceback_is_trimmed_to_their_code(corpus_run):
    message = corpus_run[0]["fork_bomb"]["tests"][0]["message"]
    assert "PermissionError" in message and '<answer relu>", line 5' in message
    assert "cnncourse/grading" not in message


def test_hundred_megabytes_of_printing_is_kept_bounded(corpus_run):
    record = corpus_run[0]["prints_100_mb"]
    assert len(json.dumps(record)) < 100_000
    assert "bytes of output not kept" in record["output"]


def test_no_background_process_survives_the_run(corpus_run):
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                assert b"987654" not in handle.read()
        except OSError:
            continue


def test_student_code_could_not_touch_results_or_gradebook(corpus_run):
    _records, paths, _process = corpus_run
    assert json.loads(paths["json"].read_text())["assignment"] == "sample"
    with sqlite3.connect(paths["gradebook"]) as db:
        assert db.execute("select count(*) from student").fetchone()[0] == len(CASES)


def test_a_crash_while_loading_only_costs_that_cell(corpus_run):
    record = corpus_run[0]["os_exit_while_loading"]
    assert record["cells"]["output_size"]["kind"] == "crashed"
    assert "output_size" in record["tests"][-1]["message"] or record["tests"][-1]["message"]


def test_outcome_names_are_the_documented_ones(corpus_run):
    documented = {
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
    }
    statuses = {t["status"] for r in corpus_run[0].values() for t in r["tests"]}
    assert statuses <= documented
    assert ALL
