"""Grade a class in sandboxes, in parallel here or on a Dask cluster: :func:`grade_class`.

What ``cnncourse grade ASSIGNMENT SUBMISSION...`` runs (its options are parsed in
:mod:`cnncourse.cli`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cnncourse.grading import results
from cnncourse.grading.assignment import AssignmentError, load_assignment
from cnncourse.grading.autograded import nbgrader_course, write_autograded
from cnncourse.grading.cluster import (
    ClusterError,
    connect,
    course_spec,
    expected_level,
    grade_on_cluster,
    local_workers,
    prepare_workers,
    require_distributed,
)
from cnncourse.grading.gradebook_locks import database_url
from cnncourse.grading.report import write_feedback
from cnncourse.grading.sandbox import (
    INSTALL_BUBBLEWRAP,
    LEVELS,
    PROTECTS,
    start_probing,
    why_not_bubblewrap,
)


def _error(message: str) -> int:
    print(f"cnncourse grade: {message}", file=sys.stderr)
    return 2


@dataclass(frozen=True)
class Options:
    """What ``cnncourse grade`` was asked to do (see :func:`grade_class`)."""

    assignment: str
    submissions: tuple[Path, ...]
    course: Path = Path(".")
    jobs: int = 1
    scheduler: str | None = None
    connect_timeout: float = 10.0
    timeout: float | None = None
    memory_mb: int | None = None
    submission_timeout: float | None = None
    json_path: Path | None = None
    csv_path: Path | None = None
    feedback: Path | None = None
    gradebook: str | None = None
    isolation: str = "auto"
    force: bool = False

    def __post_init__(self):
        if not isinstance(self.assignment, str) or not self.assignment:
            raise ValueError(f"assignment must be a name, got {self.assignment!r}")
        if not self.submissions:
            raise ValueError("submissions must name at least one notebook or folder")
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1:
            raise ValueError(f"jobs must be a positive number of processes, got {self.jobs!r}")
        if self.isolation != "auto" and self.isolation not in LEVELS:
            raise ValueError(f"isolation must be 'auto' or one of {LEVELS}, got {self.isolation!r}")
        if self.scheduler is not None:
            local_workers(self.scheduler)  # TypeError/ValueError for a malformed one
        if self.gradebook is not None:
            database_url(self.gradebook)  # TypeError/ValueError: not a SQLite or PostgreSQL URL
        if not isinstance(self.connect_timeout, int | float) or self.connect_timeout <= 0:
            raise ValueError(
                f"connect_timeout must be positive seconds, got {self.connect_timeout!r}"
            )

    @property
    def overrides(self) -> dict:
        return {
            "timeout": self.timeout,
            "memory_mb": self.memory_mb,
            "submission_timeout": self.submission_timeout,
        }


def grade_class(assignment: str, submissions, **options) -> int:
    """Grade a class; the exit status of ``cnncourse grade`` (0: every output written,
    1: an output failed, 2: nothing could be graded as asked).

    ``submissions``: notebooks and folders (see find_submissions). ``options``, all keyword:
    course (default "."), jobs (local processes, default 1), scheduler (a Dask scheduler's
    address, or "local:N": grade on a cluster, see :mod:`cnncourse.grading.cluster`),
    connect_timeout (seconds to reach it), timeout, memory_mb, submission_timeout (override
    assignment.toml), json_path, csv_path, feedback (folder), gradebook (URL), isolation
    ("auto" or a level), force (regrade unchanged submissions). Raises ValueError/TypeError
    for a malformed option.
    """
    return grade_options(Options(assignment, tuple(map(Path, submissions)), **options))


def grade_options(opts: Options) -> int:
    """:func:`grade_class` with its options gathered."""
    if opts.scheduler is not None:
        try:
            require_distributed()
        except ClusterError as exc:
            return _error(str(exc))
    # started first: the probe and the gradebook's process run while the suite loads
    gradebook = results.GradebookProcess(opts.gradebook) if opts.gradebook else None
    try:
        code = _grade(opts, gradebook)
    finally:
        failed = gradebook.close() if gradebook is not None else []
    if failed:
        print(f"gradebook: {len(failed)} submission(s) not written", file=sys.stderr)
        return max(code, 1)
    return code


def _grade(opts: Options, gradebook) -> int:
    scheduler = opts.scheduler
    wait_for_level = start_probing(opts.isolation) if scheduler is None else None
    from cnncourse.grading.runner import collect_tests, find_submissions

    try:
        assignment = load_assignment(opts.course, opts.assignment, **opts.overrides)
        collect_tests(assignment)
        submissions = find_submissions(list(opts.submissions), opts.assignment)
    except (AssignmentError, FileNotFoundError, ValueError) as exc:
        return _error(str(exc))
    hidden = _output_folders(opts) + _submission_folders(opts, submissions)
    if wait_for_level is not None:  # no scheduler: graded on this machine
        from cnncourse.grading.runner import grade_all

        level = wait_for_level()
        if level is None:
            return _error(f"isolation level {opts.isolation!r} is not available on this machine")
        if opts.isolation == "auto" and level != "bubblewrap":
            return _error(_weaker_level_refused(level))
        _announce(level)
        return _grade_loop(
            opts, gradebook, assignment, submissions, level,
            lambda todo: grade_all(assignment, todo, level, hidden, opts.jobs),
        )  # fmt: skip
    spec = course_spec(
        assignment, isolation=opts.isolation, overrides=opts.overrides, hidden=hidden
    )
    assert scheduler is not None  # else graded on this machine above
    level = expected_level(opts.isolation)
    try:
        with connect(scheduler, timeout=opts.connect_timeout) as client:
            _announce_workers(prepare_workers(client, spec))
            _announce(level)
            return _grade_loop(
                opts, gradebook, assignment, submissions, level,
                lambda todo: grade_on_cluster(client, spec, assignment, todo),
            )  # fmt: skip
    except ClusterError as exc:
        return _error(str(exc))


def _grade_loop(opts: Options, gradebook, assignment, submissions, level: str, grade) -> int:
    """Grade what changed since the last run and write every output as records come in.
    ``grade(todo)`` yields the records of the submissions to grade, locally or on a
    cluster: the one grading path of both."""
    from tqdm import tqdm

    from cnncourse.grading.runner import submission_fingerprint

    previous = {} if opts.force else results.load_previous(opts.json_path)
    records: dict[str, dict] = {}
    todo = []
    for submission in submissions:
        if submission.problem:  # nothing to grade: no single notebook for this student
            records[submission.student] = _not_found(assignment, submission, level)
            continue
        earlier = previous.get(submission.student)
        fingerprint = submission_fingerprint(assignment, submission, level)
        if earlier and earlier.get("fingerprint") == fingerprint:
            records[submission.student] = earlier
        else:
            todo.append(submission)
    out = Outputs(opts, assignment, gradebook)
    for record in records.values():
        out.write(record, records, reused=True)
    out.save(records)

    tqdm.monitor_interval = 0  # no monitor thread: a replacement worker is forked from here
    bar = tqdm(total=len(submissions), initial=len(records), unit="submission", file=sys.stderr)
    notes = {submission.student: submission.note for submission in todo if submission.note}
    try:
        for record in grade(todo):
            if record["student"] in notes:
                record["notes"] = [notes[record["student"]], *record.get("notes", [])]
            records[record["student"]] = record
            out.write(record, records)
            bar.update()
    finally:
        bar.close()
        out.save(records)
    _print_summary(list(records.values()), level, notes)
    return 1 if out.failures else 0


def _not_found(assignment, submission, level: str) -> dict:
    """The record of a student whose notebook could not be told apart: nothing graded."""
    from cnncourse.grading.runner import ungraded_record

    return ungraded_record(
        assignment, submission, level, status="not_run", message=submission.problem
    )


def _weaker_level_refused(level: str) -> str:
    _protects, exposed = PROTECTS[level]
    return (
        f"refusing to grade below the bubblewrap sandbox: {why_not_bubblewrap()}.\n"
        f"The strongest level here is {level!r}: {exposed}.\n"
        f"Install bubblewrap ({INSTALL_BUBBLEWRAP}) and run again, or accept the weaker "
        f"level by naming it: --isolation {level}"
    )


def _announce_workers(workers: dict[str, dict]) -> None:
    """Each worker's isolation level, as it reported it (the records say it too)."""
    for address, worker in sorted(workers.items()):
        print(f"worker {address} ({worker['host']}): isolation {worker['level']}", file=sys.stderr)
        if worker["threads"] > 1:
            print(
                f"    it has {worker['threads']} threads but grades one submission at a time: "
                "start one single-threaded worker per core (dask worker --nworkers N "
                "--nthreads 1)",
                file=sys.stderr,
            )


