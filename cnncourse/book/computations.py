"""The computations behind the book's chapters and demos, as library functions.

A chapter that shows a number calls one of these rather than repeating its loop, and the
demo of :mod:`cnncourse.book.widgets` that draws the same thing calls the same function, so
the text and the pictures cannot drift apart. Every computation goes through the course
library (:mod:`cnncourse.layers`, :mod:`cnncourse.optim`); nothing here draws.

- :func:`activation_curves`: an activation and its gradient, by the layers' forward and
  backward passes (:data:`ACTIVATIONS`, in the slides' order);
- :func:`descend`: the path of an update rule of :mod:`cnncourse.optim` on a loss;
  :func:`ravine` is the optimizer race's loss and :func:`race` runs every racer of
  :data:`RACERS` on it;
- :func:`noisy_regression_run`: mini-batch SGD on least squares under a learning-rate
  schedule;
- :func:`batchnorm_trace`: the running statistics of batch normalization over training;
- :func:`square_photo`: a photo cut to its centre square and resized.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "BN_FEATURE_MEANS",
    "BN_FEATURE_STDS",
    "RACERS",
    "BatchnormTrace",
    "activation_curves",
    "batchnorm_trace",
    "descend",
    "noisy_regression_run",
    "race",
    "ravine",
    "square_photo",
    "to_numpy",
]


def to_numpy(a) -> np.ndarray:
    """A numpy copy of an array or a torch tensor (detached, on the CPU)."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def _check_count(name: str, value, minimum: int) -> int:
    if not isinstance(value, int | np.integer) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


# ------------------------------------------------------------------------------ activations

# In the slides' order (sigmoid, tanh, ReLU, leaky ReLU, maxout, ELU).
ACTIVATIONS = ("sigmoid", "tanh", "ReLU", "leaky ReLU (0.1)", "maxout (2 pieces)", "ELU (alpha=1)")


def _maxout_1d(x):
    """Maxout of two affine pieces on a scalar input: max(0.5 x + 0.5, -1.5 x - 1)."""
    from cnncourse.layers import maxout_backward, maxout_forward

    w = np.array([[[0.5, -1.5]]])  # (D=1 input, M=1 neuron, k=2 pieces)
    b = np.array([[0.5, -1.0]])  # (M, k)
    out, cache = maxout_forward(x[:, None], w, b)
    dx, _, _ = maxout_backward(np.ones_like(out), cache)
    return out[:, 0], dx[:, 0]


def _with_gradient(forward, backward, **kwargs):
    def f(x):
        out, cache = forward(x, **kwargs)
        return out, backward(np.ones_like(out), cache)

    return f


def _activations() -> dict[str, Callable]:
    from cnncourse import layers as L

    return {
        "sigmoid": _with_gradient(L.sigmoid_forward, L.sigmoid_backward),
        "tanh": _with_gradient(L.tanh_forward, L.tanh_backward),
        "ReLU": _with_gradient(L.relu_forward, L.relu_backward),
        "leaky ReLU (0.1)": _with_gradient(
            L.leaky_relu_forward, L.leaky_relu_backward, negative_slope=0.1
        ),
        "maxout (2 pieces)": _maxout_1d,
        "ELU (alpha=1)": _with_gradient(L.elu_forward, L.elu_backward, alpha=1.0),
    }


