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
from pathlib import Path

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
    """Stores submissions' per-cell scores through nbgrader's own API (``nbgrader.api``).

    The gradebook is opened once and the assignment's cells are registered once, at the
    first record: the grade cells with their points, and the answer cells as nbgrader
    solution cells, so that each submission has the (empty) comments ``nbgrader
    generate_feedback`` looks up. After a failed write it starts afresh at the next record.
    """

    def __init__(self, url: str, source):
        self.url = url
        self.source = source
        self.gradebook = None

    def write(self, record: dict) -> None:
        if self.gradebook is None:
            self.gradebook = self._open(record["assignment"])
        try:
            self._write(self.gradebook, record)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        gradebook, self.gradebook = self.gradebook, None
        if gradebook is not None:
            gradebook.close()

    def _open(self, assignment: str):
        from nbgrader.api import Gradebook

        # a new database is stamped by running nbgrader's ``alembic``, found on PATH
        scripts = os.path.dirname(sys.executable)
        if scripts not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")
        gradebook = Gradebook(self.url)
        try:
            notebook = self.source.path.stem
            gradebook.update_or_create_assignment(assignment)
            gradebook.update_or_create_notebook(notebook, assignment)
            for grade_id, points in self.source.points.items():
                gradebook.update_or_create_grade_cell(
                    grade_id, notebook, assignment, max_score=points, cell_type="code"
                )
            for grade_id in self.source.answer_ids:
                gradebook.update_or_create_solution_cell(grade_id, notebook, assignment)
        except BaseException:
            gradebook.close()
            raise
        return gradebook

    def _write(self, gradebook, record: dict) -> None:
        from nbgrader.api import Comment, Grade, MissingEntry

        notebook = self.source.path.stem
        assignment, student = record["assignment"], record["student"]
        per_cell: dict[str, float] = {}
        for test in record["tests"]:
            per_cell[test["grade_id"]] = per_cell.get(test["grade_id"], 0.0) + test["points"]
        gradebook.update_or_create_student(student)
        gradebook.update_or_create_submission(assignment, student)
        # a submission made before a cell was registered lacks that cell's grade or comment
        submitted = gradebook.find_submission_notebook(notebook, assignment, student)
        for grade_id in self.source.answer_ids:
            try:
                gradebook.find_comment(grade_id, notebook, assignment, student)
            except MissingEntry:
                cell = gradebook.find_solution_cell(grade_id, notebook, assignment)
                gradebook.db.add(Comment(cell_id=cell.id, notebook=submitted))
        for grade_id in self.source.points:
            try:
                grade = gradebook.find_grade(grade_id, notebook, assignment, student)
            except MissingEntry:
                cell = gradebook.find_grade_cell(grade_id, notebook, assignment)
                grade = Grade(cell_id=cell.id, notebook=submitted)
                gradebook.db.add(grade)
            grade.auto_score = per_cell.get(grade_id, 0.0)
        gradebook.db.commit()


class GradebookProcess:
    """A :class:`GradebookWriter` in a process of its own, started before anything else.

    Importing nbgrader takes seconds (its server extensions come with it); in this process
    that overlaps the suite's collection and the grading, and the writes never hold up the
    workers. Records are written in the order sent; :meth:`close` waits for the last one
    and returns the students whose write failed (each also reported on stderr).
    """

    def __init__(self, url: str):
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        context = multiprocessing.get_context(method)
        self.conn, theirs = context.Pipe()
        self.process = context.Process(target=_gradebook_main, args=(url, theirs))
        self.process.start()
        theirs.close()
        self.sent: list[str] = []

    def start(self, source) -> None:
        """Give the source notebook (its cells and points); then send records."""
        self._send(source)

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
    sys.modules.setdefault("rfc3987_syntax", None)
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
            writer = GradebookWriter(url, message)
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
