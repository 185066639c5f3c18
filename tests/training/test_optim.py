"""cnncourse.optim update rules, checked against torch.optim step for step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnncourse import optim

STEPS = 50
TOL = 1e-12


def grad_of(w):
    """Gradient of a non-quadratic loss 0.5 w'Aw + b'w + 0.025 sum(w^4); numpy or torch in."""
    rng = np.random.default_rng(7)
    a = rng.standard_normal((6, 6))
    a = a @ a.T / 6 + np.eye(6)
    b = rng.standard_normal(6)
    if isinstance(w, torch.Tensor):
        a, b = torch.from_numpy(a), torch.from_numpy(b)
    return a @ w + b + 0.1 * w**3


def w0():
    return np.random.default_rng(0).standard_normal(6)


def run_rule(rule, config, steps=STEPS, start=None):
    w = w0() if start is None else start
    path = []
    for _ in range(steps):
        w, config = rule(w, grad_of(w), config)
        path.append(w)
    return np.array(path), config


def run_torch_optimizer(make, steps=STEPS):
    p = torch.tensor(w0(), dtype=torch.float64, requires_grad=True)
    opt = make([p])
    path = []
    for _ in range(steps):
        opt.zero_grad()
        p.grad = grad_of(p.detach()).clone()
        opt.step()
        path.append(p.detach().numpy().copy())
    return np.array(path)


def assert_same_path(ours, theirs, what):
    err = np.abs(ours - theirs).max(axis=1)
    worst = int(err.argmax())
    assert err[worst] <= TOL, (
        f"{what}: step {worst + 1} differs by {err[worst]:.3e}\n"
        f"ours   {ours[worst]}\ntheirs {theirs[worst]}"
    )


# (name, rule, config, torch.optim factory, cnncourse optimizer factory)
CASES = [
    (
        "sgd",
        optim.sgd,
        {"learning_rate": 0.05},
        lambda p: torch.optim.SGD(p, lr=0.05),
        lambda p: optim.SGD(p, lr=0.05),
    ),
    (
        "sgd+wd",
        optim.sgd,
        {"learning_rate": 0.05, "weight_decay": 0.1},
        lambda p: torch.optim.SGD(p, lr=0.05, weight_decay=0.1),
        lambda p: optim.SGD(p, lr=0.05, weight_decay=0.1),
    ),
    (
        "momentum",
        optim.sgd_momentum,
        {"learning_rate": 0.02, "momentum": 0.9, "dampening": 0},
        lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9),
        lambda p: optim.SGDMomentum(p, lr=0.02, momentum=0.9, dampening=0),
    ),
    (
        "momentum+wd",
        optim.sgd_momentum,
        {"learning_rate": 0.02, "momentum": 0.8, "dampening": 0, "weight_decay": 0.05},
        lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.8, weight_decay=0.05),
        lambda p: optim.SGDMomentum(p, lr=0.02, momentum=0.8, dampening=0, weight_decay=0.05),
    ),
    (
        "nesterov",
        optim.sgd_momentum,
        {"learning_rate": 0.02, "momentum": 0.9, "dampening": 0, "nesterov": True},
        lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9, nesterov=True),
        lambda p: optim.SGDMomentum(p, lr=0.02, momentum=0.9, dampening=0, nesterov=True),
    ),
    (
        "rmsprop",
        optim.rmsprop,
        {"learning_rate": 0.01, "decay_rate": 0.99, "epsilon": 1e-8},
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.99, eps=1e-8),
        lambda p: optim.RMSprop(p, lr=0.01),
    ),
    (
        "rmsprop decay 0.9 +wd",
        optim.rmsprop,
        {"learning_rate": 0.01, "decay_rate": 0.9, "epsilon": 1e-6, "weight_decay": 0.1},
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1),
        lambda p: optim.RMSprop(p, lr=0.01, decay_rate=0.9, epsilon=1e-6, weight_decay=0.1),
    ),
    (
        "adam",
        optim.adam,
        {"learning_rate": 0.05},
        lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.9, 0.999), eps=1e-8),
        lambda p: optim.Adam(p, lr=0.05),
    ),
    (
        "adam betas+wd",
        optim.adam,
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6, "weight_decay": 0.1},
        lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        lambda p: optim.Adam(p, lr=0.05, beta1=0.8, beta2=0.99, epsilon=1e-6, weight_decay=0.1),
    ),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize(("name", "rule", "config", "torch_opt", "our_opt"), CASES, ids=IDS)
def test_numpy_rule_matches_torch_optim_for_50_steps(name, rule, config, torch_opt, our_opt):
    ours, _ = run_rule(rule, dict(config))
    assert_same_path(ours, run_torch_optimizer(torch_opt), f"{name} numpy rule vs torch.optim")


@pytest.mark.parametrize(("name", "rule", "config", "torch_opt", "our_opt"), CASES, ids=IDS)
def test_optimizer_subclass_matches_torch_optim_for_50_steps(
    name, rule, config, torch_opt, our_opt
):
    ours = run_torch_optimizer(our_opt)
    assert_same_path(ours, run_torch_optimizer(torch_opt), f"{name} optimizer vs torch.optim")


@pytest.mark.parametrize(("name", "rule", "config", "torch_opt", "our_opt"), CASES, ids=IDS)
def test_rule_on_tensors_matches_rule_on_arrays(name, rule, config, torch_opt, our_opt):
    on_arrays, _ = run_rule(rule, dict(config), steps=5)
    w, state = torch.from_numpy(w0()), dict(config)
    for step in range(5):
        w, state = rule(w, grad_of(w), state)
        assert isinstance(w, torch.Tensor), f"{name} step {step + 1} returned {type(w)}"
        assert_same_path(w.numpy()[None], on_arrays[step][None], f"{name} step {step + 1}")


def test_averaged_momentum_is_the_slides_exponential_average():
    """v_t = (1-b) sum_k b^(t-k) g_k from v_0 = 0, and w_t = w_0 - lr sum_s v_s."""
    lr, beta, steps = 0.1, 0.9, 50
    grads = np.random.default_rng(3).standard_normal((steps, 4))
    w, config = np.zeros(4), {"learning_rate": lr, "momentum": beta}
    for t in range(1, steps + 1):
        w, config = optim.sgd_momentum(w, grads[t - 1], config)
        weights = (1 - beta) * beta ** (t - np.arange(1, t + 1))
        v_closed = weights @ grads[:t]
        err = np.abs(config["velocity"] - v_closed).max()
        assert err <= TOL, f"step {t}: velocity {config['velocity']} vs closed form {v_closed}"
    vs = [(1 - beta) * (beta ** (s - np.arange(1, s + 1))) @ grads[:s] for s in range(1, steps + 1)]
    w_closed = -lr * np.sum(vs, axis=0)
    assert np.abs(w - w_closed).max() <= TOL, f"w {w} vs closed form {w_closed}"


def test_averaged_momentum_differs_from_torch_only_in_the_first_step():
    """torch's SGD(momentum=b, dampening=b) starts its buffer at g_1, the slides at 0."""
    lr, beta = 0.1, 0.9
    grads = np.random.default_rng(4).standard_normal((5, 3))
    p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr, momentum=beta, dampening=beta)
    config = {"learning_rate": lr, "momentum": beta}
    w = np.zeros(3)
    for g in grads:
        p.grad = torch.from_numpy(g.copy())
        opt.step()
        w, config = optim.sgd_momentum(w, g, config)
    torch_buffer = opt.state[p]["momentum_buffer"].numpy()
    # torch's buffer carries the first gradient with weight b^4 instead of (1-b) b^4.
    expected_gap = (beta**4 - (1 - beta) * beta**4) * grads[0]
    assert np.abs(torch_buffer - config["velocity"] - expected_gap).max() <= TOL


