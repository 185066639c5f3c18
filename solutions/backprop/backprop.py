# %% [readonly-markdown] id=intro
# # Assignment: back-propagation
#
# Back-propagation is the chain rule applied recursively, node by node, from the loss back to
# every parameter. You start with the slides' three-node graph, work out what the add,
# multiply and max gates do with a gradient, then write the forward and backward passes of the
# layers of a two-layer network (affine, ReLU, softmax loss) and check the whole network's
# gradients against numerical ones.
#
# **How to work.** Fill in every cell that says `# YOUR CODE HERE` (remove the
# `raise NotImplementedError()`), then run the check cell below it. A check runs your function
# and a reference on seeded random inputs, prints the relative error, and stops with a hint
# when something is wrong. The grade comes from hidden tests with more seeds, shapes, float32
# inputs and extreme values, so write general code. Use numpy only (the grader refuses the
# `cnncourse.layers` references and torch's autograd). Do not rename the functions or change
# their arguments.

# %% [readonly] id=setup
import numpy as np

from cnncourse import checks
from cnncourse.gradcheck import eval_numerical_gradient, rel_error

np.set_printoptions(precision=4, suppress=True)

# %% [readonly-markdown] id=graph_intro
# ## 1. The slides' graph
#
# *Slides: "Back-Propagation", the example $f(x, y, z) = (x + y)z$ at $x = -2, y = 5,
# z = -4$.* The graph has two nodes: $q = x + y$ and $f = qz$. The forward pass computes and
# saves the intermediate value $q$; the backward pass starts from $\partial f/\partial f = 1$
# and applies the chain rule, e.g.
# $\frac{\partial f}{\partial x} = \frac{\partial f}{\partial q}\frac{\partial q}{\partial x}$.
#
# First write down the numbers at the slides' point (plain numbers, worked by hand).

# %% [answer] id=ans_slide_numbers
q = None
f = None
df_dq = None
df_dx, df_dy, df_dz = None, None, None
### BEGIN SOLUTION
q = -2 + 5
f = q * -4
df_dq = -4  # = z
df_dz = q
df_dx = df_dq * 1
df_dy = df_dq * 1
### END SOLUTION
print(f"q = {q}, f = {f}, df/dq = {df_dq}, df/dx = {df_dx}, df/dy = {df_dy}, df/dz = {df_dz}")

# %% [check] id=slide_numbers

# %% [readonly-markdown] id=graph_fn_intro
# Now the same computation as a function of any point: `graph_forward_backward(x, y, z)`
# returns `(f, (df_dx, df_dy, df_dz))`. Compute the forward pass, keep $q$, and go backwards.


# %% [answer] id=ans_graph
def graph_forward_backward(x, y, z):
    """f = (x + y) * z and its gradient. Returns (f, (df_dx, df_dy, df_dz))."""
    ### BEGIN SOLUTION
    q = x + y  # forward, first node
    f = q * z  # forward, second node
    df_dq, df_dz = z, q  # multiply gate: each input gets the other one
    df_dx, df_dy = df_dq, df_dq  # add gate: both inputs get df/dq
    return f, (df_dx, df_dy, df_dz)
    ### END SOLUTION


# %% [check] id=graph_function

# %% [readonly-markdown] id=gates_intro
# ## 2. Gates
#
# Every node only needs its *local* gradient and the gradient arriving from above, `dout`.
# Three gates come up everywhere:
#
# - **add** $x + y$: *distributes*, both inputs receive `dout`;
# - **multiply** $x y$: *swaps*, $dx = $ `dout` $\cdot\, y$ and $dy = $ `dout` $\cdot\, x$;
# - **max** $\max(x, y)$: *routes*, the larger input receives `dout`, the other 0.
#
# Implement their backward passes for arrays (elementwise): each takes `(dout, x, y)` and
# returns `(dx, dy)`.


# %% [answer] id=ans_gates
def add_gate_backward(dout, x, y):
    ### BEGIN SOLUTION
    return dout * np.ones_like(x), dout * np.ones_like(y)
    ### END SOLUTION


def mul_gate_backward(dout, x, y):
    ### BEGIN SOLUTION
    return dout * y, dout * x
    ### END SOLUTION


