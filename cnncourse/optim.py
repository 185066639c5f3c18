"""Update rules and learning-rate schedules from the "Training neural networks" slides.

Every update rule has the shape students know from the CS231n assignments::

    next_w, config = rule(w, dw, config)

``w`` and ``dw`` are numpy arrays or torch tensors; ``next_w`` and the state arrays in the
returned ``config`` come back as the same kind (same device for tensors). ``config`` holds
the hyper-parameters and the state. It may be ``None`` or miss keys: the defaults are filled
in and state starts at zeros, as on the slides ("Initial v = 0"). The caller's dict is never
changed; the rule returns a new one, so the state is explicit::

    config = None
    for step in range(100):
        w, config = adam(w, grad(w), config)

Config keys
    all rules: ``learning_rate``, ``weight_decay`` (L2, added to the gradient as torch does)
    ``sgd_momentum``: ``momentum`` (beta), ``dampening``, ``nesterov``, state ``velocity``
    ``rmsprop``: ``decay_rate``, ``epsilon``, state ``cache``
    ``adam``: ``beta1``, ``beta2``, ``epsilon``, state ``m``, ``v``, ``t``

The same rules drive :class:`SGD`, :class:`SGDMomentum`, :class:`RMSprop` and :class:`Adam`,
``torch.optim.Optimizer`` subclasses for training torch models, so the numpy rule and the
torch optimizer cannot drift apart.

Learning-rate schedules (:func:`step_decay`, :func:`exponential_decay`,
:func:`inverse_time_decay`, :func:`inverse_sqrt_decay`, :func:`cosine_decay`) are plain
functions of the epoch; :class:`ScheduleLR` and its named subclasses turn any of them into a
torch LR scheduler.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch.optim.lr_scheduler import LRScheduler

__all__ = [
    "SGD",
    "Adam",
    "CosineDecayLR",
    "ExponentialDecayLR",
    "InverseSqrtDecayLR",
    "InverseTimeDecayLR",
    "RMSprop",
    "SGDMomentum",
    "ScheduleLR",
    "StepDecayLR",
    "adam",
    "cosine_decay",
    "exponential_decay",
    "inverse_sqrt_decay",
    "inverse_time_decay",
    "rmsprop",
    "sgd",
    "sgd_momentum",
    "step_decay",
]

# --------------------------------------------------------------------------- helpers


def _to_tensor(x: Any, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x)
    raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")


def _tensors(w: Any, dw: Any) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Both arguments as torch tensors (no copy), and whether the caller gave numpy."""
    w_t, dw_t = _to_tensor(w, "w"), _to_tensor(dw, "dw")
    if isinstance(w, np.ndarray) != isinstance(dw, np.ndarray):
        raise TypeError(
            f"w and dw must be the same kind, got w: {type(w).__name__}, dw: {type(dw).__name__}"
        )
    if not w_t.is_floating_point():
        raise TypeError(f"w must hold floating-point numbers, got dtype {w_t.dtype}")
    if tuple(w_t.shape) != tuple(dw_t.shape):
        raise ValueError(f"dw must have the shape of w {tuple(w_t.shape)}, got {tuple(dw_t.shape)}")
    return w_t, dw_t.to(dtype=w_t.dtype, device=w_t.device), isinstance(w, np.ndarray)


def _back(x: torch.Tensor, numpy: bool) -> Any:
    return x.numpy() if numpy else x


def _state(config: dict, key: str, w: torch.Tensor) -> torch.Tensor:
    """The state array ``config[key]`` as a tensor like ``w``; zeros when it is missing."""
    value = config.get(key)
    if value is None:
        return torch.zeros_like(w)
    t = _to_tensor(value, f"config[{key!r}]")
    if tuple(t.shape) != tuple(w.shape):
        raise ValueError(
            f"config[{key!r}] must have the shape of w {tuple(w.shape)}, got {tuple(t.shape)}"
        )
    return t.to(dtype=w.dtype, device=w.device)


def _config(config: Mapping | None, defaults: dict, rule: str) -> dict:
    """A new dict: the caller's keys over the defaults; unknown keys are refused."""
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict or None, got {type(config).__name__}")
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        raise ValueError(f"{rule} got unknown config keys {unknown}; it accepts {sorted(defaults)}")
    return {**defaults, **config}


def _number(config: dict, key: str, low: float, high: float, *, high_open: bool) -> float:
    """``config[key]`` as a float, checked to lie in [low, high) or [low, high]."""
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"config[{key!r}] must be a number, got {type(value).__name__}")
    value = float(value)
    inside = low <= value < high if high_open else low <= value <= high
    if not inside or math.isnan(value):
        interval = f"[{low}, {high})" if high_open else f"[{low}, {high}]"
        raise ValueError(f"config[{key!r}] must lie in {interval}, got {value}")
    return value


