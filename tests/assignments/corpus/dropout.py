"""The dropout assignment: inverted dropout forward and backward."""

from __future__ import annotations

from corpus.model import Assignment, Bug

FWD, BWD = "ans_dropout_forward", "ans_dropout_backward"

FORWARD = [
    # default_rng, np.where, cache as a tuple; test mode returns x itself
    """
def dropout_forward(x, dropout_param):
    p, mode = dropout_param["keep_prob"], dropout_param["mode"]
    mask = None
    if mode == "train":
        rng = np.random.default_rng(dropout_param.get("seed"))
        mask = rng.random(x.shape) < p
        out = np.where(mask, x / p, 0).astype(x.dtype)
    else:
        out = x
    return out, (mask, p, mode)
""",
    # the legacy global generator, seeded when a seed is given; a scaled float mask in a dict
    """
def dropout_forward(x, dropout_param):
    keep_prob = dropout_param["keep_prob"]
    mode = dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    cache = {"mode": mode}
    if mode == "train":
        cache["mask"] = (np.random.rand(*x.shape) < keep_prob) / keep_prob
        out = (x * cache["mask"]).astype(x.dtype)
    else:
        out = x.copy()
    return out, cache
""",
    # RandomState and binomial draws; in-place scaling of a fresh array; an object cache
    """
from types import SimpleNamespace


def dropout_forward(x, dropout_param):
    keep_prob, mode = dropout_param["keep_prob"], dropout_param["mode"]
    cache = SimpleNamespace(mode=mode, keep_prob=keep_prob, mask=None)
    if mode == "test":
        return x.copy(), cache
    rs = np.random.RandomState(dropout_param.get("seed"))
    cache.mask = rs.binomial(1, keep_prob, size=x.shape).astype(bool)
    out = x * cache.mask
    out /= keep_prob
    return out, cache
""",
    # uniform draws compared with 1 - keep_prob, float32 arithmetic for float32 inputs
    """
def dropout_forward(x, dropout_param):
    keep_prob, mode = dropout_param["keep_prob"], dropout_param["mode"]
    scale = x.dtype.type(1.0 / keep_prob)
    if mode != "train":
        return np.array(x, copy=True), [mode, None, scale]
    seed = dropout_param.get("seed", None)
    generator = np.random.default_rng(seed)
    keep = generator.uniform(0.0, 1.0, size=x.shape) >= 1.0 - keep_prob
    out = x * keep.astype(x.dtype) * scale
    return out, [mode, keep, scale]
""",
    # numpy's Philox bit generator behind an explicit Generator (the cell allows numpy only:
    # torch is not in the grader's sandbox); a slotted cache object
    """
class DropoutCache:
    __slots__ = ("keep", "keep_prob", "train")

    def __init__(self, keep, keep_prob, train):
        self.keep, self.keep_prob, self.train = keep, keep_prob, train


def dropout_forward(x, dropout_param):
    keep_prob = dropout_param["keep_prob"]
    train = dropout_param["mode"] == "train"
    if not train:
        return x[...], DropoutCache(None, keep_prob, False)
    seed = dropout_param.get("seed")
    bits = np.random.Philox(None if seed is None else int(seed))
    keep = np.random.Generator(bits).random(x.shape, dtype=np.float64) < keep_prob
    out = np.zeros_like(x)
    out[keep] = x[keep] / keep_prob
    return out, DropoutCache(keep, keep_prob, True)
""",
    # an explicit loop over rows, the mask built row by row
    """
def dropout_forward(x, dropout_param):
    keep_prob, mode = dropout_param["keep_prob"], dropout_param["mode"]
    out, mask = None, None
    if mode == "train":
        seed = dropout_param.get("seed")
        rng = np.random.default_rng() if seed is None else np.random.default_rng(seed)
        mask = np.empty(x.shape, dtype=bool)
        flat_mask = mask.reshape(len(x), -1)
        for row in range(len(x)):
            flat_mask[row] = rng.random(flat_mask.shape[1]) < keep_prob
        out = x * mask / keep_prob
    else:
        out = 1.0 * x
    cache = (dropout_param, mask)
    return out, cache
""",
]

