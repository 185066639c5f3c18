"""``cnncourse grade ASSIGNMENT SUBMISSION...``: grade a class in sandboxes, in parallel."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cnncourse.grading import results
from cnncourse.grading.assignment import AssignmentError, load_assignment
from cnncourse.grading.autograded import nbgrader_course, write_autograded
from cnncourse.grading.gradebook_locks import database_url
from cnncourse.grading.report import write_feedback
from cnncourse.grading.sandbox import (
    INSTALL_BUBBLEWRAP,
    LEVELS,
    PROTECTS,
    start_probing,
    why_not_bubblewrap,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", help="assignment name (solutions/NAME/NAME.ipynb)")
    parser.add_argument(
        "submissions",
        nargs="+",
        type=Path,
        help="notebooks, or folders in nbgrader's submitted/<student>/<assignment>/ layout",
    )
    parser.add_argument("--course", type=Path, default=Path("."), help="course root (default .)")
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="submissions graded at once"
    )
    parser.add_argument("--timeout", type=float, help="seconds per call (assignment.toml: 10)")
    parser.add_argument("--memory", type=int, help="MiB per submission (assignment.toml: 2048)")
    # sandbox limits (owned with sandbox.py): the wall-clock cap of one whole submission
    parser.add_argument(
        "--submission-timeout",
        type=float,
        help="wall-clock seconds one submission may cost in all (assignment.toml: 300)",
    )
    parser.add_argument("--json", type=Path, help="results file (also what a re-run resumes)")
    parser.add_argument("--csv", type=Path, help="class CSV: one row per student")
    parser.add_argument("--feedback", type=Path, help="folder for one HTML page per student")
    parser.add_argument(
        "--gradebook",
        help="nbgrader gradebook URL: sqlite:///gradebook.db, or postgresql://USER@HOST/DB "
        "for one gradebook shared by several graders",
    )
    parser.add_argument(
        "--isolation",
        choices=["auto", *LEVELS],
        default=os.environ.get("CNNCOURSE_ISOLATION", "auto"),
        help="sandbox level (default: $CNNCOURSE_ISOLATION, else auto: bubblewrap, and a "
        "refusal where it is not available; uid and rlimits only when named)",
    )
    parser.add_argument("--force", action="store_true", help="regrade unchanged submissions")


def _error(message: str) -> int:
    print(f"cnncourse grade: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    if args.gradebook:
        try:
            args.gradebook = database_url(args.gradebook)
        except ValueError as exc:
            return _error(f"--gradebook: {exc}")
    # started first: the probe and the gradebook's process run while the suite loads
    gradebook = results.GradebookProcess(args.gradebook) if args.gradebook else None
    try:
        code = _run(args, gradebook)
    finally:
        failed = gradebook.close() if gradebook is not None else []
    if failed:
        print(f"gradebook: {len(failed)} submission(s) not written", file=sys.stderr)
        return max(code, 1)
    return code


def _run(args: argparse.Namespace, gradebook) -> int:
    wait_for_level = start_probing(args.isolation)
    from tqdm import tqdm

    from cnncourse.grading.runner import _fingerprint, collect_tests, find_submissions, grade_all

    try:
        assignment = load_assignment(
            args.course,
            args.assignment,
            timeout=args.timeout,
            memory_mb=args.memory,
            submission_timeout=args.submission_timeout,
        )
        collect_tests(assignment)
        submissions = find_submissions(args.submissions, args.assignment)
    except (AssignmentError, FileNotFoundError, ValueError) as exc:
        return _error(str(exc))
    level = wait_for_level()
    if level is None:
        return _error(f"isolation level {args.isolation!r} is not available on this machine")
    if args.isolation == "auto" and level != "bubblewrap":
        return _error(_weaker_level_refused(level))
    _announce(level)

    previous = {} if args.force else results.load_previous(args.json)
    records: dict[str, dict] = {}
    todo = []
    for submission in submissions:
        if submission.problem:  # nothing to grade: no single notebook for this student
            records[submission.student] = _not_found(assignment, submission, level)
            continue
        earlier = previous.get(submission.student)
        if earlier and earlier.get("fingerprint") == _fingerprint(assignment, submission, level):
            records[submission.student] = earlier
        else:
            todo.append(submission)
    hidden = _output_folders(args) + _submission_folders(args, submissions)
    out = Outputs(args, assignment, gradebook)
    for record in records.values():
        out.write(record, records, reused=True)

    tqdm.monitor_interval = 0  # no monitor thread: a replacement worker is forked from here
    bar = tqdm(total=len(submissions), initial=len(records), unit="submission", file=sys.stderr)
    notes = {submission.student: submission.note for submission in todo if submission.note}
    for record in grade_all(assignment, todo, level, hidden, args.jobs):
        if record["student"] in notes:
            record["notes"] = [notes[record["student"]], *record.get("notes", [])]
        records[record["student"]] = record
        out.write(record, records)
        bar.update()
    bar.close()
    _print_summary(list(records.values()), level, notes)
    return 1 if out.failures else 0


def _not_found(assignment, submission, level: str) -> dict:
    """The record of a student whose notebook could not be told apart: nothing graded."""
    from cnncourse.grading.runner import _not_run

    return {
        "student": submission.student,
        "assignment": assignment.name,
        "notebook": str(submission.notebook),
        "isolation": level,
        "fingerprint": None,
        "notes": [],
        "cells": {},
        "status": "not_run",
        "message": submission.problem,
        "tests": _not_run(assignment, submission.problem),
        "score": 0.0,
        "max_score": assignment.max_score,
        "duration_s": 0.0,
    }


def _weaker_level_refused(level: str) -> str:
    _protects, exposed = PROTECTS[level]
    return (
        f"refusing to grade below the bubblewrap sandbox: {why_not_bubblewrap()}.\n"
        f"The strongest level here is {level!r}: {exposed}.\n"
        f"Install bubblewrap ({INSTALL_BUBBLEWRAP}) and run again, or accept the weaker "
        f"level by naming it: --isolation {level}"
    )


def _announce(level: str) -> None:
    protects, exposed = PROTECTS[level]
    print(f"isolation: {level}: {protects}; not protected: {exposed}", file=sys.stderr)


def _output_folders(args) -> list[str]:
    folders = [args.json, args.csv]
    if args.feedback:
        folders.append(args.feedback / "x")
    if args.gradebook and args.gradebook.startswith("sqlite:///"):
        folders.append(Path(args.gradebook[len("sqlite:///") :]))
    return [str(Path(path).resolve().parent) for path in folders if path]


def _submission_folders(args, submissions) -> list[str]:
    """Folders of the class's notebooks: no child sees another student's submission.

    For nbgrader's ``COURSE/submitted/<student>/<assignment>/`` layout that is the whole
    nbgrader course folder (its source/ notebooks hold the solutions).
    """
    folders = {
        str(path.resolve() if path.is_dir() else path.resolve().parent) for path in args.submissions
    }
    for submission in submissions:
        course = nbgrader_course(submission.notebook, submission.student)
        if course is not None:
            folders.add(str(course))
    return sorted(folders)


class Outputs:
    """Writes every output as each submission finishes, so an interrupted run keeps them."""

    def __init__(self, args, assignment, gradebook: results.GradebookProcess | None):
        self.args = args
        self.assignment = assignment
        self.gradebook = gradebook
        if gradebook is not None:
            gradebook.start(assignment.source, args.course)
        self.failures: list[str] = []

    def write(self, record: dict, records: dict[str, dict], reused: bool = False) -> None:
        """Every output of one record; ``reused``: an earlier run's, for an unchanged notebook."""
        args = self.args
        if args.json:
            results.write_json(
                args.json, self.assignment.name, self.assignment.max_score, list(records.values())
            )
        if args.csv:
            results.write_csv(args.csv, list(records.values()))
        if args.feedback:
            write_feedback(args.feedback, record)
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
