"""Agreement: ``nbgrader autograde`` and ``cnncourse grade`` give the same points, cell by cell.

Both grade the whole fairness corpus (at least 40 submissions per assignment: correct
styles, mixes of styles, bugs, combinations of bugs, the solution and the released stubs;
graded once per session by ``corpus.results``). For every submission and every test cell
the two scores must be equal. A bug that breaks only part of a cell is scored per hidden
test by ``cnncourse grade`` and all or nothing by nbgrader until the hidden blocks report
partial credit (``corpus.NBGRADER_PARTIAL_CREDIT``); those submissions are expected
failures, strict, so that they turn into failures the day the two agree.
"""

from __future__ import annotations

import corpus
import pytest
from corpus.graders import cells_of
from corpus.results import graded

pytestmark = pytest.mark.slow


def _param(a: str, name: str):
    why = corpus.expected_disagreement(a, name)
    marks = [pytest.mark.xfail(reason=why, strict=True)] if why else []
    return pytest.param(a, name, marks=marks, id=f"{a}-{name}")


@pytest.fixture(scope="session")
def results(tmp_path_factory):
    return graded(tmp_path_factory.mktemp("corpus"))


@pytest.mark.parametrize("a", corpus.ASSIGNMENTS)
def test_at_least_forty_submissions(a):
    subs = corpus.submissions(a)
    kinds = {s.kind for s in subs.values()}
    assert len(subs) >= 40, f"{a}: {len(subs)} submissions"
    assert {"solution", "released", "style", "bug", "combo"} <= kinds, kinds


@pytest.mark.parametrize(
    ("a", "name"), [_param(a, n) for a in corpus.ASSIGNMENTS for n in corpus.submissions(a)]
)
def test_both_graders_give_the_same_points_per_cell(results, a, name):
    record = results[a]["cnncourse"][name]
    ours = cells_of(record)
    cells = corpus.cell_points(a)  # nbgrader also lists manually graded answers
    theirs = {c: s for c, (s, _) in results[a]["nbgrader"][name]["cells"].items() if c in cells}
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
