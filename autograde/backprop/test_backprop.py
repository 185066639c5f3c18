"""Hidden tests of the backprop assignment (run by ``cnncourse grade``).

Fixtures: ``student`` calls the submission's functions in the sandbox, ``ref`` is the
``cnncourse`` package. The points of one grade id add up to that test cell's points in
solutions/backprop/backprop.ipynb. Gates and the two-layer network are compared with torch
autograd (an oracle independent of the course's layers); the layers with ``ref.layers``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnncourse.grading.compare import assert_close, assert_scalar_close
from cnncourse.grading.proxy import StudentError

RTOL = {np.float64: 1e-6, np.float32: 1e-3}  # elementwise relative errors


def rng_for(seed):
    return np.random.default_rng(seed)


def answer(student, name):
    """A numeric answer the student assigned in the notebook; None means not done yet."""
    value = student.value(name)
    if value is None:
        raise StudentError("not_implemented", f"{name} is still None: fill in its answer cell")
    return value


# ---------------------------------------------------------------- the slides' graph


@pytest.mark.points(1, grade_id="slide_numbers")
def test_slide_forward(student, ref):
    assert answer(student, "q") == 3, "q = x + y = -2 + 5"
    assert answer(student, "f") == -12, "f = q z = 3 * (-4)"


@pytest.mark.points(1, grade_id="slide_numbers")
def test_slide_gradients(student, ref):
    got = tuple(answer(student, n) for n in ("df_dq", "df_dx", "df_dy", "df_dz"))
    assert got == (-4, -4, -4, 3), f"(df/dq, df/dx, df/dy, df/dz) = {got}, expected (-4, -4, -4, 3)"


@pytest.mark.points(1, grade_id="graph_function")
def test_graph_at_slide_point(student, ref):
    f, grads = student.graph_forward_backward(-2.0, 5.0, -4.0)
    assert_scalar_close(f, -12.0, name="f")
    assert_close(
        np.asarray(grads, dtype=float), np.array([-4.0, -4.0, 3.0]), name="(df/dx, df/dy, df/dz)"
    )


@pytest.mark.points(1, grade_id="graph_function")
def test_graph_elsewhere(student, ref):
    rng = rng_for(1)
    for x, y, z in rng.standard_normal((5, 3)) * 3:
        xt, yt, zt = (
            torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for v in (x, y, z)
        )
        ft = (xt + yt) * zt
        ft.backward()
        f, grads = student.graph_forward_backward(float(x), float(y), float(z))
        assert_scalar_close(f, ft.item(), name=f"f at {(x, y, z)}")
        want = np.array([xt.grad.item(), yt.grad.item(), zt.grad.item()])
        assert_close(np.asarray(grads, dtype=float), want, name=f"gradient at {(x, y, z)}")


# ---------------------------------------------------------------- gates


def check_gate(student, name, op, seed):
    for k, shape in enumerate([(3, 4), (1,), (2, 3, 2), (5,)]):
        rng = rng_for(seed + k)
        x, y, dout = (rng.standard_normal(shape) for _ in range(3))
        xt, yt = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
        op(xt, yt).backward(torch.tensor(dout))
        dx, dy = getattr(student, name)(dout, x, y)
        assert_close(dx, xt.grad.numpy(), name=f"{name} dx, shape {shape}")
        assert_close(dy, yt.grad.numpy(), name=f"{name} dy, shape {shape}")


@pytest.mark.points(1, grade_id="gates")
def test_add_gate(student, ref):
    check_gate(student, "add_gate_backward", lambda a, b: a + b, 10)


@pytest.mark.points(1, grade_id="gates")
def test_mul_gate(student, ref):
    check_gate(student, "mul_gate_backward", lambda a, b: a * b, 20)


@pytest.mark.points(1, grade_id="gates")
def test_max_gate(student, ref):
    check_gate(student, "max_gate_backward", torch.maximum, 30)


# ---------------------------------------------------------------- affine

AFFINE = [((4, 5), 3), ((2, 3, 4), 5), ((1, 6), 2), ((3, 2, 2, 2), 4)]


def affine_inputs(seed, xs, M, dtype):
    rng = rng_for(seed)
    D = int(np.prod(xs[1:]))
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal((D, M)).astype(dtype)
    b = rng.standard_normal(M).astype(dtype)
    dout = rng.standard_normal((xs[0], M)).astype(dtype)
    return x, w, b, dout


@pytest.mark.points(1, grade_id="affine_forward")
def test_affine_forward_float64(student, ref):
    for k, (xs, M) in enumerate(AFFINE):
        x, w, b, _ = affine_inputs(40 + k, xs, M, np.float64)
        out, _ = student.affine_forward(x, w, b)
        assert_close(out, ref.layers.affine_forward(x, w, b)[0], rtol=1e-6, name=f"out (x {xs})")


@pytest.mark.points(1, grade_id="affine_forward")
def test_affine_forward_float32(student, ref):
    for k, (xs, M) in enumerate(AFFINE[:2]):
        x, w, b, _ = affine_inputs(50 + k, xs, M, np.float32)
        out, _ = student.affine_forward(x, w, b)
        assert_close(
            out, ref.layers.affine_forward(x, w, b)[0], rtol=RTOL[np.float32], name=f"out (x {xs})"
        )


def check_affine_backward(student, ref, dtype, cases, seed):
    for k, (xs, M) in enumerate(cases):
        x, w, b, dout = affine_inputs(seed + k, xs, M, dtype)
        _, cache = student.affine_forward(x, w, b)
        got = student.affine_backward(dout, cache)
        want = ref.layers.affine_backward(dout, ref.layers.affine_forward(x, w, b)[1])
        for name, g, r in zip(("dx", "dw", "db"), got, want, strict=True):
            assert_close(g, r, rtol=RTOL[dtype], name=f"{name} (x {xs})")


@pytest.mark.points(2, grade_id="affine_backward")
def test_affine_backward_float64(student, ref):
    check_affine_backward(student, ref, np.float64, AFFINE, 60)


@pytest.mark.points(1, grade_id="affine_backward")
def test_affine_backward_float32(student, ref):
    check_affine_backward(student, ref, np.float32, AFFINE[:2], 70)


# ---------------------------------------------------------------- relu

RELU_SHAPES = [(4, 5), (1, 3, 2, 2), (7,), (2, 8)]


@pytest.mark.points(1, grade_id="relu_forward")
def test_relu_forward(student, ref):
    for dtype in (np.float64, np.float32):
        for k, shape in enumerate(RELU_SHAPES):
            x = rng_for(80 + k).standard_normal(shape).astype(dtype)
            out, _ = student.relu_forward(x)
            assert_close(out, ref.layers.relu_forward(x)[0], rtol=RTOL[dtype], name=f"out {shape}")


def check_relu_backward(student, ref, dtype, seed):
    for k, shape in enumerate(RELU_SHAPES):
        rng = rng_for(seed + k)
        x = rng.standard_normal(shape).astype(dtype)
        dout = rng.standard_normal(shape).astype(dtype)
        _, cache = student.relu_forward(x)
        dx = student.relu_backward(dout, cache)
        want = ref.layers.relu_backward(dout, ref.layers.relu_forward(x)[1])
        assert_close(dx, want, rtol=RTOL[dtype], name=f"dx {shape}")


@pytest.mark.points(1, grade_id="relu_backward")
def test_relu_backward_float64(student, ref):
    check_relu_backward(student, ref, np.float64, 90)


@pytest.mark.points(1, grade_id="relu_backward")
def test_relu_backward_float32(student, ref):
    check_relu_backward(student, ref, np.float32, 100)


# ---------------------------------------------------------------- softmax loss


def softmax_case(seed, shape, scale, dtype):
    rng = rng_for(seed)
    scores = (scale * rng.standard_normal(shape)).astype(dtype)
    y = rng.integers(0, shape[1], size=shape[0])
    return scores, y


@pytest.mark.points(1, grade_id="softmax_loss")
def test_softmax_loss_value(student, ref):
    for k, shape in enumerate([(5, 4), (1, 10), (20, 3)]):
        scores, y = softmax_case(110 + k, shape, 1.0, np.float64)
        loss, _ = student.softmax_loss(scores, y)
        assert_scalar_close(
            loss, ref.layers.softmax_loss(scores, y)[0], rtol=1e-6, name=f"loss {shape}"
        )


@pytest.mark.points(1, grade_id="softmax_loss")
def test_softmax_loss_gradient(student, ref):
    for k, shape in enumerate([(5, 4), (1, 10), (20, 3)]):
        scores, y = softmax_case(120 + k, shape, 1.0, np.float64)
        _, dscores = student.softmax_loss(scores, y)
        assert_close(
            dscores, ref.layers.softmax_loss(scores, y)[1], rtol=1e-6, name=f"dscores {shape}"
        )


@pytest.mark.points(1, grade_id="softmax_loss")
def test_softmax_loss_large_scores(student, ref):
    """Scores of size 1000: exp overflows unless each row's maximum is subtracted first."""
    for k, shape in enumerate([(6, 3), (4, 7)]):
        scores, y = softmax_case(130 + k, shape, 1000.0, np.float64)
        loss, dscores = student.softmax_loss(scores, y)
        want_loss, want_d = ref.layers.softmax_loss(scores, y)
        assert_scalar_close(loss, want_loss, rtol=1e-6, name=f"loss {shape}, scores ~1000")
        assert_close(dscores, want_d, rtol=1e-6, name=f"dscores {shape}, scores ~1000")


