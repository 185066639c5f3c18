"""torch layers whose forward and backward passes are the course's reference layers.

Two levels:

- ``torch.autograd.Function`` classes (``Conv2dFunction``, ``MaxPool2dFunction``, ...):
  ``forward`` calls a ``cnncourse.layers`` ``*_forward`` and keeps its cache;
  ``backward`` calls the matching ``*_backward`` with that cache. Autograd then chains
  them like any torch op, so a whole network trains with the course's own gradients.
- ``nn.Module`` classes that are drop-in replacements for their ``torch.nn`` namesakes:
  each one subclasses the torch module, so the constructor signature, the parameter and
  buffer names (``weight``, ``bias``, ``running_mean``, ``running_var``,
  ``num_batches_tracked``), the initialization and ``isinstance`` checks are torch's, and
  a torchvision ``state_dict`` loads with ``strict=True``. Only ``forward`` changes.
  Arguments the references do not implement (dilation, groups, ``return_indices``, ...)
  are accepted at their default value and refused otherwise with a ValueError.

torch's output-size rule rounds down (``ceil_mode=True``: up) where the references insist
on a whole ``(H - HH + 2*pad)/stride + 1``. The modules bridge the two: when the windows do
not fit evenly they pad the input themselves (zeros for conv and average pooling, -inf for
max pooling, as torch does implicitly), drop the rows and columns no window reaches (or,
for ``ceil_mode``, pad the last partial window), and call the reference with pad 0. The
output then equals torch's exactly, and the dropped inputs get a zero gradient.

Works on CPU and CUDA, in float32 and float64.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from cnncourse.layers import (
    affine_backward,
    affine_forward,
    avg_pool_backward,
    avg_pool_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    conv_backward,
    conv_forward,
    dropout_backward,
    dropout_forward,
    elu_backward,
    elu_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    max_pool_backward,
    max_pool_forward,
    maxout_backward,
    maxout_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    tanh_backward,
    tanh_forward,
)

__all__ = [
    "ELU",
    "AvgPool2d",
    "AvgPool2dFunction",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNormFunction",
    "Conv2d",
    "Conv2dFunction",
    "Dropout",
    "DropoutFunction",
    "ELUFunction",
    "LeakyReLU",
    "LeakyReLUFunction",
    "Linear",
    "LinearFunction",
    "MaxPool2d",
    "MaxPool2dFunction",
    "MaxoutFunction",
    "ReLU",
    "ReLUFunction",
    "Sigmoid",
    "SigmoidFunction",
    "Tanh",
    "TanhFunction",
    "pointwise_function",
]


# --- keeping a reference cache on the autograd context -------------------------------------


def _save_cache(ctx, cache) -> None:
    """Keep a layer's cache on ctx: its tensors through ``save_for_backward`` (so torch
    detects an in-place change between forward and backward), everything else as is."""
    if isinstance(cache, dict):
        keys, items = list(cache), list(cache.values())
    else:
        keys, items = None, list(cache) if isinstance(cache, tuple) else [cache]
    ctx.cache_layout = (keys, isinstance(cache, tuple))
    ctx.cache_items = [None if isinstance(i, torch.Tensor) else i for i in items]
    ctx.save_for_backward(*(i for i in items if isinstance(i, torch.Tensor)))


def _load_cache(ctx):
    tensors = iter(ctx.saved_tensors)
    items = [next(tensors) if i is None else i for i in ctx.cache_items]
    keys, is_tuple = ctx.cache_layout
    if keys is not None:
        return dict(zip(keys, items, strict=True))
    return tuple(items) if is_tuple else items[0]


# --- autograd Functions ---------------------------------------------------------------------


class Conv2dFunction(torch.autograd.Function):
    """``apply(x, weight, bias, stride, pad)``: conv_forward / conv_backward.

    x (N, C, H, W), weight (F, C, HH, WW), bias (F,) or None; stride and pad are ints and
    ``(H - HH + 2*pad)/stride + 1`` must be whole (``Conv2d`` takes care of that).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, pad):
        b = bias if bias is not None else weight.new_zeros(weight.shape[0])
        out, cache = conv_forward(x, weight, b, {"stride": stride, "pad": pad})
        _save_cache(ctx, cache)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, dout):
        dx, dw, db = conv_backward(dout.contiguous(), _load_cache(ctx))
        return dx, dw, db if ctx.needs_input_grad[2] else None, None, None


