"""Shared plumbing for the reference layers: numpy/torch in and out, argument checks.

Every public layer function takes numpy arrays or torch tensors. The arrays are turned
into torch tensors (``torch.from_numpy`` shares the memory, nothing is copied), the
arithmetic runs in torch, and the result goes back as the kind that came in: numpy in,
numpy out; a tensor in, a tensor on the same device out. The dtype is kept: float32 stays
float32 and float64 stays float64.

Every check raises ``TypeError`` (wrong kind or dtype) or ``ValueError`` (wrong shape,
value or device) with a message that names the argument, what was expected and what came.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Set

import numpy as np
import torch

FLOAT_DTYPES = (torch.float32, torch.float64)


def _describe(a) -> str:
    """A short description of a value for error messages: type, dtype, shape."""
    if isinstance(a, np.ndarray):
        return f"numpy.ndarray of dtype {a.dtype} and shape {a.shape}"
    if isinstance(a, torch.Tensor):
        return f"torch.Tensor of dtype {a.dtype} and shape {tuple(a.shape)} on {a.device}"
    return f"{type(a).__name__} {a!r}" if isinstance(a, numbers.Number) else type(a).__name__


def _numpy_to_tensor(a: np.ndarray) -> torch.Tensor:
    # from_numpy shares memory; it refuses negative strides and warns on read-only arrays
    if not a.flags.writeable or any(s < 0 for s in a.strides):
        a = np.array(a)
    return torch.from_numpy(a)


def as_tensor(name: str, a) -> tuple[torch.Tensor, bool]:
    """Return ``(tensor, came_from_numpy)`` for a numpy array or torch tensor, else TypeError."""
    if isinstance(a, torch.Tensor):
        return a, False
    if isinstance(a, np.ndarray):
        return _numpy_to_tensor(a), True
    raise TypeError(f"{name}: expected a numpy array or a torch tensor, got {_describe(a)}")


def float_inputs(**arrays) -> tuple[list[torch.Tensor], bool]:
    """Check named float arrays and return them as tensors plus ``from_numpy``.

    The first argument sets the rules for the others: all must be the same kind (all numpy
    or all torch), float32 or float64, one dtype, one device.
    """
    tensors = []
    first_name = first = None
    from_numpy = False
    for name, a in arrays.items():
        t, is_numpy = as_tensor(name, a)
        if t.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{name}: expected a float32 or float64 array, got {_describe(a)}")
        if first is None:
            first_name, first, from_numpy = name, t, is_numpy
        else:
            _check_like(name, t, is_numpy, first_name, first, from_numpy)
        tensors.append(t)
    return tensors, from_numpy


def float_like(name: str, a, ref_name: str, ref: torch.Tensor, ref_is_numpy: bool) -> torch.Tensor:
    """One more float array that must match an already checked one (kind, dtype, device)."""
    t, is_numpy = as_tensor(name, a)
    if t.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected a float32 or float64 array, got {_describe(a)}")
    _check_like(name, t, is_numpy, ref_name, ref, ref_is_numpy)
    return t


def _check_like(name, t, is_numpy, first_name, first, first_is_numpy) -> None:
    if is_numpy != first_is_numpy:
        want = "a numpy array" if first_is_numpy else "a torch tensor"
        got = "a numpy array" if is_numpy else "a torch tensor"
        raise TypeError(f"{name}: expected {want} like {first_name}, got {got}")
    if t.dtype != first.dtype:
        raise TypeError(
            f"{name}: expected dtype {first.dtype} like {first_name}, got {t.dtype} "
            "(convert both to one of float32 or float64)"
        )
    if t.device != first.device:
        raise ValueError(
            f"{name}: expected a tensor on {first.device} like {first_name}, got {t.device}"
        )


def like_cache(
    name: str, a, ref: torch.Tensor, ref_name: str = "the cache"
) -> tuple[torch.Tensor, bool]:
    """Check an upstream gradient against a tensor from the forward pass's cache."""
    t, is_numpy = as_tensor(name, a)
    if t.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected a float32 or float64 array, got {_describe(a)}")
    if t.dtype != ref.dtype:
        raise TypeError(f"{name}: expected dtype {ref.dtype} like {ref_name}, got {t.dtype}")
    if t.device != ref.device:
        raise ValueError(
            f"{name}: expected an array on {ref.device} like {ref_name}, got {t.device}"
        )
    return t, is_numpy


def output(t: torch.Tensor, from_numpy: bool):
    """Hand a result back as the kind that came in (numpy arrays always live on the CPU)."""
    return t.numpy() if from_numpy else t


def scalar_output(t: torch.Tensor, from_numpy: bool):
    """A 0-d result: a numpy scalar of the input dtype, or a 0-d tensor."""
    return t.numpy()[()] if from_numpy else t


def check_ndim(name: str, t: torch.Tensor, ndim: int, layout: str) -> None:
    if t.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array {layout}, got shape {tuple(t.shape)}")


def check_shape(name: str, t: torch.Tensor, shape: tuple[int, ...], why: str = "") -> None:
    if tuple(t.shape) != tuple(shape):
        why = f" ({why})" if why else ""
        raise ValueError(f"{name}: expected shape {tuple(shape)}{why}, got {tuple(t.shape)}")


def check_params(name: str, params, allowed: Set[str], required: Set[str] = frozenset()) -> None:
    """A parameter dict: a Mapping whose keys are all known and holds the required ones."""
    if not isinstance(params, Mapping):
        raise TypeError(f"{name}: expected a dict, got {_describe(params)}")
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"{name}: unknown key(s) {unknown}; allowed keys are {sorted(allowed)}")
    missing = sorted(required - set(params))
    if missing:
        raise ValueError(f"{name}: missing key(s) {missing}")


def check_int(name: str, value, minimum: int) -> int:
    """An integer (Python or numpy, not bool) that is at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer >= {minimum}, got {_describe(value)}")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    return int(value)


def check_real(name: str, value, low=None, high=None, low_open=False, high_open=False) -> float:
    """A real number in a range; ``low_open``/``high_open`` exclude that end."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {_describe(value)}")
    value = float(value)
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    interval = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above or value != value:  # the last catches NaN
        raise ValueError(f"{name}: expected a number in {interval}, got {value}")
    return value


def check_choice(name: str, value, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")
    return value


def output_size(
    size: int, kernel: int, stride: int, pad: int | None, names: tuple[str, str]
) -> int:
    """``(size - kernel + 2*pad)/stride + 1``, which must be a whole number >= 1.

    ``pad=None`` is a layer without padding (pooling): the message then leaves pad out.
    """
    n, k = names
    if pad is None:
        pad = 0
        formula, numbers_ = f"({n} - {k})/stride + 1", f"({size} - {kernel})/{stride} + 1"
        span_text = f"{n} - {k}"
    else:
        formula = f"({n} - {k} + 2*pad)/stride + 1"
        numbers_ = f"({size} - {kernel} + 2*{pad})/{stride} + 1"
        span_text = f"{n} - {k} + 2*pad"
    span = size - kernel + 2 * pad
    if span < 0:
        raise ValueError(
            f"{formula} = {numbers_} < 1: the {k}={kernel} window is larger than the "
            f"{'padded ' if pad else ''}input ({size + 2 * pad})"
        )
    if span % stride:
        raise ValueError(
            f"{formula} = {numbers_} = {span / stride + 1:g} is not a whole number: "
            f"choose sizes so that stride divides {span_text} = {span}"
        )
    return span // stride + 1
