"""The shared runner behind every assignment's specification (``cnncourse/checks/<a>.py``).

A specification lists, for each autograded test cell of a notebook (its grade id), a
:class:`Check`: the student's names the cell tests, a function that runs one :class:`Case`,
the cases in scored :class:`Group` s (each with its points), and a hint per output. The same
objects drive every consumer:

- the visible check, ``checks.conv.conv_forward(conv_forward_naive)`` in the notebook, runs
  the visible cases against the student's own functions and raises ``AssertionError`` with a
  hint on the first wrong one;
- under ``nbgrader autograde`` the cell's hidden section first calls :func:`grading_mode`;
  the same call then scores every group (visible and hidden cases), never raises, prints one
  line per group on stdout (never stderr, which nbgrader scores 0) and returns the points
  earned, the cell's last expression, which nbgrader takes as the cell's partial credit;
- ``autograde/<a>/test_<a>.py`` builds one pytest test per group with
  :meth:`Assignment.pytest_tests`, worth the group's points; ``cnncourse grade`` runs it
  against the sandboxed submission (``student``) while the reference runs in the grader.

A group earns its points when all its cases pass, in both graders, so per cell both give the
same points by construction. See ``docs/grading.md``.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from cnncourse.gradcheck import rel_error
from cnncourse.grading.compare import assert_close, assert_scalar_close

# the largest relative error (cnncourse.gradcheck.rel_error) a correct result may have, by
# the dtype of the case's inputs: float64 results of another order of operations agree to
# ~1e-14; float32 ones to ~1e-6 of the array's scale
TOLERANCE: Mapping[str, float] = {"float64": 1e-6, "float32": 1e-4}

# case parameters that are not inputs, left out of a case's label
STEERING = frozenset(
    {"name", "names", "compare", "raises", "check", "layer", "running", "state", "weights"}
)

_STATE = {"grading": False}


def grading_mode(on: bool = True) -> None:
    """Score every case (visible and hidden) from now on, never raise: the hidden tests' mode.

    The hidden section of each test cell calls this; ``nbgrader autograde`` then takes the
    value each check returns (the points earned) as the cell's partial credit.
    """
    _STATE["grading"] = bool(on)


def grading() -> bool:
    return _STATE["grading"]


# ------------------------------------------------------------------ cases and groups


@dataclass(frozen=True)
class Case:
    """One set of inputs: a seed, named parameters (shapes, stride, ...) and a dtype."""

    seed: int
    params: tuple[tuple[str, object], ...] = ()
    dtype: str = "float64"
    visible: bool = False

    def __getitem__(self, key: str):
        for name, value in self.params:
            if name == key:
                return value
        raise KeyError(f"case {self.label} has no parameter {key!r}")

    def get(self, key: str, default=None):
        return dict(self.params).get(key, default)

    @property
    def label(self) -> str:
        """The parameters and the dtype, e.g. ``x (2, 3, 5, 5), stride 1, float64``.

        Parameters that only steer the check (:data:`STEERING`: the answers a case reads,
        what it compares) are left out; with nothing else to show the label is empty.
        """
        parts = [f"{name} {value}" for name, value in self.params if name not in STEERING]
        return ", ".join([*parts, self.dtype]) if parts else ""

    @property
    def title(self) -> str:
        """The label, or for a case that reads answers, their names."""
        return self.label or ", ".join(self.get("names") or [self.get("name", "")])

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)


def case(seed: int, *, dtype: str = "float64", visible: bool = False, **params) -> Case:
    """A :class:`Case`; its parameters keep their order in the case's label."""
    if dtype not in TOLERANCE:
        raise ValueError(f"dtype: expected one of {sorted(TOLERANCE)}, got {dtype!r}")
    return Case(seed, tuple(params.items()), dtype, visible)


@dataclass(frozen=True)
class Group:
    """Cases scored together: the group earns ``points`` when every case passes."""

    name: str  # the generated pytest test is test_<name>
    points: float
    cases: tuple[Case, ...]


