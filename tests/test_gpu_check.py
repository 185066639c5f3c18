"""scripts/gpu-check.sh: valid bash, harmless without a GPU, and every part's command valid.

The script only does its real work on an NVIDIA GPU; here it must say that there is none and
exit 0. Its parts are read from the script itself (``part NAME SECONDS COMMAND...``), and each
command is checked against the real program: the options it passes appear in that program's
``--help``, the files it names exist, and the time limits add up to less than 8 minutes.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu-check.sh"
PARTS = ("cuda-tests", "bench-conv", "train", "train-amp", "ddp")
KILL_AFTER_S = 10  # timeout --kill-after in the script


def parts() -> dict[str, tuple[int, list[str]]]:
    """Each ``part`` line of the script: name -> (seconds, command with $PY as this Python)."""
    text = re.sub(r"\\\n\s*", " ", SCRIPT.read_text())  # join continued lines
    found = {}
    for line in text.splitlines():
        if line.startswith("part "):
            _, name, seconds, *command = shlex.split(line)
            found[name] = (int(seconds), [sys.executable if c == "$PY" else c for c in command])
    return found


def program(command: list[str]) -> tuple[list[str], list[str]]:
    """``(the program to ask for --help, its arguments)`` of a ``python ...`` command."""
    assert command[0] == sys.executable, command
    if command[1] != "-m":
        return command[:2], command[2:]
    if command[2] == "cnncourse":  # the subcommand has its own options
        return command[:4], command[4:]
    return command[:3], command[3:]


def test_the_script_is_valid_bash():
    proc = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_without_a_gpu_it_says_so_and_exits_0():
    # this machine as it is, minus nvidia-smi should it have one: a machine without a GPU
    smi = shutil.which("nvidia-smi")
    path = os.pathsep.join(
        d
        for d in os.environ["PATH"].split(os.pathsep)
        if smi is None or Path(d) != Path(smi).parent
    )
    proc = subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, env={**os.environ, "PATH": path}
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == (
        "gpu-check: no NVIDIA GPU on this machine (nvidia-smi finds none): nothing to check"
    ), proc.stdout


def test_it_has_every_part_within_8_minutes():
    found = parts()
    assert tuple(found) == PARTS
    total = sum(seconds + KILL_AFTER_S for seconds, _ in found.values())
    assert total < 8 * 60, f"the parts' limits add up to {total} s: {found}"


@pytest.mark.parametrize("name", PARTS)
def test_each_parts_options_are_the_programs_own(name):
    _, command = parts()[name]
    prog, args = program(command)
    help_text = subprocess.run(
        [*prog, "--help"], capture_output=True, text=True, cwd=ROOT, timeout=600
    )
    assert help_text.returncode == 0, f"{prog} --help: {help_text.stderr[-2000:]}"
    for arg in args:
        if arg.startswith("--"):
            option = arg.split("=")[0]
            assert option in help_text.stdout, f"{name}: {option} is not an option of {prog}"


@pytest.mark.parametrize("name", PARTS)
def test_each_part_names_files_that_exist(name):
    _, command = parts()[name]
    named = [c for c in command[1:] if "/" in c and not c.startswith(("$", "--"))]
    missing = [c for c in named if not (ROOT / c).exists()]
    assert not missing, f"{name}: {missing} do not exist"


def test_train_parts_run_on_the_gpu_with_and_without_amp():
    train, amp = parts()["train"][1], parts()["train-amp"][1]
    assert "--device" in train and train[train.index("--device") + 1] == "cuda"
    assert "--amp" not in train and "--amp" in amp


@pytest.mark.slow  # collects the layers, models and training tests
def test_cuda_tests_part_selects_the_cuda_tests():
    _, command = parts()["cuda-tests"]
    proc = subprocess.run(
        [*command, "--collect-only"], capture_output=True, text=True, cwd=ROOT, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    selected = re.search(r"(\d+)(?:/\d+)? tests? (?:collected|selected)", proc.stdout)
    assert selected and int(selected.group(1)) >= 10, proc.stdout[-2000:]
