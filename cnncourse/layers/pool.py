"""Pooling layers (slides: "Pooling layer", "Max Pooling").

Pooling makes the representation smaller: it works on every activation map on its own,
slides a pool_height x pool_width window with a step of ``stride`` and keeps one number
per window, the largest (max pooling) or the mean (average pooling). It has no weights.
The output has shape (N, C, H', W') with

    H' = (H - pool_height)/stride + 1        W' = (W - pool_width)/stride + 1

``pool_param = {"pool_height": int, "pool_width": int, "stride": int}`` (all three required).

Max pooling sends each upstream gradient to the one input that was the window's maximum.
When several inputs tie for the maximum, the first one in row-major order inside the
window gets the gradient, as in torch's ``max_pool2d`` (ties are common after a ReLU).

``max_pool_forward_naive`` / ``max_pool_backward_naive`` loop over windows;
``max_pool_forward`` / ``max_pool_backward`` view all windows at once and reduce them in
one call. Every forward returns the cache ``(x, pool_param)``, so the backward functions
accept either forward's cache.
"""

from __future__ import annotations

import torch

from cnncourse.layers._tensor import (
    check_int,
    check_ndim,
    check_params,
    check_shape,
    float_inputs,
    like_cache,
    output,
    output_size,
)

__all__ = [
    "avg_pool_backward",
    "avg_pool_forward",
    "max_pool_backward",
    "max_pool_backward_naive",
    "max_pool_forward",
    "max_pool_forward_naive",
]

_KEYS = {"pool_height", "pool_width", "stride"}


def _read_pool_param(pool_param) -> tuple[int, int, int]:
    check_params("pool_param", pool_param, _KEYS, required=_KEYS)
    ph = check_int("pool_param['pool_height']", pool_param["pool_height"], 1)
    pw = check_int("pool_param['pool_width']", pool_param["pool_width"], 1)
    stride = check_int("pool_param['stride']", pool_param["stride"], 1)
    return ph, pw, stride


def _output_shape(x: torch.Tensor, ph: int, pw: int, stride: int) -> tuple[int, int]:
    H_out = output_size(x.shape[2], ph, stride, None, ("H", "pool_height"))
    W_out = output_size(x.shape[3], pw, stride, None, ("W", "pool_width"))
    return H_out, W_out


def _check_forward(x, pool_param):
    (x,), from_numpy = float_inputs(x=x)
    check_ndim("x", x, 4, "(N, C, H, W)")
    ph, pw, stride = _read_pool_param(pool_param)
    H_out, W_out = _output_shape(x, ph, pw, stride)
    return x, from_numpy, ph, pw, stride, H_out, W_out


def _check_backward(dout, cache):
    x, pool_param = cache
    dout, from_numpy = like_cache("dout", dout, x, "x in the cache")
    ph, pw, stride = _read_pool_param(pool_param)
    H_out, W_out = _output_shape(x, ph, pw, stride)
    check_shape("dout", dout, (*x.shape[:2], H_out, W_out), "the forward output's shape")
    return dout, from_numpy, ph, pw, stride


def _windows(x, ph, pw, stride, H_out, W_out):
    """A view (N, C, H', W', ph, pw) of every pooling window, without copying.

    ``windows[n, c, i, j, di, dj] = x[n, c, i*stride + di, j*stride + dj]``.
    """
    N, C = x.shape[:2]
    sN, sC, sH, sW = x.stride()
    return x.as_strided((N, C, H_out, W_out, ph, pw), (sN, sC, stride * sH, stride * sW, sH, sW))


def max_pool_forward_naive(x, pool_param):
    """Max pooling forward pass with explicit loops.

    Inputs:
    - x: (N, C, H, W)
    - pool_param: {"pool_height", "pool_width", "stride"}

    Returns ``(out, cache)``: out (N, C, H', W') holds the maximum of each window;
    cache is (x, pool_param).
    """
    x, from_numpy, ph, pw, stride, H_out, W_out = _check_forward(x, pool_param)
    N, C = x.shape[:2]
    out = x.new_empty((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):  # every activation map on its own
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * stride : i * stride + ph, j * stride : j * stride + pw]
                    out[n, c, i, j] = torch.max(window)
    return output(out, from_numpy), (x, pool_param)


