"""The exercises' checks, one specification per assignment: ``cnncourse.checks.<assignment>``.

In a notebook (``from cnncourse import checks``), each autograded test cell calls its check
with the student's functions, e.g. ``checks.conv.conv_forward(conv_forward_naive)``: it runs
the visible cases, prints one line per case with the relative error, and raises
``AssertionError`` with a hint when a result is wrong. The cell's hidden section calls
:func:`grading_mode` first, so that under ``nbgrader autograde`` the same call scores every
case and returns the points earned. ``cnncourse grade`` runs the same cases from the same
specification (``autograde/<a>/test_<a>.py``). See ``docs/grading.md`` and
:mod:`cnncourse.checks.runner`.

These checks run inside the student's kernel, so they teach; they do not police. The grade
comes from ``cnncourse grade``, which runs the student's code in a sandbox and compares it
from outside.
"""

from __future__ import annotations

import importlib

from cnncourse.checks.runner import Assignment, grading_mode

ASSIGNMENTS = ("backprop", "conv", "dropout", "batchnorm", "optimizers")

__all__ = ["ASSIGNMENTS", "grading_mode", "spec"]


def spec(assignment: str) -> Assignment:
    """The :class:`~cnncourse.checks.runner.Assignment` specification of ``assignment``."""
    if assignment not in ASSIGNMENTS:
        raise ValueError(f"assignment: expected one of {ASSIGNMENTS}, got {assignment!r}")
    return importlib.import_module(f"cnncourse.checks.{assignment}").SPEC


def __getattr__(name: str):
    # checks.conv etc. are imported on first use: the sandboxed grader imports this package
    # for the notebooks' setup cells and needs none of them
    if name in ASSIGNMENTS:
        return importlib.import_module(f"cnncourse.checks.{name}")
    raise AttributeError(f"module 'cnncourse.checks' has no attribute {name!r}")
