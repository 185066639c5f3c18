"""The batchnorm assignment: forward, two backward passes, the spatial version."""

from __future__ import annotations

from corpus.model import Assignment, Bug

FWD, BWD, ALT, SPATIAL = (
    "ans_batchnorm_forward",
    "ans_batchnorm_backward",
    "ans_batchnorm_backward_alt",
    "ans_spatial",
)

FORWARD = [
    # x.var, a dict cache with the inverse standard deviation
    """
def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "train":
        mean, var = x.mean(axis=0), x.var(axis=0)
        inv_std = 1.0 / np.sqrt(var + eps)
        x_hat = (x - mean) * inv_std
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
        cache = {"x_hat": x_hat, "inv_std": inv_std, "gamma": gamma}
    else:
        x_hat = (x - running_mean) / np.sqrt(running_var + eps)
        cache = None
    return gamma * x_hat + beta, cache
""",
    # sums over the batch by hand; a tuple cache of the raw inputs
    """
def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    if mode == "train":
        mu = np.sum(x, axis=0) / N
        var = np.sum((x - mu) ** 2, axis=0) / N
        out = gamma * (x - mu) / np.sqrt(var + eps) + beta
        old_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
        old_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
        bn_param["running_mean"] = momentum * old_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * old_var + (1 - momentum) * var
        return out, (x, mu, var, gamma, eps)
    mu = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    return gamma * (x - mu) / np.sqrt(var + eps) + beta, (x, mu, var, gamma, eps)
""",
    # an object cache; the running statistics updated in place
    """
class BNCache:
    def __init__(self, **parts):
        self.__dict__.update(parts)


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    m = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    if mode == "train":
        mean = x.mean(axis=0)
        centred = x - mean
        var = (centred * centred).mean(axis=0)
        std = np.sqrt(var + eps)
        x_hat = centred / std
        running_mean = bn_param.setdefault("running_mean", np.zeros(D, dtype=x.dtype))
        running_var = bn_param.setdefault("running_var", np.zeros(D, dtype=x.dtype))
        running_mean *= m
        running_mean += (1 - m) * mean
        running_var *= m
        running_var += (1 - m) * var
        return gamma * x_hat + beta, BNCache(x_hat=x_hat, centred=centred, std=std, gamma=gamma)
    x_hat = (x - bn_param["running_mean"]) / np.sqrt(bn_param["running_var"] + eps)
    return gamma * x_hat + beta, BNCache(x_hat=x_hat, centred=None, std=None, gamma=gamma)
""",
    # float64 inside, the input's dtype outside; a list cache
    """
def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    x64, g64, b64 = (a.astype(np.float64) for a in (x, gamma, beta))
    if mode == "train":
        mu = x64.mean(axis=0)
        var = x64.var(axis=0)
        for key, value in (("running_mean", mu), ("running_var", var)):
            old = bn_param.get(key, np.zeros(D))
            bn_param[key] = (momentum * old + (1 - momentum) * value).astype(x.dtype)
    else:
        mu = bn_param.get("running_mean", np.zeros(D)).astype(np.float64)
        var = bn_param.get("running_var", np.zeros(D)).astype(np.float64)
    x_hat = (x64 - mu) / np.sqrt(var + eps)
    out = (g64 * x_hat + b64).astype(x.dtype)
    return out, [x_hat, var, g64, eps, x.dtype]
""",
    # a loop over the features; a namedtuple cache
    """
from collections import namedtuple

BN = namedtuple("BN", ["xc", "var", "eps", "gamma"])


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    out = np.empty_like(x)
    if mode == "train":
        mus, variances = np.empty(D, dtype=x.dtype), np.empty(D, dtype=x.dtype)
        for d in range(D):
            col = x[:, d]
            mus[d] = col.mean()
            variances[d] = ((col - mus[d]) ** 2).mean()
            out[:, d] = gamma[d] * (col - mus[d]) / np.sqrt(variances[d] + eps) + beta[d]
        bn_param["running_mean"] = (
            momentum * bn_param.get("running_mean", np.zeros(D, x.dtype)) + (1 - momentum) * mus
        )
        bn_param["running_var"] = (
            momentum * bn_param.get("running_var", np.zeros(D, x.dtype))
            + (1 - momentum) * variances
        )
        return out, BN(x - mus, variances, eps, gamma)
    mus, variances = bn_param["running_mean"], bn_param["running_var"]
    out[:] = gamma * (x - mus) / np.sqrt(variances + eps) + beta
    return out, BN(x - mus, variances, eps, gamma)
""",
]