def group(name: str, points: float, *cases: Case) -> Group:
    if not name.isidentifier():
        raise ValueError(f"name: expected a Python identifier, got {name!r}")
    if not points > 0:
        raise ValueError(f"points: expected a positive number, got {points!r}")
    if not cases:
        raise ValueError(f"group {name!r} has no cases")
    return Group(name, float(points), tuple(cases))


# ------------------------------------------------------------------ calling the student


class Local:
    """The student's objects in the notebook, passed to the check call."""

    def __init__(self, objects: Mapping[str, object]):
        self.objects = dict(objects)

    def call(self, name: str, *args, **kwargs):
        """``(result, args_after)``; the student works on copies of the case's inputs, as in
        the grader, where the arguments cross to the sandbox."""
        args, kwargs = _copied(args), _copied(kwargs)
        function = self.objects[name]
        if not callable(function):
            raise TypeError(f"{name} must be a function, got {type(function).__name__}")
        try:
            result = function(*args, **kwargs)
        except NotImplementedError:
            raise NotImplementedError(
                f"{name} is not implemented yet: replace `raise NotImplementedError()` with "
                "your code"
            ) from None
        return result, args

    def result(self, name: str, *args, **kwargs):
        return self.call(name, *args, **kwargs)[0]

    def value(self, name: str):
        value = self.objects[name]
        if value is None:
            raise NotImplementedError(f"{name} is still None: fill in its answer cell")
        return value


def _copied(value):
    """Arrays and the containers that hold them copied; any other object (a student's cache
    object, a function) passed as it is, as the grader passes a handle."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value) is dict:
        return {k: _copied(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_copied(v) for v in value)
    return value


class Remote:
    """The student's functions in the grader's sandbox (the ``student`` fixture)."""

    def __init__(self, student):
        self.student = student

    def call(self, name: str, *args, **kwargs):
        return self.student.call(name, *args, **kwargs)

    def result(self, name: str, *args, **kwargs):  # the arguments do not travel back
        return getattr(self.student, name)(*args, **kwargs)

    def value(self, name: str):
        from cnncourse.grading.proxy import StudentError

        value = self.student.value(name)
        if value is None:
            raise StudentError("not_implemented", f"{name} is still None: fill in its answer cell")
        return value


class Trial:
    """One case being run: calls the student, compares, and words failures."""

    def __init__(self, check: Check, case: Case, caller: Local | Remote):
        self.check, self.case, self.caller = check, case, caller
        self.function = check.functions[0]
        self.errors: list[float] = []

    def __getitem__(self, key: str):
        return self.case[key]

    def get(self, key: str, default=None):
        return self.case.get(key, default)

    @property
    def dtype(self) -> np.dtype:
        return self.case.np_dtype

    @property
    def rtol(self) -> float:
        return self.check.tolerance[self.case.dtype]

    def rng(self, offset: int = 0) -> np.random.Generator:
        return np.random.default_rng(self.case.seed + offset)

    def call(self, name: str, *args, **kwargs):
        """The student's ``name(*args, **kwargs)``."""
        self.function = name
        return self.caller.result(name, *args, **kwargs)

    def call_after(self, name: str, *args, **kwargs):
        """``(result, args_after)``: the positional arguments as the student's function left
        them."""
        self.function = name
        return self.caller.call(name, *args, **kwargs)

    def value(self, name: str):
        self.function = name
        return self.caller.value(name)

    def fail(self, message: str, hint: str | None = None) -> None:
        hint = self.check.hints.get(hint or "", None) or self.check.hints.get("default", "")
        label = self.case.label
        text = (
            f"{self.function}, case {label}: {message}" if label else f"{self.function}: {message}"
        )
        raise AssertionError(f"{text}. Hint: {hint}" if hint else text)

    def require(self, condition: bool, message: str, hint: str | None = None) -> None:
        if not condition:
            self.fail(message, hint)

    def parts(self, result, count: int, what: str):
        """``result`` as a tuple of ``count`` items (a tuple or list the student returned)."""
        if not isinstance(result, tuple | list) or len(result) != count:
            self.fail(f"expected {what}, a tuple of {count}, got {_describe(result)}", "returns")
        return tuple(result)

    def close(self, got, want, what: str, rtol: float | None = None, hint: str | None = None):
        """``got`` must be an array matching ``want`` (see :func:`assert_close`); the hint is
        ``hints[hint or what]``."""
        self._compare(assert_close, got, want, what, rtol, hint)

    def scalar_close(
        self, got, want, what: str, rtol: float | None = None, hint: str | None = None
    ):
        self._compare(assert_scalar_close, got, want, what, rtol, hint)

    def equal(self, got, want, what: str, reveal: bool = True) -> None:
        """Exact equality, for whole numbers and shapes; ``reveal=False`` for an answer the
        student must work out, whose expected value the message must not give away."""
        ok = type(got) is not bool and _same(got, want)
        self.require(
            ok,
            f"{what} is {got!r}" + (f", expected {want!r}" if reveal else ", which is not right"),
            what,
        )

    def _compare(self, compare, got, want, what, rtol, hint) -> None:
        rtol = self.rtol if rtol is None else rtol
        try:
            compare(got, want, rtol=rtol, name=what)
        except AssertionError as exc:
            self.fail(str(exc), hint or what)
        with contextlib.suppress(TypeError, ValueError):
            self.errors.append(rel_error(np.asarray(got), np.asarray(want)))