@pytest.mark.points(1, grade_id="softmax_loss")
def test_softmax_loss_float32(student, ref):
    """float32 scores of size ~150 (exp overflows float32 above 88.7)."""
    scores, y = softmax_case(140, (8, 5), 150.0, np.float32)
    loss, dscores = student.softmax_loss(scores, y)
    want_loss, want_d = ref.layers.softmax_loss(scores, y)
    assert_scalar_close(loss, want_loss, rtol=RTOL[np.float32], name="loss, float32")
    assert_close(dscores, want_d, rtol=RTOL[np.float32], name="dscores, float32")


# ---------------------------------------------------------------- two-layer network


def torch_two_layer(X, W1, b1, W2, b2, y):
    t = {
        k: torch.tensor(v, requires_grad=True)
        for k, v in {"W1": W1, "b1": b1, "W2": W2, "b2": b2}.items()
    }
    scores = torch.relu(torch.tensor(X) @ t["W1"] + t["b1"]) @ t["W2"] + t["b2"]
    loss = torch.nn.functional.cross_entropy(scores, torch.tensor(y))
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in t.items()}


def net_case(seed, N, D, H, C):
    rng = rng_for(seed)
    X = rng.standard_normal((N, D))
    W1, b1 = 0.5 * rng.standard_normal((D, H)), 0.1 * rng.standard_normal(H)
    W2, b2 = 0.5 * rng.standard_normal((H, C)), 0.1 * rng.standard_normal(C)
    y = rng.integers(0, C, size=N)
    return X, W1, b1, W2, b2, y


@pytest.mark.points(1, grade_id="two_layer_net")
def test_two_layer_net_loss(student, ref):
    for k, dims in enumerate([(5, 4, 6, 3), (1, 3, 5, 2), (10, 8, 7, 4)]):
        args = net_case(150 + k, *dims)
        loss, _ = student.two_layer_net(*args)
        assert_scalar_close(
            loss, torch_two_layer(*args)[0], rtol=1e-6, name=f"loss, (N, D, H, C) = {dims}"
        )


@pytest.mark.points(3, grade_id="two_layer_net")
def test_two_layer_net_gradients(student, ref):
    for k, dims in enumerate([(5, 4, 6, 3), (1, 3, 5, 2), (10, 8, 7, 4)]):
        args = net_case(160 + k, *dims)
        _, grads = student.two_layer_net(*args)
        _, want = torch_two_layer(*args)
        assert isinstance(grads, dict), f"grads should be a dict, got {type(grads).__name__}"
        for name in ("W1", "b1", "W2", "b2"):
            assert name in grads, f"grads has no {name!r}"
            assert_close(
                grads[name], want[name], rtol=1e-6, name=f"grads[{name!r}], (N, D, H, C) = {dims}"
            )
