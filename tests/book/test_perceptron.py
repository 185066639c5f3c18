"""Rosenblatt's perceptron: the slide's update rule and the two historical data sets."""

import numpy as np
import pytest

from cnncourse.book.perceptron import (
    OneVsRestPerceptron,
    Perceptron,
    letters,
    squares_left_right,
    step,
)


def test_step_is_the_slides_threshold():
    assert step([-1.0, 0.0, 1e-9, 3.0]).tolist() == [0, 0, 1, 1]


def test_update_rule_by_hand():
    p = Perceptron(3, alpha=0.5)
    # w = 0, b = 0: the output is 0; the desired output is 1 -> w += 0.5 * (1 - 0) * x
    assert p.update([1.0, -2.0, 3.0], 1) == 1
    np.testing.assert_allclose(p.w, [0.5, -1.0, 1.5])
    assert p.b == 0.5
    # now w.x + b = 0.5*2 + -1*1 + 1.5*0 + 0.5 = 0.5 > 0 -> output 1; desired 0 -> subtract
    assert p.update([2.0, 1.0, 0.0], 0) == 1
    np.testing.assert_allclose(p.w, [-0.5, -1.5, 1.5])
    assert p.b == 0.0
    # a correct answer changes nothing
    w_before = p.w.copy()
    assert p.update([2.0, 1.0, 0.0], 0) == 0
    np.testing.assert_array_equal(p.w, w_before)


def test_squares_left_right_are_what_they_say():
    X, d, images = squares_left_right(60, seed=3)
    assert X.shape == (60, 400) and images.shape == (60, 20, 20)
    assert set(np.unique(X)) <= {0.0, 1.0}
    assert 0 < d.sum() < 60
    left_mass = images[:, :, :10].sum(axis=(1, 2))
    right_mass = images[:, :, 10:].sum(axis=(1, 2))
    assert np.all((left_mass > 0) == (d == 1))
    assert np.all((right_mass > 0) == (d == 0))


def test_perceptron_learns_left_from_right_and_generalises():
    X, d, _ = squares_left_right(100, seed=0)
    p = Perceptron(400)
    history = p.fit(X, d, epochs=50)
    assert history[-1] == 0 and history[0] > 0  # it made mistakes, then none
    np.testing.assert_array_equal(p.predict(X), d)
    Xt, dt, _ = squares_left_right(300, seed=11)
    assert (p.predict(Xt) == dt).mean() > 0.85


def test_letters_on_the_photocell_grid():
    X, y, images = letters("ABC", per_letter=10, seed=2)
    assert X.shape == (30, 400) and images.shape == (30, 20, 20)
    assert sorted(set(y.tolist())) == ["A", "B", "C"]
    # different letters give different mean pictures
    means = {c: images[y == c].mean(axis=0) for c in "ABC"}
    assert np.abs(means["A"] - means["B"]).sum() > 10
    assert np.abs(means["B"] - means["C"]).sum() > 10


def test_one_vs_rest_learns_letters():
    X, y, _ = letters("ABCDE", per_letter=40, seed=0)
    model = OneVsRestPerceptron(400, tuple("ABCDE"))
    history = model.fit(X, y, epochs=60)
    assert history[0] > history[-1]
    assert (model.predict(X) == y).mean() > 0.95
    Xt, yt, _ = letters("ABCDE", per_letter=40, seed=1)
    assert (model.predict(Xt) == yt).mean() > 0.6  # chance is 0.2


def test_bad_inputs_say_what_is_wrong():
    p = Perceptron(4)
    with pytest.raises(ValueError, match="expects 4"):
        p.update([1.0, 2.0], 1)
    with pytest.raises(ValueError, match="0 or 1"):
        p.update([1.0, 2.0, 3.0, 4.0], 2)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        p.predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="not in classes"):
        OneVsRestPerceptron(4, ("A", "B")).fit(np.zeros((1, 4)), ["Z"])
