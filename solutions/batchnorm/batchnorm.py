# %% [readonly-markdown] id=intro
# # Assignment: batch normalization
#
# Batch normalization normalizes a layer's values over the mini-batch, then lets the network
# scale and shift them with two learned parameters. You implement it in training and test
# mode (with running averages), derive its backward pass twice (node by node through the
# graph, then in a simplified closed form), and extend it to convolutional layers.
#
# **How to work.** Fill in every cell that says `# YOUR CODE HERE` (remove the
# `raise NotImplementedError()`), then run the check cell below it. A check compares your
# function with the course's reference on seeded random inputs, prints the relative error and
# stops with a hint when something is wrong. The grade comes from hidden tests (more shapes,
# a batch of 2, float32, both modes). Use numpy only; do not rename the functions or change
# their arguments.

# %% [readonly] id=setup
import numpy as np

from cnncourse import checks
from cnncourse.gradcheck import rel_error

np.set_printoptions(precision=4, suppress=True)

# %% [readonly-markdown] id=fwd_intro
# ## 1. Forward pass, training and test mode
#
# *Slides: "Implementing Batch Normalization" and "Batch Normalization in Testing Time".*
# For a mini-batch `x` of shape `(N, D)`, each of the `D` features is normalized with the
# batch's mean and variance, then scaled and shifted:
#
# $$\mu = \frac1N\sum_i x_i,\quad \sigma^2 = \frac1N\sum_i (x_i - \mu)^2,\quad
#   \hat x_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}},\quad
#   y_i = \gamma \hat x_i + \beta.$$
#
# The variance is the *biased* one (divide by $N$, `x.var(axis=0)`), as the slides and every
# framework compute it in the forward pass. (The slide writes $(\sigma + \epsilon)$; frameworks
# put $\epsilon$ under the square root, $\sqrt{\sigma^2 + \epsilon}$, and so do we.)
#
# At test time there may be a single input, so there is no batch to average over. During
# training keep running averages, updated after every batch with `momentum` $= \beta = 0.9$:
#
# `running_mean = momentum * running_mean + (1 - momentum) * mean` (likewise `running_var`),
#
# starting from zeros, and in test mode normalize with them instead.
#
# Implement `batchnorm_forward(x, gamma, beta, bn_param)`. `bn_param` holds `"mode"`
# (`"train"` or `"test"`), optionally `"eps"` (default 1e-5), `"momentum"` (default 0.9),
# `"running_mean"` and `"running_var"`; in train mode **write the updated running averages
# back into `bn_param`**. Return `(out, cache)`; the cache is yours to design for the backward
# pass.


# %% [answer] id=ans_batchnorm_forward
def batchnorm_forward(x, gamma, beta, bn_param):
    """x: (N, D), gamma and beta: (D,). Returns (out, cache); updates bn_param in train mode."""
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    out, cache = None, None
    ### BEGIN SOLUTION
    if mode == "train":
        mu = x.mean(axis=0)
        xc = x - mu
        var = (xc**2).mean(axis=0)  # biased: divide by N
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
    ### END SOLUTION
    return out, cache


# %% [check] id=batchnorm_forward

# %% [readonly-markdown] id=fwd_demo_intro
# What it does: a batch whose features have means around 5 and standard deviations around 3
# comes out with mean `beta` and standard deviation `gamma` in training mode; after 50
# training batches the running averages have found the data's statistics, and test mode uses
# them.

# %% [readonly] id=fwd_demo
rng = np.random.default_rng(0)
gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0])
bn_param = {"mode": "train"}
for _ in range(50):
    batch = 5.0 + 3.0 * rng.standard_normal((64, 3))
    out, _ = batchnorm_forward(batch, gamma, beta, bn_param)
print("train mode, output mean:", out.mean(axis=0), " std:", out.std(axis=0))
print("running mean:", bn_param["running_mean"], " running var:", bn_param["running_var"])
bn_param["mode"] = "test"
out, _ = batchnorm_forward(5.0 + 3.0 * rng.standard_normal((1, 3)), gamma, beta, bn_param)
print("test mode on a single input:", out)

# %% [readonly-markdown] id=bwd_intro
# ## 2. Backward pass through the graph
#
# Draw the forward pass as a graph of simple nodes: the mean, the centring `xc = x - mu`, the
# variance, `std = sqrt(var + eps)`, the division `x_hat = xc / std`, and `gamma * x_hat + beta`.
# Then walk it backwards, one node at a time, with the gates of the backprop assignment. Two
# things to watch: `mu` and `var` are computed from *every* `x_i`, so their gradients are sums
# over the batch, and `xc` feeds two nodes (the variance and the division), so its gradient is
# the sum of the two contributions.
#
# Implement `batchnorm_backward(dout, cache)` returning `(dx, dgamma, dbeta)`, for train-mode
# caches.


