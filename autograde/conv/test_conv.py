"""Hidden tests of the conv assignment (run by ``cnncourse grade``).

Fixtures: ``student`` calls the submission's functions in the sandbox, ``ref`` is the
``cnncourse`` package. Every test names the notebook test cell (grade id) whose points it
shares; the points of one grade id add up to that cell's points in solutions/conv/conv.ipynb.
Inputs come from fixed seeds; the shapes cover what the visible checks do not: batch of 1,
1x1 and non-square kernels, stride 2, pad 0 and 2, non-square images, float32.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnncourse.grading.compare import assert_close
from cnncourse.grading.proxy import StudentError

RTOL = {np.float64: 1e-6, np.float32: 1e-3}  # elementwise relative errors

# (x shape, w shape, stride, pad)
NO_PAD = [
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 0),
    ((1, 3, 4, 4), (2, 3, 2, 2), 2, 0),  # batch of 1, stride 2
    ((3, 4, 3, 3), (5, 4, 1, 1), 1, 0),  # 1x1 kernel
    ((2, 2, 6, 4), (3, 2, 3, 2), 1, 0),  # non-square image and kernel
    ((2, 3, 7, 5), (2, 3, 3, 3), 2, 0),  # non-square, stride 2
]
PADDED = [
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 1),
    ((2, 2, 5, 7), (3, 2, 3, 3), 2, 2),  # pad 2, stride 2, non-square
    ((1, 3, 4, 6), (2, 3, 5, 5), 1, 2),  # batch of 1, kernel larger than the image
    ((2, 2, 4, 4), (3, 2, 1, 1), 1, 1),  # 1x1 kernel on a padded image
]


def answer(student, name):
    """A numeric answer the student assigned in the notebook; None means not done yet."""
    value = student.value(name)
    if value is None:
        raise StudentError("not_implemented", f"{name} is still None: fill in its answer cell")
    return value


FLOAT32 = [((2, 3, 7, 7), (3, 3, 3, 3), 2, 1), ((1, 2, 5, 4), (2, 2, 2, 3), 1, 1)]


def conv_inputs(seed, xs, ws, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    return rng, x, w, b


def check_forward(student, ref, cases, dtype, seed0):
    for k, (xs, ws, stride, pad) in enumerate(cases):
        _, x, w, b = conv_inputs(seed0 + k, xs, ws, dtype)
        param = {"stride": stride, "pad": pad}
        out, _ = student.conv_forward_naive(x, w, b, dict(param))
        want, _ = ref.layers.conv_forward(x, w, b, dict(param))
        assert_close(
            out, want, rtol=RTOL[dtype], name=f"out (x {xs}, w {ws}, stride {stride}, pad {pad})"
        )


def check_backward(student, ref, cases, dtype, seed0):
    for k, (xs, ws, stride, pad) in enumerate(cases):
        rng, x, w, b = conv_inputs(seed0 + k, xs, ws, dtype)
        param = {"stride": stride, "pad": pad}
        want_out, ref_cache = ref.layers.conv_forward(x, w, b, dict(param))
        dout = rng.standard_normal(want_out.shape).astype(dtype)
        _, cache = student.conv_forward_naive(x, w, b, dict(param))
        dx, dw, db = student.conv_backward_naive(dout, cache)
        want = ref.layers.conv_backward(dout, ref_cache)
        label = f"(x {xs}, w {ws}, stride {stride}, pad {pad})"
        for name, got, exp in zip(("dx", "dw", "db"), (dx, dw, db), want, strict=True):
            assert_close(got, exp, rtol=RTOL[dtype], name=f"{name} {label}")


# ---------------------------------------------------------------- output size


@pytest.mark.points(1, grade_id="conv_output_size")
def test_output_size_values(student, ref):
    for H, HH, stride, pad in [
        (32, 5, 1, 0),
        (227, 11, 4, 0),
        (55, 3, 2, 0),
        (7, 3, 2, 0),
        (32, 5, 1, 2),
        (5, 5, 1, 0),
        (1, 1, 1, 0),
        (13, 3, 1, 1),
        (6, 1, 5, 0),
        (5, 7, 2, 2),
    ]:
        got = student.conv_output_size(H, HH, stride, pad)
        want = ref.layers.conv_output_size(H, HH, stride, pad)
        assert got == want, (
            f"conv_output_size{(H, HH, stride, pad)} returned {got!r}, expected {want}"
        )


@pytest.mark.points(1, grade_id="conv_output_size")
def test_output_size_raises(student, ref):
    for H, HH, stride, pad in [(7, 3, 3, 0), (32, 5, 2, 0), (3, 5, 1, 0)]:
        with pytest.raises(StudentError) as info:
            student.conv_output_size(H, HH, stride, pad)
        if info.value.status != "error":
            raise info.value
        assert info.value.type_name == "ValueError", (
            f"conv_output_size{(H, HH, stride, pad)} should raise ValueError, "
            f"it raised {info.value.type_name}"
        )


@pytest.mark.points(1, grade_id="alexnet_numbers")
def test_alexnet_conv1_out(student, ref):
    assert answer(student, "conv1_out") == ref.layers.conv_output_size(227, 11, 4, 0)


@pytest.mark.points(1, grade_id="alexnet_numbers")
def test_alexnet_conv1_weights(student, ref):
    assert answer(student, "conv1_weights") == 11 * 11 * 3 * 96


# ---------------------------------------------------------------- conv forward


@pytest.mark.points(3, grade_id="conv_forward")
def test_conv_forward_no_padding(student, ref):
    check_forward(student, ref, NO_PAD, np.float64, 10)


@pytest.mark.points(2, grade_id="conv_forward")
def test_conv_forward_padding(student, ref):
    check_forward(student, ref, PADDED, np.float64, 20)


@pytest.mark.points(1, grade_id="conv_forward")
def test_conv_forward_float32(student, ref):
    check_forward(student, ref, FLOAT32, np.float32, 30)


# ---------------------------------------------------------------- conv backward


@pytest.mark.points(3, grade_id="conv_backward")
def test_conv_backward_no_padding(student, ref):
    check_backward(student, ref, NO_PAD, np.float64, 40)


@pytest.mark.points(2, grade_id="conv_backward")
def test_conv_backward_padding(student, ref):
    check_backward(student, ref, PADDED, np.float64, 50)


@pytest.mark.points(1, grade_id="conv_backward")
def test_conv_backward_float32(student, ref):
    check_backward(student, ref, FLOAT32, np.float32, 60)


# ---------------------------------------------------------------- max pooling

# (x shape, pool_height, pool_width, stride)
POOL_BASIC = [((2, 3, 4, 4), 2, 2, 2), ((1, 2, 6, 6), 2, 2, 2), ((3, 1, 2, 2), 2, 2, 2)]
POOL_OVERLAP = [((1, 2, 7, 7), 3, 3, 2), ((2, 3, 6, 4), 3, 2, 1), ((2, 2, 5, 9), 1, 3, 2)]
POOL_FLOAT32 = [((2, 2, 4, 6), 2, 2, 2), ((1, 3, 5, 5), 3, 3, 2)]


def pool_check_forward(student, ref, cases, dtype, seed0):
    for k, (xs, ph, pw, stride) in enumerate(cases):
        x = np.random.default_rng(seed0 + k).standard_normal(xs).astype(dtype)
        param = {"pool_height": ph, "pool_width": pw, "stride": stride}
        out, _ = student.max_pool_forward_naive(x, dict(param))
        want, _ = ref.layers.max_pool_forward(x, dict(param))
        assert_close(
            out, want, rtol=RTOL[dtype], name=f"out (x {xs}, {ph}x{pw} pool, stride {stride})"
        )


def pool_check_backward(student, ref, cases, dtype, seed0):
    for k, (xs, ph, pw, stride) in enumerate(cases):
        rng = np.random.default_rng(seed0 + k)
        x = rng.standard_normal(xs).astype(dtype)
        param = {"pool_height": ph, "pool_width": pw, "stride": stride}
        want_out, ref_cache = ref.layers.max_pool_forward(x, dict(param))
        dout = rng.standard_normal(want_out.shape).astype(dtype)
        _, cache = student.max_pool_forward_naive(x, dict(param))
        dx = student.max_pool_backward_naive(dout, cache)
        want = ref.layers.max_pool_backward(dout, ref_cache)
        assert_close(
            dx, want, rtol=RTOL[dtype], name=f"dx (x {xs}, {ph}x{pw} pool, stride {stride})"
        )


@pytest.mark.points(2, grade_id="max_pool_forward")
def test_max_pool_forward_basic(student, ref):
    pool_check_forward(student, ref, POOL_BASIC, np.float64, 70)


@pytest.mark.points(1, grade_id="max_pool_forward")
def test_max_pool_forward_overlapping_nonsquare(student, ref):
    pool_check_forward(student, ref, POOL_OVERLAP, np.float64, 80)


@pytest.mark.points(1, grade_id="max_pool_forward")
def test_max_pool_forward_float32(student, ref):
    pool_check_forward(student, ref, POOL_FLOAT32, np.float32, 90)


@pytest.mark.points(2, grade_id="max_pool_backward")
def test_max_pool_backward_basic(student, ref):
    pool_check_backward(student, ref, POOL_BASIC, np.float64, 100)


@pytest.mark.points(1, grade_id="max_pool_backward")
def test_max_pool_backward_overlapping_nonsquare(student, ref):
    pool_check_backward(student, ref, POOL_OVERLAP, np.float64, 110)


@pytest.mark.points(1, grade_id="max_pool_backward")
def test_max_pool_backward_float32(student, ref):
    pool_check_backward(student, ref, POOL_FLOAT32, np.float32, 120)


# ---------------------------------------------------------------- 1x1 convolution


@pytest.mark.points(1, grade_id="onebyone")
def test_onebyone_shape(student, ref):
    got = answer(student, "onebyone_out_shape")
    assert tuple(int(v) for v in got) == (32, 56, 56), f"onebyone_out_shape is {got!r}"


@pytest.mark.points(1, grade_id="onebyone")
def test_onebyone_params(student, ref):
    assert answer(student, "onebyone_params") == 1 * 1 * 64 * 32 + 32


# ---------------------------------------------------------------- convolution as a matrix


def check_matrix(student, ref, H, W, HH, WW, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((H, W))
    w = rng.standard_normal((HH, WW))
    M = np.asarray(student.conv_as_matrix(w, H, W))
    want, _ = ref.layers.conv_forward(
        x[None, None], w[None, None], np.zeros(1), {"stride": 1, "pad": 0}
    )
    want = want.reshape(-1)
    assert M.shape == (H * W, want.size), f"M has shape {M.shape}, expected {(H * W, want.size)}"
    assert_close(x.reshape(-1) @ M, want, rtol=1e-6, name=f"x @ M (x {(H, W)}, w {(HH, WW)})")


@pytest.mark.points(1, grade_id="conv_as_matrix")
def test_conv_as_matrix_slide(student, ref):
    check_matrix(student, ref, 3, 3, 2, 2, 130)


@pytest.mark.points(2, grade_id="conv_as_matrix")
def test_conv_as_matrix_general(student, ref):
    for k, (H, W, HH, WW) in enumerate([(5, 4, 3, 2), (4, 4, 1, 1), (6, 5, 4, 5), (2, 7, 2, 3)]):
        check_matrix(student, ref, H, W, HH, WW, 140 + k)
