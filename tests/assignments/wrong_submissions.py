"""Realistic wrong submissions and the scores their bugs deserve.

Each submission is the solution notebook with some answer cells (by grade id) replaced by a
buggy version, the kind of mistake students make. ``grade`` is what ``cnncourse grade`` must
give: the hidden tests that the bug touches fail, every other test passes, so the expected
score is the maximum minus the points of exactly those tests. ``nbgrader`` is what
``nbgrader autograde`` must give: it scores each visible test cell all or nothing, so a cell
loses all its points when its visible check (with its hidden part) meets the bug.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Wrong:
    name: str
    assignment: str
    why: str
    answers: dict[str, str]
    failing_tests: frozenset[str]  # hidden tests (function names) the bug makes fail
    failing_cells: frozenset[str]  # visible test cells (grade ids) the bug makes fail


CONV_IGNORES_PADDING = Wrong(
    name="conv_ignores_padding",
    assignment="conv",
    why="conv_forward_naive and conv_backward_naive never pad the input, so every case with "
    "pad > 0 is wrong (the padded hidden tests, and the float32 ones, which use pad 1); the "
    "unpadded cases, pooling, the output size, the numbers and the matrix are right. The "
    "visible checks of both conv cells use pad 1, so nbgrader fails both cells.",
    answers={
        "ans_conv_forward": """
