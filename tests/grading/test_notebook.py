"""What enters the child: answers from the submission, setup from the source, no tests."""

from __future__ import annotations

from grading_corpus import CASES, SOURCE, build

from cnncourse.grading.notebook import load_source, load_submission, program_cells


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
