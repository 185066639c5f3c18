"""The batchnorm assignment's specification: every test cell's cases, points and hints.

Train-mode outputs; the running averages, read back from the student's ``bn_param`` after
each call (it must be updated in place: the function returns only ``(out, cache)``); test
mode with given running statistics, which it must leave as they are; both backward passes
on the student's own caches; the spatial version; in float64 and float32.
"""

from __future__ import annotations

from cnncourse import layers
from cnncourse.checks.runner import Check, assignment, case, checks_of, group


def _inputs(t):
    rng = t.rng()
    shape = t["x"]
    D = shape[1]
    x = (4.0 * rng.standard_normal(shape) + 2.0).astype(t.dtype)
    gamma = (1.0 + 0.5 * rng.standard_normal(D)).astype(t.dtype)
    beta = rng.standard_normal(D).astype(t.dtype)
    return rng, x, gamma, beta


def _ref(t, name: str):
    return getattr(layers, f"{t['layer']}{name}")


def _train(t) -> None:
    _, x, gamma, beta = _inputs(t)
    fn = f"{t['layer']}forward"
    out, after = t.call_after(fn, x, gamma, beta, {"mode": "train"})
    out, _ = t.parts(out, 2, "(out, cache)")
    theirs = {"mode": "train"}
    t.close(out, _ref(t, "forward")(x, gamma, beta, theirs)[0], "train-mode out")
    if t.get("running"):
        _running(t, after[3], theirs, "after one train-mode call")


def _running(t, mine, theirs, when: str, hint: str = "running") -> None:
    for key in ("running_mean", "running_var"):
        t.require(isinstance(mine, dict) and key in mine, f"bn_param has no {key!r} {when}", hint)
        t.close(mine[key], theirs[key], f"{key} {when}", hint=hint)


def _running_averages(t) -> None:
    rng, x, gamma, beta = _inputs(t)
    mine = {"mode": "train", "momentum": t["momentum"]}
    theirs = dict(mine)
    for step in range(1, t["steps"] + 1):
        xb = (x + rng.standard_normal(x.shape)).astype(t.dtype)
        _, after = t.call_after("batchnorm_forward", xb, gamma, beta, mine)
        mine = after[3]
        layers.batchnorm_forward(xb, gamma, beta, theirs)
        _running(t, mine, theirs, f"after step {step}")


def _test_mode(t) -> None:
    rng, x, gamma, beta = _inputs(t)
    C = t["x"][1]
    stats = {
        "running_mean": rng.standard_normal(C).astype(t.dtype),
        "running_var": (0.5 + rng.random(C)).astype(t.dtype),
    }
    fn = f"{t['layer']}forward"
    result, after = t.call_after(fn, x, gamma, beta, {"mode": "test", **stats})
    out, _ = t.parts(result, 2, "(out, cache)")
    want = _ref(t, "forward")(x, gamma, beta, {"mode": "test", **stats})[0]
    t.close(out, want, "test-mode out")
    _running(t, after[3], stats, "after a test-mode call", "test-mode state")


_FORWARD = {"train": _train, "running": _running_averages, "test": _test_mode}


def _backward(t) -> None:
    rng, x, gamma, beta = _inputs(t)
    dout = rng.standard_normal(x.shape).astype(t.dtype)
    forward, backward = t.check.functions
    _, cache = t.parts(t.call(forward, x, gamma, beta, {"mode": "train"}), 2, "(out, cache)")
    got = t.parts(t.call(backward, dout, cache), 3, "(dx, dgamma, dbeta)")
    _, ref_cache = _ref(t, "forward")(x, gamma, beta, {"mode": "train"})
    want = _ref(t, "backward")(dout, ref_cache)
    for name, g, w in zip(("dx", "dgamma", "dbeta"), got, want, strict=True):
        t.close(g, w, name)


SHAPES = ((50, 4), (2, 3), (7, 1), (33, 6))  # a batch of 2, a single feature
_L = "batchnorm_"  # the layer of a case: batchnorm_forward / spatial_batchnorm_forward
_S = "spatial_batchnorm_"

_TRAIN_HINT = (
    "normalize with the batch mean and the biased variance x.var(axis=0) (divide by N), "
    "then scale by gamma and shift by beta."
)
_RUNNING_HINT = (
    "after each training batch: running_mean = momentum * running_mean + (1 - momentum) * "
    "mean, likewise running_var; write both back into the bn_param dict you were given."
)
_TEST_STATE_HINT = (
    "test mode only reads running_mean and running_var: leave them in bn_param as they were."
)

