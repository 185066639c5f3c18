"""Where grades go: the JSON results file, the class CSV and nbgrader's gradebook.

The JSON file is rewritten atomically after every submission, so an interrupted run keeps
every grade it finished, and a re-run reuses the records whose fingerprint (notebook,
source, suite, settings, isolation) has not changed.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import multiprocessing
import os
import signal
import sys
import tempfile
import warnings
from pathlib import Path

from cnncourse.grading import gradebook_locks

SCHEMA_VERSION = 1


def load_previous(path: Path | None) -> dict[str, dict]:
    """Records of an earlier run, by student (empty if there is none or it is unreadable)."""
    if path is None or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {record["student"]: record for record in data["submissions"]}
    except (ValueError, KeyError, TypeError):
        return {}


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_json(path: Path, assignment: str, max_score: float, records: list[dict]) -> None:
    document = {
        "schema_version": SCHEMA_VERSION,
        "assignment": assignment,
        "max_score": max_score,
        "submissions": sorted(records, key=lambda record: record["student"]),
    }
    atomic_write(path, json.dumps(document, indent=1, sort_keys=False) + "\n")


def write_csv(path: Path, records: list[dict]) -> None:
    """One row per student: score, max_score, status, isolation, then points per test."""
    tests = []
    for record in records:
        for test in record["tests"]:
            if test["name"] not in tests:
                tests.append(test["name"])
    rows = [["student", "assignment", "score", "max_score", "status", "isolation", *tests]]
    for record in sorted(records, key=lambda record: record["student"]):
        points = {test["name"]: test["points"] for test in record["tests"]}
        rows.append(
            [
                record["student"],
                record["assignment"],
                f"{record['score']:g}",
                f"{record['max_score']:g}",
                record["status"],
                record["isolation"],
                *(f"{points.get(name, 0):g}" for name in tests),
            ]
        )
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    atomic_write(path, buffer.getvalue())


class GradebookWriter:
    """Stores submissions in nbgrader's gradebook through nbgrader's own API.

    At the first record the assignment's notebook is registered as ``nbgrader
    generate_assignment`` registers it (:func:`register_assignment`), so the gradebook has
    every grade cell (the autograded tests and the written answers graded by hand), solution,
    task and source cell, and a later ``nbgrader generate_assignment`` finds nothing changed.
    Each submission gets nbgrader's whole structure of grades and comments
    (``add_submission``); the test cells get our scores; a written answer waits for a hand
    grade in formgrader, unless it is the released text unchanged (0 points and "No
    response.", as ``nbgrader autograde`` does). A grade given by hand is kept; it is flagged
    for review when the submission was graded again, not when a re-run reused its record
    (``record["reused"]``). After a failed write it starts afresh at the next record.

    The URL names a SQLite file or a PostgreSQL database (:mod:`gradebook_locks`): there each
    submission is one transaction under the lock of its assignment and student, so several
    processes can write one gradebook; the later write of a student replaces the earlier.
    """

    def __init__(self, url: str, source, course: Path | None = None):
        self.url = gradebook_locks.database_url(url)
        self.source = source
        self.course = course
        self.gradebook = None
        self.cells: dict[str, dict] = {}  # grade id -> nbgrader metadata, from the source

    def write(self, record: dict) -> None:
        if self.gradebook is None:
            self.gradebook = self._open(record["assignment"])
        try:
            gradebook_locks.retrying(lambda: self._write_locked(self.gradebook, record))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        gradebook, self.gradebook = self.gradebook, None
        if gradebook is not None:
            gradebook.close()

    def _open(self, assignment: str):
        from nbgrader.api import Gradebook

        _alembic_on_path()
        config = course_config(self.course)
        self.cells = gradebook_locks.retrying(
            lambda: register_assignment(self.url, self.source.path, assignment, config)
        )
        return Gradebook(self.url, config.CourseDirectory.get("course_id", "default_course"))

    def _write_locked(self, gradebook, record: dict) -> None:
        key = gradebook_locks.student_key(
            gradebook.course_id, record["assignment"], record["student"]
        )
        with gradebook_locks.locked_transaction(gradebook, key):
            self._write(gradebook, record)

    def _write(self, gradebook, record: dict) -> None:
        from nbgrader.api import MissingEntry

        notebook = self.source.path.stem
        assignment, student = record["assignment"], record["student"]
        per_cell: dict[str, float] = {}
        for test in record["tests"]:
            per_cell[test["grade_id"]] = per_cell.get(test["grade_id"], 0.0) + test["points"]
        gradebook.update_or_create_student(student)
        try:
            gradebook.find_submission(assignment, student)
        except MissingEntry:
            gradebook.add_submission(assignment, student)
        stamp = Path(record["notebook"]).parent / "timestamp.txt"  # nbgrader collect's
        if stamp.is_file():  # when it was handed in, for nbgrader's late penalties
            timestamp = stamp.read_text(encoding="utf-8").strip()
            gradebook.update_or_create_submission(assignment, student, timestamp=timestamp)
        answers = _answers(Path(record["notebook"]))
        for grade_id, meta in self.cells.items():
            if meta.get("solution"):
                unchanged = answers.get(grade_id, meta["released"]) == meta["released"]
                comment = gradebook.find_comment(grade_id, notebook, assignment, student)
                comment.auto_comment = "No response." if unchanged else None
            if not meta.get("grade"):
                continue
            grade = gradebook.find_grade(grade_id, notebook, assignment, student)
            if meta.get("solution"):  # a written answer: graded by hand
                grade.auto_score = 0.0 if unchanged else None
            else:
                grade.auto_score = per_cell.get(grade_id, 0.0)
            hand_graded = grade.manual_score is not None
            if not (hand_graded and record.get("reused")):  # else as formgrader left it
                # as nbgrader autograde: a regraded submission's hand grades are to review
                grade.needs_manual_grade = hand_graded or grade.auto_score is None
        gradebook.db.commit()


def _alembic_on_path() -> None:
    """nbgrader stamps a new database by running its ``alembic``, found on PATH."""
    scripts = os.path.dirname(sys.executable)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def course_config(course: Path | None):
    """nbgrader's configuration of a course: its ``nbgrader_config.py``, as nbgrader reads it
    when started in that folder (an empty configuration where there is none)."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    if course is None or not (Path(course) / "nbgrader_config.py").is_file():
        return Config()
    return PyFileConfigLoader("nbgrader_config.py", path=str(Path(course).resolve())).load_config()


def register_assignment(url: str, source_path: Path, assignment: str, config) -> dict[str, dict]:
    """Record the notebook's cells in the gradebook exactly as ``nbgrader generate_assignment``
    does: its own preprocessors, up to and including SaveCells, run on the instructor's
    notebook. Returns each nbgrader cell's metadata by grade id, with ``released``: the cell's
    text as released to students (for answers, the stub)."""
    from nbgrader.api import Gradebook

    course_id = config.CourseDirectory.get("course_id", "default_course")
    with gradebook_locks.held(url, gradebook_locks.SCHEMA):  # nbgrader creates its tables
        Gradebook(url, course_id).close()
    with gradebook_locks.held(url, gradebook_locks.assignment_key(course_id, assignment)):
        return _register_cells(url, Path(source_path), assignment, config, course_id)


def _register_cells(url: str, source_path: Path, assignment: str, config, course_id: str):
    import nbformat
    from nbgrader.api import Gradebook
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import SaveCells

    with Gradebook(url, course_id) as gradebook:
        gradebook.update_or_create_assignment(assignment)
    notebook = nbformat.read(source_path, as_version=4)
    resources = {
        "unique_key": source_path.stem,
        "metadata": {"name": source_path.stem, "path": str(source_path.parent)},
        "nbgrader": {"notebook": source_path.stem, "assignment": assignment, "db_url": url},
    }
    generator = GenerateAssignment(coursedir=CourseDirectory(config=config), config=config)
    for preprocessor in generator.preprocessors:
        notebook, resources = preprocessor(config=config).preprocess(notebook, resources)
        if preprocessor is SaveCells:
            break
    cells = {}
    for cell in notebook.cells:
        meta = dict(cell.metadata.get("nbgrader", {}))
        if "grade_id" in meta:
            cells[meta["grade_id"]] = {**meta, "released": cell.source}
    return cells


def _answers(notebook: Path) -> dict[str, str]:
    """The student's text of each nbgrader cell, by grade id (empty if unreadable)."""
    from cnncourse.grading.notebook import NotebookError, read_cells

    try:
        cells = read_cells(notebook)
    except NotebookError:
        return {}
    answers: dict[str, str] = {}
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            answers.setdefault(meta["grade_id"], cell["source"])
    return answers


class GradebookProcess:
    """A :class:`GradebookWriter` in a process of its own, started before anything else.

    Importing nbgrader takes seconds (its server extensions come with it); in this process
    that overlaps the suite's collection and the grading, and the writes never hold up the
    workers. Records are written in the order sent; :meth:`close` waits for the last one
    and returns the students whose write failed (each also reported on stderr).
    """

    def __init__(self, url: str):
        fork = "fork" in multiprocessing.get_all_start_methods()
        context = (
            multiprocessing.get_context("fork") if fork else multiprocessing.get_context("spawn")
        )
        self.conn, theirs = context.Pipe()
        self.process = context.Process(target=_gradebook_main, args=(url, theirs))
        self.process.start()
        theirs.close()
        self.sent: list[str] = []

    def start(self, source, course: Path | None = None) -> None:
        """Give the source notebook and the course folder (for its nbgrader configuration);
        then send records."""
        self._send((source, course))

    def write(self, record: dict) -> None:
        self.sent.append(record["student"])
        self._send(record)

    def _send(self, value) -> None:
        with contextlib.suppress(OSError):  # it died: close() reports the records as failed
            self.conn.send(value)

    def close(self) -> list[str]:
        self._send(None)
        try:
            failed = self.conn.recv()
        except (EOFError, OSError):
            failed = self.sent  # it died: no write can be trusted to have happened
            print("gradebook: the writing process ended early", file=sys.stderr)
        self.conn.close()
        self.process.join()
        return failed


def _gradebook_main(url: str, conn) -> None:
    # an interrupted run still writes what it sent: this process stops when the grader
    # closes the pipe, not on the terminal's Ctrl-C
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # nbgrader imports nbformat, whose jsonschema loads the optional rfc3987_syntax checker
    # of IRI formats if it is installed: 1.8 s here to build its grammar, for a format no
    # gradebook write checks. Marked missing in this process only, jsonschema goes without.
    # (typeshed's sys.modules holds modules only; None is the import system's "missing")
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    # SQLAlchemy's and other libraries' deprecation warnings are nbgrader's business, not the
    # instructor's: they would land in the middle of the progress bar
    warnings.simplefilter("ignore")
    with contextlib.suppress(Exception):
        import nbgrader.api  # noqa: F401  (now, while the grader still sets up)
    failed: list[str] = []
    writer = None
    while True:
        try:
            message = conn.recv()
        except EOFError:
            break
        if message is None:
            break
        if writer is None:
            writer = GradebookWriter(url, *message)
            continue
        try:
            writer.write(message)
        except Exception as exc:  # a locked or foreign database: say so, go on
            failed.append(message["student"])
            print(f"gradebook: {message['student']}: {exc}", file=sys.stderr, flush=True)
    if writer is not None:
        writer.close()
    with contextlib.suppress(OSError):
        conn.send(failed)
