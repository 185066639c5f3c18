"""The program that runs one submission inside the sandbox.

Started by the grader as ``python -I -S RUNTIME/grader/child.py REQUEST_FD REPLY_FD`` from the
sandbox's private copy of this file and ``protocol.py`` (see ``runtime.py``): the cnncourse
package itself is not in the sandbox, so this module uses the standard library and numpy
only. ``RUNTIME/site`` (the packages the assignment permits) is added to ``sys.path``. It reads
its program (cells, forbidden routines) from REQUEST_FD, runs the cells, then answers calls
until the grader closes the pipe. Everything here runs next to untrusted code, so the grader
believes nothing this process says about itself except through one channel: the guards
installed before the first answer cell (a permanent audit hook and a profile function) write
a ``forbidden`` frame and end the process on the spot when student code reaches a routine
the assignment forbids. Their state lives in default arguments, which the audit hook stops
anyone from replacing.
"""

from __future__ import annotations

import builtins
import contextlib
import linecache
import os
import sys
import traceback
import types
from typing import TYPE_CHECKING

if TYPE_CHECKING or __package__:  # imported by the grader (tests, helpers); the type checker
    from cnncourse.grading import protocol, torch_guard
else:  # the sandbox's private copy, run as a script next to its own protocol.py
    _HERE = os.path.dirname(os.path.abspath(__file__))
    sys.path.append(os.path.join(os.path.dirname(_HERE), "site"))
    sys.path.insert(0, _HERE)
    import protocol
    import torch_guard

    sys.path.remove(_HERE)

SETUP_PREFIX = "<setup "
ANSWER_PREFIX = "<answer "
MESSAGE_LIMIT = 2000

# opening a file with one of these flags writes to it
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_PROCESS_EVENTS = frozenset(
    {
        "os.fork",
        "os.forkpty",
        "os.posix_spawn",
        "os.spawn",
        "os.exec",
        "os.system",
        "os.kill",
        "os.killpg",
        "signal.pthread_kill",
        "subprocess.Popen",
        "pty.spawn",
    }
)
_TAMPER_EVENTS = frozenset(
    {
        "sys.setprofile",
        "sys.settrace",
        "sys.addaudithook",
        "sys._current_frames",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
    }
)
_GUARDED_ATTRS = frozenset({"__code__", "__defaults__", "__kwdefaults__"})


class _Stub:
    """What ``get_ipython()`` returns: magics, shell escapes and IPython hooks do nothing."""

    def __init__(self):
        self.input_transformers_cleanup = []
        self.input_transformers_post = []
        self.ast_transformers = []
        self.user_ns = {}

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