def _learning_rate(config: dict) -> float:
    return _number(config, "learning_rate", 0.0, math.inf, high_open=True)


def _add_weight_decay(w: torch.Tensor, dw: torch.Tensor, config: dict) -> torch.Tensor:
    """L2 regularisation as torch.optim does it: dw + weight_decay * w."""
    decay = _number(config, "weight_decay", 0.0, math.inf, high_open=True)
    return dw + decay * w if decay else dw


# --------------------------------------------------------------------------- update rules

SGD_DEFAULTS = {"learning_rate": 1e-2, "weight_decay": 0.0}
MOMENTUM_DEFAULTS = {
    "learning_rate": 1e-2,
    "momentum": 0.9,
    "dampening": None,  # None: equal to momentum, the slides' averaged form
    "nesterov": False,
    "weight_decay": 0.0,
    "velocity": None,
}
RMSPROP_DEFAULTS = {
    "learning_rate": 1e-2,
    "decay_rate": 0.99,
    "epsilon": 1e-8,
    "weight_decay": 0.0,
    "cache": None,
}
ADAM_DEFAULTS = {
    "learning_rate": 1e-3,
    "beta1": 0.9,
    "beta2": 0.999,
    "epsilon": 1e-8,
    "weight_decay": 0.0,
    "m": None,
    "v": None,
    "t": 0,
}


def sgd(w, dw, config: Mapping | None = None):
    """Vanilla stochastic gradient descent: ``w = w - learning_rate * dw``."""
    config = _config(config, SGD_DEFAULTS, "sgd")
    w_t, dw_t, numpy = _tensors(w, dw)
    lr = _learning_rate(config)
    dw_t = _add_weight_decay(w_t, dw_t, config)
    return _back(w_t - lr * dw_t, numpy), config


def sgd_momentum(w, dw, config: Mapping | None = None):
    """SGD with momentum, the slides' averaged form by default.

    ``v = momentum * v + (1 - dampening) * dw`` and ``w = w - learning_rate * v``. The
    default ``dampening = momentum`` is the slides' exponentially weighted average
    ``v = beta v + (1 - beta) dW``; ``dampening = 0`` is the classic form used by
    ``torch.optim.SGD``. ``nesterov=True`` (only with ``dampening = 0``) steps along
    ``dw + momentum * v`` instead of ``v``, as torch does.
    """
    config = _config(config, MOMENTUM_DEFAULTS, "sgd_momentum")
    w_t, dw_t, numpy = _tensors(w, dw)
    lr = _learning_rate(config)
    beta = _number(config, "momentum", 0.0, 1.0, high_open=True)
    if config["dampening"] is None:
        config["dampening"] = beta
    dampening = _number(config, "dampening", 0.0, 1.0, high_open=False)
    nesterov = config["nesterov"]
    if not isinstance(nesterov, bool):
        raise TypeError(f"config['nesterov'] must be True or False, got {nesterov!r}")
    if nesterov and (beta == 0.0 or dampening != 0.0):
        raise ValueError(
            "nesterov momentum needs momentum > 0 and dampening = 0, "
            f"got momentum={beta}, dampening={dampening}"
        )
    dw_t = _add_weight_decay(w_t, dw_t, config)
    v = beta * _state(config, "velocity", w_t) + (1.0 - dampening) * dw_t
    step = dw_t + beta * v if nesterov else v
    config["velocity"] = _back(v, numpy)
    return _back(w_t - lr * step, numpy), config


def rmsprop(w, dw, config: Mapping | None = None):
    """RMSprop: ``S = decay_rate S + (1 - decay_rate) dw**2``, ``w -= lr dw / (sqrt(S) + eps)``.

    ``epsilon`` is added outside the square root, as in Hinton's lecture and torch (the
    slide writes it after the division; the book discusses where it belongs).
    """
    config = _config(config, RMSPROP_DEFAULTS, "rmsprop")
    w_t, dw_t, numpy = _tensors(w, dw)
    lr = _learning_rate(config)
    decay = _number(config, "decay_rate", 0.0, 1.0, high_open=True)
    eps = _number(config, "epsilon", 0.0, math.inf, high_open=True)
    dw_t = _add_weight_decay(w_t, dw_t, config)
    cache = decay * _state(config, "cache", w_t) + (1.0 - decay) * dw_t * dw_t
    config["cache"] = _back(cache, numpy)
    return _back(w_t - lr * dw_t / (cache.sqrt() + eps), numpy), config


