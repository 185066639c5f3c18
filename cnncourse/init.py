"""Weight initialization from the slides: Xavier (for tanh) and He (for ReLU).

A neuron computes ``z = w_1 x_1 + ... + w_n x_n``. With independent, zero-mean inputs of
variance 1, ``var(z) = n var(w)``, so keeping ``var(z) = 1`` needs ``var(w) = 1/n``
(Xavier) and, because a ReLU zeroes half of its inputs, ``var(w) = 2/n`` for ReLU (He et
al., 2015). The slide writes "var(w) should be sqrt(1/n)"; that square root is the
standard deviation, the variance is ``1/n``.

``n`` is the fan-in, read from the weight's shape: ``(out, in)`` for a linear layer and
``(F, C, HH, WW)`` for a convolution (``n = C * HH * WW``), the layouts torch and the
course's layers use.

The initializers fill a torch tensor or a numpy array in place and return it, like
``torch.nn.init``::

    he_(conv.weight)                  # std sqrt(2 / (C * HH * WW))
    xavier_(w, generator=torch.Generator().manual_seed(0))

:func:`activation_stats` records the mean and standard deviation of every layer's
activations in a deep MLP for the book's initialization demo.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

__all__ = ["activation_stats", "fans", "he_", "init_weights_", "naive_", "xavier_"]


def fans(shape: tuple[int, ...] | torch.Size) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of this shape: ``(out, in)`` or ``(F, C, *kernel)``."""
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2:
        raise ValueError(
            f"a weight needs at least 2 dimensions, (out, in) or (F, C, HH, WW), got shape {shape}"
        )
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _weight_fans(w: Any) -> tuple[int, int]:
    if not isinstance(w, (torch.Tensor, np.ndarray)):
        raise TypeError(f"w must be a torch tensor or a numpy array, got {type(w).__name__}")
    return fans(w.shape)


def _fill_normal_(w: Any, std: float, generator: torch.Generator | None) -> Any:
    """Fill ``w`` in place with N(0, std^2) samples drawn by torch (so seeds agree)."""
    if isinstance(w, torch.Tensor):
        with torch.no_grad():
            sample = torch.randn(w.shape, generator=generator, dtype=torch.float64)
            w.copy_(sample * std)
        return w
    if not np.issubdtype(w.dtype, np.floating):
        raise TypeError(f"w must hold floating-point numbers, got dtype {w.dtype}")
    w[...] = (torch.randn(w.shape, generator=generator, dtype=torch.float64) * std).numpy()
    return w


def xavier_(w: Any, *, mode: str = "fan_in", generator: torch.Generator | None = None) -> Any:
    """Xavier initialization in place: normal with ``var = 1 / fan_in`` (the slides' form).

    ``mode="fan_avg"`` gives Glorot and Bengio's original ``var = 2 / (fan_in + fan_out)``.
    """
    fan_in, fan_out = _weight_fans(w)
    if mode == "fan_in":
        variance = 1.0 / fan_in
    elif mode == "fan_avg":
        variance = 2.0 / (fan_in + fan_out)
    else:
        raise ValueError(f"mode must be 'fan_in' or 'fan_avg', got {mode!r}")
    return _fill_normal_(w, math.sqrt(variance), generator)


def he_(w: Any, *, generator: torch.Generator | None = None) -> Any:
    """He initialization in place: normal with ``var = 2 / fan_in``, for ReLU layers."""
    fan_in, _ = _weight_fans(w)
    return _fill_normal_(w, math.sqrt(2.0 / fan_in), generator)


def naive_(w: Any, *, scale: float = 0.01, generator: torch.Generator | None = None) -> Any:
    """The naive ``scale * randn`` initialization, whatever the layer's size."""
    _weight_fans(w)
    return _fill_normal_(w, scale, generator)


class _Scheme(Protocol):
    """An initialization scheme: fills ``w`` in place and returns it."""

    def __call__(self, w: Any, *, generator: torch.Generator | None = None) -> Any: ...


_SCHEMES: dict[str, _Scheme] = {"naive": naive_, "xavier": xavier_, "he": he_}


def init_weights_(model: nn.Module, scheme: str = "he", *, seed: int | None = None) -> nn.Module:
    """Initialize every Linear and Conv weight of ``model`` with ``scheme``; biases to zero."""
    if scheme not in _SCHEMES:
        raise ValueError(f"scheme must be one of {sorted(_SCHEMES)}, got {scheme!r}")
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            _SCHEMES[scheme](module.weight, generator=generator)
            if module.bias is not None:
                with torch.no_grad():
                    module.bias.zero_()
    return model


_NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


def activation_stats(
    nonlinearity: str = "tanh",
    init: str = "xavier",
    *,
    num_layers: int = 10,
    width: int = 500,
    batch_size: int = 1000,
    seed: int = 0,
    keep_activations: bool = False,
) -> dict[str, Any]:
    """Push unit-Gaussian data through a deep MLP and record each layer's activations.

    The network has ``num_layers`` fully connected layers of ``width`` units, no biases,
    each followed by ``nonlinearity`` ("tanh" or "relu"); weights use ``init`` ("naive" for
    ``0.01 * randn``, "xavier" or "he"). Returns plain data::

        {"nonlinearity": "tanh", "init": "xavier", "layer": [1, ..., L],
         "mean": [...], "std": [...]}           # one float per layer

    plus ``"activations"``, a list of ``(batch_size, width)`` float32 arrays, with
    ``keep_activations=True`` (for histograms).
    """
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    if init not in _SCHEMES:
        raise ValueError(f"init must be one of {sorted(_SCHEMES)}, got {init!r}")
    for name, value in (("num_layers", num_layers), ("width", width), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    generator = torch.Generator().manual_seed(seed)
    f = _NONLINEARITIES[nonlinearity]
    h = torch.randn(batch_size, width, generator=generator, dtype=torch.float64)
    stats: dict[str, Any] = {"nonlinearity": nonlinearity, "init": init}
    stats.update(layer=[], mean=[], std=[])
    if keep_activations:
        stats["activations"] = []
    for layer in range(1, num_layers + 1):
        w = _SCHEMES[init](torch.empty(width, width, dtype=torch.float64), generator=generator)
        h = f(h @ w.T)
        stats["layer"].append(layer)
        stats["mean"].append(h.mean().item())
        stats["std"].append(h.std().item())
        if keep_activations:
            stats["activations"].append(h.to(torch.float32).numpy())
    return stats
