"""The assignment tests import the hidden suites, whose tests carry the grader's marker; the
fairness corpus is graded once per session, by each grader, for every module that reads it."""

from __future__ import annotations

import pytest


def pytest_configure(config):
    # registered by cnncourse.grading.plugin when the grader runs a suite; the suites' test
    # functions are also built here (suite_markers, the specification tests)
    config.addinivalue_line("markers", "points(n, grade_id): points of a hidden test")


@pytest.fixture(scope="session")
def corpus_cnncourse(tmp_path_factory) -> dict[str, dict]:
    """The whole fairness corpus graded by ``cnncourse grade`` (corpus.results)."""
    from corpus.results import graded_cnncourse

    return graded_cnncourse(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def corpus_both(corpus_cnncourse, tmp_path_factory) -> dict[str, dict]:
    """:func:`corpus_cnncourse`'s results, and ``nbgrader autograde`` of the same notebooks."""
    from corpus.results import with_nbgrader

    return with_nbgrader(corpus_cnncourse, tmp_path_factory.mktemp("corpus-nbgrader"))
