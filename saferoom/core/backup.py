"""Encrypted backups, restores, and the restore drill.

A backup is a consistent snapshot of the whole database — SQLite's online backup API (safe
while saferoom runs, never a copy of the live file), or ``pg_dump --format=custom`` inside an
exported repeatable-read snapshot — sealed in one file with its manifest: when it was made, the
migrations it is at, the rows in every table (counted in the same snapshot), and the SHA-256 of
the database inside.

The file is encrypted and authenticated with AES-256-GCM in 1 MiB chunks (the STREAM
construction: each chunk's nonce holds its number and whether it is the last, so a chunk that
is changed, moved, dropped or cut off is refused). The key is ``SAFEROOM_BACKUP_KEY``, kept
apart from the database and its backups, like the linkage and field keys.

A restore goes into a new, empty database (``--force`` to replace a database that holds
anything), then checks what it restored against the manifest: every table's rows, SQLite's
``integrity_check``, the audit log's hash chain, and that the field keys set open every
encrypted note (they are kept apart from backups, so a restore can come with the wrong ones).
The drill (``saferoom backup --drill``, ``saferoom restore FILE --drill``) restores into a
scratch database of its own, checks it, drops it, and prints the facts a continuity plan needs:
how old the backup is (RPO) and how long a restore took (RTO).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

MAGIC = b"SRBACKUP"
FORMAT = 1
CHUNK = 1 << 20
HEADER = struct.Struct(">8sB8s7s")  # magic, format, key id, nonce prefix
LENGTH = struct.Struct(">I")


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says what to do."""


# --- keys and the sealed stream ---------------------------------------------------------------


def _keys() -> list[bytes]:
    keys = [base64.urlsafe_b64decode(k.encode()) for k in settings.BACKUP_KEYS]
    if not keys:
        raise BackupError(
            "SAFEROOM_BACKUP_KEY is not set. Set it (or SAFEROOM_BACKUP_KEY_FILE) to a key made "
            "with `saferoom backup --new-key`, and keep a copy of it away from the backups: "
            "without it no backup can be read."
        )
    return keys


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def key_id(key: bytes) -> bytes:
    """Names a key without revealing it, so a restore can say which key a backup needs."""
    return hashlib.sha256(b"saferoom-backup-key\x00" + key).digest()[:8]


class _Sealer:
    """Writes plaintext as AES-GCM chunks; ``close`` seals the last one."""

    def __init__(self, out: IO[bytes], key: bytes) -> None:
        self.out = out
        self.aead = AESGCM(key)
        self.prefix = os.urandom(7)
        self.header = HEADER.pack(MAGIC, FORMAT, key_id(key), self.prefix)
        self.counter = 0
        self.buffer = bytearray()
        out.write(self.header)

    def _emit(self, chunk: bytes, last: bool) -> None:
        nonce = self.prefix + struct.pack(">I?", self.counter, last)
        sealed = self.aead.encrypt(nonce, chunk, self.header)
        self.out.write(LENGTH.pack(len(sealed)) + sealed)
        self.counter += 1

    def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) > CHUNK:
            self._emit(bytes(self.buffer[:CHUNK]), last=False)
            del self.buffer[:CHUNK]

    def close(self) -> None:
        self._emit(bytes(self.buffer), last=True)
        self.buffer.clear()


def _open_chunks(source: IO[bytes]) -> Iterator[bytes]:
    """The plaintext chunks of a sealed file, each checked; refuses a damaged file, one made
    with another key, and one cut short."""
    header = source.read(HEADER.size)
    if len(header) < HEADER.size or not header.startswith(MAGIC):
        raise BackupError("This is not a saferoom backup file.")
    _magic, version, wanted, prefix = HEADER.unpack(header)
    if version != FORMAT:
        raise BackupError(f"This backup is in format {version}; this saferoom reads {FORMAT}.")
    key = next((k for k in _keys() if key_id(k) == wanted), None)
    if key is None:
        raise BackupError(
            f"This backup was made with another backup key (key id {wanted.hex()}). Set "
            "SAFEROOM_BACKUP_KEY to the key it was made with (several keys may be listed, "
            "separated by commas)."
        )
    aead = AESGCM(key)
    counter = 0
    while True:
        raw_length = source.read(LENGTH.size)
        if len(raw_length) < LENGTH.size:
            raise BackupError("This backup file is cut short: it ends before its last part.")
        (length,) = LENGTH.unpack(raw_length)
        sealed = source.read(length)
        if len(sealed) < length:
            raise BackupError("This backup file is cut short: it ends before its last part.")
        for last in (False, True):
            nonce = prefix + struct.pack(">I?", counter, last)
            try:
                chunk = aead.decrypt(nonce, sealed, header)
            except InvalidTag:
                continue
            break
        else:
            raise BackupError(
                f"Part {counter + 1} of this backup file is damaged or was altered: it cannot be "
                "trusted. Use another backup."
            )
        counter += 1
        yield chunk
        if last:
            if source.read(1):
                raise BackupError("This backup file has data after its end: it was altered.")
            return