class _Unavailable(types.ModuleType):
    """What an instructor's setup cell gets for a module that is not in the sandbox (e.g.
    ``from cnncourse import checks`` or ``sklearn`` in an ungraded demo cell): any use
    raises ImportError, so the demo cell stops there; setup cells are never graded."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Unavailable(f"{self.__name__}.{name}")

    def __call__(self, *args, **kwargs):
        raise ImportError(
            f"{self.__name__} is not available to code the grader runs (an instructor cell "
            "that uses it is not graded)"
        )


def _setup_import(name, globals=None, locals=None, fromlist=(), level=0, _import=__import__):
    """``__import__`` while an instructor setup cell runs: a missing module is a stand-in.

    Only for the cell's own imports: a library's optional imports (torch tries several
    while it loads) must fail as they would anywhere else."""
    try:
        return _import(name, globals, locals, fromlist, level)
    except ModuleNotFoundError:
        if level or (globals or {}).get("__name__") != "__main__":
            raise
        return _Unavailable(name if fromlist else name.split(".")[0])


_PERMITTED: list[str] = []  # what graded code may import besides the standard library


def main(argv: list[str]) -> int:
    request_fd, reply_fd = int(argv[1]), int(argv[2])
    program = protocol.read_message(request_fd)
    if not isinstance(program, dict):
        raise protocol.ProtocolError(f"the program must be a dict, got {type(program).__name__}")
    _PERMITTED[:] = program.get("modules", [])
    namespace = {"__name__": "__main__", "get_ipython": _Stub, "__builtins__": __builtins__}
    cells, check = _run_cells(program, namespace, reply_fd)
    protocol.write_message(reply_fd, {"ready": cells})
    Server(namespace, request_fd, reply_fd).serve(check)
    return 0


def _run_cells(program: dict, namespace: dict, reply_fd: int):
    """Run setup and answer cells in order.

    Returns ({grade_id: None | error} per answer cell, the guard's check function).
    """
    outcomes: dict[str, object] = {}
    check = None
    for cell in program["cells"]:
        filename = _register_source(cell)
        if cell["kind"] != "answer":
            _exec_cell(cell["source"], filename, namespace, cell["kind"] == "setup")
            continue
        if check is None:
            check = install_guards(program, reply_fd)
        if cell["grade_id"] in program["skip"]:
            continue
        protocol.write_message(reply_fd, {"running": cell["grade_id"]})
        error = _exec_cell(cell["source"], filename, namespace, False)
        check()
        outcomes[cell["grade_id"]] = error
    if check is None:
        check = install_guards(program, reply_fd)
    return outcomes, check


def _register_source(cell: dict) -> str:
    label = cell["grade_id"] if cell["kind"] == "answer" else cell["index"]
    prefix = ANSWER_PREFIX if cell["kind"] == "answer" else SETUP_PREFIX + cell["token"] + " "
    filename = f"{prefix}{label}>"
    lines = cell["source"].splitlines(keepends=True)
    linecache.cache[filename] = (len(cell["source"]), None, lines, filename)
    return filename


def _exec_cell(source: str, filename: str, namespace: dict, setup: bool) -> dict | None:
    saved = _BUILTINS["__import__"]
    if setup:
        _BUILTINS["__import__"] = _setup_import
    try:
        code = compile(source, filename, "exec")
        exec(code, namespace)
    except BaseException as exc:  # the student's SystemExit too: the cell failed, we go on
        return describe_exception(exc)
    finally:
        _BUILTINS["__import__"] = saved
    return None


def describe_exception(exc: BaseException) -> dict:
    """The exception as the student should see it: type, message, traceback through their code."""
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename.startswith(ANSWER_PREFIX)
    ]
    lines = traceback.format_list(frames[-8:])
    if isinstance(exc, MemoryError):
        kind = "memory"
    elif isinstance(exc, NotImplementedError):
        kind = "not_implemented"
    elif isinstance(exc, torch_guard.ForbiddenOperation):
        kind = "forbidden"
    else:
        kind = "error"
    try:
        message = str(exc)
    except BaseException:
        message = "(the exception's message could not be read)"
    if type(exc) is ModuleNotFoundError:
        allowed = ", ".join(["the standard library", *_PERMITTED])
        message += f" (graded code may import only: {allowed})"
    return {
        "kind": kind,
        "type": type(exc).__name__[:100],
        "message": message[:MESSAGE_LIMIT],
        "traceback": "".join(lines)[-4 * MESSAGE_LIMIT :],
    }


def _resolve(dotted: str):
    """The object a dotted name like ``torch.nn.functional.conv2d`` points to, or None."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        module = sys.modules.get(".".join(parts[:split]))
        if module is None:
            try:
                module = __import__(".".join(parts[:split]), fromlist=["_"])
            except Exception:
                continue
        obj = module
        try:
            for attr in parts[split:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def forbidden_targets(names: list[str]) -> tuple[frozenset, frozenset, frozenset]:
    """(objects, code objects, (package, short name) pairs) of the forbidden routines.

    Objects are resolved only from modules already loaded (no import costs a second);
    the pairs catch the same routine reached later or under another name.
    """
    builtins_, codes, short = set(), set(), set()
    for dotted in names:
        short.add((dotted.split(".")[0], dotted.rsplit(".", 1)[-1]))
        obj = _resolve(dotted) if dotted.split(".")[0] in sys.modules else None
        if obj is None:
            continue
        code = getattr(obj, "__code__", None)
        if isinstance(code, types.CodeType):
            codes.add(code)
        else:
            with contextlib.suppress(TypeError):  # an unhashable object cannot be matched
                builtins_.add(obj)
    return frozenset(builtins_), frozenset(codes), frozenset(short)


def _install_torch_guard(program: dict, setup_prefix: str):
    """The torch guard (``torch_guard.py``) where the assignment permits torch, else None."""
    if "torch" not in program.get("modules", []):
        return None
    refuse = program.get("torch_refuse", list(torch_guard.FAMILIES))
    return torch_guard.install(refuse, setup_prefix, ANSWER_PREFIX)


def install_guards(program: dict, reply_fd: int):
    """Install the audit hook and the profile function; from here on student code may run."""
    setup_prefix = SETUP_PREFIX + program["token"] + " "
    guard = _install_torch_guard(program, setup_prefix)
    forbidden = list(program["forbidden"]) + list(guard.names if guard else ())
    objs, codes, short = forbidden_targets(forbidden)
    protected = () if guard is None else guard.protected
    guard_off = None if guard is None else guard.off
    writable = tuple(program["writable_paths"])
    hidden = tuple(program["hidden_paths"])
    visible = tuple(program["visible_paths"])

    def library_import(frame, _visible=visible, _answer=ANSWER_PREFIX):
        """Whether this frame is a library (not student code) being imported: torch loads
        its shared libraries through ctypes."""
        while frame is not None:
            name = frame.f_code.co_filename
            if name.startswith("<frozen importlib"):
                return True
            if name.startswith(_answer) or not name.startswith(_visible):
                return False
            frame = frame.f_back
        return False

    def hit(
        frame,
        what,
        _library=library_import,
        _prefix=setup_prefix,
        _answer=ANSWER_PREFIX,
        _write=os.write,
        _exit=os._exit,
        _fd=reply_fd,
        _encode=protocol.encode,
        _len=protocol.LENGTH.pack,
    ):
        """Stop the process unless an instructor setup cell (and no answer cell within it)
        made this call, or a permitted library made it while it was being imported (torch
        registers operators when graded code first uses a part of it)."""
        if _library(frame):
            return
        while frame is not None:
            name = frame.f_code.co_filename
            if name.startswith(_prefix):
                return
            if name.startswith(_answer):
                break
            frame = frame.f_back
        try:
            payload = _encode({"forbidden": what})
            _write(_fd, _len(len(payload)) + payload)
        finally:
            _exit(70)

    names = frozenset(name for _, name in short)
    packages = tuple(f"/{package}/" for package, _ in short)
    package_names = frozenset(package for package, _ in short)

    def profile(
        frame,
        event,
        arg,
        _hit=hit,
        _objs=objs,
        _codes=codes,
        _names=names,
        _packages=packages,
        _package_names=package_names,
        _getattr=getattr,
        _type=type,
        _str=str,
        _base=BaseException,
        _off=guard_off,
        _answer=ANSWER_PREFIX,
    ):
        # runs on every call: cheap tests first. It must never raise (CPython would drop it),
        # and it uses no global or builtin name a student could replace.
        try:
            if (
                _off is not None
                and event in ("call", "c_call")
                and frame.f_code.co_filename.startswith(_answer)
                and _off()
            ):
                _hit(frame, "code that ran while the grader's torch guard was switched off")
            if event == "call":
                code = frame.f_code
                if code.co_name in _names and (
                    code in _codes or [p for p in _packages if p in code.co_filename]
                ):
                    _hit(frame, code.co_name)
            elif event == "c_call":
                name = _getattr(arg, "__name__", None)
                if name not in _names:
                    return
                caught = arg in _objs
                if not caught:
                    module = _str(_getattr(arg, "__module__", None) or "").split(".")[0]
                    owner = _type(_getattr(arg, "__self__", None)).__module__
                    caught = owner.startswith("pybind11") or module in _package_names
                if caught:
                    _hit(frame, _str(name))
        except _base:
            _hit(frame, "a call the grader's guard could not inspect")

    def audit(
        event,
        args,
        _hit=hit,
        _protected=protected,
        _guard_files=(__file__, torch_guard.__file__),
        _tamper=_TAMPER_EVENTS,
        _process=_PROCESS_EVENTS,
        _guarded=_GUARDED_ATTRS,
        _library=library_import,
        _writable=writable,
        _hidden=hidden,
        _visible=visible,
        _setup=setup_prefix,
        _getframe=sys._getframe,
        _abspath=os.path.abspath,
        _fspath=os.fsdecode,
        _write_flags=_WRITE_FLAGS,
        _isinstance=isinstance,
        _str=str,
        _getattr=getattr,
        _denied=PermissionError,
    ):
        # like the profile function, it looks up no global or builtin name
        if event == "open":
            path, mode, flags = args
            if not _isinstance(path, (_str, bytes)):
                return
            path = _abspath(_fspath(path))
            writing = (mode is not None and [c for c in "wax+" if c in mode]) or (
                (flags or 0) & _write_flags
            )
            if writing and not path.startswith(_writable):
                raise _denied(f"graded code may not write to {path}")
            if path.startswith(_hidden) and not path.startswith(_visible):
                raise _denied(f"graded code may not read {path}")
        elif event in _process or event.startswith("os.exec") or event.startswith("os.spawn"):
            raise _denied("graded code may not start, signal or replace processes")
        elif (event in _tamper or event.startswith("ctypes.")) and not _library(_getframe(1)):
            raise _denied(f"graded code may not use {event} (it could tamper with the grader)")
        elif event in ("object.__setattr__", "object.__delattr__") and [
            p for p in _protected if p is args[0]
        ]:
            raise _denied(f"graded code may not change the grader's {args[0].__name__}")
        elif event == "object.__setattr__" and args[1] in _guarded:
            code = _getattr(args[0], "__code__", None)
            if _getattr(code, "co_filename", None) in _guard_files:
                raise _denied(f"graded code may not replace the grader's {args[1]}")
        elif event in ("compile", "code.__new__") and _str(args[1]).startswith(_setup):
            raise _denied("graded code may not compile code under the setup cells' name")

    switched_off = _frame({"forbidden": "code that switched the grader's guard off"})

    def check(
        _getprofile=sys.getprofile,
        _write=os.write,
        _exit=os._exit,
        _fd=reply_fd,
        _payload=switched_off,
        _torch=None if guard is None else guard.check,
        _encode=protocol.encode,
        _len=protocol.LENGTH.pack,
    ):
        """End the process if the profile function is gone (e.g. dropped on a RecursionError)
        or the torch guard was removed, replaced or gone around."""
        problem = None if _torch is None else _torch()
        if _getprofile() is None or problem is not None:
            try:
                if problem is None:
                    _write(_fd, _payload)
                else:
                    payload = _encode({"forbidden": problem})
                    _write(_fd, _len(len(payload)) + payload)
            finally:
                _exit(70)

    # The profile function is set before the audit hook, which then refuses to let it change.
    sys.setprofile(profile)
    sys.addaudithook(audit)
    return check


def _frame(value) -> bytes:
    payload = protocol.encode(value)
    return protocol.LENGTH.pack(len(payload)) + payload


_BUILTINS = vars(builtins)  # the dict itself: no name lookups while it is being swapped
_PRISTINE = _BUILTINS.copy()  # taken when the grader loads this module, before any cell
_student_patches: dict = {}


def _swap_builtins(contents: dict) -> None:
    _BUILTINS.clear()
    _BUILTINS.update(contents)


@contextlib.contextmanager
def _pristine_builtins(pristine: dict):
    """The server's own work runs with the builtins as they were before student code.

    What the student changed is put back around their calls (``_student_builtins``), so a
    patched ``isinstance`` breaks only their own code, never the replies.
    """
    _student_patches.clear()
    _student_patches.update(_BUILTINS)
    _swap_builtins(pristine)
    try:
        yield
    finally:
        _swap_builtins(_student_patches)


@contextlib.contextmanager
def _student_builtins():
    saved = _BUILTINS.copy()
    _swap_builtins(_student_patches)
    try:
        yield
    finally:
        _student_patches.clear()
        _student_patches.update(_BUILTINS)
        _swap_builtins(saved)


def _unsendable(exc: BaseException) -> dict:
    return {"kind": "error", "type": type(exc).__name__, "message": f"unsendable result: {exc}"}


class Server:
    """Answer the grader's requests: call a function, read a variable."""

    def __init__(self, namespace: dict, request_fd: int, reply_fd: int):
        self.namespace = namespace
        self.request_fd = request_fd
        self.reply_fd = reply_fd
        self.handles: dict[int, object] = {}

    def serve(self, check) -> None:
        """Answer requests until the grader closes the pipe; ``check`` (a local, so student
        code cannot swap it) verifies the guard after every request."""
        while True:
            with _pristine_builtins(_PRISTINE):
                try:
                    request = protocol.read_message(self.request_fd)
                except EOFError:
                    return
                if isinstance(request, dict):
                    reply = self.handle(request)
                else:
                    reply = {"protocol": f"a request must be a dict, got {type(request).__name__}"}
                check()
                try:
                    payload = reply if type(reply) is bytes else protocol.encode(reply)
                except Exception as exc:  # a result that broke the encoder: say so, go on
                    payload = protocol.encode({"error": _unsendable(exc)})
                protocol.write_payload(self.reply_fd, payload)

    def handle(self, request: dict) -> dict | bytes:
        """The reply, or its encoding when it was already encoded (a call's usual reply)."""
        op = request.get("op")
        if op == "call":
            return self.call(request)
        if op == "value":
            name = request["name"]
            if name not in self.namespace:
                return {"missing": name}
            return {"ok": self.outgoing(self.namespace[name])}
        if op == "exists":
            return {"ok": callable(self.namespace.get(request["name"]))}
        return {"protocol": f"unknown request {op!r}"}

    def call(self, request: dict) -> dict | bytes:
        with _student_builtins():
            return self._call(request)

    def _call(self, request: dict) -> dict | bytes:
        function = self.namespace.get(request["name"])
        if function is None:
            return {"missing": request["name"]}
        if not callable(function):
            return {"not_callable": type(function).__name__}
        args = self.incoming(request["args"])
        kwargs = self.incoming(request["kwargs"])
        try:
            result = function(*args, **kwargs)
        except BaseException as exc:  # SystemExit, KeyboardInterrupt: still the student's error
            return {"error": describe_exception(exc)}
        reply = {"ok": result}
        if request.get("return_args"):
            reply["args"] = tuple(args)
        try:  # the usual reply, every part of which can be sent: encoded once, here
            return protocol.encode(reply)
        except Exception:
            return {key: self.outgoing(item) for key, item in reply.items()}

    def incoming(self, value):
        if type(value) is protocol.Handle:
            return self.handles[value.id]
        if type(value) in (tuple, list):
            return type(value)(self.incoming(item) for item in value)
        if type(value) is dict:
            return {key: self.incoming(item) for key, item in value.items()}
        return value

    def outgoing(self, value, depth: int = 0):
        """``value`` made encodable: what the format cannot carry becomes a handle."""
        try:
            protocol.encode(value)
            return value
        except protocol.Unencodable:
            pass
        except Exception:  # a hostile __eq__ or __len__: keep the object here
            return self.handle_for(value)
        kind = type(value)
        if depth < protocol.MAX_DEPTH - 1 and kind in (tuple, list):
            return kind(self.outgoing(item, depth + 1) for item in value)
        if depth < protocol.MAX_DEPTH - 1 and kind is dict:
            try:
                return {key: self.outgoing(item, depth + 1) for key, item in value.items()}
            except Exception:
                return self.handle_for(value)
        return self.handle_for(value)

    def handle_for(self, value) -> protocol.Handle:
        ident = len(self.handles) + 1
        self.handles[ident] = value
        try:
            text = repr(value)[:200]
        except BaseException:
            text = ""
        return protocol.Handle(ident, type(value).__name__[:100], text)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
