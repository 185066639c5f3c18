"""Hidden tests of the sample assignment (the grader's own test course).

The oracle is plain numpy here so that these tests do not depend on the reference layers;
real assignments use ``ref`` (the cnncourse package) the same way.
"""

import numpy as np
import pytest

from cnncourse.grading.compare import assert_close, assert_scalar_close


def _data(seed, *shape):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.points(1, grade_id="test_relu")
def test_relu_forward(student):
    x = _data(1, 4, 5)
    out, _cache = student.relu_forward(x)
    assert_close(out, np.maximum(x, 0), name="relu_forward output")


@pytest.mark.points(1, grade_id="test_relu")
def test_relu_backward_uses_the_forward_cache(student):
    x, dout = _data(2, 3, 6), _data(3, 3, 6)
    _out, cache = student.relu_forward(x)
    dx = student.relu_backward(dout, cache)
    assert_close(dx, dout * (x > 0), name="relu_backward dx")


@pytest.mark.points(1.5, grade_id="test_affine")
def test_affine_forward(student):
    x, w, b = _data(4, 2, 3, 4), _data(5, 12, 5), _data(6, 5)
    out, _cache = student.affine_forward(x, w, b)
    assert_close(out, x.reshape(2, 12) @ w + b, name="affine_forward output")


@pytest.mark.points(1.5, grade_id="test_affine")
def test_affine_backward(student):
    x, w, b, dout = _data(7, 3, 2, 2), _data(8, 4, 3), _data(9, 3), _data(10, 3, 3)
    _out, cache = student.affine_forward(x, w, b)
    dx, dw, db = student.affine_backward(dout, cache)
    assert_close(dx, (dout @ w.T).reshape(x.shape), name="dx")
    assert_close(dw, x.reshape(3, 4).T @ dout, name="dw")
    assert_close(db, dout.sum(axis=0), name="db")


@pytest.mark.points(1, grade_id="test_output_size")
def test_output_size(student):
    assert_scalar_close(student.value("out_size"), 32, name="out_size")
