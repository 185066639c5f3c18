"""Batch normalization: train mode against torch's batch_norm, running statistics on their
own formula, test mode, both backward forms, spatial batch norm."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

from cnncourse.gradcheck import eval_numerical_gradient_array
from cnncourse.layers import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)

from ._helpers import DEVICES, SETTINGS, assert_close, leaf, rng_arrays

BACKWARDS = {"graph": batchnorm_backward, "closed form": batchnorm_backward_alt}


def torch_batch_norm(x, gamma, beta, dout, training, running_mean=None, running_var=None):
    xt, gt, bt = leaf(x), leaf(gamma), leaf(beta)
    rm = None if running_mean is None else torch.as_tensor(running_mean).clone()
    rv = None if running_var is None else torch.as_tensor(running_var).clone()
    out = F.batch_norm(xt, rm, rv, gt, bt, training=training, eps=1e-5)
    out.backward(torch.as_tensor(dout))
    return out.detach(), xt.grad, gt.grad, bt.grad


@pytest.mark.parametrize("backward", BACKWARDS)
@SETTINGS
@given(
    N=st.integers(3, 8),
    D=st.integers(1, 5),
    shift=st.sampled_from([0.0, 5.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_train_mode_matches_torch_batch_norm_in_training(backward, N, D, shift, seed):
    x, gamma, beta, dout = rng_arrays(seed, (N, D), (D,), (D,), (N, D))
    x = 3 * x + shift
    out, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    grads = BACKWARDS[backward](dout, cache)
    expected = torch_batch_norm(x, gamma, beta, dout, training=True)
    what = f"batchnorm train ({backward}), x {x.shape}, seed {seed}"
    for name, got, want in zip(
        ("out", "dx", "dgamma", "dbeta"), (out, *grads), expected, strict=True
    ):
        assert_close(got, want, 1e-10, f"{what}: {name}")


@pytest.mark.parametrize("backward", BACKWARDS)
def test_two_values_per_channel_match_torch_up_to_rounding_of_the_terms(backward):
    # With N = 2, x_hat = +-1 whatever x is: out depends on x only through eps and dx is a
    # near-total cancellation of terms of size dout * gamma / std. Elementwise relative
    # error is meaningless there, so compare against the size of those terms.
    x, gamma, beta, dout = rng_arrays(8, (2, 3), (3,), (3,), (2, 3))
    out, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = BACKWARDS[backward](dout, cache)
    out_t, dx_t, dgamma_t, dbeta_t = torch_batch_norm(x, gamma, beta, dout, training=True)
    scale = np.max(np.abs(dout * gamma / x.std(0)))
    assert np.max(np.abs(dx - dx_t.numpy())) < 1e-10 * scale, (dx, dx_t, scale)
    assert_close(out, out_t, 1e-10, "out")
    assert_close(dgamma, dgamma_t, 1e-10, "dgamma")
    assert_close(dbeta, dbeta_t, 1e-10, "dbeta")


@pytest.mark.parametrize("backward", BACKWARDS)
def test_test_mode_uses_the_running_statistics_like_torch(backward):
    x, gamma, beta, dout, rm, rv = rng_arrays(2, (5, 3), (3,), (3,), (5, 3), (3,), (3,))
    rv = np.abs(rv) + 0.5
    bn_param = {"mode": "test", "running_mean": rm, "running_var": rv}
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    grads = BACKWARDS[backward](dout, cache)
    expected = torch_batch_norm(
        x, gamma, beta, dout, training=False, running_mean=rm, running_var=rv
    )
    for name, got, want in zip(
        ("out", "dx", "dgamma", "dbeta"), (out, *grads), expected, strict=True
    ):
        assert_close(got, want, 1e-10, f"batchnorm test mode ({backward}): {name}")


def test_running_statistics_start_at_zero_follow_the_formula_and_are_written_back():
    # running = momentum * running + (1 - momentum) * batch, biased variance, from zeros
    x1, x2, gamma, beta = rng_arrays(3, (6, 4), (6, 4), (4,), (4,))
    x2 = 2 * x2 + 1
    bn_param = {"mode": "train", "momentum": 0.8}
    batchnorm_forward(x1, gamma, beta, bn_param)
    assert isinstance(bn_param["running_mean"], np.ndarray), type(bn_param["running_mean"])
    batchnorm_forward(x2, gamma, beta, bn_param)
    expected_mean = 0.8 * (0.2 * x1.mean(0)) + 0.2 * x2.mean(0)
    expected_var = 0.8 * (0.2 * x1.var(0)) + 0.2 * x2.var(0)  # numpy's var is the biased one
    assert_close(bn_param["running_mean"], expected_mean, 1e-12, "running_mean")
    assert_close(bn_param["running_var"], expected_var, 1e-12, "running_var")


def test_default_momentum_is_0_9_and_default_eps_is_1e_5():
    x, gamma, beta = rng_arrays(4, (5, 2), (2,), (2,))
    bn_param = {"mode": "train"}
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    assert_close(bn_param["running_mean"], 0.1 * x.mean(0), 1e-12, "running_mean, momentum 0.9")
    expected = gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) + beta
    assert_close(out, expected, 1e-12, "out with eps 1e-5")


@pytest.mark.parametrize("backward", BACKWARDS)
def test_backward_passes_numerical_gradient_check(backward):
    x, gamma, beta, dout = rng_arrays(5, (4, 3), (3,), (3,), (4, 3))
    out, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = BACKWARDS[backward](dout, cache)

    def f(x_, g_, b_):
        return batchnorm_forward(x_, g_, b_, {"mode": "train"})[0]

    assert_close(
        dx, eval_numerical_gradient_array(lambda v: f(v, gamma, beta), x, dout), 1e-7, "dx"
    )
    assert_close(
        dgamma, eval_numerical_gradient_array(lambda v: f(x, v, beta), gamma, dout), 1e-7, "dgamma"
    )
    assert_close(
        dbeta, eval_numerical_gradient_array(lambda v: f(x, gamma, v), beta, dout), 1e-7, "dbeta"
    )


@SETTINGS
@given(N=st.integers(3, 8), D=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_graph_and_closed_form_backward_agree(N, D, seed):
    x, gamma, beta, dout = rng_arrays(seed, (N, D), (D,), (D,), (N, D))
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    for name, a, b in zip(
        ("dx", "dgamma", "dbeta"),
        batchnorm_backward(dout, cache),
        batchnorm_backward_alt(dout, cache),
        strict=True,
    ):
        assert_close(a, b, 1e-10, f"x {x.shape}, seed {seed}: {name}")


@pytest.mark.parametrize("mode", ["train", "test"])
@SETTINGS
@given(
    N=st.integers(1, 3),
    C=st.integers(1, 4),
    H=st.integers(1, 4),
    W=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_spatial_batchnorm_matches_torch_batch_norm(mode, N, C, H, W, seed):
    x, gamma, beta, dout, rm, rv = rng_arrays(
        seed, (N, C, H, W), (C,), (C,), (N, C, H, W), (C,), (C,)
    )
    # 2 values per channel: dx is a near-total cancellation (see
    # test_two_values_per_channel_match_torch_up_to_rounding_of_the_terms); 1: torch refuses.
    assume(mode == "test" or N * H * W >= 3)
    rv = np.abs(rv) + 0.5
    bn_param = {"mode": mode, "running_mean": rm, "running_var": rv}
    out, cache = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    grads = spatial_batchnorm_backward(dout, cache)
    expected = torch_batch_norm(x, gamma, beta, dout, mode == "train", rm, rv)
    what = f"spatial batchnorm {mode}, x {x.shape}, seed {seed}"
    for name, got, want in zip(
        ("out", "dx", "dgamma", "dbeta"), (out, *grads), expected, strict=True
    ):
        assert_close(got, want, 1e-10, f"{what}: {name}")


def test_spatial_running_statistics_are_per_channel_over_n_h_w():
    x, gamma, beta = rng_arrays(6, (2, 3, 4, 5), (3,), (3,))
    bn_param = {"mode": "train", "momentum": 0.5}
    spatial_batchnorm_forward(x, gamma, beta, bn_param)
    assert_close(bn_param["running_mean"], 0.5 * x.mean(axis=(0, 2, 3)), 1e-12, "running_mean")
    assert_close(bn_param["running_var"], 0.5 * x.var(axis=(0, 2, 3)), 1e-12, "running_var")


@pytest.mark.parametrize("device", DEVICES)
def test_batchnorm_on_device_keeps_float32_and_writes_tensors_back(device):
    x = torch.randn(8, 3, device=device)
    gamma, beta = torch.ones(3, device=device), torch.zeros(3, device=device)
    bn_param = {"mode": "train"}
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = batchnorm_backward(torch.ones_like(out), cache)
    for t in (out, dx, dgamma, dbeta, bn_param["running_mean"], bn_param["running_var"]):
        assert (t.device.type, t.dtype) == (device, torch.float32), (t.device, t.dtype)
    expected = F.batch_norm(x, None, None, gamma, beta, training=True)
    assert_close(out, expected, 1e-5, f"batchnorm on {device}")
