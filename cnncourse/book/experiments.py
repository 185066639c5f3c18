"""Small training experiments the book draws conclusions from, repeated over seeds.

One training run is one draw of a random variable: its initialization, its batches and its
dropout masks come from a seed, and a different seed gives a different result. A comparison
between two settings therefore means something only when the difference is larger than the
spread between seeds. The functions here run each setting for several seeds on the 8x8 digits
(``cnncourse.data.digits``, offline) and return every run's result; :class:`Spread` gives
their mean and standard deviation::

    race = activation_race(seeds=range(5))
    {name: spread(runs) for name, runs in race.items()}   # epochs to 10 % training error

- :func:`activation_race`: epochs until a deep fully connected network first classifies
  90 % of its training set correctly, per activation (the slides' "ReLU converges faster");
- :func:`dropout_run`: train and test accuracy of a network trained on a few images, with or
  without dropout;
- :func:`training_losses` and :func:`update_ratios`: what to watch while babysitting a
  training run, the loss of every step and the size of each step relative to the weights
  (the rule of thumb: about 1e-3).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = [
    "ACTIVATIONS",
    "Spread",
    "activation_race",
    "batches",
    "deep_mlp",
    "dropout_run",
    "epochs_to_error",
    "noisy_labels",
    "spread",
    "training_losses",
    "update_ratios",
]

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


@dataclass(frozen=True)
class Spread:
    """Mean and sample standard deviation of one setting's results over seeds."""

    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        return sum(self.values) / len(self.values)

    @property
    def std(self) -> float:
        n = len(self.values)
        if n < 2:
            return 0.0
        return math.sqrt(sum((v - self.mean) ** 2 for v in self.values) / (n - 1))

    def format(self, spec: str = ".3g") -> str:
        return f"{self.mean:{spec}} ± {self.std:{spec}}"

    def __str__(self) -> str:
        return self.format()


def spread(values: Iterable[float]) -> Spread:
    """The :class:`Spread` of finite ``values`` (at least one)."""
    values = tuple(float(v) for v in values)
    if not values:
        raise ValueError("spread needs at least one value, got none")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"spread needs finite values, got {values}")
    return Spread(values)


def _digits(data=None):
    from cnncourse import data as datasets

    (x, y), (x_test, y_test) = data if data is not None else datasets.digits()
    return (x.flatten(1).float(), y), (x_test.flatten(1).float(), y_test)


def _check_activation(activation: str) -> None:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")