BACKWARD = [
    # through the graph with the inverse standard deviation
    """
def batchnorm_backward(dout, cache):
    x_hat, inv_std, gamma = cache["x_hat"], cache["inv_std"], cache["gamma"]
    N = dout.shape[0]
    dgamma = np.sum(dout * x_hat, axis=0)
    dbeta = np.sum(dout, axis=0)
    dx_hat = dout * gamma
    xc = x_hat / inv_std
    dinv = np.sum(dx_hat * xc, axis=0)
    dvar = dinv * -0.5 * inv_std**3
    dxc = dx_hat * inv_std + dvar * 2.0 * xc / N
    dmean = -np.sum(dxc, axis=0)
    dx = dxc + dmean / N
    return dx, dgamma, dbeta
""",
    # staged like a computational graph on the raw inputs
    """
def batchnorm_backward(dout, cache):
    x, mu, var, gamma, eps = cache
    N = x.shape[0]
    xmu = x - mu
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    xhat = xmu * ivar
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    divar = (dxhat * xmu).sum(axis=0)
    dxmu1 = dxhat * ivar
    dsqrtvar = -divar / sqrtvar**2
    dvar = 0.5 * dsqrtvar / sqrtvar
    dsq = np.ones_like(x) * dvar / N
    dxmu2 = 2 * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -dx1.sum(axis=0)
    dx2 = np.ones_like(x) * dmu / N
    return dx1 + dx2, dgamma, dbeta
""",
    """
def batchnorm_backward(dout, cache):
    x_hat, centred, std, gamma = cache.x_hat, cache.centred, cache.std, cache.gamma
    N = len(dout)
    dbeta = dout.sum(0)
    dgamma = (dout * x_hat).sum(0)
    g = dout * gamma
    dstd = -(g * centred).sum(0) / std**2
    dvar = dstd / (2 * std)
    dcentred = g / std + 2 * centred * dvar / N
    dx = dcentred - dcentred.mean(0)
    return dx, dgamma, dbeta
""",
    # float64 inside, cast back
    """
def batchnorm_backward(dout, cache):
    x_hat, var, g64, eps, dtype = cache
    d = dout.astype(np.float64)
    N = d.shape[0]
    dbeta = d.sum(axis=0)
    dgamma = (d * x_hat).sum(axis=0)
    dxhat = d * g64
    std = np.sqrt(var + eps)
    xc = x_hat * std
    dvar = np.sum(dxhat * xc, axis=0) * -0.5 * (var + eps) ** -1.5
    dmu = -np.sum(dxhat, axis=0) / std - 2.0 * dvar * xc.mean(axis=0)
    dx = dxhat / std + dvar * 2.0 * xc / N + dmu / N
    return dx.astype(dtype), dgamma.astype(dtype), dbeta.astype(dtype)
""",
    # a loop over the features
    """
def batchnorm_backward(dout, cache):
    xc, var, eps, gamma = cache
    N, D = dout.shape
    dx = np.empty_like(dout)
    dgamma = np.empty(D, dtype=dout.dtype)
    dbeta = np.empty(D, dtype=dout.dtype)
    for d in range(D):
        std = np.sqrt(var[d] + eps)
        xh = xc[:, d] / std
        dbeta[d] = dout[:, d].sum()
        dgamma[d] = (dout[:, d] * xh).sum()
        dxh = dout[:, d] * gamma[d]
        dvar = -0.5 * (dxh * xc[:, d]).sum() / std**3
        dmu = -dxh.sum() / std + dvar * (-2.0 / N) * xc[:, d].sum()
        dx[:, d] = dxh / std + dvar * 2.0 * xc[:, d] / N + dmu / N
    return dx, dgamma, dbeta
""",
]

