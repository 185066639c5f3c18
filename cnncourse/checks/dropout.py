"""The dropout assignment's specification: every test cell's cases, points and hints.

A student's random mask cannot equal the reference's (``np.random.seed``, ``default_rng`` and
torch draw different numbers), so the forward pass is checked by its properties: kept units
equal x / keep_prob, the kept fraction is keep_prob within 5 standard deviations, a seed
fixes the mask, test mode is the identity. The backward pass is checked against the mask the
student's own forward pass drew.
"""

from __future__ import annotations

import math

import numpy as np

from cnncourse import layers
from cnncourse.checks.runner import Check, assignment, case, checks_of, group


def _inputs(t) -> np.ndarray:
    # shifted away from 0 so that a kept unit is never exactly 0
    return (t.rng().standard_normal(t["x"]) + 4.0).astype(t.dtype)


def _forward(t, x, mode="train", seed=None):
    param = {
        "keep_prob": t["keep_prob"],
        "mode": mode,
        "seed": t.case.seed if seed is None else seed,
    }
    out, cache = t.parts(t.call("dropout_forward", x, param), 2, "(out, cache)")
    return out, cache


def _out(t, out, x) -> np.ndarray:
    t.require(
        isinstance(out, np.ndarray), f"out is {type(out).__name__}, expected an array", "returns"
    )
    t.require(out.shape == x.shape, f"out has shape {out.shape}, expected {x.shape}", "returns")
    return out


def _scaled(t) -> None:
    x = _inputs(t)
    out = _out(t, _forward(t, x)[0], x)
    kept = out != 0
    t.require(kept.any(), "every unit was dropped", "fraction")
    if t.dtype == np.float32:
        t.require(out.dtype == np.float32, f"float32 input gave a {out.dtype} output", "dtype")
    t.close(
        out[kept], x[kept] / np.asarray(t["keep_prob"], dtype=t.dtype), "kept units", hint="scaled"
    )


def _fraction(t) -> None:
    x = _inputs(t)
    p = t["keep_prob"]
    frac = float(np.mean(_out(t, _forward(t, x)[0], x) != 0))
    sigma = math.sqrt(p * (1 - p) / x.size)
    t.require(
        abs(frac - p) < 5 * sigma,
        f"{frac:.4f} of the units were kept, expected {p} +- {5 * sigma:.4f}",
        "fraction",
    )


def _seed(t) -> None:
    x = _inputs(t)
    a, b, c = (_out(t, _forward(t, x, seed=s)[0], x) != 0 for s in (7, 7, 8))
    t.require(np.array_equal(a, b), "seed 7 twice gave two different masks", "seed")
    t.require(
        not np.array_equal(a, c), "seeds 7 and 8 gave the same mask: is the seed used?", "seed"
    )


def _identity(t) -> None:
    x = _inputs(t)
    out = _forward(t, x, mode="test")[0]
    want = layers.dropout_forward(x, {"keep_prob": t["keep_prob"], "mode": "test"})[0]
    t.close(out, want, "test-mode out")


_FORWARD = {"scaled": _scaled, "fraction": _fraction, "seed": _seed, "identity": _identity}

KEEP = (0.8, 0.5, 0.3, 1.0)

DROPOUT_FORWARD = Check(
    grade_id="dropout_forward",
    functions=("dropout_forward",),
    run=lambda t: _FORWARD[t["check"]](t),
    hints={
        "scaled": "inverted dropout divides the kept units by keep_prob during training, so the "
        "expected value of each unit is unchanged and test time needs no change.",
        "fraction": "keep a unit when its uniform random number is < keep_prob.",
        "seed": "seed your generator with dropout_param['seed'] when it is given "
        "(np.random.default_rng(seed) or np.random.seed(seed)).",
        "test-mode out": "at test time inverted dropout is the identity: return x unchanged.",
        "dtype": "keep x's dtype: x * mask / keep_prob with a boolean mask stays float32.",
        "returns": "return (out, cache), out shaped like x.",
    },
    groups=(
        group(
            "train_kept_values_are_scaled",
            2,
            *(
                case(k, check="scaled", keep_prob=p, x=(400, 50), visible=k == 0)
                for k, p in enumerate(KEEP)
            ),
        ),
        group(
            "train_keep_fraction",
            1,
            *(
                case(10 + k, check="fraction", keep_prob=p, x=(400, 50), visible=k == 0)
                for k, p in enumerate(KEEP[:3])
            ),
        ),
        group(
            "seed_fixes_the_mask",
            1,
            case(20, check="seed", keep_prob=0.5, x=(30, 40), visible=True),
        ),
        group(
            "test_mode_is_identity",
            1,
            *(
                case(
                    30 + k,
                    check="identity",
                    keep_prob=p,
                    x=(1, 17),
                    dtype=d,
                    visible=k == 0 and d == "float64",
                )
                for d in ("float64", "float32")
                for k, p in enumerate(KEEP)
            ),
        ),
        group(
            "train_float32",
            1,
            case(40, check="scaled", keep_prob=0.6, x=(200, 30), dtype="float32"),
        ),
    ),
)


def _backward(t) -> None:
    rng = np.random.default_rng(t.case.seed + 1000)
    x = _inputs(t)
    dout = rng.standard_normal(x.shape).astype(t.dtype)
    out, cache = _forward(t, x, mode=t["mode"])
    out = _out(t, out, x)
    dx = t.call("dropout_backward", dout, cache)
    want = dout * (out != 0) / t["keep_prob"] if t["mode"] == "train" else dout
    t.close(dx, want.astype(t.dtype), "dx")


def _backward_cases(mode: str, seed: int):
    return (
        case(
            seed + k, mode=mode, keep_prob=p, x=(25, 20), dtype=d, visible=k == 0 and d == "float64"
        )
        for d in ("float64", "float32")
        for k, p in enumerate(KEEP)
    )


DROPOUT_BACKWARD = Check(
    grade_id="dropout_backward",
    functions=("dropout_forward", "dropout_backward"),
    run=_backward,
    hints={
        "dx": "the gradient flows through the kept units only, scaled like the forward pass: "
        "dx = dout * mask / keep_prob in train mode (the mask your forward pass drew, kept "
        "in the cache), dx = dout in test mode.",
        "returns": "dropout_forward returns (out, cache), out shaped like x.",
    },
    groups=(
        group("backward_train", 2, *_backward_cases("train", 50)),
        group("backward_test_mode", 1, *_backward_cases("test", 60)),
    ),
)

SPEC = assignment("dropout", DROPOUT_FORWARD, DROPOUT_BACKWARD)
checks_of(globals(), SPEC)
