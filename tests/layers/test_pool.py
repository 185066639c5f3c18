"""Pooling: max and average, forward and backward, against torch.nn.functional."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from cnncourse.gradcheck import eval_numerical_gradient_array
from cnncourse.layers import (
    avg_pool_backward,
    avg_pool_forward,
    max_pool_backward,
    max_pool_backward_naive,
    max_pool_forward,
    max_pool_forward_naive,
)

from ._helpers import DEVICES, SETTINGS, assert_close, leaf, rng_arrays

IMPLS = {
    "max fast": (max_pool_forward, max_pool_backward, F.max_pool2d),
    "max naive": (max_pool_forward_naive, max_pool_backward_naive, F.max_pool2d),
    "avg": (avg_pool_forward, avg_pool_backward, F.avg_pool2d),
}


@st.composite
def pool_cases(draw):
    """(x shape, pool_param, seed) with a whole output size."""
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw, stride = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    H_out, W_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x_shape = (N, C, (H_out - 1) * stride + ph, (W_out - 1) * stride + pw)
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    return x_shape, pool_param, draw(st.integers(0, 2**32 - 1))


EDGE_CASES = {
    "1x1 window": ((2, 2, 4, 4), {"pool_height": 1, "pool_width": 1, "stride": 1}),
    "stride larger than window": ((1, 2, 7, 7), {"pool_height": 2, "pool_width": 2, "stride": 5}),
    "overlapping 3x3 stride 2 (AlexNet)": (
        (2, 2, 7, 7),
        {"pool_height": 3, "pool_width": 3, "stride": 2},
    ),
    "non-square window and input": ((2, 3, 5, 9), {"pool_height": 2, "pool_width": 3, "stride": 3}),
    "batch of 1": ((1, 1, 4, 4), {"pool_height": 2, "pool_width": 2, "stride": 2}),
}


def check_against_torch(x_shape, pool_param, seed, impl, x=None):
    forward, backward, torch_pool = IMPLS[impl]
    if x is None:
        (x,) = rng_arrays(seed, x_shape)
    out, cache = forward(x, pool_param)
    (dout,) = rng_arrays(seed + 1, out.shape)
    dx = backward(dout, cache)
    xt = leaf(x)
    kernel = (pool_param["pool_height"], pool_param["pool_width"])
    out_t = torch_pool(xt, kernel, stride=pool_param["stride"])
    out_t.backward(torch.as_tensor(dout))
    what = f"{impl} pool, x {x_shape}, {pool_param}, seed {seed}"
    assert_close(out, out_t.detach(), 1e-10, f"{what}: out")
    assert_close(dx, xt.grad, 1e-10, f"{what}: dx")


@pytest.mark.parametrize("impl", IMPLS)
@SETTINGS
@given(case=pool_cases())
def test_pool_matches_torch_and_autograd(impl, case):
    check_against_torch(*case, impl)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", EDGE_CASES.values(), ids=EDGE_CASES.keys())
def test_pool_edge_case_matches_torch(impl, case):
    check_against_torch(*case, seed=11, impl=impl)


@pytest.mark.parametrize("impl", ["max fast", "max naive"])
def test_max_pool_ties_send_the_gradient_to_the_first_maximum_like_torch(impl):
    # After a ReLU many inputs are exactly 0, so windows tie; torch routes to the first one.
    (x,) = rng_arrays(5, (2, 2, 7, 7))
    x = np.maximum(x, 0) * (np.abs(x) > 1.0)
    pool_param = {"pool_height": 3, "pool_width": 3, "stride": 2}
    check_against_torch(x.shape, pool_param, 5, impl, x=x)


@SETTINGS
@given(case=pool_cases())
def test_naive_and_fast_max_pool_agree(case):
    x_shape, pool_param, seed = case
    (x,) = rng_arrays(seed, x_shape)
    out_fast, cache = max_pool_forward(x, pool_param)
    out_naive, _ = max_pool_forward_naive(x, pool_param)
    (dout,) = rng_arrays(seed + 1, out_fast.shape)
    what = f"x {x_shape}, {pool_param}, seed {seed}"
    assert_close(out_fast, out_naive, 1e-10, f"{what}: out")
    assert_close(
        max_pool_backward(dout, cache), max_pool_backward_naive(dout, cache), 1e-10, f"{what}: dx"
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_pool_backward_passes_numerical_gradient_check(impl):
    forward, backward, _ = IMPLS[impl]
    (x,) = rng_arrays(2, (2, 2, 5, 5))
    pool_param = {"pool_height": 3, "pool_width": 3, "stride": 2}
    out, cache = forward(x, pool_param)
    (dout,) = rng_arrays(3, out.shape)
    num_dx = eval_numerical_gradient_array(lambda v: forward(v, pool_param)[0], x, dout)
    assert_close(backward(dout, cache), num_dx, 1e-7, f"{impl} pool dx vs numerical")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("impl", ["max fast", "avg"])
def test_pool_runs_on_device_and_keeps_dtype(impl, device, dtype):
    forward, backward, torch_pool = IMPLS[impl]
    (x,) = rng_arrays(4, (2, 3, 6, 6))
    x = torch.as_tensor(x, dtype=dtype, device=device)
    out, cache = forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    dx = backward(torch.ones_like(out), cache)
    for t in (out, dx):
        assert (t.device.type, t.dtype) == (device, dtype), (t.device, t.dtype)
    assert_close(out, torch_pool(x, 2, 2), 1e-6, f"{impl} pool on {device} in {dtype}")
