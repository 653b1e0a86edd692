"""Scratch databases for tests that run saferoom in other processes: a real server killed with
SIGKILL, a restore into a fresh database. Each is a file (SQLite) or a database of its own
(PostgreSQL, made and dropped here) on the backend the suite runs on, never the test database
and never the in-memory one: a crash or a restore must meet the real storage.

``saferoom(...)`` runs the ``saferoom`` command against a scratch database, with the
development secrets of ``var/`` (so a backup made in the test process can be read)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings

PROJECT = Path(__file__).resolve().parents[2]
SAFEROOM = [sys.executable, "-m", "saferoom.cli"]


def on_postgresql() -> bool:
    return bool(settings.DATABASES["default"]["ENGINE"].endswith("postgresql"))


@dataclass
class Scratch:
    """A database of its own: its URL for SAFEROOM_DATABASE_URL, and a DB-API connection to
    look inside it without Django."""

    url: str
    kind: str  # "sqlite" or "postgresql"
    path: Path | None = None  # the SQLite file
    name: str = ""  # the PostgreSQL database

    def connect(self) -> Any:
        if self.kind == "sqlite":
            assert self.path is not None
            return contextlib.closing(sqlite3.connect(self.path))
        import psycopg

        return psycopg.connect(self.url, autocommit=True)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self.connect() as connection:
            return [tuple(row) for row in connection.execute(sql).fetchall()]

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "SAFEROOM_DATABASE_URL": self.url,
            "SAFEROOM_DEBUG": "1",
            "SAFEROOM_TESTING": "1",
            "DJANGO_SETTINGS_MODULE": "saferoom.settings",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

    def saferoom(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``saferoom ARGS`` on this database; fail the test with its output if it fails."""
        done = subprocess.run(  # noqa: S603 - our own command, fixed arguments
            [*SAFEROOM, *args],
            cwd=PROJECT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return done


def _admin_connection() -> Any:
    import psycopg

    config = settings.DATABASES["default"]
    return psycopg.connect(
        host=config.get("HOST") or "127.0.0.1",
        port=config.get("PORT") or 5432,
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    )


def _postgres_url(name: str) -> str:
    config = settings.DATABASES["default"]
    user = quote(config.get("USER") or "")
    password = config.get("PASSWORD") or ""
    auth = f"{user}:{quote(password)}@" if password else (f"{user}@" if user else "")
    host = config.get("HOST") or "127.0.0.1"
    port = config.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{name}"


@contextlib.contextmanager
def scratch_database(label: str) -> Iterator[Scratch]:
    """An empty database on the suite's backend, dropped (or deleted) afterwards."""
    if not on_postgresql():
        with tempfile.TemporaryDirectory(prefix=f"saferoom-{label}-") as folder:
            path = Path(folder) / "saferoom.sqlite3"
            yield Scratch(url=f"sqlite:///{path}", kind="sqlite", path=path)
        return
    name = f"saferoom_{label}_{uuid.uuid4().hex[:10]}"
    with _admin_connection() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Scratch(url=_postgres_url(name), kind="postgresql", name=name)
    finally:
        with _admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
