"""The visible self-checks of the assignments not yet converted to a specification (temporary).

Each ``check_*`` function runs the student's function and the course's reference
(:mod:`cnncourse.layers`, :mod:`cnncourse.optim`, or an independent oracle such as torch
autograd) on seeded random inputs, prints one line per comparison with the relative error,
and raises ``AssertionError`` with a hint when the result is wrong, so that nbgrader marks
the test cell as failed. ``hidden=True`` adds more seeds and edge shapes (the notebooks'
hidden tests use it).

These checks run inside the student's kernel, so they teach; they do not police. The grade
comes from ``cnncourse grade``, which runs the student's code in a sandbox and compares it
from outside (see ``docs/grading.md``).
"""

from __future__ import annotations

import contextlib
import importlib
import math
from collections.abc import Callable, Iterable

import numpy as np

__all__ = [
    "check_add_gate_backward",
    "check_affine_backward",
    "check_affine_forward",
    "check_batchnorm_backward",
    "check_batchnorm_backward_alt",
    "check_batchnorm_forward",
    "check_conv_as_matrix",
    "check_conv_backward",
    "check_conv_forward",
    "check_conv_output_size",
    "check_dropout_backward",
    "check_dropout_forward",
    "check_graph",
    "check_lr_schedule",
    "check_max_gate_backward",
    "check_max_pool_backward",
    "check_max_pool_forward",
    "check_mul_gate_backward",
    "check_relu_backward",
    "check_relu_forward",
    "check_softmax_loss",
    "check_spatial_batchnorm_backward",
    "check_spatial_batchnorm_forward",
    "check_two_layer_net",
    "check_update_rule",
    "numerical_gradient",
    "rel_error",
]

TOL = {np.dtype(np.float64): 1e-7, np.dtype(np.float32): 1e-4}

_LAYER_MODULES = ("conv", "pool", "affine", "activations", "dropout", "batchnorm", "losses")


# --------------------------------------------------------------------------- plumbing


def _ref(name: str) -> Callable:
    """The reference function ``name`` of :mod:`cnncourse.layers`."""
    layers = importlib.import_module("cnncourse.layers")
    if hasattr(layers, name):
        return getattr(layers, name)
    for module in _LAYER_MODULES:  # the families, should the package not re-export one
        with contextlib.suppress(ImportError):
            mod = importlib.import_module(f"cnncourse.layers.{module}")
            if hasattr(mod, name):
                return getattr(mod, name)
    raise AttributeError(f"cnncourse.layers has no reference {name!r}")


def rel_error(x, y) -> float:
    """Relative error ``|x - y| / (|x| + |y|)`` with Euclidean norms (0 when both are 0).

    Unlike an elementwise maximum it does not blow up on a single entry that happens to be
    close to zero; like it, it is scale free: 1e-7 means "agree to about 7 digits".
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return math.inf
    denom = np.linalg.norm(x) + np.linalg.norm(y)
    return 0.0 if denom == 0 else float(np.linalg.norm(x - y) / denom)


def numerical_gradient(f: Callable[[], float | np.ndarray], x: np.ndarray, dout=None, h=1e-6):
    """Centered-difference gradient of ``sum(f() * dout)`` with respect to ``x`` (in place).

    ``f`` takes no argument and reads ``x``, which is perturbed entry by entry and restored.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = np.asarray(f(), dtype=np.float64)
        x[i] = old - h
        minus = np.asarray(f(), dtype=np.float64)
        x[i] = old
        diff = plus - minus if dout is None else (plus - minus) * dout
        grad[i] = np.sum(diff) / (2 * h)
    return grad


def _call(fn: Callable, name: str, *args, **kw):
    try:
        return fn(*args, **kw)
    except NotImplementedError:
        raise NotImplementedError(
            f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code"
        ) from None


