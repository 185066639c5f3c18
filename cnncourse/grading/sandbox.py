"""How the child process is confined: bubblewrap, else an unprivileged uid, else rlimits.

The child sees only its runtime (``runtime.py``: the interpreter, the permitted packages,
the grader's child modules), the system libraries those load, a scratch folder and /tmp.
Under bubblewrap nothing else exists in its mount namespace; at the other two levels a
Landlock ruleset allows exactly those paths. Student code never runs as root: a root grader
starts every child, bubblewrap included, as nobody. Every level adds resource limits (CPU
time, address space, file size, open files), its own session (the whole group is killed at
once) and a seccomp filter that refuses new processes and threads, sockets and access to
other processes' memory (x86-64). The level is probed once per grader process and reported
with every submission.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import platform
import resource
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from cnncourse.grading import runtime as runtimes
from cnncourse.grading import torch_guard

LEVELS = ("bubblewrap", "uid", "rlimits")
# what each level does for the course, and what it leaves open (printed before every run)
PROTECTS = {
    "bubblewrap": (
        "student code runs as an unprivileged user in its own namespaces and sees only an "
        "allow-list: the interpreter, the permitted packages, the libraries they load, its "
        "scratch folder and a private /tmp; no network, its own processes only",
        "nothing of the host beyond that allow-list (read-only) is visible",
    ),
    "uid": (
        "student code runs as the unprivileged user nobody (uid 65534) under a Landlock "
        "file-system allow-list: it can read only the interpreter, the permitted packages "
        "and the libraries they load, and write only its scratch folder; no sockets",
        "it shares the host's kernel namespaces (process ids, hostname) with the grader",
    ),
    "rlimits": (
        "student code runs under resource limits and a Landlock file-system allow-list "
        "(read: the interpreter, the permitted packages and their libraries; write: its "
        "scratch folder), never as root (a root grader runs it as nobody); no sockets",
        "it runs as the grader's own user when the grader is not root, and shares the "
        "host's kernel namespaces (process ids, hostname)",
    ),
}
INSTALL_BUBBLEWRAP = "Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap"
NOBODY = 65534
_PR_SET_PDEATHSIG = 1
LIBRARY_ALLOWANCE_MB = 1024  # address space for the interpreter, numpy and torch themselves
SANDBOX_WORKDIR = "/tmp/work"
SANDBOX_RUNTIME = "/runtime"  # where bubblewrap shows the runtime folder
WALL_FACTOR = 10  # the wall-clock backstop of a call is this many times its CPU-time limit


@dataclass(frozen=True)
class Limits:
    timeout: float = 10.0  # seconds of the child's CPU time per call
    memory_mb: int = 2048
    setup_timeout: float = 60.0  # seconds of CPU time per notebook cell while the child starts
    submission_timeout: float = 300.0  # wall-clock seconds the whole submission may cost
    wall_timeout: float | None = None  # wall-clock backstop per call (WALL_FACTOR x timeout)
    cpu_seconds: int = 1200  # RLIMIT_CPU over the child's whole life, a last resort
    file_mb: int = 64
    open_files: int = 256

    def wall(self, cpu_limit: float) -> float:
        """The wall-clock backstop for a wait whose CPU-time limit is ``cpu_limit``."""
        if self.wall_timeout is not None and cpu_limit == self.timeout:
            return self.wall_timeout
        return WALL_FACTOR * cpu_limit


@dataclass
class Sandbox:
    level: str
    limits: Limits
    hidden: list[str] = field(default_factory=list)  # host folders named for the audit hook
    modules: tuple[str, ...] = runtimes.DEFAULT_MODULES  # what graded code may import
    # families of torch operators refused at torch's dispatcher where torch is permitted
    torch_refuse: tuple[str, ...] = tuple(torch_guard.FAMILIES)

    @property
    def runtime(self) -> runtimes.Runtime:
        return runtimes.ensure(tuple(self.modules))

    def inside(self, path: Path | str) -> str:
        """Where a runtime path appears to the child."""
        path, root = str(path), str(self.runtime.root)
        if self.level == "bubblewrap" and path.startswith(root):
            return SANDBOX_RUNTIME + path[len(root) :]
        return path

    def visible_paths(self) -> list[str]:
        """The runtime as the child sees it: the only library code it can load."""
        return [self.inside(self.runtime.root) + "/"]

    def hidden_paths(self) -> list[str]:
        paths = set(self.hidden) | {str(Path.home()), os.getcwd()}
        protected = {"/", "/usr", "/tmp", "/proc", "/dev", "/etc", "/lib", "/bin"}
        return sorted(os.path.realpath(path) for path in paths if path not in protected)

    def workdir(self) -> str:
        if self.level == "bubblewrap":
            return SANDBOX_WORKDIR
        scratch = tempfile.mkdtemp(prefix="cnncourse-grade-")
        if os.geteuid() == 0:
            os.chown(scratch, NOBODY, NOBODY)
        return scratch

    def python(self, *args: str) -> list[str]:
        """The runtime's interpreter (isolated, no site) running ``args``."""
        return [self.inside(self.runtime.python), "-I", "-S", *args]

    def command(
        self,
        child_args: list[str],
        workdir: str,
        seccomp_fd: int | None,
        info_fd: int | None = None,
        program: list[str] | None = None,
    ) -> list[str]:
        python = program or self.python(self.inside(self.runtime.child), *child_args)
        if self.level != "bubblewrap":
            return python
        bwrap = _bwrap()
        if bwrap is None:
            raise RuntimeError("the bubblewrap level needs bwrap, which is not installed here")
        argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--as-pid-1"]
        argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
        argv += ["--ro-bind", str(self.runtime.root), SANDBOX_RUNTIME]
        argv += _library_binds(self.runtime.libraries)
        argv += ["--dir", workdir, "--chdir", workdir, "--remount-ro", "/dev"]
        argv += ["--remount-ro", "/"]
        if seccomp_fd is not None:
            argv += ["--seccomp", str(seccomp_fd)]
        if info_fd is not None:
            argv += ["--info-fd", str(info_fd)]
        return [*argv, "--", *python]

    def spawn(
        self,
        workdir: str,
        child_args: Sequence[str] = (),
        program: list[str] | None = None,
        pass_fds: tuple[int, ...] = (),
        **popen_args,
    ) -> tuple[subprocess.Popen, int]:
        """Start the child (or ``program`` in the runtime's interpreter) confined at this
        level; returns the Popen and the pid of the process that runs the student's code."""
        seccomp = seccomp_program()
        filter_fd = info_r = info_w = None
        if self.level == "bubblewrap":
            info_r, info_w = os.pipe()
            if seccomp is not None:
                filter_fd, filter_w = os.pipe()
                os.write(filter_w, seccomp)
                os.close(filter_w)
        ruleset = self.landlock(workdir)
        if self.level != "bubblewrap" and ruleset is None:
            raise OSError(f"the {self.level} level needs Landlock, which this kernel lacks")
        ours = [fd for fd in (filter_fd, info_w, ruleset) if fd is not None]
        try:
            popen = subprocess.Popen(
                self.command(list(child_args), workdir, filter_fd, info_w, program),
                env=self.environment(workdir),
                cwd=workdir if self.level != "bubblewrap" else "/",
                pass_fds=[*pass_fds, *ours],
                preexec_fn=self.preexec(seccomp, ruleset),
                start_new_session=True,
                **popen_args,
            )
        finally:
            for fd in ours:
                os.close(fd)
        return popen, popen.pid if info_r is None else _sandboxed_pid(info_r, popen.pid)

    def environment(self, workdir: str) -> dict[str, str]:
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": workdir,
            "TMPDIR": workdir,
            "LANG": "C.UTF-8",
            "LD_LIBRARY_PATH": self.inside(self.runtime.library_path),
            "MPLBACKEND": "Agg",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }

    def landlock(self, workdir: str) -> int | None:
        """A Landlock ruleset for the levels without namespaces (None under bubblewrap)."""
        if self.level == "bubblewrap":
            return None
        readable = [str(self.runtime.root), *self.runtime.libraries, "/dev/urandom"]
        return landlock_ruleset(readable, [workdir, "/dev/null"])

    def preexec(self, seccomp: bytes | None, ruleset_fd: int | None = None):
        """What runs in the forked child before exec: limits, an unprivileged user (student
        code never runs as root), Landlock, seccomp (bubblewrap installs its own)."""
        limits, level = self.limits, self.level
        address_space = (limits.memory_mb + LIBRARY_ALLOWANCE_MB) << 20
        install_seccomp = (
            seccomp_installer(seccomp) if seccomp is not None and level != "bubblewrap" else None
        )
        restrict = landlock_restrictor(ruleset_fd) if ruleset_fd is not None else None
        prctl = ctypes.CDLL(None, use_errno=True).prctl
        drop = os.geteuid() == 0

        def apply() -> None:
            _setlimit(resource.RLIMIT_CPU, limits.cpu_seconds)
            _setlimit(resource.RLIMIT_AS, address_space)
            _setlimit(resource.RLIMIT_FSIZE, limits.file_mb << 20)
            _setlimit(resource.RLIMIT_NOFILE, limits.open_files)
            _setlimit(resource.RLIMIT_CORE, 0)
            if drop:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
                _setlimit(resource.RLIMIT_NPROC, 256)
            if level != "bubblewrap":  # bwrap's --die-with-parent does this for its child
                prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # after setuid, which clears it
            if restrict is not None:
                restrict()
            if install_seccomp is not None:
                install_seccomp()

        return apply


