"""Assertions for hidden tests: they run in the grader, on values decoded from the child."""

from __future__ import annotations

import numbers

import numpy as np

from cnncourse.gradcheck import rel_error
from cnncourse.grading.protocol import Handle

__all__ = ["assert_close", "assert_scalar_close", "rel_error"]


def _describe(value: object) -> str:
    if isinstance(value, Handle):
        return f"a {value.type_name} object"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"a {type(value).__name__}"


def _show(value) -> str:
    """One element, as Python prints the number (not numpy's ``np.float64(...)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _at(mask: np.ndarray) -> tuple[int, ...]:
    """The index of the first true element of ``mask`` (in C order)."""
    return tuple(int(i) for i in np.unravel_index(int(np.flatnonzero(mask)[0]), mask.shape))


def _check_non_finite(actual: np.ndarray, expected: np.ndarray, name: str) -> None:
    """Non-finite values pass only where they are expected, and then exactly.

    A relative error cannot judge them: |inf - x| / (|inf| + |x|) is NaN, and ``NaN > rtol``
    is false, so an infinity would pass for any finite value (and any value for an infinity).
    Where ``expected`` is +inf or -inf, ``actual`` must be the same infinity; where it is NaN,
    ``actual`` must be NaN; where it is finite, ``actual`` must be finite.
    """
    if actual.dtype.kind not in "fiubc" or expected.dtype.kind not in "fiubc":
        return
    actual_finite, expected_finite = np.isfinite(actual), np.isfinite(expected)
    unexpected = ~actual_finite & expected_finite
    if unexpected.any():
        count = int(unexpected.sum())
        nans = int((np.isnan(actual) & unexpected).sum())
        what = "NaN" if nans == count else "infinite" if nans == 0 else "NaN or infinite"
        where = _at(unexpected)
        raise AssertionError(
            f"{name}: {count} of {actual.size} values are {what} where finite values are "
            f"expected; first at index {where}: got {_show(actual[where])}, "
            f"expected {_show(expected[where])}"
        )
    same = (actual == expected) | (np.isnan(actual) & np.isnan(expected))
    missed = ~expected_finite & ~same
    if missed.any():
        count = int(missed.sum())
        where = _at(missed)
        raise AssertionError(
            f"{name}: {count} of {actual.size} values differ from non-finite expected values "
            f"(an inf must be the same inf, a NaN a NaN); first at index {where}: "
            f"got {_show(actual[where])}, expected {_show(expected[where])}"
        )


def assert_close(actual, expected, *, rtol: float = 1e-6, name: str = "output") -> None:
    """Fail with a message the student can act on unless ``actual`` matches ``expected``.

    ``actual`` must be a real numpy array (never a handle or a look-alike) of the expected
    shape and dtype kind; values must agree to a relative error (the course's
    :func:`~cnncourse.gradcheck.rel_error`, ``max|a - e| / (max|a| + max|e|)``) of at most
    ``rtol``; a failure names the worst element and both values. Non-finite values
    must match exactly: NaN or an infinity where a finite value is expected fails, and where
    an infinity (or NaN) is expected only the same infinity (or NaN) passes.
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
    _check_non_finite(actual, expected, name)
    error = rel_error(actual, expected)
    if error > rtol:
        worst = _worst(actual, expected)
        raise AssertionError(
            f"{name}: values differ (shape {actual.shape}); rel_error {error:.3g} > {rtol:g}, "
            f"worst at index {worst}: got {_show(actual[worst])}, expected {_show(expected[worst])}"
        )


def _worst(actual: np.ndarray, expected: np.ndarray) -> tuple[int, ...]:
    """The index of the largest difference among the elements finite on both sides."""
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(actual.astype(np.float64) / 2 - expected.astype(np.float64) / 2)
    diff = np.where(np.isfinite(diff), diff, -1.0)
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), diff.shape))


def assert_scalar_close(actual, expected, *, rtol: float = 1e-6, name: str = "value") -> None:
    """Like :func:`assert_close` for a single number (an answer such as an output size).

    A Python or numpy number, or a 0-d array (what ``np.sum(..., keepdims=False)`` of a
    0-d computation or ``np.asarray(loss)`` gives).
    """
    if isinstance(actual, np.ndarray) and actual.shape == () and actual.dtype.kind in "fiu":
        actual = actual[()]
    if isinstance(actual, bool) or not isinstance(actual, numbers.Real | np.generic):
        raise AssertionError(f"{name}: expected a number, got {_describe(actual)}")
    assert_close(np.asarray(actual, dtype=np.float64), np.float64(expected), rtol=rtol, name=name)
