"""The backprop assignment: the slides' graph, gates, affine, ReLU, softmax, a two-layer net."""

from __future__ import annotations

from corpus.model import Assignment, Bug

PRINT = (
    'print(f"q = {q}, f = {f}, df/dq = {df_dq}, df/dx = {df_dx}, df/dy = {df_dy}, '
    'df/dz = {df_dz}")\n'
)

SLIDE = [
    "q = 3\nf = -12\ndf_dq = -4\ndf_dx, df_dy, df_dz = -4, -4, 3\n" + PRINT,
    "x, y, z = -2, 5, -4\nq = x + y\nf = q * z\ndf_dq = z\ndf_dz = q\n"
    "df_dx = df_dq * 1\ndf_dy = df_dq * 1\n" + PRINT,
    "q = 3.0\nf = -12.0\ndf_dq = -4.0\ndf_dx = df_dy = -4.0\ndf_dz = 3.0\n" + PRINT,
    "values = np.array([-2, 5, -4])\nq = values[0] + values[1]\nf = q * values[2]\n"
    "df_dq, df_dz = values[2], q\ndf_dx, df_dy = df_dq, df_dq\n" + PRINT,
    "grads = {}\nq = sum([-2, 5])\nf = q * -4\ngrads['q'] = -4\ngrads['x'] = grads['y'] = "
    "grads['q']\ndf_dq, df_dx, df_dy = grads['q'], grads['x'], grads['y']\ndf_dz = q\n" + PRINT,
]

GRAPH = [
    """
def graph_forward_backward(x, y, z):
    q = x + y
    f = q * z
    return f, (z, z, q)
""",
    """
def graph_forward_backward(x, y, z):
    q = np.float64(x) + y
    f = q * z
    grad_q = z
    return f, np.array([grad_q * 1.0, grad_q * 1.0, q])
""",
    """
def graph_forward_backward(x, y, z):
    f = (x + y) * z
    return f, [z, z, x + y]
""",
    # gates as small classes with forward and backward
    """
class Add:
    def forward(self, a, b):
        return a + b

    def backward(self, dout):
        return dout, dout


class Mul:
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, dout):
        return dout * self.b, dout * self.a


def graph_forward_backward(x, y, z):
    add, mul = Add(), Mul()
    q = add.forward(x, y)
    f = mul.forward(q, z)
    dq, dz = mul.backward(1.0)
    dx, dy = add.backward(dq)
    return f, (dx, dy, dz)
""",
    # a numerical check of the analytic gradient, returned as floats
    """
def graph_forward_backward(x, y, z):
    def fn(a, b, c):
        return (a + b) * c

    f = fn(x, y, z)
    grads = (float(z), float(z), float(x + y))
    h = 1e-6
    numeric = ((fn(x + h, y, z) - fn(x - h, y, z)) / (2 * h),)
    assert abs(numeric[0] - grads[0]) < 1e-4 * (1 + abs(grads[0]))
    return float(f), grads
""",
]

GATES = [
    """
def add_gate_backward(dout, x, y):
    return dout * np.ones_like(x), dout * np.ones_like(y)


def mul_gate_backward(dout, x, y):
    return dout * y, dout * x


def max_gate_backward(dout, x, y):
    return np.where(x > y, dout, 0.0), np.where(x > y, 0.0, dout)
""",
    """
def add_gate_backward(dout, x, y):
    return dout.copy(), dout.copy()


def mul_gate_backward(dout, x, y):
    dx = np.multiply(dout, y)
    dy = np.multiply(dout, x)
    return dx, dy


def max_gate_backward(dout, x, y):
    x_wins = x >= y
    return dout * x_wins, dout * (1 - x_wins)
""",
    """
def add_gate_backward(dout, x, y):
    return dout, dout


def mul_gate_backward(dout, x, y):
    return y * dout, x * dout


def max_gate_backward(dout, x, y):
    dx = np.zeros_like(x)
    dy = np.zeros_like(y)
    dx[x > y] = dout[x > y]
    dy[y >= x] = dout[y >= x]
    return dx, dy
""",
    """
def add_gate_backward(dout, x, y):
    local = 1.0  # d(x + y)/dx = d(x + y)/dy = 1
    return np.broadcast_to(dout * local, x.shape).copy(), np.broadcast_to(dout, y.shape).copy()


def mul_gate_backward(dout, x, y):
    grads = [dout * other for other in (y, x)]
    return tuple(grads)


def max_gate_backward(dout, x, y):
    winner = np.maximum(x, y)
    return dout * (winner == x), dout * (winner != x)
""",
    """
def add_gate_backward(dout, x, y):
    dx = np.zeros_like(x) + dout
    dy = np.zeros_like(y) + dout
    return dx, dy


def mul_gate_backward(dout, x, y):
    return np.einsum("...,...->...", dout, y), np.einsum("...,...->...", dout, x)


def max_gate_backward(dout, x, y):
    return dout * np.heaviside(x - y, 0.0), dout * np.heaviside(y - x, 0.0)
""",
]

