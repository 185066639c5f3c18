"""A submission that answers infinities earns nothing a shape-only answer could not.

For every assignment, two submissions are built from the solution notebook: in one, every
graded function (and every numeric answer) returns its right structure with each float
filled with ``inf``; in the other, with ``0``. A dict passed in (``bn_param``, an
optimizer's ``config``) is filled likewise after the call. Zeros of the right shapes are a
shape-only answer: they earn what the shapes (and the values that happen to be zero, or
unchanged ints) are worth. Infinities carry no more information, so they must not earn
more, in any hidden test. Before ``assert_close`` checked non-finite values, the relative
error of an infinity was inf/inf = NaN, NaN > rtol was false, and the infinities passed
nearly every test.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from assignment_course import ASSIGNMENTS, make_course, nbgrader_meta, read, solution_path, write

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent

HELPER = """
import functools as _functools_fill
import numpy as _np_fill

_FILL = float("{fill}")
_depth_fill = [0]


def _fill(v, ints):
    if isinstance(v, _np_fill.ndarray) and v.dtype.kind == "f":
        return _np_fill.full_like(v, _FILL)
    if isinstance(v, (float, _np_fill.floating)):
        return type(v)(_FILL)
    if ints and isinstance(v, (int, _np_fill.integer)) and not isinstance(v, bool):
        return float(_FILL)
    if isinstance(v, tuple):
        return tuple(_fill(x, ints) for x in v)
    if isinstance(v, list):
        return [_fill(x, ints) for x in v]
    if isinstance(v, dict):
        return {{k: _fill(x, False) for k, x in v.items()}}
    return v


def _filled(fn):
    @_functools_fill.wraps(fn)
    def wrapper(*args, **kwargs):
        if _depth_fill[0]:  # called by another graded function: the real answer
            return fn(*args, **kwargs)
        _depth_fill[0] += 1
        try:
            result = fn(*args, **kwargs)
        finally:
            _depth_fill[0] -= 1
        for a in args:
            if isinstance(a, dict):
                a.update(_fill(a, False))
        return _fill(result, True)

    return wrapper
"""


def _defined_names(source: str) -> tuple[list[str], list[str]]:
    """Top-level functions and plainly assigned names of an answer cell."""
    functions, values = [], []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            functions.append(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                elts = target.elts if isinstance(target, ast.Tuple) else [target]
                values += [e.id for e in elts if isinstance(e, ast.Name)]
    return list(dict.fromkeys(functions)), list(dict.fromkeys(values))


def filled_submission(a: str, fill: float):
    """The solution with every answer cell's functions and values filled with ``fill``."""
    nb = copy.deepcopy(read(solution_path(a)))
    for cell in nb.cells:
        if cell.cell_type != "code" or not nbgrader_meta(cell).get("solution"):
            continue
        functions, values = _defined_names(cell.source)
        wrap = [f"{f} = _filled({f})" for f in functions]
        wrap += [f"{v} = _fill({v}, True)" for v in values]
        cell.source = "\n".join([HELPER.format(fill=fill), cell.source, *wrap])
    return nb


@pytest.fixture(scope="module")
def filled_results(tmp_path_factory) -> dict[str, dict[str, dict]]:
    """``cnncourse grade`` of the inf and zero submissions: assignment -> student -> record."""
    course = make_course(tmp_path_factory.mktemp("nonfinite-course"))
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    results = {}
    for a in ASSIGNMENTS:
        paths = [
            str(write(filled_submission(a, fill), course / "submitted" / name / a / f"{a}.ipynb"))
            for name, fill in (("inf", float("inf")), ("zeros", 0.0))
        ]
        out = course / f"{a}.json"
        command = [str(VENV_BIN / "cnncourse"), "grade", a, *paths, "--course", str(course)]
        command += ["--json", str(out), "--jobs", "2"]
        proc = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
        assert out.exists(), f"cnncourse grade {a} wrote no results:\n{proc.stdout}\n{proc.stderr}"
        data = json.loads(out.read_text())
        results[a] = {record["student"]: record for record in data["submissions"]}
    return results


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_infinities_earn_no_more_than_zeros_in_any_test(filled_results, a):
    inf, zeros = filled_results[a]["inf"], filled_results[a]["zeros"]
    assert inf["status"] == zeros["status"] == "graded", (inf.get("notes"), zeros.get("notes"))
    zero_points = {t["name"]: t["points"] for t in zeros["tests"]}
    assert set(zero_points) == {t["name"] for t in inf["tests"]}
    richer = [
        (t["name"], t["points"], zero_points[t["name"]], t["message"])
        for t in inf["tests"]
        if t["points"] > zero_points[t["name"]]
    ]
    assert not richer
    assert inf["score"] <= zeros["score"]


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_the_infinities_reach_the_comparisons(filled_results, a):
    """The inf submission ran and was failed by the comparisons, not by a crash."""
    tests = filled_results[a]["inf"]["tests"]
    named = [t for t in tests if t["status"] == "failed" and "infinite" in t["message"]]
    assert named, [(t["name"], t["status"], t["message"]) for t in tests]
