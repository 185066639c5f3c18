"""The fairness corpus under ``nbgrader autograde``, and the two graders' agreement cell by cell.

Every corpus submission (at least 40 per assignment: correct styles, mixes, planted bugs,
combinations, the solution and the released stubs) is graded by both graders once per
session (``conftest.py``): ``cnncourse grade``'s results are the ones ``test_fairness.py``
reads; ``nbgrader autograde`` runs over course copies of at most 16 students of one
assignment, one ``nbgrader autograde`` command per copy, two at a time
(``corpus.graders.run_nbgrader``). Then, for each submission, nbgrader's points per test cell
must be what the submission's declaration says (the same as ``cnncourse grade``'s, since the
hidden blocks report partial credit per cell), and both graders' points must be the same,
cell by cell and in total. A grader known to misjudge a submission is listed with its cause in
``corpus.KNOWN_GRADER_ISSUES``: its test is a strict expected failure.
"""

from __future__ import annotations

import corpus
import pytest
from corpus.graders import cells_of

pytestmark = pytest.mark.slow

CASES = [(a, name) for a in corpus.ASSIGNMENTS for name in corpus.submissions(a)]


@pytest.fixture(scope="module")
def results(corpus_both):
    return corpus_both


def _xfail_if(why: str | None) -> list:
    return [pytest.mark.xfail(reason=why, strict=True)] if why else []


def _nbgrader_cells(results, a: str, name: str) -> dict[str, float]:
    """nbgrader's points per autograded test cell (it also lists manually graded answers)."""
    cells = corpus.cell_points(a)
    return {c: s for c, (s, _) in results[a]["nbgrader"][name]["cells"].items() if c in cells}


# ---------------------------------------------------------------- fairness under nbgrader


@pytest.mark.parametrize(
    ("a", "name"),
    [
        pytest.param(
            a,
            n,
            marks=_xfail_if(corpus.KNOWN_GRADER_ISSUES.get((a, n, "nbgrader"))),
            id=f"{a}-{n}",
        )
        for a, n in CASES
    ],
)
def test_nbgrader_gives_the_points_its_bugs_leave(results, a, name):
    sub = results[a]["subs"][name]
    got = _nbgrader_cells(results, a, name)
    want = sub.expected("nbgrader")
    wrong = {c: (got.get(c), w) for c, w in want.items() if got.get(c) != pytest.approx(w)}
    assert not wrong, f"{sub.why}\ncell: (got, expected) {wrong}"


@pytest.mark.parametrize("a", corpus.ASSIGNMENTS)
def test_nbgrader_gives_the_released_stubs_zero(results, a):
    assert results[a]["nbgrader"]["released"]["score"] == 0


# ---------------------------------------------------------------- agreement


@pytest.mark.parametrize(
    ("a", "name"),
    [
        pytest.param(a, n, marks=_xfail_if(corpus.expected_disagreement(a, n)), id=f"{a}-{n}")
        for a, n in CASES
    ],
)
def test_both_graders_give_the_same_points_per_cell(results, a, name):
    ours = cells_of(results[a]["cnncourse"][name])
    theirs = _nbgrader_cells(results, a, name)
    cells = corpus.cell_points(a)
    assert set(ours) == set(theirs) == set(cells), (sorted(ours), sorted(theirs))
    differ = {c: (ours[c], theirs[c]) for c in ours if ours[c] != pytest.approx(theirs[c])}
    assert not differ, f"{results[a]['subs'][name].why}\ncell: (cnncourse, nbgrader) {differ}"


@pytest.mark.parametrize("a", corpus.ASSIGNMENTS)
def test_both_graders_give_the_same_total(results, a):
    """Over the whole corpus, the submissions whose totals differ are the expected ones."""
    differ = {
        name
        for name, record in results[a]["cnncourse"].items()
        if record["score"] != pytest.approx(results[a]["nbgrader"][name]["code_score"])
    }
    explained = {name for name in results[a]["subs"] if corpus.expected_disagreement(a, name)}
    assert differ <= explained, sorted(differ - explained)
