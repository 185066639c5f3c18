"""Time limits: CPU time per call, a wall-clock backstop, and a cap per submission."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import grade
from grading_corpus import ALL, CASES, COURSE, Case, build

from cnncourse.grading.assignment import AssignmentError, load_assignment

HANGS_IGNORING_SIGNALS = Case(
    answers={
        "relu": """
import signal, time
for number in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGXCPU, signal.SIGHUP):
    signal.signal(number, signal.SIG_IGN)

def relu_forward(x):
    time.sleep(10**6)  # no CPU time: only a wall clock stops this

def relu_backward(dout, cache):
    time.sleep(10**6)
""",
        "affine": """
def affine_forward(x, w, b):
    while True:
        pass

def affine_backward(dout, cache):
    while True:
        pass
""",
    },
    expect=dict.fromkeys(ALL, "timeout"),
)

# correct, and slow on purpose: each call spends 0.3 s of CPU time first
SLOW_BUT_CORRECT = Case(
    answers={
        "relu": """
import time

def _think(seconds=0.3):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass

def relu_forward(x):
    _think()
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    _think()
    return dout * (cache > 0)
"""
    }
)


def _grade_class(tmp_path: Path, cases: dict[str, Case], *options: str) -> dict[str, dict]:
    submitted = tmp_path / "submitted"
    for name, case in cases.items():
        build(case, submitted / name / "sample" / "sample.ipynb", {})
    out = tmp_path / "results.json"
    process = grade("sample", str(submitted), "--json", str(out), *options)
    assert process.returncode == 0, process.stderr[-3000:]
    return {r["student"]: r for r in json.loads(out.read_text())["submissions"]}


def test_a_signal_ignoring_hang_costs_at_most_the_submission_cap(tmp_path):
    cap = 12.0
    records = _grade_class(
        tmp_path,
        {"hangs": HANGS_IGNORING_SIGNALS, "honest": CASES["honest"]},
        "--submission-timeout",
        str(cap),
        "--jobs",
        "2",
    )
    hangs = records["hangs"]
    statuses = {test["name"].split("::")[-1]: test["status"] for test in hangs["tests"]}
    assert statuses == HANGS_IGNORING_SIGNALS.expected(), hangs["tests"]
    # the cap bounds the waits; reading the notebook and starting the child come on top
    assert hangs["duration_s"] <= cap + 10, f"the hang cost {hangs['duration_s']} s (cap {cap})"
    assert any("used up its time" in test["message"] for test in hangs["tests"]), hangs["tests"]
    assert records["honest"]["score"] == 6, records["honest"]["tests"]


def _busy_loops(seconds: float) -> list[subprocess.Popen]:
    """One busy loop per core plus one, each ending by itself after ``seconds``."""
    code = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass"
    return [
        subprocess.Popen([sys.executable, "-c", code]) for _ in range((os.cpu_count() or 1) + 1)
    ]


def test_honest_submissions_do_not_time_out_while_every_core_is_busy(tmp_path):
    # 1 s of CPU per call; the slow answer needs 0.3 s of it, so it finishes in time however
    # long the busy machine makes it wait for a core (with N+1 busy loops on N cores a wall
    # clock limit of 1 s would not be met: the call gets well under a core)
    loops = _busy_loops(300)
    try:
        time.sleep(1)  # the loops are running before the grading starts
        started = time.monotonic()
        records = _grade_class(
            tmp_path,
            {"slow": SLOW_BUT_CORRECT, "honest": CASES["honest"], "honest2": CASES["honest"]},
            "--timeout",
            "1",
            "--jobs",
            "2",
        )
        elapsed = time.monotonic() - started
        assert all(loop.poll() is None for loop in loops), "a busy loop ended during grading"
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
    for name, record in records.items():
        statuses = {test["status"] for test in record["tests"]}
        assert statuses == {"passed"}, (name, elapsed, record["tests"])


def _course_with(tmp_path: Path, settings: str) -> Path:
    course = tmp_path / "course"
    course.mkdir(parents=True)
    (course / "solutions").symlink_to(COURSE / "solutions")
    suite = course / "autograde" / "sample"
    suite.mkdir(parents=True)
    (suite / "test_sample.py").write_text((COURSE / "autograde/sample/test_sample.py").read_text())
    (suite / "assignment.toml").write_text(settings)
    return course


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ('modules = ["numpy", "cnncourse"]', "can never be permitted"),
        ('modules = ["no_such_module_here"]', "is not installed"),
        ('modules = ["numpy", "sklearn"]', "'sklearn' cannot be permitted"),
        ('modules = ["scipy.signal"]', "'scipy' cannot be permitted"),
        ('modules = "numpy"', "modules must be a list"),
        ("submission_timeout = -1", "submission_timeout must be positive"),
        ('timeout = "ten"', "timeout must be a number"),
    ],
)
def test_bad_sandbox_settings_are_refused_with_a_message(tmp_path, settings, words):
    course = _course_with(tmp_path, settings)
    with pytest.raises(AssignmentError, match=words):
        load_assignment(course, "sample")


def test_limits_come_from_assignment_toml_and_the_command_line_wins(tmp_path):
    course = _course_with(tmp_path, "timeout = 4\nsubmission_timeout = 50\nwall_timeout = 9\n")
    limits = load_assignment(course, "sample").limits
    assert (limits.timeout, limits.submission_timeout, limits.wall(4)) == (4, 50, 9)
    assert load_assignment(course, "sample", submission_timeout=7).limits.submission_timeout == 7


def test_the_default_limits_are_the_documented_ones(tmp_path):
    limits = load_assignment(_course_with(tmp_path, ""), "sample").limits
    assert (limits.timeout, limits.setup_timeout, limits.submission_timeout) == (10, 60, 300)
    assert limits.wall(limits.timeout) == 100
    assert load_assignment(_course_with(tmp_path / "b", ""), "sample").modules == ("numpy",)
