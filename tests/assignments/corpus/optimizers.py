"""The optimizers assignment: SGD, momentum, RMSprop, Adam and learning-rate schedules."""

from __future__ import annotations

from corpus.model import Assignment, Bug

SGD = [
    """
def sgd(w, dw, config=None):
    if config is None:
        config = {}
    return w - config.get("learning_rate", 1e-2) * dw, config
""",
    # a fresh config, an in-place step on a copy of w
    """
def sgd(w, dw, config=None):
    config = dict(config or {})
    config.setdefault("learning_rate", 1e-2)
    next_w = w.copy()
    next_w -= config["learning_rate"] * dw
    return next_w, config
""",
    """
def sgd(w, dw, config=None):
    config = {"learning_rate": 1e-2, **(config or {})}
    next_w = np.subtract(w, np.multiply(config["learning_rate"], dw))
    return next_w, config
""",
    # float32 arithmetic for float32 weights
    """
def sgd(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    lr = w.dtype.type(config["learning_rate"])
    return w - lr * dw, config
""",
    """
def sgd(w, dw, config=None):
    if not config:
        config = {"learning_rate": 1e-2}
    step = -config.get("learning_rate", 1e-2)
    return w + step * dw, config
""",
]

MOMENTUM = [
    """
def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v + (1 - config["momentum"]) * dw
    config["velocity"] = v
    return w - config["learning_rate"] * v, config
""",
    # a new config dict every step
    """
def sgd_momentum(w, dw, config=None):
    old = config or {}
    lr, beta = old.get("learning_rate", 1e-2), old.get("momentum", 0.9)
    velocity = old.get("velocity")
    if velocity is None:
        velocity = np.zeros(w.shape, dtype=w.dtype)
    velocity = beta * velocity + (1.0 - beta) * dw
    return w - lr * velocity, {**old, "learning_rate": lr, "momentum": beta, "velocity": velocity}
""",
    # in-place updates of a copied velocity
    """
def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    if "velocity" in config:
        v = np.array(config["velocity"], copy=True)
    else:
        v = np.zeros_like(w)
    v *= config["momentum"]
    v += (1 - config["momentum"]) * dw
    next_w = w.copy()
    next_w -= config["learning_rate"] * v
    config["velocity"] = v
    return next_w, config
""",
    # the moving average written as a step towards dw
    """
def sgd_momentum(w, dw, config=None):
    config = {} if config is None else config
    beta = config.setdefault("momentum", 0.9)
    lr = config.setdefault("learning_rate", 1e-2)
    v = config.get("velocity")
    v = np.zeros_like(w) if v is None else v
    v = v + (1 - beta) * (dw - v)
    config["velocity"] = v
    return w - lr * v, config
""",
    # float32 arithmetic for float32 weights
    """
def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    t = w.dtype.type
    beta, lr = t(config["momentum"]), t(config["learning_rate"])
    v = config.get("velocity")
    if v is None:
        v = np.zeros(w.shape, w.dtype)
    v = beta * v + (t(1) - beta) * dw
    config["velocity"] = v
    return w - lr * v, config
""",
]

RMSPROP = [
    """
def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    cache = config.get("cache", np.zeros_like(w))
    cache = config["decay_rate"] * cache + (1 - config["decay_rate"]) * dw**2
    config["cache"] = cache
    next_w = w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    return next_w, config
""",
    # the average written as a step towards dw**2, updated in place
    """
def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    cache = np.array(config.get("cache", np.zeros_like(w)), copy=True)
    cache += (1 - config["decay_rate"]) * (dw * dw - cache)
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config
""",
    # a new config dict, numpy's ufuncs
    """
def rmsprop(w, dw, config=None):
    cfg = {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}
    cfg.update(config or {})
    grad_sq = cfg.get("cache")
    if grad_sq is None:
        grad_sq = np.zeros_like(w)
    grad_sq = np.add(cfg["decay_rate"] * grad_sq, (1 - cfg["decay_rate"]) * np.square(dw))
    step = np.divide(dw, np.add(np.sqrt(grad_sq), cfg["epsilon"]))
    cfg["cache"] = grad_sq
    return w - cfg["learning_rate"] * step, cfg
""",
    # float32 arithmetic for float32 weights
    """
def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    for key, value in (("learning_rate", 1e-2), ("decay_rate", 0.99), ("epsilon", 1e-8)):
        config.setdefault(key, value)
    f = w.dtype.type
    rho, lr, eps = f(config["decay_rate"]), f(config["learning_rate"]), f(config["epsilon"])
    s = config.get("cache")
    if s is None:
        s = np.zeros_like(w)
    s = rho * s + (f(1) - rho) * dw * dw
    config["cache"] = s
    return w - lr * dw / (np.sqrt(s) + eps), config
""",
    # config.update with everything at once
    """
def rmsprop(w, dw, config=None):
    config = config if config is not None else {}
    lr = config.get("learning_rate", 1e-2)
    decay = config.get("decay_rate", 0.99)
    eps = config.get("epsilon", 1e-8)
    previous = config["cache"] if "cache" in config else 0.0 * w
    cache = decay * previous + (1 - decay) * np.power(dw, 2)
    next_w = w - lr * dw / (eps + cache**0.5)
    config.update(learning_rate=lr, decay_rate=decay, epsilon=eps, cache=cache)
    return next_w, config
""",
]