def _as_array(name: str, value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if value is None:
        raise AssertionError(f"{name}: your function returned None (did you forget `return`?)")
    return np.asarray(value)


def _compare(label: str, name: str, got, want, hint: str, dtype=np.float64) -> float:
    """Print one comparison line; raise AssertionError (with the hint) when it fails."""
    got = _as_array(name, got)
    want = _as_array(name, want)
    if got.shape != want.shape:
        print(f"  {label}: {name} has shape {got.shape}, expected {want.shape}  FAIL")
        raise AssertionError(
            f"{label}: {name} has shape {got.shape}, expected {want.shape}. Hint: {hint}"
        )
    err = rel_error(got, want)
    tol = TOL[np.dtype(dtype)]
    ok = err < tol
    print(f"  {label}: {name} relative error {err:.2e}  {'ok' if ok else 'FAIL'} (< {tol:g})")
    if not ok:
        why = "contains inf or nan" if math.isinf(err) else f"relative error {err:.2e} >= {tol:g}"
        raise AssertionError(f"{label}: {name} {why}. Hint: {hint}")
    return err


def _passed(name: str) -> None:
    print(f"{name}: all checks passed.")


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- conv


def _conv_cases(hidden: bool):
    # (x shape, w shape, stride, pad, dtype)
    cases = [((2, 3, 5, 5), (4, 3, 3, 3), 1, 1, np.float64)]
    if hidden:
        cases += [
            ((1, 3, 4, 4), (2, 3, 2, 2), 2, 0, np.float64),  # batch of 1, stride 2
            ((2, 2, 5, 7), (3, 2, 3, 3), 2, 2, np.float64),  # non-square, pad 2
            ((3, 4, 3, 3), (5, 4, 1, 1), 1, 0, np.float64),  # 1x1 kernel
            ((2, 3, 6, 4), (2, 3, 3, 2), 1, 0, np.float32),  # non-square kernel, float32
        ]
    return cases


def check_conv_output_size(conv_output_size: Callable) -> None:
    """Compare ``conv_output_size(H, HH, stride, pad)`` with the reference on slide examples."""
    ref = _ref("conv_output_size")
    cases = [
        (32, 5, 1, 0),
        (7, 3, 1, 0),
        (7, 3, 2, 0),
        (227, 11, 4, 0),
        (55, 3, 2, 0),
        (32, 5, 1, 2),
    ]
    for H, HH, stride, pad in cases:
        got = _call(conv_output_size, "conv_output_size", H, HH, stride, pad)
        want = ref(H, HH, stride, pad)
        ok = got == want
        print(
            f"  conv_output_size{(H, HH, stride, pad)} = {got!r}, expected {want}  "
            f"{'ok' if ok else 'FAIL'}"
        )
        if not ok:
            raise AssertionError(
                f"conv_output_size{(H, HH, stride, pad)} returned {got!r}, expected {want}. "
                "Hint: (H - HH + 2*pad) / stride + 1, as a whole number (an int)."
            )
        if not isinstance(got, int | np.integer):
            raise AssertionError(f"conv_output_size should return an int, got {type(got).__name__}")
    try:
        conv_output_size(7, 3, 3, 0)
    except ValueError as exc:
        print(f"  conv_output_size(7, 3, 3, 0) raised ValueError: {exc}  ok")
    else:
        raise AssertionError(
            "conv_output_size(7, 3, 3, 0) should raise ValueError: (7 - 3)/3 + 1 = 2.33 is not "
            "a whole number, the filter does not fit the input evenly."
        )
    _passed("conv_output_size")


def check_conv_forward(conv_forward_naive: Callable, hidden: bool = False) -> None:
    """Compare ``conv_forward_naive`` with the reference convolution."""
    ref = _ref("conv_forward")
    for seed, (xs, ws, stride, pad, dtype) in enumerate(_conv_cases(hidden)):
        rng = _rng(seed)
        x = rng.standard_normal(xs).astype(dtype)
        w = rng.standard_normal(ws).astype(dtype)
        b = rng.standard_normal(ws[0]).astype(dtype)
        param = {"stride": stride, "pad": pad}
        got = _call(conv_forward_naive, "conv_forward_naive", x, w, b, dict(param))
        if not isinstance(got, tuple) or len(got) != 2:
            raise AssertionError("conv_forward_naive should return a pair (out, cache)")
        want, _ = ref(x, w, b, dict(param))
        label = f"x {xs}, w {ws}, stride {stride}, pad {pad}, {np.dtype(dtype).name}"
        _compare(
            label,
            "out",
            got[0],
            want,
            "zero-pad x first (np.pad on the two spatial axes only), then for each output "
            "position take the window x_pad[n, :, i*stride:i*stride+HH, j*stride:j*stride+WW]"
            " and compute sum(window * w[f]) + b[f].",
            dtype,
        )
    _passed("conv_forward_naive")


def check_conv_backward(
    conv_forward_naive: Callable, conv_backward_naive: Callable, hidden: bool = False
) -> None:
    """Compare ``conv_backward_naive`` (on your forward's cache) with the reference gradients."""
    ref_fwd, ref_bwd = _ref("conv_forward"), _ref("conv_backward")
    for seed, (xs, ws, stride, pad, dtype) in enumerate(_conv_cases(hidden)):
        rng = _rng(100 + seed)
        x = rng.standard_normal(xs).astype(dtype)
        w = rng.standard_normal(ws).astype(dtype)
        b = rng.standard_normal(ws[0]).astype(dtype)
        param = {"stride": stride, "pad": pad}
        out, ref_cache = ref_fwd(x, w, b, dict(param))
        dout = rng.standard_normal(out.shape).astype(dtype)
        _, cache = _call(conv_forward_naive, "conv_forward_naive", x, w, b, dict(param))
        got = _call(conv_backward_naive, "conv_backward_naive", dout, cache)
        if not isinstance(got, tuple) or len(got) != 3:
            raise AssertionError("conv_backward_naive should return a triple (dx, dw, db)")
        want = ref_bwd(dout, ref_cache)
        label = f"x {xs}, w {ws}, stride {stride}, pad {pad}, {np.dtype(dtype).name}"
        hints = {
            "dx": "each out[n, f, i, j] sends dout[n, f, i, j] * w[f] back to its window of the "
            "padded input; add them up in dx_pad and cut the padding off at the end.",
            "dw": "dw[f] += dout[n, f, i, j] * window, summed over n, i, j.",
            "db": "db[f] = sum of dout[:, f, :, :].",
        }
        for name, g, r in zip(("dx", "dw", "db"), got, want, strict=True):
            _compare(label, name, g, r, hints[name], dtype)
    _passed("conv_backward_naive")


def _pool_cases(hidden: bool):
    cases = [((2, 3, 4, 4), 2, 2, 2, np.float64)]
    if hidden:
        cases += [
            ((1, 2, 7, 7), 3, 3, 2, np.float64),  # overlapping windows, as in AlexNet
            ((2, 3, 6, 4), 3, 2, 1, np.float64),  # non-square windows
            ((2, 2, 4, 6), 2, 2, 2, np.float32),
        ]
    return cases


def check_max_pool_forward(max_pool_forward_naive: Callable, hidden: bool = False) -> None:
    ref = _ref("max_pool_forward")
    for seed, (xs, ph, pw, stride, dtype) in enumerate(_pool_cases(hidden)):
        x = _rng(200 + seed).standard_normal(xs).astype(dtype)
        param = {"pool_height": ph, "pool_width": pw, "stride": stride}
        got = _call(max_pool_forward_naive, "max_pool_forward_naive", x, dict(param))
        if not isinstance(got, tuple) or len(got) != 2:
            raise AssertionError("max_pool_forward_naive should return a pair (out, cache)")
        want, _ = ref(x, dict(param))
        label = f"x {xs}, {ph}x{pw} pool, stride {stride}, {np.dtype(dtype).name}"
        _compare(
            label,
            "out",
            got[0],
            want,
            "out[n, c, i, j] = the maximum of x[n, c, i*stride:i*stride+pool_height, "
            "j*stride:j*stride+pool_width]; every channel is pooled on its own.",
            dtype,
        )
    _passed("max_pool_forward_naive")


def check_max_pool_backward(
    max_pool_forward_naive: Callable, max_pool_backward_naive: Callable, hidden: bool = False
) -> None:
    ref_fwd, ref_bwd = _ref("max_pool_forward"), _ref("max_pool_backward")
    for seed, (xs, ph, pw, stride, dtype) in enumerate(_pool_cases(hidden)):
        rng = _rng(300 + seed)
        x = rng.standard_normal(xs).astype(dtype)
        param = {"pool_height": ph, "pool_width": pw, "stride": stride}
        out, ref_cache = ref_fwd(x, dict(param))
        dout = rng.standard_normal(out.shape).astype(dtype)
        _, cache = _call(max_pool_forward_naive, "max_pool_forward_naive", x, dict(param))
        got = _call(max_pool_backward_naive, "max_pool_backward_naive", dout, cache)
        want = ref_bwd(dout, ref_cache)
        label = f"x {xs}, {ph}x{pw} pool, stride {stride}, {np.dtype(dtype).name}"
        _compare(
            label,
            "dx",
            got,
            want,
            "route each dout[n, c, i, j] to the one input that was its window's maximum "
            "(np.unravel_index(np.argmax(window), window.shape)); overlapping windows add "
            "up (+=).",
            dtype,
        )
    _passed("max_pool_backward_naive")


def check_conv_as_matrix(conv_as_matrix: Callable, hidden: bool = False) -> None:
    """``x.reshape(-1) @ conv_as_matrix(w, H, W)`` must equal the convolution of x with w."""
    ref = _ref("conv_forward")
    cases = [(3, 3, 2, 2)] + ([(5, 4, 3, 2), (4, 4, 1, 1), (6, 5, 4, 5)] if hidden else [])
    for seed, (H, W, HH, WW) in enumerate(cases):
        rng = _rng(400 + seed)
        x = rng.standard_normal((H, W))
        w = rng.standard_normal((HH, WW))
        M = _as_array("M", _call(conv_as_matrix, "conv_as_matrix", w, H, W))
        want, _ = ref(x[None, None], w[None, None], np.zeros(1), {"stride": 1, "pad": 0})
        want = want.reshape(-1)
        expected_shape = (H * W, want.size)
        label = f"x {(H, W)}, w {(HH, WW)}"
        if M.shape != expected_shape:
            raise AssertionError(
                f"{label}: the matrix has shape {M.shape}, expected {expected_shape} "
                "(one row per input pixel, one column per output value, as on the slide's 9x4)"
            )
        _compare(
            label,
            "x.reshape(-1) @ M",
            x.reshape(-1) @ M,
            want,
            "column k holds the filter weights at the input positions under output k's "
            "window (row-major), zeros elsewhere.",
        )
    _passed("conv_as_matrix")


# --------------------------------------------------------------------------- backprop


def check_graph(graph_forward_backward: Callable) -> None:
    """f = (x + y) z and its gradients, at the slides' point and at other points."""
    for x, y, z in [(-2.0, 5.0, -4.0), (1.5, -0.5, 2.0), (3.0, 4.0, 0.5)]:
        got = _call(graph_forward_backward, "graph_forward_backward", x, y, z)
        want = ((x + y) * z, (z, z, x + y))
        ok = (
            isinstance(got, tuple)
            and len(got) == 2
            and np.allclose(got[0], want[0])
            and np.allclose(np.asarray(got[1], dtype=float), want[1])
        )
        print(f"  x={x}, y={y}, z={z}: got {got}, expected {want}  {'ok' if ok else 'FAIL'}")
        if not ok:
            raise AssertionError(
                f"graph_forward_backward({x}, {y}, {z}) returned {got!r}, expected {want}. "
                "Hint: forward q = x + y, f = q z; backward df/dq = z, df/dz = q, and the add "
                "gate hands df/dq to both x and y."
            )
    _passed("graph_forward_backward")


def _gate_check(fn: Callable, name: str, op: Callable, hint: str, hidden: bool) -> None:
    import torch

    shapes = [(3, 4)] + ([(1,), (2, 3, 2)] if hidden else [])
    for seed, shape in enumerate(shapes):
        rng = _rng(500 + seed)
        x, y, dout = (rng.standard_normal(shape) for _ in range(3))
        xt = torch.tensor(x, requires_grad=True)
        yt = torch.tensor(y, requires_grad=True)
        op(xt, yt).backward(torch.tensor(dout))
        got = _call(fn, name, dout, x, y)
        if not isinstance(got, tuple) or len(got) != 2:
            raise AssertionError(f"{name} should return a pair (dx, dy)")
        _compare(f"shape {shape}", "dx", got[0], xt.grad.numpy(), hint)
        _compare(f"shape {shape}", "dy", got[1], yt.grad.numpy(), hint)
    _passed(name)


def check_add_gate_backward(add_gate_backward: Callable, hidden: bool = False) -> None:
    _gate_check(
        add_gate_backward,
        "add_gate_backward",
        lambda a, b: a + b,
        "the add gate distributes: both inputs receive dout unchanged.",
        hidden,
    )


def check_mul_gate_backward(mul_gate_backward: Callable, hidden: bool = False) -> None:
    _gate_check(
        mul_gate_backward,
        "mul_gate_backward",
        lambda a, b: a * b,
        "the multiply gate swaps: dx = dout * y and dy = dout * x.",
        hidden,
    )


def check_max_gate_backward(max_gate_backward: Callable, hidden: bool = False) -> None:
    import torch

    _gate_check(
        max_gate_backward,
        "max_gate_backward",
        torch.maximum,
        "the max gate routes: the larger input receives dout, the other 0.",
        hidden,
    )


def _dtypes(hidden: bool):
    return (np.float64, np.float32) if hidden else (np.float64,)


def check_affine_forward(affine_forward: Callable, hidden: bool = False) -> None:
    ref = _ref("affine_forward")
    shapes = [((4, 5), 3)] + ([((2, 3, 4), 5), ((1, 6), 2)] if hidden else [])
    for dtype in _dtypes(hidden):
        for seed, (xs, M) in enumerate(shapes):
            rng = _rng(600 + seed)
            D = int(np.prod(xs[1:]))
            x = rng.standard_normal(xs).astype(dtype)
            w = rng.standard_normal((D, M)).astype(dtype)
            b = rng.standard_normal(M).astype(dtype)
            got = _call(affine_forward, "affine_forward", x, w, b)
            if not isinstance(got, tuple) or len(got) != 2:
                raise AssertionError("affine_forward should return a pair (out, cache)")
            want, _ = ref(x, w, b)
            _compare(
                f"x {xs}, w {(D, M)}, {np.dtype(dtype).name}",
                "out",
                got[0],
                want,
                "flatten each example to a row (x.reshape(N, -1)), then rows @ w + b.",
                dtype,
            )
    _passed("affine_forward")


def check_affine_backward(
    affine_forward: Callable, affine_backward: Callable, hidden: bool = False
) -> None:
    ref_fwd, ref_bwd = _ref("affine_forward"), _ref("affine_backward")
    shapes = [((4, 5), 3)] + ([((2, 3, 4), 5), ((1, 6), 2)] if hidden else [])
    hints = {
        "dx": "dx = dout @ w.T, reshaped to x's original shape.",
        "dw": "dw = x_rows.T @ dout, with x_rows = x.reshape(N, -1).",
        "db": "db = dout summed over the batch (axis 0).",
    }
    for dtype in _dtypes(hidden):
        for seed, (xs, M) in enumerate(shapes):
            rng = _rng(700 + seed)
            D = int(np.prod(xs[1:]))
            x = rng.standard_normal(xs).astype(dtype)
            w = rng.standard_normal((D, M)).astype(dtype)
            b = rng.standard_normal(M).astype(dtype)
            dout = rng.standard_normal((xs[0], M)).astype(dtype)
            _, cache = _call(affine_forward, "affine_forward", x, w, b)
            got = _call(affine_backward, "affine_backward", dout, cache)
            if not isinstance(got, tuple) or len(got) != 3:
                raise AssertionError("affine_backward should return a triple (dx, dw, db)")
            _, ref_cache = ref_fwd(x, w, b)
            want = ref_bwd(dout, ref_cache)
            for name, g, r in zip(("dx", "dw", "db"), got, want, strict=True):
                _compare(
                    f"x {xs}, w {(D, M)}, {np.dtype(dtype).name}", name, g, r, hints[name], dtype
                )
    _passed("affine_backward")


def check_relu_forward(relu_forward: Callable, hidden: bool = False) -> None:
    ref = _ref("relu_forward")
    shapes = [(4, 5)] + ([(1, 3, 2, 2), (7,)] if hidden else [])
    for dtype in _dtypes(hidden):
        for seed, shape in enumerate(shapes):
            x = _rng(800 + seed).standard_normal(shape).astype(dtype)
            got = _call(relu_forward, "relu_forward", x)
            if not isinstance(got, tuple) or len(got) != 2:
                raise AssertionError("relu_forward should return a pair (out, cache)")
            want, _ = ref(x)
            _compare(
                f"x {shape}, {np.dtype(dtype).name}",
                "out",
                got[0],
                want,
                "out = max(0, x) elementwise (np.maximum, not np.max).",
                dtype,
            )
    _passed("relu_forward")


def check_relu_backward(
    relu_forward: Callable, relu_backward: Callable, hidden: bool = False
) -> None:
    ref_fwd, ref_bwd = _ref("relu_forward"), _ref("relu_backward")
    shapes = [(4, 5)] + ([(1, 3, 2, 2), (7,)] if hidden else [])
    for dtype in _dtypes(hidden):
        for seed, shape in enumerate(shapes):
            rng = _rng(900 + seed)
            x = rng.standard_normal(shape).astype(dtype)
            dout = rng.standard_normal(shape).astype(dtype)
            _, cache = _call(relu_forward, "relu_forward", x)
            got = _call(relu_backward, "relu_backward", dout, cache)
            _, ref_cache = ref_fwd(x)
            _compare(
                f"x {shape}, {np.dtype(dtype).name}",
                "dx",
                got,
                ref_bwd(dout, ref_cache),
                "dx = dout where the INPUT x was > 0, else 0. The output max(0, x) is never "
                "negative, so a mask built from its sign lets every gradient through.",
                dtype,
            )
    _passed("relu_backward")


def check_softmax_loss(softmax_loss: Callable, hidden: bool = False) -> None:
    ref = _ref("softmax_loss")
    cases = [((5, 4), 1.0, np.float64), ((6, 3), 1000.0, np.float64)]
    if hidden:
        cases += [((1, 10), 1.0, np.float64), ((8, 5), 150.0, np.float32)]
    for seed, (shape, scale, dtype) in enumerate(cases):
        rng = _rng(1000 + seed)
        scores = (scale * rng.standard_normal(shape)).astype(dtype)
        y = rng.integers(0, shape[1], size=shape[0])
        got = _call(softmax_loss, "softmax_loss", scores, y)
        if not isinstance(got, tuple) or len(got) != 2:
            raise AssertionError("softmax_loss should return a pair (loss, dscores)")
        want = ref(scores, y)
        label = f"scores {shape} of size ~{scale:g}, {np.dtype(dtype).name}"
        hint = (
            "subtract each row's maximum score before np.exp (the probabilities do not "
            "change, and exp never overflows); loss = mean of -log p[i, y[i]]; "
            "dscores = (p - one_hot(y)) / N."
        )
        _compare(label, "loss", got[0], want[0], hint, dtype)
        _compare(label, "dscores", got[1], want[1], hint, dtype)
    _passed("softmax_loss")


def _two_layer_reference(X, W1, b1, W2, b2, y):
    import torch

    t = {
        k: torch.tensor(v, requires_grad=True)
        for k, v in {"W1": W1, "b1": b1, "W2": W2, "b2": b2}.items()
    }
    h = torch.relu(torch.tensor(X) @ t["W1"] + t["b1"])
    scores = h @ t["W2"] + t["b2"]
    loss = torch.nn.functional.cross_entropy(scores, torch.tensor(y))
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in t.items()}


