"""The backprop assignment's specification: every test cell's cases, points and hints.

Gates, the slides' graph and the two-layer network are compared with torch autograd (an
oracle independent of the course's layers); the layers with :mod:`cnncourse.layers`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from cnncourse import layers
from cnncourse.checks.runner import Case, Check, assignment, case, checks_of, group

if TYPE_CHECKING:  # torch is imported only when a check runs
    import torch


def _grad(leaf: torch.Tensor) -> torch.Tensor:
    """The gradient that ``backward()`` left on ``leaf``, a tensor that requires grad."""
    if leaf.grad is None:
        raise RuntimeError("the torch oracle left no gradient on an input: it needs requires_grad")
    return leaf.grad


# ---------------------------------------------------------------- the slides' numbers

_SLIDE = {"q": 3, "f": -12, "df_dq": -4, "df_dx": -4, "df_dy": -4, "df_dz": 3}


def _slide_numbers(t) -> None:
    for name in t["names"]:
        t.equal(t.value(name), _SLIDE[name], name, reveal=False)


SLIDE_NUMBERS = Check(
    grade_id="slide_numbers",
    functions=tuple(_SLIDE),
    run=_slide_numbers,
    hints={
        "q": "q = x + y at x = -2, y = 5.",
        "f": "f = q * z with z = -4.",
        "df_dq": "the multiply gate f = q z sends each input the other one: df/dq = z.",
        "df_dz": "df/dz = q.",
        "df_dx": "the add gate hands df/dq to both x and y.",
        "df_dy": "the add gate hands df/dq to both x and y.",
    },
    groups=(
        group("slide_forward", 1, case(0, names=("q", "f"), visible=True)),
        group(
            "slide_gradients", 1, case(0, names=("df_dq", "df_dx", "df_dy", "df_dz"), visible=True)
        ),
    ),
)

# ---------------------------------------------------------------- graph_forward_backward


def _graph(t) -> None:
    import torch

    x, y, z = t["at"]
    xt, yt, zt = (
        torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for v in (x, y, z)
    )
    ft = (xt + yt) * zt
    ft.backward()
    f, grads = t.parts(t.call("graph_forward_backward", x, y, z), 2, "(f, (df_dx, df_dy, df_dz))")
    t.scalar_close(f, ft.item(), "f")
    try:  # a tuple, list or array of three numbers
        grads = np.asarray(grads, dtype=np.float64)
    except (TypeError, ValueError):
        grads = None
    t.require(
        grads is not None and grads.shape == (3,),
        "the gradient should be three numbers (df_dx, df_dy, df_dz)",
        "returns",
    )
    want = np.array([_grad(xt).item(), _grad(yt).item(), _grad(zt).item()])
    t.close(grads, want, "(df_dx, df_dy, df_dz)")


def _points(seed: int, count: int):
    return [
        tuple(float(v) for v in p)
        for p in np.random.default_rng(seed).standard_normal((count, 3)) * 3
    ]


GRAPH = Check(
    grade_id="graph_function",
    functions=("graph_forward_backward",),
    run=_graph,
    hints={
        "default": "forward q = x + y, f = q z; backward df/dq = z, df/dz = q, and the add "
        "gate hands df/dq to both x and y.",
        "returns": "return (f, (df_dx, df_dy, df_dz)).",
    },
    groups=(
        group("graph_at_slide_point", 1, case(0, at=(-2.0, 5.0, -4.0), visible=True)),
        group(
            "graph_elsewhere",
            1,
            case(0, at=(1.5, -0.5, 2.0), visible=True),
            case(0, at=(3.0, 4.0, 0.5)),
            *(case(0, at=p) for p in _points(1, 5)),
        ),
    ),
)

# ---------------------------------------------------------------- gates

_GATES = ("add_gate_backward", "mul_gate_backward", "max_gate_backward")


def _gate(t) -> None:
    import torch

    name = t["gate"]
    ops: dict[str, Callable[..., torch.Tensor]] = {
        "add": torch.add,
        "mul": torch.mul,
        "max": torch.maximum,
    }
    op = ops[name[:3]]
    rng = t.rng()
    x, y, dout = (rng.standard_normal(t["shape"]) for _ in range(3))
    xt, yt = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    op(xt, yt).backward(torch.tensor(dout))
    dx, dy = t.parts(t.call(name, dout, x, y), 2, "(dx, dy)")
    t.close(dx, _grad(xt).numpy(), "dx")
    t.close(dy, _grad(yt).numpy(), "dy")


def _gate_cases(name: str, seed: int):
    shapes = [(3, 4), (1,), (2, 3, 2), (5,)]
    return [case(seed + k, gate=name, shape=s, visible=k == 0) for k, s in enumerate(shapes)]


GATES = Check(
    grade_id="gates",
    functions=_GATES,
    run=_gate,
    hints={
        "default": "the add gate distributes (both inputs get dout), the multiply gate swaps "
        "(dx = dout * y, dy = dout * x), the max gate routes (the larger input gets dout, "
        "the other 0).",
        "returns": "return the pair (dx, dy).",
    },
    groups=(
        group("add_gate", 1, *_gate_cases("add_gate_backward", 10)),
        group("mul_gate", 1, *_gate_cases("mul_gate_backward", 20)),
        group("max_gate", 1, *_gate_cases("max_gate_backward", 30)),
    ),
)

# ---------------------------------------------------------------- affine

AFFINE = [((4, 5), 3), ((2, 3, 4), 5), ((1, 6), 2), ((3, 2, 2, 2), 4)]


def _affine_inputs(t):
    rng = t.rng()
    xs, M = t["x"], t["M"]
    D = int(np.prod(xs[1:]))
    x = rng.standard_normal(xs).astype(t.dtype)
    w = rng.standard_normal((D, M)).astype(t.dtype)
    b = rng.standard_normal(M).astype(t.dtype)
    dout = rng.standard_normal((xs[0], M)).astype(t.dtype)
    return x, w, b, dout


def _affine_forward(t) -> None:
    x, w, b, _ = _affine_inputs(t)
    out, _ = t.parts(t.call("affine_forward", x, w, b), 2, "(out, cache)")
    t.close(out, layers.affine_forward(x, w, b)[0], "out")


def _affine_backward(t) -> None:
    x, w, b, dout = _affine_inputs(t)
    _, cache = t.parts(t.call("affine_forward", x, w, b), 2, "(out, cache)")
    got = t.parts(t.call("affine_backward", dout, cache), 3, "(dx, dw, db)")
    want = layers.affine_backward(dout, layers.affine_forward(x, w, b)[1])
    for name, g, w_ in zip(("dx", "dw", "db"), got, want, strict=True):
        t.close(g, w_, name)


def _affine_cases(seed: int, dtype: str, shapes, visible_first: bool = False):
    return [
        case(seed + k, x=xs, M=M, dtype=dtype, visible=visible_first and k == 0)
        for k, (xs, M) in enumerate(shapes)
    ]


AFFINE_FORWARD = Check(
    grade_id="affine_forward",
    functions=("affine_forward",),
    run=_affine_forward,
    hints={
        "out": "flatten each example to a row (x.reshape(N, -1)), then rows @ w + b.",
        "returns": "return (out, cache).",
    },
    groups=(
        group("affine_forward_float64", 1, *_affine_cases(40, "float64", AFFINE, True)),
        group("affine_forward_float32", 1, *_affine_cases(50, "float32", AFFINE[:2])),
    ),
)

AFFINE_BACKWARD = Check(
    grade_id="affine_backward",
    functions=("affine_forward", "affine_backward"),
    run=_affine_backward,
    hints={
        "dx": "dx = dout @ w.T, reshaped to x's original shape.",
        "dw": "dw = x_rows.T @ dout, with x_rows = x.reshape(N, -1).",
        "db": "db = dout summed over the batch (axis 0).",
        "returns": "affine_forward returns (out, cache), affine_backward (dx, dw, db).",
    },
    groups=(
        group("affine_backward_float64", 2, *_affine_cases(60, "float64", AFFINE, True)),
        group("affine_backward_float32", 1, *_affine_cases(70, "float32", AFFINE[:2])),
    ),
)

# ---------------------------------------------------------------- relu

RELU_SHAPES = [(4, 5), (1, 3, 2, 2), (7,), (2, 8)]


def _relu_forward(t) -> None:
    x = t.rng().standard_normal(t["x"]).astype(t.dtype)
    out, _ = t.parts(t.call("relu_forward", x), 2, "(out, cache)")
    t.close(out, layers.relu_forward(x)[0], "out")


def _relu_backward(t) -> None:
    rng = t.rng()
    x = rng.standard_normal(t["x"]).astype(t.dtype)
    dout = rng.standard_normal(t["x"]).astype(t.dtype)
    _, cache = t.parts(t.call("relu_forward", x), 2, "(out, cache)")
    dx = t.call("relu_backward", dout, cache)
    t.close(dx, layers.relu_backward(dout, layers.relu_forward(x)[1]), "dx")


RELU_FORWARD = Check(
    grade_id="relu_forward",
    functions=("relu_forward",),
    run=_relu_forward,
    hints={
        "out": "out = max(0, x) elementwise (np.maximum, not np.max).",
        "returns": "return (out, cache).",
    },
    groups=(
        group(
            "relu_forward",
            1,
            *(
                case(80 + k, x=s, dtype=d, visible=k == 0 and d == "float64")
                for d in ("float64", "float32")
                for k, s in enumerate(RELU_SHAPES)
            ),
        ),
    ),
)

RELU_BACKWARD = Check(
    grade_id="relu_backward",
    functions=("relu_forward", "relu_backward"),
    run=_relu_backward,
    hints={
        "dx": "dx = dout where the INPUT x was > 0, else 0. The output max(0, x) is never "
        "negative, so a mask built from its sign lets every gradient through.",
        "returns": "relu_forward returns (out, cache).",
    },
    groups=(
        group(
            "relu_backward_float64",
            1,
            *(case(90 + k, x=s, visible=k == 0) for k, s in enumerate(RELU_SHAPES)),
        ),
        group(
            "relu_backward_float32",
            1,
            *(case(100 + k, x=s, dtype="float32") for k, s in enumerate(RELU_SHAPES)),
        ),
    ),
)

# ---------------------------------------------------------------- softmax loss


def _softmax(t) -> None:
    rng = t.rng()
    shape = t["scores"]
    scores = (t["scale"] * rng.standard_normal(shape)).astype(t.dtype)
    y = rng.integers(0, shape[1], size=shape[0])
    loss, dscores = t.parts(t.call("softmax_loss", scores, y), 2, "(loss, dscores)")
    want_loss, want_d = layers.softmax_loss(scores, y)
    if "loss" in t["compare"]:
        t.scalar_close(loss, want_loss, "loss")
    if "dscores" in t["compare"]:
        t.close(dscores, want_d, "dscores")


_BOTH = ("loss", "dscores")

SOFTMAX_LOSS = Check(
    grade_id="softmax_loss",
    functions=("softmax_loss",),
    run=_softmax,
    hints={
        "default": "subtract each row's maximum score before np.exp (the probabilities do not "
        "change, and exp never overflows); loss = mean of -log p[i, y[i]]; dscores = (p - "
        "one_hot(y)) / N.",
        "returns": "return (loss, dscores).",
    },
    groups=(
        group(
            "softmax_loss_value",
            1,
            case(110, scores=(5, 4), scale=1.0, compare=("loss",), visible=True),
            case(111, scores=(1, 10), scale=1.0, compare=("loss",)),
            case(112, scores=(20, 3), scale=1.0, compare=("loss",)),
        ),
        group(
            "softmax_loss_gradient",
            1,
            case(120, scores=(5, 4), scale=1.0, compare=("dscores",), visible=True),
            case(121, scores=(1, 10), scale=1.0, compare=("dscores",)),
            case(122, scores=(20, 3), scale=1.0, compare=("dscores",)),
        ),
        group(  # exp overflows unless each row's maximum is subtracted first
            "softmax_loss_large_scores",
            1,
            case(130, scores=(6, 3), scale=1000.0, compare=_BOTH, visible=True),
            case(131, scores=(4, 7), scale=1000.0, compare=_BOTH),
        ),
        group(  # exp overflows float32 above 88.7
            "softmax_loss_float32",
            1,
            case(140, scores=(8, 5), scale=150.0, compare=_BOTH, dtype="float32"),
        ),
    ),
)

# ---------------------------------------------------------------- two-layer network


def _torch_two_layer(X, W1, b1, W2, b2, y):
    import torch

    t = {
        k: torch.tensor(v, requires_grad=True)
        for k, v in {"W1": W1, "b1": b1, "W2": W2, "b2": b2}.items()
    }
    scores = torch.relu(torch.tensor(X) @ t["W1"] + t["b1"]) @ t["W2"] + t["b2"]
    loss = torch.nn.functional.cross_entropy(scores, torch.tensor(y))
    loss.backward()
    return loss.item(), {k: _grad(v).numpy() for k, v in t.items()}


def _two_layer(t) -> None:
    N, D, H, C = t["N, D, H, C"]
    rng = t.rng()
    X = rng.standard_normal((N, D))
    W1, b1 = 0.5 * rng.standard_normal((D, H)), 0.1 * rng.standard_normal(H)
    W2, b2 = 0.5 * rng.standard_normal((H, C)), 0.1 * rng.standard_normal(C)
    y = rng.integers(0, C, size=N)
    loss, grads = t.parts(t.call("two_layer_net", X, W1, b1, W2, b2, y), 2, "(loss, grads)")
    want_loss, want = _torch_two_layer(X, W1, b1, W2, b2, y)
    if t["compare"] == "loss":
        t.scalar_close(loss, want_loss, "loss")
        return
    t.require(isinstance(grads, dict), f"grads is {type(grads).__name__}, expected a dict", "grads")
    for name in ("W1", "b1", "W2", "b2"):
        t.require(name in grads, f"grads has no {name!r} (keys: {sorted(grads)})", "grads")
        t.close(grads[name], want[name], f"grads[{name!r}]")


_NETS = [(5, 4, 6, 3), (1, 3, 5, 2), (10, 8, 7, 4)]


def _net_case(seed: int, dims: tuple[int, int, int, int], compare: str, visible: bool) -> Case:
    # "N, D, H, C" is no Python name, so the case's parameters go in as a dict
    params: dict[str, Any] = {"N, D, H, C": dims, "compare": compare}
    return case(seed, visible=visible, **params)


TWO_LAYER_NET = Check(
    grade_id="two_layer_net",
    functions=("two_layer_net",),
    run=_two_layer,
    hints={
        "default": "affine -> relu -> affine -> softmax_loss; run the backward functions in "
        "reverse order, each with its own cache.",
        "grads": "grads is a dict with the keys 'W1', 'b1', 'W2', 'b2'.",
        "returns": "return (loss, grads).",
    },
    groups=(
        group(
            "two_layer_net_loss",
            1,
            *(_net_case(150 + k, d, compare="loss", visible=k == 0) for k, d in enumerate(_NETS)),
        ),
        group(
            "two_layer_net_gradients",
            3,
            *(_net_case(160 + k, d, compare="grads", visible=k == 0) for k, d in enumerate(_NETS)),
        ),
    ),
)

SPEC = assignment(
    "backprop",
    SLIDE_NUMBERS,
    GRAPH,
    GATES,
    AFFINE_FORWARD,
    AFFINE_BACKWARD,
    RELU_FORWARD,
    RELU_BACKWARD,
    SOFTMAX_LOSS,
    TWO_LAYER_NET,
)
checks_of(globals(), SPEC)
