"""The only files a sandboxed child can see: a private, read-only runtime folder.

A runtime holds a copy of the interpreter and its standard library, copies of the packages
an assignment permits (and what they require), and the grader modules the child runs
(``child.py``, ``protocol.py``, ``torch_guard.py``: standard library, numpy, torch). Nothing
else of the course or of the grader's environment is in it, so graded code cannot import
the reference package, torch or scipy when the assignment does not permit them: they are
not there.

Runtimes are built once per machine and reused (keyed by the interpreter, the permitted
distributions and their versions, and the child's source), in a folder every user can read
(the unprivileged user the child runs as too): ``/var/cache/cnncourse/runtime`` for root,
``~/.cache/cnncourse/runtime`` otherwise, or ``$CNNCOURSE_RUNTIME_DIR``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

RUNTIME_FORMAT = 1  # bump when the layout changes: old runtimes are then rebuilt
DEFAULT_MODULES = ("numpy",)
# never permitted: the reference implementation and the grader itself
NEVER_PERMITTED = frozenset({"cnncourse"})
# libraries that ship ready-made conv, pooling, softmax, batch norm or automatic
# differentiation and that the grader cannot refuse at a dispatcher, so an assignment cannot
# permit them (a deny-list of their names can always be walked around). torch is not among
# them: the child refuses those routines at torch's dispatcher (torch_guard.py).
UNGUARDED = frozenset({"scipy", "sklearn", "jax", "tensorflow", "keras"})
# parts of the standard library folder that graded code never needs
_STDLIB_SKIP = frozenset(
    {"site-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3"}
)
_CHILD_FILES = ("child.py", "protocol.py", "torch_guard.py")


@dataclass(frozen=True)
class Runtime:
    """A built runtime: where it is and what the child needs to run in it."""

    root: Path
    modules: tuple[str, ...]  # the permitted top-level modules beyond the standard library
    libraries: tuple[str, ...]  # system libraries (outside the runtime) its code links to

    @property
    def python(self) -> Path:
        return self.root / "python" / "bin" / "python3"

    @property
    def child(self) -> Path:
        return self.root / "grader" / "child.py"

    @property
    def library_path(self) -> Path:
        return self.root / "python" / "lib"


class ModulesError(ValueError):
    """A permitted module that cannot be provided (not installed, or never permitted)."""


def check_modules(modules) -> tuple[str, ...]:
    """The permitted top-level module names, validated; the standard library is implicit."""
    if isinstance(modules, str) or not all(isinstance(name, str) for name in modules):
        raise ModulesError(f"modules must be a list of module names, got {modules!r}")
    names = []
    for name in modules:
        top = name.split(".")[0]
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", top):
            raise ModulesError(f"modules: {name!r} is not a module name")
        if top in NEVER_PERMITTED:
            raise ModulesError(
                f"modules: {top!r} can never be permitted (it is the reference implementation)"
            )
        if top in UNGUARDED:
            raise ModulesError(
                f"modules: {top!r} cannot be permitted: it ships routines that would do the "
                "graded work (conv, pooling, softmax, batch norm, autograd) and the grader "
                "cannot refuse them at a dispatcher (torch can be permitted: it is guarded)"
            )
        if top in sys.stdlib_module_names or top in names:
            continue
        if importlib.util.find_spec(top) is None:
            raise ModulesError(f"modules: {top!r} is not installed in the grader's environment")
        names.append(top)
    return tuple(sorted(names))


def _distributions(modules: tuple[str, ...]) -> list[importlib.metadata.Distribution]:
    """The installed distributions providing ``modules``, with everything they require."""
    from packaging.requirements import Requirement

    providers = importlib.metadata.packages_distributions()
    todo: list[str] = []
    for module in modules:
        if module not in providers:
            raise ModulesError(f"modules: {module!r} is not installed in the grader's environment")
        todo += providers[module]
    found: dict[str, importlib.metadata.Distribution] = {}
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in found:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # an optional requirement that is not installed
        found[name] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return [found[name] for name in sorted(found)]


def _top_level_entries(dist: importlib.metadata.Distribution) -> set[str]:
    entries = set()
    for file in dist.files or []:
        first = file.parts[0]
        if first not in ("..", "__pycache__") and not first.endswith(".pth"):
            entries.add(first)
    return entries


def default_location() -> Path:
    if os.environ.get("CNNCOURSE_RUNTIME_DIR"):
        return Path(os.environ["CNNCOURSE_RUNTIME_DIR"])
    if os.geteuid() == 0:
        return Path("/var/cache/cnncourse/runtime")
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "cnncourse" / "runtime"


def _key(dists, modules: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    digest.update(f"{RUNTIME_FORMAT}:{sys.version}:{sys.base_prefix}:{modules}".encode())
    for dist in dists:
        digest.update(f"{dist.metadata['Name']}=={dist.version}@{dist.locate_file('')}".encode())
    here = Path(__file__).parent
    for name in _CHILD_FILES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:20]


@cache
def ensure(modules: tuple[str, ...] = DEFAULT_MODULES) -> Runtime:
    """The runtime for these permitted modules, built if this machine has none yet."""
    modules = check_modules(modules)
    dists = _distributions(modules)
    base = default_location()
    root = base / _key(dists, modules)
    if not (root / "libraries.txt").exists():
        _build(root, dists)
    libraries = tuple((root / "libraries.txt").read_text().split())
    return Runtime(root, modules, libraries)


def _build(root: Path, dists) -> None:
    """Build into a temporary folder next to ``root``, then rename it (atomic; a build
    finished meanwhile by another process wins)."""
    root.parent.mkdir(parents=True, exist_ok=True)
    folders = [root.parent] + [root.parent.parent] * (root.parent.parent.name == "cnncourse")
    for folder in folders:  # the child's user must reach the runtime, whatever the umask
        if folder.stat().st_uid == os.geteuid():
            folder.chmod(0o755)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=root.parent))
    try:
        _copy_interpreter(staging / "python")
        site = staging / "site"
        site.mkdir()
        for dist in dists:
            source = Path(dist.locate_file(""))
            for entry in _top_level_entries(dist):
                _copy(source / entry, site / entry)
        grader = staging / "grader"
        grader.mkdir()
        for name in _CHILD_FILES:
            shutil.copy2(Path(__file__).parent / name, grader / name)
        python = staging / "python" / "bin" / "python3"
        env = {"LD_LIBRARY_PATH": str(staging / "python" / "lib"), "PATH": "/usr/bin:/bin"}
        # byte-code once, so that no child compiles anything at start; a file that does not
        # compile under this interpreter (torch ships a test helper in Python 3.12 syntax)
        # is never imported, so a failure here is not an error
        subprocess.run(
            [str(python), "-I", "-S", "-m", "compileall", "-q", "-j", "0", str(site), str(grader)],
            env=env,
            check=False,
            stdout=subprocess.DEVNULL,
        )
        (staging / "libraries.txt").write_text("\n".join(_system_libraries(staging)) + "\n")
        _make_readable(staging)
        try:
            staging.rename(root)
        except OSError:  # another process built it first
            if not (root / "libraries.txt").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _copy(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, symlinks=False, dirs_exist_ok=True)
    elif source.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _copy_interpreter(target: Path) -> None:
    """The base interpreter, its shared library and its standard library (no site-packages)."""
    executable = Path(sys.executable).resolve()
    (target / "bin").mkdir(parents=True)
    shutil.copy2(executable, target / "bin" / "python3")
    libdir = Path(sysconfig.get_config_var("LIBDIR") or "")
    library = sysconfig.get_config_var("INSTSONAME")
    (target / "lib").mkdir()
    if library and (libdir / library).exists():
        shutil.copy2(libdir / library, target / "lib" / library)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    destination = target / "lib" / stdlib.name
    for entry in stdlib.iterdir():
        if entry.name in _STDLIB_SKIP or entry.name.startswith("config-"):
            continue
        _copy(entry, destination / entry.name)
    for tk in (destination / "lib-dynload").glob("_tkinter*"):  # X11 and Tk: never needed
        tk.unlink()


def _make_readable(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        os.chmod(folder, 0o755)
        for name in files:
            path = os.path.join(folder, name)
            os.chmod(path, 0o755 if os.access(path, os.X_OK) else 0o644)


_LDD_LINE = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x")


def _system_libraries(root: Path) -> list[str]:
    """Absolute paths of the libraries outside ``root`` that its binaries load."""
    binaries = [str(root / "python" / "bin" / "python3")]
    for folder, _dirs, files in os.walk(root):
        binaries += [os.path.join(folder, f) for f in files if ".so" in f]
    env = {"LD_LIBRARY_PATH": str(root / "python" / "lib"), "PATH": "/usr/bin:/bin"}
    found: set[str] = set()
    for start in range(0, len(binaries), 200):
        result = subprocess.run(
            ["ldd", *binaries[start : start + 200]], env=env, capture_output=True, text=True
        )
        for line in result.stdout.splitlines():
            match = _LDD_LINE.search(line)
            if match and not match.group(1).startswith(str(root)):
                found.add(match.group(1))
    return sorted(found)