def activation_curves(name: str, x=None):
    """``(x, f(x), f'(x))`` for one of :data:`ACTIVATIONS`, computed by the package's layers
    (the gradient is the layer's backward pass with an upstream gradient of ones).

    ``x`` defaults to 601 points from -6 to 6.
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {ACTIVATIONS}")
    x = np.linspace(-6, 6, 601) if x is None else np.asarray(x, dtype=float)
    y, dy = _activations()[name](x)
    return x, to_numpy(y), to_numpy(dy)


# --------------------------------------------------------------------------- optimizer race


def ravine(w):
    """The race track: ``f(w) = w0**2 / 20 + w1**2`` and its gradient, for w of shape (..., 2).

    A long shallow valley along w0 and steep walls along w1: plain SGD zig-zags across the
    valley and crawls along it (the slides' "very slow progress along the shallow dimension,
    jitter along the steep direction").
    """
    w = np.asarray(w, dtype=float)
    if w.ndim == 0 or w.shape[-1] != 2:
        raise ValueError(f"w must have 2 coordinates in its last axis, got shape {w.shape}")
    loss = w[..., 0] ** 2 / 20.0 + w[..., 1] ** 2
    return loss, np.stack([w[..., 0] / 10.0, 2.0 * w[..., 1]], axis=-1)


def descend(rule: Callable, config: dict | None, gradient: Callable, start, steps: int):
    """The path of ``steps`` updates of an update rule, as a ``(steps + 1, D)`` array.

    ``rule(w, dw, config) -> (w, config)`` is an update rule of :mod:`cnncourse.optim`
    (``sgd``, ``sgd_momentum``, ``rmsprop``, ``adam``) and ``config`` its hyper-parameters (a
    copy is updated, the caller's dict is left as it is); ``gradient(w)`` is the loss's
    gradient at ``w``. Row 0 is ``start``, row k the weights after k updates.
    """
    if not callable(rule):
        raise TypeError(f"rule must be an update rule (a callable), got {rule!r}")
    if not callable(gradient):
        raise TypeError(f"gradient must be a callable w -> dw, got {gradient!r}")
    if config is not None and not isinstance(config, dict):
        raise TypeError(f"config must be a dict or None, got {type(config).__name__}")
    steps = _check_count("steps", steps, 0)
    w = np.array(start, dtype=float)
    config = None if config is None else dict(config)
    path = [w.copy()]
    for _ in range(steps):
        w, config = rule(w, gradient(w), config)
        w = np.array(to_numpy(w), dtype=float)
        path.append(w.copy())
    return np.stack(path)


RACERS = {
    "SGD": ("sgd", {}),
    "momentum 0.9": ("sgd_momentum", {"momentum": 0.9, "dampening": 0.0}),
    "RMSprop": ("rmsprop", {"decay_rate": 0.9}),
    "Adam": ("adam", {}),
}


def race(learning_rate: float, steps: int, start=(-9.0, 2.0), loss=ravine):
    """Paths ``{name: (steps + 1, 2) array}`` of every racer of :data:`RACERS`, each
    :func:`descend`-ing ``loss`` (a function ``w -> (f(w), gradient)``) from ``start``."""
    from cnncourse import optim

    def gradient(w):
        return loss(w)[1]

    return {
        name: descend(
            getattr(optim, rule),
            {"learning_rate": learning_rate, **extra},
            gradient,
            start,
            steps,
        )
        for name, (rule, extra) in RACERS.items()
    }


# --------------------------------------------------------------------- learning-rate schedules


def noisy_regression_run(schedule, learning_rate: float, epochs: int = 40, seed: int = 0):
    """Mini-batch SGD on a linear least-squares problem; the excess loss after every epoch.

    ``schedule(learning_rate, epoch)`` gives each epoch's rate (e.g. a schedule of
    :mod:`cnncourse.optim`). The problem has 256 examples of 10 features, 8 mini-batches per
    epoch. The excess loss is the training loss minus its minimum (from
    ``numpy.linalg.lstsq``). With a constant rate the noise of the mini-batch gradients keeps
    the loss bouncing above its minimum; decaying the rate lets it settle, but decaying too
    early stalls training.
    """
    from cnncourse import optim

    if not callable(schedule):
        raise TypeError(f"schedule must be a callable (rate, epoch) -> rate, got {schedule!r}")
    epochs = _check_count("epochs", epochs, 1)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(256, 10))
    w_true = rng.normal(size=10)
    y = X @ w_true + 0.5 * rng.normal(size=256)
    w_best = np.linalg.lstsq(X, y, rcond=None)[0]
    best = float(np.mean((X @ w_best - y) ** 2) / 2)
    w = np.zeros(10)
    losses = []
    for epoch in range(epochs):
        lr = schedule(learning_rate, epoch)
        for idx in np.split(rng.permutation(256), 8):
            grad = X[idx].T @ (X[idx] @ w - y[idx]) / len(idx)
            w, _ = optim.sgd(w, grad, {"learning_rate": lr})
        losses.append(float(np.mean((X @ w - y) ** 2) / 2) - best)
    return np.array(losses)


# ------------------------------------------------------------------------------- batchnorm

BN_FEATURE_MEANS = (3.0, -2.0, 0.5, 8.0)
BN_FEATURE_STDS = (2.0, 0.5, 1.0, 4.0)


class BatchnormTrace(NamedTuple):
    """What :func:`batchnorm_trace` records (rows of the running statistics: step 0, 1, ...)."""

    mean: np.ndarray  # (D,) the features' true means
    std: np.ndarray  # (D,) and standard deviations
    running_mean: np.ndarray  # (steps + 1, D); row 0 is the layer's start: zeros
    running_var: np.ndarray  # (steps + 1, D)
    last_input: np.ndarray  # (batch_size, D) the last training batch
    last_output: np.ndarray  # (batch_size, D) its normalised output
    bn_param: dict  # the layer's bn_param after training (mode "train")


def batchnorm_trace(
    momentum: float,
    steps: int,
    batch_size: int = 16,
    seed: int = 0,
    mean: Sequence[float] = BN_FEATURE_MEANS,
    std: Sequence[float] = BN_FEATURE_STDS,
) -> BatchnormTrace:
    """Train :func:`cnncourse.layers.batchnorm_forward` for ``steps`` batches of normal
    features with the given ``mean`` and ``std`` (one entry per feature; gamma 1, beta 0,
    eps 1e-5) and record its running mean and variance after every step."""
    from cnncourse.layers import batchnorm_forward

    steps = _check_count("steps", steps, 0)
    batch_size = _check_count("batch_size", batch_size, 2)
    mu, sd = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
    if mu.ndim != 1 or mu.shape != sd.shape or not len(mu):
        raise ValueError(f"mean and std must be equally long lists, got {mean!r} and {std!r}")
    D = len(mu)
    rng = np.random.default_rng(seed)
    bn_param = {"mode": "train", "momentum": momentum, "eps": 1e-5}
    means, variances = [np.zeros(D)], [np.zeros(D)]  # the layer starts them at zeros
    x = out = np.zeros((batch_size, D))
    for _ in range(steps):
        x = mu + sd * rng.normal(size=(batch_size, D))
        out, _ = batchnorm_forward(x, np.ones(D), np.zeros(D), bn_param)
        means.append(np.array(to_numpy(bn_param["running_mean"]), dtype=float))
        variances.append(np.array(to_numpy(bn_param["running_var"]), dtype=float))
    return BatchnormTrace(mu, sd, np.stack(means), np.stack(variances), x, to_numpy(out), bn_param)


# ---------------------------------------------------------------------------------- photos


def square_photo(image, size: int) -> np.ndarray:
    """A ``(3, size, size)`` float image in [0, 1]: the centre square of ``image``, resized
    by area averaging.

    ``image`` is a name of :func:`cnncourse.data.sample_image` or an array: (H, W) gray
    (repeated in the three channels), (H, W, 3 or 4) or (3, H, W) colour, in [0, 1] or, when
    its largest value is above 1, in [0, 255].
    """
    import torch
    import torch.nn.functional as F

    size = _check_count("size", size, 1)
    if isinstance(image, str):
        from cnncourse.data import sample_image

        image = sample_image(image)
    a = to_numpy(image).astype(float)
    if a.ndim == 2:
        a = np.stack([a] * 3)
    elif a.ndim == 3 and a.shape[-1] in (3, 4) and a.shape[0] != 3:
        a = np.moveaxis(a[..., :3], -1, 0)
    if a.ndim != 3 or a.shape[0] != 3:
        raise ValueError(
            f"image must be (H, W), (H, W, 3), (H, W, 4) or (3, H, W), got shape {a.shape}"
        )
    if a.max() > 1.0:
        a = a / 255.0
    t = torch.from_numpy(np.ascontiguousarray(a))[None]
    side = min(t.shape[-2:])
    top, left = (t.shape[-2] - side) // 2, (t.shape[-1] - side) // 2
    t = t[..., top : top + side, left : left + side]
    return F.interpolate(t, size=(size, size), mode="area")[0].numpy()
