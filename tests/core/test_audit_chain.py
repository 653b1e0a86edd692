"""The audit log is append-only and tamper-evident: database triggers refuse UPDATE and DELETE
on SQLite and PostgreSQL, and the HMAC hash chain shows where an event was edited, removed or
inserted by someone who got past the triggers (raw SQL with the triggers lifted), and the sealed
chain head shows events cut off the end. (A rollback to an older sealed head: test_audit_anchor.)"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from io import StringIO
from typing import Any

import pytest
from django.apps import apps as global_apps
from django.core.management import call_command
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F
from django.test import override_settings
from django.utils import timezone

from saferoom import cli
from saferoom.core import audit, audit_chain
from saferoom.core.models import AuditChainHead, AuditCheckpoint, AuditEvent

pytestmark = pytest.mark.django_db


def write_events(user, n: int, *, site=None) -> list[AuditEvent]:
    return [
        audit.record(action="client.viewed", by=user, site=site, detail={"n": i, "why": "test"})
        for i in range(n)
    ]


def raw(sql: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def tampering() -> AbstractContextManager[None]:
    """What an intruder with database access does: lift the triggers, then write raw SQL."""
    return audit_chain.triggers_suspended()


# --- the chain -----------------------------------------------------------------------------


def test_each_event_is_chained_to_the_one_before(manager, site_a):
    events = write_events(manager, 3, site=site_a)
    assert events[0].prev_hash == ""
    assert events[1].prev_hash == events[0].row_hash
    assert events[2].prev_hash == events[1].row_hash
    assert len({e.row_hash for e in events}) == 3
    head = AuditChainHead.objects.get()
    assert (head.last_id, head.last_hash) == (events[2].pk, events[2].row_hash)
    result = audit_chain.verify()
    assert result.ok, result.problem
    assert result.checked == AuditEvent.objects.count() == 3


def test_an_empty_log_verifies():
    result = audit_chain.verify()
    assert (result.ok, result.checked, result.problem) == (True, 0, "")


def test_recording_an_event_costs_one_read_of_the_head_and_two_writes(
    manager, django_assert_num_queries
):
    audit.record(action="auth.login", by=manager)  # the head exists from here on
    with transaction.atomic(), django_assert_num_queries(3):
        audit.record(action="client.viewed", by=manager)


def test_the_hash_survives_a_round_trip_of_awkward_details(manager):
    detail = {"z": 1e16, "a": [1.0, "ü", None, True], "m": {"b": 0.1, "a": -3}, "e": ""}
    audit.record(action="x.y", by=manager, detail=detail)
    assert audit_chain.verify().ok


def test_a_chain_written_with_another_key_does_not_verify(manager):
    with override_settings(AUDIT_KEY="k" * 40):
        write_events(manager, 2)
        assert audit_chain.verify().ok
    result = audit_chain.verify()
    assert not result.ok
    assert result.first_bad_id == AuditEvent.objects.order_by("pk")[0].pk


# --- the triggers --------------------------------------------------------------------------


def test_the_database_refuses_to_change_an_audit_event(manager):
    event = write_events(manager, 1)[0]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw("UPDATE core_auditevent SET action = 'nothing.happened' WHERE id = %s", [event.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(actor_label="someone.else")
    event.refresh_from_db()
    assert (event.action, event.actor_label) == ("client.viewed", "mo.manager")


def test_the_database_refuses_to_delete_an_audit_event(manager):
    event = write_events(manager, 1)[0]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw("DELETE FROM core_auditevent WHERE id = %s", [event.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_postgresql_refuses_to_truncate_the_audit_log(manager):
    write_events(manager, 1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw("TRUNCATE core_auditevent")
    assert AuditEvent.objects.count() == 1


def test_the_test_database_has_the_triggers_after_every_migration():
    """A later migration that rebuilds the table on SQLite would drop them silently."""
    names = audit_chain.installed_triggers()
    if connection.vendor == "postgresql":
        assert names == [
            "core_auditcheckpoint_append_only",
            "core_auditcheckpoint_no_truncate",
            "core_auditevent_append_only",
            "core_auditevent_no_truncate",
        ]
    else:
        assert names == [
            "core_auditcheckpoint_no_delete",
            "core_auditcheckpoint_no_update",
            "core_auditevent_no_delete",
            "core_auditevent_no_update",
        ]


def test_lifting_the_triggers_puts_them_back_afterwards(manager):
    before = audit_chain.installed_triggers()
    with tampering():
        assert audit_chain.installed_triggers() == []
    assert audit_chain.installed_triggers() == before


# --- what verification finds -----------------------------------------------------------------


def test_an_edited_event_is_found(manager):
    events = write_events(manager, 5)
    with tampering():
        raw("UPDATE core_auditevent SET actor_label = 'nobody' WHERE id = %s", [events[2].pk])
    result = audit_chain.verify()
    assert not result.ok
    assert result.first_bad_id == events[2].pk
    assert result.checked == 2
    assert "edited" in result.problem


def test_an_edited_detail_is_found_even_with_its_hashes_moved_along(manager):
    events = write_events(manager, 3)
    with tampering():
        raw(
            "UPDATE core_auditevent SET detail = %s WHERE id = %s",
            ['{"n": 1, "why": "nothing to see"}', events[1].pk],
        )
    assert audit_chain.verify().first_bad_id == events[1].pk


def test_a_removed_event_is_found(manager):
    events = write_events(manager, 5)
    with tampering():
        raw("DELETE FROM core_auditevent WHERE id = %s", [events[2].pk])
    result = audit_chain.verify()
    assert not result.ok
    assert result.first_bad_id == events[3].pk
    assert f"between event {events[1].pk} and event {events[3].pk}" in result.problem
    assert "removed" in result.problem


def test_events_removed_from_the_end_are_found(manager):
    events = write_events(manager, 5)
    with tampering():
        raw("DELETE FROM core_auditevent WHERE id >= %s", [events[3].pk])
    result = audit_chain.verify()
    assert not result.ok
    assert result.checked == 3
    assert f"should end at event {events[4].pk}" in result.problem


def cut_off_the_end(events: list[AuditEvent], *, keep: int) -> None:
    """Delete the newest events and point the head at the new last one, as an intruder would:
    its row hash is there to read, and so is the count."""
    last = events[keep - 1]
    with tampering():
        raw("DELETE FROM core_auditevent WHERE id > %s", [last.pk])
        AuditChainHead.objects.update(
            last_id=last.pk, last_hash=last.row_hash, appended=F("appended") - (len(events) - keep)
        )


def test_events_cut_off_the_end_with_the_head_moved_back_are_found(manager):
    events = write_events(manager, 5)
    cut_off_the_end(events, keep=3)
    result = audit_chain.verify()
    assert not result.ok
    assert result.checked == 3
    assert result.first_bad_id == events[2].pk
    assert "The chain head's seal does not match: the end of the log was altered" in (
        result.problem
    )


def test_a_head_sealed_without_the_audit_key_is_found(manager):
    events = write_events(manager, 5)
    cut_off_the_end(events, keep=3)
    head = AuditChainHead.objects.get()
    with override_settings(AUDIT_KEY="intruder-" * 5):
        forged = audit_chain.head_seal(
            last_id=head.last_id, last_hash=head.last_hash, appended=head.appended
        )
    AuditChainHead.objects.update(seal=forged)
    result = audit_chain.verify()
    assert not result.ok
    assert "seal does not match" in result.problem


def test_a_head_with_its_seal_wiped_is_found(manager):
    write_events(manager, 2)
    AuditChainHead.objects.update(seal="")
    assert "seal does not match" in audit_chain.verify().problem


def test_a_removed_head_is_found_when_the_log_has_events(manager):
    write_events(manager, 2)
    AuditChainHead.objects.all().delete()
    result = audit_chain.verify()
    assert not result.ok
    assert "The chain head is missing" in result.problem


def test_every_append_seals_the_head_it_moves(manager):
    for _ in range(3):
        event = write_events(manager, 1)[0]
        head = AuditChainHead.objects.get()
        assert (head.last_id, head.last_hash) == (event.pk, event.row_hash)
        assert head.seal == audit_chain.head_seal(
            last_id=event.pk, last_hash=event.row_hash, appended=head.appended
        )
    assert audit_chain.verify().ok


def test_audit_verify_says_the_end_of_the_log_was_altered(manager):
    events = write_events(manager, 4)
    cut_off_the_end(events, keep=2)
    err = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("audit_verify", stderr=err)
    assert exit_.value.code == 1
    assert "the end of the log was altered" in err.getvalue()


def test_the_first_event_removed_is_found(manager):
    events = write_events(manager, 3)
    with tampering():
        raw("DELETE FROM core_auditevent WHERE id = %s", [events[0].pk])
    result = audit_chain.verify()
    assert result.first_bad_id == events[1].pk
    assert "the start of the log" in result.problem


def test_an_inserted_event_is_found(manager):
    events = write_events(manager, 4)
    forged = AuditEvent(
        at=timezone.now(),
        actor_label="mo.manager",
        action="client.viewed",
        detail={},
        prev_hash=events[1].row_hash,
        row_hash="0" * 64,
    )
    with tampering():
        forged.save()
    result = audit_chain.verify()
    assert not result.ok
    assert result.first_bad_id == forged.pk


def test_an_event_copied_into_the_middle_of_the_log_is_found(manager):
    """A copy carries a genuine hash, but not for the place it was put."""
    events = write_events(manager, 4)
    with tampering():
        raw(
            "INSERT INTO core_auditevent (at, actor_id, actor_label, role, action, object_type,"
            " object_id, object_label, site_id, site_label, request_id, detail, prev_hash,"
            " row_hash) SELECT at, actor_id, actor_label, role, action, object_type, object_id,"
            " object_label, site_id, site_label, request_id, detail, prev_hash, row_hash"
            " FROM core_auditevent WHERE id = %s",
            [events[1].pk],
        )
    # The copy is the newest row: the chain breaks there, and the head no longer matches.
    result = audit_chain.verify()
    assert not result.ok
    assert result.first_bad_id == AuditEvent.objects.order_by("-pk")[0].pk


def test_a_forged_retention_checkpoint_is_found(manager):
    events = write_events(manager, 4)
    AuditCheckpoint.objects.create(
        through_id=events[1].pk,
        through_hash=events[1].row_hash,
        through_at=events[1].at,
        removed=2,
        made_at=timezone.now(),
        seal="f" * 64,
    )
    with transaction.atomic():
        raw("DELETE FROM core_auditevent WHERE id <= %s", [events[1].pk])
    result = audit_chain.verify()
    assert not result.ok
    assert "checkpoint" in result.problem


# --- the command -----------------------------------------------------------------------------


def test_audit_verify_says_the_chain_is_intact(manager, capsys):
    write_events(manager, 3)
    cli.main(["saferoom", "audit-verify"])
    assert "Audit chain intact: 3 events checked." in capsys.readouterr().out


def test_audit_verify_names_the_broken_event_and_fails(manager):
    events = write_events(manager, 3)
    with tampering():
        raw("UPDATE core_auditevent SET action = 'auth.login' WHERE id = %s", [events[1].pk])
    err = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("audit_verify", stderr=err)
    assert exit_.value.code == 1
    assert f"AUDIT CHAIN BROKEN at event {events[1].pk}" in err.getvalue()


# --- the data migration ----------------------------------------------------------------------


def test_the_migrations_chain_and_seal_events_written_before_the_chain(manager):
    from importlib import import_module

    chain = import_module("saferoom.core.migrations.0004_chain_existing_audit_events")
    seal = import_module("saferoom.core.migrations.0009_seal_the_audit_chain_head")
    write_events(manager, 4)
    with tampering():
        raw("UPDATE core_auditevent SET prev_hash = '', row_hash = ''")
        AuditChainHead.objects.all().delete()
    assert not audit_chain.verify().ok
    with tampering():  # the triggers come in the next migration
        chain.chain_existing(global_apps, None)
    assert "seal" in audit_chain.verify().problem  # the head has no seal before 0009
    seal.seal_head(global_apps, None)
    result = audit_chain.verify()
    assert result.ok, result.problem
    assert result.checked == 4
    audit.record(action="auth.logout", by=manager)
    assert audit_chain.verify().checked == 5


def test_a_new_database_starts_with_a_sealed_empty_head():
    """Migration 0004 makes the head of an empty log; 0009 seals it."""
    head = AuditChainHead.objects.get()
    assert (head.last_id, head.last_hash, head.appended) == (0, "", 0)
    assert audit_chain.head_is_sealed(head)
    assert audit_chain.verify().ok


# --- two writers ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_writers_at_once_never_fork_the_chain(manager):
    if connection.vendor == "sqlite":
        # The in-memory test database shares one cache between threads, with table locks that
        # ignore the busy timeout; a real SQLite file serialises writers at BEGIN IMMEDIATE
        # (test_sqlite_writers_take_the_write_lock_when_they_begin).
        pytest.skip("threads cannot share the in-memory SQLite test database for writing")
    per_writer = 15
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def writer(n: int) -> None:
        try:
            start.wait(timeout=10)
            for i in range(per_writer):
                with transaction.atomic():
                    audit.record(action="client.viewed", by=manager, detail={"w": n, "i": i})
        except BaseException as error:  # reported below, on the test's thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    result = audit_chain.verify()
    assert result.ok, result.problem
    assert result.checked == AuditEvent.objects.count() == 2 * per_writer
    prev_hashes = list(AuditEvent.objects.values_list("prev_hash", flat=True))
    assert len(set(prev_hashes)) == len(prev_hashes)  # nobody chained onto the same event


def test_sqlite_writers_take_the_write_lock_when_they_begin():
    """On SQLite the chain head needs no row lock: a write transaction holds the database's
    only write lock from BEGIN to COMMIT, so appends are already one at a time."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
