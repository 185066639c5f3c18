"""Inverted dropout (slides: "Dropout", "Implementing Dropout (Inverted Dropout)").

In training, every unit draws a uniform random number in [0, 1); it is kept where the
number is below ``keep_prob`` and set to zero elsewhere, and the kept units are divided
by ``keep_prob`` so that the expected value of each unit is unchanged
(``E[out] = keep_prob * x / keep_prob = x``). At test time the layer is the identity:
"no change to the network in testing time".

``dropout_param = {"keep_prob": float in (0, 1], "mode": "train" | "test", "seed": int}``;
``seed`` is optional. With a seed the mask comes from a fresh ``torch.Generator`` seeded
with it, so the same seed, shape, dtype and device give the same mask every call (a CPU
and a CUDA generator give different masks for one seed). Without a seed the mask comes
from torch's global generator, so ``torch.manual_seed`` makes a run repeatable.
"""

from __future__ import annotations

import torch

from cnncourse.layers._tensor import (
    check_choice,
    check_int,
    check_params,
    check_real,
    check_shape,
    float_inputs,
    like_cache,
    output,
)

__all__ = ["dropout_backward", "dropout_forward"]

_KEYS = {"keep_prob", "mode", "seed"}


def _read_dropout_param(dropout_param) -> tuple[float, str, int | None]:
    check_params("dropout_param", dropout_param, _KEYS, required={"keep_prob", "mode"})
    keep_prob = check_real(
        "dropout_param['keep_prob']", dropout_param["keep_prob"], 0.0, 1.0, low_open=True
    )
    mode = check_choice("dropout_param['mode']", dropout_param["mode"], ("train", "test"))
    seed = dropout_param.get("seed")
    if seed is not None:
        seed = check_int("dropout_param['seed']", seed, 0)
    return keep_prob, mode, seed


def _uniform(x: torch.Tensor, seed: int | None) -> torch.Tensor:
    """Uniform [0, 1) numbers in x's shape, dtype and device."""
    generator = None
    if seed is not None:
        generator = torch.Generator(device=x.device)
        generator.manual_seed(seed)
    return torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)


def dropout_forward(x, dropout_param):
    """Inverted dropout forward pass.

    Inputs:
    - x: array of any shape
    - dropout_param: {"keep_prob", "mode", "seed" (optional)}

    Returns ``(out, cache)``: out in x's shape; cache (dropout_param, mask) where mask is
    x's shape and dtype, 1 where a unit was kept and 0 where it was dropped (train mode), or
    None in test mode. In train mode ``out = x * mask / keep_prob``; in test mode out = x.
    """
    (x,), from_numpy = float_inputs(x=x)
    keep_prob, mode, seed = _read_dropout_param(dropout_param)
    if mode == "test":
        return output(x.clone(), from_numpy), (dropout_param, None)
    mask = (_uniform(x, seed) < keep_prob).to(x.dtype)  # keep where the draw < keep_prob
    out = x * mask / keep_prob
    return output(out, from_numpy), (dropout_param, mask)


def dropout_backward(dout, cache):
    """Inverted dropout backward pass.

    Inputs:
    - dout: upstream gradient, in x's shape
    - cache: (dropout_param, mask) from ``dropout_forward``

    Returns dx: ``dout * mask / keep_prob`` in train mode (the dropped units pass no
    gradient, as in the forward pass), dout itself in test mode.
    """
    dropout_param, mask = cache
    keep_prob, mode, _ = _read_dropout_param(dropout_param)
    if mode == "test":
        (dout,), from_numpy = float_inputs(dout=dout)
        return output(dout.clone(), from_numpy)
    dout, from_numpy = like_cache("dout", dout, mask, "the mask in the cache")
    check_shape("dout", dout, tuple(mask.shape), "the forward output's shape")
    return output(dout * mask / keep_prob, from_numpy)
