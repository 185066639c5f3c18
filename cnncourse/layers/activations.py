"""Activation functions (slides: "Activation Functions").

Each activation is applied element by element (maxout excepted: it has weights) and
comes as a forward/backward pair:

========== ============================================ ==================================
 name       forward                                      local gradient d out / d x
========== ============================================ ==================================
 ReLU       max(0, x)                                    1 if x > 0 else 0
 Leaky ReLU x if x > 0 else negative_slope * x           1 if x > 0 else negative_slope
 sigmoid    1 / (1 + exp(-x))                            out * (1 - out)
 tanh       tanh(x)                                      1 - out**2
 ELU        x if x > 0 else alpha * (exp(x) - 1)         1 if x > 0 else alpha * exp(x)
 maxout     max_j (x @ w[:, :, j] + b[:, j])             w[:, m, j*] for the winning piece j*
========== ============================================ ==================================

At x = 0 the derivative uses the "else" branch, as torch does.
"""

from __future__ import annotations

import torch

from cnncourse.layers._tensor import (
    check_real,
    check_shape,
    float_inputs,
    like_cache,
    output,
)

__all__ = [
    "elu_backward",
    "elu_forward",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "maxout_backward",
    "maxout_forward",
    "relu_backward",
    "relu_forward",
    "sigmoid_backward",
    "sigmoid_forward",
    "tanh_backward",
    "tanh_forward",
]


def _dout_like(dout, ref: torch.Tensor, what: str = "x in the cache"):
    dout, from_numpy = like_cache("dout", dout, ref, what)
    check_shape("dout", dout, tuple(ref.shape), "the forward output's shape")
    return dout, from_numpy


def relu_forward(x):
    """ReLU forward pass ``out = max(0, x)``.

    Input x of any shape; returns ``(out, cache)`` with out in x's shape and cache = x.
    """
    (x,), from_numpy = float_inputs(x=x)
    out = torch.clamp(x, min=0)
    return output(out, from_numpy), x


def relu_backward(dout, cache):
    """ReLU backward pass: ``dx = dout`` where x > 0, else 0. cache = x; returns dx."""
    x = cache
    dout, from_numpy = _dout_like(dout, x)
    dx = dout * (x > 0)
    return output(dx, from_numpy)


def leaky_relu_forward(x, negative_slope=0.01):
    """Leaky ReLU forward pass ``out = x if x > 0 else negative_slope * x``.

    Input x of any shape and a real ``negative_slope``; returns ``(out, cache)`` with out in
    x's shape and cache = (x, negative_slope).
    """
    (x,), from_numpy = float_inputs(x=x)
    negative_slope = check_real("negative_slope", negative_slope)
    out = torch.where(x > 0, x, negative_slope * x)
    return output(out, from_numpy), (x, negative_slope)


def leaky_relu_backward(dout, cache):
    """Leaky ReLU backward pass: ``dx = dout`` where x > 0, else ``negative_slope * dout``."""
    x, negative_slope = cache
    dout, from_numpy = _dout_like(dout, x)
    dx = torch.where(x > 0, dout, negative_slope * dout)
    return output(dx, from_numpy)


def sigmoid_forward(x):
    """Sigmoid forward pass ``out = 1 / (1 + exp(-x))``, in (0, 1).

    Input x of any shape; returns ``(out, cache)`` with out in x's shape and cache = out
    (the local gradient needs only the output). For x < -709 (float64) exp(-x) overflows
    to inf and out is exactly 0, which is the right limit.
    """
    (x,), from_numpy = float_inputs(x=x)
    out = 1 / (1 + torch.exp(-x))
    return output(out, from_numpy), out


def sigmoid_backward(dout, cache):
    """Sigmoid backward pass: ``dx = dout * out * (1 - out)``. cache = out; returns dx."""
    out = cache
    dout, from_numpy = _dout_like(dout, out, "out in the cache")
    dx = dout * out * (1 - out)
    return output(dx, from_numpy)


def tanh_forward(x):
    """tanh forward pass ``out = (e^x - e^-x) / (e^x + e^-x)``, in (-1, 1), zero-centred.

    Input x of any shape; returns ``(out, cache)`` with out in x's shape and cache = out.
    """
    (x,), from_numpy = float_inputs(x=x)
    out = torch.tanh(x)  # the formula above, without its overflow for |x| > 710
    return output(out, from_numpy), out


