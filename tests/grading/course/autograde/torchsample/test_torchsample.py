"""Hidden tests of the torch sample assignment (the grader's own test course).

The oracles are plain numpy: a softmax by its definition and a convolution by its sum.
"""

import numpy as np
import pytest

from cnncourse.grading.compare import assert_close


def _data(seed, *shape):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.points(2, grade_id="test_softmax")
def test_softmax_rows(student):
    x = _data(1, 4, 6)
    e = np.exp(x)
    assert_close(student.softmax_rows(x), e / e.sum(axis=1, keepdims=True), name="softmax_rows")


@pytest.mark.points(3, grade_id="test_conv")
def test_conv_forward(student):
    x, w = _data(2, 2, 3, 5, 6), _data(3, 4, 3, 3, 2)
    expected = np.zeros((2, 4, 3, 5))
    for i in range(3):
        for j in range(5):
            patch = x[:, None, :, i : i + 3, j : j + 2]
            expected[:, :, i, j] = (patch * w[None]).sum(axis=(2, 3, 4))
    assert_close(student.conv_forward(x, w), expected, name="conv_forward")
