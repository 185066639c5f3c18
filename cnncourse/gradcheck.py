"""Numerical gradients and the relative error, to check any backward pass.

The centred difference ``(f(x + h) - f(x - h)) / (2h)`` has error O(h**2); with
h = 1e-5 in float64 a correct analytic gradient usually agrees to a relative error
below 1e-7. Use float64 for checks: in float32 the rounding of f (about 1e-7 of its
value) divided by 2h swamps the difference.

Every function works on numpy arrays and on torch tensors; gradients come back as the kind
of ``x``. ``x`` is perturbed in place, one element at a time, and restored.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["eval_numerical_gradient", "eval_numerical_gradient_array", "rel_error"]


def _check_x(x):
    if isinstance(x, np.ndarray):
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"x: expected a float array, got dtype {x.dtype}")
        return
    if isinstance(x, torch.Tensor):
        if not x.dtype.is_floating_point:
            raise TypeError(f"x: expected a float tensor, got dtype {x.dtype}")
        if x.requires_grad:
            raise ValueError("x: expected a tensor without requires_grad (it is modified in place)")
        return
    raise TypeError(f"x: expected a numpy array or a torch tensor, got {type(x).__name__}")


def _zeros_like(x):
    return np.zeros_like(x) if isinstance(x, np.ndarray) else torch.zeros_like(x)


def _as_float(value) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"f: expected a scalar result, got shape {tuple(value.shape)}")
        return float(value.item())
    if isinstance(value, np.ndarray) and value.size != 1:
        raise ValueError(f"f: expected a scalar result, got shape {value.shape}")
    return float(value)


def _as_like(value, x):
    """f's output as x's kind, so it can be multiplied with df."""
    if isinstance(x, np.ndarray):
        return np.asarray(value.cpu() if isinstance(value, torch.Tensor) else value)
    return value if isinstance(value, torch.Tensor) else torch.as_tensor(value, device=x.device)


def eval_numerical_gradient(f, x, verbose=False, h=1e-5):
    """Numerical gradient of a scalar function f at x, by centred differences.

    Inputs:
    - f: a function of one argument, x, that returns a scalar (float, 0-d array or tensor)
    - x: the point, a float numpy array or torch tensor; modified in place and restored
    - verbose: print each index and its partial derivative
    - h: the step

    Returns grad in x's shape and kind: ``grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2h)``.
    """
    _check_x(x)
    grad = _zeros_like(x)
    for index in np.ndindex(*x.shape):
        old = float(x[index])
        x[index] = old + h
        f_plus = _as_float(f(x))
        x[index] = old - h
        f_minus = _as_float(f(x))
        x[index] = old
        grad[index] = (f_plus - f_minus) / (2 * h)
        if verbose:
            print(index, float(grad[index]))
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Numerical gradient of ``sum(f(x) * df)`` at x, for a function with array output.

    This is the gradient a backward pass returns when the upstream gradient is df.

    Inputs:
    - f: a function of x returning an array of df's shape
    - x: the point, float numpy array or torch tensor; modified in place and restored
    - df: the upstream gradient, in f(x)'s shape
    - h: the step

    Returns grad in x's shape and kind.
    """
    _check_x(x)
    grad = _zeros_like(x)
    for index in np.ndindex(*x.shape):
        old = float(x[index])
        x[index] = old + h
        pos = _as_like(f(x), x)
        pos = pos.copy() if isinstance(pos, np.ndarray) else pos.clone()
        x[index] = old - h
        neg = _as_like(f(x), x)
        x[index] = old
        grad[index] = float(((pos - neg) * df).sum()) / (2 * h)
    return grad


def rel_error(x, y) -> float:
    """Largest elementwise relative error ``|x - y| / max(1e-8, |x| + |y|)``.

    x and y are numpy arrays, torch tensors or numbers, of one shape. Around 1e-7 or less
    is right for a float64 gradient check; 1e-10 is what two exact float64 computations
    of one formula reach.
    """
    x = _to_numpy(x, "x")
    y = _to_numpy(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"y: expected the shape of x, {x.shape}, got {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _to_numpy(a, name):
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().double().numpy()
    if isinstance(a, np.ndarray | float | int | np.number):
        return np.asarray(a, dtype=np.float64)
    raise TypeError(
        f"{name}: expected a numpy array, torch tensor or number, got {type(a).__name__}"
    )
