"""What student code can see and touch, checked at every isolation level this machine offers.

Each probe is a plain script run by the runtime's interpreter under exactly the confinement
the grader uses (``Sandbox.spawn``), without the child's in-process guards: what is checked
here is what the kernel enforces, not what a Python audit hook refuses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cnncourse.grading import sandbox as sandboxes
from cnncourse.grading.sandbox import LEVELS, Limits, Sandbox

REPO = Path(__file__).resolve().parents[2]
OFFERED = [level for level in LEVELS if sandboxes.available(level)]


def run_confined(level: str, script: str, modules=("numpy",), timeout: float = 120) -> dict:
    """Run ``script`` (which prints one JSON document) in the sandbox; return that document."""
    sandbox = Sandbox(level, Limits(), modules=tuple(modules))
    workdir = sandbox.workdir()
    site = sandbox.inside(sandbox.runtime.root / "site")
    program = f"import sys; sys.path.append({site!r})\n" + textwrap.dedent(script)
    try:
        process, _pid = sandbox.spawn(
            workdir,
            program=sandbox.python("-c", program),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = process.communicate(timeout=timeout)
    finally:
        if level != "bubblewrap":
            shutil.rmtree(workdir, ignore_errors=True)
    assert process.returncode == 0, f"the probe failed at level {level}:\n{err.decode()[-3000:]}"
    return json.loads(out)


def test_this_machine_offers_a_level_where_student_code_is_not_root():
    assert OFFERED, "no isolation level works here: grading would be refused"
    if shutil.which("bwrap"):
        assert "bubblewrap" in OFFERED
    if os.geteuid() == 0:
        assert "uid" in OFFERED, "the uid level must work wherever the grader runs as root"


@pytest.mark.skipif("bubblewrap" not in OFFERED, reason="bubblewrap does not work here")
def test_bubblewrap_shows_only_the_runtime_the_libraries_and_tmp():
    sandbox = Sandbox("bubblewrap", Limits())
    found = run_confined(
        "bubblewrap",
        """
        import json, os
        files, top = [], sorted(os.listdir("/"))
        for folder, dirs, names in os.walk("/"):
            if folder in ("/proc", "/dev"):
                dirs[:] = []
                continue
            files += [os.path.join(folder, name) for name in names]
        print(json.dumps({"top": top, "files": files}))
        """,
    )
    libraries = set(sandbox.runtime.libraries)
    libraries |= {os.path.realpath(path) for path in libraries}
    assert set(found["top"]) <= {"dev", "proc", "tmp", "runtime", "usr", "lib", "lib64", "bin"}, (
        found["top"]
    )
    assert any(path.startswith("/runtime/site/numpy/") for path in found["files"])
    strays = [
        path
        for path in found["files"]
        if not path.startswith(("/runtime/", "/tmp/"))
        and path not in libraries
        and os.path.realpath(path) not in libraries
    ]
    assert not strays, f"host files visible in the sandbox: {strays[:20]}"


@pytest.mark.skipif("bubblewrap" not in OFFERED, reason="bubblewrap does not work here")
def test_bubblewrap_has_its_own_proc_with_no_host_process():
    found = run_confined(
        "bubblewrap",
        """
        import json, os
        print(json.dumps(sorted(p for p in os.listdir("/proc") if p.isdigit())))
        """,
    )
    assert found == ["1"], f"processes visible in the sandbox: {found}"


@pytest.mark.parametrize("level", OFFERED)
def test_student_code_never_runs_as_root(level):
    found = run_confined(level, "import json, os; print(json.dumps([os.getuid(), os.geteuid()]))")
    assert 0 not in found, f"student code ran as uid {found} at level {level}"


@pytest.mark.parametrize("level", OFFERED)
def test_modules_an_assignment_does_not_permit_cannot_be_imported(level):
    found = run_confined(
        level,
        """
        import importlib, json
        result = {}
        for name in ["numpy", "cnncourse", "cnncourse.layers", "torch", "scipy", "sklearn"]:
            try:
                importlib.import_module(name)
                result[name] = "imported"
            except ImportError as exc:
                result[name] = type(exc).__name__
        print(json.dumps(result))
        """,
    )
    assert found.pop("numpy") == "imported"
    assert set(found.values()) == {"ModuleNotFoundError"}, found


def _protected_paths(tmp_path: Path) -> dict[str, str]:
    """One file of each thing student code must neither read nor write."""
    gradebook = tmp_path / "gradebook.db"
    gradebook.write_bytes(b"SQLite format 3\x00")
    venv_numpy = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    return {
        "course": str(REPO / "autograde" / "conv" / "assignment.toml"),
        "hidden suite": str(
            REPO / "tests" / "grading" / "course" / "autograde" / "sample" / "test_sample.py"
        ),
        "solutions": str(REPO / "solutions" / "conv" / "conv.ipynb"),
        "gradebook": str(gradebook),
        "package source": str(REPO / "cnncourse" / "layers" / "__init__.py"),
        "virtual environment": str(venv_numpy / "site-packages" / "numpy" / "__init__.py"),
        "grader's cwd through /proc": f"/proc/{os.getpid()}/cwd/autograde/conv/assignment.toml",
        "grader's root through /proc": f"/proc/{os.getpid()}/root{REPO}/cnncourse/__init__.py",
        "pid 1's root through /proc": f"/proc/1/root{REPO}/cnncourse/__init__.py",
        "own root through /proc": f"/proc/self/root{REPO}/cnncourse/__init__.py",
        "double slash": f"/{REPO}/cnncourse/__init__.py",
    }


@pytest.mark.parametrize("level", OFFERED)
def test_course_suite_gradebook_package_and_venv_can_be_neither_read_nor_written(
    level, tmp_path, monkeypatch
):
    monkeypatch.chdir(REPO)  # the grader's cwd is the course, reachable as /proc/PID/cwd
    tmp_path.chmod(0o755)
    paths = _protected_paths(tmp_path)
    before = {
        name: Path(path).read_bytes()
        for name, path in paths.items()
        if not path.startswith("/proc")
    }
    found = run_confined(
        level,
        f"""
        import json, os
        result = {{}}
        for name, path in {paths!r}.items():
            outcome = []
            for mode in ("rb", "ab"):
                try:
                    with open(path, mode) as handle:
                        handle.read(1) if mode == "rb" else handle.write(b"#")
                    outcome.append(mode)
                except OSError as exc:
                    pass
            result[name] = outcome
        print(json.dumps(result))
        """,
    )
    reached = {name: modes for name, modes in found.items() if modes}
    assert not reached, f"at level {level} student code could open: {reached}"
    after = {name: Path(paths[name]).read_bytes() for name in before}
    assert after == before


@pytest.mark.parametrize("level", OFFERED)
def test_only_the_scratch_folder_is_writable(level):
    found = run_confined(
        level,
        """
        import json, os
        result = {}
        for path in [os.path.join(os.getcwd(), "scratch.txt"), "/runtime/x", "/usr/x",
                     os.path.join(os.path.dirname(sys.executable), "x"), "/var/tmp/x",
                     "/dev/shm/x"]:
            try:
                with open(path, "w") as handle:
                    handle.write("x")
                result[path] = "written"
            except OSError as exc:
                result[path] = type(exc).__name__
        print(json.dumps(result))
        """,
    )
    scratch = [path for path in found if path.endswith("scratch.txt")]
    assert found.pop(scratch[0]) == "written"
    written = [path for path, outcome in found.items() if outcome == "written"]
    assert not written, f"at level {level} student code wrote outside its scratch folder: {written}"


@pytest.mark.parametrize("level", OFFERED)
def test_no_network_and_no_new_processes(level):
    found = run_confined(
        level,
        """
        import json, os, socket
        result = {}
        try:
            socket.create_connection(("127.0.0.1", 22), timeout=2)
            result["connect"] = "connected"
        except OSError as exc:
            result["connect"] = type(exc).__name__
        try:
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            result["fork"] = "forked"
        except OSError as exc:
            result["fork"] = type(exc).__name__
        print(json.dumps(result))
        """,
    )
    assert found["connect"] != "connected" and found["fork"] != "forked", found


def test_a_numpy_only_runtime_holds_numpy_the_standard_library_and_the_child_only():
    runtime = Sandbox(OFFERED[0] if OFFERED else "rlimits", Limits()).runtime
    site = sorted(entry.name for entry in (runtime.root / "site").iterdir())
    assert [name for name in site if not name.startswith("numpy")] == [], site
    # the child's own three files; torch_guard.py imports torch only where torch is permitted
    assert sorted(p.name for p in (runtime.root / "grader").glob("*.py")) == [
        "child.py",
        "protocol.py",
        "torch_guard.py",
    ]
    stdlib = runtime.root / "python" / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    assert (stdlib / "os.py").exists() and not (stdlib / "site-packages").exists()
