"""Rosenblatt's perceptron (1958), with the update rule from the slides.

The perceptron computes ``f(x) = 1 if w . x + b > 0 else 0`` and, after each example
``(x_j, d_j)``, moves every weight by

    w_i(t+1) = w_i(t) + alpha * (d_j - y_j(t)) * x_{j,i}

(the bias is a weight on a constant input of 1). Nothing changes when the answer was right;
after a mistake the weights move towards (or away from) the input that was misclassified.

Two data sets recreate the historical demonstrations on a 20x20 "photocell" retina
(400 inputs, like the Mark I camera):

- :func:`squares_left_right`: the 1958 Navy demonstration, cards with a square marked on
  the left or on the right side;
- :func:`letters`: letters of the alphabet drawn at slightly different positions and
  sizes, with a few photocells flipped by noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

RETINA = 20  # the Mark I camera: 20 x 20 cadmium-sulfide photocells


def step(s):
    """Threshold logic: 1 where ``s > 0``, else 0 (the slide's f)."""
    return (np.asarray(s) > 0).astype(np.int64)


@dataclass
class Perceptron:
    """A single threshold unit trained with Rosenblatt's rule.

    ``alpha`` is the learning rate of the update rule; weights and bias start at zero
    (as on the Mark I, whose potentiometers started from a reset position).
    """

    n_inputs: int
    alpha: float = 1.0
    w: np.ndarray = field(init=False)
    b: float = field(init=False, default=0.0)

    def __post_init__(self):
        if self.n_inputs <= 0:
            raise ValueError(f"n_inputs must be positive, got {self.n_inputs}")
        if not self.alpha > 0:
            raise ValueError(f"alpha must be positive, got {self.alpha}")
        self.w = np.zeros(self.n_inputs)

    def score(self, X) -> np.ndarray:
        """The linear combination ``w . x + b`` for each row of ``X``."""
        X = self._check_X(X)
        return X @ self.w + self.b

    def predict(self, X) -> np.ndarray:
        """0/1 outputs for each row of ``X``."""
        return step(self.score(X))

    def update(self, x, d) -> int:
        """Show one example; apply the update rule. Returns 1 if it was a mistake."""
        x = np.asarray(x, dtype=float).reshape(-1)
        if x.shape[0] != self.n_inputs:
            raise ValueError(f"x has {x.shape[0]} inputs, the perceptron expects {self.n_inputs}")
        if d not in (0, 1):
            raise ValueError(f"the desired output d must be 0 or 1, got {d!r}")
        y = int(x @ self.w + self.b > 0)
        delta = self.alpha * (d - y)
        self.w += delta * x
        self.b += delta
        return int(y != d)

    def fit(self, X, d, epochs: int = 20, seed: int | None = 0) -> list[int]:
        """Present the examples ``epochs`` times (shuffled each time when ``seed`` is not None).

        Returns the number of mistakes in each epoch; training stops early after an epoch
        without mistakes (the perceptron convergence theorem says this happens whenever
        the two classes are linearly separable).
        """
        X = self._check_X(X)
        d = np.asarray(d).reshape(-1)
        if d.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but d has {d.shape[0]} labels")
        rng = np.random.default_rng(seed)
        history = []
        for _ in range(epochs):
            order = rng.permutation(len(X)) if seed is not None else np.arange(len(X))
            mistakes = sum(self.update(X[j], int(d[j])) for j in order)
            history.append(mistakes)
            if mistakes == 0:
                break
        return history

    def _check_X(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim == 1:
            X = X[None]
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(f"X must have shape (N, {self.n_inputs}), got {X.shape}")
        return X


@dataclass
class OneVsRestPerceptron:
    """One perceptron per class (the Mark I had one response unit per letter).

    Each unit learns "my class" (d=1) against "any other" (d=0) with the same rule; the
    predicted class is the unit with the largest score ``w . x + b``.
    """

    n_inputs: int
    classes: tuple
    alpha: float = 1.0
    units: list = field(init=False)

    def __post_init__(self):
        self.classes = tuple(self.classes)
        if len(self.classes) < 2:
            raise ValueError("need at least two classes")
        self.units = [Perceptron(self.n_inputs, self.alpha) for _ in self.classes]

    def fit(self, X, y, epochs: int = 20, seed: int | None = 0) -> list[int]:
        """Train every unit; returns the total mistakes of all units per epoch."""
        y = np.asarray(y)
        unknown = set(np.unique(y).tolist()) - set(self.classes)
        if unknown:
            raise ValueError(f"labels {sorted(unknown)} are not in classes {self.classes}")
        histories = [
            unit.fit(X, (y == c).astype(int), epochs=epochs, seed=seed)
            for unit, c in zip(self.units, self.classes, strict=True)
        ]
        longest = max(len(h) for h in histories)
        return [sum(h[e] if e < len(h) else 0 for h in histories) for e in range(longest)]

    def predict(self, X) -> np.ndarray:
        scores = np.stack([unit.score(X) for unit in self.units], axis=1)
        return np.asarray(self.classes)[scores.argmax(axis=1)]


def squares_left_right(n: int = 100, size: int = RETINA, seed: int = 0):
    """Cards with one filled square on the left or the right half of a ``size`` x ``size`` grid.

    Returns ``(X, d, images)``: ``X`` of shape (n, size*size) with 0/1 photocell values,
    ``d`` = 1 for "square on the left" (the machine's "Q") and 0 for "on the right" ("O"),
    and the images as (n, size, size).
    """
    if size < 6:
        raise ValueError(f"size must be at least 6, got {size}")
    rng = np.random.default_rng(seed)
    images = np.zeros((n, size, size))
    d = rng.integers(0, 2, size=n)
    half = size // 2
    for k in range(n):
        side = int(rng.integers(2, max(3, half - 3)))
        top = int(rng.integers(0, size - side + 1))
        # keep the square wholly inside its half, away from the middle line
        left = (
            int(rng.integers(0, half - side))
            if d[k] == 1
            else int(rng.integers(half + 1, size - side + 1))
        )
        images[k, top : top + side, left : left + side] = 1.0
    return images.reshape(n, -1), d, images


@lru_cache(maxsize=64)
def _glyph(letter: str, size: int, scale: float) -> np.ndarray:
    """The letter rendered in DejaVu Sans Bold (shipped with matplotlib), as a 0/1 array."""
    from matplotlib import font_manager
    from PIL import Image, ImageDraw, ImageFont

    font_path = font_manager.findfont(
        font_manager.FontProperties(family="DejaVu Sans", weight="bold")
    )
    big = 8 * size
    font = ImageFont.truetype(font_path, int(big * scale))
    canvas = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(canvas)
    left, top, right, bottom = draw.textbbox((0, 0), letter, font=font)
    draw.text(
        ((big - (right - left)) / 2 - left, (big - (bottom - top)) / 2 - top),
        letter,
        fill=255,
        font=font,
    )
    small = canvas.resize((size, size), Image.Resampling.BOX)
    return (np.asarray(small, dtype=float) > 96).astype(float)


def letters(
    chars: str = "ABCDE",
    per_letter: int = 40,
    size: int = RETINA,
    noise: float = 0.02,
    seed: int = 0,
):
    """Letters on a ``size`` x ``size`` photocell grid.

    Each example is a letter at a random scale (70-90 % of the grid), shifted by up to two
    cells in each direction, with a fraction ``noise`` of photocells flipped.
    Returns ``(X, y, images)`` with ``y`` the letters as strings.
    """
    if not chars or len(set(chars)) != len(chars):
        raise ValueError(f"chars must be distinct letters, got {chars!r}")
    if not 0 <= noise < 0.5:
        raise ValueError(f"noise must be in [0, 0.5), got {noise}")
    rng = np.random.default_rng(seed)
    image_list: list[np.ndarray] = []
    letters: list[str] = []
    for c in chars:
        for _ in range(per_letter):
            scale = float(rng.choice([0.7, 0.8, 0.9]))
            img = _glyph(c, size, scale)
            dy, dx = rng.integers(-2, 3, size=2)
            img = np.roll(img, (int(dy), int(dx)), axis=(0, 1))
            flips = rng.random(img.shape) < noise
            image_list.append(np.where(flips, 1.0 - img, img))
            letters.append(c)
    order = rng.permutation(len(image_list))
    images = np.stack(image_list)[order]
    labels = np.asarray(letters)[order]
    return images.reshape(len(images), -1), labels, images