def adam(w, dw, config: Mapping | None = None):
    """Adam with bias correction (Kingma and Ba, 2015).

    ``t += 1`` first, then ``m = beta1 m + (1 - beta1) dw``, ``v = beta2 v + (1 - beta2) dw**2``,
    ``m_hat = m / (1 - beta1**t)``, ``v_hat = v / (1 - beta2**t)`` and
    ``w = w - lr m_hat / (sqrt(v_hat) + eps)``: epsilon outside the square root, as in the
    paper and torch (the slide writes ``sqrt(S + eps)``).
    """
    config = _config(config, ADAM_DEFAULTS, "adam")
    w_t, dw_t, numpy = _tensors(w, dw)
    lr = _learning_rate(config)
    beta1 = _number(config, "beta1", 0.0, 1.0, high_open=True)
    beta2 = _number(config, "beta2", 0.0, 1.0, high_open=True)
    eps = _number(config, "epsilon", 0.0, math.inf, high_open=True)
    t = config["t"]
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 0:
        raise ValueError(f"config['t'] must be a whole number >= 0, got {t!r}")
    t = int(t) + 1
    dw_t = _add_weight_decay(w_t, dw_t, config)
    m = beta1 * _state(config, "m", w_t) + (1.0 - beta1) * dw_t
    v = beta2 * _state(config, "v", w_t) + (1.0 - beta2) * dw_t * dw_t
    m_hat = m / (1.0 - beta1**t)
    v_hat = v / (1.0 - beta2**t)
    config.update(m=_back(m, numpy), v=_back(v, numpy), t=t)
    return _back(w_t - lr * m_hat / (v_hat.sqrt() + eps), numpy), config


# --------------------------------------------------------------------------- torch optimizers


class _RuleOptimizer(torch.optim.Optimizer):
    """A torch optimizer whose step applies one of the update rules above to each parameter.

    Param groups keep torch's ``lr`` key (LR schedulers change it); the other hyper-parameters
    use the rule's config keys. Per-parameter state is the rule's state entries.
    """

    rule: Callable
    state_keys: tuple[str, ...] = ()

    def __init__(self, params: Iterable, lr: float, **hyper: Any):
        self.rule(np.zeros(1), np.zeros(1), {"learning_rate": lr, **hyper})  # validates them
        self._hyper_keys = tuple(hyper)
        super().__init__(params, {"lr": lr, **hyper})

    @torch.no_grad()
    def step(self, closure: Callable | None = None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            # Only the rule's own keys: schedulers add others (initial_lr) to the group.
            hyper = {k: group[k] for k in self._hyper_keys}
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise TypeError(f"{type(self).__name__} does not support sparse gradients")
                state = self.state[p]
                config = {"learning_rate": group["lr"], **hyper, **state}
                next_p, config = type(self).rule(p, p.grad, config)
                p.copy_(next_p)
                state.update({k: config[k] for k in self.state_keys})
        return loss


class SGD(_RuleOptimizer):
    """:func:`sgd` as a ``torch.optim.Optimizer``."""

    rule = staticmethod(sgd)

    def __init__(self, params: Iterable, lr: float = 1e-2, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay=weight_decay)


class SGDMomentum(_RuleOptimizer):
    """:func:`sgd_momentum` as a ``torch.optim.Optimizer`` (averaged form unless dampening=0)."""

    rule = staticmethod(sgd_momentum)
    state_keys = ("velocity",)

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        momentum: float = 0.9,
        dampening: float | None = None,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ):
        dampening = momentum if dampening is None else dampening
        super().__init__(
            params,
            lr,
            momentum=momentum,
            dampening=dampening,
            nesterov=nesterov,
            weight_decay=weight_decay,
        )


class RMSprop(_RuleOptimizer):
    """:func:`rmsprop` as a ``torch.optim.Optimizer``."""

    rule = staticmethod(rmsprop)
    state_keys = ("cache",)

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        decay_rate: float = 0.99,
        epsilon: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(
            params, lr, decay_rate=decay_rate, epsilon=epsilon, weight_decay=weight_decay
        )


class Adam(_RuleOptimizer):
    """:func:`adam` as a ``torch.optim.Optimizer``."""

    rule = staticmethod(adam)
    state_keys = ("m", "v", "t")

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(
            params, lr, beta1=beta1, beta2=beta2, epsilon=epsilon, weight_decay=weight_decay
        )


# --------------------------------------------------------------------------- LR schedules
# Each takes the initial rate and the epoch counted from 0 (the first epoch uses epoch=0).


def _check_schedule(learning_rate: float, epoch: int) -> None:
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)):
        raise TypeError(f"learning_rate must be a number, got {type(learning_rate).__name__}")
    if not learning_rate >= 0:
        raise ValueError(f"learning_rate must be >= 0, got {learning_rate}")
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
        raise ValueError(f"epoch must be a whole number >= 0, got {epoch!r}")


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    if not (value >= 0 if allow_zero else value > 0):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")


