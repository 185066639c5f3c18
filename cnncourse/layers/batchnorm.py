"""Batch normalization (slides: "Batch Normalization", "Implementing Batch Normalization",
"Batch Normalization in Testing Time").

For each feature d, over the mini-batch of N values:

    mu = mean(x)                      var = mean((x - mu)**2)      (biased: divides by N)
    x_hat = (x - mu) / sqrt(var + eps)
    out = gamma * x_hat + beta        (gamma, beta learned: they set the new scale and mean)

At test time there is no batch to average over, so the layer uses running averages of
mu and var collected during training:

    running_mean = momentum * running_mean + (1 - momentum) * mu
    running_var  = momentum * running_var  + (1 - momentum) * var

``bn_param = {"mode": "train" | "test", "eps": 1e-5, "momentum": 0.9, "running_mean",
"running_var"}``; "mode" is required, the others take these defaults. The running
statistics start at zeros when absent and every train-mode call WRITES the updated ones
back into ``bn_param`` (new arrays of x's kind, dtype and device). Test mode needs them.

(torch's ``BatchNorm`` layers use ``momentum`` for the weight of the *new* batch, i.e.
torch's 0.1 is the course's 0.9, and they update running_var with the unbiased variance
N/(N-1) * var; ``cnncourse.nn.BatchNorm1d/2d`` follow torch so a module swap is exact.)

``batchnorm_backward`` goes back through the computational graph one node at a time;
``batchnorm_backward_alt`` uses the simplified closed form. Spatial batch normalization
normalizes each channel of (N, C, H, W) over N, H and W: the N*H*W values of a channel
are that channel's mini-batch.
"""

from __future__ import annotations

import torch

from cnncourse.layers._tensor import (
    check_choice,
    check_ndim,
    check_params,
    check_real,
    check_shape,
    float_inputs,
    float_like,
    like_cache,
    output,
)

__all__ = [
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "batchnorm_forward",
    "spatial_batchnorm_backward",
    "spatial_batchnorm_forward",
]

_KEYS = {"mode", "eps", "momentum", "running_mean", "running_var"}


def _read_bn_param(bn_param, x: torch.Tensor, from_numpy: bool, x_name: str = "x"):
    """Return mode, eps, momentum and the running statistics as tensors (or None)."""
    check_params("bn_param", bn_param, _KEYS, required={"mode"})
    mode = check_choice("bn_param['mode']", bn_param["mode"], ("train", "test"))
    eps = check_real("bn_param['eps']", bn_param.get("eps", 1e-5), 0.0, None, low_open=True)
    momentum = check_real("bn_param['momentum']", bn_param.get("momentum", 0.9), 0.0, 1.0)
    D = x.shape[1]
    running: list[torch.Tensor | None] = []
    for key in ("running_mean", "running_var"):
        value = bn_param.get(key)
        if value is None:
            if mode == "test":
                raise ValueError(
                    f"bn_param['{key}']: test mode normalizes with the running statistics, "
                    "but there are none; run train-mode batches first (they write them back)"
                )
            running.append(None)
            continue
        name = f"bn_param['{key}']"
        stat = float_like(name, value, x_name, x, from_numpy)
        check_shape(name, stat, (D,), f"one value per feature, D = {x_name}.shape[1]")
        running.append(stat)
    return mode, eps, momentum, running[0], running[1]


def _check_affine(x, gamma, beta, x_name="x"):
    (x, gamma, beta), from_numpy = float_inputs(**{x_name: x, "gamma": gamma, "beta": beta})
    return x, gamma, beta, from_numpy


