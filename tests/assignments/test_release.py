"""`cnncourse release` makes exactly the committed exercises (regenerated in a temp folder)."""

from __future__ import annotations

import json

import pytest
from assignment_course import ROOT

from cnncourse import cli
from cnncourse.grading.release import ASSIGNMENTS, comparable, differences


@pytest.mark.slow
def test_committed_exercises_are_what_a_release_makes():
    assert differences(ROOT, ASSIGNMENTS) == []


@pytest.mark.slow
def test_release_check_command(capsys):
    assert cli.main(["release", "--check", "--course-dir", str(ROOT), "conv"]) == 0
    assert "up to date: conv" in capsys.readouterr().out


def test_comparison_ignores_only_volatile_metadata():
    nb = json.loads((ROOT / "exercises" / "conv" / "conv.ipynb").read_text())
    executed = json.loads(json.dumps(nb))
    executed["metadata"]["language_info"] = {"name": "python", "version": "3.11.7"}
    executed["cells"][1]["execution_count"] = 3
    executed["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x"}]
    assert comparable(json.dumps(executed)) == comparable(json.dumps(nb))
    edited = json.loads(json.dumps(nb))
    edited["cells"][1]["source"] += "\n# changed"
    assert comparable(json.dumps(edited)) != comparable(json.dumps(nb))


def test_unknown_assignment_is_refused(capsys):
    assert cli.main(["release", "--course-dir", str(ROOT), "no_such_assignment"]) == 2
    assert "no solutions/no_such_assignment/" in capsys.readouterr().err
