"""Grade corpus submissions with both graders, as an instructor would run them.

Each assignment gets a course folder of its own (``assignment_course.make_course``): the
submissions go to ``autograde/submitted/<student>/<a>/<a>.ipynb`` and ``cnncourse grade`` reads
that folder (:func:`run_cnncourse`). ``nbgrader autograde`` executes one notebook at a time, so
:func:`run_nbgrader` deals the same notebooks into course copies of at most ``per_copy``
students of one assignment, all copies of one course whose gradebook ``nbgrader
generate_assignment`` filled once, and runs one ``nbgrader autograde`` command per copy,
``parallel`` at a time; each copy's gradebook is then read (``nbgrader_run.report``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from assignment_course import make_course, write

from corpus import Submission

VENV_BIN = Path(sys.executable).parent
NBGRADER_RUN = Path(__file__).resolve().parents[1] / "nbgrader_run.py"


def env() -> dict:
    out = dict(os.environ)
    # nbgrader runs `alembic` to create its gradebook; BLAS threads only slow small matrices
    out["PATH"] = f"{VENV_BIN}{os.pathsep}{out.get('PATH', '')}"
    out.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return out


def submitted(course: Path) -> Path:
    return course / "autograde" / "submitted"


def prepare(root: Path, a: str, subs: dict[str, Submission]) -> Path:
    """``root/a``: a course with assignment ``a`` and every submission of ``subs``."""
    course = make_course(root / a, (a,))
    for name, sub in subs.items():
        write(sub.notebook(), submitted(course) / name / a / f"{a}.ipynb")
    return course


def cells_of(record: dict) -> dict[str, float]:
    """A ``cnncourse grade`` record's points summed per test cell."""
    cells: dict[str, float] = {}
    for test in record["tests"]:
        cells[test["grade_id"]] = cells.get(test["grade_id"], 0.0) + test["points"]
    return cells


def run_cnncourse(course: Path, a: str, jobs: int = 2) -> tuple[float, dict[str, dict]]:
    """(seconds, student -> record) of one ``cnncourse grade`` over every student of ``a``."""
    out = course / f"cnncourse-{a}.json"
    command = [str(VENV_BIN / "cnncourse"), "grade", a, str(submitted(course))]
    command += ["--course", str(course), "--json", str(out), "--jobs", str(jobs), "--force"]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env(), timeout=1200)
    elapsed = time.perf_counter() - start
    if not out.exists():
        raise RuntimeError(f"cnncourse grade {a} wrote no results:\n{proc.stderr[-4000:]}")
    records = json.loads(out.read_text())["submissions"]
    return elapsed, {r["student"]: r for r in records if r["assignment"] == a}


def _generate(course: Path, assignments: list[str]) -> None:
    """``nbgrader generate_assignment`` of each assignment, one process: the gradebook."""
    proc = subprocess.run(
        [sys.executable, str(NBGRADER_RUN), "--generate-only", str(course), *assignments],
        capture_output=True,
        text=True,
        env=env(),
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader generate_assignment failed:\n{proc.stderr[-6000:]}")


def nbgrader_copies(root: Path, courses: dict[str, Path], per_copy: int) -> list[tuple[str, Path]]:
    """(assignment, course copy) pairs that together hold every submission of ``courses``.

    One course with every assignment is generated once (its gradebook then knows them all);
    each copy is that course with at most ``per_copy`` students of one assignment, dealt
    round robin so that every copy gets a share of each kind of submission."""
    base = make_course(root / "base", tuple(courses))
    _generate(base, list(courses))
    copies = []
    for a, course in courses.items():
        students = sorted(p.name for p in submitted(course).iterdir())
        n = -(-len(students) // per_copy)
        for k in range(n):
            copy = root / f"{a}-{k}"
            shutil.copytree(base, copy)
            for s in students[k::n]:
                shutil.copytree(submitted(course) / s / a, submitted(copy) / s / a)
            copies.append((a, copy))
    return copies


def autograde(a: str, course: Path) -> float:
    """Seconds of one ``nbgrader autograde`` command over every student of the course."""
    start = time.perf_counter()
    proc = subprocess.run(
        [str(VENV_BIN / "nbgrader"), "autograde", a, "--force"],
        cwd=course / "autograde",
        capture_output=True,
        text=True,
        env=env(),
        timeout=3000,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader autograde {a} in {course} failed:\n{proc.stderr[-6000:]}")
    return time.perf_counter() - start


def run_nbgrader(
    root: Path, courses: dict[str, Path], parallel: int = 2, per_copy: int = 16
) -> tuple[float, dict[str, dict[str, dict]]]:
    """(seconds, assignment -> student -> nbgrader result) of every submission of ``courses``.

    ``nbgrader autograde`` executes one notebook at a time, so the students are split into
    course copies (:func:`nbgrader_copies`) and ``parallel`` copies are graded at once, one
    ``nbgrader autograde`` command each, the biggest first."""
    from nbgrader_run import report, students_of

    start = time.perf_counter()
    copies = nbgrader_copies(root, courses, per_copy)
    copies.sort(key=lambda job: -len(students_of(job[1], job[0])))
    with ThreadPoolExecutor(parallel) as pool:
        for job in [pool.submit(autograde, a, copy) for a, copy in copies]:
            job.result()
    results: dict[str, dict[str, dict]] = {a: {} for a in courses}
    for a, copy in copies:
        results[a].update(report(copy, a, students_of(copy, a)))
    return time.perf_counter() - start, results
