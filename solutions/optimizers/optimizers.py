# %% [readonly-markdown] id=intro
# # Assignment: optimizers
#
# Gradient descent takes a step against the gradient. The slides improve on the plain step in
# three ways: momentum averages the recent gradients, RMSprop divides each coordinate by the
# size of its recent gradients, and Adam does both, with a bias correction for the first
# steps. You implement all four update rules and three learning-rate schedules, race them on
# a 2-D loss surface and train a small network with each.
#
# **How to work.** Fill in every cell that says `# YOUR CODE HERE` (remove the
# `raise NotImplementedError()`), then run the check cell below it. A check runs your rule and
# the course's reference for several steps side by side, prints the relative error of the
# weights and of the optimizer's state, and stops with a hint when something is wrong. The
# grade comes from hidden tests (more steps, other hyper-parameters, float32). Use numpy only;
# do not rename the functions or change their arguments.
#
# Every update rule has the shape `next_w, config = rule(w, dw, config)`: `config` holds the
# hyper-parameters (`learning_rate`, ...) and the optimizer's state (`velocity`, `cache`, `m`,
# `v`, `t`), which starts at zeros ("Initial v = 0") and must be stored back into `config`.

# %% [readonly] id=setup
import numpy as np

from cnncourse import checks

np.set_printoptions(precision=4, suppress=True)

# %% [readonly-markdown] id=sgd_intro
# ## 1. SGD
#
# *Slide: "SGD with Mini Batch".* `w = w - learning_rate * dw`.


