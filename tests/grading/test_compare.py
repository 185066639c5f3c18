"""assert_close: clear messages for everything a student can return."""

from __future__ import annotations

import numpy as np
import pytest

from cnncourse.grading.compare import assert_close, assert_scalar_close
from cnncourse.grading.protocol import Handle


def test_equal_arrays_within_tolerance_pass():
    assert_close(np.array([1.0, 2.0]) * (1 + 1e-9), np.array([1.0, 2.0]))


def test_mismatch_reports_shape_rel_error_index_and_both_values():
    expected = np.zeros((2, 3))
    actual = expected.copy()
    actual[1, 2] = 0.5
    with pytest.raises(AssertionError) as info:
        assert_close(actual, expected, name="dx")
    message = str(info.value)
    assert "dx" in message and "(2, 3)" in message and "rel_error" in message
    assert "(1, 2)" in message and "0.5" in message


def test_wrong_shape_is_named():
    with pytest.raises(AssertionError, match=r"expected shape \(3,\), got shape \(1, 3\)"):
        assert_close(np.zeros((1, 3)), np.zeros(3))


def test_handle_is_rejected_with_its_type():
    with pytest.raises(AssertionError, match="got a Fake object"):
        assert_close(Handle(1, "Fake"), np.zeros(3))


def test_lists_are_not_arrays():
    with pytest.raises(AssertionError, match="expected a numpy array, got a list"):
        assert_close([0.0, 0.0], np.zeros(2))


def test_nan_is_reported():
    with pytest.raises(AssertionError, match="1 of 2 values are NaN"):
        assert_close(np.array([np.nan, 0.0]), np.zeros(2))


def test_integer_result_for_float_expectation_is_rejected():
    with pytest.raises(AssertionError, match="floating-point"):
        assert_close(np.zeros(2, dtype=int), np.zeros(2))


def test_scalar_answers_are_compared_with_tolerance():
    assert_scalar_close(32, 32.0)
    with pytest.raises(AssertionError, match="expected a number, got a str"):
        assert_scalar_close("32", 32)