def check_two_layer_net(two_layer_net: Callable, hidden: bool = False) -> None:
    """loss and gradients of affine - relu - affine - softmax, against torch autograd."""
    cases = [(5, 4, 6, 3)] + ([(1, 3, 5, 2), (10, 8, 7, 4)] if hidden else [])
    for seed, (N, D, H, C) in enumerate(cases):
        rng = _rng(1100 + seed)
        X = rng.standard_normal((N, D))
        W1, b1 = 0.5 * rng.standard_normal((D, H)), 0.1 * rng.standard_normal(H)
        W2, b2 = 0.5 * rng.standard_normal((H, C)), 0.1 * rng.standard_normal(C)
        y = rng.integers(0, C, size=N)
        got = _call(two_layer_net, "two_layer_net", X, W1, b1, W2, b2, y)
        if not isinstance(got, tuple) or len(got) != 2 or not isinstance(got[1], dict):
            raise AssertionError("two_layer_net should return (loss, grads) with grads a dict")
        loss, grads = _two_layer_reference(X, W1, b1, W2, b2, y)
        label = f"N={N}, D={D}, H={H}, C={C}"
        _compare(label, "loss", got[0], loss, "affine -> relu -> affine -> softmax_loss.")
        for name in ("W1", "b1", "W2", "b2"):
            if name not in got[1]:
                raise AssertionError(f"grads has no {name!r} (keys: {sorted(got[1])})")
            _compare(
                label,
                f"grads[{name!r}]",
                got[1][name],
                grads[name],
                "run the backward functions in reverse order of the forward ones, each "
                "with its own cache.",
            )
    _passed("two_layer_net")


