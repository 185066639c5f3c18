"""``cnncourse grade ASSIGNMENT SUBMISSION...``: grade a class in sandboxes, in parallel."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from cnncourse.grading import results
from cnncourse.grading.assignment import AssignmentError, load_assignment
from cnncourse.grading.report import write_feedback
from cnncourse.grading.runner import (
    _fingerprint,
    collect_tests,
    find_submissions,
    grade_submission,
)
from cnncourse.grading.sandbox import LEVELS, available, best_level


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
    parser.add_argument("--json", type=Path, help="results file (also what a re-run resumes)")
    parser.add_argument("--csv", type=Path, help="class CSV: one row per student")
    parser.add_argument("--feedback", type=Path, help="folder for one HTML page per student")
    parser.add_argument("--gradebook", help="nbgrader gradebook URL, e.g. sqlite:///gradebook.db")
    parser.add_argument(
        "--isolation",
        choices=["auto", *LEVELS],
        default="auto",
        help="sandbox level (default: the strongest available)",
    )
    parser.add_argument("--force", action="store_true", help="regrade unchanged submissions")


def _error(message: str) -> int:
    print(f"cnncourse grade: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    try:
        assignment = load_assignment(
            args.course, args.assignment, timeout=args.timeout, memory_mb=args.memory
        )
        collect_tests(assignment)
        submissions = find_submissions(args.submissions, args.assignment)
    except (AssignmentError, FileNotFoundError, ValueError) as exc:
        return _error(str(exc))
    level = best_level() if args.isolation == "auto" else args.isolation
    if not available(level):
        return _error(f"isolation level {level!r} is not available on this machine")

    previous = {} if args.force else results.load_previous(args.json)
    records: dict[str, dict] = {}
    todo = []
    for submission in submissions:
        earlier = previous.get(submission.student)
        if earlier and earlier.get("fingerprint") == _fingerprint(assignment, submission, level):
            records[submission.student] = earlier
        else:
            todo.append(submission)
    hidden = _output_folders(args)
    out = Outputs(args, assignment)
    for record in records.values():
        out.write(record, records)

    jobs = max(1, min(args.jobs, len(todo) or 1))
    # fork: workers inherit the imports already done here; no thread is running yet
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {
            pool.submit(grade_submission, assignment, sub, level, hidden): sub for sub in todo
        }
        bar = tqdm(total=len(submissions), initial=len(records), unit="submission", file=sys.stderr)
        for future in as_completed(futures):
            record = future.result()
            records[record["student"]] = record
            out.write(record, records)
            bar.update()
        bar.close()
    _print_summary(list(records.values()), level)
    return 1 if out.failures else 0


def _output_folders(args) -> list[str]:
    folders = [args.json, args.csv]
    if args.feedback:
        folders.append(args.feedback / "x")
    if args.gradebook and args.gradebook.startswith("sqlite:///"):
        folders.append(Path(args.gradebook[len("sqlite:///") :]))
    return [str(Path(path).resolve().parent) for path in folders if path]


class Outputs:
    """Writes every output as each submission finishes, so an interrupted run keeps them."""

    def __init__(self, args, assignment):
        self.args = args
        self.assignment = assignment
        self.failures: list[str] = []

    def write(self, record: dict, records: dict[str, dict]) -> None:
        args = self.args
        if args.json:
            results.write_json(
                args.json, self.assignment.name, self.assignment.max_score, list(records.values())
            )
        if args.csv:
            results.write_csv(args.csv, list(records.values()))
        if args.feedback:
            write_feedback(args.feedback, record)
        if args.gradebook:
            try:
                results.write_gradebook(args.gradebook, self.assignment.source, record)
            except Exception as exc:  # a locked or foreign database: say so, keep grading
                self.failures.append(record["student"])
                print(f"gradebook: {record['student']}: {exc}", file=sys.stderr)


def _print_summary(records: list[dict], level: str) -> None:
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