BACKWARD = [
    """
def dropout_backward(dout, cache):
    mask, p, mode = cache
    if mode == "train":
        return np.where(mask, dout / p, 0).astype(dout.dtype)
    return dout
""",
    """
def dropout_backward(dout, cache):
    if cache["mode"] == "train":
        return dout * cache["mask"]
    return dout.copy()
""",
    """
def dropout_backward(dout, cache):
    if cache.mode == "test":
        return dout
    dx = dout * cache.mask
    dx /= cache.keep_prob
    return dx
""",
    """
def dropout_backward(dout, cache):
    mode, keep, scale = cache
    if mode != "train":
        return np.array(dout, copy=True)
    return dout * keep.astype(dout.dtype) * scale
""",
    """
def dropout_backward(dout, cache):
    if not cache.train:
        return dout[...]
    dx = np.zeros_like(dout)
    dx[cache.keep] = dout[cache.keep] / cache.keep_prob
    return dx
""",
    """
def dropout_backward(dout, cache):
    dropout_param, mask = cache
    dx = None
    if dropout_param["mode"] == "train":
        dx = dout * mask / dropout_param["keep_prob"]
    else:
        dx = 1.0 * dout
    return dx
""",
]

KEPT = "test_train_kept_values_are_scaled"
F32 = "test_train_float32"

