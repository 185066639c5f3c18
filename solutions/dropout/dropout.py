# %% [readonly-markdown] id=intro
# # Assignment: dropout
#
# Dropout sets a random part of a layer's units to zero at every training step. You implement
# it the way the slides do ("inverted dropout"), check that it keeps each unit's expected
# value, and watch what it does to a small network that overfits.
#
# **How to work.** Fill in every cell that says `# YOUR CODE HERE` (remove the
# `raise NotImplementedError()`), then run the check cell below it. A check prints what it
# measured and stops with a hint when something is wrong. The grade comes from hidden tests
# (more keep probabilities, float32, both modes). Use numpy only, and do not rename the
# functions or change their arguments.

# %% [readonly] id=setup
import numpy as np

from cnncourse import checks

np.set_printoptions(precision=4, suppress=True)

# %% [readonly-markdown] id=fwd_intro
# ## 1. Inverted dropout, forward
#
# *Slide: "Implementing Dropout (Inverted Dropout)".* In training, draw a uniform random
# number for every unit; keep the unit where the number is `< keep_prob` and zero it
# elsewhere; then divide the kept units by `keep_prob`:
#
# ```
# d = np.random.rand(*a.shape) < keep_prob
# a = a * d / keep_prob
# ```
#
# At test time: "No change to the network in testing time", the layer returns its input.
#
# Implement `dropout_forward(x, dropout_param)`. `dropout_param` holds `"keep_prob"`,
# `"mode"` (`"train"` or `"test"`) and optionally `"seed"`: when a seed is given, draw the
# mask from `np.random.default_rng(seed)` so that a run can be repeated. Return
# `(out, cache)` with `cache = (dropout_param, mask)` (the mask is `None` in test mode).


# %% [answer] id=ans_dropout_forward
def dropout_forward(x, dropout_param):
    """Inverted dropout. Returns (out, cache), out shaped like x (and of its dtype)."""
    keep_prob, mode = dropout_param["keep_prob"], dropout_param["mode"]
    out, mask = None, None
    ### BEGIN SOLUTION
    if mode == "train":
        rng = np.random.default_rng(dropout_param.get("seed"))
        mask = rng.random(x.shape) < keep_prob
        out = (x * mask / keep_prob).astype(x.dtype, copy=False)
    else:
        out = x.copy()
    ### END SOLUTION
    cache = (dropout_param, mask)
    return out, cache


# %% [check] id=dropout_forward

# %% [readonly-markdown] id=mean_intro
# Dropping units changes every single forward pass, but not the *average* one: over many
# masks the mean of each output unit is the input unit. Run the cell to see it.

# %% [readonly] id=mean_demo
x = np.linspace(1.0, 2.0, 5)
outs = [dropout_forward(x, {"keep_prob": 0.8, "mode": "train", "seed": s})[0] for s in range(4000)]
print("x                    :", x)
print("mean over 4000 masks :", np.mean(outs, axis=0))
print("one training pass    :", outs[0])

# %% [readonly-markdown] id=bwd_intro
# ## 2. Dropout, backward
#
# *Slide: "...in both forward & backward passes".* Dropout multiplies each unit by a constant
# (`mask / keep_prob`), so the backward pass multiplies the upstream gradient by the same
# constant: dropped units get no gradient. In test mode the layer is the identity and so is
# its gradient. Implement `dropout_backward(dout, cache)` returning `dx`.


# %% [answer] id=ans_dropout_backward
def dropout_backward(dout, cache):
    dropout_param, mask = cache
    dx = None
    ### BEGIN SOLUTION
    if dropout_param["mode"] == "train":
        dx = (dout * mask / dropout_param["keep_prob"]).astype(dout.dtype, copy=False)
    else:
        dx = dout
    ### END SOLUTION
    return dx


# %% [check] id=dropout_backward

# %% [readonly-markdown] id=q_scale_intro
# ## 3. Written question: why divide by keep_prob?
#
# The slide says: "20% of the a is set to zero, so /0.8 to get z at the right scale", with
# $z^{[l+1]} = w^{[l]} a^{[l]}$. Explain what goes wrong at test time if you drop units in
# training but do *not* divide by `keep_prob` (and change nothing at test time), and what the
# "non-inverted" alternative has to do at test time instead. Use the expected value of
# $z^{[l+1]}$ in your answer.

