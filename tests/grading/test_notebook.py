"""What enters the child: answers from the submission, setup from the source, no tests."""

from __future__ import annotations

import json

import pytest
from grading_corpus import CASES, SOURCE, build

from cnncourse.grading.cells import (
    HiddenTestsError,
    cell_kind,
    nbgrader_metadata,
    strip_hidden,
)
from cnncourse.grading.notebook import (
    NotebookError,
    load_source,
    load_submission,
    program_cells,
    read_cells,
)


def _program(tmp_path, case="honest", **answers):
    path = build(CASES[case], tmp_path / "s.ipynb", {})
    source = load_source(SOURCE)
    return (
        source,
        load_submission(path, source),
        program_cells(source, load_submission(path, source)),
    )


def test_hidden_tests_and_instructor_solutions_never_enter_the_child(tmp_path):
    _source, _sub, cells = _program(tmp_path, "released_stubs")
    text = "\n".join(cell["source"] for cell in cells)
    assert "HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
    assert "check_close(dx" not in text  # a hidden check of the relu test cell
    assert "np.maximum" not in text  # the instructor's relu solution


def test_points_come_from_the_source_even_if_the_submission_raises_them(tmp_path):
    source, _sub, _cells = _program(tmp_path, "raises_points_in_metadata")
    assert source.points == {"test_relu": 2, "test_affine": 3, "test_output_size": 1}


def test_answer_cells_are_matched_by_grade_id(tmp_path):
    _source, sub, cells = _program(tmp_path, "deletes_test_cells")
    assert [c["grade_id"] for c in cells if c["kind"] == "answer"] == [
        "relu", "affine", "output_size"
    ]  # fmt: skip
    assert "np.abs" in sub.answers["relu"]


def test_a_missing_answer_cell_is_noted(tmp_path):
    import nbformat

    path = build(CASES["honest"], tmp_path / "s.ipynb", {})
    notebook = nbformat.read(path, as_version=4)
    notebook.cells = [
        c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "affine"
    ]
    nbformat.write(notebook, path)
    sub = load_submission(path, load_source(SOURCE))
    assert "answer cell 'affine' is missing from the notebook" in sub.notes


def test_cells_are_read_as_nbformat_reads_them(tmp_path):
    import nbformat

    path = build(CASES["fakes_outputs_in_its_notebook"], tmp_path / "s.ipynb", {})
    expected = [(c.cell_type, c.source, c.metadata) for c in nbformat.read(path, 4).cells]
    got = [(c["cell_type"], c["source"], c["metadata"]) for c in read_cells(path)]
    assert got == expected


def test_an_nbformat_3_notebook_is_converted_by_nbformat(tmp_path):
    import nbformat
    from nbformat import v3

    worksheet = v3.new_worksheet(cells=[v3.new_code_cell(input="out_size = 32")])
    path = tmp_path / "old.ipynb"
    path.write_text(nbformat.writes(v3.new_notebook(worksheets=[worksheet]), 3))
    assert [(c["cell_type"], c["source"]) for c in read_cells(path)] == [("code", "out_size = 32")]


def test_a_cell_without_metadata_makes_the_notebook_invalid(tmp_path):
    path = tmp_path / "bad.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                "cells": [{"cell_type": "code", "source": "x = 1"}]}))  # fmt: skip
    with pytest.raises(NotebookError, match="cell 0 needs a cell_type, metadata and source"):
        read_cells(path)


def test_a_source_answer_cell_without_a_grade_id_is_refused(tmp_path):
    path = tmp_path / "source.ipynb"
    answer = {
        "cell_type": "code",
        "source": "x = 1",
        "outputs": [],
        "execution_count": None,
        "metadata": {"nbgrader": {"solution": True, "grade": False, "locked": False}},
    }
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [answer]}
    path.write_text(json.dumps(notebook))
    with pytest.raises(NotebookError, match="answer cell 0 has no nbgrader grade_id"):
        load_source(path)


# ---------------------------------------------------------------- cnncourse.grading.cells


def _nbgrader_clears(source: str) -> str:
    import nbformat
    from nbgrader.preprocessors import ClearHiddenTests

    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "t", "points": 1, "solution": False}
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb, _ = ClearHiddenTests().preprocess(nb, {})
    return nb.cells[0].source


@pytest.mark.parametrize(
    "source",
    [
        "check(visible)",
        "check(visible)\n### BEGIN HIDDEN TESTS\ncheck(hidden)\n### END HIDDEN TESTS\n",
        "### BEGIN HIDDEN TESTS\ngrading_mode()\n### END HIDDEN TESTS\ncheck(x)",
        "a\n  ### BEGIN HIDDEN TESTS\nb\n### END HIDDEN TESTS\nc\n### BEGIN HIDDEN TESTS\nd\n"
        "### END HIDDEN TESTS",
    ],
)
def test_hidden_sections_are_removed_as_nbgrader_removes_them(source):
    assert strip_hidden(source) == _nbgrader_clears(source)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("a\n### BEGIN HIDDEN TESTS\nb\n", "line 2: BEGIN HIDDEN TESTS is never closed"),
        (
            "### BEGIN HIDDEN TESTS\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS\n",
            "line 2: BEGIN HIDDEN TESTS inside the section opened on line 1",
        ),
        ("a\n### END HIDDEN TESTS\n", "line 2: END HIDDEN TESTS without a BEGIN"),
    ],
)
def test_a_broken_hidden_section_fails_loudly(source, message):
    with pytest.raises(HiddenTestsError, match=message):
        strip_hidden(source)


def test_nbgrader_refuses_the_same_broken_sections():
    with pytest.raises(RuntimeError, match="No end hidden tests"):
        _nbgrader_clears("a\n### BEGIN HIDDEN TESTS\nb\n")
    with pytest.raises(RuntimeError, match="nested"):
        _nbgrader_clears("### BEGIN HIDDEN TESTS\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS")


@pytest.mark.parametrize(
    ("meta", "kind"),
    [
        ({"solution": True, "grade": False}, "answer"),
        ({"solution": True, "grade": True, "points": 3}, "manual"),
        ({"solution": False, "grade": True, "points": 2}, "test"),
        ({"solution": False, "grade": False, "locked": True}, "readonly"),
        (None, "plain"),
    ],
)
def test_cell_kinds_follow_nbgrader_metadata(meta, kind):
    cell = {"cell_type": "code", "source": "", "metadata": {"nbgrader": meta} if meta else {}}
    assert cell_kind(cell) == kind


def test_new_cell_metadata_round_trips_through_cell_kind():
    for kind, points in [("answer", None), ("manual", 3), ("test", 2.5), ("readonly", None)]:
        meta = nbgrader_metadata(kind, "x", points)
        assert cell_kind({"metadata": {"nbgrader": meta}}) == kind
    with pytest.raises(ValueError, match="points: a test cell needs points"):
        nbgrader_metadata("test", "x")