def max_pool_backward_naive(dout, cache):
    """Max pooling backward pass with explicit loops.

    Inputs:
    - dout: (N, C, H', W') upstream gradient
    - cache: (x, pool_param) from either max pooling forward

    Returns dx (N, C, H, W): each ``dout[n, c, i, j]`` goes to the position of its window's
    maximum (the first one, row by row, when several tie); every other input gets zero.
    """
    dout, from_numpy, ph, pw, stride = _check_backward(dout, cache)
    x = cache[0]
    N, C, H_out, W_out = dout.shape
    dx = torch.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * stride : i * stride + ph, j * stride : j * stride + pw]
                    k = int(torch.argmax(window))  # flat index of the first maximum
                    di, dj = divmod(k, pw)
                    dx[n, c, i * stride + di, j * stride + dj] += dout[n, c, i, j]
    return output(dx, from_numpy)


def max_pool_forward(x, pool_param):
    """Fast max pooling forward pass: all windows as one strided view, one max.

    Same inputs, outputs and cache as ``max_pool_forward_naive``.
    """
    x, from_numpy, ph, pw, stride, H_out, W_out = _check_forward(x, pool_param)
    out = _windows(x, ph, pw, stride, H_out, W_out).amax(dim=(4, 5))
    return output(out, from_numpy), (x, pool_param)


def max_pool_backward(dout, cache):
    """Fast max pooling backward pass: find each window's argmax, scatter-add dout there.

    Same inputs and output as ``max_pool_backward_naive``. The flat position of the maximum
    of window (i, j) in its map is ``(i*stride + k // pool_width) * W + j*stride + k % pool_width``
    where k is the argmax inside the window; ``scatter_add_`` sums the gradients of
    overlapping windows that share a maximum.
    """
    dout, from_numpy, ph, pw, stride = _check_backward(dout, cache)
    x = cache[0]
    N, C, H, W = x.shape
    H_out, W_out = dout.shape[2:]
    windows = _windows(x, ph, pw, stride, H_out, W_out).reshape(N, C, H_out, W_out, ph * pw)
    k = windows.argmax(dim=4)  # (N, C, H', W'), first maximum in row-major order
    i = torch.arange(H_out, device=x.device).view(H_out, 1) * stride
    j = torch.arange(W_out, device=x.device).view(1, W_out) * stride
    flat = (i + torch.div(k, pw, rounding_mode="floor")) * W + j + k % pw
    dx = torch.zeros_like(x).view(N, C, H * W)
    dx.scatter_add_(2, flat.view(N, C, -1), dout.reshape(N, C, -1))
    return output(dx.view(N, C, H, W), from_numpy)


def avg_pool_forward(x, pool_param):
    """Average pooling forward pass.

    Inputs:
    - x: (N, C, H, W)
    - pool_param: {"pool_height", "pool_width", "stride"}

    Returns ``(out, cache)``: out (N, C, H', W') holds the mean of each window;
    cache is (x, pool_param).
    """
    x, from_numpy, ph, pw, stride, H_out, W_out = _check_forward(x, pool_param)
    out = _windows(x, ph, pw, stride, H_out, W_out).mean(dim=(4, 5))
    return output(out, from_numpy), (x, pool_param)


def avg_pool_backward(dout, cache):
    """Average pooling backward pass.

    Inputs:
    - dout: (N, C, H', W') upstream gradient
    - cache: (x, pool_param) from ``avg_pool_forward``

    Returns dx (N, C, H, W): every input of a window receives ``dout / (pool_height *
    pool_width)``; overlapping windows add. The loop runs over the offsets inside a window;
    each step is one strided add over all windows.
    """
    dout, from_numpy, ph, pw, stride = _check_backward(dout, cache)
    x = cache[0]
    H_out, W_out = dout.shape[2:]
    share = dout / (ph * pw)
    dx = torch.zeros_like(x)
    for di in range(ph):
        for dj in range(pw):
            rows = slice(di, di + stride * H_out, stride)
            cols = slice(dj, dj + stride * W_out, stride)
            dx[:, :, rows, cols] += share
    return output(dx, from_numpy)