# --- the manifest ---------------------------------------------------------------------------


def _quote(conn: BaseDatabaseWrapper, table: str) -> str:
    return str(conn.ops.quote_name(table))


def _count_rows(cursor: Any, quote: Any, tables: list[str]) -> dict[str, int]:
    counts = {}
    for table in sorted(tables):
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608 - names from the catalogue
        counts[table] = int(cursor.fetchone()[0])
    return counts


def _migrations(cursor: Any) -> list[list[str]]:
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    return [[str(app), str(name)] for app, name in cursor.fetchall()]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Manifest:
    created_at: str
    engine: str
    migrations: list[list[str]]
    tables: dict[str, int]
    payload_bytes: int
    payload_sha256: str
    saferoom_format: int = FORMAT

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            return cls(**json.loads(raw))
        except (ValueError, TypeError):
            raise BackupError("This backup's manifest cannot be read.") from None

    @property
    def made_at(self) -> datetime:
        return datetime.fromisoformat(self.created_at)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


# --- snapshots --------------------------------------------------------------------------------


def _sqlite_snapshot(conn: BaseDatabaseWrapper, target: Path) -> tuple[dict[str, int], Any]:
    conn.ensure_connection()
    with contextlib.closing(sqlite3.connect(target)) as copy:
        # One step (pages=-1): the whole database at one moment, while others keep writing.
        conn.connection.backup(copy)
        cursor = copy.cursor()
        (state,) = cursor.execute("PRAGMA integrity_check").fetchone()
        if state != "ok":
            raise BackupError(f"The database fails SQLite's integrity check ({state}).")
        tables = [
            row[0]
            for row in cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        counts = _count_rows(cursor, lambda name: '"' + name.replace('"', '""') + '"', tables)
        migrations = _migrations(cursor)
    return counts, migrations


def _pg_env(config: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    pairs = {
        "PGHOST": config.get("HOST"),
        "PGPORT": config.get("PORT"),
        "PGUSER": config.get("USER"),
        "PGPASSWORD": config.get("PASSWORD"),
        "PGDATABASE": config.get("NAME"),
    }
    for name, value in pairs.items():
        if value:
            env[name] = str(value)
    options = config.get("OPTIONS", {})
    if options.get("sslmode"):
        env["PGSSLMODE"] = str(options["sslmode"])
    return env


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed. Install the PostgreSQL client tools of the server's "
            "version (on Debian: apt-get install postgresql-client)."
        )
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-2000:]}")


def _postgres_snapshot(conn: BaseDatabaseWrapper, target: Path) -> tuple[dict[str, int], Any]:
    if conn.in_atomic_block:
        raise BackupError("A backup cannot be taken inside a transaction.")
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        # pg_dump and the counts read the same snapshot, so the manifest describes exactly what
        # the dump holds, however busy the site is.
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        (snapshot,) = cursor.fetchone()
        _run(
            [
                _pg_tool("pg_dump"),
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot}",
                f"--file={target}",
            ],
            _pg_env(conn.settings_dict),
        )
        tables = conn.introspection.table_names(cursor)
        counts = _count_rows(cursor, conn.ops.quote_name, tables)
        migrations = _migrations(cursor)
    return counts, migrations


@contextlib.contextmanager
def _private_folder() -> Iterator[Path]:
    """A folder only this user can read, for the unencrypted snapshot while it is sealed."""
    folder = Path(tempfile.mkdtemp(prefix="saferoom-backup-"))
    try:
        folder.chmod(0o700)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def default_path(at: datetime | None = None) -> Path:
    moment = (at or timezone.now()).astimezone(UTC)
    return Path(settings.BACKUP_DIR) / f"saferoom-{moment:%Y%m%dT%H%M%SZ}.backup"


