"""The optimizers assignment's specification: every test cell's cases, points and hints.

Each update rule runs side by side with :mod:`cnncourse.optim` for several steps, its state
fed back through the ``config`` it returns (updated in place or a new dict: both work), with
the weights and every state the rule must keep compared after each step.
"""

from __future__ import annotations

from cnncourse import optim
from cnncourse.checks.runner import Check, assignment, case, checks_of, group

_STATE = {"sgd": (), "sgd_momentum": ("velocity",), "rmsprop": ("cache",), "adam": ("m", "v", "t")}


def _rule(t) -> None:
    name = t.check.functions[0]
    rng = t.rng()
    w = rng.standard_normal(t["w"]).astype(t.dtype)
    mine, theirs = dict(t["config"]), dict(t["config"])
    w_mine, w_ref = w.copy(), w.copy()
    state = t.get("state", _STATE[name])
    for step in range(1, t["steps"] + 1):
        dw = rng.standard_normal(t["w"]).astype(t.dtype)
        w_mine, mine = t.parts(t.call(name, w_mine, dw, mine), 2, "(next_w, config)")
        w_ref, theirs = getattr(optim, name)(w_ref, dw, theirs)
        if t.get("weights", True):
            t.close(w_mine, w_ref, f"next_w after step {step}", hint="next_w")
        for key in state:
            t.require(isinstance(mine, dict) and key in mine, f"config has no {key!r}", "state")
            if key == "t":
                t.scalar_close(mine[key], theirs[key], f"config['t'] after step {step}", 1e-9, "t")
            else:
                t.close(mine[key], theirs[key], f"config[{key!r}] after step {step}", hint="state")


def _rule_check(name: str, hint: str, groups, **hints) -> Check:
    return Check(
        grade_id=name,
        functions=(name,),
        run=_rule,
        hints={"next_w": hint, "state": hint, "returns": "return (next_w, config).", **hints},
        groups=groups,
    )


SGD = _rule_check(
    "sgd",
    "w = w - learning_rate * dw.",
    (
        group(
            "sgd",
            1,
            case(0, config={"learning_rate": 1e-2}, w=(4, 5), steps=3, visible=True),
            case(1, config={"learning_rate": 0.5}, w=(4, 5), steps=3),
            case(2, config={"learning_rate": 1e-4}, w=(4, 5), steps=3),
            case(5, config={"learning_rate": 0.1}, w=(3,), steps=3, dtype="float32"),
        ),
    ),
)


def _momentum(lr, beta):
    return {"learning_rate": lr, "momentum": beta}


SGD_MOMENTUM = _rule_check(
    "sgd_momentum",
    "the slides' averaged momentum: v = momentum * v + (1 - momentum) * dw, w = w - "
    "learning_rate * v; v starts at zeros and lives in config['velocity'].",
    (
        group(
            "momentum_steps",
            2,
            case(10, config=_momentum(1e-2, 0.9), w=(4, 5), steps=10, visible=True),
            case(11, config=_momentum(0.1, 0.5), w=(4, 5), steps=10),
            case(12, config=_momentum(0.05, 0.99), w=(4, 5), steps=10),
        ),
        group(
            "momentum_float32",
            1,
            case(20, config=_momentum(0.1, 0.9), w=(1,), steps=10, dtype="float32"),
            case(21, config=_momentum(0.1, 0.9), w=(2, 3, 2), steps=10, dtype="float32"),
        ),
    ),
)


def _rmsprop(lr, decay, eps=1e-8):
    return {"learning_rate": lr, "decay_rate": decay, "epsilon": eps}


RMSPROP = _rule_check(
    "rmsprop",
    "cache = decay_rate * cache + (1 - decay_rate) * dw**2, w = w - learning_rate * dw / "
    "(sqrt(cache) + epsilon): epsilon outside the square root.",
    (
        group(
            "rmsprop_steps",
            2,
            case(30, config=_rmsprop(1e-2, 0.99), w=(4, 5), steps=10, visible=True),
            case(31, config=_rmsprop(1e-3, 0.9), w=(4, 5), steps=10),
            case(32, config=_rmsprop(0.1, 0.5), w=(4, 5), steps=10),
            case(33, config=_rmsprop(1e-2, 0.99, 1e-4), w=(4, 5), steps=10),  # where eps goes
        ),
        group(
            "rmsprop_float32",
            1,
            case(40, config=_rmsprop(1e-2, 0.99, 1e-6), w=(3, 2), steps=10, dtype="float32"),
        ),
    ),
)