def max_gate_backward(dout, x, y):
    ### BEGIN SOLUTION
    x_wins = x > y
    return dout * x_wins, dout * ~x_wins
    ### END SOLUTION


# %% [check] id=gates

# %% [readonly-markdown] id=affine_intro
# ## 3. The affine (fully connected) layer
#
# *Slide: "Fully Connected Layer".* Each example `x[i]` (of any shape `(d1, ..., dk)`) is
# flattened to a row of `D = d1 * ... * dk` numbers; the layer computes `out = x_rows @ w + b`
# with `w` of shape `(D, M)`. The backward pass is two multiply gates and one add gate in
# matrix form: `dx = dout @ w.T` (reshaped back to `x`'s shape), `dw = x_rows.T @ dout`,
# `db = dout.sum(axis=0)`. A shape check is the best debugging tool here: every gradient has
# the shape of what it is the gradient of.
#
# Implement `affine_forward(x, w, b)` returning `(out, cache)` with `cache = (x, w, b)` and
# `affine_backward(dout, cache)` returning `(dx, dw, db)`.


# %% [answer] id=ans_affine_forward
def affine_forward(x, w, b):
    """x: (N, d1, ..., dk), w: (D, M), b: (M,). Returns (out, cache), out (N, M)."""
    out = None
    ### BEGIN SOLUTION
    out = x.reshape(x.shape[0], -1) @ w + b
    ### END SOLUTION
    cache = (x, w, b)
    return out, cache


# %% [check] id=affine_forward


# %% [answer] id=ans_affine_backward
def affine_backward(dout, cache):
    """dout: (N, M). Returns (dx, dw, db) shaped like x, w and b."""
    dx, dw, db = None, None, None
    ### BEGIN SOLUTION
    x, w, b = cache
    x_rows = x.reshape(x.shape[0], -1)
    dx = (dout @ w.T).reshape(x.shape)
    dw = x_rows.T @ dout
    db = dout.sum(axis=0)
    ### END SOLUTION
    return dx, dw, db


# %% [check] id=affine_backward

# %% [readonly-markdown] id=relu_intro
# ## 4. ReLU
#
# *Slides: "Activation Functions", ReLU $\max(0, x)$, "hint: what is the gradient when
# $x < 0$?".* ReLU is a max gate against 0: the gradient passes where the input was positive
# and is 0 elsewhere. Keep the *input* in the cache: the mask comes from the sign of `x`.
#
# Implement `relu_forward(x)` returning `(out, cache)` with `cache = x`, and
# `relu_backward(dout, cache)` returning `dx`.


# %% [answer] id=ans_relu_forward
def relu_forward(x):
    out = None
    ### BEGIN SOLUTION
    out = np.maximum(0, x)
    ### END SOLUTION
    cache = x
    return out, cache


# %% [check] id=relu_forward


# %% [answer] id=ans_relu_backward
def relu_backward(dout, cache):
    dx = None
    ### BEGIN SOLUTION
    x = cache
    dx = dout * (x > 0)
    ### END SOLUTION
    return dx


# %% [check] id=relu_backward

# %% [readonly-markdown] id=softmax_intro
# ## 5. The softmax loss
#
# *Slide: the digits example, "Probabilities being 5 and 7".* Class scores become
# probabilities $p_{ij} = e^{s_{ij}} / \sum_k e^{s_{ik}}$, and the loss is the mean of
# $-\log p_{i, y_i}$. Its gradient is remarkably simple:
# $\partial L / \partial s_{ij} = (p_{ij} - [j = y_i]) / N$.
#
# One trap: $e^{1000}$ overflows to `inf` (in float32 already $e^{89}$ does), and
# `inf / inf` is `nan`. Subtracting each row's largest score first changes no probability
# (numerator and denominator are both divided by the same $e^{\max}$) and keeps every
# exponent $\le 0$. The check below feeds you scores of size 1000.
#
# Implement `softmax_loss(scores, y)` returning `(loss, dscores)`.


