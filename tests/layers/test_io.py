"""numpy in -> numpy out, tensor in -> tensor out; float32 stays float32, float64 stays
float64, for every forward and backward."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnncourse import layers as L

from ._helpers import rng_arrays

CONV = {"stride": 1, "pad": 1}
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}

# name: (forward taking arrays, backward, shapes of the array inputs)
LAYERS = {
    "conv": (
        lambda x, w, b: L.conv_forward(x, w, b, CONV),
        L.conv_backward,
        [(2, 3, 4, 4), (2, 3, 3, 3), (2,)],
    ),
    "conv naive": (
        lambda x, w, b: L.conv_forward_naive(x, w, b, CONV),
        L.conv_backward_naive,
        [(1, 2, 3, 3), (2, 2, 3, 3), (2,)],
    ),
    "max pool": (lambda x: L.max_pool_forward(x, POOL), L.max_pool_backward, [(2, 2, 4, 4)]),
    "max pool naive": (
        lambda x: L.max_pool_forward_naive(x, POOL),
        L.max_pool_backward_naive,
        [(1, 2, 4, 4)],
    ),
    "avg pool": (lambda x: L.avg_pool_forward(x, POOL), L.avg_pool_backward, [(2, 2, 4, 4)]),
    "affine": (L.affine_forward, L.affine_backward, [(3, 2, 2), (4, 5), (5,)]),
    "relu": (L.relu_forward, L.relu_backward, [(3, 4)]),
    "leaky_relu": (L.leaky_relu_forward, L.leaky_relu_backward, [(3, 4)]),
    "sigmoid": (L.sigmoid_forward, L.sigmoid_backward, [(3, 4)]),
    "tanh": (L.tanh_forward, L.tanh_backward, [(3, 4)]),
    "elu": (L.elu_forward, L.elu_backward, [(3, 4)]),
    "maxout": (L.maxout_forward, L.maxout_backward, [(3, 4), (4, 2, 3), (2, 3)]),
    "dropout": (
        lambda x: L.dropout_forward(x, {"keep_prob": 0.5, "mode": "train", "seed": 0}),
        L.dropout_backward,
        [(3, 4)],
    ),
    "batchnorm": (
        lambda x, g, b: L.batchnorm_forward(x, g, b, {"mode": "train"}),
        L.batchnorm_backward,
        [(4, 3), (3,), (3,)],
    ),
    "batchnorm alt": (
        lambda x, g, b: L.batchnorm_forward(x, g, b, {"mode": "train"}),
        L.batchnorm_backward_alt,
        [(4, 3), (3,), (3,)],
    ),
    "spatial batchnorm": (
        lambda x, g, b: L.spatial_batchnorm_forward(x, g, b, {"mode": "train"}),
        L.spatial_batchnorm_backward,
        [(2, 3, 2, 2), (3,), (3,)],
    ),
}


def as_kind(a: np.ndarray, kind: str, dtype: str):
    a = a.astype(dtype)
    return a if kind == "numpy" else torch.from_numpy(a)


def assert_kind(result, kind: str, dtype: str, what: str):
    results = result if isinstance(result, tuple) else (result,)
    for r in results:
        if kind == "numpy":
            assert isinstance(r, np.ndarray) and r.dtype == np.dtype(dtype), (
                f"{what}: {type(r)} {getattr(r, 'dtype', '')}"
            )
        else:
            assert isinstance(r, torch.Tensor) and r.dtype == getattr(torch, dtype), (
                f"{what}: {type(r)} {getattr(r, 'dtype', '')}"
            )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize("name", LAYERS)
def test_output_kind_and_dtype_follow_the_input(name, kind, dtype):
    forward, backward, shapes = LAYERS[name]
    inputs = [as_kind(a, kind, dtype) for a in rng_arrays(0, *shapes)]
    out, cache = forward(*inputs)
    assert_kind(out, kind, dtype, f"{name} forward")
    dout = as_kind(np.ones(tuple(out.shape)), kind, dtype)
    grads = backward(dout, cache)
    assert_kind(grads, kind, dtype, f"{name} backward")
    grads = grads if isinstance(grads, tuple) else (grads,)
    assert [tuple(g.shape) for g in grads] == [tuple(s) for s in shapes[: len(grads)]], name


def test_numpy_inputs_are_not_modified():
    x, w, b = rng_arrays(1, (2, 3, 4, 4), (2, 3, 3, 3), (2,))
    copies = [a.copy() for a in (x, w, b)]
    out, cache = L.conv_forward(x, w, b, CONV)
    L.conv_backward(np.ones_like(out), cache)
    for a, c in zip((x, w, b), copies, strict=True):
        np.testing.assert_array_equal(a, c)


def test_read_only_and_negatively_strided_numpy_arrays_are_accepted():
    (x,) = rng_arrays(2, (3, 4))
    read_only = np.broadcast_to(x, (3, 4))
    out, _ = L.relu_forward(read_only)
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    out, _ = L.relu_forward(x[::-1])
    np.testing.assert_array_equal(out, np.maximum(x[::-1], 0))