# --------------------------------------------------------------------------- dropout


def check_dropout_forward(dropout_forward: Callable, hidden: bool = False) -> None:
    """Inverted dropout: kept values are x / keep_prob, about keep_prob of them kept."""
    cases = [(0.8, np.float64)] + ([(0.5, np.float64), (0.3, np.float32)] if hidden else [])
    for seed, (p, dtype) in enumerate(cases):
        x = (_rng(1200 + seed).standard_normal((500, 40)) + 3.0).astype(dtype)
        param = {"keep_prob": p, "mode": "train", "seed": seed}
        got = _call(dropout_forward, "dropout_forward", x, dict(param))
        if not isinstance(got, tuple) or len(got) != 2:
            raise AssertionError("dropout_forward should return a pair (out, cache)")
        out = _as_array("out", got[0])
        if out.shape != x.shape:
            raise AssertionError(f"out has shape {out.shape}, expected {x.shape}")
        kept = out != 0
        frac = kept.mean()
        sigma = math.sqrt(p * (1 - p) / x.size)
        label = f"keep_prob {p}, {np.dtype(dtype).name}"
        ok = abs(frac - p) < 5 * sigma
        print(
            f"  {label}: kept fraction {frac:.4f} (expected {p} +- {5 * sigma:.4f})  "
            f"{'ok' if ok else 'FAIL'}"
        )
        if not ok:
            raise AssertionError(
                f"{label}: {frac:.4f} of the units were kept, expected about {p}. Hint: keep a "
                "unit when its uniform random number is < keep_prob."
            )
        _compare(
            label,
            "kept values",
            out[kept],
            x[kept] / p,
            "inverted dropout divides the kept units by keep_prob during training, so "
            "the expected value of each unit is unchanged and test time needs no change.",
            dtype,
        )
        again = _as_array("out", _call(dropout_forward, "dropout_forward", x, dict(param))[0])
        if not np.array_equal(again, out):
            raise AssertionError(
                f"{label}: the same seed gave a different mask. Hint: seed "
                "your generator with dropout_param['seed'] when it is given."
            )
        print(f"  {label}: same seed, same mask  ok")
        test = _call(dropout_forward, "dropout_forward", x, {**param, "mode": "test"})
        _compare(
            label + ", test mode",
            "out",
            test[0],
            x,
            "at test time inverted dropout is the identity: return x unchanged.",
            dtype,
        )
    _passed("dropout_forward")