def test_defaults_are_filled_in_and_state_starts_at_zero():
    w = np.ones((2, 3))
    _, config = optim.adam(w, np.zeros_like(w))
    assert config["learning_rate"] == 1e-3
    assert (config["beta1"], config["beta2"], config["epsilon"]) == (0.9, 0.999, 1e-8)
    assert config["t"] == 1
    assert np.array_equal(config["m"], np.zeros((2, 3)))
    _, config = optim.sgd_momentum(w, np.zeros_like(w))
    assert (config["momentum"], config["dampening"]) == (0.9, 0.9)
    _, config = optim.rmsprop(w, np.zeros_like(w))
    assert config["decay_rate"] == 0.99


def test_rules_leave_the_callers_config_and_arrays_unchanged():
    w, dw = np.ones(3), np.full(3, 0.5)
    velocity = np.full(3, 0.25)
    config = {"learning_rate": 0.1, "momentum": 0.9, "velocity": velocity}
    before = {k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in config.items()}
    next_w, new_config = optim.sgd_momentum(w, dw, config)
    assert new_config is not config
    assert set(config) == set(before), f"keys added to the caller's dict: {set(config)}"
    assert np.array_equal(config["velocity"], before["velocity"])
    assert np.array_equal(w, np.ones(3)) and next_w is not w


