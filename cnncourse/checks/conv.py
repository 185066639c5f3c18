"""The conv assignment's specification: every test cell's cases, points and hints.

One line per case: ``case(seed, x=..., ..., dtype=..., visible=...)``. Visible cases are the
ones the notebook's check runs for the student; every case, visible or hidden, counts in its
group, which earns its points when all its cases pass (see :mod:`cnncourse.checks.runner`).
"""

from __future__ import annotations

import numpy as np

from cnncourse import layers
from cnncourse.checks.runner import Check, assignment, case, checks_of, group

# ---------------------------------------------------------------- output size


def _output_size(t) -> None:
    args = (t["H"], t["HH"], t["stride"], t["pad"])
    want = layers.conv_output_size(*args)
    got = t.call("conv_output_size", *args)
    t.require(
        isinstance(got, int | np.integer) and not isinstance(got, bool),
        f"conv_output_size{args} returned {got!r}, expected the int {want}",
        "int",
    )
    t.equal(got, want, f"conv_output_size{args}")


def _output_size_raises(t) -> None:
    from cnncourse.grading.proxy import StudentError

    args = (t["H"], t["HH"], t["stride"], t["pad"])
    try:
        got = t.call("conv_output_size", *args)
    except ValueError:  # in the notebook
        return
    except StudentError as exc:  # in the grader: the student's function raised
        if exc.status != "error":
            raise
        t.require(
            exc.type_name == "ValueError",
            f"conv_output_size{args} raised {exc.type_name}, expected ValueError",
            "raises",
        )
        return
    t.fail(f"conv_output_size{args} returned {got!r} instead of raising ValueError", "raises")


OUTPUT_SIZE = Check(
    grade_id="conv_output_size",
    functions=("conv_output_size",),
    run=lambda t: _output_size_raises(t) if t.case.get("raises") else _output_size(t),
    hints={
        "default": "(H - HH + 2*pad) / stride + 1, as a whole number (an int).",
        "int": "return an int: use // once you know the division is exact.",
        "raises": "raise ValueError when (H - HH + 2*pad) is negative or not a multiple of "
        "stride: the filter does not tile the input.",
    },
    groups=(
        group(
            "output_size_values",
            1,
            case(0, H=32, HH=5, stride=1, pad=0, visible=True),
            case(0, H=7, HH=3, stride=1, pad=0, visible=True),
            case(0, H=7, HH=3, stride=2, pad=0, visible=True),
            case(0, H=227, HH=11, stride=4, pad=0, visible=True),
            case(0, H=55, HH=3, stride=2, pad=0, visible=True),
            case(0, H=32, HH=5, stride=1, pad=2, visible=True),
            case(0, H=5, HH=5, stride=1, pad=0),
            case(0, H=1, HH=1, stride=1, pad=0),
            case(0, H=13, HH=3, stride=1, pad=1),
            case(0, H=6, HH=1, stride=5, pad=0),
            case(0, H=5, HH=7, stride=2, pad=2),
        ),
        group(
            "output_size_raises",
            1,
            case(0, H=7, HH=3, stride=3, pad=0, raises=True, visible=True),
            case(0, H=32, HH=5, stride=2, pad=0, raises=True),
            case(0, H=3, HH=5, stride=1, pad=0, raises=True),
        ),
    ),
)

# ---------------------------------------------------------------- numeric answers


def _answer(t) -> None:
    name = t["name"]
    got = t.value(name)
    if name == "conv1_out":
        t.equal(got, layers.conv_output_size(227, 11, 4, 0), name, reveal=False)
    else:
        t.equal(got, 11 * 11 * 3 * 96, name, reveal=False)


ALEXNET = Check(
    grade_id="alexnet_numbers",
    functions=("conv1_out", "conv1_weights"),
    run=_answer,
    hints={
        "conv1_out": "the output size is (227 - 11)/4 + 1.",
        "conv1_weights": "each of the 96 filters has 11 x 11 x 3 weights (no biases).",
    },
    groups=(
        group("alexnet_conv1_out", 1, case(0, name="conv1_out", visible=True)),
        group("alexnet_conv1_weights", 1, case(0, name="conv1_weights", visible=True)),
    ),
)


def _onebyone(t) -> None:
    name = t["name"]
    got = t.value(name)
    if name == "onebyone_out_shape":
        t.equal(tuple(got) if isinstance(got, list) else got, (32, 56, 56), name, reveal=False)
    else:
        t.equal(got, 1 * 1 * 64 * 32 + 32, name, reveal=False)


ONEBYONE = Check(
    grade_id="onebyone",
    functions=("onebyone_out_shape", "onebyone_params"),
    run=_onebyone,
    hints={
        "onebyone_out_shape": "F filters give F channels; a 1x1 filter at stride 1 keeps H x W.",
        "onebyone_params": "each of the 32 filters has 1 x 1 x 64 weights and one bias.",
    },
    groups=(
        group("onebyone_shape", 1, case(0, name="onebyone_out_shape", visible=True)),
        group("onebyone_params", 1, case(0, name="onebyone_params", visible=True)),
    ),
)

# ---------------------------------------------------------------- convolution