def check_dropout_backward(
    dropout_forward: Callable, dropout_backward: Callable, hidden: bool = False
) -> None:
    cases = [(0.8, np.float64)] + ([(0.5, np.float64), (0.3, np.float32)] if hidden else [])
    for seed, (p, dtype) in enumerate(cases):
        rng = _rng(1300 + seed)
        x = (rng.standard_normal((20, 30)) + 3.0).astype(dtype)
        dout = rng.standard_normal(x.shape).astype(dtype)
        label = f"keep_prob {p}, {np.dtype(dtype).name}"
        for mode in ("train", "test"):
            param = {"keep_prob": p, "mode": mode, "seed": seed}
            out, cache = _call(dropout_forward, "dropout_forward", x, dict(param))
            got = _call(dropout_backward, "dropout_backward", dout, cache)
            kept = _as_array("out", out) != 0
            want = dout * kept / p if mode == "train" else dout
            _compare(
                f"{label}, {mode} mode",
                "dx",
                got,
                want,
                "the gradient flows through the kept units only, scaled like the forward "
                "pass: dx = dout * mask / keep_prob in train mode, dx = dout in test mode.",
                dtype,
            )
    _passed("dropout_backward")


# --------------------------------------------------------------------------- batchnorm


def _bn_inputs(seed: int, shape, dtype):
    rng = _rng(seed)
    D = shape[1]
    x = (4.0 * rng.standard_normal(shape) + 2.0).astype(dtype)
    gamma = (1.0 + 0.5 * rng.standard_normal(D)).astype(dtype)
    beta = rng.standard_normal(D).astype(dtype)
    return rng, x, gamma, beta