@pytest.mark.parametrize("rule", [optim.sgd, optim.sgd_momentum, optim.rmsprop, optim.adam])
def test_same_kind_and_dtype_out(rule):
    w32 = np.ones((2, 2), dtype=np.float32)
    next_w, config = rule(w32, w32)
    assert isinstance(next_w, np.ndarray) and next_w.dtype == np.float32
    t32 = torch.ones(2, 2, dtype=torch.float32)
    next_t, config = rule(t32, t32)
    assert isinstance(next_t, torch.Tensor) and next_t.dtype == torch.float32
    for value in config.values():
        assert not isinstance(value, np.ndarray), f"numpy state {value!r} for a tensor w"


@pytest.mark.parametrize(
    ("rule", "config", "message"),
    [
        (optim.sgd, {"learning_rate": -1.0}, "learning_rate"),
        (optim.sgd, {"learning_rate": float("nan")}, "learning_rate"),
        (optim.sgd, {"weight_decay": -0.1}, "weight_decay"),
        (optim.sgd_momentum, {"momentum": 1.0}, "momentum"),
        (optim.sgd_momentum, {"dampening": 1.5}, "dampening"),
        (optim.sgd_momentum, {"nesterov": True}, "nesterov"),
        (optim.rmsprop, {"decay_rate": 1.0}, "decay_rate"),
        (optim.rmsprop, {"epsilon": -1e-8}, "epsilon"),
        (optim.adam, {"beta1": 1.0}, "beta1"),
        (optim.adam, {"beta2": -0.1}, "beta2"),
        (optim.adam, {"t": -1}, "t"),
        (optim.adam, {"lr": 0.1}, "unknown config keys ['lr']"),
    ],
)
def test_bad_hyper_parameters_raise_value_error_naming_them(rule, config, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        rule(np.ones(2), np.ones(2), config)


def test_bad_arrays_raise_clear_errors():
    with pytest.raises(TypeError, match="w must be a numpy array or a torch tensor, got list"):
        optim.sgd([1.0, 2.0], np.ones(2))
    with pytest.raises(ValueError, match=r"dw must have the shape of w \(2,\), got \(3,\)"):
        optim.sgd(np.ones(2), np.ones(3))
    with pytest.raises(TypeError, match="same kind"):
        optim.sgd(np.ones(2), torch.ones(2))
    with pytest.raises(TypeError, match="floating-point"):
        optim.sgd(np.ones(2, dtype=np.int64), np.ones(2, dtype=np.int64))
    with pytest.raises(TypeError, match="config must be a dict"):
        optim.sgd(np.ones(2), np.ones(2), [("learning_rate", 1.0)])
    with pytest.raises(ValueError, match=r"config\['velocity'\] must have the shape"):
        optim.sgd_momentum(np.ones(2), np.ones(2), {"velocity": np.zeros(3)})


def test_optimizer_subclass_validates_at_construction():
    p = torch.nn.Parameter(torch.ones(2))
    with pytest.raises(ValueError, match="beta1"):
        optim.Adam([p], beta1=1.5)
    with pytest.raises(ValueError, match="learning_rate"):
        optim.SGD([p], lr=-0.1)


def test_optimizer_state_dict_round_trips():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(4, 3)).sum().backward()
        opt.step()
    clone = torch.nn.Linear(3, 2)
    clone.load_state_dict(model.state_dict())
    opt2 = optim.Adam(clone.parameters(), lr=0.01)
    opt2.load_state_dict(opt.state_dict())
    x = torch.randn(4, 3)
    for m, o in ((model, opt), (clone, opt2)):
        o.zero_grad()
        m(x).sum().backward()
        o.step()
    assert torch.equal(model.weight, clone.weight)
    assert opt2.state[clone.weight]["t"] == 4
