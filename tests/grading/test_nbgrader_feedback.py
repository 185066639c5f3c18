"""`cnncourse grade --gradebook` in nbgrader's layout: the autograded notebooks it writes, and
a real `nbgrader generate_feedback` that turns them into the students' feedback pages."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import grade
from grading_corpus import CASES, COURSE, FAKE_OUTPUT, SOURCE, build

from cnncourse.grading.autograded import released
from cnncourse.grading.cells import HiddenTestsError

SUITE = COURSE / "autograde" / "sample" / "test_sample.py"
BIN = Path(sys.executable).parent


def _autograded(corpus_run, student: str):
    path = corpus_run[1]["autograded"] / student / "sample" / "sample.ipynb"
    return nbformat.read(path, as_version=4)


def _nbgrader_cells(notebook) -> dict[str, dict]:
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell
        for cell in notebook.cells
        if "nbgrader" in cell.metadata
    }


def _hidden_lines() -> list[str]:
    """Every line of the source notebook's hidden test sections."""
    lines = []
    for cell in nbformat.read(SOURCE, as_version=4).cells:
        hidden = re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.S)
        lines += [line.strip() for text in hidden for line in text.splitlines() if line.strip()]
    return lines


def _test_cell_ids() -> list[str]:
    source = nbformat.read(SOURCE, as_version=4)
    meta = [cell.metadata.get("nbgrader", {}) for cell in source.cells]
    return [m["grade_id"] for m in meta if m.get("grade") and not m.get("solution")]


# -- the autograded notebooks of the attack corpus ----------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_submission_gets_a_valid_autograded_notebook(corpus_run, name):
    nbformat.validate(_autograded(corpus_run, name))


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_test_cell_shows_the_outcome_and_points_of_its_hidden_tests(corpus_run, name):
    record = corpus_run[0][name]
    cells = _nbgrader_cells(_autograded(corpus_run, name))
    for test in record["tests"]:
        (output,) = cells[test["grade_id"]].outputs
        line = f"{test['points']:g} / {test['max_points']:g}  {test['name']}"
        assert line in output.text, f"{line!r} not in {output.text!r}"


def test_test_cells_hold_the_released_text_not_the_students_edit(corpus_run):
    # an honest student's notebook holds the test cells as released (hidden tests removed)
    honest = corpus_run[1]["submitted"] / "honest" / "sample" / "sample.ipynb"
    released = _nbgrader_cells(nbformat.read(honest, as_version=4))
    emptied = _nbgrader_cells(_autograded(corpus_run, "empties_test_cells"))
    for grade_id in _test_cell_ids():
        assert emptied[grade_id].source == released[grade_id].source != "", grade_id


@pytest.mark.parametrize("name", sorted(CASES))
def test_autograded_notebooks_hold_no_hidden_test_source(corpus_run, name):
    text = json.dumps(_autograded(corpus_run, name))
    assert "_data(" in SUITE.read_text() and "_data(" not in text
    leaked = [line for line in _hidden_lines() if line in text]
    assert leaked == [], leaked


def test_an_unclosed_hidden_section_is_refused_as_nbgrader_refuses_it():
    text = "check(visible)\n### BEGIN HIDDEN TESTS\ncheck(hidden)\n"
    with pytest.raises(HiddenTestsError, match="line 2: BEGIN HIDDEN TESTS is never closed"):
        released(text)


def test_a_deleted_test_cell_comes_back_with_its_outcome(corpus_run):
    cells = _nbgrader_cells(_autograded(corpus_run, "deletes_test_cells"))
    assert set(_test_cell_ids()) <= set(cells)
    assert "test_relu_forward: wrong result" in cells["test_relu"].outputs[0].text


def test_points_in_the_notebook_come_from_the_instructors_notebook(corpus_run):
    cells = _nbgrader_cells(_autograded(corpus_run, "raises_points_in_metadata"))
    points = {gid: cell.metadata["nbgrader"].get("points") for gid, cell in cells.items()}
    source = _nbgrader_cells(nbformat.read(SOURCE, as_version=4))
    expected = {gid: source[gid].metadata["nbgrader"].get("points") for gid in cells}
    assert points == expected
    assert "bonus" not in cells


