"""Activations (ReLU, leaky ReLU, sigmoid, tanh, ELU, maxout) against torch + autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from cnncourse.gradcheck import eval_numerical_gradient_array
from cnncourse.layers import (
    elu_backward,
    elu_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    maxout_backward,
    maxout_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)

from ._helpers import DEVICES, SETTINGS, assert_close, leaf, rng_arrays

# name: (forward, backward, torch oracle, parameter strategy or None)
ELEMENTWISE = {
    "relu": (relu_forward, relu_backward, F.relu, None),
    "leaky_relu": (
        leaky_relu_forward,
        leaky_relu_backward,
        lambda x, s: F.leaky_relu(x, s),
        st.floats(0.0, 0.5),
    ),
    "sigmoid": (sigmoid_forward, sigmoid_backward, torch.sigmoid, None),
    "tanh": (tanh_forward, tanh_backward, torch.tanh, None),
    "elu": (elu_forward, elu_backward, lambda x, a: F.elu(x, a), st.floats(0.1, 2.0)),
}


def check_elementwise(name, x, param, dout):
    forward, backward, oracle, _ = ELEMENTWISE[name]
    params = () if param is None else (param,)
    out, cache = forward(x, *params)
    dx = backward(dout, cache)
    xt = leaf(x)
    out_t = oracle(xt, *params)
    out_t.backward(torch.as_tensor(dout))
    what = f"{name}{params}, x shape {x.shape}"
    assert_close(out, out_t.detach(), 1e-10, f"{what}: out")
    assert_close(dx, xt.grad, 1e-10, f"{what}: dx")


@pytest.mark.parametrize("name", ELEMENTWISE)
@SETTINGS
@given(data=st.data())
def test_activation_matches_torch_and_autograd(name, data):
    shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=4), label="shape")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    strategy = ELEMENTWISE[name][3]
    param = None if strategy is None else data.draw(strategy, label="param")
    x, dout = rng_arrays(seed, shape, shape)
    check_elementwise(name, 3 * x, param, dout)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_activation_derivative_at_zero_and_extremes_matches_torch(name):
    # At exactly 0 the kink takes torch's "else" branch; +-40 probes saturation.
    x = np.array([[-40.0, -1.0, 0.0, 0.0, 1.0, 40.0]])
    param = None if ELEMENTWISE[name][3] is None else 0.3
    check_elementwise(name, x, param, np.ones_like(x))


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "elu"])
def test_activation_does_not_overflow_for_huge_inputs(name):
    forward, backward, oracle, _ = ELEMENTWISE[name]
    x = np.array([-1000.0, 1000.0])
    params = () if name != "elu" else (1.0,)
    out, cache = forward(x, *params)
    dx = backward(np.ones_like(x), cache)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx)), (out, dx)
    np.testing.assert_allclose(out, oracle(torch.as_tensor(x), *params).numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_activation_backward_passes_numerical_gradient_check(name):
    forward, backward, _, strategy = ELEMENTWISE[name]
    params = () if strategy is None else (0.2,)
    x, dout = rng_arrays(9, (3, 4), (3, 4))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kink, where the centred difference lies
    out, cache = forward(x, *params)
    num_dx = eval_numerical_gradient_array(lambda v: forward(v, *params)[0], x, dout)
    assert_close(backward(dout, cache), num_dx, 1e-7, f"{name} dx vs numerical")


def maxout_oracle(x, w, b):
    """max over pieces of (x @ w + b), by torch, in the documented layout w (D, M, k)."""
    D, M, k = w.shape
    return ((x.reshape(x.shape[0], D) @ w.reshape(D, M * k)).view(-1, M, k) + b).max(dim=2).values


@SETTINGS
@given(
    N=st.integers(1, 4),
    dims=st.lists(st.integers(1, 3), min_size=1, max_size=2),
    M=st.integers(1, 4),
    k=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_maxout_matches_autograd(N, dims, M, k, seed):
    D = int(np.prod(dims))
    x, w, b = rng_arrays(seed, (N, *dims), (D, M, k), (M, k))
    out, cache = maxout_forward(x, w, b)
    (dout,) = rng_arrays(seed + 1, out.shape)
    dx, dw, db = maxout_backward(dout, cache)
    xt, wt, bt = leaf(x), leaf(w), leaf(b)
    out_t = maxout_oracle(xt, wt, bt)
    out_t.backward(torch.as_tensor(dout))
    what = f"maxout, x {x.shape}, w {w.shape}, seed {seed}"
    for name, got, want in zip(
        ("out", "dx", "dw", "db"),
        (out, dx, dw, db),
        (out_t.detach(), xt.grad, wt.grad, bt.grad),
        strict=True,
    ):
        assert_close(got, want, 1e-10, f"{what}: {name}")


def test_maxout_with_two_pieces_is_the_slide_formula():
    # max(w1^T x + b1, w2^T x + b2) for one neuron, written out by hand
    x, w1, w2 = rng_arrays(4, (5, 3), (3,), (3,))
    b1, b2 = 0.3, -0.2
    w = np.stack([w1, w2], axis=1).reshape(3, 1, 2)
    out, _ = maxout_forward(x, w, np.array([[b1, b2]]))
    expected = np.maximum(x @ w1 + b1, x @ w2 + b2).reshape(5, 1)
    assert_close(out, expected, 1e-12, "maxout k=2 vs max(w1.x + b1, w2.x + b2)")


def test_maxout_backward_passes_numerical_gradient_check():
    x, w, b = rng_arrays(6, (3, 4), (4, 2, 3), (2, 3))
    out, cache = maxout_forward(x, w, b)
    (dout,) = rng_arrays(7, out.shape)
    dx, dw, db = maxout_backward(dout, cache)
    for name, got, arg in (("dx", dx, 0), ("dw", dw, 1), ("db", db, 2)):
        args = [x, w, b]

        def f(v, arg=arg, args=args):
            return maxout_forward(*[v if i == arg else a for i, a in enumerate(args)])[0]

        assert_close(got, eval_numerical_gradient_array(f, args[arg], dout), 1e-7, f"maxout {name}")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_activation_runs_on_device_in_float32(name, device):
    forward, backward, oracle, strategy = ELEMENTWISE[name]
    params = () if strategy is None else (0.2,)
    x = torch.randn(3, 4, device=device)
    out, cache = forward(x, *params)
    dx = backward(torch.ones_like(out), cache)
    for t in (out, dx):
        assert (t.device.type, t.dtype) == (device, torch.float32), (t.device, t.dtype)
    assert_close(out, oracle(x, *params), 1e-6, f"{name} on {device}")