BATCHNORM_FORWARD = Check(
    grade_id="batchnorm_forward",
    functions=("batchnorm_forward",),
    run=lambda t: _FORWARD[t["check"]](t),
    hints={
        "train-mode out": _TRAIN_HINT,
        "running": _RUNNING_HINT,
        "test-mode out": "in test mode use bn_param's running_mean and running_var, not the "
        "batch's.",
        "test-mode state": _TEST_STATE_HINT,
        "returns": "return (out, cache).",
    },
    groups=(
        group(
            "forward_train",
            2,
            *(case(k, check="train", layer=_L, x=s, visible=k == 0) for k, s in enumerate(SHAPES)),
        ),
        group(
            "forward_running_averages",
            2,
            case(10, check="running", x=(50, 4), momentum=0.9, steps=4, visible=True),
            case(11, check="running", x=(2, 3), momentum=0.9, steps=4),
            case(12, check="running", x=(16, 5), momentum=0.8, steps=4),
        ),
        group(
            "forward_test_mode",
            1,
            *(
                case(
                    20 + k, check="test", layer=_L, x=s, dtype=d, visible=k == 0 and d == "float64"
                )
                for d in ("float64", "float32")
                for k, s in enumerate([(5, 4), (1, 3)])
            ),
        ),
        group(
            "forward_train_float32",
            1,
            case(30, check="train", layer=_L, x=(40, 5), dtype="float32"),
            case(31, check="train", layer=_L, x=(3, 2), dtype="float32"),
        ),
    ),
)


def _backward_check(grade_id, functions, groups, hint) -> Check:
    return Check(
        grade_id=grade_id,
        functions=functions,
        run=_backward,
        hints={
            "default": hint,
            "returns": "the forward pass returns (out, cache), the "
            "backward pass (dx, dgamma, dbeta).",
        },
        groups=groups,
    )


_GRAPH_HINT = (
    "walk the graph backwards node by node: gamma/beta, then x_hat, the 1/sqrt(var + eps) "
    "node, the variance, the centring and the mean; the mean and the variance depend on every "
    "x, so their gradients sum over N."
)
_ALT_HINT = (
    "dx = gamma / (N sqrt(var + eps)) * (N dout - sum(dout) - x_hat * sum(dout * x_hat)), sums "
    "over the batch axis; dgamma = sum(dout * x_hat), dbeta = sum(dout)."
)


def _bwd_cases(seed: int, layer: str, shapes, dtype="float64", visible_first=False):
    return tuple(
        case(seed + k, layer=layer, x=s, dtype=dtype, visible=visible_first and k == 0)
        for k, s in enumerate(shapes)
    )


BATCHNORM_BACKWARD = _backward_check(
    "batchnorm_backward",
    ("batchnorm_forward", "batchnorm_backward"),
    (
        group("backward_graph", 3, *_bwd_cases(40, _L, SHAPES, visible_first=True)),
        group("backward_graph_float32", 1, *_bwd_cases(50, _L, [(16, 5)], "float32")),
    ),
    _GRAPH_HINT,
)

BATCHNORM_BACKWARD_ALT = _backward_check(
    "batchnorm_backward_alt",
    ("batchnorm_forward", "batchnorm_backward_alt"),
    (
        group("backward_alt", 2, *_bwd_cases(60, _L, SHAPES, visible_first=True)),
        group("backward_alt_float32", 1, *_bwd_cases(70, _L, [(16, 5)], "float32")),
    ),
    _ALT_HINT,
)

# (shape, dtype) of the spatial cases: N, C, H, W
SPATIAL = (((4, 3, 5, 5), "float64"), ((1, 2, 3, 4), "float64"), ((3, 4, 2, 6), "float32"))
_SPATIAL_HINT = (
    "one mean and variance per channel, over N, H and W: move C last, reshape to (N*H*W, C), "
    "call batchnorm_forward (with the same bn_param dict, which it updates) and undo the "
    "reshape."
)

SPATIAL_BATCHNORM_FORWARD = Check(
    grade_id="spatial_batchnorm_forward",
    functions=("spatial_batchnorm_forward",),
    run=lambda t: _FORWARD[t["check"]](t),
    hints={
        "default": _SPATIAL_HINT,
        "running": "batchnorm_forward updates running_mean and running_var in bn_param; pass "
        "it the same bn_param dict.",
        "test-mode state": _TEST_STATE_HINT,
        "returns": "return (out, cache).",
    },
    groups=(
        group(
            "spatial_forward_train",
            2,
            *(
                case(80 + k, check="train", layer=_S, running=True, x=s, dtype=d, visible=k == 0)
                for k, (s, d) in enumerate(SPATIAL)
            ),
        ),
        group(
            "spatial_forward_test_mode",
            1,
            *(
                case(90 + k, check="test", layer=_S, x=s, dtype=d, visible=k == 0)
                for k, (s, d) in enumerate(SPATIAL)
            ),
        ),
    ),
)

SPATIAL_BATCHNORM_BACKWARD = _backward_check(
    "spatial_batchnorm_backward",
    ("spatial_batchnorm_forward", "spatial_batchnorm_backward"),
    (
        group(
            "spatial_backward",
            2,
            *(
                case(100 + k, layer=_S, x=s, dtype=d, visible=k == 0)
                for k, (s, d) in enumerate(SPATIAL)
            ),
        ),
    ),
    "reshape dout like the forward pass, call batchnorm_backward, and undo the reshape.",
)

SPEC = assignment(
    "batchnorm",
    BATCHNORM_FORWARD,
    BATCHNORM_BACKWARD,
    BATCHNORM_BACKWARD_ALT,
    SPATIAL_BATCHNORM_FORWARD,
    SPATIAL_BATCHNORM_BACKWARD,
)
checks_of(globals(), SPEC)
