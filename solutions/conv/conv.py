# %% [readonly-markdown] id=intro
# # Assignment: the convolution layer
#
# In this assignment you build a convolution layer and a max-pooling layer from loops, the way
# the slides draw them, and then look at the convolution from two other angles: as a 1x1
# "dot product across depth" and as one matrix multiply.
#
# **How to work.** Fill in every cell that says `# YOUR CODE HERE` (remove the
# `raise NotImplementedError()`), then run the check cell below it. A check compares your
# function with the course's reference on seeded random inputs and prints the relative error
# of each output; it stops with a hint when something is wrong. The grade comes from hidden
# tests with more seeds and edge cases (batch of 1, 1x1 kernels, stride 2, padding 0 and 2,
# non-square inputs, float32), so make your code general, not just good enough for the checks.
# Use numpy only: the grader refuses `torch.nn.functional.conv2d`, `unfold`, `max_pool2d` and
# the `cnncourse.layers` references.
#
# Do not rename the functions or change their arguments, and keep every computation inside the
# functions (the grader calls them on its own inputs).

# %% [readonly] id=setup
import numpy as np

from cnncourse import checks
from cnncourse.gradcheck import eval_numerical_gradient_array, rel_error

np.set_printoptions(precision=4, suppress=True)

# %% [readonly-markdown] id=size_intro
# ## 1. Output-size arithmetic
#
# *Slides: "Convolution Layer" and "Case Study: AlexNet".* A filter of size `HH x WW` slides
# over an input of size `H x W` that has `pad` zeros added on every side, in steps of `stride`.
# Along one axis it fits
#
# $$H' = \frac{H - HH + 2\,\mathrm{pad}}{\mathrm{stride}} + 1$$
#
# times. A 32x32 image and a 5x5 filter at stride 1 give 28; AlexNet's first layer
# (227x227 input, 11x11 filters, stride 4) gives $(227 - 11)/4 + 1 = 55$. When the division is
# not exact the filter does not tile the input, and the layer is misconfigured.
#
# Implement `conv_output_size(H, HH, stride, pad)`: return $H'$ as an `int`, and raise
# `ValueError` (with a message showing the numbers) when it is not a whole number or when the
# filter is larger than the padded input.


# %% [answer] id=ans_conv_output_size
def conv_output_size(H, HH, stride, pad):
    """Output length (H - HH + 2*pad) / stride + 1 along one axis, as an int."""
    ### BEGIN SOLUTION
    span = H - HH + 2 * pad
    if span < 0:
        raise ValueError(f"the filter ({HH}) is larger than the padded input ({H + 2 * pad})")
    if span % stride:
        raise ValueError(
            f"({H} - {HH} + 2*{pad})/{stride} + 1 = {span / stride + 1:g} is not a whole number"
        )
    return span // stride + 1
    ### END SOLUTION


# %% [check] id=conv_output_size

# %% [readonly-markdown] id=alexnet_intro
# Now use the formula on AlexNet's first layer (96 filters of 11x11x3 at stride 4, pad 0, on a
# 227x227x3 image). Set the two variables below to numbers (not expressions that call the
# reference). `conv1_out` is the output's spatial size; `conv1_weights` the number of weights
# in the layer, *without* the biases (the slide's "35K").

# %% [answer] id=ans_alexnet
conv1_out = None
conv1_weights = None
### BEGIN SOLUTION
conv1_out = (227 - 11) // 4 + 1
conv1_weights = 11 * 11 * 3 * 96
### END SOLUTION
print(f"CONV1 output: {conv1_out} x {conv1_out} x 96, weights: {conv1_weights:,}")

# %% [check] id=alexnet_numbers

