"""What every model family shares: the choice of layer implementation and argument checks.

``layers="torch"`` builds a model from ``torch.nn``; ``layers="course"`` from the course's
own reference layers in ``cnncourse.nn``, which take the same constructor arguments and
hold the same parameters, so one ``state_dict`` fits both. Layers the course does not
implement (local response normalization, adaptive pooling, flatten, identity) come from
``torch.nn`` in both cases.
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

# The layers a model may take from the chosen implementation.
LAYER_NAMES = (
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
    "Linear",
    "ReLU",
    "Tanh",
    "Dropout",
    "BatchNorm2d",
)
# Always from torch.nn: the course has no reference version of these.
TORCH_ONLY = ("LocalResponseNorm", "AdaptiveAvgPool2d", "Flatten", "Identity")


def resolve_layers(layers: Any) -> SimpleNamespace:
    """Return a namespace holding the layer classes a builder uses.

    ``layers`` is ``"torch"``, ``"course"``, or any object (a module, a namespace) that has
    the attributes named in ``LAYER_NAMES``.
    """
    if isinstance(layers, SimpleNamespace) and getattr(layers, "_resolved", False):
        return layers
    if isinstance(layers, str):
        if layers == "torch":
            source: Any = nn
        elif layers == "course":
            source = importlib.import_module("cnncourse.nn")
        else:
            raise ValueError(f"layers must be 'torch' or 'course' (or a namespace), got {layers!r}")
    else:
        source = layers
    missing = [name for name in LAYER_NAMES if not hasattr(source, name)]
    if missing:
        raise TypeError(
            f"layers must be 'torch', 'course' or a namespace with the attributes "
            f"{', '.join(LAYER_NAMES)}; {type(source).__name__} lacks {', '.join(missing)}"
        )
    chosen = {name: getattr(source, name) for name in LAYER_NAMES}
    chosen |= {name: getattr(nn, name) for name in TORCH_ONLY}
    return SimpleNamespace(_resolved=True, **chosen)


def check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def check_probability(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a float in [0, 1), got {type(value).__name__} {value!r}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return float(value)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_input(x: Any, *, model: str, channels: int, min_size: int) -> None:
    """Raise a readable error for an input the model cannot take.

    ``min_size`` is the smallest height and width for which every layer still has at least
    one output position.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{model} expects a torch.Tensor input, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(
            f"{model} expects an input of shape (N, {channels}, H, W), got {tuple(x.shape)}"
        )
    height, width = x.shape[-2:]
    if height < min_size or width < min_size:
        raise ValueError(
            f"{model} needs an input of at least {min_size}x{min_size} pixels, got {height}x{width}"
        )


def check_feature_map(
    features: torch.Tensor, x: torch.Tensor, *, model: str, expected: tuple[int, int], native: int
) -> None:
    """For models whose first fully connected layer fixes the size of the last feature map."""
    if tuple(features.shape[-2:]) != expected:
        got = "x".join(map(str, features.shape[-2:]))
        size = "x".join(map(str, x.shape[-2:]))
        want = "x".join(map(str, expected))
        raise ValueError(
            f"{model}'s first fully connected layer needs a {want} feature map, which a "
            f"{native}x{native} input gives; this {size} input gives {got}"
        )
