"""A private PostgreSQL server for the tests: Debian's binaries, a data folder in /tmp, a Unix
socket and no TCP port, started and stopped by the tests.

PostgreSQL refuses to run as root, so under root the server runs as the ``postgres`` user the
Debian package creates (``nobody`` where there is none), owning the folder. Clients connect
through the socket with no password (``trust``), as the superuser ``postgres``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

BINARIES = "/usr/lib/postgresql/*/bin"
INSTALL = "apt-get install postgresql"
PORT = 5432  # only names the socket file (.s.PGSQL.5432) in the private folder: no TCP
SUPERUSER = "postgres"


def server_binaries(pattern: str = BINARIES) -> Path | None:
    """The newest PostgreSQL version's bin folder that has ``initdb`` and ``pg_ctl``."""
    found = [
        Path(folder)
        for folder in glob.glob(pattern)
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file()
    ]

    def version(folder: Path) -> tuple:
        return tuple(int(part) if part.isdigit() else 0 for part in folder.parent.name.split("."))

    return max(found, key=version) if found else None


def missing_message() -> str:
    return f"no PostgreSQL server binaries ({BINARIES}/initdb): {INSTALL}"


def _server_user() -> str | None:
    """Whom the server runs as: None for the current user, unless that is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root, and neither a 'postgres' nor a 'nobody' user exists")


class PostgresServer:
    """``with PostgresServer() as server:`` a running server; ``server.create_database()``."""

    def __init__(self, binaries: Path | None = None):
        self.binaries = binaries or server_binaries()
        if self.binaries is None:
            raise FileNotFoundError(missing_message())
        self.user = _server_user()
        self.root: Path | None = None
        self.databases = 0

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *command: str, timeout: float = 120) -> None:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        process = subprocess.run(
            [*prefix, *command], cwd=self.root, capture_output=True, text=True, timeout=timeout
        )
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{process.stdout}{process.stderr}")

    def start(self) -> PostgresServer:
        self.root = Path(tempfile.mkdtemp(prefix="cnncourse-pg-"))
        self.socket_dir.mkdir()
        if self.user:
            record = pwd.getpwnam(self.user)
            for path in (self.root, self.socket_dir):
                os.chown(path, record.pw_uid, record.pw_gid)
        initdb = str(self.binaries / "initdb")
        self._run(initdb, "-D", str(self.data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8")
        options = f"-c listen_addresses='' -k {self.socket_dir} -p {PORT} -c fsync=off"
        log = str(self.root / "server.log")
        pg_ctl = str(self.binaries / "pg_ctl")
        self._run(pg_ctl, "-D", str(self.data), "-l", log, "-o", options, "-w", "start")
        return self

    def stop(self) -> None:
        if self.root is None:
            return
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            pg_ctl = str(self.binaries / "pg_ctl")
            self._run(pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def url(self, database: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        """The SQLAlchemy URL of a database on this server, through its socket."""
        return f"{driver}://{SUPERUSER}@/{database}?host={self.socket_dir}&port={PORT}"

    def connect(self, database: str = "postgres"):
        """A psycopg connection in autocommit mode."""
        import psycopg

        return psycopg.connect(
            host=str(self.socket_dir), port=PORT, user=SUPERUSER, dbname=database, autocommit=True
        )

    def create_database(self, prefix: str = "gradebook") -> str:
        """A new, empty database; returns its name."""
        self.databases += 1
        name = f"{prefix}_{self.databases}"
        with self.connect() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name

    def lock_waiters(self, database: str, key: int) -> int:
        """How many sessions wait for the advisory lock ``key`` (a signed 64-bit key, which
        pg_locks shows as its high and low 32 bits)."""
        unsigned = key % 2**64
        with self.connect(database) as connection:
            (count,) = connection.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND classid::text::bigint = %s AND objid::text::bigint = %s",
                (unsigned >> 32, unsigned & 0xFFFFFFFF),
            ).fetchone()
        return count
