"""Numerical gradients and the relative error, to check any backward pass.

This module holds the course's one relative error and one numerical gradient: the book, the
exercise checks (:mod:`cnncourse.checks`) and the autograder's messages
(:mod:`cnncourse.grading.compare`) all use them.

The centred difference ``(f(x + h) - f(x - h)) / (2h)`` has error O(h**2); with
h = 1e-5 in float64 a correct analytic gradient usually agrees to a relative error
below 1e-7. Use float64 for checks: in float32 the rounding of f (about 1e-7 of its
value) divided by 2h swamps the difference.

Every function works on numpy arrays and on torch tensors; gradients come back as the kind
of ``x``. ``x`` is perturbed in place, one element at a time, and restored.
"""

from __future__ import annotations

import sys

import numpy as np

__all__ = ["eval_numerical_gradient", "eval_numerical_gradient_array", "rel_error"]


def _torch():
    """torch when something already imported it (a tensor cannot exist otherwise), else None.

    Importing torch costs a second; the sandboxed grader imports this module without it.
    """
    return sys.modules.get("torch")


def _is_tensor(value) -> bool:
    torch = _torch()
    return torch is not None and isinstance(value, torch.Tensor)


def _check_x(x):
    if isinstance(x, np.ndarray):
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"x: expected a float array, got dtype {x.dtype}")
        return
    if _is_tensor(x):
        if not x.dtype.is_floating_point:
            raise TypeError(f"x: expected a float tensor, got dtype {x.dtype}")
        if x.requires_grad:
            raise ValueError("x: expected a tensor without requires_grad (it is modified in place)")
        return
    raise TypeError(f"x: expected a numpy array or a torch tensor, got {type(x).__name__}")


def _zeros_like(x):
    return np.zeros_like(x) if isinstance(x, np.ndarray) else _torch().zeros_like(x)


def _as_float(value) -> float:
    if _is_tensor(value):
        if value.numel() != 1:
            raise ValueError(f"f: expected a scalar result, got shape {tuple(value.shape)}")
        return float(value.item())
    if isinstance(value, np.ndarray) and value.size != 1:
        raise ValueError(f"f: expected a scalar result, got shape {value.shape}")
    return float(value)


def _as_like(value, x):
    """f's output as x's kind, so it can be multiplied with df."""
    if isinstance(x, np.ndarray):
        return np.asarray(value.cpu() if _is_tensor(value) else value)
    return value if _is_tensor(value) else _torch().as_tensor(value, device=x.device)


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
    """The course's relative error: ``max|x - y| / (max|x| + max|y|)``, 0 when both are 0.

    The worst elementwise difference, measured against the scale of the two arrays (their
    largest magnitudes). It is scale free (1e-7 means "agree to about 7 digits of the
    array's scale"), symmetric, and a single wrong element counts in full however many
    elements agree; unlike the elementwise ``|x - y| / (|x| + |y|)`` it does not blow up on
    an entry that is near zero only because of cancellation, where correct code in another
    order of operations (or in float32) differs in its last digits. For one number it is
    ``|x - y| / (|x| + |y|)``.

    x and y are numpy arrays, torch tensors or numbers, of one shape. Non-finite values count
    as agreeing only where both hold the same one (the same infinity, or NaN and NaN);
    anywhere else the result is ``inf``. Around 1e-7 or less is right for a float64 gradient
    check; two float64 computations of one formula in different orders reach about 1e-15.
    """
    x = _to_numpy(x, "x")
    y = _to_numpy(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"y: expected the shape of x, {x.shape}, got {y.shape}")
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.all():
        same = (x == y) | (np.isnan(x) & np.isnan(y))
        if not same[~finite].all():
            return float("inf")
        x, y = x[finite], y[finite]
    if x.size == 0:
        return 0.0
    # halved (exact in binary floating point) so that x - y cannot overflow near the largest
    # float64
    x, y = x / 2, y / 2
    scale = np.max(np.abs(x)) + np.max(np.abs(y))
    return 0.0 if scale == 0 else float(np.max(np.abs(x - y)) / scale)


def _to_numpy(a, name):
    if _is_tensor(a):
        return a.detach().cpu().double().numpy()
    if isinstance(a, np.ndarray | float | int | np.number):
        return np.asarray(a, dtype=np.float64)
    raise TypeError(
        f"{name}: expected a numpy array, torch tensor or number, got {type(a).__name__}"
    )
