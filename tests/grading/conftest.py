"""Shared fixtures: one real ``cnncourse grade`` run over the whole submission corpus."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from grading_corpus import CASES, COURSE, build

CLI = [sys.executable, "-m", "cnncourse"]
# the sample course's hidden suite runs under the grader, not as part of this test suite
collect_ignore = ["course"]


def grade(*args: str, cwd: Path = COURSE, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, "grade", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def corpus_run(tmp_path_factory):
    """Grade every corpus submission in one run; return (records by student, paths, process)."""
    root = tmp_path_factory.mktemp("corpus")
    out = root / "out"
    paths = {
        "json": out / "results.json",
        "csv": out / "class.csv",
        "feedback": out / "feedback",
        "gradebook": out / "gradebook.db",
        "submitted": root / "submitted",
        # the submissions are in nbgrader's layout, so --gradebook writes these too
        "autograded": root / "autograded",
    }
    replacements = {
        "__COURSE__": str(COURSE),
        "__SUBMITTED__": str(root / "submitted"),
        "__GRADEBOOK__": str(paths["gradebook"]),
        "__JSON__": str(paths["json"]),
    }
    for name, case in CASES.items():
        build(case, paths["submitted"] / name / "sample" / "sample.ipynb", replacements)
    process = grade(
        "sample",
        str(paths["submitted"]),
        "--jobs",
        "2",
        "--json",
        str(paths["json"]),
        "--csv",
        str(paths["csv"]),
        "--feedback",
        str(paths["feedback"]),
        "--gradebook",
        f"sqlite:///{paths['gradebook']}",
    )
    assert process.returncode == 0, process.stderr[-3000:]
    document = json.loads(paths["json"].read_text())
    records = {record["student"]: record for record in document["submissions"]}
    return records, paths, process