ADAM_CONFIG = {"learning_rate": 1e-2, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
_WEIGHTS_ONLY = ()

ADAM = _rule_check(
    "adam",
    "t += 1 first; m and v are the momentum and RMSprop averages; divide them by (1 - "
    "beta1**t) and (1 - beta2**t) (bias correction), then w = w - learning_rate * m_hat / "
    "(sqrt(v_hat) + epsilon).",
    (
        group(  # after one step the bias-corrected step is learning_rate * sign(dw)
            "adam_first_step",
            1,
            *(
                case(
                    50 + k,
                    config={**ADAM_CONFIG, "learning_rate": lr},
                    w=(4, 5),
                    steps=1,
                    state=_WEIGHTS_ONLY,
                    visible=k == 1,
                )
                for k, lr in enumerate([1e-3, 1e-2, 0.1])
            ),
            case(
                53, config={**ADAM_CONFIG, "epsilon": 1e-4}, w=(4, 5), steps=1, state=_WEIGHTS_ONLY
            ),
        ),
        group(
            "adam_many_steps",
            2,
            case(60, config=ADAM_CONFIG, w=(4, 5), steps=30, state=_WEIGHTS_ONLY, visible=True),
            case(
                61,
                config={**ADAM_CONFIG, "beta1": 0.5, "beta2": 0.9},
                w=(4, 5),
                steps=15,
                state=_WEIGHTS_ONLY,
            ),
            case(
                62, config={**ADAM_CONFIG, "epsilon": 1e-4}, w=(4, 5), steps=15, state=_WEIGHTS_ONLY
            ),
        ),
        group(  # the moments before bias correction and the step count, as config keeps them
            "adam_moments",
            1,
            case(70, config=ADAM_CONFIG, w=(3, 4), steps=5, weights=False, visible=True),
        ),
        group(
            "adam_float32",
            1,
            case(80, config=ADAM_CONFIG, w=(5,), steps=10, dtype="float32", state=_WEIGHTS_ONLY),
        ),
    ),
    t="config['t'] counts the steps taken: 1 after the first call (increment it before using "
    "it in the bias correction).",
)

# ---------------------------------------------------------------- learning-rate schedules

_SCHEDULES = ("inverse_time_decay", "exponential_decay", "inverse_sqrt_decay")


def _schedule(t) -> None:
    name = t["schedule"]
    for lr in t["learning_rates"]:
        for epoch in t["epochs"]:
            got = t.call(name, lr, epoch, **t["kwargs"])
            want = getattr(optim, name)(lr, epoch, **t["kwargs"])
            t.scalar_close(got, want, f"{name}({lr}, {epoch}, **{t['kwargs']})", 1e-9, name)


def _schedule_cases(name: str, *kwargs):
    return tuple(
        case(
            0,
            schedule=name,
            kwargs=kw,
            learning_rates=(0.1, 1.0, 3e-4),
            epochs=(0, 1, 2, 5, 10, 37, 100),
            visible=k == 0,
        )
        for k, kw in enumerate(kwargs)
    )


LR_SCHEDULES = Check(
    grade_id="lr_schedules",
    functions=_SCHEDULES,
    run=_schedule,
    hints={
        "exponential_decay": "learning_rate * gamma ** epoch.",
        "inverse_time_decay": "learning_rate / (1 + decay_rate * epoch).",
        "inverse_sqrt_decay": "learning_rate / sqrt(epoch + 1): the slide counts epochs from "
        "1, the code from 0.",
    },
    groups=(
        group(
            "inverse_time_decay",
            1,
            *_schedule_cases("inverse_time_decay", {}, {"decay_rate": 0.5}, {"decay_rate": 2.0}),
        ),
        group(
            "exponential_decay",
            1,
            *_schedule_cases("exponential_decay", {}, {"gamma": 0.5}, {"gamma": 0.99}),
        ),
        group("inverse_sqrt_decay", 1, *_schedule_cases("inverse_sqrt_decay", {})),
    ),
)

SPEC = assignment("optimizers", SGD, SGD_MOMENTUM, RMSPROP, ADAM, LR_SCHEDULES)
checks_of(globals(), SPEC)
