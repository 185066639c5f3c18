"""The specifications' checks, as the notebooks run them: visible checks and grading mode.

The student's functions are the real ones: the answer cells of the solution notebooks (and of
the released stubs), run in a namespace of their own after the notebook's setup cell.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
from assignment_course import ROOT, nbgrader_meta, read, solution_path
from wrong_submissions import WRONG

from cnncourse import checks
from cnncourse.checks.runner import Local, grading_mode
from cnncourse.grading.cells import cell_kind

CONVERTED = checks.ASSIGNMENTS


def answers(path, replaced: dict[str, str] | None = None) -> dict:
    """The names the notebook's setup and answer cells define (answer cells may be replaced)."""
    namespace: dict = {}
    for cell in read(path).cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code" or not (meta.get("grade_id") == "setup" or is_answer(cell)):
            continue
        source = (replaced or {}).get(meta["grade_id"], cell.source)
        with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, meta["grade_id"], "exec"), namespace)  # a stub may fail
    return namespace


def is_answer(cell) -> bool:
    return cell_kind(cell) == "answer"


def run_check(check, namespace):
    return check(*(namespace[name] for name in check.functions))


@pytest.fixture
def grading():
    grading_mode()
    yield
    grading_mode(False)


@pytest.mark.parametrize("a", CONVERTED)
def test_the_solution_passes_every_visible_check(a, capsys):
    namespace = answers(solution_path(a))
    for check in checks.spec(a).checks:
        assert run_check(check, namespace) is None
    out = capsys.readouterr().out
    assert "FAIL" not in out and "rel_error" in out


@pytest.mark.parametrize("a", CONVERTED)
def test_the_solution_scores_every_point_in_grading_mode(a, grading, capsys):
    namespace = answers(solution_path(a))
    for check in checks.spec(a).checks:
        assert run_check(check, namespace) == check.points, capsys.readouterr().out


@pytest.mark.parametrize("a", CONVERTED)
def test_the_released_stubs_score_zero_and_say_not_implemented(a, grading, capsys):
    namespace = answers(ROOT / "exercises" / a / f"{a}.ipynb")
    for check in checks.spec(a).checks:
        assert run_check(check, namespace) == 0.0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(checks.spec(a).tests())  # one line per group
    assert all("not implemented yet" in line or "still None" in line for line in lines), lines


@pytest.mark.parametrize("a", CONVERTED)
def test_a_released_stub_fails_its_visible_check_as_not_implemented(a):
    namespace = answers(ROOT / "exercises" / a / f"{a}.ipynb")
    for check in checks.spec(a).checks:
        with pytest.raises(NotImplementedError, match=r"not implemented yet|still None"):
            run_check(check, namespace)


# ---------------------------------------------------------------- partial credit, messages

NO_PADDING = """
def conv_forward_naive(x, w, b, conv_param):
    stride = conv_param["stride"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out, W_out = (H - HH) // stride + 1, (W - WW) // stride + 1
    out = np.zeros((N, F, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", window, w) + b
    return out, (x, w, b, conv_param)
"""


def test_a_bug_loses_exactly_the_groups_it_breaks(grading, capsys):
    namespace = answers(solution_path("conv"), {"ans_conv_forward": NO_PADDING})
    assert checks.conv.conv_forward(namespace["conv_forward_naive"]) == 3.0  # no_padding only
    out = capsys.readouterr().out
    assert "3 / 3  conv_forward_no_padding: passed" in out
    assert "0 / 2  conv_forward_padding: conv_forward_naive, case x (2, 3, 5, 5)" in out


def test_a_failure_names_function_case_worst_element_both_values_and_hint():
    namespace = answers(solution_path("conv"), {"ans_conv_forward": NO_PADDING})
    with pytest.raises(AssertionError) as info:
        checks.conv.conv_forward(namespace["conv_forward_naive"])
    message = str(info.value)
    assert message.startswith(
        "conv_forward_naive, case x (2, 3, 5, 5), w (4, 3, 3, 3), stride 1, pad 1, float64: "
        "out: expected shape (2, 4, 5, 5), got shape (2, 4, 3, 3)"
    ), message
    assert "Hint: zero-pad x first" in message

    def off_by_one_bias(x, w, b, conv_param):
        out, cache = namespace_solution["conv_forward_naive"](x, w, b, conv_param)
        out[0, 1, 2, 3] += 1.0
        return out, cache

    namespace_solution = answers(solution_path("conv"))
    with pytest.raises(AssertionError) as info:
        checks.conv.conv_forward(off_by_one_bias)
    message = str(info.value)
    assert "conv_forward_naive, case x (2, 3, 5, 5)" in message
    assert "worst at index (0, 1, 2, 3): got " in message and ", expected " in message
    assert "Hint: zero-pad x first" in message


