"""cnncourse.init: fan-in from the shape, the promised variances, activation statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats as sps

from cnncourse import init


@pytest.mark.parametrize("shape", [(30, 40), (8, 3, 5, 5), (16, 4, 3, 3), (5, 7, 2, 3, 4)])
def test_fans_agree_with_torch(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init.fans(shape) == expected, f"shape {shape}: {init.fans(shape)} vs torch {expected}"


def test_fans_of_a_conv_weight_count_the_receptive_field():
    assert init.fans((64, 3, 11, 11)) == (3 * 11 * 11, 64 * 11 * 11)


@pytest.mark.parametrize("shape", [(5,), ()])
def test_fans_refuse_biases_and_scalars(shape):
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.fans(shape)


def assert_normal_with_variance(w, variance, what):
    sample = np.asarray(w, dtype=np.float64).ravel()
    n = sample.size
    # The sample variance has relative standard error sqrt(2/n); allow 5 of them.
    rel = abs(sample.var() / variance - 1)
    assert rel < 5 * math.sqrt(2 / n), (
        f"{what}: variance {sample.var():.5g}, promised {variance:.5g}"
    )
    assert abs(sample.mean()) < 5 * math.sqrt(variance / n), f"{what}: mean {sample.mean():.3g}"
    p = sps.kstest(sample / math.sqrt(variance), "norm").pvalue
    assert p > 1e-4, f"{what}: not normal (KS p = {p:.2g})"


@pytest.mark.parametrize(
    ("shape", "fan_in", "fan_out"), [((300, 400), 400, 300), ((64, 16, 5, 5), 400, 1600)]
)
def test_xavier_gives_variance_one_over_fan_in(shape, fan_in, fan_out):
    g = torch.Generator().manual_seed(1)
    w = init.xavier_(torch.empty(shape, dtype=torch.float64), generator=g)
    assert_normal_with_variance(w, 1 / fan_in, f"xavier {shape}")


@pytest.mark.parametrize(
    ("shape", "fan_in", "fan_out"), [((300, 400), 400, 300), ((64, 16, 5, 5), 400, 1600)]
)
def test_xavier_fan_avg_gives_glorots_variance(shape, fan_in, fan_out):
    g = torch.Generator().manual_seed(2)
    w = init.xavier_(torch.empty(shape, dtype=torch.float64), mode="fan_avg", generator=g)
    assert_normal_with_variance(w, 2 / (fan_in + fan_out), f"xavier fan_avg {shape}")


@pytest.mark.parametrize(("shape", "fan_in"), [((300, 400), 400), ((64, 16, 5, 5), 400)])
def test_he_gives_variance_two_over_fan_in(shape, fan_in):
    g = torch.Generator().manual_seed(3)
    w = init.he_(torch.empty(shape, dtype=torch.float64), generator=g)
    assert_normal_with_variance(w, 2 / fan_in, f"he {shape}")


def test_initializers_fill_numpy_arrays_in_place():
    w = np.zeros((200, 500), dtype=np.float32)
    out = init.he_(w, generator=torch.Generator().manual_seed(4))
    assert out is w and w.dtype == np.float32
    assert_normal_with_variance(w, 2 / 500, "he on numpy")


def test_same_generator_seed_gives_the_same_weights():
    a = init.xavier_(torch.empty(10, 10), generator=torch.Generator().manual_seed(5))
    b = init.xavier_(torch.empty(10, 10), generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_bad_initializer_arguments_raise():
    with pytest.raises(TypeError, match="torch tensor or a numpy array, got list"):
        init.he_([[1.0, 2.0]])
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_avg', got 'avg'"):
        init.xavier_(torch.empty(3, 3), mode="avg")
    with pytest.raises(TypeError, match="floating-point"):
        init.he_(np.zeros((3, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="scheme must be one of"):
        init.init_weights_(torch.nn.Linear(2, 2), "lecun")


def test_init_weights_sets_every_layer_and_zeroes_biases():
    model = torch.nn.Sequential(
        torch.nn.Conv2d(16, 32, 5), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(400, 300)
    ).double()
    init.init_weights_(model, "he", seed=0)
    assert_normal_with_variance(model[0].weight.detach(), 2 / 400, "conv")
    assert_normal_with_variance(model[3].weight.detach(), 2 / 400, "linear")
    assert not model[0].bias.any() and not model[3].bias.any()


def gaussian_expectation(f, variance):
    """E[f(z)] for z ~ N(0, variance), by Gauss-Hermite quadrature."""
    x, w = np.polynomial.hermite_e.hermegauss(80)
    return float(w @ f(x * math.sqrt(variance)) / math.sqrt(2 * math.pi))


@pytest.mark.parametrize(
    ("nonlinearity", "scheme", "pre_variance", "f"),
    [("relu", "he", 2.0, lambda z: np.maximum(z, 0)), ("tanh", "xavier", 1.0, np.tanh)],
)
def test_first_layer_statistics_match_theory(nonlinearity, scheme, pre_variance, f):
    """Unit-Gaussian input, var(w) = c/n: the first pre-activation is N(0, c)."""
    s = init.activation_stats(nonlinearity, scheme, num_layers=1, width=400, batch_size=2000)
    mean = gaussian_expectation(f, pre_variance)
    std = math.sqrt(gaussian_expectation(lambda z: f(z) ** 2, pre_variance) - mean**2)
    assert s["mean"][0] == pytest.approx(mean, abs=0.02), f"mean {s['mean'][0]} vs {mean}"
    assert s["std"][0] == pytest.approx(std, rel=0.03), f"std {s['std'][0]} vs {std}"


@pytest.fixture(scope="module")
def deep():
    return {
        (nl, scheme): init.activation_stats(nl, scheme, num_layers=10, width=300, batch_size=500)
        for nl in ("tanh", "relu")
        for scheme in ("naive", "xavier", "he")
    }


def test_naive_init_makes_deep_activations_vanish(deep):
    # Each layer scales the std by about 0.01 * sqrt(300) = 0.17; ten layers: ~2e-8.
    for nl in ("tanh", "relu"):
        assert deep[nl, "naive"]["std"][-1] < 1e-5, f"{nl}: {deep[nl, 'naive']['std']}"


def test_xavier_keeps_tanh_activations_alive(deep):
    std = deep["tanh", "xavier"]["std"]
    assert 0.1 < std[-1] < 1.0, f"tanh+xavier stds {std}"


def test_he_keeps_relu_activations_at_scale(deep):
    std = deep["relu", "he"]["std"]
    assert 0.5 < std[-1] / std[0] < 2.0, f"relu+he stds {std}"


def test_xavier_halves_relu_second_moment_each_layer(deep):
    # var(w) = 1/n with ReLU halves E[h^2] per layer: std shrinks by about sqrt(2)^9 over 10.
    std = deep["relu", "xavier"]["std"]
    assert std[-1] / std[0] == pytest.approx(2**-4.5, rel=0.3), f"relu+xavier stds {std}"


def test_activation_stats_returns_plain_data():
    s = init.activation_stats(
        "relu", "he", num_layers=3, width=20, batch_size=10, keep_activations=True
    )
    assert s["layer"] == [1, 2, 3]
    assert all(isinstance(v, float) for v in s["mean"] + s["std"])
    assert [a.shape for a in s["activations"]] == [(10, 20)] * 3


def test_activation_stats_validates_arguments():
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu', got 'elu'"):
        init.activation_stats("elu")
    with pytest.raises(ValueError, match="num_layers must be a whole number >= 1, got 0"):
        init.activation_stats(num_layers=0)