# %% [manual] id=q_scale points=3
# With a mask $d$ whose entries are 1 with probability $p$ = keep_prob, a training pass
# computes $z = w\,(d \odot a)$, whose expected value is $p\, w a$: the next layer is trained on
# inputs that are on average only $p$ times as large (0.8 here). At test time nothing is
# dropped, so without a correction $z = w a$ is $1/p$ times larger than anything the next layer
# saw in training, and every later layer (and the softmax) works outside the range it was
# trained on. Inverted dropout divides by $p$ during training, so
# $E[z] = w\, E[d \odot a] / p = w a$: training and test agree in expectation and the test-time
# network is the plain network. The non-inverted alternative leaves training unscaled and must
# multiply the activations (or the weights) by $p$ at test time instead, a change to the
# deployed network that is easy to forget.

# %% [readonly-markdown] id=net_intro
# ## 4. Dropout on a small network
#
# *Slide: "Why Dropout Helps": a unit "cannot rely on any particular feature", and dropout
# trains "multiple smaller networks".* Below, a two-layer network (64 - 256 - 10) learns the
# 8x8 handwritten digits of scikit-learn from only 100 training images, long enough to
# memorise them, once without dropout and once with your dropout (keep_prob 0.5) on the hidden
# layer. It uses the same seeds for both runs; nothing to write, just run it (a few seconds).

# %% [readonly] id=net_demo
from sklearn.datasets import load_digits


def train_two_layer(X, y, X_val, y_val, keep_prob, steps=300, lr=0.3, seed=0):
    rng = np.random.default_rng(seed)
    D, H, C = X.shape[1], 256, 10
    W1 = rng.standard_normal((D, H)) * np.sqrt(2.0 / D)
    b1 = np.zeros(H)
    W2 = rng.standard_normal((H, C)) * np.sqrt(2.0 / H)
    b2 = np.zeros(C)
    for step in range(steps):
        h = np.maximum(0, X @ W1 + b1)
        hd, cache = dropout_forward(h, {"keep_prob": keep_prob, "mode": "train", "seed": step})
        scores = hd @ W2 + b2
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        dscores = p.copy()
        dscores[np.arange(len(y)), y] -= 1
        dscores /= len(y)
        dW2, db2 = hd.T @ dscores, dscores.sum(axis=0)
        dh = dropout_backward(dscores @ W2.T, cache) * (h > 0)
        dW1, db1 = X.T @ dh, dh.sum(axis=0)
        for param, grad in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2)):
            param -= lr * grad

    def evaluate(A, labels):
        """(accuracy, mean cross-entropy loss) in test mode."""
        hidden, _ = dropout_forward(
            np.maximum(0, A @ W1 + b1), {"keep_prob": keep_prob, "mode": "test"}
        )
        scores = hidden @ W2 + b2
        scores -= scores.max(axis=1, keepdims=True)
        log_p = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
        accuracy = np.mean(np.argmax(scores, axis=1) == labels)
        return float(accuracy), float(-log_p[np.arange(len(labels)), labels].mean())

    return evaluate(X, y), evaluate(X_val, y_val)


digits = load_digits()
images, labels = digits.data / 16.0, digits.target
order = np.random.default_rng(0).permutation(len(labels))
train, val = order[:100], order[100:1100]
results = {}
for kp in (1.0, 0.5):
    results[kp] = train_two_layer(images[train], labels[train], images[val], labels[val], kp)
    (train_acc, train_loss), (val_acc, val_loss) = results[kp]
    print(
        f"keep_prob {kp}: train accuracy {train_acc:.3f} (loss {train_loss:.3f}), "
        f"validation accuracy {val_acc:.3f} (loss {val_loss:.3f})"
    )

# %% [readonly-markdown] id=q_effect_intro
# Compare the two runs: training and validation accuracy and loss. What does dropout change
# here, and why is the effect modest on this data set? Would you expect dropout to help a
# network that *underfits* (training accuracy far from 100%)? Two or three sentences.

# %% [manual] id=q_effect points=2
# Both runs memorise the 100 training images (accuracy 1.000); with keep_prob 0.5 the
# validation accuracy is a little higher (0.908 against 0.902) and the validation loss a little
# lower, so the gap between training and validation narrows slightly. Dropout is a
# regulariser: since any hidden unit may vanish, the network cannot rely on a few co-adapted
# units and spreads the evidence over many, which reduces overfitting. The effect is modest
# because 8x8 digits are easy and a 256-unit layer trained for 300 steps overfits only mildly;
# it grows with bigger networks and harder data. A network that underfits has no gap to close;
# dropout only reduces its effective capacity further, so it would not help there (use a bigger
# model or train longer).
