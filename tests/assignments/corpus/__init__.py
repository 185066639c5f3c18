"""The fairness corpus: many correct implementations and realistic bugs per assignment.

``load(a)`` returns the assignment's :class:`~corpus.model.Assignment` (``corpus/<a>.py``);
``submissions(a)`` turns it into notebooks: the solution, the released stubs, one submission
per style, mixes of styles, one per bug and a few with two bugs. Each :class:`Submission`
knows the points every test cell must get from each grader (``expected``). See README.md.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass

from assignment_course import (
    ASSIGNMENTS,
    graded_test_cells,
    nbgrader_meta,
    read,
    released,
    solution_path,
    submission,
    suite_markers,
)

from corpus.model import Assignment, Bug

# The hidden blocks report partial credit per cell (the test cell's last value is the points
# its passing groups earn, cnncourse/checks/runner.py), so nbgrader scores a partly broken
# cell as `cnncourse grade` does. Were it False, such a cell would be expected to cost its
# whole points in nbgrader (and the two graders to disagree on it).
NBGRADER_PARTIAL_CREDIT = True

# Where a grader is known to misjudge a corpus submission (reported, not yet fixed):
# (assignment, submission, grader) -> the cause. The fairness test of that triple is an
# expected failure (strict: it fails once the grader is fixed, so this entry goes). Both
# graders run the same specification (cnncourse/checks/<a>.py), so a cause in it applies to
# both. None today: every corpus submission gets what its declaration says from
# `cnncourse grade` (test_fairness.py) and from `nbgrader autograde`
# (test_nbgrader_agreement.py).
KNOWN_GRADER_ISSUES: dict[tuple[str, str, str], str] = {}


# Hidden tests known to break (status grader_error) on some corpus submission:
# (assignment, test) -> the cause. Points are right there; the student's message is not.
# None today: a check that expects an exception and gets none now fails as the student's.
KNOWN_GRADER_ERRORS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Submission:
    name: str
    assignment: str
    kind: str  # solution | released | style | mix | bug | combo
    answers: dict[str, str]  # answer cell -> source (cells not named keep the solution's)
    bugs: tuple[Bug, ...] = ()

    def notebook(self):
        if self.kind == "released":
            return released(self.assignment)
        return submission(self.assignment, self.answers)

    @property
    def why(self) -> str:
        return " + ".join(f"{b.name}: {b.why}" for b in self.bugs) or self.kind

    def failing_tests(self) -> set[str]:
        """Hidden tests this submission must fail (every test of a broken cell)."""
        markers = _markers(self.assignment)
        failing = set()
        for bug in self.bugs:
            failing |= {t for t, cell, _ in markers if cell in bug.cells}
            failing |= set(bug.tests)
        if self.kind == "released":
            failing = {t for t, _, _ in markers}
        return failing

    def expected(self, grader: str) -> dict[str, float]:
        """Points each test cell must get from ``grader`` ("cnncourse" or "nbgrader")."""
        cells = cell_points(self.assignment)
        lost = dict.fromkeys(cells, 0.0)
        failing = self.failing_tests()
        for test, cell, points in _markers(self.assignment):
            if test in failing:
                lost[cell] += points
        partial = grader == "cnncourse" or NBGRADER_PARTIAL_CREDIT
        return {
            cell: points - lost[cell] if partial or not lost[cell] else 0.0
            for cell, points in cells.items()
        }

    def partly_broken(self) -> set[str]:
        """Cells that lose some but not all of their points (partial credit in both graders)."""
        cells = cell_points(self.assignment)
        got = self.expected("cnncourse")
        return {c for c in cells if 0 < got[c] < cells[c]}


def expected_disagreement(a: str, name: str) -> str | None:
    """Why the two graders are expected to score submission ``name`` differently, if so."""
    known = {g: KNOWN_GRADER_ISSUES.get((a, name, g)) for g in ("cnncourse", "nbgrader")}
    if known["cnncourse"] and known["nbgrader"]:  # both miss the same bug: they agree
        return None
    if known["cnncourse"] or known["nbgrader"]:  # one grader misjudges it
        return known["cnncourse"] or known["nbgrader"]
    sub = submissions(a)[name]
    if sub.partly_broken() and not NBGRADER_PARTIAL_CREDIT:
        return f"nbgrader scores {sorted(sub.partly_broken())} all or nothing"
    return None


@functools.cache
def cell_points(a: str) -> dict[str, float]:
    """Autograded test cell -> points: the one place the corpus reads points from."""
    return graded_test_cells(read(solution_path(a)))


@functools.cache
def _markers(a: str) -> tuple[tuple[str, str, float], ...]:
    """(hidden test, test cell, points) of the assignment's suite."""
    return tuple(suite_markers(a))


def solution_answers(a: str) -> dict[str, str]:
    nb = read(solution_path(a))
    return {
        nbgrader_meta(c)["grade_id"]: c.source
        for c in nb.cells
        if c.cell_type == "code" and nbgrader_meta(c).get("solution")
    }


def load(a: str) -> Assignment:
    return importlib.import_module(f"corpus.{a}").ASSIGNMENT


def _style_answers(spec: Assignment, index_of_group) -> dict[str, str]:
    answers = {}
    for k, group in enumerate(spec.all_groups()):
        n = len(spec.styles[group[0]])
        i = index_of_group(k) % n
        answers.update({cell: spec.styles[cell][i] for cell in group})
    return answers


def bug_answers(spec: Assignment, bugs: tuple[Bug, ...]) -> dict[str, str]:
    """The solution's cells, each bug's group from the bug's base style, the bug's cell."""
    solution = solution_answers(spec.name)
    answers: dict[str, str] = {}
    for bug in bugs:
        if bug.base is not None:
            answers.update({c: spec.styles[c][bug.base] for c in spec.group_of(bug.cell)})
    for bug in bugs:
        answers[bug.cell] = bug.cell_source(spec.styles, solution)
    return answers


@functools.cache
def submissions(a: str) -> dict[str, Submission]:
    spec = load(a)
    subs = [
        Submission("solution", a, "solution", {}),
        Submission("released", a, "released", {}),
    ]
    n_styles = max(len(v) for v in spec.styles.values())
    subs += [
        Submission(f"style{i}", a, "style", _style_answers(spec, lambda k, i=i: i))
        for i in range(n_styles)
    ]
    subs += [
        Submission(f"mix{j}", a, "mix", _style_answers(spec, lambda k, j=j: j + (j + 1) * k + 1))
        for j in range(spec.mixes)
    ]
    by_name = {b.name: b for b in spec.bugs}
    subs += [Submission(b.name, a, "bug", bug_answers(spec, (b,)), (b,)) for b in spec.bugs]
    for names in spec.combos:
        bugs = tuple(by_name[n] for n in names)
        subs.append(Submission("+".join(names), a, "combo", bug_answers(spec, bugs), bugs))
    out = {s.name: s for s in subs}
    assert len(out) == len(subs), f"{a}: two submissions share a name"
    return out


__all__ = [
    "ASSIGNMENTS",
    "KNOWN_GRADER_ERRORS",
    "KNOWN_GRADER_ISSUES",
    "NBGRADER_PARTIAL_CREDIT",
    "Submission",
    "bug_answers",
    "cell_points",
    "expected_disagreement",
    "load",
    "solution_answers",
    "submissions",
]