# %% [answer] id=ans_sgd
def sgd(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    next_w = None
    ### BEGIN SOLUTION
    next_w = w - config["learning_rate"] * dw
    ### END SOLUTION
    return next_w, config


# %% [check] id=sgd

# %% [readonly-markdown] id=momentum_intro
# ## 2. Momentum
#
# *Slide: "Momentum".* Keep `v`, an exponentially weighted average of the recent gradients,
# and step along it:
#
# $$v = \beta v + (1 - \beta)\,dW, \qquad w = w - \alpha v,$$
#
# with `beta = config["momentum"]` (0.9: roughly the average of the last
# $1/(1 - \beta) = 10$ gradients). Store `v` in `config["velocity"]`. (This is the slides'
# averaged form; torch's `SGD(momentum=0.9)` drops the $(1 - \beta)$, which only rescales the
# learning rate.)


# %% [answer] id=ans_sgd_momentum
def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity")
    if v is None:
        v = np.zeros_like(w)
    next_w = None
    ### BEGIN SOLUTION
    beta = config["momentum"]
    v = beta * v + (1 - beta) * dw
    next_w = w - config["learning_rate"] * v
    ### END SOLUTION
    config["velocity"] = v
    return next_w, config


# %% [check] id=sgd_momentum

# %% [readonly-markdown] id=rmsprop_intro
# ## 3. RMSprop
#
# *Slide: "RMSprop".* Keep `S`, an exponentially weighted average of the *squared* gradients
# (elementwise), and divide each coordinate's step by its root:
#
# $$S = \beta S + (1 - \beta)\,dW^2, \qquad w = w - \alpha\, \frac{dW}{\sqrt{S} + \epsilon}.$$
#
# Coordinates with large gradients (the slide's vertical direction) take smaller steps.
# `beta = config["decay_rate"]`, $\epsilon$ = `config["epsilon"]` goes *outside* the square
# root (as in Hinton's lecture and in torch); store `S` in `config["cache"]`.


# %% [answer] id=ans_rmsprop
def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    cache = config.get("cache")
    if cache is None:
        cache = np.zeros_like(w)
    next_w = None
    ### BEGIN SOLUTION
    beta = config["decay_rate"]
    cache = beta * cache + (1 - beta) * dw**2
    next_w = w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    ### END SOLUTION
    config["cache"] = cache
    return next_w, config


# %% [check] id=rmsprop

# %% [readonly-markdown] id=adam_intro
# ## 4. Adam
#
# *Slide: "Adam (adaptive momentum estimation)".* Momentum and RMSprop together. On step $t$
# (counting from 1):
#
# $$v = \beta_1 v + (1 - \beta_1)\,dW, \qquad S = \beta_2 S + (1 - \beta_2)\,dW^2,$$
# $$v^\text{correct} = \frac{v}{1 - \beta_1^t}, \qquad S^\text{correct} = \frac{S}{1 - \beta_2^t},
#   \qquad w = w - \alpha\, \frac{v^\text{correct}}{\sqrt{S^\text{correct}} + \epsilon}.$$
#
# The corrections matter in the first steps: both averages start at 0, so after one step
# $v = 0.1\,dW$ and $S = 0.001\,dW^2$ are far too small, and by different factors. Increment
# `t` *before* using it. In `config` the two averages are called `m` (the slide's $v$) and `v`
# (the slide's $S$), as in the Adam paper and CS231n; $\epsilon$ goes outside the square root,
# as in the paper and torch. Store all three back in `config`: `m`, `v` and the step count
# `t` (the number of steps taken so far), which the checks read back after every step.


# %% [answer] id=ans_adam
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
    next_w = None
    ### BEGIN SOLUTION
    beta1, beta2 = config["beta1"], config["beta2"]
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    config["t"] = t
    ### END SOLUTION
    config["m"], config["v"] = m, v
    return next_w, config


# %% [check] id=adam

# %% [readonly-markdown] id=decay_intro
# ## 5. Learning-rate decay
#
# *Slide: "Learning Rate Decay".* Large steps early, small steps late, so that the search
# settles "within a tighter neighborhood". Implement the slide's three schedules as functions
# of the initial rate and the epoch, counted from 0:
#
# - `inverse_time_decay`: $\alpha = \alpha_0 / (1 + \text{decay\_rate} \cdot \text{epoch})$;
# - `exponential_decay`: $\alpha = \alpha_0 \cdot \gamma^\text{epoch}$ (the slide's
#   $0.95^\text{epoch\_num}$);
# - `inverse_sqrt_decay`: the slide's $k / \sqrt{\text{epoch\_num}}$ counts epochs from 1,
#   so with epochs from 0 it is $\alpha_0 / \sqrt{\text{epoch} + 1}$.


# %% [answer] id=ans_schedules
def inverse_time_decay(learning_rate, epoch, decay_rate=1.0):
    ### BEGIN SOLUTION
    return learning_rate / (1.0 + decay_rate * epoch)
    ### END SOLUTION


def exponential_decay(learning_rate, epoch, gamma=0.95):
    ### BEGIN SOLUTION
    return learning_rate * gamma**epoch
    ### END SOLUTION


def inverse_sqrt_decay(learning_rate, epoch):
    ### BEGIN SOLUTION
    return learning_rate / np.sqrt(epoch + 1)
    ### END SOLUTION


# %% [check] id=lr_schedules

# %% [readonly-markdown] id=race_intro
# ## 6. A race on a 2-D loss surface
#
# *Slide: "Momentum": "The learning rate must be very slow if standard gradient descent is
# used".* The surface below is a long, narrow valley, $L(w) = 0.05\,w_1^2 + 5\,w_2^2$: the
# gradient is 100 times steeper across the valley ($w_2$) than along it ($w_1$). Plain SGD
# needs a small learning rate not to bounce across the valley, and then crawls along it. Each
# optimizer runs from the same start with the learning rate that suits it (the rule from the
# slides: tune $\alpha$). The table shows how many steps each needs to bring the loss under
# $10^{-3}$; your implementations run the race.


# %% [readonly] id=race_demo
def valley(w):
    return 0.05 * w[0] ** 2 + 5.0 * w[1] ** 2, np.array([0.1 * w[0], 10.0 * w[1]])


def race(rule, config, steps=1000, start=(-8.0, 1.0)):
    w = np.array(start)
    path = [w.copy()]
    for step in range(1, steps + 1):
        _, dw = valley(w)
        w, config = rule(w, dw, config)
        path.append(w.copy())
        if valley(w)[0] < 1e-3:
            return step, np.array(path)
    return None, np.array(path)


contestants = {
    "sgd": (sgd, {"learning_rate": 0.19}),
    "sgd_momentum": (sgd_momentum, {"learning_rate": 1.0, "momentum": 0.9}),
    "rmsprop": (rmsprop, {"learning_rate": 0.05, "decay_rate": 0.99}),
    "adam": (adam, {"learning_rate": 0.3}),
}
paths = {}
for name, (rule, config) in contestants.items():
    steps, paths[name] = race(rule, dict(config))
    verdict = f"{steps} steps" if steps else "did not get there in 1000 steps"
    print(f"{name:13s} lr {config['learning_rate']:<5}: {verdict}")

# %% [readonly-markdown] id=net_intro
# ## 7. Training a small network with each optimizer
#
# The same two-layer network (64 - 64 - 10) learns scikit-learn's 8x8 digits from mini-batches
# of 50 images, for 150 steps with each of your update rules (run the cell; a few seconds).
# The learning rates are typical starting points for each rule, not tuned winners.

# %% [readonly] id=net_demo
from sklearn.datasets import load_digits


def net_loss(params, X, y):
    """Loss and gradients of affine - relu - affine - softmax."""
    h = np.maximum(0, X @ params["W1"] + params["b1"])
    scores = h @ params["W2"] + params["b2"]
    scores = scores - scores.max(axis=1, keepdims=True)
    p = np.exp(scores)
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(len(y)), y]).mean()
    dscores = p
    dscores[np.arange(len(y)), y] -= 1
    dscores /= len(y)
    dh = (dscores @ params["W2"].T) * (h > 0)
    grads = {"W2": h.T @ dscores, "b2": dscores.sum(axis=0), "W1": X.T @ dh, "b1": dh.sum(axis=0)}
    return loss, grads