AFFINE_FORWARD = [
    """
def affine_forward(x, w, b):
    out = x.reshape(len(x), -1) @ w + b
    cache = (x, w, b)
    return out, cache
""",
    """
def affine_forward(x, w, b):
    N = x.shape[0]
    D = int(np.prod(x.shape[1:]))
    out = np.dot(x.reshape(N, D), w) + b
    return out, {"x": x, "w": w}
""",
    """
class AffineCache:
    def __init__(self, x_shape, rows, w):
        self.x_shape, self.rows, self.w = x_shape, rows, w


def affine_forward(x, w, b):
    rows = x.reshape(x.shape[0], -1)
    out = np.einsum("nd,dm->nm", rows, w) + b
    return out, AffineCache(x.shape, rows, w)
""",
    # one example at a time
    """
def affine_forward(x, w, b):
    N, M = x.shape[0], w.shape[1]
    out = np.empty((N, M), dtype=np.result_type(x, w, b))
    for i in range(N):
        out[i] = x[i].ravel() @ w + b
    return out, [x, w, b]
""",
    # tensordot over every axis but the first, without flattening x
    """
from collections import namedtuple

AffineParts = namedtuple("AffineParts", "x w")


def affine_forward(x, w, b):
    w_shaped = w.reshape(*x.shape[1:], w.shape[1])
    out = np.tensordot(x, w_shaped, axes=x.ndim - 1) + b
    return out, AffineParts(x, w)
""",
]

AFFINE_BACKWARD = [
    """
def affine_backward(dout, cache):
    x, w, b = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(len(x), -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db
""",
    """
def affine_backward(dout, cache):
    x, w = cache["x"], cache["w"]
    N = x.shape[0]
    dx = np.dot(dout, w.T).reshape(x.shape)
    dw = np.dot(x.reshape(N, -1).T, dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db
""",
    """
def affine_backward(dout, cache):
    dx = np.einsum("nm,dm->nd", dout, cache.w).reshape(cache.x_shape)
    dw = np.einsum("nd,nm->dm", cache.rows, dout)
    db = np.einsum("nm->m", dout)
    return dx, dw, db
""",
    """
def affine_backward(dout, cache):
    x, w, b = cache
    dx = np.zeros_like(x)
    dw = np.zeros_like(w)
    db = np.zeros_like(b)
    for i in range(x.shape[0]):
        dx[i] = (w @ dout[i]).reshape(x.shape[1:])
        dw += np.outer(x[i].ravel(), dout[i])
        db += dout[i]
    return dx, dw, db
""",
    """
def affine_backward(dout, cache):
    x, w = cache
    w_shaped = w.reshape(*x.shape[1:], w.shape[1])
    dx = np.tensordot(dout, w_shaped, axes=(1, x.ndim - 1))
    dw = np.tensordot(x, dout, axes=(0, 0)).reshape(w.shape)
    db = dout.sum(0)
    return dx, dw, db
""",
]