def _announce(level: str) -> None:
    protects, exposed = PROTECTS[level]
    print(f"isolation: {level}: {protects}; not protected: {exposed}", file=sys.stderr)


def _output_folders(opts: Options) -> list[str]:
    folders = [opts.json_path, opts.csv_path]
    if opts.feedback:
        folders.append(opts.feedback / "x")
    if opts.gradebook and opts.gradebook.startswith("sqlite:///"):
        folders.append(Path(opts.gradebook[len("sqlite:///") :]))
    return [str(Path(path).resolve().parent) for path in folders if path]


def _submission_folders(opts: Options, submissions) -> list[str]:
    """Folders of the class's notebooks: no child sees another student's submission.

    For nbgrader's ``COURSE/submitted/<student>/<assignment>/`` layout that is the whole
    nbgrader course folder (its source/ notebooks hold the solutions).
    """
    folders = {
        str(path.resolve() if path.is_dir() else path.resolve().parent) for path in opts.submissions
    }
    for submission in submissions:
        course = nbgrader_course(submission.notebook, submission.student)
        if course is not None:
            folders.add(str(course))
    return sorted(folders)


class Outputs:
    """Writes every output as submissions finish, so an interrupted run keeps them.

    A student's feedback and gradebook rows are written with the record. The JSON and CSV
    files hold the whole class, so rewriting them per record would cost a run time
    quadratic in the class size (measured: 0.11 s per rewrite at 1,000 students, a minute
    per run); they are rewritten once the time since the last rewrite is SAVE_EVERY times
    that rewrite's cost (at most 1/SAVE_EVERY of the run), and by :meth:`save` at the end,
    also when the run stops on an exception or Ctrl-C.
    """

    SAVE_EVERY = 20

    def __init__(self, opts: Options, assignment, gradebook: results.GradebookProcess | None):
        self.opts = opts
        self.assignment = assignment
        self.gradebook = gradebook
        if gradebook is not None:
            gradebook.start(assignment.source, opts.course)
        self.failures: list[str] = []
        self.pending = False  # records the JSON and CSV files do not hold yet
        self.saved_at = self.save_cost = 0.0

    def save(self, records: dict[str, dict]) -> None:
        """Rewrite the JSON and CSV files with every record so far, if any is not in them."""
        if not self.pending:
            return
        start = time.monotonic()
        if self.opts.json_path:
            results.write_json(
                self.opts.json_path,
                self.assignment.name,
                self.assignment.max_score,
                list(records.values()),
            )
        if self.opts.csv_path:
            results.write_csv(self.opts.csv_path, list(records.values()))
        self.saved_at = time.monotonic()
        self.save_cost = self.saved_at - start
        self.pending = False

    def write(self, record: dict, records: dict[str, dict], reused: bool = False) -> None:
        """Every output of one record; ``reused``: an earlier run's, for an unchanged notebook."""
        opts = self.opts
        self.pending = True
        if time.monotonic() - self.saved_at >= self.SAVE_EVERY * self.save_cost:
            self.save(records)
        if opts.feedback:
            write_feedback(opts.feedback, record)
        if self.gradebook is not None and record["status"] != "not_run":
            # its own process reports failures at the end
            self.gradebook.write({**record, "reused": True} if reused else record)
            try:
                write_autograded(record, self.assignment.source.path)  # for generate_feedback
            except (OSError, ValueError) as exc:
                self.failures.append(record["student"])
                print(f"autograded notebook: {record['student']}: {exc}", file=sys.stderr)


def _print_summary(records: list[dict], level: str, notes: dict[str, str]) -> None:
    """One line per student; under it why nothing was graded, or where its notebook was."""
    print(f"isolation: {level}")
    width = max([len(record["student"]) for record in records] + [7])
    for record in sorted(records, key=lambda record: record["student"]):
        counts: dict[str, int] = {}
        for test in record["tests"]:
            counts[test["status"]] = counts.get(test["status"], 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        print(
            f"{record['student']:<{width}}  {record['score']:>6g} / {record['max_score']:<6g}"
            f"  {record['status']:<12} {summary}"
        )
        if record["status"] in ("invalid", "not_run"):
            why = record.get("message", "")
        else:
            why = notes.get(record["student"], "")
        if why:
            print(f"    {why.splitlines()[0]}")