# %% [readonly-markdown] id=fwd_intro
# ## 2. Convolution, forward
#
# *Slides: "Convolution Layer", "activation maps".* The filter always extends the full depth
# of the input: `w[f]` has shape `(C, HH, WW)`. At every output position it computes one dot
# product with the window of the padded input under it, plus its bias; `F` filters give `F`
# activation maps, stacked into the output volume of shape `(N, F, H', W')`:
#
# $$\mathrm{out}[n, f, i, j] = \sum_{c, k, l} x_\mathrm{pad}[n, c, i\,s + k, j\,s + l]\;
#   w[f, c, k, l] + b[f].$$
#
# Implement `conv_forward_naive(x, w, b, conv_param)` with loops over images, filters and
# output positions (a vectorised sum over the window is fine). `conv_param` holds `"stride"`
# and `"pad"`; pad with zeros on both spatial axes only (`np.pad`), never on the batch or
# channel axes. Return `(out, cache)` with `cache = (x, w, b, conv_param)`.


# %% [answer] id=ans_conv_forward
def conv_forward_naive(x, w, b, conv_param):
    """Naive convolution forward pass.

    x: (N, C, H, W), w: (F, C, HH, WW), b: (F,), conv_param: {"stride", "pad"}.
    Returns (out, cache): out (N, F, H', W'), cache (x, w, b, conv_param).
    """
    out = None
    ### BEGIN SOLUTION
    stride, pad = conv_param.get("stride", 1), conv_param.get("pad", 0)
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = conv_output_size(H, HH, stride, pad)
    W_out = conv_output_size(W, WW, stride, pad)
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    ### END SOLUTION
    cache = (x, w, b, conv_param)
    return out, cache


# %% [check] id=conv_forward

# %% [readonly-markdown] id=fwd_demo_intro
# A quick look at what a filter does: two hand-made 3x3 filters on a synthetic image, one
# responding to vertical edges and one to horizontal edges (run the cell; nothing to write).

# %% [readonly] id=fwd_demo
img = np.zeros((1, 1, 8, 8))
img[0, 0, 2:6, 2:6] = 1.0  # a bright square
edges = np.array([[[[1, 0, -1]] * 3], [[[1, 1, 1], [0, 0, 0], [-1, -1, -1]]]], dtype=float)
maps, _ = conv_forward_naive(img, edges, np.zeros(2), {"stride": 1, "pad": 1})
print("vertical-edge map:\n", maps[0, 0])
print("horizontal-edge map:\n", maps[0, 1])

# %% [readonly-markdown] id=bwd_intro
# ## 3. Convolution, backward
#
# *Slides: "Back-Propagation".* Each output value is a multiply-add of one window with one
# filter, so the chain rule sends `dout[n, f, i, j]` three ways:
#
# - to the window of the padded input: `dx_pad[n, :, window] += dout[n, f, i, j] * w[f]`;
# - to the filter: `dw[f] += dout[n, f, i, j] * window`;
# - to the bias: `db[f] += dout[n, f, i, j]`.
#
# Windows overlap when `stride < HH`, so accumulate with `+=`; at the end drop the padding from
# `dx_pad`. Implement `conv_backward_naive(dout, cache)` returning `(dx, dw, db)`.


# %% [answer] id=ans_conv_backward
def conv_backward_naive(dout, cache):
    """Naive convolution backward pass. Returns (dx, dw, db) shaped like x, w and b."""
    dx, dw, db = None, None, None
    ### BEGIN SOLUTION
    x, w, b, conv_param = cache
    stride, pad = conv_param.get("stride", 1), conv_param.get("pad", 0)
    N, F, H_out, W_out = dout.shape
    _, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    rows = slice(i * stride, i * stride + HH)
                    cols = slice(j * stride, j * stride + WW)
                    dx_pad[n, :, rows, cols] += dout[n, f, i, j] * w[f]
                    dw[f] += dout[n, f, i, j] * x_pad[n, :, rows, cols]
    db = dout.sum(axis=(0, 2, 3))
    dx = dx_pad[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]]
    ### END SOLUTION
    return dx, dw, db


# %% [check] id=conv_backward