def check_batchnorm_forward(batchnorm_forward: Callable, hidden: bool = False) -> None:
    """Train mode (batch statistics, running averages) and test mode (running averages)."""
    ref = _ref("batchnorm_forward")
    cases = [((50, 4), np.float64)] + (
        [((3, 6), np.float64), ((40, 5), np.float32)] if hidden else []
    )
    hint_train = (
        "normalize with the batch mean and the biased variance x.var(axis=0) "
        "(divide by N), then scale by gamma and shift by beta."
    )
    hint_running = (
        "after each training batch: running_mean = momentum * running_mean + "
        "(1 - momentum) * mean, likewise running_var; write both back into bn_param."
    )
    for seed, (shape, dtype) in enumerate(cases):
        rng, x, gamma, beta = _bn_inputs(1400 + seed, shape, dtype)
        label = f"x {shape}, {np.dtype(dtype).name}"
        mine, theirs = {"mode": "train"}, {"mode": "train"}
        for step in range(3):
            xb = (x + rng.standard_normal(shape).astype(dtype)).astype(dtype)
            got = _call(batchnorm_forward, "batchnorm_forward", xb, gamma, beta, mine)
            if not isinstance(got, tuple) or len(got) != 2:
                raise AssertionError("batchnorm_forward should return a pair (out, cache)")
            want, _ = ref(xb, gamma, beta, theirs)
            _compare(f"{label}, train step {step}", "out", got[0], want, hint_train, dtype)
        for key in ("running_mean", "running_var"):
            if key not in mine:
                raise AssertionError(f"bn_param has no {key!r} after training: " + hint_running)
            _compare(f"{label}, after 3 steps", key, mine[key], theirs[key], hint_running, dtype)
        mine["mode"] = theirs["mode"] = "test"
        got = _call(batchnorm_forward, "batchnorm_forward", x, gamma, beta, mine)
        want, _ = ref(x, gamma, beta, theirs)
        _compare(
            f"{label}, test mode",
            "out",
            got[0],
            want,
            "in test mode use bn_param's running_mean and running_var, not the batch's.",
            dtype,
        )
    _passed("batchnorm_forward")