class MaxPool2dFunction(torch.autograd.Function):
    """``apply(x, pool_height, pool_width, stride)``: max_pool_forward / max_pool_backward."""

    @staticmethod
    def forward(ctx, x, pool_height, pool_width, stride):
        pool_param = {"pool_height": pool_height, "pool_width": pool_width, "stride": stride}
        out, cache = max_pool_forward(x, pool_param)
        _save_cache(ctx, cache)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, dout):
        return max_pool_backward(dout.contiguous(), _load_cache(ctx)), None, None, None


class AvgPool2dFunction(torch.autograd.Function):
    """``apply(x, pool_height, pool_width, stride)``: avg_pool_forward / avg_pool_backward."""

    @staticmethod
    def forward(ctx, x, pool_height, pool_width, stride):
        pool_param = {"pool_height": pool_height, "pool_width": pool_width, "stride": stride}
        out, cache = avg_pool_forward(x, pool_param)
        _save_cache(ctx, cache)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, dout):
        return avg_pool_backward(dout.contiguous(), _load_cache(ctx)), None, None, None


class LinearFunction(torch.autograd.Function):
    """``apply(x, weight, bias)`` with torch's layout: x (N, D), weight (M, D), bias (M,) or
    None; the reference's w is ``weight.T`` (D, M)."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        b = bias if bias is not None else weight.new_zeros(weight.shape[0])
        out, cache = affine_forward(x, weight.t(), b)
        _save_cache(ctx, cache)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, dout):
        dx, dw, db = affine_backward(dout.contiguous(), _load_cache(ctx))
        return dx, dw.t(), db if ctx.needs_input_grad[2] else None


def pointwise_function(layer_forward, layer_backward):
    """An autograd Function for a pointwise layer: ``apply(x, *params)`` returns
    ``layer_forward(x, *params)``'s output; backward returns ``layer_backward(dout, cache)``
    for x and no gradient for the params (negative_slope, alpha: plain numbers)."""

    class PointwiseFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, *params):
            out, cache = layer_forward(x, *params)
            _save_cache(ctx, cache)
            ctx.num_params = len(params)
            return out

        @staticmethod
        @once_differentiable
        def backward(ctx, dout):
            dx = layer_backward(dout.contiguous(), _load_cache(ctx))
            return (dx, *[None] * ctx.num_params)

    return PointwiseFunction


# mypy cannot use a class made by a call as a base class (its "dynamic base class" error):
# pointwise_function returns a torch.autograd.Function subclass, hence the ignores below.
class ReLUFunction(pointwise_function(relu_forward, relu_backward)):  # type: ignore[misc]
    """``apply(x)``: relu_forward / relu_backward."""


class LeakyReLUFunction(pointwise_function(leaky_relu_forward, leaky_relu_backward)):  # type: ignore[misc]
    """``apply(x, negative_slope)``: leaky_relu_forward / leaky_relu_backward."""


class SigmoidFunction(pointwise_function(sigmoid_forward, sigmoid_backward)):  # type: ignore[misc]
    """``apply(x)``: sigmoid_forward / sigmoid_backward."""


class TanhFunction(pointwise_function(tanh_forward, tanh_backward)):  # type: ignore[misc]
    """``apply(x)``: tanh_forward / tanh_backward."""


class ELUFunction(pointwise_function(elu_forward, elu_backward)):  # type: ignore[misc]
    """``apply(x, alpha)``: elu_forward / elu_backward."""


class MaxoutFunction(torch.autograd.Function):
    """``apply(x, w, b)``: maxout_forward / maxout_backward; x (N, D), w (D, M, k), b (M, k)."""

    @staticmethod
    def forward(ctx, x, w, b):
        out, cache = maxout_forward(x, w, b)
        _save_cache(ctx, cache)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, dout):
        return maxout_backward(dout.contiguous(), _load_cache(ctx))


class DropoutFunction(torch.autograd.Function):
    """``apply(x, keep_prob, seed=None)``: train-mode dropout_forward / dropout_backward.

    Without a seed the mask comes from torch's global generator (``torch.manual_seed``
    repeats it); with one, every call draws the same mask.
    """

    @staticmethod
    def forward(ctx, x, keep_prob, seed=None):
        param = {"keep_prob": keep_prob, "mode": "train"}
        if seed is not None:
            param["seed"] = seed
        out, cache = dropout_forward(x, param)
        _save_cache(ctx, cache)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, dout):
        return dropout_backward(dout.contiguous(), _load_cache(ctx)), None, None


class BatchNormFunction(torch.autograd.Function):
    """``apply(x, gamma, beta, training, eps, running_mean=None, running_var=None)``.

    x (N, C) uses batchnorm_forward, (N, C, H, W) spatial_batchnorm_forward. In training
    the batch statistics normalize (the running statistics are not touched: the module
    updates them with torch's rule); otherwise the given running statistics do.
    """

    @staticmethod
    def forward(ctx, x, gamma, beta, training, eps, running_mean=None, running_var=None):
        bn_param = {"mode": "train" if training else "test", "eps": eps}
        if not training:
            bn_param.update(running_mean=running_mean, running_var=running_var)
        forward = batchnorm_forward if x.ndim == 2 else spatial_batchnorm_forward
        out, cache = forward(x, gamma, beta, bn_param)
        _save_cache(ctx, cache)
        ctx.spatial = x.ndim == 4
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, dout):
        backward = spatial_batchnorm_backward if ctx.spatial else batchnorm_backward_alt
        dx, dgamma, dbeta = backward(dout.contiguous(), _load_cache(ctx))
        return dx, dgamma, dbeta, None, None, None, None


# --- fitting torch's output-size rule to the references' whole-number rule -----------------


def _pair(value, name: str) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    if (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(isinstance(v, int) for v in value)
    ):
        return int(value[0]), int(value[1])
    raise TypeError(f"{name}: expected an int or a pair of ints, got {value!r}")


def _square(value, name: str) -> int:
    a, b = _pair(value, name)
    if a != b:
        raise ValueError(
            f"{name}: the reference layers use one value for both axes, got {tuple(value)}"
        )
    return a


def _require_default(name: str, value, default) -> None:
    if value != default and _pair_or(value) != _pair_or(default):
        raise ValueError(
            f"{name}: the reference layers implement only {name}={default!r}, got {value!r}"
        )


def _pair_or(value):
    try:
        return _pair(value, "")
    except TypeError:
        return value


def _torch_out_size(size: int, kernel: int, stride: int, pad: int, ceil_mode: bool) -> int:
    """torch's rule: floor (or ceil) of (size + 2*pad - kernel)/stride, plus one; with
    ceil_mode, a last window that would start in the right padding is dropped."""
    if ceil_mode:
        out = math.ceil((size + 2 * pad - kernel) / stride) + 1
        if (out - 1) * stride >= size + pad:
            out -= 1
        return out
    return (size + 2 * pad - kernel) // stride + 1


def _fit(x, kernel, stride: int, pad: int, value: float, ceil_mode: bool = False):
    """Return ``(x', pad')`` such that the reference on x' with pad' gives torch's output.

    When the windows fit evenly this is (x, pad), untouched. Otherwise x is padded with
    ``value`` and cut (or padded further at the bottom/right) to exactly the rows and
    columns that torch's windows cover, and pad' is 0.
    """
    H, W = x.shape[-2:]
    sizes = []
    for size, k in zip((H, W), kernel, strict=True):
        out = _torch_out_size(size, k, stride, pad, ceil_mode)
        if out < 1:
            raise ValueError(
                f"input: a {k}-wide window does not fit an input of {size} with padding {pad}"
            )
        sizes.append((out - 1) * stride + k)  # the span the windows cover, padding included
    if sizes == [H + 2 * pad, W + 2 * pad]:
        return x, pad
    extra_h, extra_w = sizes[0] - (H + 2 * pad), sizes[1] - (W + 2 * pad)
    x = F.pad(x, (pad, pad + max(extra_w, 0), pad, pad + max(extra_h, 0)), value=value)
    return x[..., : sizes[0], : sizes[1]], 0


# --- modules --------------------------------------------------------------------------------


class Conv2d(torch.nn.Conv2d):
    """``torch.nn.Conv2d`` computed by ``conv_forward`` / ``conv_backward``.

    Same signature, parameters (``weight`` (F, C, HH, WW), ``bias`` (F,)) and
    initialization as torch's. stride and padding must be equal on both axes (an int or a
    square pair); dilation=1, groups=1 and padding_mode="zeros" only.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ):
        _square(stride, "stride")
        if isinstance(padding, str):
            raise ValueError(f"padding: expected an int or a square pair of ints, got {padding!r}")
        _square(padding, "padding")
        _require_default("dilation", dilation, 1)
        _require_default("groups", groups, 1)
        _require_default("padding_mode", padding_mode, "zeros")
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device=device,
            dtype=dtype,
        )

    def forward(self, x):
        stride, pad = self.stride[0], self.padding[0]
        x, pad = _fit(x, self.kernel_size, stride, pad, value=0.0)
        return Conv2dFunction.apply(x, self.weight, self.bias, stride, pad)


