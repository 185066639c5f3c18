"""Grade submissions: start each one's child, run the hidden suite against it, build the record.

``grade_all`` spreads a class over worker processes. Each worker runs one pytest session
(:class:`SuiteSession`): the hidden suite is imported and collected once, then its tests run
again for every submission, against a fresh child each time.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import multiprocessing
import os
import signal
import sys
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, cast

import pytest

from cnncourse.grading.assignment import Assignment, AssignmentError, TestInfo, check_points
from cnncourse.grading.notebook import NotebookError, load_submission, program_cells
from cnncourse.grading.plugin import PLAIN_ARGS, Collector, GradingPlugin
from cnncourse.grading.proxy import ChildSession
from cnncourse.grading.runtime import ensure as ensure_runtime
from cnncourse.grading.sandbox import Sandbox

STATUSES = (
    "passed",
    "failed",
    "error",
    "not_implemented",
    "missing",
    "timeout",
    "memory",
    "crashed",
    "forbidden",
    "grader_error",
    "not_run",
)


LATER = "later"  # from a SuiteSession's tasks: no submission is waiting yet


@dataclass(frozen=True)
class SubmissionRef:
    """One student's notebook. ``note`` says how it was found when it was not where nbgrader
    puts it; ``problem`` (then nothing is graded) says why no single notebook could be chosen."""

    student: str
    notebook: Path
    note: str = ""
    problem: str = ""

    def digest(self) -> str:
        return hashlib.sha256(self.notebook.read_bytes()).hexdigest()


@dataclass(frozen=True)
class _Candidate:
    student: str
    notebook: Path
    where: str  # "" at the expected place, else how it differs


def find_submissions(paths: list[Path], assignment: str) -> list[SubmissionRef]:
    """One submission per student from the notebooks and folders named on the command line.

    A folder is nbgrader's ``submitted/`` (one folder per student), one student's folder,
    or one student's ``<assignment>/`` folder. A student's notebook is expected at
    ``<student>/<assignment>/<assignment>.ipynb``; otherwise the only notebook in that folder
    (renamed, as a learning platform's download is), one folder below it, or one folder
    above it named after the assignment, is taken and the record notes it. A student with
    several such notebooks, or an empty ``<assignment>/`` folder, gets a ``problem``.
    Raises FileNotFoundError for a path that does not exist or holds nothing of the kind.
    """
    by_student: dict[str, list[_Candidate]] = {}
    empty: dict[str, Path] = {}
    for path in map(Path, paths):
        if path.is_file():
            notebook = path.resolve()
            found = [_Candidate(_student_of(notebook, assignment), notebook, "")]
        elif path.is_dir():
            found = _scan(path.resolve(), assignment, empty)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
        if not found and not any(_inside(folder, path.resolve()) for folder in empty.values()):
            raise FileNotFoundError(
                f"{path}: no notebook of {assignment} found (expected "
                f"<student>/{assignment}/{assignment}.ipynb)"
            )
        for candidate in found:
            listed = by_student.setdefault(candidate.student, [])
            if candidate.notebook not in [c.notebook for c in listed]:
                listed.append(candidate)
    refs = [_choose(student, found, assignment) for student, found in by_student.items()]
    for student, folder in empty.items():
        if student not in by_student:
            refs.append(SubmissionRef(student, folder, problem=f"no notebook in {folder}"))
    return sorted(refs, key=lambda ref: ref.student)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _notebooks(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.ipynb") if p.is_file() and not p.name.startswith("."))


def _subfolders(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_dir() and not p.name.startswith((".", "_"))  # .ipynb_checkpoints, __pycache__
    )


def _scan(folder: Path, assignment: str, empty: dict[str, Path]) -> list[_Candidate]:
    if folder.name == assignment:  # submitted/<student>/<assignment>/
        return _scan_assignment_folder(folder, folder.parent.name, assignment, empty)
    if (folder / assignment).is_dir() or _named_after(folder, assignment):  # one student's
        return _scan_student(folder, assignment, empty)
    found = []
    for student in _subfolders(folder):  # submitted/
        found += _scan_student(student, assignment, empty)
    if not found:  # deeper: any folder holding **/<assignment>/<assignment>.ipynb
        for notebook in sorted(folder.glob(f"**/{assignment}/{assignment}.ipynb")):
            found.append(_Candidate(notebook.parent.parent.name, notebook, ""))
    return found


def _named_after(folder: Path, assignment: str) -> list[Path]:
    """Notebooks directly in ``folder`` whose name contains the assignment's."""
    return [p for p in _notebooks(folder) if assignment.lower() in p.stem.lower()]


def _scan_student(folder: Path, assignment: str, empty: dict[str, Path]) -> list[_Candidate]:
    student = folder.name
    found = []
    if (folder / assignment).is_dir():
        found = _scan_assignment_folder(folder / assignment, student, assignment, empty)
    for notebook in _named_after(folder, assignment):
        found.append(_Candidate(student, notebook, "one folder above"))
    if found:
        empty.pop(student, None)
    return found


def _scan_assignment_folder(
    folder: Path, student: str, assignment: str, empty: dict[str, Path]
) -> list[_Candidate]:
    found = [
        _Candidate(student, p, "" if p.name == f"{assignment}.ipynb" else "renamed")
        for p in _notebooks(folder)
    ]
    for sub in _subfolders(folder):
        found += [_Candidate(student, p, "one folder below") for p in _notebooks(sub)]
    if not found:
        empty[student] = folder
    return found


def _choose(student: str, found: list[_Candidate], assignment: str) -> SubmissionRef:
    expected = f"{student}/{assignment}/{assignment}.ipynb"
    exact = [c for c in found if not c.where]
    if len(exact) == 1:
        others = [c.notebook.name for c in found if c.where]
        note = f"not graded, also handed in: {', '.join(others)}" if others else ""
        return SubmissionRef(student, exact[0].notebook, note=note)
    if len(found) == 1:
        (only,) = found
        how = f"renamed: {only.notebook.name}" if only.where == "renamed" else only.where
        if only.where != "renamed" and only.notebook.name != f"{assignment}.ipynb":
            how += f", named {only.notebook.name}"
        note = f"the notebook was not at {expected} ({how}); graded {only.notebook}"
        return SubmissionRef(student, only.notebook, note=note)
    names = ", ".join(str(c.notebook) for c in found)
    problem = f"{len(found)} notebooks could be this submission ({names}): keep one, at {expected}"
    return SubmissionRef(student, found[0].notebook, problem=problem)


def _student_of(notebook: Path, assignment: str) -> str:
    if notebook.parent.name == assignment:  # submitted/<student>/<assignment>/x.ipynb
        return notebook.parent.parent.name
    if notebook.stem == assignment:  # <student>/<assignment>.ipynb
        return notebook.parent.name
    return notebook.stem  # alice.ipynb


def _pytest_args(assignment: Assignment, workdir: Path) -> list[str]:
    ini = workdir / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    return [
        *map(str, assignment.test_files),
        *PLAIN_ARGS,
        "--disable-plugin-autoload",  # the environment's plugins (xdist, cov...) stay out
        "--rootdir",
        str(assignment.suite_dir),
        "-c",
        str(ini),
        "--import-mode=importlib",
        "--confcutdir",  # only the suite's own conftest.py files, not the course's others
        str(assignment.suite_dir),
    ]


class _Sink(io.StringIO):
    """pytest's own output in a grading session: only the last 64 KiB are kept."""

    def write(self, text: str) -> int:
        if self.tell() > 1 << 17:
            kept = self.getvalue()[-(1 << 16) :]
            self.seek(0)
            self.truncate()
            super().write(kept)
        return super().write(text)


def _run_pytest(args: list[str], plugin) -> tuple[int, str]:
    sink = _Sink()
    addopts = os.environ.pop("PYTEST_ADDOPTS", None)  # the caller's options are not the suite's
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            code = int(pytest.main(args, plugins=[plugin]))
    finally:
        if addopts is not None:
            os.environ["PYTEST_ADDOPTS"] = addopts
    return code, sink.getvalue()


def collect_tests(assignment: Assignment) -> None:
    """Fill ``assignment.tests`` from the suite's markers and check them against the notebook."""
    collector = Collector()
    with tempfile.TemporaryDirectory() as tmp:
        args = [*_pytest_args(assignment, Path(tmp)), "--collect-only"]
        code, output = _run_pytest(args, collector)
    if code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        raise AssignmentError(
            f"pytest could not load the suite in {assignment.suite_dir}:\n{output[-2000:]}"
        )
    if collector.problems:
        raise AssignmentError("the hidden suite is not usable:\n" + "\n".join(collector.problems))
    assignment.tests = [TestInfo(*entry) for entry in collector.tests]
    if not assignment.tests:
        raise AssignmentError(f"no tests were collected from {assignment.suite_dir}")
    check_points(assignment)


@dataclass
class _Prepared:
    """A submission whose notebook has been read and whose child is already starting."""

    result: dict  # the record so far
    prepare_s: float  # seconds spent reading it and launching its child
    session: ChildSession | None  # None: nothing to run (invalid notebook, grader error)


def _prepare(
    assignment: Assignment, submission: SubmissionRef, level: str, hidden: list[str]
) -> _Prepared:
    """Read the submission and launch its child; never raises for anything the student did."""
    started = time.monotonic()
    result: dict[str, Any] = {
        "student": submission.student,
        "assignment": assignment.name,
        "notebook": str(submission.notebook),
        "isolation": level,
        "fingerprint": submission_fingerprint(assignment, submission, level),
        "notes": [],
        "cells": {},
    }
    session = None
    try:
        sub = load_submission(submission.notebook, assignment.source)
    except (NotebookError, OSError) as exc:
        tests = not_run_tests(assignment, f"the notebook could not be graded: {exc}")
        result.update(status="invalid", message=str(exc), tests=tests)
    else:
        result["notes"] = sub.notes
        try:
            hidden = [*hidden, str(assignment.course), str(Path(sub.path).parent)]
            sandbox = Sandbox(
                level,
                assignment.limits,
                hidden=hidden,
                modules=assignment.modules,
                torch_refuse=assignment.torch_refuse,
            )
            cells = program_cells(assignment.source, sub)
            session = ChildSession(cells, assignment.forbidden, sandbox)
            session.prestart()
        except Exception as exc:  # a fault of the grader, recorded instead of crashing the run
            _grader_failed(assignment, result, exc)
            if session is not None:
                session.stop()
            session = None
    return _Prepared(result, time.monotonic() - started, session)


def _grader_failed(assignment: Assignment, result: dict, exc: BaseException) -> None:
    detail = "".join(traceback.format_exception(exc))[-3000:]
    tests = not_run_tests(assignment, "the grader failed on this submission")
    result.update(status="grader_error", message=detail, tests=tests)


class SuiteSession(GradingPlugin):
    """A pytest session that runs the collected hidden suite once per submission.

    The suite is imported and collected once; for each submission every test item runs
    again, against that submission's own fresh child, with every fixture set up anew (the
    last item of each round tears all of them down). While one submission is graded, the
    child of the next one is already starting. ``tasks`` yields submissions (None: stop;
    LATER: none is waiting yet, ask again once the one in hand is graded); ``report``
    receives each finished record.
    """

    def __init__(self, assignment, level, hidden, tasks, report, first=None):
        super().__init__(session=None)
        self.assignment = assignment
        self.level = level
        self.hidden = list(hidden)
        self.tasks = tasks
        self.report = report
        self.first = first  # prepared before pytest started, so its child starts sooner

    @pytest.hookimpl
    def pytest_configure(self, config):
        super().pytest_configure(config)
        # as --tb=no: outcomes come from the exceptions themselves, and pytest's own failure
        # report (source excerpts of the hidden test, parsed anew each time) only costs time
        config.option.tbstyle = "no"

    def prepare(self, submission):
        if submission is None or submission is LATER:
            return submission
        return _prepare(self.assignment, submission, self.level, self.hidden)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session) -> bool:
        items = list(session.items)
        _one_torch_thread()
        current = self.first or self.prepare(next(self.tasks, None))
        self.first = None
        try:
            while current is not None:
                upcoming = self.prepare(next(self.tasks, None))  # its child starts now
                try:
                    self.report(self.grade(items, current))
                finally:
                    current = upcoming
                if current is LATER:
                    current = self.prepare(next(self.tasks, None))
        finally:
            if isinstance(current, _Prepared) and current.session is not None:  # interrupted
                current.session.stop()
        return True

    def grade(self, items, prepared: _Prepared) -> dict:
        """The record; ``duration_s`` counts its preparation and its own grading, not the
        time its child spent starting while the previous submission was graded."""
        result, assignment = prepared.result, self.assignment
        started = time.monotonic()
        if prepared.session is not None:
            try:
                result.update(self._run_items(items, prepared.session))
            except Exception as exc:  # a fault of the grader, recorded instead of crashing
                _grader_failed(assignment, result, exc)
        result["score"] = sum(test["points"] for test in result["tests"])
        result["max_score"] = assignment.max_score
        result["duration_s"] = round(prepared.prepare_s + time.monotonic() - started, 3)
        return result

    def _run_items(self, items, child: ChildSession) -> dict:
        self.session, self.outcomes = child, {}
        try:
            for index, item in enumerate(items):
                nextitem = items[index + 1] if index + 1 < len(items) else None
                item.ihook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        finally:
            output = child.last_output()
            child.stop()
            self.session = None
        tests = []
        for test in self.assignment.tests:
            outcome = self.outcomes.get(
                test.name, {"status": "grader_error", "message": "the test did not run"}
            )
            points = test.points if outcome["status"] == "passed" else 0.0
            tests.append(
                {
                    "name": test.name,
                    "grade_id": test.grade_id,
                    "points": points,
                    "max_points": test.points,
                    **outcome,
                }
            )
        return {
            "status": "graded",
            "tests": tests,
            "cells": child.cell_errors,
            "output": output,
            "restarts": max(0, child.starts - 1),
        }