def _check_bn_backward(
    fwd: Callable, bwd: Callable, name: str, ref_fwd_name: str, ref_bwd_name: str, shapes, hint: str
) -> None:
    ref_fwd, ref_bwd = _ref(ref_fwd_name), _ref(ref_bwd_name)
    for seed, (shape, dtype) in enumerate(shapes):
        rng, x, gamma, beta = _bn_inputs(1500 + seed, shape, dtype)
        dout = rng.standard_normal(shape).astype(dtype)
        _, cache = _call(fwd, ref_fwd_name, x, gamma, beta, {"mode": "train"})
        got = _call(bwd, name, dout, cache)
        if not isinstance(got, tuple) or len(got) != 3:
            raise AssertionError(f"{name} should return a triple (dx, dgamma, dbeta)")
        _, ref_cache = ref_fwd(x, gamma, beta, {"mode": "train"})
        want = ref_bwd(dout, ref_cache)
        label = f"x {shape}, {np.dtype(dtype).name}"
        for gname, g, r in zip(("dx", "dgamma", "dbeta"), got, want, strict=True):
            _compare(label, gname, g, r, hint, dtype)
    _passed(name)


def check_batchnorm_backward(
    batchnorm_forward: Callable, batchnorm_backward: Callable, hidden: bool = False
) -> None:
    shapes = [((10, 4), np.float64)] + (
        [((2, 3), np.float64), ((16, 5), np.float32)] if hidden else []
    )
    _check_bn_backward(
        batchnorm_forward,
        batchnorm_backward,
        "batchnorm_backward",
        "batchnorm_forward",
        "batchnorm_backward",
        shapes,
        "walk the graph backwards node by node: gamma/beta, then x_hat, the "
        "1/sqrt(var + eps) node, the variance, the centring and the mean; the "
        "mean and the variance depend on every x, so their gradients sum over N.",
    )


def check_batchnorm_backward_alt(
    batchnorm_forward: Callable, batchnorm_backward_alt: Callable, hidden: bool = False
) -> None:
    shapes = [((10, 4), np.float64)] + (
        [((2, 3), np.float64), ((16, 5), np.float32)] if hidden else []
    )
    _check_bn_backward(
        batchnorm_forward,
        batchnorm_backward_alt,
        "batchnorm_backward_alt",
        "batchnorm_forward",
        "batchnorm_backward",
        shapes,
        "dx = gamma / (N sqrt(var + eps)) * (N dout - sum(dout) - x_hat * "
        "sum(dout * x_hat)), sums over the batch axis.",
    )


def check_spatial_batchnorm_forward(
    spatial_batchnorm_forward: Callable, hidden: bool = False
) -> None:
    ref = _ref("spatial_batchnorm_forward")
    cases = [((4, 3, 5, 5), np.float64)] + (
        [((1, 2, 3, 4), np.float64), ((3, 4, 2, 6), np.float32)] if hidden else []
    )
    for seed, (shape, dtype) in enumerate(cases):
        rng, x, gamma, beta = _bn_inputs(1600 + seed, shape, dtype)
        mine, theirs = {"mode": "train"}, {"mode": "train"}
        got = _call(spatial_batchnorm_forward, "spatial_batchnorm_forward", x, gamma, beta, mine)
        if not isinstance(got, tuple) or len(got) != 2:
            raise AssertionError("spatial_batchnorm_forward should return a pair (out, cache)")
        want, _ = ref(x, gamma, beta, theirs)
        label = f"x {shape}, {np.dtype(dtype).name}"
        hint = (
            "one mean and variance per channel, over N, H and W: move C last, reshape to "
            "(N*H*W, C), call batchnorm_forward, and undo the reshape."
        )
        _compare(label + ", train", "out", got[0], want, hint, dtype)
        for key in ("running_mean", "running_var"):
            running_hint = (
                "batchnorm_forward updates running_mean and running_var in bn_param; "
                "pass it the same bn_param dict."
            )
            if key not in mine:
                raise AssertionError(
                    f"{label}: bn_param has no {key!r} after training. Hint: " + running_hint
                )
            _compare(label + ", train", key, mine[key], theirs[key], running_hint, dtype)
        mine["mode"] = theirs["mode"] = "test"
        got = _call(spatial_batchnorm_forward, "spatial_batchnorm_forward", x, gamma, beta, mine)
        want, _ = ref(x, gamma, beta, theirs)
        _compare(label + ", test", "out", got[0], want, hint, dtype)
    _passed("spatial_batchnorm_forward")


