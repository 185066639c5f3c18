"""Grade the same submissions with ``nbgrader autograde`` and ``cnncourse grade``.

Two parts, both in this one run:

- the sample assignment: builds a real nbgrader course in a temporary folder from the
  grader's sample assignment (tests/grading/course), makes N submissions (honest ones, plus
  a few wrong ones), grades them with both tools, checks that the scores agree on the
  honest ones;
- the five real assignments: for each, its whole fairness corpus
  (tests/assignments/corpus: correct styles, bugs, the solution and the released stubs,
  40 to 50 submissions) in a course of its own, graded by both tools, the points compared
  cell by cell.

Each part prints the time per submission of each tool and their ratio (median of --rounds
rounds), one line per assignment.

    python benchmarks/bench_grading.py [--students 20] [--rounds 1] [--jobs CORES] [--gradebook]
                                       [--only sample|real] [--assignments conv,dropout]

Each tool runs as one command over all N submissions, as an instructor runs it, so each pays
its own start-up once (nbgrader: importing nbconvert and friends; cnncourse: the isolation
probe and the collection of the hidden suite) and the per-submission time includes its share.
``nbgrader autograde`` always writes its gradebook and autograded notebooks; ``cnncourse
grade`` writes its JSON results, and with ``--gradebook`` also an nbgrader gradebook and the
autograded notebooks (for ``nbgrader generate_feedback``), into the course's gradebook that
``nbgrader generate_assignment`` created, which costs it the import of nbgrader and the
gradebook's own per-submission writes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "grading"))
sys.path.insert(0, str(ROOT / "tests" / "assignments"))

import corpus  # noqa: E402
from corpus.graders import cells_of, prepare, submitted  # noqa: E402
from grading_corpus import CASES, COURSE, build  # noqa: E402

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
HONEST = ("honest",)
# correct, but prints warnings on stderr, which nbgrader counts as a failed test cell
WARNS = "honest_with_warnings"
WRONG = ("monkeypatches_numpy_builtins_and_checks", "released_stubs")


def make_course(folder: Path, students: int) -> dict[str, str]:
    """An nbgrader course with the sample assignment released and N submissions."""
    (folder / "source" / "sample").mkdir(parents=True)
    shutil.copy(COURSE / "solutions/sample/sample.ipynb", folder / "source/sample/sample.ipynb")
    (folder / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.db_assignments = [dict(name='sample')]\n"
        "c.ExecutePreprocessor.timeout = 60\n"
    )
    _nbgrader(folder, "generate_assignment", "sample", "--force")
    kinds = {}
    for index in range(students):
        kind = WRONG[index % 2] if index % 10 == 9 else WARNS if index % 10 == 4 else "honest"
        student = f"student{index:03d}"
        build(CASES[kind], folder / "submitted" / student / "sample" / "sample.ipynb", {})
        kinds[student] = kind
    return kinds


def _nbgrader(folder: Path, *args: str) -> None:
    result = subprocess.run(
        [str(BIN / "nbgrader"), *args], cwd=folder, env=ENV, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader {args[0]} failed:\n{result.stderr[-3000:]}")


def nbgrader_scores(folder: Path) -> dict[str, float]:
    _nbgrader(folder, "export", "--to", str(folder / "grades.csv"))
    with open(folder / "grades.csv") as handle:
        return {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(handle)}


def time_nbgrader(folder: Path, kinds: dict[str, str]) -> tuple[float, dict[str, float]]:
    shutil.rmtree(folder / "autograded", ignore_errors=True)
    start = time.perf_counter()
    _nbgrader(folder, "autograde", "sample", "--force")
    elapsed = time.perf_counter() - start
    return elapsed / len(kinds), nbgrader_scores(folder)


def time_cnncourse(
    folder: Path, kinds: dict[str, str], jobs: int, gradebook: bool
) -> tuple[float, dict]:
    out = folder / "cnncourse.json"
    # the course's own gradebook, which nbgrader generate_assignment made (its scores were
    # exported just before); the autograded notebooks go where nbgrader put its own
    extra = ["--gradebook", f"sqlite:///{folder / 'gradebook.db'}"] if gradebook else []
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "cnncourse", "grade", "sample", str(folder / "submitted"),
         "--course", str(COURSE), "--json", str(out), "--jobs", str(jobs), "--force", *extra],
        env=ENV, capture_output=True, text=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"cnncourse grade failed:\n{result.stderr[-3000:]}")
    records = json.loads(out.read_text())["submissions"]
    scores = {record["student"]: record["score"] for record in records}
    return elapsed / len(kinds), scores


def real_course(folder: Path, a: str) -> tuple[Path, dict]:
    """A course with assignment ``a`` released and its whole fairness corpus submitted."""
    subs = corpus.submissions(a)
    course = prepare(folder, a, subs)
    # nbgrader reads nbgrader_config.py from its working folder; the file sets the course root
    _nbgrader(course / "autograde", "generate_assignment", a, "--force")
    return course, subs


def nbgrader_cells(course: Path, a: str) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook

    cells = {}
    with Gradebook(f"sqlite:///{course / 'autograde' / 'gradebook.db'}", "cnncourse") as gb:
        for sub in gb.assignment_submissions(a):
            notebook = gb.find_submission_notebook(a, a, sub.student.id)
            cells[sub.student.id] = {g.name: g.score for g in notebook.grades}
    return cells


def machine_cpu_seconds() -> float:
    """CPU time the whole machine has been busy (all cores, every process, the kernel).

    Not the rusage of the command's children: the sandboxed children of ``cnncourse grade``
    are killed with their process group and never reaped by their parents, so rusage misses
    their CPU (measured: 5.3 of 12.7 s on the conv corpus). Meaningful on an otherwise idle
    machine; the load average is printed with the figures.
    """
    with open("/proc/stat") as stat:
        ticks = [int(field) for field in stat.readline().split()[1:]]
    idle, iowait = ticks[3], ticks[4]
    return (sum(ticks[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def _run(command: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds the machine spent meanwhile)."""
    before = machine_cpu_seconds()
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)
    wall = time.perf_counter() - start
    cpu = machine_cpu_seconds() - before
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} failed:\n{result.stderr[-3000:]}")
    return wall, cpu


