"""The batchnorm assignment's hidden tests for ``cnncourse grade``, made from its specification.

The cases, tolerances, points and hints live in ``cnncourse/checks/batchnorm.py``, which also
drives the notebook's visible checks and its nbgrader hidden tests: one pytest test per group
of cases, marked with the group's points and its test cell's grade id. Change the
specification, not this file.
"""

from cnncourse.checks import spec

globals().update(spec("batchnorm").pytest_tests())
