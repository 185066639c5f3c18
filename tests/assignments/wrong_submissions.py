"""Realistic wrong submissions for the end-to-end tests, taken from the fairness corpus.

Every planted bug lives in ``corpus/<assignment>.py`` in one format: one answer cell,
mutated (see ``corpus/README.md``). This module picks a few of them, one or two per
assignment, for ``test_e2e.py``, and states what each grader must give them:
``failing_tests`` are the hidden tests ``cnncourse grade`` must fail (all others pass),
``failing_cells`` the test cells that lose points in ``nbgrader autograde`` (all others
full; ``corpus.NBGRADER_PARTIAL_CREDIT`` says whether such a cell keeps the points of its
passing tests or, scored all or nothing, gets 0).
Both are computed from the bug's declaration and the points, never typed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import corpus


@dataclass(frozen=True)
class Wrong:
    name: str
    assignment: str
    why: str
    answers: dict[str, str]
    failing_tests: frozenset[str]  # hidden tests (function names) the bug makes fail
    failing_cells: frozenset[str]  # test cells (grade ids) that lose points in nbgrader


def wrong(assignment: str, name: str) -> Wrong:
    sub = corpus.submissions(assignment)[name]
    nbgrader, full = sub.expected("nbgrader"), corpus.cell_points(assignment)
    return Wrong(
        name=name,
        assignment=assignment,
        why=sub.why,
        answers=sub.answers,
        failing_tests=frozenset(sub.failing_tests()),
        failing_cells=frozenset(c for c, points in nbgrader.items() if points < full[c]),
    )


WRONG = [
    wrong("conv", "conv_ignores_padding"),
    wrong("backprop", "relu_masks_output"),
    wrong("backprop", "softmax_overflows"),
    wrong("dropout", "not_inverted"),
    wrong("batchnorm", "unbiased_variance"),
    wrong("optimizers", "adam_no_bias_correction"),
    wrong("batchnorm", "no_running_var"),
    wrong("optimizers", "adam_never_stores_t"),
]