def tanh_backward(dout, cache):
    """tanh backward pass: ``dx = dout * (1 - out**2)``. cache = out; returns dx."""
    out = cache
    dout, from_numpy = _dout_like(dout, out, "out in the cache")
    dx = dout * (1 - out) * (1 + out)  # = 1 - out**2, without its cancellation near +-1
    return output(dx, from_numpy)


def elu_forward(x, alpha=1.0):
    """ELU forward pass ``out = x if x > 0 else alpha * (exp(x) - 1)``.

    Input x of any shape and a real ``alpha``; returns ``(out, cache)`` with out in x's
    shape and cache = (x, alpha).
    """
    (x,), from_numpy = float_inputs(x=x)
    alpha = check_real("alpha", alpha)
    out = torch.where(x > 0, x, alpha * torch.expm1(x))  # expm1(x) = exp(x) - 1, exact near 0
    return output(out, from_numpy), (x, alpha)


def elu_backward(dout, cache):
    """ELU backward pass: ``dx = dout`` where x > 0, else ``dout * alpha * exp(x)``."""
    x, alpha = cache
    dout, from_numpy = _dout_like(dout, x)
    dx = torch.where(x > 0, dout, dout * alpha * torch.exp(x))
    return output(dx, from_numpy)


def maxout_forward(x, w, b):
    """Maxout forward pass ``out[n, m] = max_j (x[n] @ w[:, m, j] + b[m, j])``.

    Each of the M output neurons has k linear pieces and keeps the largest one; with k = 2
    this is the slide's ``max(w1^T x + b1, w2^T x + b2)``.

    Inputs:
    - x: (N, d1, ..., dk), flattened to (N, D) as in the affine layer
    - w: (D, M, k) weights: ``w[:, m, j]`` is piece j of neuron m
    - b: (M, k) biases

    Returns ``(out, cache)``: out (N, M); cache (x, w, b, j_max) where j_max (N, M) is the
    index of the winning piece (the first one if several tie).
    """
    (x, w, b), from_numpy = float_inputs(x=x, w=w, b=b)
    if x.ndim < 2:
        raise ValueError(
            f"x: expected an array of shape (N, d1, ..., dk), got shape {tuple(x.shape)}"
        )
    if w.ndim != 3:
        raise ValueError(f"w: expected a 3-D array (D, M, k), got shape {tuple(w.shape)}")
    N, D = x.shape[0], x[0].numel()
    if w.shape[0] != D:
        raise ValueError(
            f"w: expected {D} rows, one per input number (x.shape {tuple(x.shape)} flattens to "
            f"(N, D) = ({N}, {D})), got w.shape {tuple(w.shape)}"
        )
    M, k = w.shape[1:]
    check_shape("b", b, (M, k), "one bias per neuron and piece, (M, k) = w.shape[1:]")
    z = (x.reshape(N, D) @ w.reshape(D, M * k)).view(N, M, k) + b  # every piece
    out, j_max = z.max(dim=2)
    return output(out, from_numpy), (x, w, b, j_max)


def maxout_backward(dout, cache):
    """Maxout backward pass: the gradient flows through the winning piece only.

    Inputs:
    - dout: (N, M) upstream gradient
    - cache: (x, w, b, j_max) from ``maxout_forward``

    Returns ``(dx, dw, db)`` with the shapes of x, w and b.
    """
    x, w, b, j_max = cache
    dout, from_numpy = like_cache("dout", dout, x, "x in the cache")
    N, D = x.shape[0], x[0].numel()
    M, k = w.shape[1:]
    check_shape("dout", dout, (N, M), "the forward output's shape (N, M)")
    dz = dout.new_zeros((N, M, k)).scatter_(2, j_max.unsqueeze(2), dout.unsqueeze(2))
    dz = dz.view(N, M * k)
    dx = (dz @ w.reshape(D, M * k).t()).reshape(x.shape)
    dw = (x.reshape(N, D).t() @ dz).view(D, M, k)
    db = dz.sum(dim=0).view(M, k)
    return output(dx, from_numpy), output(dw, from_numpy), output(db, from_numpy)
