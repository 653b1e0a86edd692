"""Point-in-time recovery on PostgreSQL: a base backup and the archived WAL bring the database
back exactly as it was at a chosen moment, by the steps docs/operations.md gives operators.

A scratch cluster archives its WAL (``archive_mode=on``, an ``archive_command`` copying each
segment into an archive folder). saferoom runs on it; a base backup is taken with
``pg_basebackup`` and checked with ``pg_verifybackup``; more check-ins and incidents are written
through the real server, some before a recorded moment and some after, and ``pg_switch_wal()``
sends the last segment to the archive. The base backup is then restored into a fresh data
directory with ``restore_command``, ``recovery_target_time`` and ``recovery.signal``, and the
restored database holds every record up to that moment and none after: every table has the
rows it had then, and the audit chain verifies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.durability.burst import Sent, new_write, send
from tests.durability.pgcluster import Cluster, chown_tree, scratch_cluster
from tests.durability.scratch import Scratch, on_postgresql
from tests.durability.server import Server, prepare, running

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not on_postgresql(), reason="runs in the PostgreSQL half of the suite (make test-postgres)"
    ),
]

ARCHIVE_SECONDS = 30


@pytest.fixture
def primary() -> Iterator[Cluster]:
    with scratch_cluster("pitr") as made:
        archive = made.home / "wal-archive"
        archive.mkdir()
        chown_tree(archive)
        made.initdb(
            wal_level="replica",
            archive_mode=True,
            # Never overwrite a segment already archived (the command PostgreSQL documents).
            archive_command=f"test ! -f {archive}/%f && cp %p {archive}/%f",
        )
        made.start()
        yield made


@pytest.fixture
def restored() -> Iterator[Cluster]:
    with scratch_cluster("pitr-restored") as made:
        yield made


def write(server: Server, tokens: dict[str, str], *kinds: str) -> list[Sent]:
    """Check-ins and incidents, one after another, each acknowledged."""
    written = []
    for kind in kinds:
        sent = new_write(kind, tokens)
        send(server, sent)
        assert sent.acknowledged, (sent.status, sent.answer)
        written.append(sent)
    return written


def ids(written: list[Sent], kind: str) -> set[int]:
    return {s.answer["id"] for s in written if s.kind == kind}


def rows_per_table(db: Scratch) -> dict[str, int]:
    with db.connect() as connection:
        tables = connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {
            table: connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]  # noqa: S608
            for (table,) in tables.fetchall()
        }


def wait_until_archived(cluster: Cluster, segment: str) -> None:
    deadline = time.monotonic() + ARCHIVE_SECONDS
    while time.monotonic() < deadline:
        [(last, failed)] = cluster.sql(
            "SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver"
        )
        assert failed is None, f"archiving {failed} failed:\n{cluster.log_text()}"
        if last is not None and last >= segment:
            return
        time.sleep(0.05)
    raise AssertionError(f"{segment} was not archived:\n{cluster.log_text()}")


def test_a_base_backup_and_the_wal_archive_restore_exactly_the_records_up_to_a_moment(
    primary: Cluster, restored: Cluster, tmp_path: Path
) -> None:
    archive = primary.home / "wal-archive"
    base = primary.home / "base-backup"
    db = primary.create_database("saferoom")
    tokens = prepare(db)

    with running(db, tmp_path / "server.log") as server:
        before_backup = write(server, tokens, "visit", "incident")

        primary.run(
            "pg_basebackup",
            f"--pgdata={base}",
            "--host=127.0.0.1",
            f"--port={primary.port}",
            "--username=postgres",
            "--checkpoint=fast",
            "--wal-method=stream",
        )
        verified = primary.run("pg_verifybackup", str(base))
        assert "backup successfully verified" in verified.stdout

        before_target = write(server, tokens, "visit", "incident", "visit", "incident", "visit")
        rows_at_target = rows_per_table(db)
        [(target,)] = primary.sql("SELECT clock_timestamp()")
        after_target = write(server, tokens, "visit", "incident", "visit")

    [(segment,)] = primary.sql("SELECT pg_walfile_name(pg_switch_wal())")
    wait_until_archived(primary, segment)
    primary.stop()  # the primary is lost; the archive and the base backup remain

    restored.restore_base_backup(
        base, restore_command=f"cp {archive}/%f %p", recovery_target_time=target
    )
    restored.start()
    restored.wait_until_writable()
    log = restored.log_text()
    assert 'restored log file "' in log  # WAL came from the archive
    assert "recovery stopping before commit of transaction" in log
    assert "archive recovery complete" in log

    copy = Scratch(url=restored.url("saferoom"), kind="postgresql", name="saferoom")
    up_to_target = before_backup + before_target
    for kind, table in (("visit", "floor_visit"), ("incident", "incidents_incident")):
        held = {int(i) for (i,) in copy.rows(f"SELECT id FROM {table}")}  # noqa: S608
        assert held == ids(up_to_target, kind), kind
        assert not held & ids(after_target, kind), kind
    assert rows_per_table(copy) == rows_at_target

    audit = copy.saferoom("audit_verify")
    assert audit.returncode == 0, audit.stderr
    events = rows_at_target["core_auditevent"]
    assert f"Audit chain intact: {events} events checked" in audit.stdout

    # And pg_verifybackup would have refused a damaged base backup.
    version = base / "PG_VERSION"
    version.write_text(version.read_text().replace("1", "9"))
    damaged = primary.run("pg_verifybackup", str(base), check=False)
    assert damaged.returncode != 0
    assert 'checksum mismatch for file "PG_VERSION"' in damaged.stderr
