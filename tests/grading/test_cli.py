"""`cnncourse grade` end to end: outputs, gradebook, re-runs, other isolation levels."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import grade
from grading_corpus import CASES, COURSE, build

from cnncourse.grading import sandbox


def test_json_records_follow_the_documented_schema(corpus_run):
    record = corpus_run[0]["honest"]
    assert {"student", "assignment", "score", "max_score", "status", "isolation", "tests"} <= set(
        record
    )
    for test in record["tests"]:
        assert {"name", "grade_id", "points", "max_points", "status", "message"} <= set(test)


def test_class_csv_has_one_row_per_student(corpus_run):
    _records, paths, _process = corpus_run
    with open(paths["csv"]) as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(CASES)
    assert rows["honest"]["score"] == "6" and rows["released_stubs"]["score"] == "3"


def test_feedback_pages_show_outcomes_but_not_hidden_test_source(corpus_run):
    _records, paths, _process = corpus_run
    page = (paths["feedback"] / "monkeypatches_numpy_builtins_and_checks.html").read_text()
    assert "wrong result" in page and "4 / 6" in page
    hidden_source = (COURSE / "autograde/sample/test_sample.py").read_text()
    assert "_data(" in hidden_source and "_data(" not in page
    assert "<script" not in page


def test_nbgrader_export_reads_the_scores_from_the_gradebook(corpus_run, tmp_path):
    records, paths, _process = corpus_run
    exported = tmp_path / "grades.csv"
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    nbgrader = Path(sys.executable).with_name("nbgrader")
    result = subprocess.run(
        [str(nbgrader), "export", "--db", f"sqlite:///{paths['gradebook']}", "--to", str(exported)],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    with open(exported) as handle:
        scores = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(handle)}
    assert scores == {name: record["score"] for name, record in records.items()}


def test_a_rerun_reuses_unchanged_grades(corpus_run):
    _records, paths, _process = corpus_run
    before = json.loads(paths["json"].read_text())
    again = grade("sample", str(paths["submitted"]), "--json", str(paths["json"]))
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(paths["json"].read_text()) == before


def test_rlimits_level_grades_and_reports_itself(tmp_path):
    for name in ("honest", "infinite_loop_in_one_function"):
        build(CASES[name], tmp_path / "sub" / name / "sample" / "sample.ipynb", {})
    out = tmp_path / "r.json"
    result = grade("sample", str(tmp_path / "sub"), "--isolation", "rlimits", "--json", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    records = {r["student"]: r for r in json.loads(out.read_text())["submissions"]}
    assert {r["isolation"] for r in records.values()} == {"rlimits"}
    assert records["honest"]["score"] == 6
    assert records["infinite_loop_in_one_function"]["score"] == 4


def test_an_unreadable_notebook_is_recorded_as_invalid(tmp_path):
    bad = tmp_path / "sub" / "mallory" / "sample" / "sample.ipynb"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    out = tmp_path / "r.json"
    result = grade("sample", str(bad), "--json", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads(out.read_text())["submissions"][0]
    assert record["status"] == "invalid" and record["score"] == 0
    assert {t["status"] for t in record["tests"]} == {"not_run"}


def test_points_that_disagree_with_the_notebook_stop_the_run(tmp_path):
    import shutil

    course = tmp_path / "course"
    shutil.copytree(COURSE, course)
    suite = course / "autograde/sample/test_sample.py"
    suite.write_text(
        suite.read_text().replace(
            'points(1, grade_id="test_output_size")', 'points(5, grade_id="test_output_size")'
        )
    )
    sub = build(CASES["honest"], tmp_path / "alice.ipynb", {})
    result = grade("sample", str(sub), "--course", str(course))
    assert result.returncode == 2
    assert "worth 1 points in the notebook but the hidden tests give it 5" in result.stderr


def test_check_runs_only_the_visible_checks_of_the_instructor_notebook(tmp_path):
    import shutil

    notebook = tmp_path / "sample.ipynb"
    shutil.copy(COURSE / "solutions/sample/sample.ipynb", notebook)
    result = subprocess.run(
        [sys.executable, "-m", "cnncourse", "check", str(notebook)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert "6 of 6 points pass the visible checks" in result.stdout
    assert "HIDDEN" not in result.stdout


def test_check_reports_a_failing_self_check(tmp_path):
    notebook = build(CASES["released_stubs"], tmp_path / "s.ipynb", {})
    result = subprocess.run(
        [sys.executable, "-m", "cnncourse", "check", str(notebook)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1
    assert "FAILED  test_relu" in result.stdout


def test_a_gradebook_that_cannot_be_written_fails_the_run_but_not_the_other_outputs(tmp_path):
    sub = build(CASES["honest"], tmp_path / "sub" / "alice" / "sample" / "sample.ipynb", {})
    (tmp_path / "not-a-folder").write_text("")
    url = f"sqlite:///{tmp_path / 'not-a-folder' / 'gradebook.db'}"
    out = tmp_path / "r.json"
    result = grade("sample", str(sub), "--json", str(out), "--gradebook", url)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "gradebook: alice:" in result.stderr
    assert json.loads(out.read_text())["submissions"][0]["score"] == 6


def _without_bwrap(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH finds no bwrap: what a machine without bubblewrap sees."""
    empty = tmp_path / "no-bwrap-bin"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "CNNCOURSE_ISOLATION"}
    return {**env, "PATH": str(empty)}