RELU_FORWARD = [
    "def relu_forward(x):\n    return np.maximum(x, 0), x\n",
    "def relu_forward(x):\n    mask = x > 0\n    return x * mask, mask\n",
    # the output is cached: out > 0 exactly where x > 0
    "def relu_forward(x):\n    out = np.where(x > 0, x, 0)\n    return out, {'out': out}\n",
    "def relu_forward(x):\n    out = np.clip(x, 0, None)\n    return out, x.copy()\n",
    "def relu_forward(x):\n    out = x.copy()\n    out[out < 0] = 0\n    return out, [x]\n",
]

RELU_BACKWARD = [
    "def relu_backward(dout, cache):\n    return np.where(cache > 0, dout, 0)\n",
    "def relu_backward(dout, cache):\n    return dout * cache\n",
    "def relu_backward(dout, cache):\n    return dout * (cache['out'] > 0)\n",
    "def relu_backward(dout, cache):\n    dx = dout.copy()\n    dx[cache <= 0] = 0\n"
    "    return dx\n",
    "def relu_backward(dout, cache):\n    (x,) = cache\n    return dout * np.heaviside(x, 0.0)\n",
]

SOFTMAX = [
    # log-softmax with the max shift
    """
def softmax_loss(scores, y):
    N = scores.shape[0]
    z = scores - scores.max(axis=1, keepdims=True)
    log_p = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    loss = -np.mean(log_p[np.arange(N), y])
    dscores = np.exp(log_p)
    dscores[np.arange(N), y] -= 1
    return loss, dscores / N
""",
    # loss = logsumexp - correct score
    """
def softmax_loss(scores, y):
    N = len(y)
    m = np.max(scores, axis=1)
    lse = m + np.log(np.exp(scores - m[:, None]).sum(axis=1))
    loss = np.sum(lse - scores[np.arange(N), y]) / N
    probs = np.exp(scores - lse[:, None])
    probs[np.arange(N), y] -= 1.0
    return loss, probs / N
""",
    # one example at a time
    """
def softmax_loss(scores, y):
    N, C = scores.shape
    loss = 0.0
    dscores = np.zeros_like(scores)
    for i in range(N):
        s = scores[i] - np.max(scores[i])
        total = np.sum(np.exp(s))
        loss += np.log(total) - s[y[i]]
        dscores[i] = np.exp(s) / total
        dscores[i, y[i]] -= 1
    return loss / N, dscores / N
""",
    # a one-hot matrix and einsum
    """
def softmax_loss(scores, y):
    N, C = scores.shape
    onehot = np.eye(C, dtype=scores.dtype)[y]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_probs = shifted - log_norm
    loss = -np.einsum("nc,nc->", onehot, log_probs) / N
    return loss, (np.exp(log_probs) - onehot) / N
""",
    # float32 stays float32; the probabilities from the shifted exponentials
    """
def softmax_loss(scores, y):
    N = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    sums = e.sum(axis=1, keepdims=True)
    probs = e / sums
    picked = shifted[np.arange(N), y] - np.log(sums[:, 0])
    loss = -picked.mean()
    grad = probs.copy()
    np.subtract.at(grad, (np.arange(N), y), 1)
    return loss, grad / np.asarray(N, dtype=scores.dtype)
""",
]