def _conv_inputs(t):
    rng = t.rng()
    x = rng.standard_normal(t["x"]).astype(t.dtype)
    w = rng.standard_normal(t["w"]).astype(t.dtype)
    b = rng.standard_normal(t["w"][0]).astype(t.dtype)
    return rng, x, w, b, {"stride": t["stride"], "pad": t["pad"]}


def _conv_forward(t) -> None:
    _, x, w, b, param = _conv_inputs(t)
    out, _ = t.parts(t.call("conv_forward_naive", x, w, b, param), 2, "(out, cache)")
    want, _ = layers.conv_forward(x, w, b, dict(param))
    t.close(out, want, "out")


def _conv_backward(t) -> None:
    rng, x, w, b, param = _conv_inputs(t)
    want_out, ref_cache = layers.conv_forward(x, w, b, dict(param))
    dout = rng.standard_normal(want_out.shape).astype(t.dtype)
    _, cache = t.parts(t.call("conv_forward_naive", x, w, b, param), 2, "(out, cache)")
    got = t.parts(t.call("conv_backward_naive", dout, cache), 3, "(dx, dw, db)")
    want = layers.conv_backward(dout, ref_cache)
    for name, g, w_ in zip(("dx", "dw", "db"), got, want, strict=True):
        t.close(g, w_, name)


def _conv_cases(seed: int, visible_first: bool = False, dtype: str = "float64", *shapes):
    return tuple(
        case(seed + k, x=xs, w=ws, stride=s, pad=p, dtype=dtype, visible=visible_first and k == 0)
        for k, (xs, ws, s, p) in enumerate(shapes)
    )


# (x shape, w shape, stride, pad)
NO_PAD = (
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 0),
    ((1, 3, 4, 4), (2, 3, 2, 2), 2, 0),  # batch of 1, stride 2
    ((3, 4, 3, 3), (5, 4, 1, 1), 1, 0),  # 1x1 kernel
    ((2, 2, 6, 4), (3, 2, 3, 2), 1, 0),  # non-square image and kernel
    ((2, 3, 7, 5), (2, 3, 3, 3), 2, 0),  # non-square, stride 2
)
PADDED = (
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 1),  # the visible case
    ((2, 2, 5, 7), (3, 2, 3, 3), 2, 2),  # pad 2, stride 2, non-square
    ((1, 3, 4, 6), (2, 3, 5, 5), 1, 2),  # batch of 1, kernel larger than the image
    ((2, 2, 4, 4), (3, 2, 1, 1), 1, 1),  # 1x1 kernel on a padded image
)
FLOAT32 = (((2, 3, 7, 7), (3, 3, 3, 3), 2, 1), ((1, 2, 5, 4), (2, 2, 2, 3), 1, 1))

_PAD_HINT = (
    "zero-pad x first (np.pad on the two spatial axes only), then for each output position "
    "take the window x_pad[n, :, i*stride:i*stride+HH, j*stride:j*stride+WW] and compute "
    "sum(window * w[f]) + b[f]."
)

CONV_FORWARD = Check(
    grade_id="conv_forward",
    functions=("conv_forward_naive",),
    run=_conv_forward,
    hints={"out": _PAD_HINT, "returns": "return (out, cache)."},
    groups=(
        group("conv_forward_no_padding", 3, *_conv_cases(10, False, "float64", *NO_PAD)),
        group("conv_forward_padding", 2, *_conv_cases(20, True, "float64", *PADDED)),
        group("conv_forward_float32", 1, *_conv_cases(30, False, "float32", *FLOAT32)),
    ),
)

CONV_BACKWARD = Check(
    grade_id="conv_backward",
    functions=("conv_forward_naive", "conv_backward_naive"),
    run=_conv_backward,
    hints={
        "dx": "each out[n, f, i, j] sends dout[n, f, i, j] * w[f] back to its window of the "
        "padded input; add them up in dx_pad (+=, windows overlap) and cut the padding off "
        "at the end.",
        "dw": "dw[f] += dout[n, f, i, j] * window of the padded input, summed over n, i, j.",
        "db": "db[f] = sum of dout[:, f, :, :].",
        "returns": "conv_forward_naive returns (out, cache), conv_backward_naive (dx, dw, db).",
    },
    groups=(
        group("conv_backward_no_padding", 3, *_conv_cases(40, False, "float64", *NO_PAD)),
        group("conv_backward_padding", 2, *_conv_cases(50, True, "float64", *PADDED)),
        group("conv_backward_float32", 1, *_conv_cases(60, False, "float32", *FLOAT32)),
    ),
)

# ---------------------------------------------------------------- max pooling


def _pool_inputs(t):
    rng = t.rng()
    x = rng.standard_normal(t["x"]).astype(t.dtype)
    return rng, x, {"pool_height": t["pool"][0], "pool_width": t["pool"][1], "stride": t["stride"]}


def _pool_forward(t) -> None:
    _, x, param = _pool_inputs(t)
    out, _ = t.parts(t.call("max_pool_forward_naive", x, param), 2, "(out, cache)")
    t.close(out, layers.max_pool_forward(x, dict(param))[0], "out")


