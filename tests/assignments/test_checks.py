"""The visible self-checks pass correct functions and stop wrong ones with a hint."""

from __future__ import annotations

import numpy as np
import pytest

import cnncourse.layers as L
import cnncourse.optim as O
from cnncourse import checks


def test_rel_error():
    assert checks.rel_error(np.ones(3), np.ones(3)) == 0
    assert checks.rel_error(np.zeros(2), np.zeros(2)) == 0
    assert checks.rel_error([1.0, np.nan], [1.0, 1.0]) == np.inf
    assert checks.rel_error([1.0], [1.0 + 1e-9]) == pytest.approx(5e-10, rel=1e-3)


def test_numerical_gradient_of_a_square():
    x = np.array([1.0, -2.0, 3.0])
    grad = checks.numerical_gradient(lambda: np.sum(x**2), x)
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-6)
    np.testing.assert_array_equal(x, [1.0, -2.0, 3.0])  # restored


def test_the_references_pass_their_own_checks(capsys):
    checks.check_conv_output_size(L.conv_output_size)
    checks.check_conv_forward(L.conv_forward_naive, hidden=True)
    checks.check_conv_backward(L.conv_forward_naive, L.conv_backward_naive, hidden=True)
    checks.check_max_pool_forward(L.max_pool_forward_naive, hidden=True)
    checks.check_max_pool_backward(L.max_pool_forward_naive, L.max_pool_backward_naive, hidden=True)
    checks.check_affine_backward(L.affine_forward, L.affine_backward, hidden=True)
    checks.check_relu_backward(L.relu_forward, L.relu_backward, hidden=True)
    checks.check_softmax_loss(L.softmax_loss, hidden=True)
    checks.check_batchnorm_forward(L.batchnorm_forward, hidden=True)
    checks.check_batchnorm_backward_alt(L.batchnorm_forward, L.batchnorm_backward_alt, hidden=True)
    checks.check_spatial_batchnorm_backward(
        L.spatial_batchnorm_forward, L.spatial_batchnorm_backward, hidden=True
    )
    for name in ("sgd", "sgd_momentum", "rmsprop", "adam"):
        checks.check_update_rule(getattr(O, name), name, hidden=True)
    checks.check_lr_schedule(O.exponential_decay, "exponential")
    out = capsys.readouterr().out
    assert "relative error" in out and "FAIL" not in out


def test_dropout_checks_accept_the_reference():
    checks.check_dropout_forward(L.dropout_forward, hidden=True)
    checks.check_dropout_backward(L.dropout_forward, L.dropout_backward, hidden=True)


def test_a_wrong_conv_fails_with_the_error_and_a_hint(capsys):
    def no_bias(x, w, b, conv_param):
        return L.conv_forward_naive(x, w, np.zeros_like(b), conv_param)

    with pytest.raises(AssertionError, match=r"relative error .* Hint: zero-pad x first"):
        checks.check_conv_forward(no_bias)
    assert "FAIL" in capsys.readouterr().out


def test_a_wrong_shape_is_reported_as_such():
    def flat(x, w, b):
        out, cache = L.affine_forward(x, w, b)
        return out.ravel(), cache

    with pytest.raises(AssertionError, match=r"has shape \(12,\), expected \(4, 3\)"):
        checks.check_affine_forward(flat)


def test_not_implemented_says_so():
    def stub(x):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError, match="relu_forward is not implemented yet"):
        checks.check_relu_forward(stub)


def test_relu_masking_with_the_output_is_caught():
    def forward(x):
        out = np.maximum(0, x)
        return out, out  # caches the output

    def backward(dout, cache):
        return dout * (cache >= 0)

    with pytest.raises(AssertionError, match="INPUT x"):
        checks.check_relu_backward(forward, backward)


def test_adam_without_bias_correction_is_caught():
    def adam(w, dw, config):
        config = dict(config)
        m = config.get("m", np.zeros_like(w)) * 0.9 + 0.1 * dw
        v = config.get("v", np.zeros_like(w)) * 0.999 + 0.001 * dw**2
        config.update(m=m, v=v)
        return w - config["learning_rate"] * m / (np.sqrt(v) + 1e-8), config

    with pytest.raises(AssertionError, match="bias correction"):
        checks.check_update_rule(adam, "adam")


def test_non_inverted_dropout_is_caught():
    def dropout(x, param):
        mask = np.random.default_rng(param.get("seed")).random(x.shape) < param["keep_prob"]
        return (x * mask if param["mode"] == "train" else x), (param, mask)

    with pytest.raises(AssertionError, match="divides the kept units by keep_prob"):
        checks.check_dropout_forward(dropout)


def test_spatial_batchnorm_check_reads_back_both_running_averages():
    def no_running_var(x, gamma, beta, bn_param):
        out, cache = L.spatial_batchnorm_forward(x, gamma, beta, bn_param)
        bn_param.pop("running_var")
        return out, cache

    with pytest.raises(AssertionError, match="bn_param has no 'running_var' after training"):
        checks.check_spatial_batchnorm_forward(no_running_var)

    def stale_running_var(x, gamma, beta, bn_param):
        out, cache = L.spatial_batchnorm_forward(x, gamma, beta, bn_param)
        bn_param["running_var"] = np.ones_like(bn_param["running_var"])
        return out, cache

    with pytest.raises(AssertionError, match="train: running_var relative error"):
        checks.check_spatial_batchnorm_forward(stale_running_var)


def test_adam_check_reads_back_the_step_count():
    def t_not_stored(w, dw, config=None):
        config = dict(config or {})
        t = config.get("t", 0)
        next_w, config = O.adam(w, dw, config)
        config["t"] = t  # the step taken, but the count left behind
        return next_w, config

    with pytest.raises(AssertionError, match=r"step 1: config\['t'\] relative error"):
        checks.check_update_rule(t_not_stored, "adam")