BACKWARD_ALT = [
    """
def batchnorm_backward_alt(dout, cache):
    x_hat, inv_std, gamma = cache["x_hat"], cache["inv_std"], cache["gamma"]
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = (gamma * inv_std / N) * (N * dout - dbeta - x_hat * dgamma)
    return dx, dgamma, dbeta
""",
    """
def batchnorm_backward_alt(dout, cache):
    x, mu, var, gamma, eps = cache
    inv = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * inv
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    dx = inv * (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0))
    return dx, dgamma, dbeta
""",
    """
def batchnorm_backward_alt(dout, cache):
    x_hat, std, gamma = cache.x_hat, cache.std, cache.gamma
    dbeta = dout.sum(0)
    dgamma = np.einsum("nd,nd->d", dout, x_hat)
    dx = gamma / std * (dout - dout.mean(0) - x_hat * (dout * x_hat).mean(0))
    return dx, dgamma, dbeta
""",
    """
def batchnorm_backward_alt(dout, cache):
    x_hat, var, g64, eps, dtype = cache
    d = dout.astype(np.float64)
    N = len(d)
    dbeta = d.sum(axis=0)
    dgamma = (d * x_hat).sum(axis=0)
    dx = g64 / (N * np.sqrt(var + eps)) * (N * d - dbeta - x_hat * dgamma)
    return dx.astype(dtype), dgamma.astype(dtype), dbeta.astype(dtype)
""",
    # the Jacobian of each feature, written out as a matrix
    """
def batchnorm_backward_alt(dout, cache):
    xc, var, eps, gamma = cache
    N, D = dout.shape
    dx = np.empty_like(dout)
    std = np.sqrt(var + eps)
    xh = xc / std
    for d in range(D):
        J = (np.eye(N) - 1.0 / N - np.outer(xh[:, d], xh[:, d]) / N) * (gamma[d] / std[d])
        dx[:, d] = J @ dout[:, d]
    return dx, (dout * xh).sum(axis=0), dout.sum(axis=0)
""",
]

