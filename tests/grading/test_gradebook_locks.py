"""The gradebook's locks, transactions and retries, against a real PostgreSQL server."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import grade
from grading_corpus import CASES, build
from postgres_server import PostgresServer, missing_message, server_binaries

from cnncourse.grading.gradebook_locks import (
    assignment_key,
    database_url,
    held,
    is_retryable,
    lock_key,
    locked_transaction,
    retrying,
    student_key,
)

needs_server = pytest.mark.skipif(server_binaries() is None, reason=missing_message())


@pytest.fixture(scope="module")
def server():
    with PostgresServer() as running:
        yield running


@pytest.fixture
def database(server):
    """(server, name, URL) of a new, empty database."""
    name = server.create_database("locks")
    return server, name, server.url(name)


@pytest.fixture
def engine(database):
    from sqlalchemy import create_engine

    created = create_engine(database[2])
    yield created
    created.dispose()


def _try_lock(server: PostgresServer, name: str, key: int) -> bool:
    """Whether another session can take the advisory lock ``key`` now (released at once)."""
    with server.connect(name) as connection:
        (taken,) = connection.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if taken:
            connection.execute("SELECT pg_advisory_unlock(%s)", (key,))
    return taken


def _students(server: PostgresServer, name: str) -> list[str]:
    """The gradebook's students, as another session sees them."""
    with server.connect(name) as connection:
        return [row[0] for row in connection.execute("SELECT id FROM student ORDER BY id")]


# -- URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "opened"),
    [
        ("postgresql://ta@db.example.edu/grades", "postgresql+psycopg://ta@db.example.edu/grades"),
        ("postgres://ta@db.example.edu/grades", "postgresql+psycopg://ta@db.example.edu/grades"),
        ("postgresql+psycopg://ta@/grades?host=/run", "postgresql+psycopg://ta@/grades?host=/run"),
        ("sqlite:///autograde/gradebook.db", "sqlite:///autograde/gradebook.db"),
    ],
)
def test_database_url_names_psycopg_for_postgresql_and_keeps_sqlite(given, opened):
    assert database_url(given) == opened


@pytest.mark.parametrize("given", ["mysql://ta@db/grades", "gradebook.db", "postgresql://"])
def test_database_url_refuses_what_is_not_a_sqlite_or_postgresql_url(given):
    with pytest.raises(ValueError, match="url") as caught:
        database_url(given)
    assert repr(given) in str(caught.value)


def test_database_url_refuses_a_path_object():
    from pathlib import Path

    with pytest.raises(TypeError, match="url: expected a database URL string, got PosixPath"):
        database_url(Path("gradebook.db"))


def test_a_gradebook_url_of_another_database_is_refused_before_grading(tmp_path):
    build(CASES["honest"], tmp_path / "submitted" / "ada" / "sample" / "sample.ipynb", {})
    process = grade("sample", str(tmp_path / "submitted"), "--gradebook", "mysql://ta@db/grades")
    assert process.returncode == 2, process.stderr[-3000:]
    assert "unsupported database 'mysql'" in process.stderr, process.stderr
    assert "isolation:" not in process.stderr  # nothing was graded


# -- keys ---------------------------------------------------------------------------------


def test_a_lock_key_is_the_same_in_a_process_with_another_hash_seed():
    code = "from cnncourse.grading.gradebook_locks import lock_key; print(lock_key('a', 'b'))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == lock_key("a", "b")


def test_lock_keys_tell_apart_their_parts_and_their_order():
    keys = [lock_key("a", "b"), lock_key("b", "a"), lock_key("ab"), lock_key("a", "b", "")]
    assert len(set(keys)) == len(keys), keys


def test_student_keys_differ_by_course_assignment_and_student():
    keys = {
        student_key("cnn", "conv", "ada"),
        student_key("cnn", "conv", "bo"),
        student_key("cnn", "pool", "ada"),
        student_key("cnn2", "conv", "ada"),
        assignment_key("cnn", "conv"),
    }
    assert len(keys) == 5, keys


def test_lock_key_refuses_a_part_that_is_not_a_string():
    with pytest.raises(TypeError, match="parts: expected strings, got int 3"):
        lock_key("conv", 3)


@needs_server
def test_postgresql_accepts_lock_keys_at_both_ends_of_the_range(database):
    server, name, _url = database
    for key in (lock_key("schema"), -(2**63), 2**63 - 1):
        assert _try_lock(server, name, key), key


# -- held: a session lock -----------------------------------------------------------------


@needs_server
def test_held_keeps_the_lock_from_other_sessions_until_the_block_ends(database):
    server, name, url = database
    key = student_key("cnn", "conv", "ada")
    with held(url, key):
        assert not _try_lock(server, name, key)
        assert _try_lock(server, name, student_key("cnn", "conv", "bo"))
    assert _try_lock(server, name, key)


@needs_server
def test_held_releases_the_lock_when_the_block_raises(database):
    server, name, url = database
    key = assignment_key("cnn", "conv")
    with pytest.raises(RuntimeError, match="grading failed"), held(url, key):
        raise RuntimeError("grading failed")
    assert _try_lock(server, name, key)


def test_held_does_not_open_a_sqlite_gradebook(tmp_path):
    path = tmp_path / "gradebook.db"
    with held(f"sqlite:///{path}", assignment_key("cnn", "conv")):
        assert not path.exists()


# -- locked_transaction: one submission's writes ------------------------------------------


def _open_gradebook(url: str):
    """nbgrader's gradebook at ``url``, its tables made here: nbgrader stamps a new database
    by running its ``alembic``, many seconds on a loaded machine, which these tests need not."""
    from nbgrader.api import Base, Gradebook
    from sqlalchemy import create_engine

    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return Gradebook(url, "cnn")


