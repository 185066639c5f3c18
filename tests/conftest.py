"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

if shutil.which("bwrap") is None and "CNNCOURSE_ISOLATION" not in os.environ:
    # `cnncourse grade` refuses to fall below bubblewrap unless told: without bwrap
    # (make test SYSTEM_PACKAGES=skip) the grading tests name the next level explicitly
    os.environ["CNNCOURSE_ISOLATION"] = "uid" if os.geteuid() == 0 else "rlimits"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def built_book(pytestconfig) -> Path:
    """Build the book strictly (-W) into _build/html once per session and return that folder.

    Executed cells are cached in _build/.jupyter_cache, so a second build only re-runs the
    chapters whose code changed. A cold build takes minutes: every 30 s the terminal shows
    that it is alive and what it is executing.
    """
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book), "build", str(ROOT), "-W", "--keep-going"]
    returncode, log = _run_with_heartbeat(command, "book build", pytestconfig)
    assert returncode == 0, f"strict book build failed ({returncode}):\n{log[-8000:]}"
    html = ROOT / "_build" / "html"
    assert (html / "index.html").is_file(), f"no index.html in {html}"
    return html


def _run_with_heartbeat(command: list[str], what: str, config, every: float = 30.0):
    """Run ``command``; print a line to the terminal every ``every`` s while it runs."""
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    start = time.monotonic()
    while process.poll() is None:
        reader.join(timeout=every)
        if process.poll() is None:
            last = next((line.strip() for line in reversed(lines) if _news(line)), "")
            _say(config, f"[{what}: {time.monotonic() - start:.0f} s] {last[:100]}")
    reader.join()
    _say(config, f"[{what}: done in {time.monotonic() - start:.0f} s]")
    return process.returncode, "".join(lines)


def _news(line: str) -> bool:
    """A line worth showing: not blank, not the kernel's routine start-up warning."""
    return bool(line.strip()) and not line.startswith("[IPKernelApp]")


def _say(config, line: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


@pytest.fixture
def cuda_device():
    """A CUDA device, or a skip that says why there is none."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip(
            "needs a CUDA device: torch.cuda.is_available() is False; run on a machine with "
            "an NVIDIA GPU and its driver, where the pinned torch==2.13.0 is the CUDA build"
        )
    return torch.device("cuda")


# --- markers by what a test needs (make test-fast leaves out book, browser, e2e and slow) ----

# Fixtures that build the book, open a browser, or run a whole grading of a course.
_BOOK_FIXTURES = {"built_book", "html_root"}
_BROWSER_FIXTURES = {"browser"}
_E2E_FIXTURES = {"corpus_run"}
# Modules that grade whole courses end to end through `cnncourse grade` or nbgrader (every test
# of them runs a grading, or reads one a module fixture ran).
_E2E_MODULES = {
    "tests/assignments/test_e2e.py",
    "tests/assignments/test_fairness.py",
    "tests/assignments/test_nonfinite_submissions.py",
    "tests/grading/test_cli.py",
    "tests/grading/test_cluster.py",  # real dask scheduler and workers
    "tests/grading/test_gradebook_locks.py",  # a real PostgreSQL server
    "tests/grading/test_postgresql_gradebook.py",
    "tests/grading/test_similar.py",  # the whole fairness corpus, compared pairwise
    "tests/grading/test_torch_guard.py",  # torch sandboxes grading the torch sample course
    "tests/grading/test_instructor_docs.py",
    "tests/grading/test_nbgrader_feedback.py",
    "tests/grading/test_sandbox_limits.py",
    "tests/grading/test_sessions.py",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        path = Path(str(item.fspath)).resolve()
        module = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else ""
        if fixtures & _BOOK_FIXTURES:
            item.add_marker(pytest.mark.book)
        if fixtures & _BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if fixtures & _E2E_FIXTURES or module in _E2E_MODULES:
            item.add_marker(pytest.mark.e2e)
        if "cuda_device" in fixtures:
            item.add_marker(pytest.mark.cuda)
