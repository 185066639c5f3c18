"""The library functions behind ``cnncourse release`` and ``cnncourse check``."""

from __future__ import annotations

import shutil

import nbformat
import pytest
from grading_corpus import CASES, COURSE, build

from cnncourse.grading.check import CheckError, CheckResult, check_notebook
from cnncourse.grading.release import ASSIGNMENTS, resolve_assignments

REPO = COURSE.parents[2]


def test_resolve_assignments_defaults_to_every_assignment_with_solutions():
    assert resolve_assignments(REPO) == list(ASSIGNMENTS)


def test_resolve_assignments_keeps_the_order_given():
    assert resolve_assignments(REPO, ["dropout", "conv"]) == ["dropout", "conv"]


def test_resolve_assignments_names_an_unknown_assignment():
    with pytest.raises(ValueError, match="no solutions/convolution/"):
        resolve_assignments(REPO, ["conv", "convolution"])


def test_check_notebook_passes_every_visible_check_of_the_solution(tmp_path):
    notebook = tmp_path / "sample.ipynb"
    shutil.copy(COURSE / "solutions/sample/sample.ipynb", notebook)
    results, stopped = check_notebook(notebook)
    assert stopped is None
    assert results and all(isinstance(r, CheckResult) for r in results)
    assert [r.status for r in results] == ["passed"] * len(results), results
    assert sum(r.points for r in results) == 6


def test_check_notebook_reports_the_failing_check_with_its_error(tmp_path):
    notebook = build(CASES["released_stubs"], tmp_path / "s.ipynb", {})
    results, _ = check_notebook(notebook)
    failed = {r.grade_id: r.message for r in results if r.status == "failed"}
    assert "test_relu" in failed, results
    assert "NotImplementedError" in failed["test_relu"]


def test_check_notebook_refuses_a_notebook_without_checks(tmp_path):
    notebook = tmp_path / "plain.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(nb, notebook)
    with pytest.raises(CheckError, match="has no self-check cells"):
        check_notebook(notebook)


@pytest.mark.parametrize("timeout", [0, -1.0, True, "60"])
def test_check_notebook_names_a_bad_timeout(tmp_path, timeout):
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        check_notebook(tmp_path / "any.ipynb", timeout=timeout)
