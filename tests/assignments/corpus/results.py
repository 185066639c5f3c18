"""Grade the whole corpus once per test session and keep the results.

:func:`graded_cnncourse` runs ``cnncourse grade`` only (one ``--jobs 2`` run per
assignment, about 0.5 s of CPU per submission): ``test_fairness.py`` reads it.
:func:`graded` adds ``nbgrader autograde`` (about 6 s of CPU per notebook), which
``nbgrader_pending.py`` reads. The first call grades, later calls reuse its results.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from corpus import ASSIGNMENTS, Submission, submissions
from corpus.graders import prepare, run_cnncourse, run_nbgrader

_CACHE: dict = {}


def graded_cnncourse(root: Path) -> dict[str, dict]:
    """assignment -> {"subs": name -> Submission, "course": its folder,
    "cnncourse": name -> record, "seconds": {"cnncourse": s}}."""
    if not _CACHE:
        for a in ASSIGNMENTS:
            subs = submissions(a)
            course = prepare(root, a, subs)
            seconds, records = run_cnncourse(course, a, jobs=2)
            _CACHE[a] = {
                "subs": subs,
                "course": course,
                "cnncourse": records,
                "seconds": {"cnncourse": seconds},
            }
    return _CACHE


def graded(root: Path) -> dict[str, dict]:
    """:func:`graded_cnncourse`'s results, plus "nbgrader": name -> result and its seconds."""
    out = graded_cnncourse(root)
    pending = [a for a in ASSIGNMENTS if "nbgrader" not in out[a]]

    def nbgrader(a: str) -> None:
        seconds, result = run_nbgrader(out[a]["course"], a)
        out[a]["nbgrader"], out[a]["seconds"]["nbgrader"] = result, seconds

    # nbgrader runs one notebook at a time: two assignments at once keep both cores busy
    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        for job in [pool.submit(nbgrader, a) for a in pending]:
            job.result()
    for a in pending:
        out[a]["seconds"]["total"] = time.perf_counter() - start
    return out


__all__ = ["Submission", "graded", "graded_cnncourse"]