ADAM = [
    """
def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("t", 0)
    m = config.get("m", np.zeros_like(w))
    v = config.get("v", np.zeros_like(w))
    config["t"] += 1
    t, b1, b2 = config["t"], config["beta1"], config["beta2"]
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    m_hat = m / (1 - b1**t)
    v_hat = v / (1 - b2**t)
    config["m"], config["v"] = m, v
    return w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"]), config
""",
    # the bias correction folded into the step size (Kingma and Ba, section 2)
    """
def adam(w, dw, config=None):
    if config is None:
        config = {}
    lr = config.setdefault("learning_rate", 1e-3)
    b1 = config.setdefault("beta1", 0.9)
    b2 = config.setdefault("beta2", 0.999)
    eps = config.setdefault("epsilon", 1e-8)
    t = config.get("t", 0) + 1
    m = b1 * config.get("m", 0) + (1 - b1) * dw
    v = b2 * config.get("v", 0) + (1 - b2) * dw * dw
    step = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
    eps_hat = eps * np.sqrt(1 - b2**t)
    next_w = w - step * m / (np.sqrt(v) + eps_hat)
    config.update(t=t, m=m, v=v)
    return next_w, config
""",
    # a new config dict every step
    """
def adam(w, dw, config=None):
    defaults = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0}
    c = {**defaults, **(config or {})}
    m = c["m"] if "m" in c else np.zeros_like(w)
    v = c["v"] if "v" in c else np.zeros_like(w)
    t = c["t"] + 1
    m = c["beta1"] * m + (1 - c["beta1"]) * dw
    v = c["beta2"] * v + (1 - c["beta2"]) * (dw**2)
    m_hat = m / (1 - c["beta1"] ** t)
    v_hat = v / (1 - c["beta2"] ** t)
    next_w = w - c["learning_rate"] * m_hat / (np.sqrt(v_hat) + c["epsilon"])
    return next_w, {**c, "m": m, "v": v, "t": t}
""",
    # float32 arithmetic for float32 weights
    """
def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("t", 0)
    f = w.dtype.type
    b1, b2 = f(config["beta1"]), f(config["beta2"])
    lr, eps = f(config["learning_rate"]), f(config["epsilon"])
    m = config.get("m")
    v = config.get("v")
    m = np.zeros_like(w) if m is None else m
    v = np.zeros_like(w) if v is None else v
    t = config["t"] + 1
    m = b1 * m + (f(1) - b1) * dw
    v = b2 * v + (f(1) - b2) * dw * dw
    m_hat = m / (f(1) - b1**t)
    v_hat = v / (f(1) - b2**t)
    config.update(m=m, v=v, t=t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), config
""",
    # moments updated in place on copies
    """
def adam(w, dw, config=None):
    if config is None:
        config = {}
    for key, default in [("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999),
                         ("epsilon", 1e-8), ("t", 0)]:
        if key not in config:
            config[key] = default
    m = np.array(config["m"], copy=True) if "m" in config else np.zeros_like(w)
    v = np.array(config["v"], copy=True) if "v" in config else np.zeros_like(w)
    beta1, beta2 = config["beta1"], config["beta2"]
    config["t"] = config["t"] + 1
    m *= beta1
    m += (1 - beta1) * dw
    v *= beta2
    v += (1 - beta2) * np.square(dw)
    config["m"], config["v"] = m, v
    denom = np.sqrt(v / (1 - beta2 ** config["t"])) + config["epsilon"]
    next_w = w - config["learning_rate"] * (m / (1 - beta1 ** config["t"])) / denom
    return next_w, config
""",
]