def time_real(course: Path, a: str, jobs: int) -> tuple[tuple, tuple, dict, dict]:
    """((wall, cpu) of nbgrader, (wall, cpu) of cnncourse, cells of each) over all students."""
    shutil.rmtree(course / "autograde" / "autograded", ignore_errors=True)
    nbgrader = _run([str(BIN / "nbgrader"), "autograde", a, "--force"], cwd=course / "autograde")
    out = course / "cnncourse.json"
    ours = _run(
        [sys.executable, "-m", "cnncourse", "grade", a, str(submitted(course)),
         "--course", str(course), "--json", str(out), "--jobs", str(jobs), "--force"],
    )  # fmt: skip
    records = {r["student"]: cells_of(r) for r in json.loads(out.read_text())["submissions"]}
    return nbgrader, ours, nbgrader_cells(course, a), records


def real(args) -> int:
    """The five real assignments, each over its fairness corpus."""
    names = args.assignments.split(",") if args.assignments else list(corpus.ASSIGNMENTS)
    print(f"fairness corpus, {args.rounds} round(s), cnncourse --jobs {args.jobs}; seconds per "
          "submission, wall clock (the machine's CPU time in brackets: every process, so run "
          f"it on an idle machine; load average now {os.getloadavg()[0]:.1f})")  # fmt: skip
    print(f"  {'assignment':<11}{'subs':>5}{'nbgrader':>18}{'cnncourse':>18}{'ratio':>8}"
          f"{'CPU ratio':>11}  cells that differ")  # fmt: skip
    ratios, failed = [], False
    with tempfile.TemporaryDirectory() as tmp:
        for a in names:
            course, subs = real_course(Path(tmp), a)
            n = len(subs)
            nb_runs, cc_runs = [], []
            for _ in range(args.rounds):
                nb_run, cc_run, nb_cells, cc_cells = time_real(course, a, args.jobs)
                nb_runs.append(nb_run)
                cc_runs.append(cc_run)
            differ = {
                name
                for name in subs
                for cell, points in cc_cells[name].items()
                if abs(points - nb_cells[name][cell]) > 1e-9
            }
            unexplained = sorted(n for n in differ if not corpus.expected_disagreement(a, n))
            failed |= bool(unexplained)
            (nb, nb_cpu), (cc, cc_cpu) = (
                [statistics.median(x) / n for x in zip(*runs, strict=True)]
                for runs in (nb_runs, cc_runs)
            )
            ratios.append(nb / cc)
            note = unexplained or f"{len(differ)} submissions, all expected"
            print(f"  {a:<11}{n:>5}{nb:>9.3f} ({nb_cpu:.3f}){cc:>9.3f} ({cc_cpu:.3f})"
                  f"{nb / cc:>7.1f}x{nb_cpu / cc_cpu:>10.1f}x  {note}")  # fmt: skip
    print(f"lowest ratio {min(ratios):.1f}x (target >= 10x on every assignment); load average "
          f"{os.getloadavg()[0]:.1f} at the end")  # fmt: skip
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--gradebook",
        action="store_true",
        help="cnncourse also writes an nbgrader gradebook and autograded notebooks",
    )
    parser.add_argument("--only", choices=("sample", "real"), help="run one part only")
    parser.add_argument("--assignments", help="comma-separated real assignments (default all)")
    args = parser.parse_args()
    status = 0
    if args.only != "real":
        status |= sample(args)
    if args.only != "sample":
        status |= real(args)
    return status


