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


# ------------------------------------------------------------- non-finite values
# A relative error is NaN where either side is infinite, and NaN > rtol is false: each test
# below is a case where that used to let a wrong value pass.


def _message(actual, expected, **kw) -> str:
    with pytest.raises(AssertionError) as info:
        assert_close(actual, expected, **kw)
    return str(info.value)


def test_inf_where_finite_expected_fails_naming_index_and_values():
    expected = np.arange(6.0).reshape(2, 3)
    actual = expected.copy()
    actual[1, 0] = np.inf
    message = _message(actual, expected, name="dx")
    assert message.startswith("dx: 1 of 6 values are infinite where finite values are expected")
    assert "index (1, 0)" in message
    assert "got inf, expected 3.0" in message


def test_all_inf_fails_for_any_finite_expectation():
    expected = np.random.default_rng(0).normal(size=(3, 4))
    message = _message(np.full((3, 4), np.inf), expected)
    assert "12 of 12 values are infinite" in message and "index (0, 0)" in message


def test_negative_inf_where_finite_expected_fails():
    message = _message(np.array([0.0, -np.inf]), np.array([0.0, 2.5]))
    assert "1 of 2 values are infinite" in message
    assert "index (1,)" in message and "got -inf, expected 2.5" in message


def test_nan_where_finite_expected_names_index_and_values():
    message = _message(np.array([1.0, np.nan]), np.array([1.0, 7.0]))
    assert "1 of 2 values are NaN" in message
    assert "index (1,)" in message and "got nan, expected 7.0" in message


def test_nan_and_inf_together_are_both_counted():
    message = _message(np.array([np.nan, np.inf, 1.0]), np.ones(3))
    assert "2 of 3 values are NaN or infinite" in message and "index (0,)" in message


def test_nan_is_not_excused_by_a_nan_elsewhere_in_the_expectation():
    message = _message(np.array([np.nan, np.nan]), np.array([np.nan, 4.0]))
    assert "1 of 2 values are NaN" in message and "index (1,)" in message


def test_finite_where_inf_expected_fails():
    message = _message(np.array([1.0, 1e300]), np.array([1.0, np.inf]), name="out")
    assert message.startswith("out: 1 of 2 values differ from non-finite expected values")
    assert "index (1,)" in message and "got 1e+300, expected inf" in message


def test_opposite_inf_where_inf_expected_fails():
    message = _message(np.array([-np.inf]), np.array([np.inf]))
    assert "got -inf, expected inf" in message


def test_finite_where_nan_expected_fails():
    message = _message(np.array([0.0, 0.0]), np.array([0.0, np.nan]))
    assert "index (1,)" in message and "expected nan" in message


def test_matching_non_finite_values_pass():
    expected = np.array([np.inf, -np.inf, np.nan, 2.0])
    assert_close(expected.copy(), expected)
    assert_close(np.array([np.inf, -np.inf, np.nan, 2.0 * (1 + 1e-9)]), expected)


def test_matching_infs_do_not_hide_a_finite_mismatch():
    message = _message(np.array([np.inf, 1.0]), np.array([np.inf, 2.0]))
    assert "rel_error 0.333" in message and "index (1,)" in message


def test_huge_finite_values_of_opposite_sign_fail():
    message = _message(np.array([1e308]), np.array([-1e308]))
    assert "rel_error 1 > 1e-06" in message


def test_float32_inf_is_caught():
    message = _message(np.full(3, np.inf, dtype=np.float32), np.ones(3, dtype=np.float32))
    assert "3 of 3 values are infinite" in message and "got inf" in message


def test_scalar_inf_where_finite_expected_fails():
    with pytest.raises(AssertionError) as info:
        assert_scalar_close(float("inf"), 32, name="conv1_out")
    message = str(info.value)
    assert message.startswith("conv1_out: 1 of 1 values are infinite")
    assert "index ()" in message and "expected 32.0" in message


def test_scalar_nan_where_finite_expected_fails():
    with pytest.raises(AssertionError, match=r"values are NaN .*got nan"):
        assert_scalar_close(np.float64("nan"), 0.1)


def test_scalar_finite_where_inf_expected_fails():
    with pytest.raises(AssertionError, match=r"non-finite expected.*expected inf"):
        assert_scalar_close(1e6, float("inf"))


def test_scalar_matching_inf_passes():
    assert_scalar_close(float("-inf"), float("-inf"))
