"""Run a real nbgrader course end to end, in one process (used by test_nbgrader.py).

    python nbgrader_run.py COURSE OUT.json ASSIGNMENT...

COURSE holds solutions/<a>/<a>.ipynb, autograde/nbgrader_config.py and the submissions in
autograde/submitted/<student>/<a>/<a>.ipynb. For each assignment: ``generate_assignment``
(which fills the gradebook), then ``autograde`` of every student. OUT.json gets, per
assignment and student, the score, the max score, each cell's score and the autograded
notebook's path.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader


def main(course: Path, out: Path, assignments: list[str]) -> int:
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course / "autograde")).load_config()
    coursedir = CourseDirectory(config=config)
    api = NbGraderAPI(coursedir=coursedir, config=config)
    report: dict = {}
    for a in assignments:
        result = api.generate_assignment(a, force=True, create=True)
        if not result["success"]:
            print(result.get("error", ""), result.get("log", ""), file=sys.stderr)
            return 1
        students = sorted(
            p.parent.parent.name
            for p in (course / "autograde" / "submitted").glob(f"*/{a}/{a}.ipynb")
        )
        with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
            for s in students:
                gb.update_or_create_student(s)
        report[a] = {}
        for s in students:
            result = api.autograde(a, s, force=True, create=True)
            if not result["success"]:
                print(result.get("error", ""), result.get("log", ""), file=sys.stderr)
                return 1
        with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
            for s in students:
                sub = gb.find_submission(a, s)
                nb = gb.find_submission_notebook(a, a, s)
                report[a][s] = {
                    "score": sub.score,
                    "max_score": sub.max_score,
                    "code_score": sub.code_score,
                    "max_code_score": sub.max_code_score,
                    "cells": {g.name: [g.score, g.max_score] for g in nb.grades},
                    "notebook": str(course / "autograde" / "autograded" / s / a / f"{a}.ipynb"),
                }
    out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]))