def backup(path: Path | None = None, *, using: str = "default") -> tuple[Path, Manifest]:
    """Take a consistent snapshot of the database and write it, sealed, to ``path``."""
    key = _keys()[0]
    conn = connections[using]
    path = Path(path) if path is not None else default_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _private_folder() as folder:
        snapshot = folder / "database"
        created_at = timezone.now()
        if conn.vendor == "sqlite":
            counts, migrations = _sqlite_snapshot(conn, snapshot)
        elif conn.vendor == "postgresql":
            counts, migrations = _postgres_snapshot(conn, snapshot)
        else:  # pragma: no cover - settings allow only these two
            raise BackupError(f"saferoom cannot back up a {conn.vendor} database.")
        manifest = Manifest(
            created_at=created_at.astimezone(UTC).isoformat(),
            engine=conn.vendor,
            migrations=migrations,
            tables=counts,
            payload_bytes=snapshot.stat().st_size,
            payload_sha256=_sha256(snapshot),
        )
        partial = path.with_name(path.name + ".partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            sealer = _Sealer(out, key)
            header = manifest.to_json()
            sealer.write(LENGTH.pack(len(header)) + header)
            with snapshot.open("rb") as source:
                for block in iter(lambda: source.read(CHUNK), b""):
                    sealer.write(block)
            sealer.close()
            out.flush()
            os.fsync(out.fileno())
        partial.replace(path)
    return path, manifest


# --- reading a backup -------------------------------------------------------------------------


def _unseal(path: Path, payload: Path | None) -> Manifest:
    """The backup's manifest; with ``payload``, also writes the database inside to it and
    checks it against the manifest."""
    try:
        source = Path(path).open("rb")  # noqa: SIM115 - closed below
    except OSError as error:
        raise BackupError(f"Cannot read {path}: {error.strerror}.") from None
    with source:
        buffer = bytearray()
        manifest: Manifest | None = None
        digest = hashlib.sha256()
        size = 0
        out = payload.open("wb") if payload is not None else None
        try:
            for chunk in _open_chunks(source):
                if manifest is None:
                    buffer += chunk
                    if len(buffer) < LENGTH.size:
                        continue
                    (length,) = LENGTH.unpack(buffer[: LENGTH.size])
                    if len(buffer) < LENGTH.size + length:
                        continue
                    manifest = Manifest.from_json(bytes(buffer[LENGTH.size : LENGTH.size + length]))
                    if out is None:
                        return manifest
                    chunk = bytes(buffer[LENGTH.size + length :])
                    buffer.clear()
                if out is not None:
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        finally:
            if out is not None:
                out.close()
    if manifest is None:
        raise BackupError("This backup file holds no manifest.")
    if size != manifest.payload_bytes or digest.hexdigest() != manifest.payload_sha256:
        raise BackupError("The database in this backup does not match its manifest's SHA-256.")
    return manifest


def read_manifest(path: Path) -> Manifest:
    """The manifest alone (reads only the start of the file)."""
    return _unseal(path, None)


def verify_file(path: Path) -> Manifest:
    """Read the whole backup, checking every part and the database's SHA-256; restores nothing."""
    with _private_folder() as folder:
        return _unseal(path, folder / "database")


# --- restoring --------------------------------------------------------------------------------


@dataclass
class Report:
    """What a restore found when it checked the restored database."""

    manifest: Manifest
    mismatches: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    integrity: str = ""
    audit_ok: bool | None = None  # None: the audit chain was not checked
    audit_checked: int = 0
    audit_problem: str = ""
    sealed_checked: int | None = None  # None: the encrypted fields were not checked
    sealed_unreadable: dict[str, int] = field(default_factory=dict)  # field: values
    pending_migrations: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            not self.mismatches
            and self.integrity.startswith("ok")
            and self.audit_ok is not False
            and not self.sealed_unreadable
        )

    def lines(self) -> list[str]:
        m = self.manifest
        rows = (
            f"rows: {len(m.tables)} tables, {m.rows} rows, all as the manifest says"
            if not self.mismatches
            else "rows: DIFFER from the manifest: "
            + ", ".join(
                f"{t} {want} in the backup, {got} restored"
                for t, (want, got) in sorted(self.mismatches.items())
            )
        )
        if self.audit_ok is None:
            audit = f"audit chain: not checked ({self.audit_problem})"
        elif self.audit_ok:
            audit = f"audit chain: ok ({self.audit_checked} events checked)"
        else:
            audit = f"audit chain: BROKEN: {self.audit_problem}"
        if self.sealed_checked is None:
            sealed = "encrypted fields: not checked (run `saferoom migrate`, then restore again)"
        elif not self.sealed_unreadable:
            sealed = f"encrypted fields: ok ({self.sealed_checked} values open with the field keys)"
        else:
            sealed = (
                f"encrypted fields: {sum(self.sealed_unreadable.values())} of "
                f"{self.sealed_checked} values DO NOT OPEN with SAFEROOM_FIELD_KEYS ("
                + ", ".join(f"{f} {n}" for f, n in sorted(self.sealed_unreadable.items()))
                + "): set the keys that were in use when the backup was made"
            )
        lines = [
            f"backup made at: {m.made_at:%Y-%m-%d %H:%M:%S} UTC ({m.engine})",
            rows,
            f"integrity: {self.integrity}",
            audit,
            sealed,
            f"restore and checks took {self.seconds:.1f} s",
        ]
        if self.pending_migrations:
            lines.append(
                f"this saferoom has {len(self.pending_migrations)} newer migrations: run "
                "`saferoom migrate` before starting it"
            )
        return lines