class MaxPool2d(torch.nn.MaxPool2d):
    """``torch.nn.MaxPool2d`` computed by ``max_pool_forward`` / ``max_pool_backward``.

    kernel_size may be non-square; stride (default: kernel_size) and padding must be equal
    on both axes. Padding is -inf, so a padded position never wins a window, and
    ``ceil_mode`` follows torch's rule. dilation=1 and return_indices=False only.
    """

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        dilation=1,
        return_indices=False,
        ceil_mode=False,
    ):
        kernel = _pair(kernel_size, "kernel_size")
        _square(kernel if stride is None else stride, "stride")
        pad = _square(padding, "padding")
        if 2 * pad > min(kernel):
            raise ValueError(
                f"padding: expected at most half the kernel size {kernel}, got {padding}"
            )
        _require_default("dilation", dilation, 1)
        _require_default("return_indices", return_indices, False)
        super().__init__(kernel_size, stride, padding, dilation, return_indices, ceil_mode)

    def forward(self, x):
        kernel = _pair(self.kernel_size, "kernel_size")
        stride = _square(self.stride, "stride")
        pad = _square(self.padding, "padding")
        x, pad = _fit(x, kernel, stride, pad, value=-math.inf, ceil_mode=self.ceil_mode)
        if pad:  # the reference pools without padding
            x = F.pad(x, (pad, pad, pad, pad), value=-math.inf)
        return MaxPool2dFunction.apply(x, kernel[0], kernel[1], stride)


