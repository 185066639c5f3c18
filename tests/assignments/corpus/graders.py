"""Grade corpus submissions with both graders, as an instructor would run them.

Each assignment gets a course folder of its own (``assignment_course.make_course``), which
serves both graders: the submissions go to ``autograde/submitted/<student>/<a>/<a>.ipynb``;
``cnncourse grade`` reads that folder, ``nbgrader autograde`` (through ``nbgrader_run.py``, one
process per assignment, so that several can run at once on their own gradebooks) too.
"""

from __future__ import annotations

import json
import os
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


def run_nbgrader(course: Path, a: str) -> tuple[float, dict[str, dict]]:
    """(seconds, student -> nbgrader result) of ``generate_assignment`` + ``autograde``."""
    out = course / f"nbgrader-{a}.json"
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(NBGRADER_RUN), str(course), str(out), a],
        capture_output=True,
        text=True,
        env=env(),
        timeout=3000,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader autograde {a} failed:\n{proc.stderr[-6000:]}")
    return elapsed, json.loads(out.read_text())[a]


def run_nbgrader_all(courses: dict[str, Path], parallel: int = 2) -> dict[str, dict]:
    """nbgrader on each assignment's course, ``parallel`` processes at a time."""
    with ThreadPoolExecutor(parallel) as pool:
        results = pool.map(lambda item: run_nbgrader(item[1], item[0])[1], courses.items())
        return dict(zip(courses, results, strict=True))
