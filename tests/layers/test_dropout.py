"""Inverted dropout: the mask rule, determinism with a seed, and its statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cnncourse.gradcheck import eval_numerical_gradient_array
from cnncourse.layers import dropout_backward, dropout_forward

from ._helpers import DEVICES, assert_close, rng_arrays


def test_train_mode_keeps_where_the_seeded_uniform_is_below_keep_prob():
    # the slide's rule, d = (rand < keep_prob); a = a * d / keep_prob, with the documented
    # generator: torch.Generator(device).manual_seed(seed), torch.rand in x's dtype
    (x,) = rng_arrays(0, (6, 7))
    out, (_, mask) = dropout_forward(x, {"keep_prob": 0.7, "mode": "train", "seed": 42})
    u = torch.rand(x.shape, generator=torch.Generator().manual_seed(42), dtype=torch.float64)
    expected = np.where(u.numpy() < 0.7, x / 0.7, 0.0)
    assert_close(out, expected, 1e-15, "dropout output vs x * (u < 0.7) / 0.7")
    np.testing.assert_array_equal(mask.numpy(), (u < 0.7).numpy().astype(np.float64))


def test_same_seed_gives_the_same_mask_and_another_seed_another():
    x = np.ones((50, 40))
    first, _ = dropout_forward(x, {"keep_prob": 0.5, "mode": "train", "seed": 1})
    again, _ = dropout_forward(x, {"keep_prob": 0.5, "mode": "train", "seed": 1})
    other, _ = dropout_forward(x, {"keep_prob": 0.5, "mode": "train", "seed": 2})
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other), "seeds 1 and 2 gave the same mask"


def test_test_mode_is_the_identity():
    (x,) = rng_arrays(1, (4, 5))
    out, cache = dropout_forward(x, {"keep_prob": 0.3, "mode": "test"})
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(dropout_backward(x, cache), x)


def test_keep_prob_one_keeps_everything():
    (x,) = rng_arrays(1, (4, 5))
    out, _ = dropout_forward(x, {"keep_prob": 1.0, "mode": "train", "seed": 0})
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("keep_prob", [0.1, 0.5, 0.8, 0.95])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kept_fraction_is_binomial_within_five_standard_deviations(keep_prob, seed):
    # the number kept is Binomial(n, p): mean n p, standard deviation sqrt(n p (1 - p));
    # a correct layer falls outside 5 standard deviations with probability below 1e-6
    n = 200_000
    out, (_, mask) = dropout_forward(
        np.ones(n), {"keep_prob": keep_prob, "mode": "train", "seed": seed}
    )
    kept = int(mask.sum())
    sd = math.sqrt(n * keep_prob * (1 - keep_prob))
    assert abs(kept - n * keep_prob) < 5 * sd, (
        f"kept {kept} of {n} with keep_prob {keep_prob}: "
        f"expected {n * keep_prob:.0f} +- {5 * sd:.0f}"
    )
    np.testing.assert_array_equal(np.count_nonzero(out), kept)


@pytest.mark.parametrize("keep_prob", [0.2, 0.5, 0.9])
def test_output_mean_is_unbiased_within_five_standard_errors(keep_prob):
    # out_i - x_i has mean 0 and variance x_i**2 (1 - p) / p, so mean(out - x) has standard
    # error sqrt(sum x_i**2 (1 - p) / p) / n
    n = 200_000
    (x,) = rng_arrays(3, (n,))
    x = x + 1.0  # a non-zero mean, so that a missing 1/keep_prob shows
    out, _ = dropout_forward(x, {"keep_prob": keep_prob, "mode": "train", "seed": 5})
    se = math.sqrt(np.sum(x**2) * (1 - keep_prob) / keep_prob) / n
    diff = float(np.mean(out) - np.mean(x))
    assert abs(diff) < 5 * se, f"mean(out) - mean(x) = {diff:.4g}, standard error {se:.4g}"


def test_backward_passes_numerical_gradient_check_and_uses_the_cached_mask():
    (x, dout) = rng_arrays(4, (5, 6), (5, 6))
    param = {"keep_prob": 0.6, "mode": "train", "seed": 9}
    out, cache = dropout_forward(x, param)
    dx = dropout_backward(dout, cache)
    num_dx = eval_numerical_gradient_array(lambda v: dropout_forward(v, param)[0], x, dout)
    assert_close(dx, num_dx, 1e-7, "dropout dx vs numerical")
    assert np.array_equal(dx == 0, out == 0), "the gradient flows exactly where units were kept"


@pytest.mark.parametrize("device", DEVICES)
def test_seeded_dropout_on_device_is_deterministic_and_keeps_float32(device):
    x = torch.ones(100, 100, device=device)
    param = {"keep_prob": 0.5, "mode": "train", "seed": 3}
    first, _ = dropout_forward(x, param)
    again, _ = dropout_forward(x, param)
    assert first.device.type == device and first.dtype == torch.float32
    assert torch.equal(first, again)