# %% [readonly-markdown] id=numgrad_intro
# The check above compares with the reference. A numerical gradient is an independent
# witness: nudge one input by $\pm h$ and watch the loss $\sum \mathrm{out} \cdot
# \mathrm{dout}$ move. The two should agree to about 1e-8.

# %% [readonly] id=numgrad_demo
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 3, 5, 5))
w = rng.standard_normal((2, 3, 3, 3))
b = rng.standard_normal(2)
param = {"stride": 2, "pad": 1}
out, cache = conv_forward_naive(x, w, b, param)
dout = rng.standard_normal(out.shape)
dx, dw, db = conv_backward_naive(dout, cache)
dx_num = eval_numerical_gradient_array(lambda v: conv_forward_naive(v, w, b, param)[0], x, dout)
dw_num = eval_numerical_gradient_array(lambda v: conv_forward_naive(x, v, b, param)[0], w, dout)
print(f"dx vs numerical: {rel_error(dx, dx_num):.2e}")
print(f"dw vs numerical: {rel_error(dw, dw_num):.2e}")

# %% [readonly-markdown] id=pool_intro
# ## 4. Max pooling, forward and backward
#
# *Slides: "Pooling layer", "Max Pooling".* Pooling works on every activation map on its own:
# it slides a `pool_height x pool_width` window with a step of `stride` and keeps the window's
# maximum. It has no weights ("Parameters: 0!"). In the backward pass the gradient of a max is
# 1 for the winner and 0 for the others, so each `dout[n, c, i, j]` goes to the one input that
# was its window's maximum (if several tie, give it to the first in row-major order, as
# `np.argmax` does). With overlapping windows (AlexNet's 3x3 at stride 2) one input can win
# several windows: accumulate.
#
# Implement `max_pool_forward_naive(x, pool_param)` returning `(out, cache)` with
# `cache = (x, pool_param)`, and `max_pool_backward_naive(dout, cache)` returning `dx`.
# `pool_param` holds `"pool_height"`, `"pool_width"` and `"stride"`.


# %% [answer] id=ans_max_pool_forward
def max_pool_forward_naive(x, pool_param):
    """Naive max pooling. x: (N, C, H, W). Returns (out, cache), out (N, C, H', W')."""
    out = None
    ### BEGIN SOLUTION
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    H_out = conv_output_size(H, ph, stride, 0)
    W_out = conv_output_size(W, pw, stride, 0)
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride : i * stride + ph, j * stride : j * stride + pw]
            out[:, :, i, j] = window.max(axis=(2, 3))
    ### END SOLUTION
    cache = (x, pool_param)
    return out, cache


# %% [check] id=max_pool_forward


# %% [answer] id=ans_max_pool_backward
def max_pool_backward_naive(dout, cache):
    """Naive max-pooling backward pass. Returns dx shaped like x."""
    dx = None
    ### BEGIN SOLUTION
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * stride : i * stride + ph, j * stride : j * stride + pw]
                    k, l = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + k, j * stride + l] += dout[n, c, i, j]
    ### END SOLUTION
    return dx


# %% [check] id=max_pool_backward

# %% [readonly-markdown] id=onebyone_intro
# ## 5. 1x1 convolutions
#
# *Slide: "(btw, 1x1 convolution layers make perfect sense)".* A 1x1 filter on a 56x56x64
# volume is a 64-dimensional dot product at every pixel: 32 such filters turn 56x56x64 into
# 56x56x32, mixing channels without looking at neighbours. GoogLeNet's "#3x3 reduce" columns
# are exactly this.
#
# Set `onebyone_out_shape` to the output shape `(F, H', W')` of 32 1x1 filters (stride 1,
# pad 0) on a 64x56x56 input, and `onebyone_params` to the layer's number of parameters,
# *including* the biases. The cell after it shows, with your `conv_forward_naive`, that a 1x1
# convolution is one matrix product per pixel.

