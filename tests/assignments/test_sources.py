"""The instructor sources, the hidden suites and the released exercises agree (fast checks)."""

from __future__ import annotations

import ast
import inspect
import re
import tomllib

import pytest
from assignment_course import (
    ASSIGNMENTS,
    ROOT,
    graded_test_cells,
    manual_cells,
    nbgrader_meta,
    read,
    released,
    solution_path,
    suite_markers,
)

import cnncourse.layers
import cnncourse.optim
from cnncourse.grading.assignment import SETTINGS
from cnncourse.grading.cells import strip_hidden
from cnncourse.grading.release import build_notebook, notebook_text


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_notebook_is_what_its_python_source_builds(a):
    src = ROOT / "solutions" / a / f"{a}.py"
    assert solution_path(a).read_text(encoding="utf-8") == notebook_text(build_notebook(src)), (
        f"solutions/{a}/{a}.ipynb is stale: run `cnncourse release {a}`"
    )


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_notebook_has_every_kind_of_cell(a):
    nb = read(solution_path(a))
    kinds = {
        (m.get("solution", False), m.get("grade", False), m.get("locked", False))
        for m in map(nbgrader_meta, nb.cells)
        if m
    }
    assert (True, False, False) in kinds, "no autograded answer cell"
    assert (False, True, True) in kinds, "no autograder test cell"
    assert (True, True, False) in kinds, "no manually graded (written) answer"
    assert (False, False, True) in kinds, "no read-only cell"
    manual = [
        c for c in nb.cells if nbgrader_meta(c).get("solution") and nbgrader_meta(c).get("grade")
    ]
    assert all(c.cell_type == "markdown" for c in manual), "written answers are markdown cells"
    assert any("BEGIN HIDDEN TESTS" in c.source for c in nb.cells), "no hidden tests"


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_every_task_is_followed_by_a_visible_check(a):
    """Each answer cell's next code cell is a test cell, and every test cell's visible part calls
    its check from the specification, checks.<assignment>.<grade id>(...)."""
    nb = read(solution_path(a))
    code = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code):
        meta = nbgrader_meta(cell)
        if meta.get("solution"):
            nxt = nbgrader_meta(code[i + 1]) if i + 1 < len(code) else {}
            assert nxt.get("grade"), f"answer {meta['grade_id']} has no check right after it"
        if meta.get("grade"):
            visible = strip_hidden(cell.source)
            assert f"checks.{a}.{meta['grade_id']}(" in visible, meta["grade_id"]


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_suite_points_add_up_to_the_notebook_points(a):
    """Grade id by grade id, the hidden tests' points are the test cell's points."""
    markers = suite_markers(a)
    unmarked = [name for name, gid, _ in markers if not gid]
    assert not unmarked, f"tests without exactly one points marker: {unmarked}"
    totals: dict[str, float] = {}
    for _, gid, points in markers:
        assert points > 0
        totals[gid] = totals.get(gid, 0.0) + points
    assert totals == graded_test_cells(read(solution_path(a)))


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_assignment_settings(a):
    settings = tomllib.loads((ROOT / "autograde" / a / "assignment.toml").read_text())
    assert set(settings) <= SETTINGS
    # graded code may import the standard library and numpy only (docs/grading.md)
    assert settings["modules"] == ["numpy"]
    assert all(isinstance(n, str) and "." in n for n in settings.get("forbidden", []))
    assert 0 < settings.get("timeout", 10) <= 120 and settings["memory_mb"] >= 256


# functions students write that have a reference of the same name
def _answer_functions(a):
    for cell in read(solution_path(a)).cells:
        if nbgrader_meta(cell).get("solution") and cell.cell_type == "code":
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.FunctionDef):
                    yield node


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_student_signatures_are_the_references(a):
    compared = 0
    for node in _answer_functions(a):
        ref = getattr(cnncourse.layers, node.name, None) or getattr(
            cnncourse.optim, node.name, None
        )
        if ref is None:
            continue
        params = list(inspect.signature(ref).parameters)
        student = [arg.arg for arg in node.args.args]
        assert student == params, f"{node.name}{tuple(student)} != reference {tuple(params)}"
        compared += 1
    assert compared >= 2


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_exercises_hold_no_solutions(a):
    folder = ROOT / "exercises" / a
    assert sorted(p.name for p in folder.iterdir()) == [f"{a}.ipynb"]
    text = (folder / f"{a}.ipynb").read_text(encoding="utf-8")
    for leak in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
        assert leak not in text
    nb = released(a)
    manual = manual_cells(nb)
    assert manual and all(
        c.source == "YOUR ANSWER HERE"
        for c in nb.cells
        if nbgrader_meta(c).get("grade_id") in manual
    )
    stubs = [c for c in nb.cells if nbgrader_meta(c).get("solution") and c.cell_type == "code"]
    assert stubs and all(re.search(r"raise NotImplementedError\(\)", c.source) for c in stubs)