def test_an_answer_is_never_revealed_by_its_check():
    with pytest.raises(AssertionError) as info:
        checks.conv.alexnet_numbers(55, 35_000)
    assert "conv1_weights is 35000, which is not right" in str(info.value)
    assert "34848" not in str(info.value)


def test_grading_mode_writes_nothing_to_stderr_even_when_the_student_warns(grading, capfd):
    solution = answers(solution_path("conv"))["conv_forward_naive"]

    def noisy(x, w, b, conv_param):
        warnings.warn("a warning of the student's", RuntimeWarning, stacklevel=1)
        np.log(np.zeros(1))  # numpy's divide-by-zero RuntimeWarning
        import sys

        print("to stderr", file=sys.stderr)
        return solution(x, w, b, conv_param)

    assert checks.conv.conv_forward(noisy) == 6.0
    out, err = capfd.readouterr()
    assert err == ""
    assert "to stderr" in out and "warnings, the first: RuntimeWarning" in out


def test_the_student_works_on_copies_of_the_inputs():
    solution = answers(solution_path("conv"))["conv_forward_naive"]

    def scribbles(x, w, b, conv_param):
        out, cache = solution(x, w, b, conv_param)
        x[...] = 0.0  # a student that reuses its input as scratch space
        conv_param["pad"] = 99
        return out, cache

    checks.conv.conv_forward(scribbles)


def test_a_check_takes_the_students_names_in_order():
    with pytest.raises(TypeError, match=r"checks.conv.conv_backward takes 2 arguments"):
        checks.conv.conv_backward(np.zeros)


@pytest.mark.parametrize(
    "wrong", [w for w in WRONG if w.assignment in CONVERTED], ids=lambda w: w.name
)
def test_a_planted_bug_loses_exactly_its_tests_in_grading_mode(wrong, grading, capsys):
    namespace = answers(solution_path(wrong.assignment), wrong.answers)
    spec = checks.spec(wrong.assignment)
    points = {name: p for name, _, p in spec.tests()}
    for check in spec.checks:
        lost = {f"test_{g.name}" for g in check.groups} & wrong.failing_tests
        want = check.points - sum(points[name] for name in lost)
        assert run_check(check, namespace) == want, (check.grade_id, capsys.readouterr().out)


# ---------------------------------------------------------------- one change, every consumer


class LocalStudent:
    """The grader's ``student`` fixture, with the functions in this process (no sandbox)."""

    def __init__(self, objects):
        self._local = Local(objects)

    def call(self, name, *args, **kwargs):
        return self._local.call(name, *args, **kwargs)

    def value(self, name):
        return self._local.objects[name]

    def __getattr__(self, name):
        return lambda *args, **kwargs: self._local.result(name, *args, **kwargs)