def check_spatial_batchnorm_backward(
    spatial_batchnorm_forward: Callable, spatial_batchnorm_backward: Callable, hidden: bool = False
) -> None:
    shapes = [((4, 3, 5, 5), np.float64)] + (
        [((1, 2, 3, 4), np.float64), ((3, 4, 2, 6), np.float32)] if hidden else []
    )
    _check_bn_backward(
        spatial_batchnorm_forward,
        spatial_batchnorm_backward,
        "spatial_batchnorm_backward",
        "spatial_batchnorm_forward",
        "spatial_batchnorm_backward",
        shapes,
        "reshape dout like the forward pass, call batchnorm_backward, and undo the reshape.",
    )


# --------------------------------------------------------------------------- optimizers

_RULE_CONFIGS = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-2, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
}
_RULE_STATE = {
    "sgd": (),
    "sgd_momentum": ("velocity",),
    "rmsprop": ("cache",),
    "adam": ("m", "v", "t"),
}
_RULE_HINTS = {
    "sgd": "w = w - learning_rate * dw.",
    "sgd_momentum": "the slides' averaged momentum: v = momentum * v + (1 - momentum) * dw, "
    "w = w - learning_rate * v; v starts at zeros and lives in "
    "config['velocity'].",
    "rmsprop": "cache = decay_rate * cache + (1 - decay_rate) * dw**2, "
    "w = w - learning_rate * dw / (sqrt(cache) + epsilon).",
    "adam": "t += 1 first; m and v are the momentum and RMSprop averages; divide them by "
    "(1 - beta1**t) and (1 - beta2**t) (bias correction), then "
    "w = w - learning_rate * m_hat / (sqrt(v_hat) + epsilon).",
}


def check_update_rule(rule: Callable, name: str, hidden: bool = False, steps: int = 5) -> None:
    """Run the student's rule and ``cnncourse.optim.<name>`` for ``steps`` steps side by side."""
    ref = getattr(importlib.import_module("cnncourse.optim"), name)
    cases = [((4, 5), np.float64)] + ([((1,), np.float64), ((3, 2), np.float32)] if hidden else [])
    for seed, (shape, dtype) in enumerate(cases):
        rng = _rng(1700 + seed)
        w = rng.standard_normal(shape).astype(dtype)
        mine, theirs = dict(_RULE_CONFIGS[name]), dict(_RULE_CONFIGS[name])
        w_mine, w_ref = w.copy(), w.copy()
        for step in range(steps):
            dw = rng.standard_normal(shape).astype(dtype)
            got = _call(rule, name, w_mine, dw, mine)
            if not isinstance(got, tuple) or len(got) != 2:
                raise AssertionError(f"{name} should return a pair (next_w, config)")
            w_mine, mine = _as_array("next_w", got[0]), got[1]
            w_ref, theirs = ref(w_ref, dw, theirs)
            label = f"w {shape}, {np.dtype(dtype).name}, step {step + 1}"
            _compare(label, "next_w", w_mine, w_ref, _RULE_HINTS[name], dtype)
            for key in _RULE_STATE[name]:
                if not isinstance(mine, dict) or key not in mine:
                    raise AssertionError(
                        f"{label}: config has no {key!r}. Hint: " + _RULE_HINTS[name]
                    )
                _compare(
                    label, f"config[{key!r}]", mine[key], theirs[key], _RULE_HINTS[name], dtype
                )
    _passed(name)


_SCHEDULES = {
    "exponential": ("exponential_decay", {"gamma": 0.95}),
    "inverse_time": ("inverse_time_decay", {"decay_rate": 0.5}),
    "inverse_sqrt": ("inverse_sqrt_decay", {}),
}


def check_lr_schedule(fn: Callable, kind: str, epochs: Iterable[int] = range(0, 30, 3)) -> None:
    """Compare a schedule ``fn(learning_rate, epoch, **kw)`` with ``cnncourse.optim``'s."""
    ref_name, kw = _SCHEDULES[kind]
    ref = getattr(importlib.import_module("cnncourse.optim"), ref_name)
    got = [_call(fn, ref_name, 0.1, e, **kw) for e in epochs]
    want = [ref(0.1, e, **kw) for e in epochs]
    _compare(
        f"learning_rate 0.1, epochs {list(epochs)}",
        "rates",
        got,
        want,
        {
            "exponential": "learning_rate * gamma ** epoch.",
            "inverse_time": "learning_rate / (1 + decay_rate * epoch).",
            "inverse_sqrt": "learning_rate / sqrt(epoch + 1): the slide counts epochs from 1, "
            "the code from 0.",
        }[kind],
    )
    _passed(ref_name)
