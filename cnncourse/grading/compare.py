"""Assertions for hidden tests: they run in the grader, on values decoded from the child."""

from __future__ import annotations

import numbers

import numpy as np

from cnncourse.grading.protocol import Handle

__all__ = ["assert_close", "assert_scalar_close", "rel_error"]


def rel_error(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Elementwise |a - e| / max(1e-8, |a| + |e|), the course's relative error."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    return np.abs(actual - expected) / np.maximum(1e-8, np.abs(actual) + np.abs(expected))


def _describe(value: object) -> str:
    if isinstance(value, Handle):
        return f"a {value.type_name} object"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"a {type(value).__name__}"


def assert_close(actual, expected, *, rtol: float = 1e-6, name: str = "output") -> None:
    """Fail with a message the student can act on unless ``actual`` matches ``expected``.

    ``actual`` must be a real numpy array (never a handle or a look-alike) of the expected
    shape and dtype kind, without NaN; values must agree to a relative error of ``rtol``.
    """
    expected = np.asarray(expected)
    if not isinstance(actual, np.ndarray):
        raise AssertionError(f"{name}: expected a numpy array, got {_describe(actual)}")
    if actual.shape != expected.shape:
        raise AssertionError(f"{name}: expected shape {expected.shape}, got shape {actual.shape}")
    expected_kind = "f" if expected.dtype.kind in "fiub" else expected.dtype.kind
    actual_kind = "f" if actual.dtype.kind in "fiub" else actual.dtype.kind
    if actual_kind != expected_kind:
        raise AssertionError(f"{name}: expected a numeric array, got dtype {actual.dtype}")
    if expected.dtype.kind == "f" and actual.dtype.kind in "iub":
        raise AssertionError(
            f"{name}: expected floating-point values, got dtype {actual.dtype} "
            "(integer arithmetic loses the fractions)"
        )
    if actual.size == 0:
        return
    if np.isnan(actual).any() and not np.isnan(expected).any():
        count = int(np.isnan(actual).sum())
        raise AssertionError(f"{name}: {count} of {actual.size} values are NaN")
    errors = rel_error(actual, expected)
    errors = np.where(np.isnan(actual) & np.isnan(expected), 0.0, errors)
    worst = np.unravel_index(int(np.argmax(errors)), errors.shape)
    if errors[worst] > rtol:
        raise AssertionError(
            f"{name}: values differ (shape {actual.shape}); max rel_error "
            f"{errors[worst]:.3g} > {rtol:g} at index {tuple(int(i) for i in worst)}: "
            f"got {actual[worst]!r}, expected {expected[worst]!r}"
        )


def assert_scalar_close(actual, expected, *, rtol: float = 1e-6, name: str = "value") -> None:
    """Like :func:`assert_close` for a single number (an answer such as an output size)."""
    if isinstance(actual, bool) or not isinstance(actual, numbers.Real | np.generic):
        raise AssertionError(f"{name}: expected a number, got {_describe(actual)}")
    assert_close(np.asarray(actual, dtype=np.float64), np.float64(expected), rtol=rtol, name=name)
