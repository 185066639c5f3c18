"""Hidden tests of the dropout assignment (run by ``cnncourse grade``).

A student's random mask cannot equal the reference's (numpy and torch draw different
numbers), so the forward pass is tested by its properties: kept units equal x / keep_prob,
the kept fraction is keep_prob within 5 standard deviations, a seed fixes the mask, test mode
is the identity. The backward pass is tested against the mask the student's own forward pass
produced. The points of one grade id add up to that test cell's points in
solutions/dropout/dropout.ipynb.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnncourse.grading.compare import assert_close

KEEP = [0.8, 0.5, 0.3, 1.0]


def inputs(seed, shape=(400, 50), dtype=np.float64):
    # shifted away from 0 so that a kept unit is never exactly 0
    return (np.random.default_rng(seed).standard_normal(shape) + 4.0).astype(dtype)


def forward(student, x, keep_prob, mode="train", seed=0):
    return student.dropout_forward(x, {"keep_prob": keep_prob, "mode": mode, "seed": seed})


@pytest.mark.points(2, grade_id="dropout_forward")
def test_train_kept_values_are_scaled(student, ref):
    for k, p in enumerate(KEEP):
        x = inputs(k)
        out, _ = forward(student, x, p, seed=k)
        out = np.asarray(out)
        assert out.shape == x.shape, f"out has shape {out.shape}, expected {x.shape}"
        kept = out != 0
        assert kept.any(), f"keep_prob {p}: every unit was dropped"
        assert_close(
            out[kept],
            x[kept] / p,
            rtol=1e-6,
            name=f"kept units (keep_prob {p}), expected x / keep_prob",
        )


@pytest.mark.points(1, grade_id="dropout_forward")
def test_train_keep_fraction(student, ref):
    for k, p in enumerate(KEEP[:3]):
        x = inputs(10 + k)
        out, _ = forward(student, x, p, seed=10 + k)
        frac = float(np.mean(np.asarray(out) != 0))
        sigma = math.sqrt(p * (1 - p) / x.size)
        assert abs(frac - p) < 5 * sigma, f"keep_prob {p}: {frac:.4f} of the units were kept"
        # the reference keeps the same fraction (an independent draw)
        ref_out, _ = ref.layers.dropout_forward(x, {"keep_prob": p, "mode": "train", "seed": k})
        assert abs(float(np.mean(ref_out != 0)) - p) < 5 * sigma


@pytest.mark.points(1, grade_id="dropout_forward")
def test_seed_fixes_the_mask(student, ref):
    x = inputs(20, (30, 40))
    a, _ = forward(student, x, 0.5, seed=7)
    b, _ = forward(student, x, 0.5, seed=7)
    c, _ = forward(student, x, 0.5, seed=8)
    assert np.array_equal(np.asarray(a) != 0, np.asarray(b) != 0), "same seed, different masks"
    assert not np.array_equal(np.asarray(a) != 0, np.asarray(c) != 0), (
        "seeds 7 and 8 gave the same mask: is the seed used?"
    )


@pytest.mark.points(1, grade_id="dropout_forward")
def test_test_mode_is_identity(student, ref):
    for dtype in (np.float64, np.float32):
        for k, p in enumerate(KEEP):
            x = inputs(30 + k, (1, 17), dtype)
            out, _ = forward(student, x, p, mode="test", seed=k)
            want, _ = ref.layers.dropout_forward(x, {"keep_prob": p, "mode": "test"})
            assert_close(out, want, rtol=1e-6, name=f"test-mode out ({np.dtype(dtype).name})")


@pytest.mark.points(1, grade_id="dropout_forward")
def test_train_float32(student, ref):
    x = inputs(40, (200, 30), np.float32)
    out, _ = forward(student, x, 0.6, seed=3)
    out = np.asarray(out)
    assert out.dtype == np.float32, f"float32 input gave a {out.dtype} output"
    kept = out != 0
    assert_close(out[kept], x[kept] / np.float32(0.6), rtol=1e-5, name="kept units, float32")


def check_backward(student, mode, dtypes):
    for dtype in dtypes:
        for k, p in enumerate(KEEP):
            rng = np.random.default_rng(50 + k)
            x = inputs(50 + k, (25, 20), dtype)
            dout = rng.standard_normal(x.shape).astype(dtype)
            out, cache = forward(student, x, p, mode=mode, seed=k)
            dx = student.dropout_backward(dout, cache)
            want = dout * (np.asarray(out) != 0) / p if mode == "train" else dout
            rtol = 1e-6 if dtype == np.float64 else 1e-5
            assert_close(
                dx, want, rtol=rtol, name=f"dx ({mode} mode, keep_prob {p}, {np.dtype(dtype).name})"
            )


@pytest.mark.points(2, grade_id="dropout_backward")
def test_backward_train(student, ref):
    check_backward(student, "train", (np.float64, np.float32))


@pytest.mark.points(1, grade_id="dropout_backward")
def test_backward_test_mode(student, ref):
    check_backward(student, "test", (np.float64, np.float32))