def _sandboxed_pid(info_fd: int, fallback: int) -> int:
    """The pid (in the grader's namespace) of the process bubblewrap started: bwrap writes
    it to its --info-fd as JSON before it runs the command."""
    data = b""
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and select.select([info_fd], [], [], 1)[0]:
            chunk = os.read(info_fd, 4096)
            if not chunk:
                break
            data += chunk
            with contextlib.suppress(ValueError, KeyError, TypeError):
                return int(json.loads(data)["child-pid"])
    finally:
        os.close(info_fd)
    return fallback


def _library_binds(libraries) -> list[str]:
    """bubblewrap arguments that show each library at its path, symlinks included."""
    argv: list[str] = []
    done: set[str] = set()

    def show(path: str) -> None:
        parts = Path(path).parts
        current = "/"
        for index, part in enumerate(parts[1:], start=1):
            current = os.path.join(current, part)
            if os.path.islink(current):
                target = os.readlink(current)
                if current not in done:
                    done.add(current)
                    argv.extend(["--symlink", target, current])
                resolved = os.path.normpath(os.path.join(os.path.dirname(current), target))
                show(os.path.join(resolved, *parts[index + 1 :]))
                return
        if current not in done:
            done.add(current)
            argv.extend(["--ro-bind", current, current])

    for library in libraries:
        show(library)
    return argv


