"""``cnncourse check NOTEBOOK``: run an exercise notebook's visible self-checks from a shell.

The notebook runs in a fresh Jupyter kernel, the way the student runs it, with any hidden
test section removed first (an instructor's copy contains them), so nothing hidden is run
or shown. The report lists each checked cell with its points and what went wrong.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cnncourse.grading.cells import HiddenTestsError, is_test, nbgrader_meta, strip_hidden


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("notebook", type=Path, help="the exercise notebook (.ipynb)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per cell")


def run(args: argparse.Namespace) -> int:
    from nbclient import NotebookClient

    from cnncourse.grading.notebook import NotebookError, read_notebook

    try:
        notebook = read_notebook(args.notebook)
    except NotebookError as exc:
        print(f"cnncourse check: {exc}")
        return 2
    checks = []
    for cell in notebook.cells:
        if cell.cell_type == "code" and is_test(cell):
            try:
                cell.source = strip_hidden(cell.source)
            except HiddenTestsError as exc:
                print(f"cnncourse check: test cell {nbgrader_meta(cell).get('grade_id')!r}: {exc}")
                return 2
            checks.append((cell, nbgrader_meta(cell)))
    if not checks:
        print(f"{args.notebook.name} has no self-check cells")
        return 2
    client = NotebookClient(
        notebook,
        timeout=args.timeout,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(args.notebook.resolve().parent)}},
    )
    try:
        client.execute()
    except Exception as exc:  # the kernel died or a cell timed out: report what ran
        print(f"the notebook stopped: {type(exc).__name__}: {str(exc)[:300]}")
    return _report(args.notebook.name, checks)


def _report(name: str, checks) -> int:
    print(f"Self-checks of {name}:")
    earned = total = 0.0
    for cell, meta in checks:
        points = float(meta.get("points", 0))
        total += points
        errors = [out for out in cell.get("outputs", []) if out.get("output_type") == "error"]
        ran = cell.get("execution_count") is not None
        if ran and not errors:
            earned += points
            print(f"  passed  {meta.get('grade_id')} ({points:g} points)")
        elif errors:
            error = errors[0]
            message = f"{error.get('ename')}: {error.get('evalue')}".strip(": ")
            print(f"  FAILED  {meta.get('grade_id')} ({points:g} points): {message[:300]}")
        else:
            print(f"  not run {meta.get('grade_id')} ({points:g} points)")
    print(
        f"{earned:g} of {total:g} points pass the visible checks. The hidden tests decide the "
        "grade: passing these checks is necessary, not sufficient."
    )
    return 0 if earned == total else 1