class AvgPool2d(torch.nn.AvgPool2d):
    """``torch.nn.AvgPool2d`` computed by ``avg_pool_forward`` / ``avg_pool_backward``.

    stride (default: kernel_size) and padding must be equal on both axes; zero padding
    counts in the mean (count_include_pad=True). ceil_mode=False and
    divisor_override=None only.
    """

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode=False,
        count_include_pad=True,
        divisor_override=None,
    ):
        kernel = _pair(kernel_size, "kernel_size")
        _square(kernel if stride is None else stride, "stride")
        pad = _square(padding, "padding")
        if 2 * pad > min(kernel):
            raise ValueError(
                f"padding: expected at most half the kernel size {kernel}, got {padding}"
            )
        _require_default("ceil_mode", ceil_mode, False)
        if pad:
            _require_default("count_include_pad", count_include_pad, True)
        _require_default("divisor_override", divisor_override, None)
        super().__init__(
            kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
        )

    def forward(self, x):
        kernel = _pair(self.kernel_size, "kernel_size")
        stride = _square(self.stride, "stride")
        pad = _square(self.padding, "padding")
        x, pad = _fit(x, kernel, stride, pad, value=0.0)
        if pad:  # the reference pools without padding
            x = F.pad(x, (pad, pad, pad, pad))
        return AvgPool2dFunction.apply(x, kernel[0], kernel[1], stride)


class Linear(torch.nn.Linear):
    """``torch.nn.Linear`` computed by ``affine_forward`` / ``affine_backward``.

    ``weight`` is (out_features, in_features) as in torch; the reference's w is its
    transpose. Inputs (*, in_features) are flattened to rows and reshaped back.
    """

    def forward(self, x):
        rows = x.reshape(-1, self.in_features)
        out = LinearFunction.apply(rows, self.weight, self.bias)
        return out.reshape(*x.shape[:-1], self.out_features)


