"""Helpers shared by the assignment tests: the course's files, markers, submissions."""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS = ("backprop", "conv", "dropout", "batchnorm", "optimizers")


def solution_path(a: str) -> Path:
    return ROOT / "solutions" / a / f"{a}.ipynb"


def read(path: Path):
    return nbformat.read(path, as_version=4)


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def graded_test_cells(nb) -> dict[str, float]:
    """Autograder test cells: grade id -> points (manual answers are graded by hand)."""
    return {
        m["grade_id"]: float(m["points"])
        for m in map(nbgrader_meta, nb.cells)
        if m.get("grade") and not m.get("solution")
    }


def manual_cells(nb) -> dict[str, float]:
    return {
        m["grade_id"]: float(m["points"])
        for m in map(nbgrader_meta, nb.cells)
        if m.get("grade") and m.get("solution")
    }


def suite_markers(a: str) -> list[tuple[str, str, float]]:
    """(test function, grade id, points) of every test in autograde/<a>/test_*.py.

    The suites build their tests from the specification, so the files are imported and
    their module-level ``test*`` functions read, as pytest collects them."""
    found = []
    for path in sorted((ROOT / "autograde" / a).glob("test_*.py")):
        module_spec = importlib.util.spec_from_file_location(f"suite_{a}_{path.stem}", path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        for name, test in vars(module).items():
            if not (name.startswith("test") and callable(test)):
                continue
            marks = [m for m in getattr(test, "pytestmark", []) if m.name == "points"]
            if len(marks) != 1:
                found.append((name, "", 0.0))
                continue
            points = marks[0].args[0] if marks[0].args else marks[0].kwargs.get("points")
            found.append((name, marks[0].kwargs.get("grade_id", ""), float(points)))
    return found


def submission(a: str, answers: dict[str, str] | None = None):
    """The solution notebook with the given answer cells (grade id -> source) replaced."""
    nb = copy.deepcopy(read(solution_path(a)))
    left = dict(answers or {})
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in left:
            cell.source = left.pop(gid).strip("\n")
    assert not left, f"no answer cells {sorted(left)} in {a}"
    return nb


def released(a: str):
    return read(ROOT / "exercises" / a / f"{a}.ipynb")


def make_course(dst: Path, assignments=ASSIGNMENTS) -> Path:
    """A course folder of its own: solutions (notebooks only) and autograde (config, suites)."""
    for a in assignments:
        (dst / "solutions" / a).mkdir(parents=True)
        shutil.copy(solution_path(a), dst / "solutions" / a)
        shutil.copytree(
            ROOT / "autograde" / a,
            dst / "autograde" / a,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    shutil.copy(ROOT / "autograde" / "nbgrader_config.py", dst / "autograde")
    return dst


def write(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return path