@pytest.fixture
def gradebook(database):
    opened = _open_gradebook(database[2])
    yield opened
    opened.close()


@needs_server
def test_a_locked_transaction_holds_the_lock_until_it_commits(database, gradebook):
    server, name, _url = database
    key = student_key("cnn", "conv", "ada")
    with locked_transaction(gradebook, key):
        gradebook.update_or_create_student("ada")  # nbgrader commits: a savepoint here
        assert not _try_lock(server, name, key)
    assert _try_lock(server, name, key)


@needs_server
def test_a_locked_transactions_writes_appear_together_when_it_ends(database, gradebook):
    server, name, _url = database
    with locked_transaction(gradebook, student_key("cnn", "conv", "ada")):
        gradebook.update_or_create_student("ada")
        gradebook.update_or_create_student("bo")
        seen_inside = _students(server, name)
    assert (seen_inside, _students(server, name)) == ([], ["ada", "bo"])


@needs_server
def test_an_error_in_a_locked_transaction_undoes_all_of_its_writes(database, gradebook):
    server, name, _url = database
    key = student_key("cnn", "conv", "ada")
    with pytest.raises(RuntimeError, match="worker died"), locked_transaction(gradebook, key):
        gradebook.update_or_create_student("ada")
        raise RuntimeError("worker died")
    assert _students(server, name) == []
    assert _try_lock(server, name, key)


@needs_server
def test_the_gradebook_keeps_its_own_session_after_a_locked_transaction(gradebook):
    own = gradebook.db
    with locked_transaction(gradebook, student_key("cnn", "conv", "ada")):
        assert gradebook.db is not own
    assert gradebook.db is own


def test_a_locked_transaction_on_sqlite_leaves_nbgraders_commits_as_they_are(tmp_path):
    import sqlite3

    path = tmp_path / "gradebook.db"
    opened = _open_gradebook(f"sqlite:///{path}")
    with opened, locked_transaction(opened, student_key("cnn", "conv", "ada")):
        opened.update_or_create_student("ada")
        with sqlite3.connect(path) as other:
            seen = [row[0] for row in other.execute("SELECT id FROM student")]
    assert seen == ["ada"]


# -- retries ------------------------------------------------------------------------------


def _unique_violation(engine, student_id: str) -> None:
    from sqlalchemy import text

    with engine.begin() as connection:
        connection.execute(text("INSERT INTO taken (id) VALUES (:id)"), {"id": student_id})


@pytest.fixture
def taken(engine):
    """A table holding one row, 'ada', whose id is unique."""
    from sqlalchemy import text

    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE taken (id text PRIMARY KEY)"))
        connection.execute(text("INSERT INTO taken VALUES ('ada')"))
    return engine


@needs_server
def test_a_unique_violation_is_retryable(taken):
    with pytest.raises(Exception) as caught:
        _unique_violation(taken, "ada")
    assert is_retryable(caught.value), repr(caught.value)


@needs_server
def test_nbgraders_invalid_entry_from_a_unique_violation_is_retryable(gradebook):
    from nbgrader.api import InvalidEntry

    gradebook.add_student("ada")
    with pytest.raises(InvalidEntry) as caught:
        gradebook.add_student("ada")
    assert is_retryable(caught.value), repr(caught.value)


@needs_server
def test_a_serialization_failure_is_retryable(engine, taken):
    from sqlalchemy import text

    first, second = engine.connect(), engine.connect()
    try:
        for connection in (first, second):
            connection.execute(text("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"))
            connection.execute(text("SELECT count(*) FROM taken")).scalar()
        first.execute(text("INSERT INTO taken VALUES ('bo')"))
        second.execute(text("INSERT INTO taken VALUES ('cy')"))
        first.commit()
        with pytest.raises(Exception) as caught:
            second.commit()
    finally:
        first.close()
        second.close()
    assert is_retryable(caught.value), repr(caught.value)


@needs_server
def test_a_syntax_error_is_not_retryable(engine):
    from sqlalchemy import text

    with pytest.raises(Exception) as caught, engine.connect() as connection:
        connection.execute(text("SELEKT 1"))
    assert not is_retryable(caught.value), repr(caught.value)


def test_an_error_from_no_database_is_not_retryable():
    assert not is_retryable(ValueError("score: expected a number"))


@needs_server
def test_retrying_tries_again_after_a_unique_violation(taken):
    ids = iter(["ada", "bo"])  # the first is taken

    def insert_next() -> str:
        student = next(ids)
        _unique_violation(taken, student)
        return student

    assert retrying(insert_next, pause=0) == "bo"


@needs_server
def test_retrying_gives_up_after_its_attempts(taken):
    calls = []

    def insert_ada() -> None:
        calls.append(1)
        _unique_violation(taken, "ada")

    with pytest.raises(Exception) as caught:
        retrying(insert_ada, attempts=3, pause=0)
    assert is_retryable(caught.value) and len(calls) == 3, (caught.value, calls)


def test_retrying_raises_any_other_error_at_once():
    calls = []

    def fails() -> None:
        calls.append(1)
        raise KeyError("student")

    with pytest.raises(KeyError):
        retrying(fails, pause=0)
    assert len(calls) == 1


@pytest.mark.parametrize("attempts", [0, -1, 2.5])
def test_retrying_refuses_attempts_that_are_not_a_positive_integer(attempts):
    with pytest.raises(ValueError, match=f"attempts: expected a positive integer, got {attempts}"):
        retrying(lambda: None, attempts=attempts)
