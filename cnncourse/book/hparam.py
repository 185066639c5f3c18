"""Hyper-parameter search: sampling on the right scale, and a small random search.

The slides' point: to search a learning rate in ``[1e-4, 1]``, sampling uniformly spends
about 90 % of the draws in ``[0.1, 1]`` -- the last of four decades -- while sampling the
exponent uniformly (log space) gives each decade the same share. For a momentum term
``beta`` in ``[0.9, 0.999]`` the sensitive quantity is ``1 - beta`` (the length
``1 / (1 - beta)`` of the averaging window), so one samples ``1 - beta`` in log space.

Each distribution has ``sample(size, rng)`` and the exact probability ``prob(lo, hi)`` of
landing in an interval, so a book can show the computed share next to the counted one::

    >>> lr = LogUniform(1e-4, 1.0)
    >>> round(Uniform(1e-4, 1.0).prob(0.1, 1.0), 4)
    0.9001
    >>> round(lr.prob(0.1, 1.0), 4)
    0.25
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Distribution",
    "LogUniform",
    "OneMinusLogUniform",
    "Trial",
    "Uniform",
    "decade_shares",
    "random_search",
]


def _check_range(low: float, high: float, *, positive: bool = False) -> None:
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"low and high must be finite, got low={low!r}, high={high!r}")
    if not low < high:
        raise ValueError(f"need low < high, got low={low!r}, high={high!r}")
    if positive and low <= 0:
        raise ValueError(f"a log-space range needs low > 0, got low={low!r}")


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


class Distribution(ABC):
    """A 1-D search distribution: ``sample`` and the exact ``prob`` of an interval."""

    low: float
    high: float

    @abstractmethod
    def sample(self, size: int | None = None, rng: np.random.Generator | int | None = None):
        """Draw ``size`` values (one float when ``size`` is None)."""

    @abstractmethod
    def cdf(self, x: float) -> float:
        """Probability that a draw is <= ``x``."""

    def prob(self, lo: float, hi: float) -> float:
        """Probability that a draw lands in ``[lo, hi]`` (clipped to the support)."""
        if lo > hi:
            raise ValueError(f"need lo <= hi, got lo={lo!r}, hi={hi!r}")
        return self.cdf(hi) - self.cdf(lo)


@dataclass(frozen=True)
class Uniform(Distribution):
    """Uniform on ``[low, high]``: the naive way to search a scale parameter."""

    low: float
    high: float

    def __post_init__(self):
        _check_range(self.low, self.high)

    def sample(self, size=None, rng=None):
        return _rng(rng).uniform(self.low, self.high, size)

    def cdf(self, x: float) -> float:
        return float(np.clip((x - self.low) / (self.high - self.low), 0.0, 1.0))


@dataclass(frozen=True)
class LogUniform(Distribution):
    """``10**u`` with ``u`` uniform on ``[log10 low, log10 high]``: every decade gets the
    same share of the draws."""

    low: float
    high: float

    def __post_init__(self):
        _check_range(self.low, self.high, positive=True)

    def sample(self, size=None, rng=None):
        u = _rng(rng).uniform(math.log10(self.low), math.log10(self.high), size)
        return 10.0**u

    def cdf(self, x: float) -> float:
        if x <= self.low:
            return 0.0
        if x >= self.high:
            return 1.0
        a, b = math.log10(self.low), math.log10(self.high)
        return (math.log10(x) - a) / (b - a)


@dataclass(frozen=True)
class OneMinusLogUniform(Distribution):
    """``beta = 1 - r`` with ``r`` log-uniform on ``[1 - high, 1 - low]``.

    For ``beta`` in ``[0.9, 0.999]`` this gives the windows ``1/(1-beta)`` of 10-100 and of
    100-1000 the same share, where a uniform ``beta`` would put 91 % of the draws in
    ``[0.9, 0.99]``.
    """

    low: float
    high: float

    def __post_init__(self):
        _check_range(self.low, self.high)
        if not (self.low >= 0 and self.high < 1):
            raise ValueError(f"need 0 <= low < high < 1, got low={self.low!r}, high={self.high!r}")

    @property
    def _r(self) -> LogUniform:
        return LogUniform(1.0 - self.high, 1.0 - self.low)

    def sample(self, size=None, rng=None):
        return 1.0 - self._r.sample(size, rng)

    def cdf(self, x: float) -> float:
        # P(beta <= x) = P(r >= 1 - x)
        return 1.0 - self._r.cdf(1.0 - x)


def decade_shares(dist: Distribution) -> list[tuple[float, float, float]]:
    """``(lo, hi, probability)`` for each power-of-ten interval of a positive range.

    >>> [(lo, hi, round(p, 3)) for lo, hi, p in decade_shares(Uniform(1e-2, 1))]
    [(0.01, 0.1, 0.091), (0.1, 1.0, 0.909)]
    """
    if dist.low <= 0:
        raise ValueError(f"decades need a positive range, got low={dist.low!r}")
    first = math.floor(math.log10(dist.low) + 1e-12)
    last = math.ceil(math.log10(dist.high) - 1e-12)
    out = []
    for k in range(first, last):
        lo, hi = max(10.0**k, dist.low), min(10.0 ** (k + 1), dist.high)
        out.append((lo, hi, dist.prob(lo, hi)))
    return out


@dataclass
class Trial:
    """One point of a search: its parameters and what the objective returned."""

    params: dict[str, float]
    score: float
    extra: dict[str, Any] = field(default_factory=dict)


def random_search(
    objective: Callable[..., float | tuple[float, dict]],
    space: Mapping[str, Distribution],
    n_trials: int,
    *,
    seed: int | None = 0,
    maximize: bool = True,
) -> list[Trial]:
    """Random search: draw each parameter independently, call ``objective(**params)``.

    ``objective`` returns a score, or ``(score, extra_dict)``. The trials come back best
    first. Random search beats a grid when only some parameters matter, because every trial
    tries a new value of each of them (Bergstra & Bengio, 2012).
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials!r}")
    for name, dist in space.items():
        if not isinstance(dist, Distribution):
            raise TypeError(f"space[{name!r}] must be a Distribution, got {type(dist).__name__}")
    rng = np.random.default_rng(seed)
    trials = []
    for _ in range(n_trials):
        params = {name: float(dist.sample(None, rng)) for name, dist in space.items()}
        result = objective(**params)
        score, extra = result if isinstance(result, tuple) else (result, {})
        trials.append(Trial(params, float(score), dict(extra)))
    trials.sort(key=lambda t: t.score, reverse=maximize)
    return trials
