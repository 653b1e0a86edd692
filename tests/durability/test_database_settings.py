"""The database settings that make an acknowledged write stay written, and let writers queue
instead of failing.

SQLite: WAL (the board reads while the desk writes), ``synchronous=FULL`` (a commit is on disk
before it is acknowledged, so it survives a power cut, not only a crash), foreign keys on, and
``BEGIN IMMEDIATE`` with a busy timeout (writers wait their turn rather than failing with
"database is locked" mid-transaction). PostgreSQL: ``fsync`` and ``synchronous_commit`` on.

The SQLite checks open a file database with saferoom's own connection settings (the test
database is in memory, where journal modes do not apply)."""

from __future__ import annotations

import contextlib
import copy
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections
from django.db.backends.sqlite3.base import DatabaseWrapper

from tests.durability.scratch import on_postgresql

sqlite_only = pytest.mark.skipif(on_postgresql(), reason="SQLite's settings")


@pytest.fixture(autouse=True)
def file_databases(django_db_blocker: Any) -> Iterator[None]:
    """These tests open their own database files, never the test database."""
    with django_db_blocker.unblock():
        yield


def wrapper(path: Path, **options: Any) -> DatabaseWrapper:
    """A connection to ``path`` with saferoom's settings (and ``options`` changed)."""
    settings_dict = copy.deepcopy(connections["default"].settings_dict)
    settings_dict["NAME"] = str(path)
    settings_dict["OPTIONS"].update(options)
    return DatabaseWrapper(settings_dict, alias=f"file-{id(settings_dict)}")


@contextlib.contextmanager
def opened(path: Path, **options: Any) -> Iterator[DatabaseWrapper]:
    conn = wrapper(path, **options)
    try:
        yield conn
    finally:
        conn.close()


def pragma(conn: DatabaseWrapper, name: str) -> Any:
    with conn.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]


@sqlite_only
def test_sqlite_commits_are_durable_and_writers_wait(tmp_path: Path) -> None:
    with opened(tmp_path / "saferoom.sqlite3") as conn:
        assert pragma(conn, "journal_mode") == "wal"
        assert pragma(conn, "synchronous") == 2  # FULL: fsync the WAL at every commit
        assert pragma(conn, "foreign_keys") == 1
        assert pragma(conn, "busy_timeout") >= 5000
        assert conn.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


@sqlite_only
def test_a_write_transaction_takes_the_write_lock_when_it_begins(tmp_path: Path) -> None:
    path = tmp_path / "saferoom.sqlite3"
    with opened(path) as conn:
        with conn.cursor() as cursor:
            cursor.execute("CREATE TABLE visit (id INTEGER PRIMARY KEY)")
        with _committed(conn):
            # Nothing written yet, but a second writer is already told to wait.
            other = sqlite3.connect(path, timeout=0)
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("BEGIN IMMEDIATE")
            other.close()


def read_then_write(path: Path, writes: int, errors: list[str], **options: Any) -> None:
    """What an action does: read what it checks, then write, in one transaction."""
    with opened(path, **options) as conn:
        for _ in range(writes):
            try:
                with _committed(conn), conn.cursor() as cursor:
                    cursor.execute("SELECT COUNT(*) FROM visit")
                    (count,) = cursor.fetchone()
                    cursor.execute("INSERT INTO visit (seen_before) VALUES (%s)", [count])
            except Exception as error:  # every failure is what we count
                errors.append(str(error))


@contextlib.contextmanager
def _committed(conn: DatabaseWrapper) -> Iterator[None]:
    conn.set_autocommit(False)
    conn._start_transaction_under_autocommit()  # type: ignore[attr-defined]
    try:
        yield
    except BaseException:
        conn.rollback()
        conn.set_autocommit(True)
        raise
    conn.commit()
    conn.set_autocommit(True)


def hammer(path: Path, writers: int, writes: int, **options: Any) -> list[str]:
    with opened(path) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS visit (id INTEGER PRIMARY KEY, seen_before INT)")
    errors: list[str] = []
    threads = [
        threading.Thread(target=read_then_write, args=(path, writes, errors), kwargs=options)
        for _ in range(writers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@sqlite_only
def test_concurrent_writers_never_see_database_is_locked(tmp_path: Path) -> None:
    path = tmp_path / "saferoom.sqlite3"
    errors = hammer(path, writers=8, writes=25)
    assert errors == []
    with contextlib.closing(sqlite3.connect(path)) as check:
        assert check.execute("SELECT COUNT(*) FROM visit").fetchone() == (200,)


@sqlite_only
def test_without_immediate_transactions_the_same_writers_fail(tmp_path: Path) -> None:
    """The control: SQLite's default (deferred) transactions, same work, same timeout. Two
    writers that both read first deadlock on the upgrade, and SQLite fails one at once."""
    errors = hammer(tmp_path / "saferoom.sqlite3", writers=8, writes=25, transaction_mode=None)
    assert any("database is locked" in error for error in errors)


@pytest.mark.skipif(not on_postgresql(), reason="PostgreSQL's settings")
@pytest.mark.django_db
def test_postgresql_commits_are_flushed_before_they_are_acknowledged() -> None:
    with connection.cursor() as cursor:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            cursor.execute(f"SHOW {setting}")
            assert cursor.fetchone()[0] == "on", setting
