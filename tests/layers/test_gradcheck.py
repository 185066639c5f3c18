"""cnncourse.gradcheck against functions whose gradients are known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnncourse.gradcheck import eval_numerical_gradient, eval_numerical_gradient_array, rel_error


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_numerical_gradient_of_sum_of_cubes_is_three_x_squared(kind):
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.7, -0.3]])
    x_in = x.copy() if kind == "numpy" else torch.tensor(x)
    grad = eval_numerical_gradient(lambda v: (v**3).sum(), x_in)
    assert type(grad) is type(x_in), type(grad)
    assert rel_error(grad, 3 * x**2) < 1e-8, (grad, 3 * x**2)
    np.testing.assert_array_equal(np.asarray(x_in), x)  # x is restored


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_numerical_gradient_array_is_the_vector_jacobian_product(kind):
    # f(x) = A x, so the gradient of sum(f(x) * df) is A^T df
    rng = np.random.default_rng(0)
    A, x, df = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal(4)
    x_in, df_in = (x.copy(), df) if kind == "numpy" else (torch.tensor(x), torch.tensor(df))
    A_in = A if kind == "numpy" else torch.tensor(A)
    grad = eval_numerical_gradient_array(lambda v: A_in @ v, x_in, df_in)
    assert rel_error(grad, A.T @ df) < 1e-8, (grad, A.T @ df)


def test_rel_error_is_the_worst_difference_over_the_scale_of_both():
    x, y = np.array([1.0, 0.0, 3.0]), np.array([1.1, 0.0, 3.0])
    assert rel_error(x, y) == pytest.approx(0.1 / (3.0 + 3.0), rel=1e-12)
    assert rel_error(torch.tensor(x), torch.tensor(y)) == rel_error(x, y)
    assert rel_error(y, x) == rel_error(x, y)
    assert rel_error(np.zeros(2), np.zeros(2)) == 0.0
    assert rel_error(2.0, 1.0) == pytest.approx(1 / 3)  # one number: |x - y| / (|x| + |y|)


def test_rel_error_of_a_near_zero_entry_is_measured_against_the_arrays_scale():
    # the last digits of an entry that cancels to ~1e-9 differ between correct orders of
    # summation; an elementwise relative error would call that 0.5
    x, y = np.array([1.0, 1e-9]), np.array([1.0, 1.0000001e-9])
    assert rel_error(x, y) < 1e-16


def test_rel_error_of_a_single_wrong_entry_counts_in_full():
    x = np.ones(10_000)
    y = x.copy()
    y[17] = 2.0
    assert rel_error(x, y) == pytest.approx(1 / 3)


def test_rel_error_of_non_finite_values():
    assert rel_error(np.array([1.0, np.inf]), np.array([1.0, np.inf])) == 0.0
    assert rel_error(np.array([np.nan, 2.0]), np.array([np.nan, 2.0])) == 0.0
    assert rel_error(np.array([1.0, np.inf]), np.array([1.0, 2.0])) == np.inf
    assert rel_error(np.array([1.0, np.nan]), np.array([1.0, 2.0])) == np.inf
    assert rel_error(np.array([np.inf]), np.array([-np.inf])) == np.inf


def test_rel_error_refuses_different_shapes():
    with pytest.raises(ValueError, match=r"y: expected the shape of x, \(2,\), got \(3,\)"):
        rel_error(np.zeros(2), np.zeros(3))


def test_numerical_gradient_refuses_integer_arrays():
    with pytest.raises(TypeError, match="x: expected a float array, got dtype int64"):
        eval_numerical_gradient(lambda v: v.sum(), np.zeros(3, dtype=np.int64))