SCHEDULES = [
    """
def inverse_time_decay(learning_rate, epoch, decay_rate=1.0):
    return learning_rate / (1.0 + decay_rate * epoch)


def exponential_decay(learning_rate, epoch, gamma=0.95):
    return learning_rate * gamma**epoch


def inverse_sqrt_decay(learning_rate, epoch):
    return learning_rate / np.sqrt(epoch + 1)
""",
    """
import math


def inverse_time_decay(learning_rate, epoch, decay_rate=1.0):
    return learning_rate * (1 + decay_rate * epoch) ** -1


def exponential_decay(learning_rate, epoch, gamma=0.95):
    return learning_rate * math.exp(epoch * math.log(gamma))


def inverse_sqrt_decay(learning_rate, epoch):
    return learning_rate * (epoch + 1) ** -0.5
""",
    """
def inverse_time_decay(learning_rate, epoch, decay_rate=1.0):
    denominator = 1.0
    denominator += decay_rate * epoch
    return learning_rate / denominator


def exponential_decay(learning_rate, epoch, gamma=0.95):
    lr = learning_rate
    for _ in range(epoch):
        lr *= gamma
    return lr


def inverse_sqrt_decay(learning_rate, epoch):
    return learning_rate / (epoch + 1) ** 0.5
""",
    """
import math


def inverse_time_decay(learning_rate, epoch, decay_rate=1.0):
    return float(np.divide(learning_rate, np.add(1, np.multiply(decay_rate, epoch))))


def exponential_decay(learning_rate, epoch, gamma=0.95):
    return learning_rate * math.pow(gamma, epoch)


def inverse_sqrt_decay(learning_rate, epoch):
    return learning_rate / math.sqrt(epoch + 1)
""",
    """
def inverse_time_decay(learning_rate, epoch, decay_rate=1.0):
    return np.float64(learning_rate) / (1 + decay_rate * np.float64(epoch))


def exponential_decay(learning_rate, epoch, gamma=0.95):
    return np.power(gamma, epoch, dtype=np.float64) * learning_rate


def inverse_sqrt_decay(learning_rate, epoch):
    return learning_rate * np.reciprocal(np.sqrt(np.float64(epoch) + 1.0))
""",
]