def _one_torch_thread() -> None:
    """The suite's reference values (torch, if it imported torch) in this thread alone: grading
    runs in parallel across --jobs workers, and torch's own threads, which spin after each
    operation, would take the cores from the students' children (measured: 15 % of a conv
    grading run's time)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def run_session(assignment, level, hidden, tasks, report) -> None:
    """Grade every submission ``tasks`` yields in one pytest session (see SuiteSession)."""
    tasks = iter(tasks)
    submission = next(tasks, None)
    first = None if submission is None else _prepare(assignment, submission, level, list(hidden))
    plugin = SuiteSession(assignment, level, hidden, tasks, report, first)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            code, output = _run_pytest(_pytest_args(assignment, Path(tmp)), plugin)
    finally:
        if plugin.first is not None and plugin.first.session is not None:
            plugin.first.session.stop()  # pytest stopped before its loop
    if plugin.first is not None:
        raise RuntimeError(f"pytest did not run the hidden suite (exit {code}):\n{output[-2000:]}")


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    assigned: deque = field(default_factory=deque)  # sent to it, not yet reported, in order
    fed_all: bool = False  # it was told that there is nothing more


def grade_all(
    assignment: Assignment,
    submissions: list[SubmissionRef],
    level: str,
    hidden: list[str],
    jobs: int,
) -> Iterator[dict]:
    """Grade ``submissions`` in ``jobs`` worker processes; yield each record as it finishes.

    Each worker runs one :class:`SuiteSession` and holds two submissions at a time: the one
    it grades and the next, whose child is starting meanwhile. A worker that dies costs the
    submission it was grading (a grader_error record, regraded by the next run) and is
    replaced; the submission it held next goes back in the queue.
    """
    pending = deque(submissions)
    ensure_runtime(assignment.modules)  # built once, here, before the workers need it
    # fork: workers inherit the imports already done here
    fork = "fork" in multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork") if fork else multiprocessing.get_context("spawn")
    workers: dict[Connection, _Worker] = {}

    def feed(worker: _Worker) -> None:
        if worker.fed_all:
            return
        task = pending.popleft() if pending else None
        worker.fed_all = task is None
        if task is not None:
            worker.assigned.append(task)
        with contextlib.suppress(OSError):  # a dead worker: noticed when its pipe closes
            worker.conn.send(task)

    def start_worker() -> None:
        ours, theirs = context.Pipe()
        process = context.Process(
            target=_worker_main, args=(assignment, level, hidden, theirs), name="grader"
        )
        process.start()
        theirs.close()
        worker = workers[ours] = _Worker(process, ours)
        feed(worker)
        feed(worker)

    try:
        for _ in range(max(1, min(jobs, len(pending)))):
            if pending:
                start_worker()
        while workers:
            # wait() returns some of the objects it was given; typeshed types it as any
            # waitable (Connection, socket or file descriptor), hence the cast
            for conn in cast(list[Connection], wait(list(workers))):
                worker = workers[conn]
                try:
                    record = conn.recv()
                except (EOFError, OSError):
                    del workers[conn]
                    conn.close()
                    worker.process.join()
                    if worker.assigned:
                        lost = worker.assigned.popleft()
                        pending.extendleft(reversed(worker.assigned))
                        code = worker.process.exitcode
                        why = f"the grader's worker process ended (exit status {code}) during "
                        yield ungraded_record(
                            assignment, lost, level, status="grader_error", message=why + "it"
                        )
                        if pending:
                            start_worker()
                    continue
                worker.assigned.popleft()
                feed(worker)
                yield record
    finally:  # stopped early: each worker stops its children (SIGTERM), else it is killed
        for worker in workers.values():
            worker.conn.close()
            worker.process.terminate()
        for worker in workers.values():
            worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _worker_main(assignment, level, hidden, conn) -> None:
    signal.signal(signal.SIGTERM, _interrupt)  # pytest ends the session, children are stopped

    def tasks():
        while True:
            try:
                task = conn.recv()
            except EOFError:  # the grader is gone
                return
            if task is None:
                return
            yield task

    run_session(assignment, level, hidden, tasks(), conn.send)


def ungraded_record(
    assignment: Assignment, submission: SubmissionRef, level: str, *, status: str, message: str
) -> dict:
    """The record of a submission that was not graded: ``status`` (not_run: nothing to grade;
    grader_error: the grader failed on it) and why. Without a fingerprint, so the next run
    grades it again."""
    why = message if status == "not_run" else "the grader failed on this submission"
    return {
        "student": submission.student,
        "assignment": assignment.name,
        "notebook": str(submission.notebook),
        "isolation": level,
        "fingerprint": None,
        "notes": [],
        "cells": {},
        "status": status,
        "message": message,
        "tests": not_run_tests(assignment, why),
        "score": 0.0,
        "max_score": assignment.max_score,
        "duration_s": 0.0,
    }


def submission_fingerprint(assignment: Assignment, submission: SubmissionRef, level: str) -> str:
    return hashlib.sha256(
        f"{assignment.fingerprint()}:{submission.digest()}:{level}".encode()
    ).hexdigest()


def not_run_tests(assignment: Assignment, message: str) -> list[dict]:
    return [
        {
            "name": test.name,
            "grade_id": test.grade_id,
            "points": 0.0,
            "max_points": test.points,
            "status": "not_run",
            "message": message,
        }
        for test in assignment.tests
    ]
