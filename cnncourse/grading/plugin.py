"""The pytest plugin behind hidden suites: fixtures ``student`` and ``ref``, marker ``points``.

Each test ends in one outcome: passed, failed (an AssertionError: its message is shown),
one of the student-side statuses of :class:`~cnncourse.grading.proxy.StudentError`, or
grader_error when the test itself broke (the student sees a neutral message).
"""

from __future__ import annotations

import re

import pytest

from cnncourse.grading.proxy import Student, StudentError

PLAIN_ARGS = ["-p", "no:cacheprovider", "-p", "no:terminal", "--assert=plain"]
# plugins whose per-session cost (a forced gc.collect, signal set-up) dominates a small suite
PLAIN_ARGS += ["-p", "no:unraisableexception", "-p", "no:threadexception", "-p", "no:faulthandler"]
# log capture sets up handlers around every test of every submission (10 % of a conv run)
PLAIN_ARGS += ["-p", "no:logging"]


def _points(item) -> tuple[float, str] | None:
    marker = item.get_closest_marker("points")
    if marker is None:
        return None
    points = marker.args[0] if marker.args else marker.kwargs.get("points")
    grade_id = marker.kwargs.get("grade_id")
    if not isinstance(points, int | float) or not isinstance(grade_id, str):
        return None
    return float(points), grade_id


def short_name(item) -> str:
    return item.nodeid.rsplit("/", 1)[-1]


class Collector:
    """Records the suite's tests and their points without running them."""

    def __init__(self):
        self.tests: list[tuple[str, str, float]] = []
        self.problems: list[str] = []

    @pytest.hookimpl
    def pytest_configure(self, config):
        config.addinivalue_line(
            "markers", "points(n, grade_id): points of this test and the notebook cell"
        )

    @pytest.hookimpl
    def pytest_collection_modifyitems(self, items):
        for item in items:
            marked = _points(item)
            if marked is None:
                self.problems.append(
                    f"{short_name(item)} needs @pytest.mark.points(n, grade_id='...')"
                )
            else:
                self.tests.append((short_name(item), marked[1], marked[0]))

    @pytest.hookimpl
    def pytest_collectreport(self, report):
        if report.failed:
            self.problems.append(f"{report.nodeid}: {report.longreprtext[-2000:]}")


class GradingPlugin(Collector):
    """Runs the suite against one submission's child and records per-test outcomes."""

    def __init__(self, session):
        super().__init__()
        self.session = session
        self.outcomes: dict[str, dict] = {}

    @pytest.fixture
    def student(self):
        return Student(self.session)

    @pytest.fixture
    def ref(self):
        import cnncourse

        return cnncourse

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        name = short_name(item)
        if call.when == "call" or (call.when == "setup" and report.failed):
            self.outcomes[name] = classify(call.excinfo)


def classify(excinfo) -> dict:
    if excinfo is None:
        return {"status": "passed", "message": ""}
    error = excinfo.value
    if isinstance(error, StudentError):
        return {"status": error.status, "message": error.message}
    if isinstance(error, AssertionError):
        return {"status": "failed", "message": str(error) or "the result is not correct"}
    if isinstance(error, pytest.fail.Exception):  # pytest.fail(), pytest.raises' DID NOT RAISE
        return {"status": "failed", "message": _failed_message(str(error))}
    if isinstance(error, pytest.skip.Exception):
        return {"status": "grader_error", "message": "the test was skipped"}
    return {
        "status": "grader_error",
        "message": "the test could not check your answer; your instructor has the details",
        "detail": f"{type(error).__name__}: {error}"[:2000],
    }


_DID_NOT_RAISE = re.compile(r"DID NOT RAISE\b(?P<expected>.*)", re.S)
_EXCEPTION_NAME = re.compile(r"\b[A-Z]\w*(?:Error|Exception|Warning|Exit|Interrupt)\b")


def _failed_message(text: str) -> str:
    """pytest.fail's message; for ``pytest.raises`` without a raise, what was expected.

    A hidden test expecting the student's function to raise catches ``StudentError`` (any
    exception of the student's): that one reads as "an exception".
    """
    match = _DID_NOT_RAISE.match(text.strip())
    if match is None:
        return text or "the result is not correct"
    names = [n for n in _EXCEPTION_NAME.findall(match["expected"]) if n != "StudentError"]
    expected = " or ".join(dict.fromkeys(names)) or "an exception"
    return f"expected the call to raise {expected}, but it returned without raising"
