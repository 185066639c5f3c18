"""Learning-rate schedules: closed forms, torch's own schedulers, and our LRScheduler wrappers."""

from __future__ import annotations

import io
import math

import pytest
import torch

from cnncourse import optim

EPOCHS = 12


def hand_table(fn, **kw):
    return [fn(1.0, e, **kw) for e in range(6)]


@pytest.mark.parametrize(
    ("schedule", "kwargs", "expected"),
    [
        (optim.step_decay, {"step_size": 2, "gamma": 0.5}, [1, 1, 0.5, 0.5, 0.25, 0.25]),
        (optim.exponential_decay, {}, [0.95**e for e in range(6)]),
        (optim.inverse_time_decay, {"decay_rate": 1.0}, [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 6]),
        (
            optim.inverse_time_decay,
            {"decay_rate": 0.5},
            [1, 1 / 1.5, 1 / 2, 1 / 2.5, 1 / 3, 1 / 3.5],
        ),
        (optim.inverse_sqrt_decay, {}, [1, 2**-0.5, 3**-0.5, 0.5, 5**-0.5, 6**-0.5]),
        (
            optim.cosine_decay,
            {"total_epochs": 4},
            [1, (1 + 2**-0.5) / 2, 0.5, (1 - 2**-0.5) / 2, 0, 0],
        ),
    ],
    ids=["step", "exponential", "inverse-time", "inverse-time-0.5", "inverse-sqrt", "cosine"],
)
def test_schedule_matches_its_closed_form(schedule, kwargs, expected):
    got = hand_table(schedule, **kwargs)
    assert got == pytest.approx(expected, abs=1e-15), f"{schedule.__name__}{kwargs}: {got}"


def test_schedules_scale_with_the_initial_rate():
    assert optim.step_decay(0.3, 25, step_size=10, gamma=0.1) == pytest.approx(0.3 * 0.01)
    assert optim.cosine_decay(0.2, 5, total_epochs=10, min_lr=0.02) == pytest.approx(0.11)


def lrs(scheduler, epochs=EPOCHS):
    seen = []
    for _ in range(epochs):
        seen.append(scheduler.get_last_lr()[0])
        scheduler.optimizer.step()
        scheduler.step()
    return seen


def fresh_optimizer(lr=0.1):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


@pytest.mark.parametrize(
    ("ours", "torch_builtin"),
    [
        (
            lambda o: optim.StepDecayLR(o, step_size=3, gamma=0.5),
            lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
        ),
        (
            lambda o: optim.ExponentialDecayLR(o, gamma=0.95),
            lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.95),
        ),
        (
            lambda o: optim.CosineDecayLR(o, total_epochs=8, min_lr=0.01),
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=8, eta_min=0.01),
        ),
    ],
    ids=["step", "exponential", "cosine"],
)
def test_our_scheduler_matches_torch_builtin(ours, torch_builtin):
    a, b = lrs(ours(fresh_optimizer()), 8), lrs(torch_builtin(fresh_optimizer()), 8)
    assert a == pytest.approx(b, abs=1e-12), f"ours {a}\ntorch {b}"


@pytest.mark.parametrize(
    ("make", "schedule", "kwargs"),
    [
        (lambda o: optim.StepDecayLR(o, 4, 0.1), optim.step_decay, {"step_size": 4, "gamma": 0.1}),
        (lambda o: optim.ExponentialDecayLR(o), optim.exponential_decay, {}),
        (lambda o: optim.InverseTimeDecayLR(o, 0.3), optim.inverse_time_decay, {"decay_rate": 0.3}),
        (lambda o: optim.InverseSqrtDecayLR(o), optim.inverse_sqrt_decay, {}),
        (lambda o: optim.CosineDecayLR(o, 10), optim.cosine_decay, {"total_epochs": 10}),
    ],
    ids=["step", "exponential", "inverse-time", "inverse-sqrt", "cosine"],
)
def test_torch_scheduler_equals_the_plain_function(make, schedule, kwargs):
    got = lrs(make(fresh_optimizer(0.1)))
    expected = [schedule(0.1, e, **kwargs) for e in range(EPOCHS)]
    assert got == pytest.approx(expected, abs=1e-15), f"scheduler {got}\nfunction {expected}"


def test_scheduler_drives_a_cnncourse_optimizer():
    opt = optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    seen = lrs(optim.InverseSqrtDecayLR(opt), 4)
    assert seen == pytest.approx([0.01 / math.sqrt(e + 1) for e in range(4)])


def test_scheduler_state_loads_with_weights_only():
    sched = optim.CosineDecayLR(fresh_optimizer(), total_epochs=5)
    lrs(sched, 2)
    buffer = io.BytesIO()
    torch.save(sched.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    resumed = optim.CosineDecayLR(fresh_optimizer(), total_epochs=5)
    resumed.load_state_dict(state)
    assert resumed.last_epoch == 2
    assert lrs(resumed, 3) == pytest.approx([optim.cosine_decay(0.1, e, 5) for e in (2, 3, 4)])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: optim.step_decay(0.1, -1), "epoch must be a whole number >= 0, got -1"),
        (lambda: optim.step_decay(0.1, 1.5), "epoch must be a whole number"),
        (lambda: optim.exponential_decay(-0.1, 0), "learning_rate must be >= 0"),
        (lambda: optim.step_decay(0.1, 0, step_size=0), "step_size must be > 0, got 0"),
        (lambda: optim.cosine_decay(0.1, 0, total_epochs=0), "total_epochs must be > 0"),
        (lambda: optim.StepDecayLR(fresh_optimizer(), step_size=-2), "step_size must be > 0"),
    ],
)
def test_bad_schedule_arguments_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