# %% [answer] id=ans_batchnorm_backward
def batchnorm_backward(dout, cache):
    """Backward pass through the graph, node by node. Returns (dx, dgamma, dbeta)."""
    dx, dgamma, dbeta = None, None, None
    ### BEGIN SOLUTION
    x_hat, xc, var, std, gamma, eps = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    # x_hat = xc * (1 / std): a multiply gate
    dinv_std = (dx_hat * xc).sum(axis=0)
    dxc = dx_hat / std
    # inv_std = 1 / std, std = sqrt(var + eps)
    dstd = -dinv_std / std**2
    dvar = dstd * 0.5 / std
    # var = mean(xc ** 2): every xc_i contributes
    dxc += 2.0 * xc * dvar / N
    # xc = x - mu, mu = mean(x)
    dmu = -dxc.sum(axis=0)
    dx = dxc + dmu / N
    ### END SOLUTION
    return dx, dgamma, dbeta


# %% [check] id=batchnorm_backward

# %% [readonly-markdown] id=alt_intro
# ## 3. The simplified backward pass
#
# Collapse the graph on paper: with $\hat x$ and $\sigma$ from the forward pass, the whole
# gradient with respect to $x$ fits on one line,
#
# $$\frac{\partial L}{\partial x_i} = \frac{\gamma}{N\sqrt{\sigma^2 + \epsilon}}
#   \Big(N\,\delta_i - \sum_j \delta_j - \hat x_i \sum_j \delta_j \hat x_j\Big),
#   \qquad \delta = \text{dout}.$$
#
# Implement it as `batchnorm_backward_alt(dout, cache)` (same cache, same outputs) and compare
# the speed of the two versions below.


# %% [answer] id=ans_batchnorm_backward_alt
def batchnorm_backward_alt(dout, cache):
    """The simplified (closed-form) backward pass. Returns (dx, dgamma, dbeta)."""
    dx, dgamma, dbeta = None, None, None
    ### BEGIN SOLUTION
    x_hat, _, _, std, gamma, _ = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = gamma / (N * std) * (N * dout - dbeta - x_hat * dgamma)
    ### END SOLUTION
    return dx, dgamma, dbeta


# %% [check] id=batchnorm_backward_alt

# %% [readonly] id=alt_demo
import timeit

rng = np.random.default_rng(1)
x = rng.standard_normal((256, 500))
dout = rng.standard_normal(x.shape)
_, cache = batchnorm_forward(x, np.ones(500), np.zeros(500), {"mode": "train"})
t_graph = min(timeit.repeat(lambda: batchnorm_backward(dout, cache), number=10, repeat=3))
t_alt = min(timeit.repeat(lambda: batchnorm_backward_alt(dout, cache), number=10, repeat=3))
dx1, _, _ = batchnorm_backward(dout, cache)
dx2, _, _ = batchnorm_backward_alt(dout, cache)
print(
    f"graph: {t_graph * 100:.2f} ms, simplified: {t_alt * 100:.2f} ms per call, "
    f"speed-up {t_graph / t_alt:.1f}x; dx agree to {rel_error(dx1, dx2):.1e}"
)

# %% [readonly-markdown] id=spatial_intro
# ## 4. Spatial batch normalization
#
# After a convolution, the values of one channel are produced by the same filter at every
# position, so they should share one normalization: the statistics of channel `c` are taken
# over the batch *and* the spatial positions, `N * H * W` values, with one `gamma[c]` and
# `beta[c]`. Implement it with your functions above: move the channel axis last, reshape to
# `(N*H*W, C)`, apply `batchnorm_forward`/`batchnorm_backward`, and undo the reshape.


# %% [answer] id=ans_spatial
def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """x: (N, C, H, W), gamma and beta: (C,). Returns (out, cache)."""
    out, cache = None, None
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out_rows, cache = batchnorm_forward(rows, gamma, beta, bn_param)
    out = out_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    ### END SOLUTION
    return out, cache


def spatial_batchnorm_backward(dout, cache):
    """dout: (N, C, H, W). Returns (dx, dgamma, dbeta)."""
    dx, dgamma, dbeta = None, None, None
    ### BEGIN SOLUTION
    N, C, H, W = dout.shape
    rows = dout.transpose(0, 2, 3, 1).reshape(-1, C)
    dx_rows, dgamma, dbeta = batchnorm_backward(rows, cache)
    dx = dx_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    ### END SOLUTION
    return dx, dgamma, dbeta


# %% [check] id=spatial_batchnorm_forward

# %% [check] id=spatial_batchnorm_backward

# %% [readonly-markdown] id=q_test_time_intro
# ## 5. Written question
#
# (a) Why does batch normalization use running averages at test time instead of the
# statistics of the test batch? Give two reasons.
# (b) The forward pass uses the biased variance (divide by $N$). What goes wrong if a network
# is trained with a batch size of 1, and what does the biased variance give there?

# %% [manual] id=q_test_time points=3
# (a) First, at test time there may be a single input (or a batch from one class or one
# image), so there is nothing meaningful to average over. Second, a prediction must not depend
# on which other examples share the batch: with batch statistics the same image would get
# different outputs in different batches. The running averages estimate the mean and variance
# the network saw during training, so test-time normalization matches training and is
# deterministic.
#
# (b) With N = 1 the biased variance is 0 and $x - \mu = 0$, so $\hat x = 0$ and the output is
# $\beta$ whatever the input: the layer passes no information forward and no gradient
# reaches $x$ (the unbiased variance would divide by $N - 1 = 0$). Batch normalization needs
# batches large enough for the statistics to mean something (or per-example alternatives such
# as layer or group normalization).
