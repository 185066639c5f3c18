"""Hidden tests of the batchnorm assignment (run by ``cnncourse grade``).

Fixtures: ``student`` calls the submission's functions in the sandbox, ``ref`` is the
``cnncourse`` package. Train-mode outputs, running averages (read back from the student's
``bn_param`` after the call, ``student.call``), test mode with given running statistics,
both backward passes on the student's own caches, and the spatial version, in float64 and
float32. The points of one grade id add up to that test cell's points in
solutions/batchnorm/batchnorm.ipynb.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnncourse.grading.compare import assert_close

RTOL = {np.float64: 1e-6, np.float32: 1e-3}  # elementwise relative errors
SHAPES = [(50, 4), (2, 3), (7, 1), (33, 6)]  # a batch of 2, a single feature


def bn_inputs(seed, shape, dtype=np.float64):
    rng = np.random.default_rng(seed)
    D = shape[1]
    x = (4.0 * rng.standard_normal(shape) + 2.0).astype(dtype)
    gamma = (1.0 + 0.5 * rng.standard_normal(D)).astype(dtype)
    beta = rng.standard_normal(D).astype(dtype)
    return rng, x, gamma, beta


def check_train_forward(student, ref, shapes, dtype, seed0):
    for k, shape in enumerate(shapes):
        _, x, gamma, beta = bn_inputs(seed0 + k, shape, dtype)
        out, _ = student.batchnorm_forward(x, gamma, beta, {"mode": "train"})
        want, _ = ref.layers.batchnorm_forward(x, gamma, beta, {"mode": "train"})
        assert_close(out, want, rtol=RTOL[dtype], name=f"train-mode out, x {shape}")


@pytest.mark.points(2, grade_id="batchnorm_forward")
def test_forward_train(student, ref):
    check_train_forward(student, ref, SHAPES, np.float64, 0)


@pytest.mark.points(2, grade_id="batchnorm_forward")
def test_forward_running_averages(student, ref):
    for k, shape in enumerate([*SHAPES[:2], (16, 5)]):
        rng, x, gamma, beta = bn_inputs(10 + k, shape)
        mine = {"mode": "train", "momentum": 0.8 if k == 2 else 0.9}
        theirs = dict(mine)
        for step in range(4):
            xb = x + rng.standard_normal(shape)
            _, after = student.call("batchnorm_forward", xb, gamma, beta, mine)
            mine = after[3]
            ref.layers.batchnorm_forward(xb, gamma, beta, theirs)
            for key in ("running_mean", "running_var"):
                assert isinstance(mine, dict) and key in mine, (
                    f"bn_param has no {key!r} after a train-mode call"
                )
                assert_close(mine[key], theirs[key], rtol=1e-6, name=f"{key} after step {step + 1}")


@pytest.mark.points(1, grade_id="batchnorm_forward")
def test_forward_test_mode(student, ref):
    for dtype in (np.float64, np.float32):
        for k, shape in enumerate([(5, 4), (1, 3)]):
            rng, x, gamma, beta = bn_inputs(20 + k, shape, dtype)
            stats = {
                "running_mean": rng.standard_normal(shape[1]).astype(dtype),
                "running_var": (0.5 + rng.random(shape[1])).astype(dtype),
            }
            out, _ = student.batchnorm_forward(x, gamma, beta, {"mode": "test", **stats})
            want, _ = ref.layers.batchnorm_forward(x, gamma, beta, {"mode": "test", **stats})
            assert_close(out, want, rtol=RTOL[dtype], name=f"test-mode out, x {shape}")


@pytest.mark.points(1, grade_id="batchnorm_forward")
def test_forward_train_float32(student, ref):
    check_train_forward(student, ref, [(40, 5), (3, 2)], np.float32, 30)


def check_backward(student, ref, name, shapes, dtype, seed0):
    for k, shape in enumerate(shapes):
        rng, x, gamma, beta = bn_inputs(seed0 + k, shape, dtype)
        dout = rng.standard_normal(shape).astype(dtype)
        _, cache = student.batchnorm_forward(x, gamma, beta, {"mode": "train"})
        got = getattr(student, name)(dout, cache)
        _, ref_cache = ref.layers.batchnorm_forward(x, gamma, beta, {"mode": "train"})
        want = ref.layers.batchnorm_backward(dout, ref_cache)
        for gname, g, r in zip(("dx", "dgamma", "dbeta"), got, want, strict=True):
            assert_close(g, r, rtol=RTOL[dtype], name=f"{name}: {gname}, x {shape}")


@pytest.mark.points(3, grade_id="batchnorm_backward")
def test_backward_graph(student, ref):
    check_backward(student, ref, "batchnorm_backward", SHAPES, np.float64, 40)


@pytest.mark.points(1, grade_id="batchnorm_backward")
def test_backward_graph_float32(student, ref):
    check_backward(student, ref, "batchnorm_backward", [(16, 5)], np.float32, 50)


@pytest.mark.points(2, grade_id="batchnorm_backward_alt")
def test_backward_alt(student, ref):
    check_backward(student, ref, "batchnorm_backward_alt", SHAPES, np.float64, 60)


@pytest.mark.points(1, grade_id="batchnorm_backward_alt")
def test_backward_alt_float32(student, ref):
    check_backward(student, ref, "batchnorm_backward_alt", [(16, 5)], np.float32, 70)


SPATIAL = [((4, 3, 5, 5), np.float64), ((1, 2, 3, 4), np.float64), ((3, 4, 2, 6), np.float32)]


@pytest.mark.points(2, grade_id="spatial_batchnorm_forward")
def test_spatial_forward_train(student, ref):
    for k, (shape, dtype) in enumerate(SPATIAL):
        _, x, gamma, beta = bn_inputs(80 + k, shape, dtype)
        mine = {"mode": "train"}
        out, after = student.call("spatial_batchnorm_forward", x, gamma, beta, mine)
        theirs = {"mode": "train"}
        want, _ = ref.layers.spatial_batchnorm_forward(x, gamma, beta, theirs)
        assert_close(out[0], want, rtol=RTOL[dtype], name=f"train-mode out, x {shape}")
        for key in ("running_mean", "running_var"):
            assert isinstance(after[3], dict) and key in after[3], (
                f"bn_param has no {key!r} after a train-mode call"
            )
            assert_close(after[3][key], theirs[key], rtol=RTOL[dtype], name=f"{key}, x {shape}")


@pytest.mark.points(1, grade_id="spatial_batchnorm_forward")
def test_spatial_forward_test_mode(student, ref):
    for k, (shape, dtype) in enumerate(SPATIAL):
        rng, x, gamma, beta = bn_inputs(90 + k, shape, dtype)
        stats = {
            "running_mean": rng.standard_normal(shape[1]).astype(dtype),
            "running_var": (0.5 + rng.random(shape[1])).astype(dtype),
        }
        out, _ = student.spatial_batchnorm_forward(x, gamma, beta, {"mode": "test", **stats})
        want, _ = ref.layers.spatial_batchnorm_forward(x, gamma, beta, {"mode": "test", **stats})
        assert_close(out, want, rtol=RTOL[dtype], name=f"test-mode out, x {shape}")


@pytest.mark.points(2, grade_id="spatial_batchnorm_backward")
def test_spatial_backward(student, ref):
    for k, (shape, dtype) in enumerate(SPATIAL):
        rng, x, gamma, beta = bn_inputs(100 + k, shape, dtype)
        dout = rng.standard_normal(shape).astype(dtype)
        _, cache = student.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
        got = student.spatial_batchnorm_backward(dout, cache)
        _, ref_cache = ref.layers.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
        want = ref.layers.spatial_batchnorm_backward(dout, ref_cache)
        for gname, g, r in zip(("dx", "dgamma", "dbeta"), got, want, strict=True):
            assert_close(g, r, rtol=RTOL[dtype], name=f"{gname}, x {shape}")
