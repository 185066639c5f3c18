"""Grade the whole corpus once per test session (``conftest.py`` holds the fixtures).

:func:`graded_cnncourse` runs ``cnncourse grade`` only (one ``--jobs 2`` run per assignment,
about 0.5 s of CPU per submission): ``test_fairness.py`` reads it. :func:`with_nbgrader` adds
``nbgrader autograde`` of the same submissions (about 6 s of CPU per notebook, in course
copies graded two at a time), which ``test_nbgrader_agreement.py`` reads.
"""

from __future__ import annotations

from pathlib import Path

from corpus import ASSIGNMENTS, Submission, submissions
from corpus.graders import prepare, run_cnncourse, run_nbgrader


def graded_cnncourse(root: Path) -> dict[str, dict]:
    """assignment -> {"subs": name -> Submission, "course": its folder,
    "cnncourse": name -> record, "seconds": {"cnncourse": s}}."""
    out = {}
    for a in ASSIGNMENTS:
        subs = submissions(a)
        course = prepare(root, a, subs)
        seconds, records = run_cnncourse(course, a, jobs=2)
        out[a] = {
            "subs": subs,
            "course": course,
            "cnncourse": records,
            "seconds": {"cnncourse": seconds},
        }
    return out


def with_nbgrader(graded: dict[str, dict], root: Path, parallel: int = 2) -> dict[str, dict]:
    """``graded`` (:func:`graded_cnncourse`'s results) with "nbgrader": name -> result added
    to each assignment, and the seconds of the whole nbgrader run (every assignment at once)
    as "seconds"["nbgrader"]."""
    seconds, results = run_nbgrader(root, {a: graded[a]["course"] for a in graded}, parallel)
    for a, result in results.items():
        graded[a]["nbgrader"] = result
        graded[a]["seconds"]["nbgrader"] = seconds
    return graded


__all__ = ["Submission", "graded_cnncourse", "with_nbgrader"]