class ReLU(torch.nn.ReLU):
    """``torch.nn.ReLU`` computed by ``relu_forward`` / ``relu_backward``.

    ``inplace`` is accepted for compatibility; the result is always a new tensor.
    """

    def forward(self, x):
        return ReLUFunction.apply(x)


class LeakyReLU(torch.nn.LeakyReLU):
    """``torch.nn.LeakyReLU(negative_slope=0.01)`` computed by the leaky_relu reference."""

    def forward(self, x):
        return LeakyReLUFunction.apply(x, self.negative_slope)


class Sigmoid(torch.nn.Sigmoid):
    """``torch.nn.Sigmoid`` computed by ``sigmoid_forward`` / ``sigmoid_backward``."""

    def forward(self, x):
        return SigmoidFunction.apply(x)


class Tanh(torch.nn.Tanh):
    """``torch.nn.Tanh`` computed by ``tanh_forward`` / ``tanh_backward``."""

    def forward(self, x):
        return TanhFunction.apply(x)


class ELU(torch.nn.ELU):
    """``torch.nn.ELU(alpha=1.0)`` computed by ``elu_forward`` / ``elu_backward``."""

    def forward(self, x):
        return ELUFunction.apply(x, self.alpha)


class Dropout(torch.nn.Dropout):
    """``torch.nn.Dropout(p=0.5)`` computed by the inverted-dropout reference.

    torch's ``p`` is the probability of *dropping* a unit; the reference's keep_prob is
    ``1 - p``. The identity in eval mode (``self.training`` False). The mask comes from
    torch's global generator; it is a different draw from torch's own dropout.
    """

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        if self.p == 1:  # keep_prob = 0: everything dropped, as in torch
            return x * 0
        return DropoutFunction.apply(x, 1.0 - self.p)


class _BatchNorm:
    """forward shared by BatchNorm1d and BatchNorm2d, following torch's semantics.

    Normalization uses the batch statistics in training, or whenever there are no running
    statistics (track_running_stats=False); otherwise the running ones. The running
    statistics follow torch, not the course's reference: torch's ``momentum`` (0.1) weighs
    the *new* batch (the course's momentum 0.9 = 1 - 0.1), ``momentum=None`` takes the
    cumulative average, and running_var is updated with the unbiased variance
    ``var * n / (n - 1)`` (n values per channel), while normalization uses the biased one.
    """

    def forward(self, x):
        self._check_input_dim(x)
        use_batch = self.training or self.running_mean is None
        C = x.shape[1]
        gamma = self.weight if self.affine else x.new_ones(C)
        beta = self.bias if self.affine else x.new_zeros(C)
        if use_batch:
            n = x.numel() // C
            if n <= 1:
                raise ValueError(
                    f"x: expected more than 1 value per channel when training, got input "
                    f"shape {tuple(x.shape)}"
                )
        if self.training and self.track_running_stats:
            self._update_running_stats(x, n)
        x_in = x.unsqueeze(-1) if x.ndim == 3 else x  # (N, C, L) -> (N, C, L, 1)
        out = BatchNormFunction.apply(
            x_in,
            gamma,
            beta,
            use_batch,
            self.eps,
            None if use_batch else self.running_mean,
            None if use_batch else self.running_var,
        )
        return out.squeeze(-1) if x.ndim == 3 else out

    @torch.no_grad()
    def _update_running_stats(self, x, n):
        self.num_batches_tracked.add_(1)
        # momentum=None: the cumulative moving average, as in torch
        factor = (
            self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
        )
        dims = [d for d in range(x.ndim) if d != 1]
        var, mean = torch.var_mean(x, dim=dims, correction=0)
        self.running_mean.mul_(1 - factor).add_(factor * mean)
        self.running_var.mul_(1 - factor).add_(factor * var * n / (n - 1))


class BatchNorm1d(_BatchNorm, torch.nn.BatchNorm1d):
    """``torch.nn.BatchNorm1d`` on (N, C) or (N, C, L), computed by the batchnorm reference.

    Same signature and buffers as torch's; see ``_BatchNorm`` for the running statistics.
    """


class BatchNorm2d(_BatchNorm, torch.nn.BatchNorm2d):
    """``torch.nn.BatchNorm2d`` on (N, C, H, W), computed by the spatial batchnorm reference.

    Same signature and buffers as torch's; see ``_BatchNorm`` for the running statistics.
    """
