"""Grading a class on a Dask cluster: ``cnncourse grade ... --scheduler tcp://HOST:PORT``.

The client (where ``cnncourse grade`` runs) loads the assignment, decides what needs grading
and writes every output (JSON, CSV, feedback, gradebook); workers only grade. A task carries
a batch of notebooks (their bytes: workers need not see the client's files) and a
:class:`CourseSpec`: where the course is, the settings and the content hash of everything
that decides a grade. Batches shrink as the class runs out (:func:`batch_sizes`): large ones
divide Dask's cost per task (a few ms of the scheduler's, the client's and the worker's CPU)
among their submissions, and single submissions at the end keep every worker busy to the
last. Each worker grades from its own checkout of the course (the client's path, or
``$CNNCOURSE_COURSE`` on that machine) and refuses, with :class:`WorkerRefused`, when that
copy differs from the client's or when its sandbox is weaker than requested.

On a worker, one grading session (the same :func:`cnncourse.grading.runner.run_session`
as a local run's, in a thread of the worker process) grades every task it is given: the
hidden suite is collected once, and while one submission is graded the child of the next
one starts, as with ``--jobs``. A task hands its batch to that session and leaves the
worker's thread pool (``secede``), so the worker's next task can hand in the next one; at
most three tasks wait in a session (SESSION_SLOTS), the rest wait in Dask. A worker that
dies takes no grade with it: the scheduler gives its tasks to other workers.
"""

from __future__ import annotations

import concurrent.futures
import os
import queue
import shutil
import socket
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cnncourse.grading.assignment import Assignment, AssignmentError, load_assignment
from cnncourse.grading.sandbox import LEVELS, start_probing, why_not

EXTRA = "pip install 'cnncourse[cluster]'"
# Dask's settings for grading (its diagnostic timers, slowed down): give the file to the
# scheduler and workers as DASK_CONFIG; local:N applies it itself
DASK_CONFIG = Path(__file__).with_name("dask-grading.yaml")
LOCAL = "local:"
IDLE_S = 300.0  # a worker's grading session ends after this long without a submission
# how long a session that holds a submission waits for the next one before grading it alone
# (the tasks of a run reach a worker a few milliseconds apart)
NEXT_S = 0.2
# tasks held by one session: the one graded, the next one (its child starting) and one more,
# already in the queue when the first is done (else the next child starts only later)
SESSION_SLOTS = 3
# a task's submissions: at most MAX_BATCH (what a killed worker's task costs to grade again),
# at most 1/SPREAD of a worker's share of what remains (see batch_sizes)
MAX_BATCH = 8
SPREAD = 4


class ClusterError(Exception):
    """The cluster cannot grade this class: no distributed package, an unreachable scheduler,
    no workers, or a worker that refused."""


class WorkerRefused(Exception):
    """Raised on a worker whose course copy differs from the client's, or whose sandbox
    cannot grade at the requested isolation level."""


@dataclass(frozen=True)
class CourseSpec:
    """What a worker needs besides the notebook: the course and the client's view of it."""

    course: str  # the client's course folder; a worker may have its copy elsewhere
    assignment: str
    overrides: tuple[tuple[str, float], ...]  # timeout, memory_mb, submission_timeout
    isolation: str  # as requested: "auto" or a level
    fingerprint: str  # Assignment.fingerprint() on the client
    manifest: tuple[tuple[str, str], ...]  # Assignment.manifest() on the client
    hidden: tuple[str, ...]  # folders no child may see (the client's outputs and class)


def course_spec(
    assignment: Assignment, *, isolation: str, overrides: dict, hidden: list[str]
) -> CourseSpec:
    """The spec of an assignment loaded (and its tests collected) on the client."""
    if isolation != "auto" and isolation not in LEVELS:
        raise ValueError(f"isolation must be 'auto' or one of {LEVELS}, got {isolation!r}")
    kept = tuple(sorted((k, v) for k, v in overrides.items() if v is not None))
    return CourseSpec(
        course=str(assignment.course),
        assignment=assignment.name,
        overrides=kept,
        isolation=isolation,
        fingerprint=assignment.fingerprint(),
        manifest=tuple(sorted(assignment.manifest().items())),
        hidden=tuple(hidden),
    )


def expected_level(isolation: str) -> str:
    """The level every record of a cluster run has: workers below it refuse."""
    return "bubblewrap" if isolation == "auto" else isolation