def conv_forward_naive(x, w, b, conv_param):
    stride = conv_param.get("stride", 1)
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = (H - HH) // stride + 1
    W_out = (W - WW) // stride + 1
    out = np.zeros((N, F, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    cache = (x, w, b, conv_param)
    return out, cache
""",
        "ans_conv_backward": """
def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride = conv_param.get("stride", 1)
    N, F, H_out, W_out = dout.shape
    _, _, HH, WW = w.shape
    dx = np.zeros_like(x)
    dw = np.zeros_like(w)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    rows = slice(i * stride, i * stride + HH)
                    cols = slice(j * stride, j * stride + WW)
                    dx[n, :, rows, cols] += dout[n, f, i, j] * w[f]
                    dw[f] += dout[n, f, i, j] * x[n, :, rows, cols]
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db
""",
    },
    failing_tests=frozenset(
        {
            "test_conv_forward_padding",
            "test_conv_forward_float32",
            "test_conv_backward_padding",
            "test_conv_backward_float32",
        }
    ),
    failing_cells=frozenset({"conv_forward", "conv_backward"}),
)

RELU_MASKS_OUTPUT = Wrong(
    name="relu_masks_output",
    assignment="backprop",
    why="relu_forward caches its output and relu_backward masks with out >= 0, which is always "
    "true, so every gradient passes: relu_backward is wrong everywhere and so are the "
    "two-layer network's gradients (its loss, a forward quantity, stays right).",
    answers={
        "ans_relu_forward": """
def relu_forward(x):
    out = np.maximum(0, x)
    cache = out
    return out, cache
""",
        "ans_relu_backward": """
def relu_backward(dout, cache):
    out = cache
    dx = dout * (out >= 0)
    return dx
""",
    },
    failing_tests=frozenset(
        {
            "test_relu_backward_float64",
            "test_relu_backward_float32",
            "test_two_layer_net_gradients",
        }
    ),
    failing_cells=frozenset({"relu_backward", "two_layer_net"}),
)

SOFTMAX_OVERFLOWS = Wrong(
    name="softmax_overflows",
    assignment="backprop",
    why="softmax_loss exponentiates the raw scores: right for small scores, NaN for scores "
    "of size 1000 (float64) or 150 (float32) where exp overflows. The two-layer network's "
    "scores are small, so it stays right.",
    answers={
        "ans_softmax_loss": """
def softmax_loss(scores, y):
    N = scores.shape[0]
    exp = np.exp(scores)
    probs = exp / exp.sum(axis=1, keepdims=True)
    loss = -np.log(probs[np.arange(N), y]).mean()
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    return loss, dscores
""",
    },
    failing_tests=frozenset({"test_softmax_loss_large_scores", "test_softmax_loss_float32"}),
    failing_cells=frozenset({"softmax_loss"}),
)

DROPOUT_NOT_INVERTED = Wrong(
    name="dropout_not_inverted",
    assignment="dropout",
    why="train mode keeps x * mask without dividing by keep_prob (and the backward pass "
    "likewise): the kept values (float64 and float32) and the train-mode gradient are wrong; "
    "the kept fraction, the seed, test mode and the test-mode gradient are right.",
    answers={
        "ans_dropout_forward": """
def dropout_forward(x, dropout_param):
    keep_prob, mode = dropout_param["keep_prob"], dropout_param["mode"]
    out, mask = None, None
    if mode == "train":
        rng = np.random.default_rng(dropout_param.get("seed"))
        mask = rng.random(x.shape) < keep_prob
        out = x * mask
    else:
        out = x.copy()
    cache = (dropout_param, mask)
    return out, cache
""",
        "ans_dropout_backward": """
def dropout_backward(dout, cache):
    dropout_param, mask = cache
    if dropout_param["mode"] == "train":
        return dout * mask
    return dout
""",
    },
    failing_tests=frozenset(
        {
            "test_train_kept_values_are_scaled",
            "test_train_float32",
            "test_backward_train",
        }
    ),
    failing_cells=frozenset({"dropout_forward", "dropout_backward"}),
)

BATCHNORM_UNBIASED_VAR = Wrong(
    name="batchnorm_unbiased_variance",
    assignment="batchnorm",
    why="the train-mode forward pass uses the unbiased variance x.var(axis=0, ddof=1): every "
    "train-mode output, the running variance, and every gradient computed from a train-mode "
    "cache (both backward passes, the spatial version) are wrong. Only the test-mode outputs, "
    "which use given running statistics, stay right.",
    answers={
        "ans_batchnorm_forward": """
def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "train":
        mu = x.mean(axis=0)
        var = x.var(axis=0, ddof=1)
        xc = x - mu
        std = np.sqrt(var + eps)
        x_hat = xc / std
        out = gamma * x_hat + beta
        cache = (x_hat, xc, var, std, gamma, eps)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        std = np.sqrt(running_var + eps)
        x_hat = (x - running_mean) / std
        out = gamma * x_hat + beta
        cache = (x_hat, None, None, std, gamma, eps)
    return out, cache
""",
    },
    failing_tests=frozenset(
        {
            "test_forward_train",
            "test_forward_running_averages",
            "test_forward_train_float32",
            "test_backward_graph",
            "test_backward_graph_float32",
            "test_backward_alt",
            "test_backward_alt_float32",
            "test_spatial_forward_train",
            "test_spatial_backward",
        }
    ),
    failing_cells=frozenset(
        {
            "batchnorm_forward",
            "batchnorm_backward",
            "batchnorm_backward_alt",
            "spatial_batchnorm_forward",
            "spatial_batchnorm_backward",
        }
    ),
)

ADAM_NO_BIAS_CORRECTION = Wrong(
    name="adam_no_bias_correction",
    assignment="optimizers",
    why="adam steps with m / (sqrt(v) + eps), skipping the bias correction: every weight "
    "update is wrong (the first step is about 3.16 times too long), but the moment "
    "estimates m and v it keeps in config are right.",
    answers={
        "ans_adam": """
def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("t", 0)
    m = config.get("m")
    v = config.get("v")
    if m is None:
        m = np.zeros_like(w)
    if v is None:
        v = np.zeros_like(w)
    config["t"] += 1
    m = config["beta1"] * m + (1 - config["beta1"]) * dw
    v = config["beta2"] * v + (1 - config["beta2"]) * dw**2
    next_w = w - config["learning_rate"] * m / (np.sqrt(v) + config["epsilon"])
    config["m"], config["v"] = m, v
    return next_w, config
""",
    },
    failing_tests=frozenset({"test_adam_first_step", "test_adam_many_steps", "test_adam_float32"}),
    failing_cells=frozenset({"adam"}),
)

BATCHNORM_NO_RUNNING_VAR = Wrong(
    name="batchnorm_no_running_var",
    assignment="batchnorm",
    why="the train-mode forward pass updates running_mean but never running_var: every output "
    "and gradient is right, and so is test mode with given statistics; only the running "
    "variance is wrong, in the vanilla and (through batchnorm_forward) the spatial version. "
    "Both visible checks read it back (the spatial one also through its test-mode output).",
    answers={
        "ans_batchnorm_forward": """
def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "train":
        mu = x.mean(axis=0)
        xc = x - mu
        var = (xc**2).mean(axis=0)
        std = np.sqrt(var + eps)
        x_hat = xc / std
        out = gamma * x_hat + beta
        cache = (x_hat, xc, var, std, gamma, eps)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = running_var
    else:
        std = np.sqrt(running_var + eps)
        x_hat = (x - running_mean) / std
        out = gamma * x_hat + beta
        cache = (x_hat, None, None, std, gamma, eps)
    return out, cache
""",
    },
    failing_tests=frozenset({"test_forward_running_averages", "test_spatial_forward_train"}),
    failing_cells=frozenset({"batchnorm_forward", "spatial_batchnorm_forward"}),
)

ADAM_NEVER_STORES_T = Wrong(
    name="adam_never_stores_t",
    assignment="optimizers",
    why="adam computes t = config['t'] + 1 but never writes it back, so config['t'] stays 0 "
    "and every step is bias-corrected as a first step: the first step and the moments m and "
    "v are right, every later weight update is wrong, and the step count in config is wrong "
    "from the first step.",
    answers={
        "ans_adam": """
def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("t", 0)
    m = config.get("m")
    v = config.get("v")
    if m is None:
        m = np.zeros_like(w)
    if v is None:
        v = np.zeros_like(w)
    beta1, beta2 = config["beta1"], config["beta2"]
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    config["m"], config["v"] = m, v
    return next_w, config
""",
    },
    failing_tests=frozenset({"test_adam_many_steps", "test_adam_moments", "test_adam_float32"}),
    failing_cells=frozenset({"adam"}),
)

WRONG = [
    CONV_IGNORES_PADDING,
    RELU_MASKS_OUTPUT,
    SOFTMAX_OVERFLOWS,
    DROPOUT_NOT_INVERTED,
    BATCHNORM_UNBIASED_VAR,
    ADAM_NO_BIAS_CORRECTION,
    BATCHNORM_NO_RUNNING_VAR,
    ADAM_NEVER_STORES_T,
]
