"""The convolution layer (slides: "Convolution Layer").

A filter of shape (C, HH, WW) always extends the full depth of the input. It slides over
the zero-padded image with a step of ``stride`` and, at every position, computes a dot
product with the window under it plus a bias: one number of an activation map. F filters
give F activation maps, stacked into an output volume of shape (N, F, H', W') with

    H' = (H - HH + 2*pad)/stride + 1        W' = (W - WW + 2*pad)/stride + 1

This is cross-correlation (the filter is not flipped), as in every deep-learning library.

Two implementations compute the same numbers:

- ``conv_forward_naive`` / ``conv_backward_naive``: explicit loops over images, filters
  and output positions, to be read beside the slide;
- ``conv_forward`` / ``conv_backward``: im2col. Every window of an image is unrolled into
  a column (a strided view of the padded image, copied into one matrix per image), and the
  layer becomes one matrix product ``w_row @ cols`` per image, the F filters as the rows of
  ``w_row``; the backward pass is two more matrix products and a col2im that adds each
  column back onto the window it came from. The batch goes through a few images at a time,
  so that the columns (HH*WW/stride**2 times larger than the images) stay small.

Both take ``conv_param = {"stride": 1, "pad": 0}`` (missing keys take these defaults), and
both keep ``(x, w, b, conv_param)`` as the cache, so either backward accepts either cache.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F

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
    "col2im",
    "conv_backward",
    "conv_backward_naive",
    "conv_forward",
    "conv_forward_naive",
    "conv_output_size",
    "im2col",
]


def conv_output_size(H: int, HH: int, stride: int = 1, pad: int = 0) -> int:
    """Output length ``(H - HH + 2*pad)/stride + 1`` along one spatial axis.

    Raises ValueError, showing the arithmetic with the numbers, when the result is not a
    whole number (the filter would not fit the padded input evenly) or when the filter is
    larger than the padded input. Example: ``conv_output_size(32, 5, 1, 0) == 28``.
    """
    H = check_int("H", H, 1)
    HH = check_int("HH", HH, 1)
    stride = check_int("stride", stride, 1)
    pad = check_int("pad", pad, 0)
    return output_size(H, HH, stride, pad, ("H", "HH"))


def _read_conv_param(conv_param) -> tuple[int, int]:
    check_params("conv_param", conv_param, {"stride", "pad"})
    stride = check_int("conv_param['stride']", conv_param.get("stride", 1), 1)
    pad = check_int("conv_param['pad']", conv_param.get("pad", 0), 0)
    return stride, pad


def _check_conv_inputs(x, w, b, conv_param):
    """Validate the forward inputs; return tensors, from_numpy, stride, pad, (H', W')."""
    (x, w, b), from_numpy = float_inputs(x=x, w=w, b=b)
    check_ndim("x", x, 4, "(N, C, H, W)")
    check_ndim("w", w, 4, "(F, C, HH, WW)")
    N, C, H, W = x.shape
    F_, C_w, HH, WW = w.shape
    if C_w != C:
        raise ValueError(
            f"w: channel mismatch, w.shape[1] = {C_w} but x has C = x.shape[1] = {C} channels "
            "(a filter extends the full depth of the input)"
        )
    check_shape("b", b, (F_,), "one bias per filter, F = w.shape[0]")
    stride, pad = _read_conv_param(conv_param)
    H_out = output_size(H, HH, stride, pad, ("H", "HH"))
    W_out = output_size(W, WW, stride, pad, ("W", "WW"))
    return x, w, b, from_numpy, stride, pad, H_out, W_out


def _check_dout(dout, cache):
    x, w, b, conv_param = cache
    dout, from_numpy = like_cache("dout", dout, x, "x in the cache")
    stride, pad = _read_conv_param(conv_param)
    N, _, H, W = x.shape
    F_, _, HH, WW = w.shape
    H_out = output_size(H, HH, stride, pad, ("H", "HH"))
    W_out = output_size(W, WW, stride, pad, ("W", "WW"))
    check_shape("dout", dout, (N, F_, H_out, W_out), "the forward output's shape")
    return dout, from_numpy, stride, pad


def conv_forward_naive(x, w, b, conv_param):
    """Convolution forward pass with explicit loops (read it beside the slide).

    Inputs:
    - x: (N, C, H, W) images
    - w: (F, C, HH, WW) filters
    - b: (F,) biases
    - conv_param: {"stride": int >= 1, "pad": int >= 0}; zero padding on all four sides

    Returns ``(out, cache)``:
    - out: (N, F, H', W'), H' = (H - HH + 2*pad)/stride + 1, W' likewise
    - cache: (x, w, b, conv_param)
    """
    x, w, b, from_numpy, stride, pad, H_out, W_out = _check_conv_inputs(x, w, b, conv_param)
    N, F_, HH, WW = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    x_pad = F.pad(x, (pad, pad, pad, pad))  # zeros around each image
    out = x.new_zeros((N, F_, H_out, W_out))
    for n in range(N):  # each image
        for f in range(F_):  # each filter
            for i in range(H_out):  # slide down ...
                for j in range(W_out):  # ... and across
                    window = x_pad[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                    out[n, f, i, j] = torch.sum(window * w[f]) + b[f]
    return output(out, from_numpy), (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    """Convolution backward pass with explicit loops.

    Inputs:
    - dout: (N, F, H', W') upstream gradient
    - cache: (x, w, b, conv_param) from ``conv_forward_naive`` or ``conv_forward``

    Returns ``(dx, dw, db)`` with the shapes of x, w and b. Each output value
    ``out[n, f, i, j] = sum(window * w[f]) + b[f]`` sends ``dout[n, f, i, j] * w[f]`` back to
    its window, ``dout[n, f, i, j] * window`` to ``w[f]`` and ``dout[n, f, i, j]`` to ``b[f]``.
    """
    dout, from_numpy, stride, pad = _check_dout(dout, cache)
    x, w, b, _ = cache
    N, F_, H_out, W_out = dout.shape
    HH, WW = w.shape[2], w.shape[3]
    x_pad = F.pad(x, (pad, pad, pad, pad))
    dx_pad = torch.zeros_like(x_pad)
    dw = torch.zeros_like(w)
    for n in range(N):
        for f in range(F_):
            for i in range(H_out):
                for j in range(W_out):
                    rows = slice(i * stride, i * stride + HH)
                    cols = slice(j * stride, j * stride + WW)
                    dx_pad[n, :, rows, cols] += dout[n, f, i, j] * w[f]
                    dw[f] += dout[n, f, i, j] * x_pad[n, :, rows, cols]
    db = dout.sum(dim=(0, 2, 3))
    dx = dx_pad[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]]
    return output(dx.contiguous(), from_numpy), output(dw, from_numpy), output(db, from_numpy)


def _windows(x_pad, HH, WW, stride, H_out, W_out):
    """A view (N, C, HH, WW, H', W') of every HH x WW window of x_pad, without copying.

    ``windows[n, c, di, dj, i, j] = x_pad[n, c, i*stride + di, j*stride + dj]``: stepping
    one output position moves ``stride`` elements in the input.
    """
    N, C = x_pad.shape[:2]
    sN, sC, sH, sW = x_pad.stride()
    return x_pad.as_strided(
        (N, C, HH, WW, H_out, W_out), (sN, sC, sH, sW, stride * sH, stride * sW)
    )


def im2col(x, HH, WW, stride, pad):
    """Unroll every window of the zero-padded x into a column: one matrix per image.

    x (N, C, H, W) -> cols (N, C*HH*WW, H'*W'). Column ``i*W' + j`` of ``cols[n]`` is the
    window under output position (i, j) of image n, flattened in (C, HH, WW) order like a
    filter ``w[f]``, so ``w.reshape(F, -1) @ cols[n]`` computes every output of image n.
    """
    N, C, H, W = x.shape
    H_out = output_size(H, HH, stride, pad, ("H", "HH"))
    W_out = output_size(W, WW, stride, pad, ("W", "WW"))
    return _unroll(_pad(x, pad), HH, WW, stride, H_out, W_out)


def col2im(cols, x_shape, HH, WW, stride, pad):
    """The adjoint of ``im2col``: add every column back onto the window it came from.

    cols (N, C*HH*WW, H'*W') -> (N, C, H, W). Windows overlap when stride < kernel size, so
    one input pixel collects the gradients of every window that contains it.
    """
    N, C, H, W = x_shape
    H_out = output_size(H, HH, stride, pad, ("H", "HH"))
    W_out = output_size(W, WW, stride, pad, ("W", "WW"))
    x_pad = cols.new_zeros((N, C, H + 2 * pad, W + 2 * pad))
    _fold_into(x_pad, cols, HH, WW, stride, H_out, W_out)
    return x_pad[:, :, pad : pad + H, pad : pad + W]


def _pad(x, pad):
    return F.pad(x, (pad, pad, pad, pad)) if pad else x


def _unroll(x_pad, HH, WW, stride, H_out, W_out):
    """im2col of an already padded x_pad: copy the windows view into (N, C*HH*WW, H'*W')."""
    N, C = x_pad.shape[:2]
    windows = _windows(x_pad, HH, WW, stride, H_out, W_out)  # (N, C, HH, WW, H', W')
    return windows.reshape(N, C * HH * WW, H_out * W_out)


def _fold_into(x_pad, cols, HH, WW, stride, H_out, W_out):
    """col2im into x_pad (N, C, H+2*pad, W+2*pad): add every column onto its window, in place.

    The loop runs over the offsets (di, dj) inside a window, a stride x stride block of
    them at a time: offsets less than a stride apart never reach the same pixel, so a block
    is one strided add over all windows (HH*WW adds for stride 1, 3*3 instead of 11*11 for
    11x11 stride 4).
    """
    N, C = x_pad.shape[:2]
    cols = cols.reshape(N, C, HH, WW, H_out, W_out)
    for di in range(0, HH, stride):
        for dj in range(0, WW, stride):
            block = cols[:, :, di : di + stride, dj : dj + stride]  # up to stride x stride
            # the same offsets of every window, as a view of x_pad: adding writes x_pad
            windows = _windows(x_pad[:, :, di:, dj:], *block.shape[2:4], stride, H_out, W_out)
            windows.add_(block)


# Unrolled values per chunk of images (4 MiB in float32). The columns are HH*WW/stride**2
# times larger than the images: in chunks they stay in the CPU cache between the copy and
# the products, and the allocator reuses one chunk's buffer for the next instead of mapping
# fresh pages (a page fault each) for the columns of the whole batch.
_CHUNK_ELEMENTS = 2**20


def _image_chunks(x, values_per_image: int) -> list[slice]:
    """Split the batch into slices of equal size (+-1) with ~_CHUNK_ELEMENTS unrolled values."""
    N = x.shape[0]
    n_chunks = max(1, min(N, math.ceil(N * values_per_image / _CHUNK_ELEMENTS)))
    if x.device.type != "cpu":
        n_chunks = 1  # a GPU has the memory, and every chunk costs kernel launches
    ends = [N * k // n_chunks for k in range(n_chunks + 1)]
    return [slice(start, end) for start, end in itertools.pairwise(ends)]


def conv_forward(x, w, b, conv_param):
    """Fast convolution forward pass: im2col and one matrix product per image.

    Inputs and outputs as in ``conv_forward_naive``: x (N, C, H, W), w (F, C, HH, WW),
    b (F,), conv_param {"stride", "pad"}; returns ``(out, cache)`` with out (N, F, H', W')
    and cache (x, w, b, conv_param). With cols (N, C*HH*WW, H'*W') from ``im2col``,
    ``out[n] = w_row @ cols[n] + b`` for every image n (w_row: the filters as rows, (F,
    C*HH*WW)); the batch goes through a few images at a time. The columns are not cached:
    the backward pass unrolls x again, which keeps the cache as small as the input (the
    columns are about HH*WW/stride**2 times larger than x).
    """
    x, w, b, from_numpy, stride, pad, H_out, W_out = _check_conv_inputs(x, w, b, conv_param)
    N, (F_, C, HH, WW) = x.shape[0], w.shape
    w_row = w.reshape(F_, -1)  # (F, C*HH*WW): one filter per row
    bias = b.view(1, F_, 1)
    recording = torch.is_grad_enabled() and (x.requires_grad or w.requires_grad or b.requires_grad)
    x_pad = _pad(x, pad)
    out = x.new_empty((N, F_, H_out * W_out))
    for chunk in _image_chunks(x, C * HH * WW * H_out * W_out):
        cols = _unroll(x_pad[chunk], HH, WW, stride, H_out, W_out)  # (n, C*HH*WW, H'*W')
        n = cols.shape[0]
        if recording:  # autograd cannot record an out= product: the same numbers via a copy
            out[chunk] = w_row @ cols + bias
        else:  # out[n] = b + w_row @ cols[n] for each of the n images, straight into out
            torch.baddbmm(
                bias.expand(n, -1, H_out * W_out), w_row.expand(n, -1, -1), cols, out=out[chunk]
            )
    return output(out.view(N, F_, H_out, W_out), from_numpy), (x, w, b, conv_param)


def conv_backward(dout, cache):
    """Fast convolution backward pass: two matrix products per image and col2im.

    Inputs:
    - dout: (N, F, H', W') upstream gradient
    - cache: (x, w, b, conv_param) from ``conv_forward`` or ``conv_forward_naive``

    Returns ``(dx, dw, db)``. With ``out[n] = w_row @ cols[n] + b`` and dout[n] as an
    (F, H'*W') matrix: ``dw_row = sum over n of dout[n] @ cols[n].T``, ``db = dout summed
    over n and the positions``, ``dcols[n] = w_row.T @ dout[n]``, and col2im adds every
    column of dcols back onto the window it was unrolled from. x is unrolled again, a few
    images at a time, as in the forward pass.
    """
    dout, from_numpy, stride, pad = _check_dout(dout, cache)
    x, w, b, _ = cache
    F_, C, HH, WW = w.shape
    N, _, H_out, W_out = dout.shape
    dout = dout.reshape(N, F_, H_out * W_out)
    w_row = w.reshape(F_, -1)  # (F, C*HH*WW)
    x_pad = _pad(x, pad)
    dx_pad = torch.zeros_like(x_pad)
    dw_row = torch.zeros_like(w_row)
    for chunk in _image_chunks(x, C * HH * WW * H_out * W_out):
        cols = _unroll(x_pad[chunk], HH, WW, stride, H_out, W_out)  # (n, C*HH*WW, H'*W')
        dw_row += (dout[chunk] @ cols.mT).sum(dim=0)  # (n, F, C*HH*WW) summed over images
        dcols = w_row.t() @ dout[chunk]  # (n, C*HH*WW, H'*W')
        _fold_into(dx_pad[chunk], dcols, HH, WW, stride, H_out, W_out)
    dx = dx_pad[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]].contiguous()
    db = dout.sum(dim=(0, 2))
    dw = dw_row.view_as(w)
    return output(dx, from_numpy), output(dw, from_numpy), output(db, from_numpy)