BUGS = (
    # ------------------------------------------------------------ sgd
    Bug(
        "sgd_ascends",
        "ans_sgd",
        "adds the gradient: w + learning_rate * dw (gradient ascent)",
        cells=frozenset({"sgd"}),
        base=0,
        edits=(
            (
                'return w - config.get("learning_rate", 1e-2) * dw',
                'return w + config.get("learning_rate", 1e-2) * dw',
            ),
        ),
    ),
    Bug(
        "sgd_fixed_rate",
        "ans_sgd",
        "steps with the default 1e-2 whatever config says",
        cells=frozenset({"sgd"}),
        base=1,
        edits=(('next_w -= config["learning_rate"] * dw', "next_w -= 1e-2 * dw"),),
    ),
    Bug(
        "sgd_sign",
        "ans_sgd",
        "steps by learning_rate * sign(dw)",
        cells=frozenset({"sgd"}),
        base=2,
        edits=(
            (
                'np.multiply(config["learning_rate"], dw)',
                'np.multiply(config["learning_rate"], np.sign(dw))',
            ),
        ),
    ),
    # ------------------------------------------------------------ momentum
    Bug(
        "momentum_classic",
        "ans_sgd_momentum",
        "v = momentum * v + dw (classical momentum, not the slides' average)",
        cells=frozenset({"sgd_momentum"}),
        base=0,
        edits=(('+ (1 - config["momentum"]) * dw', "+ dw"),),
    ),
    Bug(
        "momentum_velocity_not_stored",
        "ans_sgd_momentum",
        "never writes the velocity back: every step starts again from zero",
        cells=frozenset({"sgd_momentum"}),
        base=2,
        edits=(('    config["velocity"] = v\n', ""),),
    ),
    Bug(
        "momentum_steps_with_dw",
        "ans_sgd_momentum",
        "keeps the velocity but steps with dw",
        cells=frozenset({"sgd_momentum"}),
        base=1,
        edits=(("return w - lr * velocity,", "return w - lr * dw,"),),
    ),
    Bug(
        "momentum_cs231n_form",
        "ans_sgd_momentum",
        "v = momentum * v - learning_rate * dw, w + v: another method than the one asked for",
        cells=frozenset({"sgd_momentum"}),
        base=3,
        edits=(
            ("    v = v + (1 - beta) * (dw - v)\n", "    v = beta * v - lr * dw\n"),
            ("return w - lr * v, config", "return w + v, config"),
        ),
    ),
    # ------------------------------------------------------------ rmsprop
    Bug(
        "rmsprop_eps_inside_sqrt",
        "ans_rmsprop",
        "puts epsilon inside the square root: sqrt(cache + eps); the float32 test, at its "
        "tolerance, cannot see the difference",
        tests=frozenset({"test_rmsprop_steps"}),
        base=0,
        edits=(('(np.sqrt(cache) + config["epsilon"])', 'np.sqrt(cache + config["epsilon"])'),),
    ),
    Bug(
        "rmsprop_decay_swapped",
        "ans_rmsprop",
        "weights the old average by 1 - decay_rate and the new gradient by decay_rate",
        cells=frozenset({"rmsprop"}),
        base=2,
        edits=(
            (
                'np.add(cfg["decay_rate"] * grad_sq, (1 - cfg["decay_rate"]) * np.square(dw))',
                'np.add((1 - cfg["decay_rate"]) * grad_sq, cfg["decay_rate"] * np.square(dw))',
            ),
        ),
    ),
    Bug(
        "rmsprop_not_squared",
        "ans_rmsprop",
        "averages |dw| instead of dw**2",
        cells=frozenset({"rmsprop"}),
        base=4,
        edits=(("np.power(dw, 2)", "np.abs(dw)"),),
    ),
    Bug(
        "rmsprop_cache_not_stored",
        "ans_rmsprop",
        "returns the new cache but leaves config's untouched",
        cells=frozenset({"rmsprop"}),
        base=3,
        edits=(('    config["cache"] = s\n', ""),),
    ),
    # ------------------------------------------------------------ adam
    Bug(
        "adam_t_after_use",
        "ans_adam",
        "increments t after the bias correction: the first step divides by 1 - beta**0 = 0 "
        "(NaN); the moments and the stored t are right",
        tests=frozenset({"test_adam_first_step", "test_adam_many_steps", "test_adam_float32"}),
        base=2,
        edits=(('    t = c["t"] + 1\n', '    t = c["t"]\n'), ('"t": t}', '"t": t + 1}')),
    ),
    Bug(
        "adam_no_bias_correction",
        "ans_adam",
        "steps with m / (sqrt(v) + eps), no bias correction: every update is wrong (the "
        "first about 3.16 times too long), the moments and t are right",
        tests=frozenset({"test_adam_first_step", "test_adam_many_steps", "test_adam_float32"}),
        cells=frozenset(),
        base=0,
        edits=(
            (
                "    m_hat = m / (1 - b1**t)\n    v_hat = v / (1 - b2**t)\n",
                "    m_hat, v_hat = m, v\n",
            ),
        ),
    ),
    Bug(
        "adam_never_stores_t",
        "ans_adam",
        "computes t = config['t'] + 1 but never writes it back: the first step and the "
        "moments are right, every later update and the step count are wrong",
        tests=frozenset({"test_adam_many_steps", "test_adam_moments", "test_adam_float32"}),
        edits=(('    config["t"] = t\n', ""),),
    ),
    Bug(
        "adam_eps_inside_sqrt",
        "ans_adam",
        "sqrt(v_hat + eps) instead of sqrt(v_hat) + eps: the float32 test, at its "
        "tolerance, cannot see it; the moments are right",
        tests=frozenset({"test_adam_first_step", "test_adam_many_steps"}),
        base=4,
        edits=(
            (
                'denom = np.sqrt(v / (1 - beta2 ** config["t"])) + config["epsilon"]',
                'denom = np.sqrt(v / (1 - beta2 ** config["t"]) + config["epsilon"])',
            ),
        ),
    ),
    Bug(
        "adam_v_of_abs",
        "ans_adam",
        "the second moment averages |dw| instead of dw**2",
        cells=frozenset({"adam"}),
        base=3,
        edits=(("v = b2 * v + (f(1) - b2) * dw * dw", "v = b2 * v + (f(1) - b2) * np.abs(dw)"),),
    ),
    # ------------------------------------------------------------ schedules
    Bug(
        "inverse_sqrt_from_zero",
        "ans_schedules",
        function="inverse_sqrt_decay",
        why="divides by sqrt(epoch) (the slides count epochs from 1, the code from 0): "
        "infinite at epoch 0",
        tests=frozenset({"test_inverse_sqrt_decay"}),
        base=0,
        edits=(("np.sqrt(epoch + 1)", "np.sqrt(epoch)"),),
    ),
    Bug(
        "exponential_off_by_one",
        "ans_schedules",
        function="exponential_decay",
        why="decays once too often: gamma ** (epoch + 1)",
        tests=frozenset({"test_exponential_decay"}),
        base=2,
        edits=(("for _ in range(epoch):", "for _ in range(epoch + 1):"),),
    ),
    Bug(
        "inverse_time_ignores_rate",
        "ans_schedules",
        function="inverse_time_decay",
        why="ignores decay_rate: learning_rate / (1 + epoch)",
        tests=frozenset({"test_inverse_time_decay"}),
        base=1,
        edits=(("(1 + decay_rate * epoch) ** -1", "(1 + epoch) ** -1"),),
    ),
    Bug(
        "inverse_time_precedence",
        "ans_schedules",
        function="inverse_time_decay",
        why="learning_rate / 1 + decay_rate * epoch: a missing pair of brackets",
        tests=frozenset({"test_inverse_time_decay"}),
        base=3,
        edits=(
            (
                "np.divide(learning_rate, np.add(1, np.multiply(decay_rate, epoch)))",
                "np.add(np.divide(learning_rate, 1), np.multiply(decay_rate, epoch))",
            ),
        ),
    ),
    Bug(
        "exponential_linear",
        "ans_schedules",
        function="exponential_decay",
        why="learning_rate * gamma * epoch: multiplies where it should raise to a power",
        tests=frozenset({"test_exponential_decay"}),
        base=4,
        edits=(
            (
                "np.power(gamma, epoch, dtype=np.float64)",
                "np.multiply(gamma, epoch, dtype=np.float64)",
            ),
        ),
    ),
    Bug(
        "inverse_sqrt_square",
        "ans_schedules",
        function="inverse_sqrt_decay",
        why="learning_rate / (epoch + 1) ** 2: squares instead of a square root",
        tests=frozenset({"test_inverse_sqrt_decay"}),
        base=3,
        edits=(("learning_rate / math.sqrt(epoch + 1)", "learning_rate / (epoch + 1) ** 2"),),
    ),
    Bug(
        "inverse_time_counts_from_one",
        "ans_schedules",
        function="inverse_time_decay",
        why="decays by epoch + 1: the first epoch already has a reduced rate",
        tests=frozenset({"test_inverse_time_decay"}),
        base=0,
        edits=(
            (
                "learning_rate / (1.0 + decay_rate * epoch)",
                "learning_rate / (1.0 + decay_rate * (epoch + 1))",
            ),
        ),
    ),
    Bug(
        "exponential_swapped_power",
        "ans_schedules",
        function="exponential_decay",
        why="epoch ** gamma instead of gamma ** epoch",
        tests=frozenset({"test_exponential_decay"}),
        base=0,
        edits=(("learning_rate * gamma**epoch", "learning_rate * epoch**gamma"),),
    ),
    Bug(
        "inverse_sqrt_grows",
        "ans_schedules",
        function="inverse_sqrt_decay",
        why="multiplies by sqrt(epoch + 1): the rate grows",
        tests=frozenset({"test_inverse_sqrt_decay"}),
        base=1,
        edits=(("learning_rate * (epoch + 1) ** -0.5", "learning_rate * (epoch + 1) ** 0.5"),),
    ),
)

ASSIGNMENT = Assignment(
    name="optimizers",
    styles={
        "ans_sgd": SGD,
        "ans_sgd_momentum": MOMENTUM,
        "ans_rmsprop": RMSPROP,
        "ans_adam": ADAM,
        "ans_schedules": SCHEDULES,
    },
    groups=(),
    bugs=BUGS,
    combos=(
        ("sgd_ascends", "adam_t_after_use"),
        ("momentum_classic", "rmsprop_eps_inside_sqrt"),
        ("rmsprop_not_squared", "inverse_sqrt_from_zero"),
        ("adam_no_bias_correction", "exponential_off_by_one"),
        ("sgd_fixed_rate", "momentum_velocity_not_stored", "inverse_time_ignores_rate"),
        ("adam_eps_inside_sqrt", "rmsprop_decay_swapped"),
        ("momentum_cs231n_form", "adam_v_of_abs"),
        ("sgd_sign", "inverse_sqrt_square"),
    ),
    mixes=6,
)
