"""cnncourse.book.computations: the numbers the chapters and their demos show.

Each result is compared with an oracle that does not go through the function under test:
closed forms (gradient descent on a quadratic, momentum under a constant gradient, the
activations' formulas), block means for area resizing, and the sample statistics of the
batches for batch normalization.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnncourse import optim
from cnncourse.book import computations as C

# --- activation curves ----------------------------------------------------------------------


def test_activation_curves_match_closed_forms():
    x = np.linspace(-5, 5, 41)
    sig = 1 / (1 + np.exp(-x))
    expected = {
        "sigmoid": (sig, sig * (1 - sig)),
        "tanh": (np.tanh(x), 1 - np.tanh(x) ** 2),
        "ReLU": (np.maximum(x, 0), (x > 0).astype(float)),
        "leaky ReLU (0.1)": (np.where(x > 0, x, 0.1 * x), np.where(x > 0, 1.0, 0.1)),
        "ELU (alpha=1)": (np.where(x > 0, x, np.expm1(x)), np.where(x > 0, 1.0, np.exp(x))),
        "maxout (2 pieces)": (
            np.maximum(0.5 * x + 0.5, -1.5 * x - 1.0),
            np.where(0.5 * x + 0.5 >= -1.5 * x - 1.0, 0.5, -1.5),
        ),
    }
    assert set(expected) == set(C.ACTIVATIONS)
    for name, (f, df) in expected.items():
        got_x, got_f, got_df = C.activation_curves(name, x)
        np.testing.assert_array_equal(got_x, x, err_msg=name)
        np.testing.assert_allclose(got_f, f, atol=1e-12, err_msg=f"{name}: f(x)")
        np.testing.assert_allclose(got_df, df, atol=1e-12, err_msg=f"{name}: f'(x)")


def test_activation_curves_default_to_601_points_from_minus_6_to_6():
    x, f, df = C.activation_curves("ReLU")
    assert x.shape == f.shape == df.shape == (601,)
    assert (x[0], x[-1]) == (-6.0, 6.0)


def test_activation_curves_reject_an_unknown_name():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        C.activation_curves("swish")


def test_activations_are_in_the_slides_order():
    # The slides list sigmoid, tanh, ReLU, leaky ReLU, then maxout before ELU; the book's plot
    # and the demo's dropdown follow ACTIVATIONS.
    assert [name.split(" (")[0] for name in C.ACTIVATIONS] == [
        "sigmoid",
        "tanh",
        "ReLU",
        "leaky ReLU",
        "maxout",
        "ELU",
    ]


# --- the ravine, descend and the race -------------------------------------------------------


def test_ravine_is_the_valley_w0_squared_over_20_plus_w1_squared():
    loss, grad = C.ravine([4.0, -3.0])
    assert loss == pytest.approx(16 / 20 + 9)
    np.testing.assert_allclose(grad, [8 / 20, -6.0])


def test_ravine_works_on_a_grid_of_points():
    grid = np.stack(np.meshgrid([-1.0, 2.0, 5.0], [0.5, -1.0]), axis=-1)  # (2, 3, 2)
    loss, grad = C.ravine(grid)
    assert loss.shape == (2, 3) and grad.shape == (2, 3, 2)
    assert loss[1, 2] == pytest.approx(25 / 20 + 1)


def test_ravine_rejects_points_without_two_coordinates():
    with pytest.raises(ValueError, match="2 coordinates"):
        C.ravine([1.0, 2.0, 3.0])


def test_descend_with_sgd_follows_the_closed_form_on_a_quadratic():
    # f(w) = sum(a * w**2) / 2: each step multiplies w by (1 - lr * a)
    a, lr, start, steps = np.array([1.0, 4.0]), 0.1, np.array([3.0, -2.0]), 12
    path = C.descend(optim.sgd, {"learning_rate": lr}, lambda w: a * w, start, steps)
    k = np.arange(steps + 1)[:, None]
    np.testing.assert_allclose(path, start * (1 - lr * a) ** k, rtol=1e-12)


def test_descend_carries_the_rules_state_from_step_to_step():
    # under a constant gradient g, the slides' momentum v_k = (1 - beta^k) g, so
    # w_k = w_0 - lr * g * sum_{j=1..k} (1 - beta^j)
    g, lr, beta, steps = np.array([1.0, -2.0]), 0.5, 0.9, 8
    config = {"learning_rate": lr, "momentum": beta}
    path = C.descend(optim.sgd_momentum, config, lambda w: g, np.zeros(2), steps)
    expected = [-lr * g * sum(1 - beta**j for j in range(1, k + 1)) for k in range(steps + 1)]
    np.testing.assert_allclose(path, np.array(expected), rtol=1e-12, atol=1e-15)


def test_descend_leaves_the_callers_config_as_it_was():
    config = {"learning_rate": 0.1, "momentum": 0.9}
    C.descend(optim.sgd_momentum, config, lambda w: w, [1.0], 3)
    assert config == {"learning_rate": 0.1, "momentum": 0.9}


def test_descend_of_zero_steps_is_the_start():
    path = C.descend(optim.sgd, {"learning_rate": 1.0}, lambda w: w, [1.0, 2.0], 0)
    np.testing.assert_array_equal(path, [[1.0, 2.0]])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rule": "sgd"}, TypeError, "rule"),
        ({"gradient": 3.0}, TypeError, "gradient"),
        ({"config": [("learning_rate", 0.1)]}, TypeError, "config"),
        ({"steps": -1}, ValueError, "steps"),
        ({"steps": 2.5}, TypeError, "steps"),
    ],
)
def test_descend_rejects_bad_arguments_naming_them(kwargs, error, match):
    args = {
        "rule": optim.sgd,
        "config": {"learning_rate": 0.1},
        "gradient": lambda w: w,
        "start": [1.0],
        "steps": 3,
        **kwargs,
    }
    with pytest.raises(error, match=match):
        C.descend(**args)


def test_race_sgd_follows_the_closed_form_on_the_ravine():
    lr, steps = 0.3, 25
    paths = C.race(lr, steps, start=(-9.0, 2.0))
    k = np.arange(steps + 1)
    expected = np.stack([-9.0 * (1 - lr / 10) ** k, 2.0 * (1 - 2 * lr) ** k], axis=1)
    np.testing.assert_allclose(paths["SGD"], expected, rtol=1e-12)


def test_race_runs_every_racer_from_the_start_downhill():
    paths = C.race(0.1, 30, start=(-9.0, 2.0))
    assert list(paths) == list(C.RACERS)
    for name, path in paths.items():
        assert path.shape == (31, 2), name
        np.testing.assert_array_equal(path[0], [-9.0, 2.0], err_msg=name)
        loss_start, _ = C.ravine(path[0])
        loss_end, _ = C.ravine(path[-1])
        assert loss_end < loss_start, f"{name}: {loss_start} -> {loss_end}"


def test_race_is_descend_with_each_racers_rule():
    name, (rule, extra) = "Adam", C.RACERS["Adam"]
    alone = C.descend(
        getattr(optim, rule),
        {"learning_rate": 0.2, **extra},
        lambda w: 2 * w * [1 / 20, 1],
        (-9.0, 2.0),
        10,
    )
    np.testing.assert_allclose(C.race(0.2, 10)[name], alone, rtol=1e-12)


# --- learning-rate schedules ----------------------------------------------------------------


def test_decaying_the_rate_lowers_the_noise_floor():
    constant = C.noisy_regression_run(lambda lr, e: lr, 0.4, epochs=30)
    decayed = C.noisy_regression_run(
        lambda lr, e: optim.cosine_decay(lr, e, total_epochs=30), 0.4, epochs=30
    )
    assert constant.shape == decayed.shape == (30,)
    assert np.all(constant >= -1e-12) and np.all(decayed >= -1e-12)
    assert decayed[-1] < constant[-1] / 10, (constant[-1], decayed[-1])


def test_noisy_regression_run_asks_the_schedule_for_every_epoch():
    asked = []
    C.noisy_regression_run(lambda lr, e: asked.append((lr, e)) or lr, 0.1, epochs=5)
    assert asked == [(0.1, e) for e in range(5)]


def test_noisy_regression_run_rejects_bad_arguments():
    with pytest.raises(TypeError, match="schedule"):
        C.noisy_regression_run(0.1, 0.1)
    with pytest.raises(ValueError, match="epochs"):
        C.noisy_regression_run(lambda lr, e: lr, 0.1, epochs=0)


# --- batch normalization --------------------------------------------------------------------


def test_batchnorm_running_statistics_converge_to_the_features_statistics():
    trace = C.batchnorm_trace(0.9, 300, batch_size=64)
    assert trace.running_mean.shape == trace.running_var.shape == (301, 4)
    np.testing.assert_array_equal(trace.running_mean[0], 0)
    np.testing.assert_allclose(trace.running_mean[-1], C.BN_FEATURE_MEANS, atol=0.6)
    np.testing.assert_allclose(np.sqrt(trace.running_var[-1]), C.BN_FEATURE_STDS, rtol=0.3)


def test_batchnorm_trace_normalises_the_last_batch():
    trace = C.batchnorm_trace(0.9, 5, batch_size=64)
    x = trace.last_input
    expected = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)
    np.testing.assert_allclose(trace.last_output, expected, atol=1e-12)


def test_batchnorm_trace_running_mean_is_the_exponential_average_of_the_batch_means():
    # one feature, two steps: m1 = 0.1 * mean(batch 1), m2 = 0.9 m1 + 0.1 mean(batch 2)
    one = C.batchnorm_trace(0.9, 1, batch_size=8, seed=3, mean=[3.0], std=[2.0])
    two = C.batchnorm_trace(0.9, 2, batch_size=8, seed=3, mean=[3.0], std=[2.0])
    m1 = 0.1 * one.last_input.mean()
    assert one.running_mean[1, 0] == pytest.approx(m1)
    assert two.running_mean[2, 0] == pytest.approx(0.9 * m1 + 0.1 * two.last_input.mean())


def test_batchnorm_trace_takes_any_number_of_features():
    trace = C.batchnorm_trace(0.5, 3, mean=[1.0, 2.0], std=[1.0, 1.0])
    assert trace.running_mean.shape == (4, 2) and trace.last_output.shape == (16, 2)
    assert trace.bn_param["mode"] == "train"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"mean": [1.0, 2.0], "std": [1.0]}, ValueError, "mean and std"),
        ({"steps": -1}, ValueError, "steps"),
        ({"batch_size": 1}, ValueError, "batch_size"),
    ],
)
def test_batchnorm_trace_rejects_bad_arguments(kwargs, error, match):
    args = {"momentum": 0.9, "steps": 3, **kwargs}
    with pytest.raises(error, match=match):
        C.batchnorm_trace(**args)


# --- photos ---------------------------------------------------------------------------------


def test_square_photo_keeps_the_centre_square_of_a_wide_image():
    image = np.zeros((4, 8, 3))
    image[:, 2:6] = 1.0  # the centre 4x4 square is white, the sides black
    out = C.square_photo(image, 4)
    assert out.shape == (3, 4, 4)
    np.testing.assert_array_equal(out, 1.0)


def test_square_photo_resizes_by_block_means():
    gray = np.arange(16.0).reshape(4, 4) / 16
    out = C.square_photo(gray, 2)
    block_means = gray.reshape(2, 2, 2, 2).mean(axis=(1, 3))
    for channel in out:  # a gray image fills the three channels
        np.testing.assert_allclose(channel, block_means, rtol=1e-12)


def test_square_photo_scales_0_to_255_images_to_0_to_1():
    image = np.full((3, 6, 6), 255.0)
    np.testing.assert_allclose(C.square_photo(image, 3), 1.0)


def test_square_photo_loads_a_sample_image_by_name():
    out = C.square_photo("camera", 16)
    assert out.shape == (3, 16, 16)
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize(
    ("image", "size", "error", "match"),
    [
        (np.zeros((2, 4, 4, 3)), 4, ValueError, "shape"),
        (np.zeros((4, 4)), 0, ValueError, "size"),
        (np.zeros((4, 4)), "4", TypeError, "size"),
    ],
)
def test_square_photo_rejects_bad_arguments(image, size, error, match):
    with pytest.raises(error, match=match):
        C.square_photo(image, size)