def local_workers(scheduler: str) -> int | None:
    """N for ``local:N`` (a LocalCluster of N worker processes), None for a scheduler's
    address. Raises ValueError for anything else that starts with ``local``."""
    if not isinstance(scheduler, str) or not scheduler:
        raise TypeError(f"scheduler must be an address or 'local:N', got {scheduler!r}")
    if not scheduler.startswith(LOCAL):
        return None
    count = scheduler[len(LOCAL) :]
    if not count.isdigit() or int(count) < 1:
        raise ValueError(f"scheduler {scheduler!r}: local:N needs a number of workers N >= 1")
    return int(count)


def require_distributed() -> None:
    """Raise ClusterError naming the extra to install when Dask's distributed is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ClusterError(
            f"--scheduler needs Dask's distributed package, which is not installed: {EXTRA}"
        ) from None


def grading_config() -> dict[str, object]:
    """The settings of DASK_CONFIG (``dask-grading.yaml``) by dotted key, for
    ``dask.config.set`` (which a nested dict would make replace Dask's whole sections)."""
    import yaml

    flat = {}
    pending = [("", yaml.safe_load(DASK_CONFIG.read_text()))]
    while pending:
        prefix, section = pending.pop()
        for name, value in section.items():
            if isinstance(value, dict):
                pending.append((f"{prefix}{name}.", value))
            else:
                flat[f"{prefix}{name}"] = value
    return flat


# -- the client ----------------------------------------------------------------------------


@contextmanager
def connect(scheduler: str, *, timeout: float = 10.0) -> Iterator:
    """A Dask ``Client`` of the scheduler at ``scheduler`` (``tcp://HOST:PORT``) or of a
    ``LocalCluster`` of N worker processes (``local:N``), closed on leaving.

    Raises ClusterError when distributed is missing or the scheduler does not answer
    within ``timeout`` seconds.
    """
    workers = local_workers(scheduler)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    require_distributed()
    import dask.config
    from distributed import Client, LocalCluster

    cluster = None
    if workers is not None:
        with dask.config.set(grading_config()):  # the workers are started with this config
            cluster = LocalCluster(
                n_workers=workers,
                processes=True,
                threads_per_worker=1,
                dashboard_address=":0",  # not 8787: it may be taken
                host="127.0.0.1",
            )
    try:
        client = Client(cluster or scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        raise ClusterError(
            f"the Dask scheduler at {scheduler} cannot be reached ({exc}); is `dask scheduler` "
            "running there, and is its port open to this machine?"
        ) from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def prepare_workers(client, spec: CourseSpec, *, wait_s: float = 60.0) -> dict[str, dict]:
    """Start the grading session of every worker: each checks its course copy and its
    sandbox. Returns {worker address: {"level", "host", "threads"}}.

    Raises ClusterError when no worker joins within ``wait_s`` seconds or when a worker
    refuses (every refusal, each with its worker's address and reason).
    """
    from distributed import as_completed

    try:
        client.wait_for_workers(1, timeout=wait_s)
    except TimeoutError:
        raise ClusterError(f"no Dask worker joined the scheduler within {wait_s:g} s") from None
    addresses = sorted(client.nthreads())
    futures = {
        client.submit(
            start_session,
            spec,
            key=f"cnncourse-check-{address}-{uuid.uuid4().hex[:8]}",
            workers=[address],
            allow_other_workers=False,
            pure=False,
        ): address
        for address in addresses
    }
    workers, refusals = {}, []
    try:
        for future in as_completed(futures, timeout=max(wait_s, 600.0), loop=client.loop):
            address = futures[future]
            try:
                workers[address] = future.result()
            except WorkerRefused as exc:
                refusals.append(f"worker {address} refuses: {exc}")
            except Exception as exc:  # a worker that left meanwhile: it takes no task either
                refusals.append(f"worker {address} failed its check: {exc!r}")
    except TimeoutError:
        silent = [address for future, address in futures.items() if not future.done()]
        client.cancel([future for future in futures if not future.done()])
        refusals += [f"worker {address} did not answer its check" for address in silent]
    if refusals:
        raise ClusterError("\n".join(sorted(refusals)))
    return workers


def batch_sizes(count: int, workers: int) -> list[int]:
    """How many submissions each task of a class of ``count`` carries, in submission order.

    Guided self-scheduling: each batch is 1/(SPREAD x workers) of what remains, at most
    MAX_BATCH, at least one. Dask's cost per task is shared by the batch's submissions while
    much remains; the last tasks carry one submission each, so no worker is left grading a
    large batch while the others have nothing to do.
    """
    for name, value in (("count", count), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if count < 0 or workers < 1:
        raise ValueError(f"need count >= 0 and workers >= 1, got count={count}, workers={workers}")
    sizes = []
    while count > 0:
        size = min(MAX_BATCH, max(1, -(-count // (SPREAD * workers))))
        sizes.append(size)
        count -= size
    return sizes


def grade_on_cluster(client, spec: CourseSpec, assignment: Assignment, submissions) -> Iterator:
    """Grade ``submissions`` (SubmissionRef) on the cluster; yield each record as its
    batch finishes, in the client's terms (its notebook paths).

    Raises ClusterError when a worker refuses (a worker that joined after
    :func:`prepare_workers` with a different course copy) or the scheduler cancels the
    work; the records yielded before stand.
    """
    from distributed import as_completed

    from cnncourse.grading.runner import ungraded_record

    refs = list(submissions)
    futures = {}
    start = 0
    for size in batch_sizes(len(refs), max(1, len(client.nthreads()))):
        batch = refs[start : start + size]
        start += size
        first = batch[0].student
        key = f"cnncourse-grade-{spec.assignment}-{first}-{size}-{uuid.uuid4().hex[:8]}"
        items = [(ref.student, ref.notebook.name, ref.notebook.read_bytes()) for ref in batch]
        futures[client.submit(grade_batch, spec, items, key=key, pure=False)] = batch
    try:
        for future in as_completed(futures, loop=client.loop):
            batch = futures[future]
            try:
                records = future.result()
            except WorkerRefused as exc:
                raise ClusterError(f"a worker refuses to grade {batch[0].student}: {exc}") from None
            except concurrent.futures.CancelledError as exc:
                raise ClusterError(f"the scheduler cancelled the grading ({exc})") from None
            except Exception as exc:  # e.g. KilledWorker: it brought down several workers
                records = [
                    ungraded_record(
                        assignment,
                        ref,
                        expected_level(spec.isolation),
                        status="grader_error",
                        message=f"the cluster could not grade this submission: {exc!r}",
                    )
                    for ref in batch
                ]
            for ref, record in zip(batch, records, strict=True):
                record["notebook"] = str(ref.notebook)
                yield record
    finally:
        client.cancel([future for future in futures if not future.done()])


# -- the workers ---------------------------------------------------------------------------


def start_session(spec: CourseSpec) -> dict:
    """Run on a worker: check its course copy and sandbox, start its grading session."""
    from distributed import get_worker

    session = _session_for(spec)
    threads = get_worker().state.nthreads
    return {"level": session.level, "host": socket.gethostname(), "threads": threads}


def grade_batch(spec: CourseSpec, items: list[tuple[str, str, bytes]]) -> list[dict]:
    """Run on a worker: grade notebooks given as (student, file name, bytes); return their
    records in the same order."""
    from distributed import secede

    while True:
        session = _session_for(spec)
        records = session.grade(items, leave_pool=secede)
        if records is not None:
            return records  # else that session closed meanwhile: the next one grades them


_LOCK = threading.Lock()
_current: list[WorkerSession] = []  # the worker process's one grading session


def _session_for(spec: CourseSpec) -> WorkerSession:
    """This worker's session for ``spec``, started if needed. A session for another spec
    (another assignment, other settings) finishes what it holds and ends."""
    with _LOCK:
        previous = _current[0] if _current else None
        if previous is not None and previous.spec == spec and previous.open:
            return previous
        session = WorkerSession(spec, previous=previous)
        if previous is not None:
            previous.close()
        _current[:] = [session]
        return session


class WorkerSession:
    """One grading session in a thread of a worker process (see the module's docstring).

    Construction checks the worker's course copy and isolation level (WorkerRefused). The
    thread waits for ``previous`` to end, then collects the hidden suite and grades: one
    pytest session at a time per process.
    """

    def __init__(self, spec: CourseSpec, previous: WorkerSession | None = None):
        from cnncourse.grading.runtime import ensure as ensure_runtime

        self.spec = spec
        self.assignment = worker_assignment(spec)
        self.level = worker_level(spec.isolation)
        ensure_runtime(self.assignment.modules)
        self.root = Path(tempfile.mkdtemp(prefix="cnncourse-cluster-"))
        self.open = True
        self.tasks: queue.Queue = queue.Queue()
        self.inflight: deque[concurrent.futures.Future] = deque()
        self.slots = threading.Semaphore(SESSION_SLOTS)
        self.thread = threading.Thread(
            target=self._main, args=(previous,), name="cnncourse-grading", daemon=True
        )
        self.thread.start()

    def grade(self, items: list[tuple[str, str, bytes]], leave_pool=None) -> list[dict] | None:
        """The records of notebooks given as (student, file name, bytes), in that order;
        None if this session closed before taking them. ``leave_pool`` is called once the
        session holds them (Dask's ``secede``)."""
        from cnncourse.grading.runner import SubmissionRef

        self.slots.acquire()
        try:
            folder = Path(tempfile.mkdtemp(dir=self.root))
        except FileNotFoundError:  # the session ended meanwhile and removed its folder
            self.slots.release()
            return None
        try:
            refs = []
            for index, (student, name, data) in enumerate(items):
                path = folder / str(index) / _safe(student) / _safe(self.spec.assignment) / name
                path.parent.mkdir(parents=True)
                path.write_bytes(data)
                refs.append(SubmissionRef(student, path))
            results: list[concurrent.futures.Future[dict]] = [
                concurrent.futures.Future() for _ in refs
            ]
            with _LOCK:
                if not self.open:
                    return None
                for ref, result in zip(refs, results, strict=True):
                    self.tasks.put((ref, result))
            if leave_pool is not None:
                leave_pool()
            return [result.result() for result in results]
        finally:
            self.slots.release()
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        """Take no more submissions; the thread ends after those it holds (call with _LOCK)."""
        if self.open:
            self.open = False
            self.tasks.put(None)

    def _main(self, previous: WorkerSession | None) -> None:
        from cnncourse.grading.runner import collect_tests, run_session

        if previous is not None:
            previous.thread.join()
        hidden = [*self.spec.hidden, str(self.root)]
        try:
            collect_tests(self.assignment)
            run_session(self.assignment, self.level, hidden, self._next(), self._report)
        except BaseException as exc:  # a fault of the grader: the tasks it held fail
            self._fail(exc)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _next(self) -> Iterator:
        """The session's tasks: submissions as they come; LATER while it holds one and none
        is waiting (it grades that one first); None when closed."""
        from cnncourse.grading.runner import LATER

        while True:
            try:
                item = self.tasks.get(timeout=NEXT_S if self.inflight else IDLE_S)
            except queue.Empty:
                if self.inflight:
                    yield LATER
                    continue
                with _LOCK:  # idle: end, unless a task came in meanwhile
                    if self.tasks.empty():
                        self.close()
                        if _current and _current[0] is self:
                            _current.clear()
                continue
            if item is None:
                return
            ref, result = item
            self.inflight.append(result)
            yield ref

    def _report(self, record: dict) -> None:
        self.inflight.popleft().set_result(record)

    def _fail(self, exc: BaseException) -> None:
        with _LOCK:
            self.close()
        while self.inflight:
            self.inflight.popleft().set_exception(RuntimeError(f"grading session failed: {exc}"))
        while True:  # closed: nothing is added any more
            try:
                item = self.tasks.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                item[1].set_exception(RuntimeError(f"grading session failed: {exc}"))


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "_"


def worker_assignment(spec: CourseSpec) -> Assignment:
    """The assignment from this machine's course copy (``$CNNCOURSE_COURSE``, else the
    client's path); WorkerRefused unless it is the client's, file for file."""
    course = Path(os.environ.get("CNNCOURSE_COURSE") or spec.course)
    host = socket.gethostname()
    if not course.is_dir():
        raise WorkerRefused(
            f"{host} has no course checkout at {course} (the client's path; set "
            "CNNCOURSE_COURSE in the worker's environment to where this machine's copy is)"
        )
    try:
        assignment = load_assignment(course, spec.assignment, **dict(spec.overrides))
    except AssignmentError as exc:
        raise WorkerRefused(f"{host}: the course copy at {course} cannot be used: {exc}") from None
    if assignment.fingerprint() != spec.fingerprint:
        ours, theirs = assignment.manifest(), dict(spec.manifest)
        differ = sorted(name for name in {*ours, *theirs} if ours.get(name) != theirs.get(name))
        raise WorkerRefused(
            f"{host}: the course copy at {course} differs from the client's in "
            f"{', '.join(differ)}; every worker needs the client's checkout of the course "
            "and the same cnncourse"
        )
    return assignment


def worker_level(isolation: str) -> str:
    """This machine's sandbox level for ``isolation``; WorkerRefused where a local run
    would refuse."""
    host = socket.gethostname()
    level = start_probing(isolation)()
    if level is None:
        raise WorkerRefused(
            f"{host} cannot grade at isolation level {isolation!r}: {why_not(isolation)}"
        )
    if isolation == "auto" and level != "bubblewrap":
        raise WorkerRefused(
            f"{host} cannot grade in the bubblewrap sandbox: {why_not('bubblewrap')} "
            f"(its strongest level is {level!r}; name it with --isolation to accept it)"
        )
    return level