SPATIAL_CELLS = [
    """
def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    flat = np.moveaxis(x, 1, -1).reshape(-1, C)
    out, cache = batchnorm_forward(flat, gamma, beta, bn_param)
    return np.moveaxis(out.reshape(N, H, W, C), -1, 1), cache


def spatial_batchnorm_backward(dout, cache):
    N, C, H, W = dout.shape
    flat = np.moveaxis(dout, 1, -1).reshape(-1, C)
    dx, dgamma, dbeta = batchnorm_backward(flat, cache)
    return np.moveaxis(dx.reshape(N, H, W, C), -1, 1), dgamma, dbeta
""",
    # rows (C, N*H*W) through a transposed view
    """
def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    cols = x.transpose(1, 0, 2, 3).reshape(C, -1).T
    out, cache = batchnorm_forward(cols, gamma, beta, bn_param)
    return out.T.reshape(C, N, H, W).transpose(1, 0, 2, 3), (cache, x.shape)


def spatial_batchnorm_backward(dout, cache):
    inner, (N, C, H, W) = cache
    cols = dout.transpose(1, 0, 2, 3).reshape(C, -1).T
    dx, dgamma, dbeta = batchnorm_backward_alt(cols, inner)
    return dx.T.reshape(C, N, H, W).transpose(1, 0, 2, 3), dgamma, dbeta
""",
    # written directly over the axes (0, 2, 3), with its own cache
    """
def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    C = x.shape[1]
    g, b = gamma.reshape(1, C, 1, 1), beta.reshape(1, C, 1, 1)
    if bn_param["mode"] == "train":
        mean = x.mean(axis=(0, 2, 3))
        var = x.var(axis=(0, 2, 3))
        old_mean = bn_param.get("running_mean", 0.0)
        old_var = bn_param.get("running_var", 0.0)
        bn_param["running_mean"] = momentum * old_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * old_var + (1 - momentum) * var
    else:
        mean, var = bn_param["running_mean"], bn_param["running_var"]
    std = np.sqrt(var + eps).reshape(1, C, 1, 1)
    x_hat = (x - mean.reshape(1, C, 1, 1)) / std
    return g * x_hat + b, {"x_hat": x_hat, "std": std, "g": g}


def spatial_batchnorm_backward(dout, cache):
    x_hat, std, g = cache["x_hat"], cache["std"], cache["g"]
    axes = (0, 2, 3)
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    dxh = dout * g
    dx = (dxh - dxh.mean(axis=axes, keepdims=True)
          - x_hat * (dxh * x_hat).mean(axis=axes, keepdims=True)) / std
    return dx, dgamma, dbeta
""",
    # einsum for the sums, per-channel reshapes
    """
def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    rows = np.einsum("nchw->nhwc", x).reshape(N * H * W, C)
    out_rows, cache = batchnorm_forward(rows, gamma, beta, bn_param)
    return np.einsum("nhwc->nchw", out_rows.reshape(N, H, W, C)).copy(), cache


def spatial_batchnorm_backward(dout, cache):
    N, C, H, W = dout.shape
    rows = np.einsum("nchw->nhwc", dout).reshape(N * H * W, C)
    dx_rows, dgamma, dbeta = batchnorm_backward(rows, cache)
    return np.einsum("nhwc->nchw", dx_rows.reshape(N, H, W, C)), dgamma, dbeta
""",
    # a loop over the channels
    """
def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out, cache = batchnorm_forward(rows, gamma, beta, bn_param)
    out = out.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(out), cache


def spatial_batchnorm_backward(dout, cache):
    N, C, H, W = dout.shape
    dx = np.empty_like(dout)
    rows = dout.transpose(0, 2, 3, 1).reshape(-1, C)
    drows, dgamma, dbeta = batchnorm_backward(rows, cache)
    for c in range(C):
        dx[:, c] = drows[:, c].reshape(N, H, W)
    return dx, dgamma, dbeta
""",
]

TRAIN_TESTS = frozenset({"test_forward_train", "test_forward_train_float32"})
BACKWARD_TESTS = frozenset(
    {
        "test_backward_graph",
        "test_backward_graph_float32",
        "test_backward_alt",
        "test_backward_alt_float32",
        "test_spatial_backward",
    }
)