# %% [answer] id=ans_onebyone
onebyone_out_shape = None
onebyone_params = None
### BEGIN SOLUTION
onebyone_out_shape = (32, 56, 56)
onebyone_params = 64 * 32 + 32
### END SOLUTION
print(onebyone_out_shape, onebyone_params)

# %% [check] id=onebyone

# %% [readonly] id=onebyone_demo
rng = np.random.default_rng(1)
x = rng.standard_normal((1, 64, 6, 6))
w = rng.standard_normal((32, 64, 1, 1))
out, _ = conv_forward_naive(x, w, np.zeros(32), {"stride": 1, "pad": 0})
as_matmul = np.einsum("fc,nchw->nfhw", w[:, :, 0, 0], x)
print("1x1 conv == per-pixel matrix product:", np.allclose(out, as_matmul))

# %% [readonly-markdown] id=matrix_intro
# ## 6. Convolution as a matrix multiply
#
# *Slide: "Convolution Layer vs FC layer".* A 3x3 input convolved with a 2x2 kernel gives 4
# outputs, A to D. Flatten the input to a 1x9 row vector: the same 4 outputs come out of one
# product with a 9x4 weight matrix whose column k holds the kernel's weights at the input
# positions under output k's window, and zeros elsewhere. The convolution *is* a fully
# connected layer whose weights are shared (every column holds the same four numbers) and
# mostly zero (each output sees a small window).
#
# Implement `conv_as_matrix(w, H, W)`: for a single-channel input of shape `(H, W)` and a
# kernel `w` of shape `(HH, WW)` (stride 1, no padding, no bias), return the matrix `M` of
# shape `(H*W, H'*W')` such that `x.reshape(-1) @ M` equals the flattened convolution output
# (both flattened in row-major order).


# %% [answer] id=ans_conv_as_matrix
def conv_as_matrix(w, H, W):
    """The (H*W, H'*W') matrix of a stride-1, unpadded convolution with kernel w (HH, WW)."""
    M = None
    ### BEGIN SOLUTION
    HH, WW = w.shape
    H_out, W_out = H - HH + 1, W - WW + 1
    M = np.zeros((H * W, H_out * W_out), dtype=w.dtype)
    for i in range(H_out):
        for j in range(W_out):
            col = np.zeros((H, W), dtype=w.dtype)
            col[i : i + HH, j : j + WW] = w
            M[:, i * W_out + j] = col.reshape(-1)
    ### END SOLUTION
    return M


# %% [check] id=conv_as_matrix

# %% [readonly] id=matrix_demo
M = conv_as_matrix(np.array([[1.0, 2.0], [3.0, 4.0]]), 3, 3)
print("the slide's 9x4 matrix for the kernel [[I, II], [III, IV]] = [[1, 2], [3, 4]]:")
print(M)
print(f"{np.count_nonzero(M)} of {M.size} entries are non-zero")

# %% [readonly-markdown] id=q_sharing_intro
# ## 7. Written question
#
# Look at the matrix printed above. Compare a convolution layer with 3x3x64 filters producing
# 64 channels on a 56x56x64 input with a fully connected layer mapping the same input to the
# same output size: how many weights does each have? Which two properties of the convolution
# does the matrix show, and why do they suit images? (A few sentences and the two counts.)

# %% [manual] id=q_sharing points=3
# The convolution has $3 \cdot 3 \cdot 64 \cdot 64 = 36{,}864$ weights (plus 64 biases); a
# fully connected layer from $56 \cdot 56 \cdot 64 = 200{,}704$ inputs to as many outputs would
# have $200{,}704^2 \approx 4 \cdot 10^{10}$. The matrix shows **local connectivity** (each
# column is non-zero only under one small window, so most entries are zero) and **weight
# sharing** (every column holds the same kernel weights, shifted). Both suit images: nearby
# pixels are the ones that are correlated, and a feature such as an edge looks the same
# wherever it appears, so one detector can be reused at every position (translation
# equivariance), with far fewer parameters to learn and to overfit.
