"""Shared helpers for the reference-layer tests: the oracle comparison and devices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

from cnncourse.gradcheck import rel_error

# Modest example counts: the whole layers suite runs in about a minute on 2 busy cores.
SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

CUDA = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device; torch.cuda.is_available() is False"
)
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, CUDA])]


def to_numpy(a) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def assert_close(actual, expected, tol: float, what: str) -> None:
    """Relative error (CS231n's, elementwise) below tol, with the worst element shown."""
    actual, expected = to_numpy(actual), to_numpy(expected)
    assert actual.shape == expected.shape, (
        f"{what}: shape {actual.shape}, expected {expected.shape}"
    )
    err = rel_error(actual, expected)
    if not err < tol:
        denom = np.maximum(1e-8, np.abs(actual) + np.abs(expected))
        worst = np.unravel_index(np.argmax(np.abs(actual - expected) / denom), actual.shape)
        raise AssertionError(
            f"{what}: relative error {err:.3g} is not below {tol:g}; worst at index {worst}: "
            f"got {actual[worst]!r}, expected {expected[worst]!r}"
        )


def rng_arrays(seed: int, *shapes, dtype=np.float64):
    """Standard-normal arrays, reproducible from the seed."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(dtype) for shape in shapes]


def leaf(a, device="cpu") -> torch.Tensor:
    """A float64 leaf tensor needing grad, for the torch autograd oracle."""
    return torch.tensor(a, dtype=torch.float64, device=device, requires_grad=True)
