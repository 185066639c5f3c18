"""The fingerprint that lets a re-run skip a submission changes with anything that grades it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cnncourse.grading import assignment as assignment_module
from cnncourse.grading.assignment import load_assignment

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def package_copy(tmp_path, monkeypatch) -> Path:
    """A copy of the package folder that the fingerprint reads instead of the real one."""
    copy = tmp_path / "cnncourse"
    shutil.copytree(ROOT / "cnncourse", copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(assignment_module, "_PACKAGE", copy)
    return copy


def _edit(path: Path) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")


@pytest.mark.parametrize(
    "edited", ["checks/conv.py", "checks/runner.py", "layers/conv.py", "grading/compare.py"]
)
def test_fingerprint_changes_when_a_grading_source_changes(package_copy, edited):
    before = load_assignment(ROOT, "conv").fingerprint()
    _edit(package_copy / edited)
    after = load_assignment(ROOT, "conv").fingerprint()
    assert before != after, f"editing cnncourse/{edited} left the fingerprint at {before}"


def test_fingerprint_ignores_the_book_helpers(package_copy):
    before = load_assignment(ROOT, "conv").fingerprint()
    _edit(package_copy / "book" / "viz.py")
    assert load_assignment(ROOT, "conv").fingerprint() == before