def _pool_backward(t) -> None:
    rng, x, param = _pool_inputs(t)
    want_out, ref_cache = layers.max_pool_forward(x, dict(param))
    dout = rng.standard_normal(want_out.shape).astype(t.dtype)
    _, cache = t.parts(t.call("max_pool_forward_naive", x, param), 2, "(out, cache)")
    dx = t.call("max_pool_backward_naive", dout, cache)
    t.close(dx, layers.max_pool_backward(dout, ref_cache), "dx")


def _pool_cases(seed: int, visible_first: bool, dtype: str, *shapes):
    return tuple(
        case(seed + k, x=xs, pool=pool, stride=s, dtype=dtype, visible=visible_first and k == 0)
        for k, (xs, pool, s) in enumerate(shapes)
    )


# (x shape, (pool_height, pool_width), stride)
POOL_BASIC = (((2, 3, 4, 4), (2, 2), 2), ((1, 2, 6, 6), (2, 2), 2), ((3, 1, 2, 2), (2, 2), 2))
POOL_OVERLAP = (
    ((1, 2, 7, 7), (3, 3), 2),  # overlapping windows, as in AlexNet
    ((2, 3, 6, 4), (3, 2), 1),  # non-square windows
    ((2, 2, 5, 9), (1, 3), 2),
)
POOL_FLOAT32 = (((2, 2, 4, 6), (2, 2), 2), ((1, 3, 5, 5), (3, 3), 2))

MAX_POOL_FORWARD = Check(
    grade_id="max_pool_forward",
    functions=("max_pool_forward_naive",),
    run=_pool_forward,
    hints={
        "out": "out[n, c, i, j] = the maximum of x[n, c, i*stride:i*stride+pool_height, "
        "j*stride:j*stride+pool_width]; every channel is pooled on its own.",
        "returns": "return (out, cache).",
    },
    groups=(
        group("max_pool_forward_basic", 2, *_pool_cases(70, True, "float64", *POOL_BASIC)),
        group(
            "max_pool_forward_overlapping_nonsquare",
            1,
            *_pool_cases(80, False, "float64", *POOL_OVERLAP),
        ),
        group("max_pool_forward_float32", 1, *_pool_cases(90, False, "float32", *POOL_FLOAT32)),
    ),
)

MAX_POOL_BACKWARD = Check(
    grade_id="max_pool_backward",
    functions=("max_pool_forward_naive", "max_pool_backward_naive"),
    run=_pool_backward,
    hints={
        "dx": "route each dout[n, c, i, j] to the one input that was its window's maximum "
        "(np.unravel_index(np.argmax(window), window.shape)); overlapping windows add up (+=).",
        "returns": "max_pool_forward_naive returns (out, cache), max_pool_backward_naive dx.",
    },
    groups=(
        group("max_pool_backward_basic", 2, *_pool_cases(100, True, "float64", *POOL_BASIC)),
        group(
            "max_pool_backward_overlapping_nonsquare",
            1,
            *_pool_cases(110, False, "float64", *POOL_OVERLAP),
        ),
        group("max_pool_backward_float32", 1, *_pool_cases(120, False, "float32", *POOL_FLOAT32)),
    ),
)

# ---------------------------------------------------------------- convolution as a matrix


def _matrix(t) -> None:
    H, W = t["x"]
    rng = t.rng()
    x = rng.standard_normal((H, W))
    w = rng.standard_normal(t["w"])
    M = t.call("conv_as_matrix", w, H, W)
    want, _ = layers.conv_forward(
        x[None, None], w[None, None], np.zeros(1), {"stride": 1, "pad": 0}
    )
    want = want.reshape(-1)
    t.require(isinstance(M, np.ndarray), f"returned {type(M).__name__}, expected an array", "M")
    t.require(
        M.shape == (H * W, want.size),
        f"the matrix has shape {M.shape}, expected {(H * W, want.size)} (one row per input "
        "pixel, one column per output value, as on the slide's 9x4)",
        "M",
    )
    t.close(x.reshape(-1) @ M, want, "x.reshape(-1) @ M")


CONV_AS_MATRIX = Check(
    grade_id="conv_as_matrix",
    functions=("conv_as_matrix",),
    run=_matrix,
    hints={
        "default": "column k holds the filter weights at the input positions under output "
        "k's window (row-major), zeros elsewhere.",
    },
    groups=(
        group("conv_as_matrix_slide", 1, case(130, x=(3, 3), w=(2, 2), visible=True)),
        group(
            "conv_as_matrix_general",
            2,
            case(140, x=(5, 4), w=(3, 2)),
            case(141, x=(4, 4), w=(1, 1)),
            case(142, x=(6, 5), w=(4, 5)),
            case(143, x=(2, 7), w=(2, 3)),
        ),
    ),
)

SPEC = assignment(
    "conv",
    OUTPUT_SIZE,
    ALEXNET,
    CONV_FORWARD,
    CONV_BACKWARD,
    MAX_POOL_FORWARD,
    MAX_POOL_BACKWARD,
    ONEBYONE,
    CONV_AS_MATRIX,
)
checks_of(globals(), SPEC)
