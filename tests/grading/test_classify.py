"""How a hidden test's ending becomes an outcome (``plugin.classify``), on real exceptions."""

from __future__ import annotations

import pytest

from cnncourse.grading.plugin import classify
from cnncourse.grading.proxy import StudentError


def _ending_of(test) -> pytest.ExceptionInfo:
    with pytest.raises(BaseException) as info:
        test()
    return info


def _expects(*expected):
    def test():
        with pytest.raises(expected if len(expected) > 1 else expected[0]):
            pass  # the student's call returned normally

    return test


def test_a_missing_student_exception_is_a_failure_not_a_grader_error():
    outcome = classify(_ending_of(_expects(StudentError)))
    assert outcome == {
        "status": "failed",
        "message": "expected the call to raise an exception, but it returned without raising",
    }


def test_a_missing_named_exception_names_it():
    outcome = classify(_ending_of(_expects(ValueError)))
    assert outcome["status"] == "failed"
    assert (
        outcome["message"]
        == "expected the call to raise ValueError, but it returned without raising"
    )


def test_several_expected_exceptions_are_all_named():
    outcome = classify(_ending_of(_expects(ValueError, TypeError)))
    assert "raise ValueError or TypeError," in outcome["message"], outcome


def test_pytest_fail_in_a_hidden_test_is_a_failure_with_its_message():
    outcome = classify(_ending_of(lambda: pytest.fail("the kernel was flipped")))
    assert outcome == {"status": "failed", "message": "the kernel was flipped"}


def test_a_broken_hidden_test_is_still_a_grader_error():
    outcome = classify(_ending_of(lambda: {}["missing"]))
    assert outcome["status"] == "grader_error" and "KeyError" in outcome["detail"], outcome