BUGS = (
    # ------------------------------------------------------------ forward
    Bug(
        "not_inverted",
        FWD,
        "keeps x * mask without dividing by keep_prob (plain dropout): the kept values are "
        "wrong in float64 and float32; the fraction, the seed and test mode are right",
        tests=frozenset({KEPT, F32}),
        base=0,
        edits=(("np.where(mask, x / p, 0)", "np.where(mask, x, 0)"),),
    ),
    Bug(
        "not_inverted_rows",
        FWD,
        "the same mistake in the loop style: out = x * mask",
        tests=frozenset({KEPT, F32}),
        base=5,
        edits=(("out = x * mask / keep_prob", "out = x * mask"),),
    ),
    Bug(
        "keeps_with_drop_probability",
        FWD,
        "keeps a unit with probability 1 - keep_prob (reads keep_prob as the drop rate): "
        "right only at keep_prob 0.5 (and at keep_prob 1 it drops every unit)",
        tests=frozenset({"test_train_keep_fraction", KEPT}),
        base=3,
        edits=((">= 1.0 - keep_prob", ">= keep_prob"),),
    ),
    Bug(
        "keeps_with_drop_probability_rs",
        FWD,
        "binomial(1, 1 - keep_prob): again the drop rate where the keep rate is meant",
        tests=frozenset({"test_train_keep_fraction", KEPT}),
        base=2,
        edits=(("rs.binomial(1, keep_prob,", "rs.binomial(1, 1 - keep_prob,"),),
    ),
    Bug(
        "ignores_seed",
        FWD,
        "draws from an unseeded generator: the same seed gives a different mask",
        tests=frozenset({"test_seed_fixes_the_mask"}),
        base=0,
        edits=(('np.random.default_rng(dropout_param.get("seed"))', "np.random.default_rng()"),),
    ),
    Bug(
        "seeds_only_once",
        FWD,
        "seeds the global generator only the first time it is called",
        tests=frozenset({"test_seed_fixes_the_mask"}),
        base=1,
        edits=(
            (
                '    if "seed" in dropout_param:\n        np.random.seed(dropout_param["seed"])\n',
                "    global _seeded\n"
                '    if "seed" in dropout_param and not globals().get("_seeded"):\n'
                '        np.random.seed(dropout_param["seed"])\n        _seeded = True\n',
            ),
        ),
    ),
    Bug(
        "drops_in_test_mode",
        FWD,
        "applies a fresh mask in test mode as well",
        tests=frozenset({"test_test_mode_is_identity"}),
        base=2,
        edits=(('    if mode == "test":\n        return x.copy(), cache\n', ""),),
    ),
    Bug(
        "scales_in_test_mode",
        FWD,
        "multiplies by keep_prob at test time, as non-inverted dropout does",
        tests=frozenset({"test_test_mode_is_identity"}),
        base=3,
        edits=(
            (
                "return np.array(x, copy=True), [mode, None, scale]",
                "return x * keep_prob, [mode, None, scale]",
            ),
        ),
    ),
    Bug(
        "float32_upcast",
        FWD,
        "multiplies by a float64 mask / keep_prob: a float32 input gives a float64 output, "
        "which the cell's docstring rules out",
        tests=frozenset({F32}),
        base=1,
        edits=(('out = (x * cache["mask"]).astype(x.dtype)', 'out = x * cache["mask"]'),),
    ),
    Bug(
        "float32_upcast_philox",
        FWD,
        "builds the output in float64 whatever x's dtype",
        tests=frozenset({F32}),
        base=4,
        edits=(("out = np.zeros_like(x)", "out = np.zeros(x.shape)"),),
    ),
    Bug(
        "ignores_seed_rows",
        FWD,
        "the loop style with an unseeded generator",
        tests=frozenset({"test_seed_fixes_the_mask"}),
        base=5,
        edits=(("else np.random.default_rng(seed)", "else np.random.default_rng()"),),
    ),
    Bug(
        "keeps_with_drop_probability_philox",
        FWD,
        "Generator.random(...) < 1 - keep_prob: the drop rate again",
        tests=frozenset({"test_train_keep_fraction", KEPT}),
        base=4,
        edits=(("< keep_prob\n", "< 1 - keep_prob\n"),),
    ),
    Bug(
        "keeps_with_drop_probability_legacy",
        FWD,
        "rand > keep_prob keeps a unit with probability 1 - keep_prob",
        tests=frozenset({"test_train_keep_fraction", KEPT}),
        base=1,
        edits=(("np.random.rand(*x.shape) < keep_prob", "np.random.rand(*x.shape) > keep_prob"),),
    ),
    # ------------------------------------------------------------ backward
    Bug(
        "backward_new_mask",
        BWD,
        "draws a new mask in the backward pass instead of reusing the forward pass's",
        tests=frozenset({"test_backward_train"}),
        base=0,
        edits=(
            (
                "return np.where(mask, dout / p, 0)",
                "return np.where(np.random.default_rng().random(dout.shape) < p, dout / p, 0)",
            ),
        ),
    ),
    Bug(
        "backward_not_scaled",
        BWD,
        "forgets to divide the gradient by keep_prob",
        tests=frozenset({"test_backward_train"}),
        base=2,
        edits=(("    dx /= cache.keep_prob\n", ""),),
    ),
    Bug(
        "backward_masks_test_mode",
        BWD,
        "applies the mask in test mode too, where there is none (a TypeError)",
        tests=frozenset({"test_backward_test_mode"}),
        base=5,
        edits=(
            (
                '    if dropout_param["mode"] == "train":\n        dx = dout * mask',
                "    if True:\n        dx = dout * mask",
            ),
        ),
    ),
    Bug(
        "backward_divides_by_drop_rate",
        BWD,
        "divides by 1 - keep_prob instead of keep_prob",
        tests=frozenset({"test_backward_train"}),
        base=3,
        edits=(
            (
                "return dout * keep.astype(dout.dtype) * scale",
                "return dout * keep.astype(dout.dtype) / (1 - 1 / scale)",
            ),
        ),
    ),
    Bug(
        "backward_mask_as_bool",
        BWD,
        "turns the stored (scaled) mask back into a 0/1 mask, losing the 1 / keep_prob",
        tests=frozenset({"test_backward_train"}),
        base=1,
        edits=(('return dout * cache["mask"]', 'return dout * (cache["mask"] > 0)'),),
    ),
    Bug(
        "backward_not_scaled_rows",
        BWD,
        "forgets the division by keep_prob in the backward pass",
        tests=frozenset({"test_backward_train"}),
        base=5,
        edits=(('dx = dout * mask / dropout_param["keep_prob"]', "dx = dout * mask"),),
    ),
    Bug(
        "backward_scales_test_mode",
        BWD,
        "multiplies the test-mode gradient by keep_prob",
        tests=frozenset({"test_backward_test_mode"}),
        base=0,
        edits=(("    return dout\n", "    return dout * p\n"),),
    ),
    Bug(
        "backward_mask_of_dout",
        BWD,
        "masks the gradient where dout is non-zero rather than where units were kept",
        tests=frozenset({"test_backward_train"}),
        base=4,
        edits=(
            (
                "dx[cache.keep] = dout[cache.keep] / cache.keep_prob",
                "dx[dout != 0] = dout[dout != 0] / cache.keep_prob",
            ),
        ),
    ),
)

ASSIGNMENT = Assignment(
    name="dropout",
    styles={FWD: FORWARD, BWD: BACKWARD},
    groups=((FWD, BWD),),
    bugs=BUGS,
    combos=(
        ("not_inverted", "backward_new_mask"),
        ("ignores_seed", "backward_new_mask"),
        ("not_inverted", "backward_scales_test_mode"),
        ("keeps_with_drop_probability_rs", "backward_not_scaled"),
        ("drops_in_test_mode", "backward_not_scaled"),
        ("keeps_with_drop_probability", "backward_divides_by_drop_rate"),
        ("scales_in_test_mode", "backward_divides_by_drop_rate"),
        ("float32_upcast", "backward_mask_as_bool"),
        ("seeds_only_once", "backward_mask_as_bool"),
        ("keeps_with_drop_probability_legacy", "backward_mask_as_bool"),
        ("float32_upcast_philox", "backward_mask_of_dout"),
        ("keeps_with_drop_probability_philox", "backward_mask_of_dout"),
        ("not_inverted_rows", "backward_masks_test_mode"),
        ("ignores_seed_rows", "backward_not_scaled_rows"),
    ),
)
