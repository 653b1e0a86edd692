"""Backups that can be restored, and a drill that proves it.

A backup is made from the live database while saferoom is in use, restored with ``saferoom
restore`` (in a process of its own, as an operator would) into a fresh database — an SQLite
file, or a new PostgreSQL database — and checked: every table has the rows the manifest says,
the database passes its integrity check, and the audit chain verifies."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from saferoom.api import actions as api_actions
from saferoom.clients.actions import register_client
from saferoom.clients.codes import SchemeAttributes
from saferoom.core import backup
from saferoom.core.models import User
from saferoom.floor import actions as floor_actions
from saferoom.incidents.models import Incident
from saferoom.sites.models import CatalogueItem, Site
from tests.durability.scratch import scratch_database
from tests.floor.conftest import AFTERNOON

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WHERE = "behind the bike shed"  # an incident's location detail, to look for in the file


@pytest.fixture
def evening(site_a: Site, desk: User, nurse: User, manager: User) -> None:
    """An afternoon's records made through the real actions: a registered client and an
    anonymous visit checked in, and an overdose with its interventions."""
    with time_machine.travel(AFTERNOON, tick=True):
        heroin = CatalogueItem.objects.get(
            network=site_a.network, site=None, kind="substance", code="heroin"
        )
        client = register_client(
            site=site_a,
            attrs=SchemeAttributes(initials="AL", date_of_birth=dt.date(1985, 6, 15), sex="male"),
            gender="male",
            by=manager,
            idempotency_key=uuid.uuid4(),
            confirm_not_duplicate=True,
        )
        for who, anonymous in ((client, False), (None, True)):
            floor_actions.check_in(
                site=site_a,
                client=who,
                anonymous=anonymous,
                planned_route="inject",
                planned_substances=[heroin],
                otherwise_location="street",
                would_use_alone="yes",
                eligibility={"first_time": False, "intoxicated": False, "old_enough": True},
                by=desk,
                idempotency_key=uuid.uuid4(),
            )
        now = dt.datetime.now(dt.UTC)
        api_actions.record_incident(
            site=site_a,
            by=nurse,
            idempotency_key=uuid.uuid4(),
            location="lounge",
            location_detail=WHERE,
            kind="opioid",
            onset_at=now - dt.timedelta(minutes=5),
            interventions=[
                api_actions.InterventionInput(kind="stimulation", at=now - dt.timedelta(minutes=4)),
                api_actions.InterventionInput(
                    kind="naloxone",
                    at=now - dt.timedelta(minutes=3),
                    naloxone_mg=Decimal("0.4"),
                    naloxone_route="IM",
                ),
            ],
        )


def rows_now() -> dict[str, int]:
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        counts = {}
        for table in tables:
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
            counts[table] = cursor.fetchone()[0]
    return counts


def test_a_backup_restores_into_a_fresh_database_whole(evening: None, tmp_path: Path) -> None:
    before = rows_now()
    path, manifest = backup.backup(tmp_path / "nightly.backup")
    assert manifest.tables == before
    assert manifest.tables["floor_visit"] == 2
    assert manifest.tables["incidents_intervention"] == 2
    assert ["core", "0001_initial"] in manifest.migrations

    with scratch_database("restore") as db:
        restored = db.saferoom("restore", str(path))
        assert restored.returncode == 0, restored.stderr
        assert "Restored and checked." in restored.stdout

        # Checked again here, without saferoom: the rows and the records themselves.
        for table, count in manifest.tables.items():
            assert db.rows(f'SELECT COUNT(*) FROM "{table}"') == [(count,)], table  # noqa: S608
        # The location detail is encrypted at rest, in the restored database too.
        [(stored,)] = db.rows("SELECT location_detail FROM incidents_incident")
        assert stored.startswith("gAAAA")
        assert WHERE not in stored
        assert "encrypted fields: ok (1 values open with the field keys)" in restored.stdout
        if db.kind == "sqlite":
            assert db.rows("PRAGMA integrity_check") == [("ok",)]

        try:
            from saferoom.core import audit_chain  # noqa: F401 - only whether it exists
        except ImportError:
            pytest.skip(
                "saferoom.core.audit_chain is not there yet: the audit chain of the "
                "restored database was not verified"
            )
        assert "audit chain: ok" in restored.stdout
        verified = db.saferoom("audit_verify")
        assert verified.returncode == 0, verified.stderr
        assert "Audit chain intact" in verified.stdout


def test_a_restore_refuses_a_database_that_is_not_empty_unless_forced(
    evening: None, tmp_path: Path
) -> None:
    path, manifest = backup.backup(tmp_path / "nightly.backup")
    with scratch_database("restore") as db:
        assert db.saferoom("restore", str(path)).returncode == 0
        again = db.saferoom("restore", str(path))
        assert again.returncode != 0
        assert "not empty" in again.stderr
        assert "--force" in again.stderr
        assert db.rows("SELECT COUNT(*) FROM floor_visit") == [(2,)]

        forced = db.saferoom("restore", "--force", str(path))
        assert forced.returncode == 0, forced.stderr
        assert db.rows("SELECT COUNT(*) FROM floor_visit") == [(2,)]
        assert db.rows("SELECT COUNT(*) FROM core_auditevent") == [
            (manifest.tables["core_auditevent"],)
        ]


def test_the_backup_file_is_encrypted(evening: None, tmp_path: Path) -> None:
    path, _manifest = backup.backup(tmp_path / "nightly.backup")
    raw = path.read_bytes()
    for clear in (WHERE, "Riverside", "dana.desk", "floor_visit", "SQLite format", "PGDMP"):
        assert clear.encode() not in raw, clear
    assert path.stat().st_mode & 0o077 == 0  # readable by its owner only
    assert Incident.objects.get().location_detail == WHERE


def damaged(path: Path, how: str) -> Path:
    data = bytearray(path.read_bytes())
    if how == "flipped":
        data[len(data) // 2] ^= 0x01
    elif how == "cut":
        data = data[: len(data) - 100]
    elif how == "extended":
        data += b"\0" * 16
    out = path.with_name(f"{how}.backup")
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("flipped", "damaged or was altered"),
        ("cut", "cut short"),
        ("extended", "data after its end"),
    ],
)
def test_a_damaged_backup_is_refused(evening: None, tmp_path: Path, how: str, message: str) -> None:
    path, _manifest = backup.backup(tmp_path / "nightly.backup")
    with pytest.raises(backup.BackupError, match=message):
        backup.verify_file(damaged(path, how))


def test_a_restore_from_a_damaged_backup_writes_nothing(evening: None, tmp_path: Path) -> None:
    path, _manifest = backup.backup(tmp_path / "nightly.backup")
    with scratch_database("restore") as db:
        refused = db.saferoom("restore", str(damaged(path, "flipped")))
        assert refused.returncode != 0
        assert "damaged or was altered" in refused.stderr
        assert "floor_visit" not in str(db.rows(tables_sql(db.kind)))


def tables_sql(kind: str) -> str:
    if kind == "sqlite":
        return "SELECT name FROM sqlite_master WHERE type = 'table'"
    return "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"


def test_a_backup_needs_the_key_it_was_made_with(evening: None, tmp_path: Path) -> None:
    path, manifest = backup.backup(tmp_path / "nightly.backup")
    other = backup.new_key()
    with (
        override_settings(BACKUP_KEYS=[other]),
        pytest.raises(backup.BackupError, match="made with another backup key"),
    ):
        backup.verify_file(path)
    # After a key rotation the old key, listed second, still reads old backups.
    from django.conf import settings

    with override_settings(BACKUP_KEYS=[other, *settings.BACKUP_KEYS]):
        assert backup.verify_file(path) == manifest


def test_without_a_backup_key_the_command_says_what_to_set(tmp_path: Path, db: Any) -> None:
    with (
        override_settings(BACKUP_KEYS=[]),
        pytest.raises(CommandError, match="SAFEROOM_BACKUP_KEY"),
    ):
        call_command("backup", output=tmp_path / "x.backup")
    assert not (tmp_path / "x.backup").exists()


def test_the_drill_restores_a_fresh_backup_and_prints_rpo_and_rto(
    evening: None, tmp_path: Path
) -> None:
    out = io.StringIO()
    call_command("backup", "--drill", output=tmp_path / "drill.backup", stdout=out)
    printed = out.getvalue()
    assert "Restore drill: PASSED" in printed
    assert "all as the manifest says" in printed
    assert "integrity: ok" in printed
    assert "RPO: this backup is 0.0 hours old" in printed
    assert "RTO: restoring it into an empty database and checking it took" in printed
