"""Hidden tests of the optimizers assignment (run by ``cnncourse grade``).

Each update rule runs side by side with ``ref.optim`` for several steps, its state fed back
through ``config``, in float64 and float32, with hyper-parameters the visible checks do not
use. The points of one grade id add up to that test cell's points in
solutions/optimizers/optimizers.ipynb.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnncourse.grading.compare import assert_close, assert_scalar_close

RTOL = {np.float64: 1e-6, np.float32: 1e-3}  # elementwise relative errors


def run_rule(
    student, ref, name, config, shape=(4, 5), steps=10, dtype=np.float64, seed=0, state=()
):
    """Run the student's rule and the reference together; compare w (and state) every step."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape).astype(dtype)
    mine, theirs = dict(config), dict(config)
    w_mine, w_ref = w.copy(), w.copy()
    for step in range(1, steps + 1):
        dw = rng.standard_normal(shape).astype(dtype)
        w_mine, mine = getattr(student, name)(w_mine, dw, mine)
        w_ref, theirs = getattr(ref.optim, name)(w_ref, dw, theirs)
        assert_close(w_mine, w_ref, rtol=RTOL[dtype], name=f"{name}: next_w after step {step}")
        for key in state:
            assert isinstance(mine, dict) and key in mine, f"{name}: config has no {key!r}"
            assert_close(
                mine[key],
                theirs[key],
                rtol=RTOL[dtype],
                name=f"{name}: config[{key!r}] after step {step}",
            )


@pytest.mark.points(1, grade_id="sgd")
def test_sgd(student, ref):
    for k, lr in enumerate([1e-2, 0.5, 1e-4]):
        run_rule(student, ref, "sgd", {"learning_rate": lr}, steps=3, seed=k)
    run_rule(
        student, ref, "sgd", {"learning_rate": 0.1}, shape=(3,), steps=3, dtype=np.float32, seed=5
    )


@pytest.mark.points(2, grade_id="sgd_momentum")
def test_momentum_steps(student, ref):
    for k, (lr, beta) in enumerate([(1e-2, 0.9), (0.1, 0.5), (0.05, 0.99)]):
        run_rule(
            student,
            ref,
            "sgd_momentum",
            {"learning_rate": lr, "momentum": beta},
            seed=10 + k,
            state=("velocity",),
        )


@pytest.mark.points(1, grade_id="sgd_momentum")
def test_momentum_float32(student, ref):
    run_rule(
        student,
        ref,
        "sgd_momentum",
        {"learning_rate": 0.1, "momentum": 0.9},
        shape=(1,),
        dtype=np.float32,
        seed=20,
        state=("velocity",),
    )
    run_rule(
        student,
        ref,
        "sgd_momentum",
        {"learning_rate": 0.1, "momentum": 0.9},
        shape=(2, 3, 2),
        dtype=np.float32,
        seed=21,
        state=("velocity",),
    )


@pytest.mark.points(2, grade_id="rmsprop")
def test_rmsprop_steps(student, ref):
    for k, (lr, decay) in enumerate([(1e-2, 0.99), (1e-3, 0.9), (0.1, 0.5)]):
        config = {"learning_rate": lr, "decay_rate": decay, "epsilon": 1e-8}
        run_rule(student, ref, "rmsprop", config, seed=30 + k, state=("cache",))


@pytest.mark.points(1, grade_id="rmsprop")
def test_rmsprop_float32(student, ref):
    config = {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-6}
    run_rule(
        student, ref, "rmsprop", config, shape=(3, 2), dtype=np.float32, seed=40, state=("cache",)
    )


ADAM = {"learning_rate": 1e-2, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}


@pytest.mark.points(1, grade_id="adam")
def test_adam_first_step(student, ref):
    """After one step the bias-corrected step is learning_rate * sign(dw) for every entry."""
    for k, lr in enumerate([1e-3, 1e-2, 0.1]):
        run_rule(student, ref, "adam", {**ADAM, "learning_rate": lr}, steps=1, seed=50 + k)


@pytest.mark.points(2, grade_id="adam")
def test_adam_many_steps(student, ref):
    run_rule(student, ref, "adam", ADAM, steps=30, seed=60)
    run_rule(student, ref, "adam", {**ADAM, "beta1": 0.5, "beta2": 0.9}, steps=15, seed=61)


@pytest.mark.points(1, grade_id="adam")
def test_adam_moments(student, ref):
    """The moment estimates m and v (before bias correction) and the step count t in config."""
    rng = np.random.default_rng(70)
    w = rng.standard_normal((3, 4))
    mine, theirs = dict(ADAM), dict(ADAM)
    for step in range(1, 6):
        dw = rng.standard_normal(w.shape)
        _, mine = student.adam(w, dw, mine)
        _, theirs = ref.optim.adam(w, dw, theirs)
        for key in ("m", "v"):
            assert isinstance(mine, dict) and key in mine, f"adam: config has no {key!r}"
            assert_close(
                mine[key], theirs[key], rtol=1e-6, name=f"config[{key!r}] after step {step}"
            )
        assert isinstance(mine, dict) and "t" in mine, "adam: config has no 't'"
        assert_scalar_close(
            mine["t"], theirs["t"], rtol=1e-9, name=f"config['t'] after step {step}"
        )


@pytest.mark.points(1, grade_id="adam")
def test_adam_float32(student, ref):
    run_rule(student, ref, "adam", ADAM, shape=(5,), steps=10, dtype=np.float32, seed=80)


EPOCHS = [0, 1, 2, 5, 10, 37, 100]


def check_schedule(student, ref, name, kwargs):
    for lr in (0.1, 1.0, 3e-4):
        for epoch in EPOCHS:
            got = getattr(student, name)(lr, epoch, **kwargs)
            want = getattr(ref.optim, name)(lr, epoch, **kwargs)
            assert_scalar_close(got, want, rtol=1e-9, name=f"{name}({lr}, {epoch}, {kwargs})")


@pytest.mark.points(1, grade_id="lr_schedules")
def test_inverse_time_decay(student, ref):
    for kwargs in ({}, {"decay_rate": 0.5}, {"decay_rate": 2.0}):
        check_schedule(student, ref, "inverse_time_decay", kwargs)


@pytest.mark.points(1, grade_id="lr_schedules")
def test_exponential_decay(student, ref):
    for kwargs in ({}, {"gamma": 0.5}, {"gamma": 0.99}):
        check_schedule(student, ref, "exponential_decay", kwargs)


@pytest.mark.points(1, grade_id="lr_schedules")
def test_inverse_sqrt_decay(student, ref):
    check_schedule(student, ref, "inverse_sqrt_decay", {})