def _table_names(conn: BaseDatabaseWrapper) -> list[str]:
    with conn.cursor() as cursor:
        return list(conn.introspection.table_names(cursor))


def _check_migrations(manifest: Manifest) -> list[str]:
    """Refuses a backup from a newer saferoom; returns the migrations this code would add."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    known = {f"{app}.{name}" for app, name in loader.disk_migrations}
    ours = {app for app, _name in loader.disk_migrations}
    applied = {f"{app}.{name}" for app, name in manifest.migrations if app in ours}
    unknown = sorted(applied - known)
    if unknown:
        raise BackupError(
            "This backup was made by a newer saferoom (it has migrations this one does not "
            f"know, e.g. {unknown[0]}). Install that version, or a newer one, to restore it."
        )
    return sorted(known - applied)


def restore(path: Path, *, force: bool = False, using: str = "default") -> Report:
    """Restore a backup into the configured database, then check it."""
    started = time.monotonic()
    conn = connections[using]
    with _private_folder() as folder:
        payload = folder / "database"
        manifest = _unseal(Path(path), payload)
        if manifest.engine != conn.vendor:
            raise BackupError(
                f"This is a {manifest.engine} backup; the configured database is {conn.vendor}. "
                f"Set SAFEROOM_DATABASE_URL to a {manifest.engine} database."
            )
        pending = _check_migrations(manifest)
        tables = _table_names(conn)
        if tables and not force:
            raise BackupError(
                f"The database to restore into is not empty (it has {len(tables)} tables). "
                "Restore into a new, empty database; or, to replace everything in this one, "
                "stop saferoom and run the restore again with --force."
            )
        if conn.vendor == "sqlite":
            conn.close()
            target = str(conn.settings_dict["NAME"])
            with (
                contextlib.closing(sqlite3.connect(payload)) as source,
                contextlib.closing(sqlite3.connect(target)) as destination,
            ):
                source.backup(destination)
        else:
            command = [
                _pg_tool("pg_restore"),
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={conn.settings_dict['NAME']}",
            ]
            if tables:
                command += ["--clean", "--if-exists"]
            conn.close()
            _run([*command, str(payload)], _pg_env(conn.settings_dict))
    # A backup from before a field was encrypted holds it in clear until `saferoom migrate`;
    # one from before a core migration may lack what the audit chain's check reads (the
    # chain head's seal).
    report = check(
        manifest,
        using=using,
        sealed=not pending,
        audit=not any(name.startswith("core.") for name in pending),
    )
    report.pending_migrations = pending
    report.seconds = time.monotonic() - started
    return report


def check(
    manifest: Manifest, *, using: str = "default", sealed: bool = True, audit: bool = True
) -> Report:
    """Compare the database with a backup's manifest: rows per table, integrity, audit chain
    (with ``audit``); with ``sealed``, also that the field keys set open every encrypted
    value."""
    conn = connections[using]
    report = Report(manifest=manifest)
    present = set(_table_names(conn))
    with conn.cursor() as cursor:
        for table, want in sorted(manifest.tables.items()):
            if table not in present:
                report.mismatches[table] = (want, None)
                continue
            cursor.execute(f"SELECT COUNT(*) FROM {_quote(conn, table)}")  # noqa: S608
            got = int(cursor.fetchone()[0])
            if got != want:
                report.mismatches[table] = (want, got)
        if conn.vendor == "sqlite":
            cursor.execute("PRAGMA integrity_check")
            report.integrity = str(cursor.fetchone()[0])
        else:
            # pg_restore rebuilt every index and checked every constraint from the data, in one
            # transaction that would have failed whole; the counts above read every table.
            report.integrity = "ok (indexes and constraints rebuilt by pg_restore)"
    if sealed:
        from saferoom.core import sealing

        found = sealing.rotate(dry_run=True, using=using)
        report.sealed_checked = sum(f.resealed + f.current + len(f.unreadable) for f in found)
        report.sealed_unreadable = {f.label: len(f.unreadable) for f in found if f.unreadable}
    if not audit:
        report.audit_problem = "run `saferoom migrate`, then `saferoom audit-verify`"
        return report
    try:
        from saferoom.core import audit_chain
    except ImportError:
        report.audit_problem = "saferoom.core.audit_chain is not installed"
        return report
    result = audit_chain.verify()
    report.audit_ok, report.audit_checked = bool(result.ok), int(result.checked)
    report.audit_problem = str(result.problem or "")
    return report


# --- the drill --------------------------------------------------------------------------------


@dataclass
class Drill:
    backup_path: Path
    manifest: Manifest
    backup_seconds: float | None
    restore_seconds: float
    output: str
    passed: bool

    def lines(self) -> list[str]:
        age = timezone.now() - self.manifest.made_at
        size = self.backup_path.stat().st_size / 1_000_000
        lines = [f"Restore drill: {'PASSED' if self.passed else 'FAILED'}"]
        made = f"backup: {self.backup_path} ({size:.1f} MB)"
        if self.backup_seconds is not None:
            made += f", made in {self.backup_seconds:.1f} s"
        lines.append(made)
        lines += ["  " + line for line in self.output.strip().splitlines()]
        lines += [
            f"RPO: this backup is {age.total_seconds() / 3600:.1f} hours old; restoring it "
            "would lose everything written since. Back up at least as often as the most you "
            "can afford to lose.",
            f"RTO: restoring it into an empty database and checking it took "
            f"{self.restore_seconds:.1f} s (add the time to get a server and start saferoom).",
        ]
        return lines


def _scratch_url(conn: BaseDatabaseWrapper, name: str) -> str:
    """SAFEROOM_DATABASE_URL, pointing at database ``name`` on the same server."""
    from saferoom.settings import env_str

    parts = urlsplit(env_str("SAFEROOM_DATABASE_URL"))
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextlib.contextmanager
def _scratch(conn: BaseDatabaseWrapper) -> Iterator[str]:
    """A new, empty database for the drill, deleted afterwards; yields its URL."""
    if conn.vendor == "sqlite":
        with _private_folder() as folder:
            yield f"sqlite:///{folder / 'drill.sqlite3'}"
        return
    name = f"{conn.settings_dict['NAME']}_drill_{uuid.uuid4().hex[:8]}"
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {conn.ops.quote_name(name)}")
    except Exception as error:
        raise BackupError(
            f"The drill could not make a scratch database ({error}). Give saferoom's database "
            "role CREATEDB, or restore the backup on a spare machine with `saferoom restore`."
        ) from None
    try:
        yield _scratch_url(conn, name)
    finally:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {conn.ops.quote_name(name)} WITH (FORCE)")


def drill(path: Path, *, backup_seconds: float | None = None, using: str = "default") -> Drill:
    """Restore ``path`` into a scratch database with ``saferoom restore`` in a process of its
    own (as an operator would), check it, and time it."""
    conn = connections[using]
    manifest = read_manifest(path)
    with _scratch(conn) as url:
        started = time.monotonic()
        done = subprocess.run(  # noqa: S603 - our own command
            [sys.executable, "-m", "saferoom.cli", "restore", str(path)],
            env={**os.environ, "SAFEROOM_DATABASE_URL": url},
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - started
    output = done.stdout + (done.stderr if done.returncode else "")
    return Drill(Path(path), manifest, backup_seconds, seconds, output, done.returncode == 0)