# %% [answer] id=ans_softmax_loss
def softmax_loss(scores, y):
    """scores: (N, C), y: (N,) labels in [0, C). Returns (loss, dscores)."""
    loss, dscores = None, None
    ### BEGIN SOLUTION
    N = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(N), y].mean()
    dscores = np.exp(log_probs)
    dscores[np.arange(N), y] -= 1
    dscores /= N
    ### END SOLUTION
    return loss, dscores


# %% [check] id=softmax_loss

# %% [readonly-markdown] id=net_intro
# ## 6. A two-layer network
#
# *Slides: "1. Sample a batch, 2. Forward prop it through the graph, get loss, 3. Backprop to
# calculate the gradients".* Put the layers together:
# `affine -> relu -> affine -> softmax loss`. The backward pass calls the backward functions in
# the reverse order, each with its own cache, and the gradient arriving at each layer is the
# one the layer above returned.
#
# Implement `two_layer_net(X, W1, b1, W2, b2, y)` returning `(loss, grads)` where `grads` is a
# dict with the keys `"W1"`, `"b1"`, `"W2"`, `"b2"`. Use your functions from above.


# %% [answer] id=ans_two_layer_net
def two_layer_net(X, W1, b1, W2, b2, y):
    loss, grads = None, {}
    ### BEGIN SOLUTION
    h, cache1 = affine_forward(X, W1, b1)
    a, cache_relu = relu_forward(h)
    scores, cache2 = affine_forward(a, W2, b2)
    loss, dscores = softmax_loss(scores, y)
    da, grads["W2"], grads["b2"] = affine_backward(dscores, cache2)
    dh = relu_backward(da, cache_relu)
    _, grads["W1"], grads["b1"] = affine_backward(dh, cache1)
    ### END SOLUTION
    return loss, grads


# %% [check] id=two_layer_net

# %% [readonly-markdown] id=numgrad_intro
# The check compared with torch's autograd. A **numerical gradient check** needs nothing but
# the forward pass: nudge each weight by $\pm h$ and look at the change of the loss,
# $\frac{L(w + h) - L(w - h)}{2h}$. It costs two forward passes *per parameter*, which is why
# networks are trained with back-propagation (one backward pass for all parameters), but it is
# the standard way to test a backward pass. Expect relative errors around 1e-8 or smaller.

# %% [readonly] id=numgrad_demo
rng = np.random.default_rng(0)
X = rng.standard_normal((5, 4))
y = rng.integers(0, 3, size=5)
params = {
    "W1": 0.5 * rng.standard_normal((4, 6)),
    "b1": 0.1 * rng.standard_normal(6),
    "W2": 0.5 * rng.standard_normal((6, 3)),
    "b2": 0.1 * rng.standard_normal(3),
}
loss, grads = two_layer_net(X, params["W1"], params["b1"], params["W2"], params["b2"], y)
print(f"loss = {loss:.4f}")
for name in ("W1", "b1", "W2", "b2"):
    num = eval_numerical_gradient(lambda v: two_layer_net(X, **params, y=y)[0], params[name])
    print(f"{name}: relative error vs numerical gradient {rel_error(grads[name], num):.2e}")

# %% [readonly-markdown] id=q_gates_intro
# ## 7. Written question
#
# (a) In the slides' graph, $\partial f/\partial x = \partial f/\partial y = -4$. Explain,
# with the gates, why $x$ and $y$ get the same gradient and why it equals $z$.
# (b) A network has a million weights. Compare the cost of computing all gradients with
# numerical differences and with back-propagation, and say why we still run numerical
# gradient checks.

# %% [manual] id=q_gates points=3
# (a) $x$ and $y$ meet in an add gate, which passes the gradient arriving from above to each
# input unchanged (its local gradients are 1). What arrives is $\partial f/\partial q$, and $q$
# enters a multiply gate with $z$, whose local gradient for $q$ is the other input, $z = -4$.
# So $\partial f/\partial x = \partial f/\partial y = z \cdot 1 = -4$.
#
# (b) Centered differences need two forward passes per weight: two million forward passes
# for one gradient. Back-propagation gets all million partial derivatives from one forward
# and one backward pass (of about the same cost), reusing each layer's upstream gradient
# (dL/dw_{l+1} is reused for dL/dw_l). We still run numerical checks on small inputs because
# they only need the forward pass, so they catch mistakes in hand-written backward passes.