def _forward(x, gamma, beta, mode, eps, momentum, running_mean, running_var):
    """Batch norm on (N, D) tensors; returns out, cache, new running mean and var."""
    if mode == "test":
        std = torch.sqrt(running_var + eps)
        x_hat = (x - running_mean) / std
        cache = {"mode": mode, "x_hat": x_hat, "std": std, "gamma": gamma}
        return gamma * x_hat + beta, cache, running_mean, running_var
    if running_mean is None:  # the running statistics start at zeros
        running_mean = x.new_zeros(x.shape[1])
        running_var = x.new_zeros(x.shape[1])
    mu = x.mean(dim=0)
    xc = x - mu
    var = (xc * xc).mean(dim=0)  # biased: divides by N
    std = torch.sqrt(var + eps)
    x_hat = xc / std
    out = gamma * x_hat + beta
    new_mean = momentum * running_mean + (1 - momentum) * mu
    new_var = momentum * running_var + (1 - momentum) * var
    cache = {"mode": mode, "x_hat": x_hat, "xc": xc, "var": var, "std": std, "gamma": gamma}
    return out, cache, new_mean, new_var


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization forward pass.

    Inputs:
    - x: (N, D)
    - gamma: (D,) scale; beta: (D,) shift
    - bn_param: {"mode", "eps", "momentum", "running_mean" (D,), "running_var" (D,)}

    Returns ``(out, cache)``: out (N, D); cache a dict with "mode", "x_hat" (N, D),
    "std" (D,) = sqrt(var + eps) and "gamma" (D,), plus, in train mode, "xc" (N, D) = x - mu
    and "var" (D,) the biased batch variance. In train mode the updated running statistics
    are written back into bn_param.
    """
    x, gamma, beta, from_numpy = _check_affine(x, gamma, beta)
    check_ndim("x", x, 2, "(N, D)")
    check_shape("gamma", gamma, (x.shape[1],), "one scale per feature, D = x.shape[1]")
    check_shape("beta", beta, (x.shape[1],), "one shift per feature, D = x.shape[1]")
    mode, eps, momentum, rm, rv = _read_bn_param(bn_param, x, from_numpy)
    out, cache, rm, rv = _forward(x, gamma, beta, mode, eps, momentum, rm, rv)
    if mode == "train":
        bn_param["running_mean"] = output(rm, from_numpy)
        bn_param["running_var"] = output(rv, from_numpy)
    return output(out, from_numpy), cache


def _check_dout(dout, cache, D_axis_shape):
    dout, from_numpy = like_cache("dout", dout, cache["x_hat"], "x_hat in the cache")
    check_shape("dout", dout, D_axis_shape, "the forward output's shape")
    return dout, from_numpy


def _backward_graph(dout, cache):
    """Back through the graph x -> mu -> xc -> var -> std -> x_hat -> out, node by node."""
    gamma, x_hat, std = cache["gamma"], cache["x_hat"], cache["std"]
    dbeta = dout.sum(dim=0)  # out = gamma * x_hat + beta
    dgamma = (dout * x_hat).sum(dim=0)
    dx_hat = dout * gamma
    if cache["mode"] == "test":  # x_hat = (x - running_mean) / std, constants
        return dx_hat / std, dgamma, dbeta
    xc = cache["xc"]
    N = dout.shape[0]
    dxc = dx_hat / std  # x_hat = xc * (1 / std) ...
    dinv_std = (dx_hat * xc).sum(dim=0)  # ... through its xc input and its 1/std input
    dstd = -dinv_std / (std * std)  # 1/std
    dvar = dstd / (2 * std)  # std = sqrt(var + eps)
    dxc = dxc + 2 * xc * dvar / N  # var = mean(xc**2)
    dmu = -dxc.sum(dim=0)  # xc = x - mu
    dx = dxc + dmu / N  # mu = mean(x)
    return dx, dgamma, dbeta


def _backward_closed_form(dout, cache):
    gamma, x_hat, std = cache["gamma"], cache["x_hat"], cache["std"]
    dbeta = dout.sum(dim=0)
    dgamma = (dout * x_hat).sum(dim=0)
    if cache["mode"] == "test":
        return dout * gamma / std, dgamma, dbeta
    N = dout.shape[0]
    dx = (gamma / (N * std)) * (N * dout - dbeta - x_hat * dgamma)
    return dx, dgamma, dbeta


def batchnorm_backward(dout, cache):
    """Batch normalization backward pass, through the computational graph.

    Inputs:
    - dout: (N, D) upstream gradient
    - cache: from ``batchnorm_forward``

    Returns ``(dx, dgamma, dbeta)``: (N, D), (D,), (D,). In train mode the gradient flows
    through the batch mean and variance too; in test mode they are constants.
    """
    dout, from_numpy = _check_dout(dout, cache, tuple(cache["x_hat"].shape))
    return tuple(output(g, from_numpy) for g in _backward_graph(dout, cache))


def batchnorm_backward_alt(dout, cache):
    """Batch normalization backward pass, closed form.

    Same inputs and outputs as ``batchnorm_backward``. Collecting the graph's terms gives
    ``dx = gamma / (N * std) * (N * dout - sum(dout) - x_hat * sum(dout * x_hat))``
    (sums over the batch), i.e. ``gamma / (N * std) * (N * dout - dbeta - x_hat * dgamma)``.
    """
    dout, from_numpy = _check_dout(dout, cache, tuple(cache["x_hat"].shape))
    return tuple(output(g, from_numpy) for g in _backward_closed_form(dout, cache))


def _to_rows(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N*H*W, C): one row per pixel, one column per channel."""
    return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])


def _from_rows(rows: torch.Tensor, shape) -> torch.Tensor:
    N, C, H, W = shape
    return rows.reshape(N, H, W, C).permute(0, 3, 1, 2).contiguous()


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Spatial batch normalization forward pass: one mean and variance per channel.

    Inputs:
    - x: (N, C, H, W)
    - gamma: (C,); beta: (C,)
    - bn_param: as for ``batchnorm_forward``, with running statistics of shape (C,)

    Returns ``(out, cache)``: out (N, C, H, W); cache as for ``batchnorm_forward`` on the
    (N*H*W, C) matrix of pixels, plus "shape" (N, C, H, W).
    """
    x, gamma, beta, from_numpy = _check_affine(x, gamma, beta)
    check_ndim("x", x, 4, "(N, C, H, W)")
    check_shape("gamma", gamma, (x.shape[1],), "one scale per channel, C = x.shape[1]")
    check_shape("beta", beta, (x.shape[1],), "one shift per channel, C = x.shape[1]")
    mode, eps, momentum, rm, rv = _read_bn_param(bn_param, x, from_numpy)
    rows, cache, rm, rv = _forward(_to_rows(x), gamma, beta, mode, eps, momentum, rm, rv)
    if mode == "train":
        bn_param["running_mean"] = output(rm, from_numpy)
        bn_param["running_var"] = output(rv, from_numpy)
    cache["shape"] = tuple(x.shape)
    return output(_from_rows(rows, x.shape), from_numpy), cache


def spatial_batchnorm_backward(dout, cache):
    """Spatial batch normalization backward pass.

    Inputs:
    - dout: (N, C, H, W) upstream gradient
    - cache: from ``spatial_batchnorm_forward``

    Returns ``(dx, dgamma, dbeta)``: (N, C, H, W), (C,), (C,).
    """
    dout, from_numpy = _check_dout(dout, cache, cache["shape"])
    dx, dgamma, dbeta = _backward_closed_form(_to_rows(dout), cache)
    dx = _from_rows(dx, cache["shape"])
    return output(dx, from_numpy), output(dgamma, from_numpy), output(dbeta, from_numpy)
