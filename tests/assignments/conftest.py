"""The assignment tests import the hidden suites, whose tests carry the grader's marker."""

from __future__ import annotations


def pytest_configure(config):
    # registered by cnncourse.grading.plugin when the grader runs a suite; the suites' test
    # functions are also built here (suite_markers, the specification tests)
    config.addinivalue_line("markers", "points(n, grade_id): points of a hidden test")