BUGS = (
    # ------------------------------------------------------------ forward
    Bug(
        "unbiased_variance",
        FWD,
        "uses the unbiased variance x.var(axis=0, ddof=1): every train-mode output, the "
        "running variance and every gradient computed from a train-mode cache are wrong; "
        "only the test-mode outputs with given statistics stay right",
        cells=frozenset(
            {"batchnorm_backward", "batchnorm_backward_alt", "spatial_batchnorm_backward"}
        ),
        tests=TRAIN_TESTS | {"test_forward_running_averages", "test_spatial_forward_train"},
        base=0,
        edits=(
            (
                "mean, var = x.mean(axis=0), x.var(axis=0)",
                "mean, var = x.mean(axis=0), x.var(axis=0, ddof=1)",
            ),
        ),
    ),
    Bug(
        "no_running_var",
        FWD,
        "updates running_mean but never running_var: outputs and gradients are right, the "
        "running variance is not (also through the spatial version)",
        tests=frozenset({"test_forward_running_averages", "test_spatial_forward_train"}),
        edits=(
            (
                '        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var\n',
                "",
            ),
        ),
    ),
    Bug(
        "momentum_swapped",
        FWD,
        "running = (1 - momentum) * running + momentum * batch statistic",
        tests=frozenset({"test_forward_running_averages", "test_spatial_forward_train"}),
        base=1,
        edits=(
            (
                "momentum * old_mean + (1 - momentum) * mu",
                "(1 - momentum) * old_mean + momentum * mu",
            ),
            (
                "momentum * old_var + (1 - momentum) * var",
                "(1 - momentum) * old_var + momentum * var",
            ),
        ),
    ),
    Bug(
        "test_mode_uses_batch_statistics",
        FWD,
        "normalizes with the batch's own statistics in test mode (and updates the running "
        "averages there), as if test mode were train mode",
        tests=frozenset({"test_forward_test_mode", "test_spatial_forward_test_mode"}),
        base=3,
        edits=(('    if mode == "train":\n', "    if True:\n"),),
    ),
    Bug(
        "running_stats_updated_in_test_mode",
        FWD,
        "test mode normalizes with the running statistics, then also folds the test batch "
        "into them: outputs right, bn_param changed by a test-mode call",
        tests=frozenset({"test_forward_test_mode"}),
        base=2,
        edits=(
            (
                "    return gamma * x_hat + beta, BNCache(x_hat=x_hat, centred=None,",
                '    for key, stat in (("running_mean", x.mean(0)), ("running_var", x.var(0))):\n'
                "        bn_param[key] = m * bn_param[key] + (1 - m) * stat\n"
                "    return gamma * x_hat + beta, BNCache(x_hat=x_hat, centred=None,",
            ),
        ),
    ),
    Bug(
        "normalizes_over_features",
        FWD,
        "takes the mean and variance over the features (axis 1, a layer norm) instead of "
        "over the batch: train mode, the running averages and the gradients are wrong",
        cells=frozenset(
            {"batchnorm_backward", "batchnorm_backward_alt", "spatial_batchnorm_backward"}
        ),
        tests=TRAIN_TESTS | {"test_forward_running_averages", "test_spatial_forward_train"},
        base=0,
        edits=(
            (
                "mean, var = x.mean(axis=0), x.var(axis=0)",
                "mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)",
            ),
        ),
    ),
    Bug(
        "running_var_of_std",
        FWD,
        "folds the standard deviation, not the variance, into running_var",
        tests=frozenset({"test_forward_running_averages"}),
        base=2,
        edits=(("running_var += (1 - m) * var", "running_var += (1 - m) * std"),),
    ),
    Bug(
        "dgamma_without_xhat",
        BWD,
        "dgamma = sum(dout), the gradient of beta",
        tests=frozenset(
            {"test_backward_graph", "test_backward_graph_float32", "test_spatial_backward"}
        ),
        base=0,
        edits=(("dgamma = np.sum(dout * x_hat, axis=0)", "dgamma = np.sum(dout, axis=0)"),),
    ),
    Bug(
        "backward_skips_variance",
        BWD,
        "treats the variance as a constant: drops its path through the graph (this style's "
        "spatial version has its own backward pass)",
        tests=frozenset({"test_backward_graph", "test_backward_graph_float32"}),
        base=2,
        edits=(("dcentred = g / std + 2 * centred * dvar / N", "dcentred = g / std"),),
    ),
    Bug(
        "backward_skips_mean",
        BWD,
        "treats the mean as a constant: dx misses the - mean(...) term (this style's spatial "
        "version calls batchnorm_backward_alt)",
        tests=frozenset({"test_backward_graph", "test_backward_graph_float32"}),
        base=1,
        edits=(("    return dx1 + dx2, dgamma, dbeta\n", "    return dx1, dgamma, dbeta\n"),),
    ),
    Bug(
        "dbeta_mean",
        BWD,
        "dbeta = the mean of dout over the batch instead of its sum",
        tests=frozenset(
            {"test_backward_graph", "test_backward_graph_float32", "test_spatial_backward"}
        ),
        base=4,
        edits=(
            ("        dbeta[d] = dout[:, d].sum()\n", "        dbeta[d] = dout[:, d].mean()\n"),
        ),
    ),
    Bug(
        "backward_dvar_sign",
        BWD,
        "d(var + eps)**-0.5 / dvar written with the wrong sign",
        tests=frozenset(
            {"test_backward_graph", "test_backward_graph_float32", "test_spatial_backward"}
        ),
        base=3,
        edits=(("* -0.5 * (var + eps) ** -1.5", "* 0.5 * (var + eps) ** -1.5"),),
    ),
    # ------------------------------------------------------------ backward_alt
    Bug(
        "alt_missing_n",
        ALT,
        "forgets the factor N in front of dout in the closed form",
        cells=frozenset({"batchnorm_backward_alt"}),
        base=0,
        edits=(("(N * dout - dbeta - x_hat * dgamma)", "(dout - dbeta - x_hat * dgamma)"),),
    ),
    Bug(
        "alt_sign_of_xhat_term",
        ALT,
        "adds the x_hat * mean(dout * x_hat) term instead of subtracting it",
        cells=frozenset({"batchnorm_backward_alt"}),
        base=2,
        edits=(("- x_hat * (dout * x_hat).mean(0))", "+ x_hat * (dout * x_hat).mean(0))"),),
    ),
    Bug(
        "alt_gamma_beta_swapped",
        ALT,
        "returns (dx, dbeta, dgamma) (this style's spatial version calls it)",
        cells=frozenset({"batchnorm_backward_alt", "spatial_batchnorm_backward"}),
        base=1,
        edits=(("    return dx, dgamma, dbeta\n", "    return dx, dbeta, dgamma\n"),),
    ),
    Bug(
        "alt_forgets_gamma",
        ALT,
        "leaves gamma out of dx",
        cells=frozenset({"batchnorm_backward_alt"}),
        base=3,
        edits=(("dx = g64 / (N * np.sqrt(var + eps))", "dx = 1.0 / (N * np.sqrt(var + eps))"),),
    ),
    Bug(
        "alt_jacobian_without_outer",
        ALT,
        "leaves the x_hat x_hat^T / N term out of the per-feature Jacobian",
        cells=frozenset({"batchnorm_backward_alt"}),
        base=4,
        edits=(
            ("(np.eye(N) - 1.0 / N - np.outer(xh[:, d], xh[:, d]) / N)", "(np.eye(N) - 1.0 / N)"),
        ),
    ),
    # ------------------------------------------------------------ spatial
    Bug(
        "spatial_reshape_without_transpose",
        SPATIAL,
        "reshapes x to (N*H*W, C) without moving the channels last: the columns mix channels",
        function="spatial_batchnorm_forward",
        cells=frozenset({"spatial_batchnorm_forward", "spatial_batchnorm_backward"}),
        base=4,
        edits=(
            (
                "    rows = x.transpose(0, 2, 3, 1).reshape(-1, C)\n",
                "    rows = x.reshape(-1, C)\n",
            ),
            (
                "    out = out.reshape(N, H, W, C).transpose(0, 3, 1, 2)\n",
                "    out = out.reshape(N, C, H, W)\n",
            ),
            (
                "    rows = dout.transpose(0, 2, 3, 1).reshape(-1, C)\n",
                "    rows = dout.reshape(-1, C)\n",
            ),
            (
                "        dx[:, c] = drows[:, c].reshape(N, H, W)\n",
                "    dx = drows.reshape(N, C, H, W)\n",
            ),
        ),
    ),
    Bug(
        "spatial_forgets_transpose_back",
        SPATIAL,
        "returns the (C, N, H, W) array without moving the channels back",
        function="spatial_batchnorm_forward",
        cells=frozenset({"spatial_batchnorm_forward"}),
        base=1,
        edits=(
            (
                "return out.T.reshape(C, N, H, W).transpose(1, 0, 2, 3), (cache, x.shape)",
                "return out.T.reshape(C, N, H, W), (cache, x.shape)",
            ),
        ),
    ),
    Bug(
        "spatial_backward_reshape_back",
        SPATIAL,
        "the backward pass undoes the reshape with reshape(N, C, H, W), not the transpose",
        function="spatial_batchnorm_backward",
        cells=frozenset({"spatial_batchnorm_backward"}),
        base=0,
        edits=(
            (
                "    return np.moveaxis(dx.reshape(N, H, W, C), -1, 1), dgamma, dbeta\n",
                "    return dx.reshape(N, C, H, W), dgamma, dbeta\n",
            ),
        ),
    ),
    Bug(
        "spatial_copies_bn_param",
        SPATIAL,
        "passes a copy of bn_param to batchnorm_forward: the running averages are lost",
        function="spatial_batchnorm_forward",
        tests=frozenset({"test_spatial_forward_train"}),
        base=3,
        edits=(
            (
                "batchnorm_forward(rows, gamma, beta, bn_param)",
                "batchnorm_forward(rows, gamma, beta, dict(bn_param))",
            ),
        ),
    ),
    Bug(
        "spatial_mean_over_batch_only",
        SPATIAL,
        "averages per-position statistics over the positions: the mean is right, the "
        "variance misses the spread between positions (test mode, given statistics, is right)",
        function="spatial_batchnorm_forward",
        cells=frozenset({"spatial_batchnorm_backward"}),
        tests=frozenset({"test_spatial_forward_train"}),
        base=2,
        edits=(
            (
                "        mean = x.mean(axis=(0, 2, 3))\n        var = x.var(axis=(0, 2, 3))\n",
                "        mean = x.mean(axis=0).mean(axis=(1, 2))\n"
                "        var = x.var(axis=0).mean(axis=(1, 2))\n",
            ),
        ),
    ),
    Bug(
        "spatial_backward_forgets_transpose",
        SPATIAL,
        "undoes the forward pass's einsum with a plain reshape in the backward pass",
        function="spatial_batchnorm_backward",
        cells=frozenset({"spatial_batchnorm_backward"}),
        base=3,
        edits=(
            ('np.einsum("nhwc->nchw", dx_rows.reshape(N, H, W, C))', "dx_rows.reshape(N, C, H, W)"),
        ),
    ),
    Bug(
        "spatial_backward_mean_over_all",
        SPATIAL,
        "subtracts the mean over the whole array, not per channel",
        function="spatial_batchnorm_backward",
        cells=frozenset({"spatial_batchnorm_backward"}),
        base=2,
        edits=(("dxh - dxh.mean(axis=axes, keepdims=True)", "dxh - dxh.mean()"),),
    ),
)

