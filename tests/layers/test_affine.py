"""Affine layer against torch.nn.functional.linear + autograd."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from cnncourse.gradcheck import eval_numerical_gradient_array
from cnncourse.layers import affine_backward, affine_forward

from ._helpers import DEVICES, SETTINGS, assert_close, leaf, rng_arrays


@SETTINGS
@given(
    N=st.integers(1, 4),
    dims=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    M=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_affine_matches_torch_linear_and_autograd(N, dims, M, seed):
    D = int(torch.tensor(dims).prod())
    x, w, b = rng_arrays(seed, (N, *dims), (D, M), (M,))
    out, cache = affine_forward(x, w, b)
    (dout,) = rng_arrays(seed + 1, (N, M))
    dx, dw, db = affine_backward(dout, cache)
    xt, wt, bt = leaf(x), leaf(w), leaf(b)
    out_t = F.linear(xt.reshape(N, D), wt.t(), bt)
    out_t.backward(torch.as_tensor(dout))
    what = f"affine, x {x.shape}, w {w.shape}, seed {seed}"
    assert_close(out, out_t.detach(), 1e-10, f"{what}: out")
    assert_close(dx, xt.grad, 1e-10, f"{what}: dx")  # dx comes back in x's shape
    assert_close(dw, wt.grad, 1e-10, f"{what}: dw")
    assert_close(db, bt.grad, 1e-10, f"{what}: db")


def test_affine_backward_passes_numerical_gradient_check():
    x, w, b = rng_arrays(0, (3, 2, 3), (6, 4), (4,))
    out, cache = affine_forward(x, w, b)
    (dout,) = rng_arrays(1, out.shape)
    dx, dw, db = affine_backward(dout, cache)
    assert_close(
        dx, eval_numerical_gradient_array(lambda v: affine_forward(v, w, b)[0], x, dout), 1e-7, "dx"
    )
    assert_close(
        dw, eval_numerical_gradient_array(lambda v: affine_forward(x, v, b)[0], w, dout), 1e-7, "dw"
    )
    assert_close(
        db, eval_numerical_gradient_array(lambda v: affine_forward(x, w, v)[0], b, dout), 1e-7, "db"
    )


@pytest.mark.parametrize("device", DEVICES)
def test_affine_runs_on_device_in_float32(device):
    x, w, b = (
        torch.as_tensor(a, dtype=torch.float32, device=device)
        for a in rng_arrays(2, (4, 5), (5, 3), (3,))
    )
    out, cache = affine_forward(x, w, b)
    grads = affine_backward(torch.ones_like(out), cache)
    for t in (out, *grads):
        assert (t.device.type, t.dtype) == (device, torch.float32), (t.device, t.dtype)
    assert_close(out, x @ w + b, 1e-6, f"affine on {device}")
