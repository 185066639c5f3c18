"""The autograder: sandboxed child processes, a pytest plugin, reports and the gradebook.

Entry points: ``cnncourse grade`` (:mod:`cnncourse.grading.grade`), ``cnncourse check``
(:mod:`cnncourse.grading.check`), ``cnncourse release`` (:mod:`cnncourse.grading.release`);
hidden suites import :func:`cnncourse.grading.compare.assert_close`. See docs/grading.md.
Kept light: the child imports this package before any student code runs.
"""
