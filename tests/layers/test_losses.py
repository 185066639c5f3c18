"""softmax_loss and svm_loss against torch's cross_entropy and multi_margin_loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from cnncourse.gradcheck import eval_numerical_gradient
from cnncourse.layers import softmax_loss, svm_loss

from ._helpers import DEVICES, SETTINGS, assert_close, leaf, rng_arrays

# svm_loss sums the margins of the C - 1 wrong classes; multi_margin_loss divides that by C.
ORACLES = {
    "softmax": (softmax_loss, lambda s, y: F.cross_entropy(s, y)),
    "svm": (svm_loss, lambda s, y: s.shape[1] * F.multi_margin_loss(s, y, p=1, margin=1.0)),
}


@pytest.mark.parametrize("name", ORACLES)
@SETTINGS
@given(
    N=st.integers(1, 6),
    C=st.integers(2, 7),
    scale=st.sampled_from([1.0, 10.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_loss_and_gradient_match_torch(name, N, C, scale, seed):
    loss_fn, oracle = ORACLES[name]
    (scores,) = rng_arrays(seed, (N, C))
    scores *= scale
    y = np.random.default_rng(seed).integers(0, C, size=N)
    loss, dscores = loss_fn(scores, y)
    st_ = leaf(scores)
    loss_t = oracle(st_, torch.as_tensor(y))
    loss_t.backward()
    what = f"{name} loss, scores {scores.shape} x{scale}, seed {seed}"
    # the loss is log(sum(exp(shifted))) - shifted[y]: when it is tiny (a confident right
    # answer) it is log(1 + x) of an O(1) sum, exact only to ~1e-16 absolute in both
    # implementations (seen: 2.73581e-11 against 2.73579e-11), so compare to 1e-14 absolute
    assert_close(loss, loss_t.detach(), 1e-10, f"{what}: loss", floor=1e-4)
    assert_close(dscores, st_.grad, 1e-10, f"{what}: dscores")


@pytest.mark.parametrize("name", ORACLES)
def test_loss_gradient_passes_numerical_gradient_check(name):
    loss_fn, _ = ORACLES[name]
    (scores,) = rng_arrays(1, (5, 4))
    y = np.array([0, 3, 1, 1, 2])
    _, dscores = loss_fn(scores, y)
    num = eval_numerical_gradient(lambda s: loss_fn(s, y)[0], scores)
    assert_close(dscores, num, 1e-7, f"{name} dscores vs numerical")


def test_softmax_loss_with_the_max_shift_survives_huge_scores():
    scores = np.array([[1000.0, 0.0, -1000.0], [5000.0, 5001.0, 4999.0]])
    loss, dscores = softmax_loss(scores, np.array([0, 1]))
    expected = F.cross_entropy(torch.as_tensor(scores), torch.tensor([0, 1])).item()
    assert np.isfinite(loss) and np.all(np.isfinite(dscores)), (loss, dscores)
    assert abs(float(loss) - expected) < 1e-12, (float(loss), expected)


def test_softmax_loss_of_uniform_scores_is_log_C():
    # the sanity check of the course: small random weights give about log(C)
    loss, _ = softmax_loss(np.zeros((4, 10)), np.arange(4))
    assert abs(float(loss) - np.log(10)) < 1e-12, float(loss)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ORACLES)
def test_loss_on_tensor_returns_0d_tensor_on_device(name, device):
    loss_fn, oracle = ORACLES[name]
    scores = torch.randn(4, 3, device=device)
    y = torch.tensor([0, 2, 1, 1], device=device)
    loss, dscores = loss_fn(scores, y)
    assert loss.ndim == 0 and loss.device.type == device and loss.dtype == torch.float32
    assert dscores.device.type == device and dscores.dtype == torch.float32
    assert_close(loss, oracle(scores, y), 1e-6, f"{name} loss on {device}")


@pytest.mark.parametrize("name", ORACLES)
def test_loss_on_numpy_returns_numpy_scalar_of_the_scores_dtype(name):
    loss, dscores = ORACLES[name][0](np.zeros((2, 3), dtype=np.float32), np.array([0, 1]))
    assert isinstance(loss, np.float32) and dscores.dtype == np.float32, (type(loss), dscores.dtype)