def _grade_with(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cnncourse", "grade", *args],
        cwd=COURSE,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_without_bubblewrap_grade_refuses_before_grading_and_says_how_to_install(tmp_path):
    build(CASES["honest"], tmp_path / "sub" / "honest" / "sample" / "sample.ipynb", {})
    out = tmp_path / "r.json"
    result = _grade_with(
        _without_bwrap(tmp_path), "sample", str(tmp_path / "sub"), "--json", str(out)
    )
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    message = result.stderr
    for words in ("refusing", "bubblewrap is not installed", "apt-get install bubblewrap"):
        assert words in message, f"{words!r} not in:\n{message}"
    weaker = "uid" if sandbox.available("uid") else "rlimits"
    assert f"--isolation {weaker}" in message, message
    assert not out.exists(), "a refused run graded something"


def test_a_weaker_level_named_explicitly_grades_and_says_what_it_leaves_open(tmp_path):
    build(CASES["honest"], tmp_path / "sub" / "honest" / "sample" / "sample.ipynb", {})
    out = tmp_path / "r.json"
    env = _without_bwrap(tmp_path)
    result = _grade_with(
        env, "sample", str(tmp_path / "sub"), "--isolation", "rlimits", "--json", str(out)
    )
    assert result.returncode == 0, result.stderr[-2000:]
    announced = [line for line in result.stderr.splitlines() if line.startswith("isolation: ")]
    assert announced and "Landlock" in announced[0] and "not protected: " in announced[0], (
        result.stderr
    )
    assert result.stderr.index("isolation: rlimits") < result.stderr.index("submission"), (
        f"the level is announced after the progress bar started:\n{result.stderr}"
    )


def test_the_isolation_level_can_come_from_the_environment(tmp_path):
    build(CASES["honest"], tmp_path / "sub" / "honest" / "sample" / "sample.ipynb", {})
    out = tmp_path / "r.json"
    env = {**_without_bwrap(tmp_path), "CNNCOURSE_ISOLATION": "rlimits"}
    result = _grade_with(env, "sample", str(tmp_path / "sub"), "--json", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    records = json.loads(out.read_text())["submissions"]
    assert {record["isolation"] for record in records} == {"rlimits"}


@pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="needs bubblewrap (bwrap): apt-get install bubblewrap (make test installs it as root)",
)
def test_grade_announces_bubblewrap_and_what_it_leaves_open(corpus_run):
    _records, _paths, process = corpus_run
    assert "isolation: bubblewrap: " in process.stderr, process.stderr[-2000:]
    assert "not protected: " in process.stderr, process.stderr[-2000:]


# -- collection: one notebook per student, wherever the platform put it -------------------


def _records(out: Path) -> dict[str, dict]:
    return {r["student"]: r for r in json.loads(out.read_text())["submissions"]}


def test_a_renamed_notebook_is_graded_and_the_record_says_so(tmp_path):
    build(CASES["honest"], tmp_path / "sub" / "alice" / "sample" / "sample.ipynb", {})
    build(CASES["honest"], tmp_path / "sub" / "grace" / "sample" / "grace_sample.ipynb", {})
    out = tmp_path / "r.json"
    result = grade("sample", str(tmp_path / "sub"), "--json", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    grace = _records(out)["grace"]
    assert grace["score"] == 6, grace
    assert grace["notebook"].endswith("grace_sample.ipynb")
    assert any("renamed: grace_sample.ipynb" in note for note in grace["notes"]), grace["notes"]
    assert "renamed: grace_sample.ipynb" in result.stdout, result.stdout


def test_a_notebook_one_folder_too_high_is_graded_and_the_record_says_so(tmp_path):
    build(CASES["honest"], tmp_path / "sub" / "alice" / "sample" / "sample.ipynb", {})
    build(CASES["honest"], tmp_path / "sub" / "hank" / "sample.ipynb", {})
    out = tmp_path / "r.json"
    result = grade("sample", str(tmp_path / "sub"), "--json", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    hank = _records(out)["hank"]
    assert hank["score"] == 6, hank
    assert any("one folder above" in note for note in hank["notes"]), hank["notes"]


def test_a_notebook_one_folder_too_low_is_graded_and_the_record_says_so(tmp_path):
    notebook = tmp_path / "sub" / "ivan" / "sample" / "unzipped" / "sample.ipynb"
    build(CASES["honest"], notebook, {})
    out = tmp_path / "r.json"
    result = grade("sample", str(tmp_path / "sub"), "--json", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    ivan = _records(out)["ivan"]
    assert ivan["score"] == 6 and any("one folder below" in n for n in ivan["notes"]), ivan


def test_two_candidate_notebooks_leave_that_student_alone_ungraded(tmp_path):
    build(CASES["honest"], tmp_path / "sub" / "alice" / "sample" / "sample.ipynb", {})
    build(CASES["honest"], tmp_path / "sub" / "ivy" / "sample" / "ivy_sample.ipynb", {})
    build(CASES["released_stubs"], tmp_path / "sub" / "ivy" / "sample" / "draft.ipynb", {})
    out = tmp_path / "r.json"
    result = grade(
        "sample", str(tmp_path / "sub"), "--json", str(out), "--csv", str(tmp_path / "c")
    )
    assert result.returncode == 0, result.stderr[-2000:]
    records = _records(out)
    assert records["alice"]["score"] == 6 and records["alice"]["status"] == "graded"
    ivy = records["ivy"]
    assert ivy["status"] == "not_run" and ivy["score"] == 0, ivy
    assert {test["status"] for test in ivy["tests"]} == {"not_run"}
    assert "ivy_sample.ipynb" in ivy["message"] and "draft.ipynb" in ivy["message"], ivy
    assert "draft.ipynb" in result.stdout, result.stdout


def test_the_notebook_at_the_expected_place_wins_over_a_copy_beside_it(tmp_path):
    build(CASES["honest"], tmp_path / "sub" / "alice" / "sample" / "sample.ipynb", {})
    build(CASES["released_stubs"], tmp_path / "sub" / "alice" / "sample" / "copy.ipynb", {})
    out = tmp_path / "r.json"
    result = grade("sample", str(tmp_path / "sub"), "--json", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    alice = _records(out)["alice"]
    assert alice["score"] == 6 and any("copy.ipynb" in note for note in alice["notes"]), alice


def test_a_test_expecting_an_exception_that_gets_none_fails_and_says_what_was_expected(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(COURSE, course)
    suite = course / "autograde/sample/test_sample.py"
    text = suite.read_text()
    start = text.index("def test_relu_backward_uses_the_forward_cache")
    end = text.index("@pytest.mark.points", start)
    expects_a_raise = (
        "def test_relu_backward_uses_the_forward_cache(student):\n"
        "    from cnncourse.grading.proxy import StudentError\n\n"
        "    with pytest.raises(StudentError):\n"
        "        student.relu_forward(_data(2, 3, 6))\n\n\n"
    )
    suite.write_text(text[:start] + expects_a_raise + text[end:])
    sub = build(CASES["honest"], tmp_path / "sub" / "alice" / "sample" / "sample.ipynb", {})
    out = tmp_path / "r.json"
    result = grade("sample", str(sub), "--course", str(course), "--json", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    tests = {t["name"].rsplit("::", 1)[-1]: t for t in _records(out)["alice"]["tests"]}
    test = tests["test_relu_backward_uses_the_forward_cache"]
    assert test["status"] == "failed", test
    assert (
        test["message"]
        == "expected the call to raise an exception, but it returned without raising"
    )


def test_a_gradebook_run_prints_no_library_warning(corpus_run):
    _records, _paths, process = corpus_run
    noisy = [line for line in process.stderr.splitlines() if "warn" in line.lower()]
    assert noisy == [], "\n".join(noisy)
