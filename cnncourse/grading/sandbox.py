"""How the child process is confined: bubblewrap, else an unprivileged uid, else rlimits.

Every level adds resource limits (CPU time, address space, file size, open files, processes),
its own session (the whole group is killed at once) and a seccomp filter that refuses new
processes and threads (x86-64). The level actually used is probed once per grader process
and reported with every submission.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import shutil
import struct
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import cnncourse

LEVELS = ("bubblewrap", "uid", "rlimits")
# what each level does for the course, and what it leaves open (printed before every run)
PROTECTS = {
    "bubblewrap": (
        "student code runs in its own namespaces: no network, its own processes, a private "
        "/tmp; the course folder, the submissions, the outputs and $HOME are hidden",
        "the rest of the host's file system is visible to student code, read-only",
    ),
    "uid": (
        "student code runs as the unprivileged user nobody (uid 65534) with resource limits",
        "student code can read every file on the host that all users may read (the course "
        "folder too, where its permissions allow) and it has the network",
    ),
    "rlimits": (
        "student code runs as the grader's own user, with resource limits only",
        "student code can read and write everything the grader can (hidden tests, "
        "solutions, gradebook) and it has the network",
    ),
}
INSTALL_BUBBLEWRAP = "Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap"
NOBODY = 65534
LIBRARY_ALLOWANCE_MB = 1024  # address space for the interpreter, numpy and torch themselves
SANDBOX_WORKDIR = "/tmp/work"
PACKAGE_DIR = Path(cnncourse.__file__).resolve().parent
# the reference implementation: calling into these files from student code is forbidden
REFERENCE_NAMES = ("layers", "optim", "nn", "checks")


@dataclass(frozen=True)
class Limits:
    timeout: float = 10.0  # seconds of wall time per call
    memory_mb: int = 2048
    setup_timeout: float = 60.0  # seconds per notebook cell while the child starts
    cpu_seconds: int = 600  # whole child life; the wall-clock timeouts act first
    file_mb: int = 64
    open_files: int = 256


@dataclass
class Sandbox:
    level: str
    limits: Limits
    hidden: list[str] = field(default_factory=list)  # folders the child must not see

    def reference_paths(self) -> list[str]:
        paths = []
        for name in REFERENCE_NAMES:
            paths += [f"{PACKAGE_DIR / name}.py", f"{PACKAGE_DIR / name}/"]
        return paths

    def visible_paths(self) -> list[str]:
        """Folders bound back read-only inside hidden ones: the interpreter and its packages."""
        return list(_visible_paths())

    def hidden_paths(self) -> list[str]:
        paths = set(self.hidden) | {str(Path.home()), os.getcwd()}
        if not PACKAGE_DIR.parent.name.endswith("-packages"):  # an editable install
            paths.add(str(PACKAGE_DIR.parent))  # the repository: solutions, autograde, tests
        protected = {"/", "/usr", "/tmp", "/proc", "/dev", "/etc", "/lib", "/bin"}
        return sorted(os.path.realpath(path) for path in paths if path not in protected)

    def workdir(self) -> str:
        if self.level == "bubblewrap":
            return SANDBOX_WORKDIR
        scratch = tempfile.mkdtemp(prefix="cnncourse-grade-")
        if self.level == "uid":
            os.chown(scratch, NOBODY, NOBODY)
        return scratch

    def command(self, child_args: list[str], workdir: str, seccomp_fd: int | None) -> list[str]:
        python = [sys.executable, "-I", "-m", "cnncourse.grading.child", *child_args]
        if self.level != "bubblewrap":
            return python
        argv = [_bwrap(), "--unshare-all", "--die-with-parent", "--new-session"]
        argv += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        for path in self.hidden_paths():
            if os.path.isdir(path):
                argv += ["--tmpfs", path]
        for path in self.visible_paths():
            if os.path.exists(path):
                argv += ["--ro-bind", path, path]
        argv += ["--dir", workdir, "--chdir", workdir]
        if seccomp_fd is not None:
            argv += ["--seccomp", str(seccomp_fd)]
        return [*argv, "--", *python]

    def environment(self, workdir: str) -> dict[str, str]:
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": workdir,
            "TMPDIR": workdir,
            "LANG": "C.UTF-8",
            "MPLBACKEND": "Agg",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }

    def preexec(self, seccomp: bytes | None):
        """What runs in the forked child before exec: limits, uid, seccomp (when not bwrap)."""
        limits, level = self.limits, self.level
        address_space = (limits.memory_mb + LIBRARY_ALLOWANCE_MB) << 20
        install_seccomp = (
            seccomp_installer(seccomp) if seccomp is not None and level != "bubblewrap" else None
        )

        def apply() -> None:
            _setlimit(resource.RLIMIT_CPU, limits.cpu_seconds)
            _setlimit(resource.RLIMIT_AS, address_space)
            _setlimit(resource.RLIMIT_FSIZE, limits.file_mb << 20)
            _setlimit(resource.RLIMIT_NOFILE, limits.open_files)
            _setlimit(resource.RLIMIT_CORE, 0)
            if level == "uid":
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
                _setlimit(resource.RLIMIT_NPROC, 256)
            if install_seccomp is not None:
                install_seccomp()

        return apply


@cache
def _visible_paths() -> tuple[str, ...]:
    paths = {sys.prefix, sys.base_prefix, str(PACKAGE_DIR)}
    paths |= {sysconfig.get_paths()[key] for key in ("purelib", "platlib", "stdlib")}
    paths.add(str(Path(sys.executable).resolve().parent.parent))
    return tuple(sorted({os.path.realpath(path) for path in paths} | paths))


def _setlimit(which: int, value: int) -> None:
    _soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


@cache
def _bwrap() -> str | None:
    return shutil.which("bwrap")


# seccomp: refuse clone/clone3/fork/vfork with EPERM, kill on a foreign syscall ABI (x86-64)
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000
_NO_PROCESS_SYSCALLS = (56, 57, 58, 435)  # clone, fork, vfork, clone3


def seccomp_program() -> bytes | None:
    """A classic-BPF seccomp filter, or None where it is not written for this CPU."""
    if platform.machine() != "x86_64":
        return None
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, kill, eperm = 0x7FFF0000, 0x80000000, 0x00050000 | 1
    n = len(_NO_PROCESS_SYSCALLS)
    program = [
        (ld_abs, 0, 0, 4),  # arch
        (jeq, 1, 0, _AUDIT_ARCH_X86_64),
        (ret, 0, 0, kill),
        (ld_abs, 0, 0, 0),  # syscall number
        (jge, n + 2, 0, _X32_BIT),  # x32 ABI -> kill (the last instruction)
    ]
    for index, number in enumerate(_NO_PROCESS_SYSCALLS):
        program.append((jeq, n - index, 0, number))  # -> the EPERM return
    program += [(ret, 0, 0, allow), (ret, 0, 0, eperm), (ret, 0, 0, kill)]
    return b"".join(struct.pack("=HBBI", *ins) for ins in program)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def seccomp_installer(program: bytes):
    """A function applying the filter to the calling process, prepared before fork."""
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 38, 22, 2

    def install() -> None:
        if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.prctl(pr_set_seccomp, seccomp_mode_filter, ctypes.byref(fprog), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")

    install.keep = (buffer, fprog)  # alive until exec
    return install


_probed: dict[str, bool] = {}  # level -> whether a child at that level works here
_probing: dict[str, Callable[[], bool]] = {}  # level -> wait for a probe already running


def _start_probe(level: str) -> None:
    """Launch a child at this level that imports numpy; ``_probe`` waits for its verdict."""
    if level in _probed or level in _probing:
        return
    sandbox = Sandbox(level, Limits())
    workdir = sandbox.workdir()
    command = sandbox.command([], workdir, None)
    command[command.index("cnncourse.grading.child") - 1 :] = ["-c", "import numpy"]

    def cleanup() -> None:
        if level != "bubblewrap":
            shutil.rmtree(workdir, ignore_errors=True)

    try:
        process = subprocess.Popen(
            command,
            env=sandbox.environment(workdir),
            cwd=workdir if level != "bubblewrap" else "/",
            preexec_fn=sandbox.preexec(seccomp_program()),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        cleanup()
        _probed[level] = False
        return

    def finish() -> bool:
        try:
            return process.wait(timeout=60) == 0
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return False
        finally:
            cleanup()

    _probing[level] = finish


def _probe(level: str) -> bool:
    """Whether a child at this level starts and imports numpy on this machine (asked once)."""
    if level not in _probed:
        _start_probe(level)
        if level in _probing:
            _probed[level] = _probing.pop(level)()
    return _probed[level]


def start_probing(requested: str) -> Callable[[], str | None]:
    """Start the probe for ``requested`` ("auto": the strongest level) in the background.

    A probe is a child importing numpy, a fifth of a second that the caller can spend on
    other set-up. Returns a function that waits for it and gives the level, or None if the
    requested level is not available here.
    """
    first = "bubblewrap" if requested == "auto" else requested
    if (first == "bubblewrap" and _bwrap()) or (first == "uid" and os.geteuid() == 0):
        _start_probe(first)
    if requested == "auto":
        return best_level
    return lambda: requested if available(requested) else None


@cache
def best_level() -> str:
    if _bwrap() and _probe("bubblewrap"):
        return "bubblewrap"
    if os.geteuid() == 0 and _probe("uid"):
        return "uid"
    return "rlimits"


def why_not_bubblewrap() -> str:
    """Why the bubblewrap level is not available here, in words for the instructor."""
    if not _bwrap():
        return "bubblewrap is not installed (no bwrap on PATH)"
    return (
        "bwrap is installed but a sandboxed child did not start (are unprivileged user "
        "namespaces disabled, e.g. kernel.unprivileged_userns_clone=0 or inside a container?)"
    )


def available(level: str) -> bool:
    if level == "bubblewrap":
        return bool(_bwrap()) and _probe(level)
    if level == "uid":
        return os.geteuid() == 0 and _probe(level)
    return True
