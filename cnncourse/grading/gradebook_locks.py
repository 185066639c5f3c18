"""Several ``cnncourse grade`` processes writing one gradebook: PostgreSQL advisory locks.

nbgrader's gradebook is SQLAlchemy; a PostgreSQL URL lets every TA of a course write the same
gradebook from their own machine. Two writers must not interleave, so

- creating nbgrader's tables and the course row happens under one lock per database
  (:data:`SCHEMA`), and registering an assignment's notebook and cells under one lock per
  assignment (:func:`assignment_key`), both session locks (:func:`held`) kept while nbgrader's
  own code runs;
- one student's submission is written in one transaction that first takes the lock of that
  assignment and student (:func:`student_key`, :func:`locked_transaction`): writers of
  different students run side by side, two writers of the same student one after the other,
  and the later one's grades replace the earlier ones whole;
- a write that still meets a unique violation (two first writes of the same student row for
  different assignments), a serialization failure or a deadlock is rolled back and tried
  again (:func:`retrying`).

For SQLite every lock is a no-op: its file lock already lets one writer in at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

DRIVER = "postgresql+psycopg"
# PostgreSQL's codes for an error that a second try of the same transaction can get past
RETRYABLE = {
    "23505": "unique_violation",
    "40001": "serialization_failure",
    "40P01": "deadlock_detected",
}
ATTEMPTS = 5


def database_url(url: str) -> str:
    """The SQLAlchemy URL to open: SQLite as given, PostgreSQL through psycopg 3.

    ``postgresql://`` and ``postgres://`` name the installed driver (``postgresql+psycopg://``);
    a URL that names its driver (``postgresql+psycopg://``) is kept.
    """
    if not isinstance(url, str):
        raise TypeError(f"url: expected a database URL string, got {type(url).__name__}")
    scheme, separator, rest = url.partition("://")
    if not separator or not rest:
        raise ValueError(f"url: {url!r} is not a database URL (sqlite:///PATH, postgresql://...)")
    if scheme in ("postgresql", "postgres"):
        return f"{DRIVER}://{rest}"
    if scheme.startswith("postgresql+") or scheme == "sqlite" or scheme.startswith("sqlite+"):
        return url
    raise ValueError(
        f"url: unsupported database {scheme!r} in {url!r}: the gradebook is a SQLite file "
        "(sqlite:///PATH) or a PostgreSQL database (postgresql://USER@HOST/DATABASE)"
    )


def is_postgresql(url: str) -> bool:
    return database_url(url).startswith("postgresql")


def lock_key(*parts: str) -> int:
    """A PostgreSQL advisory lock key (a signed 64-bit integer) naming ``parts``: the same in
    every process and on every machine, unlike ``hash()``."""
    for part in parts:
        if not isinstance(part, str):
            raise TypeError(f"parts: expected strings, got {type(part).__name__} {part!r}")
    digest = hashlib.blake2b("\0".join(("cnncourse-gradebook", *parts)).encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


SCHEMA = lock_key("schema")


def assignment_key(course_id: str, assignment: str) -> int:
    """The lock of an assignment's structure: its notebook and cells."""
    return lock_key("assignment", course_id, assignment)


def student_key(course_id: str, assignment: str, student: str) -> int:
    """The lock of one student's submission of one assignment."""
    return lock_key("submission", course_id, assignment, student)


@contextlib.contextmanager
def held(url: str, key: int) -> Iterator[None]:
    """Hold the session advisory lock ``key`` on the database at ``url`` (on a connection of
    its own) for the ``with`` block; a no-op for SQLite. The lock goes with the connection, so
    a writer that dies releases it."""
    if not is_postgresql(url):
        yield
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(database_url(url), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            connection.commit()  # the lock is the session's: no transaction left open
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
    finally:
        engine.dispose()


@contextlib.contextmanager
def locked_transaction(gradebook, key: int) -> Iterator[None]:
    """Run the block's nbgrader calls on ``gradebook`` as one transaction that holds the
    advisory lock ``key`` until it commits; a no-op for SQLite.

    nbgrader's methods commit as they go; here its session works inside the transaction
    (each of its commits ends a savepoint), so another writer sees all of the block's
    changes or none, and an error rolls back all of them.
    """
    if gradebook.engine.dialect.name != "postgresql":
        yield
        return
    from sqlalchemy import text
    from sqlalchemy.orm import scoped_session, sessionmaker

    own = gradebook.db
    with gradebook.engine.connect() as connection:
        transaction = connection.begin()
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        )
        gradebook.db = session
        try:
            yield
            session.commit()  # the block's last changes, if it left any
            session.remove()
            transaction.commit()
        except BaseException:
            session.remove()
            transaction.rollback()
            raise
        finally:
            gradebook.db = own


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it was raised from, as nbgrader's ``InvalidEntry`` is
    from SQLAlchemy's ``IntegrityError``) is one a second try of the transaction can get past."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for error in (current, getattr(current, "orig", None)):
            if getattr(error, "sqlstate", None) in RETRYABLE:
                return True
        current = current.__cause__ or current.__context__
    return False


def retrying(operation: Callable[[], T], attempts: int = ATTEMPTS, pause: float = 0.05) -> T:
    """``operation()``, called again (up to ``attempts`` times in all, after a growing pause)
    while it fails with a retryable database error; any other error is raised at once."""
    if not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f"attempts: expected a positive integer, got {attempts!r}")
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except Exception as exc:
            if attempt == attempts or not is_retryable(exc):
                raise
            time.sleep(pause * attempt)
    raise AssertionError("unreachable")
