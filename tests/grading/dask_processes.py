"""Real Dask processes on 127.0.0.1 for tests/grading/test_cluster.py and
benchmarks/bench_cluster.py: a `dask scheduler` on a free port and the `dask worker`
processes added to it (no nanny: a worker's pid is the worker), each in its own session,
with its output in a log file, and all stopped together."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

DASK = Path(sys.executable).with_name("dask")
START_S = 120  # generous: a loaded 2-core machine starts a scheduler in seconds, not minutes


class Cluster:
    """A `dask scheduler` and its `dask worker` processes, started with the environment's
    own `dask` command. ``env``: variables set for every process of the cluster (such as
    DASK_CONFIG), each worker's own on top."""

    def __init__(self, folder: Path, env: dict | None = None):
        self.folder = folder
        self.env = dict(env or {})
        self.processes: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        self.logs = folder / "logs"
        self.logs.mkdir(parents=True)
        scheduler_file = folder / "scheduler.json"
        self.scheduler = self._start(
            "scheduler",
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(scheduler_file)],
            env=self.env,
        )  # fmt: skip
        self.address = self._address(scheduler_file)

    def _address(self, scheduler_file: Path) -> str:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            try:  # the scheduler writes the file once it listens (not atomically)
                return json.loads(scheduler_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)
        raise RuntimeError(f"the Dask scheduler did not start:\n{self.log('scheduler')}")

    def _start(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        # the environment's bin folder first on PATH: the worker finds the same Python's tools
        path = f"{DASK.parent}{os.pathsep}{os.environ.get('PATH', '')}"
        env = {**os.environ, "PATH": path, **(env or {})}
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        log.close()
        self.processes.append(process)
        return process

    def add_worker(self, env: dict | None = None) -> subprocess.Popen:
        """One more `dask worker --nthreads 1`; ``env``: variables set for it alone."""
        name = f"worker{len(self.workers)}"
        worker = self._start(
            name,
            [str(DASK), "worker", self.address, "--nthreads", "1", "--no-nanny",
             "--no-dashboard", "--host", "127.0.0.1", "--name", name],
            env={**self.env, **(env or {})},
        )  # fmt: skip
        self.workers.append(worker)
        return worker

    def wait_for_workers(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=START_S / 2) as client:
            client.wait_for_workers(count, timeout=START_S)

    def resize(self, count: int) -> None:
        """Add workers or stop the newest ones until exactly ``count`` are running, and wait
        until the scheduler knows exactly those."""
        from distributed import Client

        while len(self.workers) < count:
            self.add_worker()
        while len(self.workers) > count:
            worker = self.workers.pop()
            os.killpg(worker.pid, signal.SIGTERM)  # a worker leaves its scheduler on SIGTERM
            worker.wait(timeout=START_S)
        with Client(self.address, timeout=START_S / 2) as client:
            client.wait_for_workers(count, timeout=START_S)
            deadline = time.monotonic() + START_S
            while len(client.scheduler_info()["workers"]) != count:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the scheduler still has workers beyond {count}")
                time.sleep(0.1)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text()[-3000:]

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
