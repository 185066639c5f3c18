"""cnncourse.book.hparam: the book's log-space search helpers."""

import math

import numpy as np
import pytest

from cnncourse.book.hparam import (
    LogUniform,
    OneMinusLogUniform,
    Uniform,
    decade_shares,
    random_search,
)


def test_uniform_spends_90_percent_of_draws_in_last_decade():
    u = Uniform(1e-4, 1.0)
    # independent oracle: the length ratio of the interval
    assert u.prob(0.1, 1.0) == pytest.approx(0.9 / (1.0 - 1e-4))
    draws = u.sample(200_000, rng=1)
    counted = np.mean((draws >= 0.1) & (draws <= 1.0))
    assert counted == pytest.approx(u.prob(0.1, 1.0), abs=0.005)


def test_log_uniform_gives_each_decade_the_same_share():
    lu = LogUniform(1e-4, 1.0)
    shares = decade_shares(lu)
    bounds = [b for lo, hi, _ in shares for b in (lo, hi)]
    assert bounds == pytest.approx([1e-4, 1e-3, 1e-3, 1e-2, 1e-2, 1e-1, 1e-1, 1.0])
    assert [p for *_, p in shares] == pytest.approx([0.25] * 4)
    draws = lu.sample(200_000, rng=2)
    assert draws.min() >= 1e-4 and draws.max() <= 1.0
    counts = np.histogram(np.log10(draws), bins=[-4, -3, -2, -1, 0])[0] / draws.size
    assert counts == pytest.approx([0.25] * 4, abs=0.005)


def test_uniform_decade_shares_differ_from_log():
    shares = [p for *_, p in decade_shares(Uniform(1e-4, 1.0))]
    assert sum(shares) == pytest.approx(1.0)
    assert shares[-1] > 0.9 and shares[0] < 0.001


def test_one_minus_log_uniform_for_momentum():
    beta = OneMinusLogUniform(0.9, 0.999)
    draws = beta.sample(100_000, rng=3)
    assert draws.min() >= 0.9 and draws.max() <= 0.999
    window = 1.0 / (1.0 - draws)  # averaging window length
    share_short = np.mean(window <= 100)
    assert share_short == pytest.approx(0.5, abs=0.01)
    assert beta.prob(0.9, 0.99) == pytest.approx(0.5)
    # compare: uniform beta puts (0.99-0.9)/(0.999-0.9) of its draws in the short windows
    assert Uniform(0.9, 0.999).prob(0.9, 0.99) == pytest.approx(0.09 / 0.099)
    assert beta.cdf(0.0) == 0.0 and beta.cdf(1.0) == 1.0


def test_cdf_matches_empirical_for_all():
    rng = np.random.default_rng(4)
    for dist in (Uniform(-3, 5), LogUniform(1e-6, 1e-2), OneMinusLogUniform(0.5, 0.9999)):
        x = dist.sample(50_000, rng)
        for q in (0.1, 0.5, 0.9):
            point = np.quantile(x, q)
            assert dist.cdf(point) == pytest.approx(q, abs=0.01)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Uniform(1, 1),
        lambda: LogUniform(0, 1),
        lambda: LogUniform(-1, 1),
        lambda: OneMinusLogUniform(0.9, 1.0),
        lambda: Uniform(0, math.inf),
    ],
)
def test_bad_ranges_raise(make):
    with pytest.raises(ValueError):
        make()


def test_random_search_finds_the_peak_and_sorts():
    def objective(lr, beta):
        return -((math.log10(lr) + 2) ** 2) - (math.log10(1 - beta) + 2) ** 2

    space = {"lr": LogUniform(1e-5, 1.0), "beta": OneMinusLogUniform(0.9, 0.9999)}
    trials = random_search(objective, space, 200, seed=0)
    scores = [t.score for t in trials]
    assert scores == sorted(scores, reverse=True)
    best = trials[0].params
    assert abs(math.log10(best["lr"]) + 2) < 0.4
    assert abs(math.log10(1 - best["beta"]) + 2) < 0.4
    again = random_search(objective, space, 200, seed=0)
    assert [t.params for t in again] == [t.params for t in trials]


def test_random_search_extra_and_minimize_and_errors():
    trials = random_search(
        lambda x: (x, {"twice": 2 * x}), {"x": Uniform(0, 1)}, 10, seed=1, maximize=False
    )
    assert trials[0].score == min(t.score for t in trials)
    assert all(t.extra["twice"] == pytest.approx(2 * t.params["x"]) for t in trials)
    with pytest.raises(ValueError):
        random_search(lambda x: x, {"x": Uniform(0, 1)}, 0)
    with pytest.raises(TypeError):
        random_search(lambda x: x, {"x": (0, 1)}, 3)