def test_outputs_saved_in_the_submission_are_dropped(corpus_run):
    notebook = _autograded(corpus_run, "fakes_outputs_in_its_notebook")
    outputs = [out.get("text", "") for cell in notebook.cells for out in cell.get("outputs", [])]
    assert outputs and not [text for text in outputs if FAKE_OUTPUT in text]


# -- a real nbgrader course: generate_assignment, cnncourse grade, generate_feedback -------

STUDENTS = ("honest", "monkeypatches_numpy_builtins_and_checks")


def _nbgrader(course: Path, *args: str) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [str(BIN / "nbgrader"), *args], cwd=course, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, f"nbgrader {args[0]} failed:\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def nbgrader_course(tmp_path_factory):
    """A course whose gradebook nbgrader made, graded by us, with nbgrader's feedback pages.

    Returns (course folder, our records by student).
    """
    course = tmp_path_factory.mktemp("nbgrader-course")
    (course / "source" / "sample").mkdir(parents=True)
    shutil.copy(SOURCE, course / "source" / "sample" / "sample.ipynb")
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    _nbgrader(course, "generate_assignment", "sample")
    for name in STUDENTS:
        build(CASES[name], course / "submitted" / name / "sample" / "sample.ipynb", {})
    out = course / "grades.json"
    process = grade(
        "sample",
        str(course / "submitted"),
        "--gradebook",
        f"sqlite:///{course / 'gradebook.db'}",
        "--json",
        str(out),
    )
    assert process.returncode == 0, process.stderr[-3000:]
    _nbgrader(course, "generate_feedback", "sample")
    records = {r["student"]: r for r in json.loads(out.read_text())["submissions"]}
    return course, records


def _feedback_text(course: Path, student: str) -> str:
    """The text of nbgrader's feedback page, tags removed."""
    page = (course / "feedback" / student / "sample" / "sample.html").read_text()
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.mark.parametrize("student", STUDENTS)
def test_feedback_page_shows_the_score_we_gave(nbgrader_course, student):
    course, records = nbgrader_course
    record = records[student]
    header = f"sample (Score: {round(record['score'], 2)} / {round(record['max_score'], 2)})"
    text = _feedback_text(course, student)
    assert header in text, f"{header!r} not in the page: {text[:500]!r}"


@pytest.mark.parametrize("student", STUDENTS)
def test_feedback_page_shows_each_hidden_tests_points_and_outcome(nbgrader_course, student):
    course, records = nbgrader_course
    text = _feedback_text(course, student)
    for test in records[student]["tests"]:
        line = f"{test['points']:g} / {test['max_points']:g}  {test['name']}"
        assert line in text, f"{line!r} not in the page"


def test_feedback_page_shows_why_a_test_failed(nbgrader_course):
    course, records = nbgrader_course
    failed = [t for t in records[STUDENTS[1]]["tests"] if t["status"] == "failed"]
    text = _feedback_text(course, STUDENTS[1])
    assert failed and all(t["message"].splitlines()[0] in text for t in failed)


@pytest.mark.parametrize("student", STUDENTS)
def test_feedback_page_holds_no_hidden_test_source(nbgrader_course, student):
    course, _records = nbgrader_course
    text = _feedback_text(course, student)
    assert "_data(" in SUITE.read_text() and "_data(" not in text
    leaked = [line for line in _hidden_lines() if line in text]
    assert leaked == [], leaked


def test_generate_assignment_after_grading_finds_the_gradebook_unchanged(nbgrader_course):
    # cnncourse grade registered the notebook's cells as generate_assignment does, so nbgrader
    # neither refuses ("Cannot add or remove cells ... submissions") nor loses the release
    course, records = nbgrader_course
    released = course / "release" / "sample" / "sample.ipynb"
    before = released.read_text()
    _nbgrader(course, "generate_assignment", "sample", "--force")
    assert released.read_text() == before
    _nbgrader(course, "generate_feedback", "sample", "--force")
    assert f"Score: {round(records['honest']['score'], 2)}" in _feedback_text(course, "honest")