TWO_LAYER = [
    # the layers of this notebook, chained
    """
def two_layer_net(X, W1, b1, W2, b2, y):
    h, c1 = affine_forward(X, W1, b1)
    a, c2 = relu_forward(h)
    s, c3 = affine_forward(a, W2, b2)
    loss, ds = softmax_loss(s, y)
    da, dW2, db2 = affine_backward(ds, c3)
    dh = relu_backward(da, c2)
    _, dW1, db1 = affine_backward(dh, c1)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
""",
    # written out in numpy
    """
def two_layer_net(X, W1, b1, W2, b2, y):
    N = X.shape[0]
    hidden = np.maximum(0, X @ W1 + b1)
    scores = hidden @ W2 + b2
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.log(probs[np.arange(N), y]).mean()
    dscores = probs
    dscores[np.arange(N), y] -= 1
    dscores /= N
    grads = {"W2": hidden.T @ dscores, "b2": dscores.sum(axis=0)}
    dhidden = dscores @ W2.T
    dhidden[hidden <= 0] = 0
    grads["W1"] = X.T @ dhidden
    grads["b1"] = dhidden.sum(axis=0)
    return loss, grads
""",
    # the layers, the gradients collected in order
    """
def two_layer_net(X, W1, b1, W2, b2, y):
    caches = []
    out = X
    layers = [(affine_forward, (W1, b1)), (relu_forward, ()), (affine_forward, (W2, b2))]
    for layer, params in layers:
        out, cache = layer(out, *params)
        caches.append(cache)
    loss, d = softmax_loss(out, y)
    grads = {}
    d, grads["W2"], grads["b2"] = affine_backward(d, caches[2])
    d = relu_backward(d, caches[1])
    d, grads["W1"], grads["b1"] = affine_backward(d, caches[0])
    return loss, grads
""",
    # einsum throughout, log-sum-exp loss
    """
def two_layer_net(X, W1, b1, W2, b2, y):
    N = len(y)
    pre = np.einsum("nd,dh->nh", X, W1) + b1
    act = np.maximum(pre, 0)
    s = np.einsum("nh,hc->nc", act, W2) + b2
    s = s - s.max(1, keepdims=True)
    lse = np.log(np.exp(s).sum(1))
    loss = float(np.mean(lse - s[np.arange(N), y]))
    ds = np.exp(s - lse[:, None])
    ds[np.arange(N), y] -= 1
    ds /= N
    dact = np.einsum("nc,hc->nh", ds, W2)
    dpre = dact * (pre > 0)
    return loss, {
        "W1": np.einsum("nd,nh->dh", X, dpre),
        "b1": dpre.sum(0),
        "W2": np.einsum("nh,nc->hc", act, ds),
        "b2": ds.sum(0),
    }
""",
    # the layers, ReLU inlined
    """
def two_layer_net(X, W1, b1, W2, b2, y):
    h, fc1 = affine_forward(X, W1, b1)
    relu_mask = h > 0
    scores, fc2 = affine_forward(h * relu_mask, W2, b2)
    loss, dscores = softmax_loss(scores, y)
    dh_relu, dW2, db2 = affine_backward(dscores, fc2)
    _, dW1, db1 = affine_backward(dh_relu * relu_mask, fc1)
    return loss, dict(W1=dW1, b1=db1, W2=dW2, b2=db2)
""",
]

AF, AB, RF, RB = (
    "ans_affine_forward",
    "ans_affine_backward",
    "ans_relu_forward",
    "ans_relu_backward",
)
NET_GRADS = "test_two_layer_net_gradients"