def _setlimit(which: int, value: int) -> None:
    _soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


@cache
def _bwrap() -> str | None:
    return shutil.which("bwrap")


# seccomp: refuse new processes and threads (clone, fork, vfork, clone3), sockets, and
# reading or writing other processes (ptrace, process_vm_readv/writev) with EPERM; kill on a
# foreign syscall ABI (x86-64)
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000
_NO_PROCESS_SYSCALLS = (56, 57, 58, 435, 41, 101, 310, 311)


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

    keep = (buffer, fprog)  # alive until exec: install's closure holds both

    def install() -> None:
        _program, prog = keep
        if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.prctl(pr_set_seccomp, seccomp_mode_filter, ctypes.byref(prog), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")

    return install


# Landlock (Linux 5.13+): an unprivileged, allow-list file-system sandbox for the levels
# without namespaces. Access rights by ABI version; see linux/landlock.h.
_LANDLOCK_CREATE_RULESET, _LANDLOCK_ADD_RULE, _LANDLOCK_RESTRICT_SELF = 444, 445, 446
_FS_RIGHTS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_FILE_RIGHTS = 1 | 2 | 4 | (1 << 14) | (1 << 15)  # execute, write, read, truncate, ioctl
_READ_RIGHTS = 1 | 4 | 8  # execute, read file, read dir
_NET_TCP = 3  # bind and connect (ABI 4)
_SCOPE_SIGNALS = 3  # abstract unix sockets and signals outside the domain (ABI 6)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


@cache
def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 where Landlock is missing or disabled."""
    if platform.system() != "Linux":
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    version = libc.syscall(_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(0, version)


def landlock_ruleset(readable: list[str], writable: list[str]) -> int | None:
    """A ruleset file descriptor allowing only reads of ``readable`` and everything in
    ``writable``; None where Landlock is not available (the caller refuses the level)."""
    abi = landlock_abi()
    if abi < 1:
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    fs = _FS_RIGHTS_BY_ABI[max(v for v in _FS_RIGHTS_BY_ABI if v <= abi)]
    attr = _RulesetAttr(fs, _NET_TCP if abi >= 4 else 0, _SCOPE_SIGNALS if abi >= 6 else 0)
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else (16 if abi >= 4 else 8)
    fd = libc.syscall(_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for paths, rights in ((readable, _READ_RIGHTS & fs), (writable, fs)):
            for path in paths:
                _landlock_allow(libc, fd, path, rights)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _landlock_allow(libc, ruleset: int, path: str, rights: int) -> None:
    try:
        target = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        rule = _PathBeneath(rights, target)
        if libc.syscall(_LANDLOCK_ADD_RULE, ruleset, 1, ctypes.byref(rule), 0) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
    finally:
        os.close(target)


def landlock_restrictor(ruleset_fd: int):
    """A function that confines the calling process to the ruleset, prepared before fork."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_no_new_privs = 38

    def restrict() -> None:
        if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(_LANDLOCK_RESTRICT_SELF, ruleset_fd, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")

    return restrict


_probed: dict[str, bool] = {}  # level -> whether a child at that level works here
_probing: dict[str, Callable[[], bool]] = {}  # level -> wait for a probe already running


def _start_probe(level: str) -> None:
    """Launch a child at this level that imports numpy; ``_probe`` waits for its verdict."""
    if level in _probed or level in _probing:
        return
    if level != "bubblewrap" and landlock_abi() < 1:
        _probed[level] = False
        return
    sandbox = Sandbox(level, Limits())
    try:
        site = sandbox.inside(sandbox.runtime.root / "site")
    except (OSError, ValueError, subprocess.SubprocessError):
        _probed[level] = False
        return
    workdir = sandbox.workdir()
    code = f"import sys; sys.path.append({site!r}); import numpy"

    def cleanup() -> None:
        if level != "bubblewrap":
            shutil.rmtree(workdir, ignore_errors=True)

    try:
        process, _pid = sandbox.spawn(
            workdir,
            program=sandbox.python("-c", code),
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
    if (first == "bubblewrap" and _bwrap()) or first != "bubblewrap":
        _start_probe(first)
    if requested == "auto":
        return best_level
    return lambda: requested if available(requested) else None


@cache
def best_level() -> str | None:
    if _bwrap() and _probe("bubblewrap"):
        return "bubblewrap"
    if os.geteuid() == 0 and _probe("uid"):
        return "uid"
    return "rlimits" if _probe("rlimits") else None


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
    return _probe(level)


def why_not(level: str) -> str:
    """Why a level is not available here, in words for the instructor."""
    if level == "bubblewrap":
        return why_not_bubblewrap()
    if level == "uid" and os.geteuid() != 0:
        return "the uid level needs a grader running as root"
    if landlock_abi() < 1:
        return "the kernel has no Landlock (Linux 5.13+ with landlock in the lsm= list)"
    return (
        "a child at this level did not start (see the runtime in "
        + str(runtimes.default_location())
        + ")"
    )
