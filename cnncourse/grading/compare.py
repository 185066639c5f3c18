"""Assertions for hidden tests: they run in the grader, on values decoded from the child."""

from __future__ import annotations

import numbers

import numpy as np

from cnncourse.grading.protocol import Handle

__all__ = ["assert_close", "assert_scalar_close", "rel_error"]


def rel_error(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Elementwise |a - e| / max(1e-8, |a| + |e|), the course's relative error."""
    # halved (exact in binary floating point) so that |a - e| and |a| + |e| cannot overflow
    # for finite values near the largest float64
    actual = np.asarray(actual, dtype=np.float64) / 2
    expected = np.asarray(expected, dtype=np.float64) / 2
    with np.errstate(invalid="ignore"):  # inf / inf where both are infinite: NaN
        return np.abs(actual - expected) / np.maximum(5e-9, np.abs(actual) + np.abs(expected))


def _describe(value: object) -> str:
    if isinstance(value, Handle):
        return f"a {value.type_name} object"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"a {type(value).__name__}"


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
            f"expected; first at index {where}: got {actual[where]!r}, "
            f"expected {expected[where]!r}"
        )
    same = (actual == expected) | (np.isnan(actual) & np.isnan(expected))
    missed = ~expected_finite & ~same
    if missed.any():
        count = int(missed.sum())
        where = _at(missed)
        raise AssertionError(
            f"{name}: {count} of {actual.size} values differ from non-finite expected values "
            f"(an inf must be the same inf, a NaN a NaN); first at index {where}: "
            f"got {actual[where]!r}, expected {expected[where]!r}"
        )


def assert_close(actual, expected, *, rtol: float = 1e-6, name: str = "output") -> None:
    """Fail with a message the student can act on unless ``actual`` matches ``expected``.

    ``actual`` must be a real numpy array (never a handle or a look-alike) of the expected
    shape and dtype kind; values must agree to a relative error of ``rtol``. Non-finite values
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
    errors = rel_error(actual, expected)
    # where both are non-finite they are equal (checked above): no error there
    errors = np.where(np.isfinite(actual) & np.isfinite(expected), errors, 0.0)
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