ASSIGNMENT = Assignment(
    name="batchnorm",
    styles={FWD: FORWARD, BWD: BACKWARD, ALT: BACKWARD_ALT, SPATIAL: SPATIAL_CELLS},
    groups=((FWD, BWD, ALT, SPATIAL),),
    bugs=BUGS,
    combos=(
        ("momentum_swapped", "alt_gamma_beta_swapped"),
        ("dgamma_without_xhat", "alt_missing_n"),
        ("test_mode_uses_batch_statistics", "alt_forgets_gamma"),
        ("backward_skips_variance", "alt_sign_of_xhat_term"),
        ("normalizes_over_features", "spatial_backward_reshape_back"),
        ("spatial_reshape_without_transpose", "dbeta_mean"),
        ("spatial_backward_reshape_back", "unbiased_variance"),
        ("spatial_mean_over_batch_only", "alt_sign_of_xhat_term", "backward_skips_variance"),
        ("spatial_copies_bn_param", "test_mode_uses_batch_statistics", "alt_forgets_gamma"),
        ("dgamma_without_xhat", "alt_missing_n", "unbiased_variance"),
        ("backward_dvar_sign", "test_mode_uses_batch_statistics"),
        ("alt_jacobian_without_outer", "dbeta_mean"),
    ),
)
