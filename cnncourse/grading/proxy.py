"""The grader's side of the child: start it, call into it, restart it after a crash.

``Student`` is the object hidden tests receive as the ``student`` fixture.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import select
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

from cnncourse.grading import protocol
from cnncourse.grading.sandbox import Sandbox

OUTPUT_KEEP = 32 * 1024  # bytes of the child's output kept from its start and from its end
POLL_S = 0.1  # how often a wait checks the child's CPU time
_TICKS = os.sysconf("SC_CLK_TCK")


class StudentError(BaseException):
    """A call into the student's code did not return a value.

    ``status`` is one of error, not_implemented, missing, timeout, memory, crashed,
    forbidden; ``type_name`` is the student's exception type for error. It derives from
    BaseException so that a test's ``except Exception`` cannot swallow it by accident.
    """

    def __init__(self, status: str, message: str, type_name: str = ""):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type_name = type_name


class _Output:
    """The child's stdout and stderr, drained continuously and kept bounded."""

    def __init__(self, stream):
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self.thread.start()

    def _drain(self, stream) -> None:
        while chunk := stream.read1(1 << 16):
            self.total += len(chunk)
            room = OUTPUT_KEEP - len(self.head)
            self.head += chunk[:room]
            self.tail = (self.tail + chunk[room:])[-OUTPUT_KEEP:]

    def text(self, keep: int = OUTPUT_KEEP) -> str:
        """The first and last ``keep // 2`` bytes, with a note of what was left out."""
        head = bytes(self.head[: keep // 2])
        tail = bytes(self.tail[-(keep // 2) :]) if self.total > len(head) else b""
        tail = tail[max(0, len(head) + len(tail) - self.total) :]
        dropped = self.total - len(head) - len(tail)
        middle = f"\n[... {dropped} bytes of output not kept ...]\n" if dropped > 0 else ""
        return head.decode(errors="replace") + middle + tail.decode(errors="replace")


@dataclass
class _Process:
    popen: subprocess.Popen
    request_fd: int
    reply_fd: int
    output: _Output
    workdir: str
    pid: int  # the process that runs the student's code (inside bubblewrap: bwrap's child)
    buffer: bytearray = field(default_factory=bytearray)

    def cpu_seconds(self) -> float:
        """CPU time the student's process has used so far (user + system)."""
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _TICKS
        except (OSError, IndexError, ValueError):
            return 0.0


class ChildSession:
    """One submission's child process, started lazily and restarted after a hang or crash."""

    def __init__(self, cells: list[dict], forbidden: list[str], sandbox: Sandbox):
        self.cells = cells
        self.forbidden = forbidden
        self.sandbox = sandbox
        self.spent = 0.0  # wall-clock seconds spent waiting for this submission's child
        self.cell_errors: dict[str, dict] = {}  # grade id -> {kind, message, ...}
        self.process: _Process | None = None
        self.failed_start: str | None = None  # why the child cannot start at all
        self.starts = 0
        self._last_output = ""
        self.keep_output = 4000
        self._starting: threading.Thread | None = None

    def prestart(self) -> None:
        """Launch the child now and let it run the notebook while the suite sets up.

        The process is started on this thread (bubblewrap's --die-with-parent follows the
        thread that forked it); only the wait for the notebook happens in the background.
        A failed first run is retried by the first call, on the caller's thread.
        """
        if not self._launch_and_send():
            return

        def wait() -> None:
            try:
                if not self._run_notebook():
                    self.process = None
            except StudentError:
                pass  # failed_start holds the reason; the first call reports it

        self._starting = threading.Thread(target=wait, daemon=True)
        self._starting.start()

    def _wait_for_start(self) -> None:
        if self._starting is not None and self._starting is not threading.current_thread():
            self._starting.join()
            self._starting = None

    # -- life cycle ------------------------------------------------------------------------

    def _launch(self) -> _Process:
        workdir = self.sandbox.workdir()
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        try:
            popen, pid = self.sandbox.spawn(
                workdir,
                child_args=[str(request_r), str(reply_w)],
                pass_fds=(request_r, reply_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        finally:
            os.close(request_r)
            os.close(reply_w)
        self.starts += 1
        return _Process(popen, request_w, reply_r, _Output(popen.stdout), workdir, pid)

    def start(self) -> None:
        """Start the child and run the notebook; cells that crash or hang are left out."""
        if self.failed_start:
            raise StudentError("crashed", self.failed_start)
        for _attempt in range(len(self.cells) + 1):
            self._check_budget("while starting the notebook")
            if self._launch_and_send() and self._run_notebook():
                return
        self.failed_start = "the notebook could not be run (every answer cell was left out)"
        raise StudentError("crashed", self.failed_start)

    def _launch_and_send(self) -> bool:
        process = self._launch()
        self.process = process
        skip = [gid for gid, error in self.cell_errors.items() if error.get("fatal")]
        program = {
            "cells": [dict(cell, token=self.token) for cell in self.cells],
            "skip": skip,
            "token": self.token,
            "forbidden": self.forbidden,
            "writable_paths": [process.workdir, "/dev/null"],
            "hidden_paths": self.sandbox.hidden_paths(),
            "visible_paths": self.sandbox.visible_paths(),
            "modules": list(self.sandbox.modules),
            "torch_refuse": list(self.sandbox.torch_refuse),
        }
        if self._send(protocol.encode(program), self.sandbox.limits.setup_timeout) == "":
            return True
        self.stop()
        return False

    @property
    def token(self) -> str:
        if not hasattr(self, "_token"):
            self._token = secrets.token_hex(8)
        return self._token

    def _run_notebook(self) -> bool:
        """Read the child's progress until it is ready; False if a cell killed it."""
        running = None
        answers = {cell["grade_id"] for cell in self.cells if cell["kind"] == "answer"}
        while True:
            reply, why = self._receive(self.sandbox.limits.setup_timeout)
            if reply is None or "forbidden" in reply:
                where = f"while running the cell {running!r}"
                status, message = self._death(reply, why, where, self.sandbox.limits.setup_timeout)
                self.stop()
                if why == "budget":
                    self.failed_start = message
                    raise StudentError("timeout", message)
                if running is None:  # an instructor cell: nothing to leave out
                    self.failed_start = f"the notebook's setup failed: {message}"
                    raise StudentError("crashed", self.failed_start)
                self.cell_errors[running] = {"kind": status, "message": message, "fatal": True}
                return False
            # student code can write to this pipe too: take only answer cells' names, and
            # only strings from their errors, into the record
            if "running" in reply:
                if isinstance(reply["running"], str) and reply["running"] in answers:
                    running = reply["running"]
            elif "ready" in reply:
                ready = reply["ready"] if isinstance(reply["ready"], dict) else {}
                for grade_id, error in ready.items():
                    if error is not None and isinstance(grade_id, str) and grade_id in answers:
                        self.cell_errors[grade_id] = _cell_error(error)
                return True

    def stop(self) -> None:
        self._wait_for_start()
        process, self.process = self.process, None
        if process is None:
            return
        for fd in (process.request_fd, process.reply_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.popen.pid, signal.SIGKILL)
        process.popen.wait()
        process.output.thread.join(timeout=5)
        self._last_output = process.output.text(self.keep_output)
        if self.sandbox.level != "bubblewrap":
            shutil.rmtree(process.workdir, ignore_errors=True)

    def last_output(self) -> str:
        """What the student's code printed (bounded), from the latest child process."""
        if self.process:
            return self.process.output.text(self.keep_output)
        return self._last_output

    # -- calls -----------------------------------------------------------------------------

    def request(self, request: dict) -> dict:
        """Send one request and return the reply; a hang or death becomes a StudentError."""
        try:
            payload = protocol.encode(request)
        except protocol.Unencodable as exc:
            raise TypeError(f"the test passed a value the grader cannot send: {exc}") from None
        self._wait_for_start()
        where = f"during the call to {request['name']}"
        self._check_budget(where)
        if self.process is None:
            self.start()
        timeout = self.sandbox.limits.timeout
        reply, why = None, self._send(payload, timeout)
        if not why:
            reply, why = self._receive(timeout)
        if reply is None or "forbidden" in reply:
            status, message = self._death(reply, why, where)
            self.stop()
            raise StudentError(status, message)
        return reply

    def _check_budget(self, where: str) -> None:
        """Refuse to go on once the submission has used up its wall-clock cap."""
        if self.spent >= self.sandbox.limits.submission_timeout:
            self.stop()
            raise StudentError("timeout", self._budget_message(where))

    def _budget_message(self, where: str) -> str:
        cap = self.sandbox.limits.submission_timeout
        return (
            f"the submission used up its time ({cap:g} s of wall-clock time for all of its "
            f"tests) {where}; its remaining tests were not run"
        )

    def _wait_slice(self, deadline: float) -> float:
        """Seconds to wait next: until the deadline or the cap, at most one poll period."""
        budget = self.sandbox.limits.submission_timeout - self.spent
        return min(POLL_S, deadline - time.monotonic(), budget)

    def _running(self) -> _Process:
        """The child's process; an error if none is running (start() comes first)."""
        if self.process is None:
            raise RuntimeError("the submission has no running child process: start() it first")
        return self.process

    def _send(self, payload: bytes, timeout: float) -> str:
        """ "" once ``payload`` (an encoded message) is sent, else why not: "closed", "cpu",
        "wall" or "budget"."""
        data = protocol.LENGTH.pack(len(payload)) + payload
        process = self._running()
        fd = process.request_fd
        os.set_blocking(fd, False)
        view = memoryview(data)
        waiting = _Waiting(self, timeout)
        try:
            while view:
                why = waiting.over()
                if why:
                    return why
                if not select.select([], [fd], [], waiting.slice())[1]:
                    continue
                try:
                    view = view[os.write(fd, view) :]
                except (BrokenPipeError, BlockingIOError):
                    if process.popen.poll() is not None:
                        return "closed"
            return ""
        finally:
            waiting.done()

    def _receive(self, timeout: float) -> tuple[dict | None, str]:
        """(reply, "") or (None, "cpu" | "wall" | "budget" | "closed" | "garbled").

        ``timeout`` counts the child's CPU time: a busy machine slows the call down
        without costing the student anything, up to a wall-clock backstop
        (``Limits.wall``) and the submission's cap.
        """
        process = self._running()
        waiting = _Waiting(self, timeout)
        try:
            while True:
                if len(process.buffer) >= 4:
                    size = protocol.LENGTH.unpack(process.buffer[:4])[0]
                    if size > protocol.MAX_MESSAGE:
                        return None, "garbled"
                    if len(process.buffer) >= 4 + size:
                        payload = bytes(process.buffer[4 : 4 + size])
                        del process.buffer[: 4 + size]
                        try:
                            reply = protocol.decode(payload)
                        except protocol.ProtocolError:
                            return None, "garbled"
                        return (reply, "") if isinstance(reply, dict) else (None, "garbled")
                why = waiting.over()
                if why:
                    return None, why
                if not select.select([process.reply_fd], [], [], waiting.slice())[0]:
                    continue
                chunk = os.read(process.reply_fd, 1 << 20)
                if not chunk:
                    return None, "closed"
                process.buffer += chunk
        finally:
            waiting.done()

    def _death(
        self, reply: dict | None, why: str, where: str, cpu_limit: float | None = None
    ) -> tuple[str, str]:
        """Status and message for a child that stopped answering."""
        limits = self.sandbox.limits
        cpu_limit = limits.timeout if cpu_limit is None else cpu_limit
        if reply is not None:
            return "forbidden", (
                f"your code called {reply['forbidden']} {where}: graded functions must not "
                "use a routine this assignment forbids"
            )
        if why == "cpu":
            return "timeout", f"no answer within {cpu_limit:g} s of CPU time {where}"
        if why == "wall":
            return "timeout", (
                f"no answer within {limits.wall(cpu_limit):g} s of wall-clock time {where} "
                "(the code waited without computing, e.g. sleep or a blocking read)"
            )
        if why == "budget":
            return "timeout", self._budget_message(where)
        if why == "garbled":
            return "crashed", f"the notebook's process sent an unreadable reply {where}"
        code = self._exit_code()
        if code in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
            return "timeout", f"the process used up its CPU time ({limits.cpu_seconds} s) {where}"
        if code in (-signal.SIGKILL, 128 + signal.SIGKILL, -signal.SIGSEGV, 128 + signal.SIGSEGV):
            return "crashed", f"the process was killed (signal {abs(code) % 128}) {where}"
        return "crashed", (
            f"the process exited with status {code} {where} "
            "(sys.exit, os._exit or exit() in the code ends the grading process)"
        )

    def _exit_code(self) -> int | None:
        try:
            return self._running().popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None


class _Waiting:
    """One wait for the child: its CPU-time limit, wall-clock backstop and the cap."""

    def __init__(self, session: ChildSession, cpu_limit: float):
        self.session = session
        self.process = session._running()
        self.cpu_limit = cpu_limit
        self.started = time.monotonic()
        self.deadline = self.started + session.sandbox.limits.wall(cpu_limit)
        self.cpu_start = self.process.cpu_seconds()
        self.checked = self.started

    def slice(self) -> float:
        return max(0.0, self.session._wait_slice(self.deadline))

    def over(self) -> str:
        """ "" while the wait may go on, else which limit it reached."""
        now = time.monotonic()
        session = self.session
        if session.spent + now - self.started >= session.sandbox.limits.submission_timeout:
            return "budget"
        if now >= self.deadline:
            return "wall"
        if now - self.checked >= POLL_S or now - self.started >= self.cpu_limit:
            self.checked = now
            if self.process.cpu_seconds() - self.cpu_start >= self.cpu_limit:
                return "cpu"
        return ""

    def done(self) -> None:
        self.session.spent += time.monotonic() - self.started
        self.started = time.monotonic()


def _cell_error(error) -> dict[str, str]:
    """An answer cell's error as the child reported it, reduced to bounded strings."""
    error = error if isinstance(error, dict) else {"message": error}
    keys = ("kind", "type", "message", "traceback")
    return {key: str(error[key])[:8000] for key in keys if key in error}


class Student:
    """The ``student`` fixture: ``student.relu_forward(x)`` runs the student's function."""

    def __init__(self, session: ChildSession):
        object.__setattr__(self, "_session", session)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)[0]

    def call(self, name: str, *args, **kwargs) -> tuple[object, tuple]:
        """(result, args_after): args_after are the positional arguments after the call."""
        reply = self._session.request(
            {"op": "call", "name": name, "args": args, "kwargs": kwargs, "return_args": True}
        )
        return self._result(name, reply), reply.get("args", ())

    def value(self, name: str) -> object:
        """A module-level variable the student defined (an answer that is a number)."""
        return self._result(name, self._session.request({"op": "value", "name": name}))

    def _result(self, name: str, reply: dict):
        if "ok" in reply:
            return reply["ok"]
        if "error" in reply and isinstance(reply["error"], dict):
            error = reply["error"]
            known = ("memory", "not_implemented", "forbidden")
            kind = error.get("kind") if error.get("kind") in known else None
            text = f"{error.get('type', 'Exception')}: {error.get('message', '')}"
            trace = str(error.get("traceback", ""))
            message = f"{name} raised {text}" + (f"\n{trace}" if trace else "")
            if kind == "not_implemented":
                message = f"{name} is not implemented yet (it raises NotImplementedError)"
            raise StudentError(kind or "error", message, str(error.get("type", "")))
        if "missing" in reply:
            raise StudentError("missing", self._missing_message(name))
        if "not_callable" in reply:
            raise StudentError("error", f"{name} is a {reply['not_callable']}, not a function")
        raise StudentError("crashed", f"the notebook's process gave an unexpected reply to {name}")

    def _missing_message(self, name: str) -> str:
        message = f"{name} is not defined in your notebook"
        problems = [
            f"answer cell {gid!r}: {err.get('type', err.get('kind', ''))}: {err.get('message')}"
            for gid, err in self._session.cell_errors.items()
        ]
        if problems:
            message += " (cells that failed: " + "; ".join(problems)[:1500] + ")"
        return message
