"""Shared helpers for the reference-layer tests: the oracle comparison and devices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

# Modest example counts: the whole layers suite runs in about a minute on 2 busy cores.
SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

CUDA = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="needs a CUDA device: torch.cuda.is_available() is False; run on a machine with an "
    "NVIDIA GPU and its driver, where the pinned torch==2.13.0 is the CUDA build",
)
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, CUDA])]


def to_numpy(a) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def assert_close(
    actual, expected, tol: float, what: str, per: str = "element", floor: float = 1e-8
) -> None:
    """Relative error below tol, with the worst element shown.

    ``per="element"``: CS231n's elementwise relative error (float64 checks). ``per="tensor"``:
    each difference relative to the largest |expected|, for float32, where an entry that
    sums terms of both signs can lose most of its digits without anything being wrong.
    ``floor``: the smallest denominator, for values computed as a difference of much larger
    terms, whose rounding error is absolute, not relative to the result.
    """
    actual, expected = to_numpy(actual), to_numpy(expected)
    assert actual.shape == expected.shape, (
        f"{what}: shape {actual.shape}, expected {expected.shape}"
    )
    if per == "element":
        denom = np.maximum(floor, np.abs(actual) + np.abs(expected))
    elif per == "tensor":
        denom = np.full(actual.shape, max(floor, float(np.max(np.abs(expected), initial=0.0))))
    else:
        raise ValueError(f"per: expected 'element' or 'tensor', got {per!r}")
    errors = np.array(np.abs(actual.astype(np.float64) - expected) / denom, ndmin=0)
    errors[np.isnan(errors)] = np.inf  # a NaN on either side never passes
    err = float(np.max(errors, initial=0.0))
    if not err < tol:
        worst = np.unravel_index(np.argmax(errors), actual.shape)
        raise AssertionError(
            f"{what}: relative error ({per}) {err:.3g} is not below {tol:g}; worst at index "
            f"{worst}: got {actual[worst]!r}, expected {expected[worst]!r}"
        )


def rng_arrays(seed: int, *shapes, dtype=np.float64):
    """Standard-normal arrays, reproducible from the seed."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(dtype) for shape in shapes]


def leaf(a, device="cpu") -> torch.Tensor:
    """A float64 leaf tensor needing grad, for the torch autograd oracle."""
    return torch.tensor(a, dtype=torch.float64, device=device, requires_grad=True)