def _same(got, want) -> bool:
    if isinstance(want, tuple):
        return (
            isinstance(got, tuple | list | np.ndarray)
            and len(got) == len(want)
            and all(_same(g, w) for g, w in zip(got, want, strict=True))
        )
    return isinstance(got, int | np.integer | float | np.floating) and got == want


def _describe(value) -> str:
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return "None (did you forget `return`?)" if value is None else f"a {type(value).__name__}"


# ------------------------------------------------------------------ one test cell


@dataclass(frozen=True, eq=False)
class Check:
    """The specification of one autograded test cell."""

    grade_id: str
    functions: tuple[str, ...]  # the student's names the check takes, in order
    run: Callable[[Trial], None]  # runs one case; raises AssertionError through Trial.fail
    groups: tuple[Group, ...]
    hints: Mapping[str, str] = field(default_factory=dict)
    tolerance: Mapping[str, float] = field(default_factory=lambda: dict(TOLERANCE))
    assignment: str = ""

    @property
    def points(self) -> float:
        return sum(g.points for g in self.groups)

    @property
    def visible_cases(self) -> list[Case]:
        return [c for g in self.groups for c in g.cases if c.visible]

    def __call__(self, *objects):
        """The notebook's check: visible cases (raises), or the score in grading mode."""
        if len(objects) != len(self.functions):
            raise TypeError(
                f"checks.{self.assignment}.{self.grade_id} takes {len(self.functions)} "
                f"arguments ({', '.join(self.functions)}), got {len(objects)}"
            )
        caller = Local(dict(zip(self.functions, objects, strict=True)))
        if grading():
            return self.score(caller)
        self.visible(caller)
        return None

    def run_case(self, case: Case, caller) -> Trial:
        trial = Trial(self, case, caller)
        self.run(trial)
        return trial

    def visible(self, caller) -> None:
        for c in self.visible_cases:
            try:
                trial = self.run_case(c, caller)
            except AssertionError:
                print(f"  {c.title}: FAIL")
                raise
            worst = max(trial.errors, default=0.0)
            error = f" (rel_error {worst:.1e})" if trial.errors else ""
            print(f"  {c.title}: ok{error}")
        print(f"{self.grade_id}: all {len(self.visible_cases)} visible checks passed.")

    def run_group(self, g: Group, caller) -> None:
        """Every case of the group; the first failure raises (the grader's test)."""
        for c in g.cases:
            self.run_case(c, caller)

    def score(self, caller) -> float:
        """Points earned over every group; prints one line per group on stdout only."""
        earned = 0.0
        with _quiet():
            for g in self.groups:
                try:
                    self.run_group(g, caller)
                except Exception as exc:  # the student's error or a failed comparison
                    message = str(exc) or type(exc).__name__
                    if not isinstance(exc, AssertionError | NotImplementedError):
                        message = f"{self.grade_id}: {type(exc).__name__}: {message}"
                    print(f"  0 / {g.points:g}  {g.name}: {message}")
                else:
                    earned += g.points
                    print(f"  {g.points:g} / {g.points:g}  {g.name}: passed")
        return min(round(earned, 6), self.points)

    def notebook_source(self) -> str:
        """The test cell's text in the instructor's notebook."""
        call = f"checks.{self.assignment}.{self.grade_id}({', '.join(self.functions)})"
        return f"### BEGIN HIDDEN TESTS\nchecks.grading_mode()\n### END HIDDEN TESTS\n{call}"