def step_decay(learning_rate: float, epoch: int, step_size: int = 10, gamma: float = 0.1):
    """Multiply by ``gamma`` every ``step_size`` epochs (AlexNet/VGG's "divide by 10")."""
    _check_schedule(learning_rate, epoch)
    _positive("step_size", step_size)
    _positive("gamma", gamma, allow_zero=True)
    return learning_rate * gamma ** (epoch // step_size)


def exponential_decay(learning_rate: float, epoch: int, gamma: float = 0.95):
    """The slides' ``0.95 ** epoch_num`` decay: ``learning_rate * gamma ** epoch``."""
    _check_schedule(learning_rate, epoch)
    _positive("gamma", gamma, allow_zero=True)
    return learning_rate * gamma**epoch


def inverse_time_decay(learning_rate: float, epoch: int, decay_rate: float = 1.0):
    """The slides' ``1 / (1 + decay_rate * epoch_num)`` decay, times the initial rate."""
    _check_schedule(learning_rate, epoch)
    _positive("decay_rate", decay_rate, allow_zero=True)
    return learning_rate / (1.0 + decay_rate * epoch)


def inverse_sqrt_decay(learning_rate: float, epoch: int):
    """The slides' ``k / sqrt(epoch_num)``, with ``epoch_num = epoch + 1``, ``k`` the first rate.

    The slide counts epochs from 1 (its formula is infinite at 0); here the first epoch is
    ``epoch = 0``, so the rate is ``learning_rate / sqrt(epoch + 1)``.
    """
    _check_schedule(learning_rate, epoch)
    return learning_rate / math.sqrt(epoch + 1)


def cosine_decay(learning_rate: float, epoch: int, total_epochs: int, min_lr: float = 0.0):
    """Half a cosine from ``learning_rate`` at epoch 0 to ``min_lr`` at ``total_epochs``.

    ``min_lr + (learning_rate - min_lr) * (1 + cos(pi * epoch / total_epochs)) / 2``
    (Loshchilov and Hutter's SGDR without restarts); it stays at ``min_lr`` afterwards.
    """
    _check_schedule(learning_rate, epoch)
    _positive("total_epochs", total_epochs)
    _positive("min_lr", min_lr, allow_zero=True)
    progress = min(epoch, total_epochs) / total_epochs
    return min_lr + (learning_rate - min_lr) * (1.0 + math.cos(math.pi * progress)) / 2.0


class ScheduleLR(LRScheduler):
    """Any schedule above as a torch LR scheduler: ``lr = schedule(base_lr, epoch, **kwargs)``.

    Call ``scheduler.step()`` once per epoch, after the optimizer steps of that epoch.
    """

    def __init__(self, optimizer, schedule: Callable, last_epoch: int = -1, **kwargs: Any):
        if not callable(schedule):
            raise TypeError(f"schedule must be callable, got {type(schedule).__name__}")
        self.schedule = schedule
        self.kwargs = kwargs
        schedule(1.0, 0, **kwargs)  # validates the keyword arguments now
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float | torch.Tensor]:  # LRScheduler's type; these are floats
        return [self.schedule(lr, self.last_epoch, **self.kwargs) for lr in self.base_lrs]

    def state_dict(self) -> dict:
        # The function is code, not state: leaving it out keeps checkpoints loadable with
        # torch.load(weights_only=True).
        return {k: v for k, v in super().state_dict().items() if k != "schedule"}


class StepDecayLR(ScheduleLR):
    def __init__(self, optimizer, step_size: int = 10, gamma: float = 0.1, last_epoch: int = -1):
        super().__init__(optimizer, step_decay, last_epoch, step_size=step_size, gamma=gamma)


class ExponentialDecayLR(ScheduleLR):
    def __init__(self, optimizer, gamma: float = 0.95, last_epoch: int = -1):
        super().__init__(optimizer, exponential_decay, last_epoch, gamma=gamma)


class InverseTimeDecayLR(ScheduleLR):
    def __init__(self, optimizer, decay_rate: float = 1.0, last_epoch: int = -1):
        super().__init__(optimizer, inverse_time_decay, last_epoch, decay_rate=decay_rate)


class InverseSqrtDecayLR(ScheduleLR):
    def __init__(self, optimizer, last_epoch: int = -1):
        super().__init__(optimizer, inverse_sqrt_decay, last_epoch)


class CosineDecayLR(ScheduleLR):
    def __init__(self, optimizer, total_epochs: int, min_lr: float = 0.0, last_epoch: int = -1):
        super().__init__(
            optimizer, cosine_decay, last_epoch, total_epochs=total_epochs, min_lr=min_lr
        )