digits = load_digits()
X_all, y_all = digits.data / 16.0, digits.target
order = np.random.default_rng(0).permutation(len(y_all))
train, val = order[:1200], order[1200:]
settings = {
    "sgd": {"learning_rate": 0.5},
    "sgd_momentum": {"learning_rate": 0.5},
    "rmsprop": {"learning_rate": 1e-3},
    "adam": {"learning_rate": 1e-3},
}
for name, hyper in settings.items():
    rule = contestants[name][0]
    rng = np.random.default_rng(1)
    params = {
        "W1": rng.standard_normal((64, 64)) * np.sqrt(2 / 64),
        "b1": np.zeros(64),
        "W2": rng.standard_normal((64, 10)) * np.sqrt(2 / 64),
        "b2": np.zeros(10),
    }
    configs = {k: dict(hyper) for k in params}
    for _ in range(150):
        batch = rng.choice(train, 50, replace=False)
        loss, grads = net_loss(params, X_all[batch], y_all[batch])
        for k in params:
            params[k], configs[k] = rule(params[k], grads[k], configs[k])
    h = np.maximum(0, X_all[val] @ params["W1"] + params["b1"])
    acc = np.mean(np.argmax(h @ params["W2"] + params["b2"], axis=1) == y_all[val])
    print(f"{name:13s}: last mini-batch loss {loss:.3f}, validation accuracy {acc:.3f}")

# %% [readonly-markdown] id=q_race_intro
# ## 8. Written question
#
# (a) Use the race: why does plain SGD need so many steps on the valley, and how do momentum
# and RMSprop each get around the problem?
# (b) Without bias correction, how large is Adam's very first step compared to
# $\alpha$ (take $\beta_1 = 0.9$, $\beta_2 = 0.999$, a single coordinate, $\epsilon \approx 0$)?
# What is it with the correction?

# %% [manual] id=q_race points=3
# (a) The learning rate must stay below $2/10 = 0.2$, or the steep $w_2$ direction (curvature
# 10) oscillates and diverges; at that rate the shallow $w_1$ direction (curvature 0.1) shrinks
# by only $1 - 0.1\alpha \approx 0.98$ per step, so SGD crawls along the valley for hundreds of
# steps (211 in the race). Momentum averages the gradients: the alternating $w_2$ components
# cancel while the consistent $w_1$ components add up, so the oscillation across the valley is
# damped and a five times larger rate (1.0) stays stable; along the valley that is five times
# faster (80 steps). RMSprop divides every coordinate by the root of its own mean squared
# gradient, so both directions take steps of similar size regardless of their steepness (179
# steps; with a fixed rate its steps stay about $\alpha$ long, so it needs a small enough rate,
# or a decaying one, to settle in the minimum). Adam combines both and wins (34 steps).
#
# (b) After one step $m = 0.1\,g$ and $v = 0.001\,g^2$, so the uncorrected step is
# $\alpha \cdot 0.1|g| / \sqrt{0.001}|g| = \alpha \cdot 0.1/0.0316 \approx 3.16\,\alpha$: more than
# three times the intended size, whatever the gradient. With the correction
# $\hat m = m / 0.1 = g$ and $\hat v = v / 0.001 = g^2$, so the first step is exactly
# $\alpha \cdot \mathrm{sign}(g)$, of size $\alpha$.
