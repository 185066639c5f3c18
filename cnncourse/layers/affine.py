"""The fully connected (affine) layer (slides: "Fully Connected Layer (FC layer)").

Each output neuron connects to every number of the input volume: the input of shape
(N, d1, ..., dk) is flattened to (N, D) with D = d1 * ... * dk, and ``out = x @ w + b``.
"""

from __future__ import annotations

from cnncourse.layers._tensor import (
    check_shape,
    float_inputs,
    like_cache,
    output,
)

__all__ = ["affine_backward", "affine_forward"]


def affine_forward(x, w, b):
    """Affine forward pass ``out = x.reshape(N, D) @ w + b``.

    Inputs:
    - x: (N, d1, ..., dk), at least 2-D; each example is flattened to D = d1 * ... * dk
    - w: (D, M) weights, one column per output neuron
    - b: (M,) biases

    Returns ``(out, cache)``: out (N, M); cache (x, w, b).
    """
    (x, w, b), from_numpy = float_inputs(x=x, w=w, b=b)
    if x.ndim < 2:
        raise ValueError(
            f"x: expected an array of shape (N, d1, ..., dk), got shape {tuple(x.shape)}"
        )
    if w.ndim != 2:
        raise ValueError(f"w: expected a 2-D array (D, M), got shape {tuple(w.shape)}")
    N = x.shape[0]
    D = x[0].numel()
    if w.shape[0] != D:
        raise ValueError(
            f"w: expected {D} rows, one per input number (x.shape {tuple(x.shape)} flattens to "
            f"(N, D) = ({N}, {D})), got w.shape {tuple(w.shape)}"
        )
    check_shape("b", b, (w.shape[1],), "one bias per output, M = w.shape[1]")
    out = x.reshape(N, D) @ w + b
    return output(out, from_numpy), (x, w, b)


def affine_backward(dout, cache):
    """Affine backward pass.

    Inputs:
    - dout: (N, M) upstream gradient
    - cache: (x, w, b) from ``affine_forward``

    Returns ``(dx, dw, db)``: dx in x's shape (N, d1, ..., dk), dw (D, M), db (M,);
    ``dx = dout @ w.T``, ``dw = x_flat.T @ dout``, ``db = dout summed over the batch``.
    """
    x, w, b = cache
    dout, from_numpy = like_cache("dout", dout, x, "x in the cache")
    N = x.shape[0]
    check_shape("dout", dout, (N, w.shape[1]), "the forward output's shape (N, M)")
    dx = (dout @ w.t()).reshape(x.shape)
    dw = x.reshape(N, -1).t() @ dout
    db = dout.sum(dim=0)
    return output(dx, from_numpy), output(dw, from_numpy), output(db, from_numpy)