def deep_mlp(
    activation: str, *, depth: int, width: int, inputs: int = 64, classes: int = 10, seed: int = 0
) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` units, each followed by ``activation``.

    Weights are drawn from N(0, gain / fan_in) with each activation's recommended gain (He:
    2 for ReLU; Xavier: 1 for tanh and the sigmoid), biases start at 0.
    """
    _check_activation(activation)
    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be >= 1, got {depth} and {width}")
    generator = torch.Generator().manual_seed(seed)
    gain = 2.0 if activation == "relu" else 1.0
    layers: list[nn.Module] = []
    sizes = [inputs] + [width] * depth
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [nn.Linear(fan_in, fan_out), ACTIVATIONS[activation]()]
    layers.append(nn.Linear(sizes[-1], classes))
    with torch.no_grad():
        for layer in layers:
            if isinstance(layer, nn.Linear):
                std = math.sqrt(gain / layer.in_features)
                layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) * std)
                layer.bias.zero_()
    return nn.Sequential(*layers)


def epochs_to_error(
    activation: str,
    *,
    depth: int = 6,
    width: int = 64,
    lr: float = 0.1,
    target_error: float = 0.1,
    max_epochs: int = 10,
    batch_size: int = 32,
    seed: int = 0,
    data=None,
) -> int | None:
    """Epochs of plain mini-batch SGD until :func:`deep_mlp` first has a training error below
    ``target_error``, or None if it has not after ``max_epochs``.

    The inputs are standardized per pixel; the seed sets the weights and the batch order.
    """
    (x, y), _ = _digits(data)
    x = (x - x.mean(dim=0)) / (x.std(dim=0) + 1e-8)
    net = deep_mlp(activation, depth=depth, width=width, inputs=x.shape[1], seed=seed)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(1, max_epochs + 1):
        for idx in torch.randperm(len(x), generator=generator).split(batch_size):
            loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            error = (net(x).argmax(dim=1) != y).float().mean().item()
        if error < target_error:
            return epoch
    return None


def activation_race(
    activations: Sequence[str] = ("relu", "tanh", "sigmoid"),
    seeds: Iterable[int] = range(5),
    **kwargs,
) -> dict[str, list[int | None]]:
    """:func:`epochs_to_error` for every activation and seed (the same seeds for each)."""
    seeds = list(seeds)
    return {
        name: [epochs_to_error(name, seed=seed, **kwargs) for seed in seeds] for name in activations
    }


def noisy_labels(y: torch.Tensor, fraction: float, *, classes: int, seed: int = 0):
    """A copy of ``y`` in which ``round(fraction * len(y))`` labels, drawn at random, are
    replaced by a different class, uniformly among the other ``classes - 1``."""
    if not 0 <= fraction < 1:
        raise ValueError(f"label_noise must be in [0, 1), got {fraction!r}")
    generator = torch.Generator().manual_seed(seed)
    y = y.clone()
    noisy = torch.randperm(len(y), generator=generator)[: round(fraction * len(y))]
    shift = torch.randint(1, classes, (len(noisy),), generator=generator)
    y[noisy] = (y[noisy] + shift) % classes
    return y


def dropout_run(
    keep_prob: float,
    *,
    n_train: int = 100,
    hidden: int = 256,
    steps: int = 300,
    input_keep_prob: float | None = None,
    label_noise: float = 0.0,
    lr: float = 1e-3,
    seed: int = 0,
    data=None,
) -> dict[str, float]:
    """``train_acc``, ``test_acc`` and ``test_loss`` (cross-entropy) of a network with two
    hidden layers of ``hidden`` ReLU units trained with Adam for ``steps`` full-batch steps on
    ``n_train`` digits.

    ``keep_prob`` applies inverted dropout after each hidden layer (1.0: none);
    ``input_keep_prob`` (default: no dropout on the inputs) to the pixels. ``label_noise``
    replaces that fraction of the training labels by random wrong ones (a network that fits
    them has memorized noise); the test labels stay clean. The seed draws the training
    images, the noisy labels, the weights and the masks, so two settings run with the same
    seed see the same data and start from the same weights.
    """
    for name, value in (("keep_prob", keep_prob), ("input_keep_prob", input_keep_prob)):
        if value is not None and not 0 < value <= 1:
            raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    (x_all, y_all), (x_test, y_test) = _digits(data)
    if not 1 <= n_train <= len(x_all):
        raise ValueError(f"n_train must be in [1, {len(x_all)}], got {n_train}")
    generator = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(x_all), generator=generator)[:n_train]
    x, y = x_all[pick], noisy_labels(y_all[pick], label_noise, classes=10, seed=seed)
    torch.manual_seed(seed)
    drop_in = 1 - (input_keep_prob if input_keep_prob is not None else 1.0)
    net = nn.Sequential(
        nn.Dropout(drop_in),
        nn.Linear(x.shape[1], hidden),
        nn.ReLU(),
        nn.Dropout(1 - keep_prob),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Dropout(1 - keep_prob),
        nn.Linear(hidden, 10),
    )
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    for _ in range(steps):
        loss = nn.functional.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    net.eval()
    with torch.no_grad():
        scores, test_scores = net(x), net(x_test)
    return {
        "train_acc": (scores.argmax(dim=1) == y).float().mean().item(),
        "test_acc": (test_scores.argmax(dim=1) == y_test).float().mean().item(),
        "test_loss": nn.functional.cross_entropy(test_scores, y_test).item(),
    }


def update_ratios(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    loss_fn=None,
) -> dict[str, list[float]]:
    """Train ``model`` on ``batches`` and record, for every weight matrix or filter bank
    (parameters with two or more dimensions) and every step, ``||W_after - W_before|| /
    ||W_before||``: how large the step was relative to the weights (Frobenius norms)."""
    loss_fn = loss_fn or nn.functional.cross_entropy
    weights = {n: p for n, p in model.named_parameters() if p.ndim >= 2 and p.requires_grad}
    if not weights:
        raise ValueError(f"{type(model).__name__} has no trainable weight with 2+ dimensions")
    ratios: dict[str, list[float]] = {name: [] for name in weights}
    model.train()
    for x, y in batches:
        before = {name: w.detach().clone() for name, w in weights.items()}
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        for name, w in weights.items():
            step = (w.detach() - before[name]).norm().item()
            ratios[name].append(step / max(before[name].norm().item(), 1e-12))
    return ratios


def batches(
    x: torch.Tensor, y: torch.Tensor, *, batch_size: int, steps: int, seed: int = 0
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``steps`` mini-batches of ``batch_size`` examples, epoch after epoch, each epoch in a
    new random order drawn from ``seed`` (a last incomplete batch of an epoch is dropped)."""
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    if not 1 <= batch_size <= len(x):
        raise ValueError(f"batch_size must be in [1, {len(x)}], got {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    out: list[tuple[torch.Tensor, torch.Tensor]] = []
    while len(out) < steps:
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x) - batch_size + 1, batch_size):
            idx = order[start : start + batch_size]
            out.append((x[idx], y[idx]))
            if len(out) == steps:
                break
    return out


def training_losses(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    loss_fn=None,
) -> list[float]:
    """Train ``model`` on ``batches``; the loss of every step, measured before its update.
    A run whose loss stops being finite ends there, with that loss (``inf`` or ``nan``)."""
    loss_fn = loss_fn or nn.functional.cross_entropy
    losses = []
    model.train()
    for x, y in batches:
        loss = loss_fn(model(x), y)
        losses.append(loss.item())
        if not math.isfinite(losses[-1]):
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return losses
