"""Fixtures shared by the whole suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def built_book() -> Path:
    """Build the book strictly (-W) into _build/html once per session and return that folder.

    Executed cells are cached in _build/.jupyter_cache, so a second build only re-runs the
    chapters whose code changed.
    """
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "-W", "--keep-going"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"strict book build failed ({proc.returncode}):\n{log[-8000:]}"
    html = ROOT / "_build" / "html"
    assert (html / "index.html").is_file(), f"no index.html in {html}"
    return html


@pytest.fixture
def cuda_device():
    """A CUDA device, or a skip that says why there is none."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available on this machine (CPU-only torch or no GPU)")
    return torch.device("cuda")