def test_every_consumer_sees_a_change_of_the_specification(monkeypatch, capsys):
    """One more case (stride 3) in a group whose points go from 2 to 4: the visible check, the
    regenerated notebook's test cell (its hidden section too) and the suite all see it."""
    import dataclasses

    from cnncourse.checks import conv
    from cnncourse.checks.runner import assignment, case
    from cnncourse.grading.release import build_notebook

    solution = answers(solution_path("conv"))["conv_forward_naive"]

    def wrong_at_stride_3(x, w, b, conv_param):
        out, cache = solution(x, w, b, conv_param)
        return (out + 1.0 if conv_param["stride"] == 3 else out), cache

    def cell_points_and_score():
        nb = build_notebook(ROOT / "solutions" / "conv" / "conv.py")
        (cell,) = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "conv_forward"]
        namespace = {"checks": checks, "conv_forward_naive": wrong_at_stride_3}
        *body, last = cell.source.split("\n")  # nbgrader's score is the last expression's value
        try:
            exec(compile("\n".join(body), "cell", "exec"), namespace)  # the hidden section
            score = eval(compile(last, "cell", "eval"), namespace)
        finally:
            grading_mode(False)
        return nbgrader_meta(cell)["points"], score

    def suite():
        from assignment_course import suite_markers

        points = {name: p for name, _, p in suite_markers("conv")}
        test = checks.spec("conv").pytest_tests()["test_conv_forward_padding"]
        try:
            test(student=LocalStudent({"conv_forward_naive": wrong_at_stride_3}), ref=None)
        except AssertionError as exc:
            return points["test_conv_forward_padding"], str(exc)
        return points["test_conv_forward_padding"], "passed"

    # before the change: the bug is not caught anywhere
    checks.conv.conv_forward(wrong_at_stride_3)
    assert cell_points_and_score() == (6, 6.0)
    assert suite() == (2.0, "passed")

    old = conv.CONV_FORWARD
    padding = old.groups[1]
    stride_3 = case(99, x=(1, 1, 7, 7), w=(1, 1, 1, 1), stride=3, pad=0, visible=True)
    changed = dataclasses.replace(padding, points=4.0, cases=(*padding.cases, stride_3))
    groups = (old.groups[0], changed, old.groups[2])
    spec = assignment(
        "conv",
        *(
            dataclasses.replace(c, groups=groups) if c.grade_id == "conv_forward" else c
            for c in conv.SPEC.checks
        ),
    )
    monkeypatch.setattr(conv, "SPEC", spec)
    monkeypatch.setattr(conv, "conv_forward", spec.check("conv_forward"))

    with pytest.raises(AssertionError, match=r"case x \(1, 1, 7, 7\), w \(1, 1, 1, 1\), stride 3"):
        checks.conv.conv_forward(wrong_at_stride_3)
    assert cell_points_and_score() == (8, 4.0)
    points, message = suite()
    assert points == 4.0 and "stride 3, pad 0, float64: out: values differ" in message


@pytest.mark.parametrize("wrong", WRONG, ids=lambda w: w.name)
def test_the_suite_and_grading_mode_give_the_same_points_cell_by_cell(wrong, grading):
    """The suite's tests (with the functions in this process instead of the sandbox) and the
    notebook's grading mode, on each planted bug: per cell, the same points."""
    namespace = answers(solution_path(wrong.assignment), wrong.answers)
    spec = checks.spec(wrong.assignment)
    student = LocalStudent(namespace)
    suite: dict[str, float] = {}
    for (name, grade_id, points), test in zip(
        spec.tests(), spec.pytest_tests().values(), strict=True
    ):
        assert test.__name__ == name
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the planted overflow's RuntimeWarning
                test(student=student, ref=None)
        except Exception:  # a failed comparison, or the student's function raised
            points = 0.0
        suite[grade_id] = suite.get(grade_id, 0.0) + points
    with contextlib.redirect_stdout(io.StringIO()):
        notebook = {c.grade_id: run_check(c, namespace) for c in spec.checks}
    assert suite == notebook


@pytest.mark.parametrize("wrong", WRONG, ids=lambda w: w.name)
def test_each_planted_bug_is_reported_with_its_function_case_values_and_hint(wrong):
    """Every failing test's message names the function whose result is wrong (one its cell
    tests), the case, and a hint; a wrong value comes with the worst element and both values.
    (A planted bug that makes the student's own code raise is reported by the grader as an
    error, with the student's traceback.)"""
    namespace = answers(solution_path(wrong.assignment), wrong.answers)
    spec = checks.spec(wrong.assignment)
    tests = spec.pytest_tests()
    for name, grade_id, _ in spec.tests():
        if name not in wrong.failing_tests:
            continue
        with pytest.raises(Exception) as info, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tests[name](student=LocalStudent(namespace), ref=None)
        if not isinstance(info.value, AssertionError):
            continue  # the student's function raised
        message = str(info.value)
        function = message.split(",")[0].split(":")[0]
        assert function in spec.check(grade_id).functions, (name, message)
        assert ", case " in message and "Hint: " in message, (name, message)
        if "values differ" in message:
            assert "worst at index" in message and "got " in message and "expected " in message