def sample(args) -> int:
    """The sample assignment, N generated submissions."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        kinds = make_course(folder, args.students)
        nb_times, cc_times = [], []
        for _ in range(args.rounds):
            nb_time, nb_scores = time_nbgrader(folder, kinds)
            cc_time, cc_scores = time_cnncourse(folder, kinds, args.jobs, args.gradebook)
            nb_times.append(nb_time)
            cc_times.append(cc_time)
    disagree = [s for s, kind in kinds.items() if kind in HONEST and nb_scores[s] != cc_scores[s]]
    gradebook = " --gradebook" if args.gradebook else ""
    print(f"{args.students} submissions ({sum(k in HONEST for k in kinds.values())} honest), "
          f"{args.rounds} round(s), cnncourse --jobs {args.jobs}{gradebook}")  # fmt: skip
    for student, kind in sorted(kinds.items()):
        print(f"  {student} {kind:<42} nbgrader {nb_scores[student]:>4g}"
              f"  cnncourse {cc_scores[student]:>4g}")  # fmt: skip
    nb, cc = statistics.median(nb_times), statistics.median(cc_times)
    spread = lambda xs: f" (min {min(xs):.3f}, max {max(xs):.3f})" if len(xs) > 1 else ""  # noqa: E731
    print(f"nbgrader autograde: {nb:.3f} s per submission{spread(nb_times)}")
    print(f"cnncourse grade:    {cc:.3f} s per submission{spread(cc_times)}")
    print(f"ratio: cnncourse is {nb / cc:.1f}x faster than nbgrader autograde (target >= 10x)")
    if disagree:
        print(f"SCORES DISAGREE on honest submissions: {disagree}")
        return 1
    print("scores agree on every honest submission")
    warned = [s for s, kind in kinds.items() if kind == WARNS]
    if warned:
        print(f"{WARNS}: nbgrader {nb_scores[warned[0]]:g}, cnncourse {cc_scores[warned[0]]:g} "
              "(nbgrader fails a test cell whose code printed to stderr)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
