"""An assignment of a course: its source notebook, hidden suite and settings.

Course layout::

    COURSE/solutions/NAME/NAME.ipynb      the instructor's notebook (nbgrader source format)
    COURSE/autograde/NAME/test_*.py       the hidden tests
    COURSE/autograde/NAME/assignment.toml optional settings (SETTINGS, docs/grading.md)
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from cnncourse.grading.notebook import NotebookError, SourceNotebook, load_source
from cnncourse.grading.runtime import DEFAULT_MODULES, ModulesError, check_modules
from cnncourse.grading.sandbox import Limits
from cnncourse.grading.torch_guard import FAMILIES as TORCH_FAMILIES

SETTINGS = {
    "modules",
    "forbidden",
    "torch_allow",
    "timeout",
    "wall_timeout",
    "memory_mb",
    "setup_timeout",
    "submission_timeout",
}
# The parts of the package a hidden suite grades with: the specifications, the reference
# layers and optimizers, the one rel_error and the comparisons. A change to any of them can
# change a grade, so it changes the fingerprint too.
_PACKAGE = Path(__file__).resolve().parents[1]
_GRADING_SOURCES = ("checks", "layers", "optim.py", "gradcheck.py", "grading/compare.py")
_NUMBERS = ("timeout", "wall_timeout", "memory_mb", "setup_timeout", "submission_timeout")


class AssignmentError(Exception):
    """The course material itself is wrong (missing files, points that disagree)."""


@dataclass
class TestInfo:
    name: str
    grade_id: str
    points: float


@dataclass
class Assignment:
    course: Path
    name: str
    source: SourceNotebook
    suite_dir: Path
    test_files: list[Path]
    forbidden: list[str]
    limits: Limits
    tests: list[TestInfo] = field(default_factory=list)
    modules: tuple[str, ...] = DEFAULT_MODULES  # importable by graded code (+ stdlib)
    # families of torch operators refused at the dispatcher where torch is permitted
    torch_refuse: tuple[str, ...] = tuple(TORCH_FAMILIES)

    @property
    def max_score(self) -> float:
        return sum(test.points for test in self.tests)

    def fingerprint(self) -> str:
        """Changes whenever anything that decides a grade changes (for idempotent re-runs)."""
        digest = hashlib.sha256()
        for path in self._material():
            if path.exists():
                digest.update(path.read_bytes())
        digest.update(self._settings())
        return digest.hexdigest()

    def manifest(self) -> dict[str, str]:
        """What :meth:`fingerprint` covers, one SHA-256 per file (named from the course or
        package root) and one for the settings: tells which file of two copies differs."""
        roots = (self.course, _PACKAGE.parent)
        hashes = {}
        for path in self._material():
            if path.exists():
                root = next((r for r in roots if path.is_relative_to(r)), path.parent)
                hashes[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
        hashes["settings"] = hashlib.sha256(self._settings()).hexdigest()
        return hashes

    def _material(self) -> list[Path]:
        return [
            self.source.path,
            *self.test_files,
            self.suite_dir / "assignment.toml",
            *_package_sources(),
        ]

    def _settings(self) -> bytes:
        return repr((self.forbidden, self.limits, self.modules, self.torch_refuse)).encode()


def _package_sources() -> list[Path]:
    found = []
    for name in _GRADING_SOURCES:
        path = _PACKAGE / name
        found.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return found


def load_assignment(course: Path, name: str, **overrides) -> Assignment:
    """Read an assignment; ``overrides`` (timeout, memory_mb, submission_timeout) win over
    assignment.toml."""
    course = Path(course).resolve()
    source_path = course / "solutions" / name / f"{name}.ipynb"
    suite_dir = course / "autograde" / name
    if not source_path.is_file():
        raise AssignmentError(f"no source notebook {source_path}")
    test_files = sorted(suite_dir.glob("test_*.py"))
    if not test_files:
        raise AssignmentError(f"no hidden tests {suite_dir}/test_*.py")
    settings = _read_settings(suite_dir / "assignment.toml")
    settings.update({key: value for key, value in overrides.items() if value is not None})
    try:
        source = load_source(source_path)
    except NotebookError as exc:
        raise AssignmentError(str(exc)) from None
    defaults = Limits()
    wall = settings.get("wall_timeout")
    limits = Limits(
        timeout=float(settings.get("timeout", defaults.timeout)),
        memory_mb=int(settings.get("memory_mb", defaults.memory_mb)),
        setup_timeout=float(settings.get("setup_timeout", defaults.setup_timeout)),
        submission_timeout=float(settings.get("submission_timeout", defaults.submission_timeout)),
        wall_timeout=None if wall is None else float(wall),
    )
    forbidden = [str(name) for name in settings.get("forbidden", [])]
    try:
        modules = check_modules(settings.get("modules", DEFAULT_MODULES))
    except ModulesError as exc:
        raise AssignmentError(f"{suite_dir / 'assignment.toml'}: {exc}") from None
    allowed = [str(family) for family in settings.get("torch_allow", [])]
    unknown = sorted(set(allowed) - set(TORCH_FAMILIES))
    if unknown:
        raise AssignmentError(
            f"{suite_dir / 'assignment.toml'}: torch_allow: unknown families {unknown} "
            f"(known: {', '.join(TORCH_FAMILIES)})"
        )
    refuse = tuple(family for family in TORCH_FAMILIES if family not in allowed)
    return Assignment(
        course,
        name,
        source,
        suite_dir,
        test_files,
        forbidden,
        limits,
        modules=modules,
        torch_refuse=refuse,
    )


def _read_settings(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        settings = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise AssignmentError(f"{path}: {exc}") from None
    unknown = set(settings) - SETTINGS
    if unknown:
        raise AssignmentError(f"{path}: unknown settings {sorted(unknown)}")
    if not isinstance(settings.get("forbidden", []), list):
        raise AssignmentError(f"{path}: forbidden must be a list of dotted names")
    if not isinstance(settings.get("torch_allow", []), list):
        raise AssignmentError(f"{path}: torch_allow must be a list of families")
    if not isinstance(settings.get("modules", []), list):
        raise AssignmentError(f"{path}: modules must be a list of module names")
    for key in _NUMBERS:
        value = settings.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise AssignmentError(f"{path}: {key} must be a number, got {value!r}")
        if value is not None and value <= 0:
            raise AssignmentError(f"{path}: {key} must be positive, got {value!r}")
    return settings


def check_points(assignment: Assignment) -> None:
    """Every test has points for an autograded cell, and per cell they sum to its points."""
    cells = assignment.source.points
    totals: dict[str, float] = {}
    for test in assignment.tests:
        if test.grade_id not in cells:
            raise AssignmentError(
                f"{test.name}: grade_id {test.grade_id!r} is not an autograded cell of "
                f"{assignment.source.path.name} (those are {sorted(cells)})"
            )
        totals[test.grade_id] = totals.get(test.grade_id, 0.0) + test.points
    for grade_id, points in cells.items():
        if abs(totals.get(grade_id, 0.0) - points) > 1e-9:
            raise AssignmentError(
                f"cell {grade_id!r} is worth {points:g} points in the notebook but the "
                f"hidden tests give it {totals.get(grade_id, 0.0):g}"
            )
