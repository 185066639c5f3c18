"""The textbook's helpers: what the chapters of book/ call, not the course library.

Students import the course library (``cnncourse.layers``, ``nn``, ``optim``, ``init``,
``gradcheck``, ``models``, ``summary``, ``data``, ``train``). This subpackage holds what only
the book uses to tell its story:

- ``computations``: the numbers behind the chapters and their demos (activation curves, the
  optimizer race on the ravine, learning-rate schedules on a noisy problem, batch-norm
  running statistics, photos cut to a square);
- ``widgets``: the interactive demos (pictures pre-rendered for the static site);
- ``viz`` and ``diagrams``: plots and computed architecture drawings;
- ``perceptron``, ``hparam``, ``transfer``, ``experiments``: Rosenblatt's perceptron,
  hyper-parameter search, the transfer-learning experiment and the multi-seed experiments.

The helpers import the course library, never the other way round.
"""
