"""Fairness: every correct style gets full marks, every bug loses exactly what it breaks.

The corpus (``corpus/``, see its README) holds, for every graded function of the five
assignments, at least five correct implementations in different styles and at least three
realistic bugs. All of it is graded once per session by ``cnncourse grade`` (one
``--jobs 2`` run per assignment, the ``corpus_cnncourse`` fixture of ``conftest.py``).
Each submission's points per test cell must be what its declaration says: full marks where
nothing is broken, nothing for a cell a bug breaks, and for a bug that breaks single hidden
tests, the cell's points less theirs. Where the grader is known to misjudge a submission,
the test is a strict expected failure that names the cause (``corpus.KNOWN_GRADER_ISSUES``).
The same checks against ``nbgrader autograde``, and the two graders' agreement cell by cell,
are in ``test_nbgrader_agreement.py``, which reuses these results.
"""

from __future__ import annotations

import ast

import corpus
import pytest
from assignment_course import suite_markers
from corpus.graders import cells_of

pytestmark = pytest.mark.slow

CASES = [(a, name) for a in corpus.ASSIGNMENTS for name in corpus.submissions(a)]


def _param(a: str, name: str):
    why = corpus.KNOWN_GRADER_ISSUES.get((a, name, "cnncourse"))
    marks = [pytest.mark.xfail(reason=why, strict=True)] if why else []
    return pytest.param(a, name, marks=marks, id=f"{a}-{name}")


@pytest.fixture(scope="module")
def results(corpus_cnncourse):
    return corpus_cnncourse


def _functions(source: str) -> list[str]:
    return [n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]


# ---------------------------------------------------------------- the corpus itself


@pytest.mark.parametrize("a", corpus.ASSIGNMENTS)
def test_every_answer_cell_has_five_styles_defining_its_names(a):
    spec = corpus.load(a)
    solution = corpus.solution_answers(a)
    assert set(spec.styles) == set(solution), "the corpus covers exactly the answer cells"
    for cell, styles in spec.styles.items():
        assert len(styles) >= 5, f"{cell}: {len(styles)} styles"
        assert len(set(styles)) == len(styles), f"{cell}: two styles are the same text"
        for k, source in enumerate(styles):
            missing = set(_functions(solution[cell])) - set(_functions(source))
            assert not missing, f"{cell} style {k} does not define {sorted(missing)}"


@pytest.mark.parametrize("a", corpus.ASSIGNMENTS)
def test_at_least_forty_submissions(a):
    subs = corpus.submissions(a)
    kinds = {s.kind for s in subs.values()}
    assert len(subs) >= 40, f"{a}: {len(subs)} submissions"
    assert {"solution", "released", "style", "bug", "combo"} <= kinds, kinds


@pytest.mark.parametrize("a", corpus.ASSIGNMENTS)
def test_every_graded_function_has_three_bugs(a):
    spec = corpus.load(a)
    solution = corpus.solution_answers(a)
    counts = {(cell, f): 0 for cell in solution for f in _functions(solution[cell]) or [cell]}
    for bug in spec.bugs:
        functions = _functions(solution[bug.cell]) or [bug.cell]
        if bug.function:
            assert bug.function in functions, f"{bug.name}: no {bug.function} in {bug.cell}"
        else:
            assert len(functions) == 1, f"{bug.name}: say which function of {bug.cell}"
        counts[bug.cell, bug.function or functions[0]] += 1
    short = {k: n for k, n in counts.items() if n < 3}
    assert not short, f"functions with fewer than three bugs: {short}"


@pytest.mark.parametrize("a", corpus.ASSIGNMENTS)
def test_every_bug_names_real_cells_and_tests(a):
    cells = corpus.cell_points(a)
    tests = {t for t, _, _ in suite_markers(a)}
    for bug in corpus.load(a).bugs:
        assert bug.cells or bug.tests, f"{bug.name} breaks nothing"
        assert bug.cells <= set(cells), f"{bug.name}: {sorted(bug.cells - set(cells))}"
        assert bug.tests <= tests, f"{bug.name}: {sorted(bug.tests - tests)}"


@pytest.mark.parametrize("a", corpus.ASSIGNMENTS)
def test_two_bugs_of_one_group_share_a_base(a):
    """A combination takes a cache-sharing group from one style: its bugs must agree."""
    spec = corpus.load(a)
    bugs = {b.name: b for b in spec.bugs}
    for combo in spec.combos:
        groups: dict[tuple, set] = {}
        for name in combo:
            groups.setdefault(spec.group_of(bugs[name].cell), set()).add(bugs[name].base)
        assert all(len(bases) == 1 for bases in groups.values()), (combo, groups)


# ---------------------------------------------------------------- the grades


@pytest.mark.parametrize(("a", "name"), [_param(a, n) for a, n in CASES])
def test_submission_gets_the_points_its_bugs_leave(results, a, name):
    sub = results[a]["subs"][name]
    record = results[a]["cnncourse"][name]
    assert record["status"] == "graded", record.get("notes")
    got = cells_of(record)
    want = sub.expected("cnncourse")
    wrong = {c: (got.get(c), w) for c, w in want.items() if got.get(c) != pytest.approx(w)}
    detail = [
        (t["name"].split("::")[-1], t["status"], t["message"][:200])
        for t in record["tests"]
        if t["grade_id"] in wrong
    ]
    assert not wrong, f"{sub.why}\ncell: (got, expected) {wrong}\n{detail}"


@pytest.mark.parametrize("a", corpus.ASSIGNMENTS)
def test_released_stubs_score_zero_as_not_implemented(results, a):
    record = results[a]["cnncourse"]["released"]
    statuses = {t["name"].split("::")[-1]: t["status"] for t in record["tests"]}
    assert set(statuses.values()) == {"not_implemented"}, statuses
    assert record["score"] == 0


@pytest.mark.parametrize("a", corpus.ASSIGNMENTS)
def test_no_hidden_test_breaks_on_a_corpus_submission(results, a):
    """Every outcome is the student's (passed, failed, error...), never the grader's own."""
    broken = {
        (t["name"].split("::")[-1], name, t.get("detail", "")[:200])
        for name, record in results[a]["cnncourse"].items()
        for t in record["tests"]
        if t["status"] == "grader_error"
    }
    unknown = {b for b in broken if (a, b[0]) not in corpus.KNOWN_GRADER_ERRORS}
    assert not unknown, sorted(unknown)