BUGS = (
    # ------------------------------------------------------------ the slides' numbers
    Bug(
        "slide_df_dz_is_z",
        "ans_slide_numbers",
        "df/dz = z instead of q",
        tests=frozenset({"test_slide_gradients"}),
        base=1,
        edits=(("df_dz = q\n", "df_dz = z\n"),),
    ),
    Bug(
        "slide_f_adds",
        "ans_slide_numbers",
        "f = q + z: adds where the graph multiplies",
        tests=frozenset({"test_slide_forward"}),
        base=1,
        edits=(("f = q * z\n", "f = q + z\n"),),
    ),
    Bug(
        "slide_local_gradient_only",
        "ans_slide_numbers",
        "df/dx = 1, the add gate's local gradient, without the upstream df/dq",
        tests=frozenset({"test_slide_gradients"}),
        base=0,
        edits=(("df_dx, df_dy, df_dz = -4, -4, 3", "df_dx, df_dy, df_dz = 1, 1, 3"),),
    ),
    # ------------------------------------------------------------ graph
    Bug(
        "graph_df_dz_is_z",
        "ans_graph",
        "returns z as df/dz",
        cells=frozenset({"graph_function"}),
        base=0,
        edits=(("return f, (z, z, q)", "return f, (z, z, z)"),),
    ),
    Bug(
        "graph_add_gate_halves",
        "ans_graph",
        "the add gate splits df/dq in halves",
        cells=frozenset({"graph_function"}),
        base=3,
        edits=(("        return dout, dout\n", "        return dout / 2, dout / 2\n"),),
    ),
    Bug(
        "graph_forward_adds",
        "ans_graph",
        "f = x + y + z",
        cells=frozenset({"graph_function"}),
        base=2,
        edits=(("f = (x + y) * z", "f = x + y + z"),),
    ),
    # ------------------------------------------------------------ gates
    Bug(
        "add_gate_swaps",
        "ans_gates",
        "the add gate swaps like the multiply gate",
        tests=frozenset({"test_add_gate"}),
        base=2,
        function="add_gate_backward",
        edits=(
            (
                "def add_gate_backward(dout, x, y):\n    return dout, dout\n",
                "def add_gate_backward(dout, x, y):\n    return dout * y, dout * x\n",
            ),
        ),
    ),
    Bug(
        "add_gate_ones",
        "ans_gates",
        "returns the local gradient 1, not dout",
        tests=frozenset({"test_add_gate"}),
        base=0,
        function="add_gate_backward",
        edits=(
            (
                "return dout * np.ones_like(x), dout * np.ones_like(y)",
                "return np.ones_like(x), np.ones_like(y)",
            ),
        ),
    ),
    Bug(
        "add_gate_halves",
        "ans_gates",
        "splits dout in halves between the two inputs",
        tests=frozenset({"test_add_gate"}),
        base=4,
        function="add_gate_backward",
        edits=(
            (
                "    dx = np.zeros_like(x) + dout\n    dy = np.zeros_like(y) + dout\n",
                "    dx = np.zeros_like(x) + dout / 2\n    dy = np.zeros_like(y) + dout / 2\n",
            ),
        ),
    ),
    Bug(
        "mul_gate_no_swap",
        "ans_gates",
        "dx = dout * x, dy = dout * y",
        tests=frozenset({"test_mul_gate"}),
        base=0,
        function="mul_gate_backward",
        edits=(("return dout * y, dout * x", "return dout * x, dout * y"),),
    ),
    Bug(
        "mul_gate_forgets_dout",
        "ans_gates",
        "returns the local gradients y and x, not times dout",
        tests=frozenset({"test_mul_gate"}),
        base=1,
        function="mul_gate_backward",
        edits=(
            (
                "    dx = np.multiply(dout, y)\n    dy = np.multiply(dout, x)\n",
                "    dx = y.copy()\n    dy = x.copy()\n",
            ),
        ),
    ),
    Bug(
        "mul_gate_product",
        "ans_gates",
        "dx = dy = dout * x * y",
        tests=frozenset({"test_mul_gate"}),
        base=3,
        function="mul_gate_backward",
        edits=(
            (
                "grads = [dout * other for other in (y, x)]",
                "grads = [dout * x * y for other in (y, x)]",
            ),
        ),
    ),
    Bug(
        "max_gate_to_smaller",
        "ans_gates",
        "routes the gradient to the smaller input",
        tests=frozenset({"test_max_gate"}),
        base=2,
        function="max_gate_backward",
        edits=(
            (
                "dx[x > y] = dout[x > y]\n    dy[y >= x] = dout[y >= x]",
                "dx[x < y] = dout[x < y]\n    dy[y <= x] = dout[y <= x]",
            ),
        ),
    ),
    Bug(
        "max_gate_to_both",
        "ans_gates",
        "gives dout to both inputs",
        tests=frozenset({"test_max_gate"}),
        base=4,
        function="max_gate_backward",
        edits=(
            (
                "return dout * np.heaviside(x - y, 0.0), dout * np.heaviside(y - x, 0.0)",
                "return dout.copy(), dout.copy()",
            ),
        ),
    ),
    Bug(
        "max_gate_mask_only",
        "ans_gates",
        "returns the 0/1 masks without multiplying by dout",
        tests=frozenset({"test_max_gate"}),
        base=3,
        function="max_gate_backward",
        edits=(
            (
                "return dout * (winner == x), dout * (winner != x)",
                "return 1.0 * (winner == x), 1.0 * (winner != x)",
            ),
        ),
    ),
    # ------------------------------------------------------------ affine forward
    Bug(
        "affine_no_bias",
        AF,
        "forgets the bias (the network, which calls it, too)",
        cells=frozenset({"affine_forward"}),
        tests=frozenset({"test_two_layer_net_loss", NET_GRADS}),
        base=0,
        edits=(("out = x.reshape(len(x), -1) @ w + b", "out = x.reshape(len(x), -1) @ w"),),
    ),
    Bug(
        "affine_fortran_flatten",
        AF,
        "flattens each example in Fortran order: right for 2-D inputs only",
        cells=frozenset({"affine_forward"}),
        base=1,
        edits=(("np.dot(x.reshape(N, D), w)", "np.dot(x.reshape(N, D, order='F'), w)"),),
    ),
    Bug(
        "affine_reshape_features_first",
        AF,
        "x.reshape(D, N).T: the right shape, the examples' values scrambled",
        cells=frozenset({"affine_forward"}),
        tests=frozenset({"test_two_layer_net_loss", NET_GRADS}),
        base=3,
        edits=(
            (
                "        out[i] = x[i].ravel() @ w + b\n",
                "        out[i] = x.reshape(w.shape[0], N).T[i] @ w + b\n",
            ),
        ),
    ),
    # ------------------------------------------------------------ affine backward
    Bug(
        "affine_backward_no_db",
        AB,
        "a missing bias gradient: db is zeros",
        cells=frozenset({"affine_backward"}),
        tests=frozenset({NET_GRADS}),
        base=3,
        edits=(("        db += dout[i]\n", ""),),
    ),
    Bug(
        "affine_backward_dx_flat",
        AB,
        "dx is left flat, (N, D), not reshaped to x's shape",
        cells=frozenset({"affine_backward"}),
        base=0,
        edits=(("dx = (dout @ w.T).reshape(x.shape)", "dx = dout @ w.T"),),
    ),
    Bug(
        "affine_backward_db_over_outputs",
        AB,
        "sums db over axis 1: one value per example",
        cells=frozenset({"affine_backward"}),
        tests=frozenset({NET_GRADS}),
        base=1,
        edits=(("db = np.sum(dout, axis=0)", "db = np.sum(dout, axis=1)"),),
    ),
    # ------------------------------------------------------------ relu
    Bug(
        "relu_reduces",
        RF,
        "np.max(x, 0): the maximum over axis 0, not elementwise",
        cells=frozenset({"relu_forward"}),
        tests=frozenset({"test_two_layer_net_loss", NET_GRADS}),
        base=0,
        edits=(("return np.maximum(x, 0), x", "return np.max(x, 0), x"),),
    ),
    Bug(
        "relu_leaky",
        RF,
        "a leaky ReLU (0.01 x for negative x)",
        cells=frozenset({"relu_forward"}),
        tests=frozenset({"test_two_layer_net_loss", NET_GRADS}),
        base=3,
        edits=(("out = np.clip(x, 0, None)", "out = np.where(x > 0, x, 0.01 * x)"),),
    ),
    Bug(
        "relu_abs",
        RF,
        "returns |x|",
        cells=frozenset({"relu_forward"}),
        tests=frozenset({"test_two_layer_net_loss", NET_GRADS}),
        base=4,
        edits=(("out[out < 0] = 0", "out = np.abs(out)"),),
    ),
    Bug(
        "relu_masks_output",
        RB,
        "the cached output is masked with out >= 0, always true: every gradient passes, in "
        "relu_backward and in the two-layer network (whose loss stays right)",
        cells=frozenset({"relu_backward"}),
        tests=frozenset({NET_GRADS}),
        base=2,
        edits=(("(cache['out'] > 0)", "(cache['out'] >= 0)"),),
    ),
    Bug(
        "relu_backward_times_input",
        RB,
        "multiplies dout by the input instead of its mask",
        cells=frozenset({"relu_backward"}),
        tests=frozenset({NET_GRADS}),
        base=0,
        edits=(("np.where(cache > 0, dout, 0)", "np.where(cache > 0, dout * cache, 0)"),),
    ),
    Bug(
        "relu_backward_mask_of_dout",
        RB,
        "masks where dout > 0",
        cells=frozenset({"relu_backward"}),
        tests=frozenset({NET_GRADS}),
        base=3,
        edits=(("dx[cache <= 0] = 0", "dx[dout <= 0] = 0"),),
    ),
    # ------------------------------------------------------------ softmax
    Bug(
        "softmax_overflows",
        "ans_softmax_loss",
        "exponentiates the raw scores: NaN where exp overflows (scores ~1000 in float64, "
        "~150 in float32); the network's small scores stay right",
        tests=frozenset({"test_softmax_loss_large_scores", "test_softmax_loss_float32"}),
        base=4,
        edits=(
            (
                "    shifted = scores - scores.max(axis=1, keepdims=True)\n",
                "    shifted = scores\n",
            ),
        ),
    ),
    Bug(
        "softmax_gradient_not_averaged",
        "ans_softmax_loss",
        "averages the loss but not the gradient (no / N)",
        tests=frozenset(
            {
                "test_softmax_loss_gradient",
                "test_softmax_loss_large_scores",
                "test_softmax_loss_float32",
                NET_GRADS,
            }
        ),
        base=1,
        edits=(("return loss, probs / N", "return loss, probs"),),
    ),
    Bug(
        "softmax_loss_summed",
        "ans_softmax_loss",
        "sums the loss over the batch instead of averaging it",
        tests=frozenset(
            {
                "test_softmax_loss_value",
                "test_softmax_loss_large_scores",
                "test_softmax_loss_float32",
                "test_two_layer_net_loss",
            }
        ),
        base=2,
        edits=(("return loss / N, dscores / N", "return loss, dscores / N"),),
    ),
    Bug(
        "softmax_gradient_without_minus_one",
        "ans_softmax_loss",
        "dscores = softmax(scores) / N, missing the - 1 at the correct class",
        tests=frozenset(
            {
                "test_softmax_loss_gradient",
                "test_softmax_loss_large_scores",
                "test_softmax_loss_float32",
                NET_GRADS,
            }
        ),
        base=3,
        edits=(("(np.exp(log_probs) - onehot) / N", "np.exp(log_probs) / N"),),
    ),
    # ------------------------------------------------------------ two-layer net
    Bug(
        "net_skips_relu_backward",
        "ans_two_layer_net",
        "passes the gradient through the ReLU unchanged",
        tests=frozenset({NET_GRADS}),
        base=0,
        edits=(("    dh = relu_backward(da, c2)\n", "    dh = da\n"),),
    ),
    Bug(
        "net_no_b1_gradient",
        "ans_two_layer_net",
        "returns zeros for b1's gradient",
        tests=frozenset({NET_GRADS}),
        base=1,
        edits=(('grads["b1"] = dhidden.sum(axis=0)', 'grads["b1"] = np.zeros_like(b1)'),),
    ),
    Bug(
        "net_mask_after_relu_of_grad",
        "ans_two_layer_net",
        "masks the hidden gradient with dact > 0 instead of pre > 0",
        tests=frozenset({NET_GRADS}),
        base=3,
        edits=(("dpre = dact * (pre > 0)", "dpre = dact * (dact > 0)"),),
    ),
    Bug(
        "net_wrong_cache",
        "ans_two_layer_net",
        "runs the first layer's backward pass on the second layer's cache",
        tests=frozenset({NET_GRADS}),
        base=4,
        edits=(("affine_backward(dh_relu * relu_mask, fc1)", "affine_backward(dscores, fc2)"),),
    ),
)

ASSIGNMENT = Assignment(
    name="backprop",
    styles={
        "ans_slide_numbers": SLIDE,
        "ans_graph": GRAPH,
        "ans_gates": GATES,
        AF: AFFINE_FORWARD,
        AB: AFFINE_BACKWARD,
        RF: RELU_FORWARD,
        RB: RELU_BACKWARD,
        "ans_softmax_loss": SOFTMAX,
        "ans_two_layer_net": TWO_LAYER,
    },
    groups=((AF, AB), (RF, RB)),
    bugs=BUGS,
    combos=(
        ("slide_f_adds", "graph_df_dz_is_z"),
        ("affine_no_bias", "relu_backward_times_input"),
        ("mul_gate_no_swap", "softmax_overflows"),
        ("affine_backward_no_db", "net_no_b1_gradient"),
        ("max_gate_to_both", "relu_leaky"),
    ),
    mixes=3,
)
