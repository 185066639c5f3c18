"""Grade the whole corpus once per test session, with both graders, and keep the results.

``test_fairness.py`` and ``test_agreement.py`` both read :func:`graded`; the first call
grades, later calls (from either module) reuse its results.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from corpus import ASSIGNMENTS, Submission, submissions
from corpus.graders import prepare, run_cnncourse, run_nbgrader

_CACHE: dict = {}


def graded(root: Path) -> dict[str, dict]:
    """assignment -> {"subs": name -> Submission, "cnncourse": name -> record,
    "nbgrader": name -> result, "seconds": {"cnncourse": s, "nbgrader": s}}."""
    if not _CACHE:
        _CACHE.update(_grade_all(root))
    return _CACHE


def _grade_all(root: Path) -> dict[str, dict]:
    subs: dict[str, dict[str, Submission]] = {a: submissions(a) for a in ASSIGNMENTS}
    courses = {a: prepare(root, a, subs[a]) for a in ASSIGNMENTS}
    out = {a: {"subs": subs[a], "seconds": {}} for a in ASSIGNMENTS}

    def nbgrader(a):
        seconds, result = run_nbgrader(courses[a], a)
        out[a]["nbgrader"], out[a]["seconds"]["nbgrader"] = result, seconds

    # nbgrader runs one notebook at a time: two assignments at once keep both cores busy,
    # and `cnncourse grade` (two workers) runs beside them
    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        pending = [pool.submit(nbgrader, a) for a in ASSIGNMENTS]
        for a in ASSIGNMENTS:
            seconds, records = run_cnncourse(courses[a], a, jobs=2)
            out[a]["cnncourse"], out[a]["seconds"]["cnncourse"] = records, seconds
        for job in pending:
            job.result()
    for a in ASSIGNMENTS:
        out[a]["seconds"]["total"] = time.perf_counter() - start
    return out