@contextlib.contextmanager
def _quiet():
    """Nothing reaches stderr: warnings are recorded, writes to stderr go to stdout."""
    errors = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(errors):
        warnings.simplefilter("always")
        yield
    text = errors.getvalue()
    if text:
        print(text.rstrip("\n")[-2000:])
    if caught:
        print(
            f"  ({len(caught)} warnings, the first: {caught[0].category.__name__}: "
            f"{caught[0].message})"
        )


# ------------------------------------------------------------------ one assignment


@dataclass(frozen=True, eq=False)
class Assignment:
    name: str
    checks: tuple[Check, ...]

    def __post_init__(self):
        names = [g.name for c in self.checks for g in c.groups]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"{self.name}: group names used twice: {duplicates}")
        for c in self.checks:
            if not c.visible_cases:
                raise ValueError(f"{self.name}.{c.grade_id}: no visible case")

    def check(self, grade_id: str) -> Check:
        for c in self.checks:
            if c.grade_id == grade_id:
                return c
        raise KeyError(f"{self.name} has no test cell {grade_id!r}")

    @property
    def points(self) -> dict[str, float]:
        return {c.grade_id: c.points for c in self.checks}

    def tests(self) -> list[tuple[str, str, float]]:
        """``(pytest test name, grade id, points)`` of every generated test."""
        return [(f"test_{g.name}", c.grade_id, g.points) for c in self.checks for g in c.groups]

    def pytest_tests(self) -> dict[str, Callable]:
        """One pytest test per group, marked with its points and grade id (for the suites)."""
        import pytest

        tests = {}
        for c in self.checks:
            for g in c.groups:
                test = pytest.mark.points(g.points, grade_id=c.grade_id)(_pytest_test(c, g))
                tests[test.__name__] = test
        return tests


def _pytest_test(check: Check, g: Group) -> Callable:
    def test(student, ref):
        check.run_group(g, Remote(student))

    test.__name__ = test.__qualname__ = f"test_{g.name}"
    test.__doc__ = f"{check.grade_id}: {len(g.cases)} cases, {g.points:g} points."
    return test


def assignment(name: str, *checks: Check) -> Assignment:
    """An assignment's specification; each check learns its assignment's name."""
    bound = tuple(
        Check(c.grade_id, c.functions, c.run, c.groups, c.hints, c.tolerance, name) for c in checks
    )
    return Assignment(name, bound)


def checks_of(module_globals: dict, spec: Assignment) -> None:
    """Bind each check under its grade id in the spec module, for ``checks.<a>.<grade_id>``."""
    for c in spec.checks:
        module_globals[c.grade_id] = c


__all__ = [
    "TOLERANCE",
    "Assignment",
    "Case",
    "Check",
    "Group",
    "Local",
    "Remote",
    "Trial",
    "assignment",
    "case",
    "checks_of",
    "grading",
    "grading_mode",
    "group",
]
