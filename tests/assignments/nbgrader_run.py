"""Run a real nbgrader course end to end, in one process (used by test_e2e.py and corpus/).

    python nbgrader_run.py COURSE OUT.json ASSIGNMENT...
    python nbgrader_run.py --generate-only COURSE ASSIGNMENT...

COURSE holds solutions/<a>/<a>.ipynb, autograde/nbgrader_config.py and the submissions in
autograde/submitted/<student>/<a>/<a>.ipynb. For each assignment: ``generate_assignment``
(which fills the gradebook), then ``autograde`` of every student. OUT.json gets, per
assignment and student, the score, the max score, each cell's score and the autograded
notebook's path (:func:`report`). With ``--generate-only``, only the first step: a course
whose gradebook knows every assignment, to copy (``corpus/graders.py`` autogrades such
copies with the ``nbgrader autograde`` command, several at once).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader


def _api(course: Path) -> tuple[CourseDirectory, NbGraderAPI]:
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course / "autograde")).load_config()
    coursedir = CourseDirectory(config=config)
    return coursedir, NbGraderAPI(coursedir=coursedir, config=config)


def generate(api: NbGraderAPI, assignments: list[str]) -> bool:
    for a in assignments:
        result = api.generate_assignment(a, force=True, create=True)
        if not result["success"]:
            print(result.get("error", ""), result.get("log", ""), file=sys.stderr)
            return False
    return True


def students_of(course: Path, a: str) -> list[str]:
    return sorted(
        p.parent.parent.name for p in (course / "autograde" / "submitted").glob(f"*/{a}/{a}.ipynb")
    )


def report(course: Path, a: str, students: list[str]) -> dict[str, dict]:
    """student -> what nbgrader's gradebook (autograde/gradebook.db) holds of ``a``."""
    db_url = f"sqlite:///{course / 'autograde' / 'gradebook.db'}"
    out = {}
    with Gradebook(db_url, "cnncourse") as gb:
        for s in students:
            sub = gb.find_submission(a, s)
            nb = gb.find_submission_notebook(a, a, s)
            out[s] = {
                "score": sub.score,
                "max_score": sub.max_score,
                "code_score": sub.code_score,
                "max_code_score": sub.max_code_score,
                "cells": {g.name: [g.score, g.max_score] for g in nb.grades},
                "notebook": str(course / "autograde" / "autograded" / s / a / f"{a}.ipynb"),
            }
    return out


def main(course: Path, out: Path, assignments: list[str]) -> int:
    coursedir, api = _api(course)
    if not generate(api, assignments):
        return 1
    for a in assignments:
        students = students_of(course, a)
        with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
            for s in students:
                gb.update_or_create_student(s)
        for s in students:
            result = api.autograde(a, s, force=True, create=True)
            if not result["success"]:
                print(result.get("error", ""), result.get("log", ""), file=sys.stderr)
                return 1
    out.write_text(json.dumps({a: report(course, a, students_of(course, a)) for a in assignments}))
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "--generate-only":
        sys.exit(0 if generate(_api(Path(sys.argv[2]))[1], sys.argv[3:]) else 1)
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]))
