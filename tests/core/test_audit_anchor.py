"""The audit chain is anchored outside the database: every ten minutes the worker writes the
chain head (event id, row hash, events appended, time) as a log line and a line of
SAFEROOM_AUDIT_ANCHOR_FILE, and ``saferoom audit-verify --anchor FILE`` catches a log rolled
back behind any anchor, which the chain and its sealed head cannot: an intruder who kept an
older head row, seal and all, puts it back and deletes the events after it."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import stat
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from saferoom.core import audit, audit_chain, jobs, retention
from saferoom.core.models import AuditChainHead, AuditCheckpoint, AuditEvent, User

pytestmark = pytest.mark.django_db

MORNING = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def anchor_file(tmp_path: Path, settings: Any) -> Path:
    path = tmp_path / "anchors" / "audit-anchors.jsonl"
    path.parent.mkdir()
    settings.AUDIT_ANCHOR_FILE = str(path)
    return path


def write_events(user: User, n: int) -> list[AuditEvent]:
    return [audit.record(action="client.viewed", by=user, detail={"n": i}) for i in range(n)]


def anchor(at: dt.datetime) -> jobs.JobResult:
    return jobs.anchor_audit_chain(at)


def saved_head() -> dict[str, Any]:
    """What an intruder copies today to roll the log back to later: the whole head row."""
    return dict(AuditChainHead.objects.values("last_id", "last_hash", "appended", "seal").get())


def roll_back_to(head: dict[str, Any]) -> None:
    """Delete every event after the saved head and put the saved head (and its seal) back."""
    with audit_chain.triggers_suspended(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id > %s", [head["last_id"]])
    AuditChainHead.objects.update(**head)


def reuse_ids_after(last_id: int) -> None:
    """Set the id sequence back too, so that the next event takes an anchored event's id."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('core_auditevent', 'id'), %s)", [last_id]
            )
        else:
            cursor.execute(
                "UPDATE sqlite_sequence SET seq = %s WHERE name = 'core_auditevent'", [last_id]
            )


def audit_verify(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("audit_verify", *args, stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --- the rollback the anchors catch ------------------------------------------------------------


def test_a_log_rolled_back_to_an_older_sealed_head_verifies_without_anchors(manager):
    """The gap the anchors close: the chain and the head's seal are all genuine."""
    write_events(manager, 3)
    older = saved_head()
    write_events(manager, 2)
    roll_back_to(older)
    result = audit_chain.verify()
    assert result.ok, result.problem
    assert result.checked == 3


def test_a_log_rolled_back_behind_an_anchor_is_caught(manager, anchor_file):
    events = write_events(manager, 3)
    older = saved_head()
    events += write_events(manager, 2)
    anchor(MORNING)
    roll_back_to(older)

    code, out, err = audit_verify("--anchor", str(anchor_file))
    assert code == 1
    assert "Audit chain intact: 3 events checked." in out
    assert "AUDIT LOG ROLLED BACK" in err
    assert (
        f"the log ends at event {events[2].pk}, but the anchor of 2026-03-10 09:00 UTC "
        f"(audit-anchors.jsonl line 1) recorded event {events[4].pk}"
    ) in err


def test_a_log_rolled_back_and_written_on_is_caught_by_the_anchor_before_it(manager, anchor_file):
    """The worker anchors whatever head it finds, so the anchor taken after the rollback holds;
    the one taken before it does not, which is why every anchor is checked."""
    write_events(manager, 3)
    older = saved_head()
    events = write_events(manager, 2)
    anchor(MORNING)
    roll_back_to(older)
    write_events(manager, 3)  # the service carries on, unaware
    anchor(MORNING + dt.timedelta(minutes=10))
    assert audit_chain.verify().ok

    code, _, err = audit_verify("--anchor", str(anchor_file))
    assert code == 1
    assert f"event {events[1].pk}, recorded by the anchor of 2026-03-10 09:00 UTC" in err
    assert "is no longer in the log" in err


def test_a_rollback_that_reuses_the_anchored_ids_is_caught_by_their_hashes(manager, anchor_file):
    write_events(manager, 3)
    older = saved_head()
    events = write_events(manager, 2)
    anchor(MORNING)
    roll_back_to(older)
    reuse_ids_after(older["last_id"])
    again = write_events(manager, 2)
    assert [e.pk for e in again] == [e.pk for e in events]
    assert audit_chain.verify().ok

    code, _, err = audit_verify("--anchor", str(anchor_file))
    assert code == 1
    assert f"event {events[1].pk} no longer has the hash the anchor of" in err


def test_an_expected_event_and_hash_catch_a_rollback_without_a_file(manager):
    write_events(manager, 2)
    older = saved_head()
    newest = write_events(manager, 1)[0]
    expect = ["--expect-event", str(newest.pk), "--expect-hash", newest.row_hash]
    assert audit_verify(*expect)[0] == 0
    roll_back_to(older)
    code, _, err = audit_verify(*expect)
    assert code == 1
    assert f"recorded event {newest.pk}" in err
    assert "(--expect-event)" in err


def test_anchors_that_disagree_about_an_event_show_an_earlier_rollback(manager, tmp_path):
    event = write_events(manager, 1)[0]
    path = tmp_path / "anchors.jsonl"
    path.write_text(
        f'{{"audit_anchor": 1, "event": {event.pk}, "hash": "{event.row_hash}"}}\n'
        f'{{"audit_anchor": 1, "event": {event.pk}, "hash": "{"0" * 64}"}}\n',
        encoding="utf-8",
    )
    code, _, err = audit_verify("--anchor", str(path))
    assert code == 1
    assert "give event" in err
    assert "different hashes" in err


# --- the normal paths still verify ------------------------------------------------------------


def test_anchors_of_a_log_that_only_grew_all_hold(manager, anchor_file):
    write_events(manager, 2)
    anchor(MORNING)
    write_events(manager, 3)
    anchor(MORNING + dt.timedelta(minutes=10))
    anchor(MORNING + dt.timedelta(minutes=20))  # nothing new: the same head again
    write_events(manager, 1)

    code, out, err = audit_verify("--anchor", str(anchor_file))
    assert (code, err) == (0, "")
    assert "Audit chain intact: 6 events checked." in out
    assert "Anchors held: 2 anchored events checked (2 still in the chain" in out


def test_anchors_behind_the_retention_checkpoint_count_as_held(manager, anchor_file):
    """Retention removes the anchored events themselves; the sealed checkpoint stands for them,
    and its own event's hash is compared with the anchor's."""
    long_ago = MORNING - dt.timedelta(days=365 * 9)
    for minutes in (0, 10):
        audit.record(action="client.viewed", by=manager, at=long_ago + dt.timedelta(minutes=1))
        anchor(long_ago + dt.timedelta(minutes=minutes))
    write_events(manager, 2)
    anchor(MORNING)
    with time_machine.travel(MORNING, tick=False):
        assert retention.prune_audit_log(timezone.now()) == 2
    checkpoint = AuditCheckpoint.objects.get()
    assert [line["event"] for line in lines(anchor_file)][:2] == [
        checkpoint.through_id - 1,
        checkpoint.through_id,
    ]

    code, out, _ = audit_verify("--anchor", str(anchor_file))
    assert code == 0
    assert "3 anchored events checked (1 still in the chain with the same hash; 2 behind" in out

    wrong = anchor_file.parent / "wrong.jsonl"
    wrong.write_text(
        json.dumps({"audit_anchor": 1, "event": checkpoint.through_id, "hash": "e" * 64}) + "\n",
        encoding="utf-8",
    )
    code, _, err = audit_verify("--anchor", str(wrong))
    assert code == 1
    assert f"event {checkpoint.through_id} no longer has the hash the anchor (wrong.jsonl" in err


def test_appending_and_pruning_keep_the_head_sealed(manager, anchor_file):
    long_ago = MORNING - dt.timedelta(days=365 * 9)
    audit.record(action="client.viewed", by=manager, at=long_ago)
    write_events(manager, 2)
    with time_machine.travel(MORNING, tick=False):
        retention.prune_audit_log(timezone.now())
    assert audit_chain.head_is_sealed(AuditChainHead.objects.get())
    anchor(MORNING)
    assert audit_verify("--anchor", str(anchor_file))[0] == 0


# --- writing the anchors -----------------------------------------------------------------------


def test_the_anchor_file_gets_one_line_per_run_readable_by_its_owner_only(manager, anchor_file):
    write_events(manager, 2)
    first = anchor(MORNING)
    newest = write_events(manager, 1)[0]
    second = anchor(MORNING + dt.timedelta(minutes=10))

    assert (first.count, second.count) == (1, 1)
    assert second.line() == f"anchor_audit_chain: 1 audit chain anchor written (event {newest.pk})"
    assert stat.S_IMODE(anchor_file.stat().st_mode) == 0o600
    head = AuditChainHead.objects.get()
    assert lines(anchor_file)[1] == {
        "audit_anchor": 1,
        "at": "2026-03-10T09:10:00+00:00",
        "event": newest.pk,
        "hash": newest.row_hash,
        "appended": head.appended,
    }
    assert len(lines(anchor_file)) == 2


def test_several_workers_write_one_anchor_a_period(manager, anchor_file):
    write_events(manager, 1)
    assert anchor(MORNING + dt.timedelta(minutes=1)).count == 1
    later = anchor(MORNING + dt.timedelta(minutes=9, seconds=59))
    assert (later.count, later.what) == (0, "audit chain anchors written (done this period)")
    assert len(lines(anchor_file)) == 1


def test_a_file_that_cannot_be_written_leaves_the_period_to_the_next_pass(
    manager, anchor_file, settings
):
    write_events(manager, 1)
    settings.AUDIT_ANCHOR_FILE = str(anchor_file.parent / "missing-folder" / "anchors.jsonl")
    with pytest.raises(FileNotFoundError):
        anchor(MORNING)
    settings.AUDIT_ANCHOR_FILE = str(anchor_file)
    assert anchor(MORNING + dt.timedelta(seconds=30)).count == 1


def test_the_anchor_is_logged_on_its_own_logger_whatever_the_log_level(
    manager, caplog, settings, tmp_path
):
    settings.AUDIT_ANCHOR_FILE = ""
    newest = write_events(manager, 1)[0]
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)  # SAFEROOM_LOG_LEVEL=WARNING
    try:
        anchor(MORNING)
    finally:
        root.setLevel(level)
    [record] = [r for r in caplog.records if r.name == "saferoom.audit.anchor"]
    assert record.levelno == logging.INFO
    message = record.getMessage()
    assert message.startswith("audit anchor {")
    # An id, a hash, a count and a time: nothing about anybody.
    assert set(json.loads(message.removeprefix("audit anchor "))) == {
        "audit_anchor",
        "at",
        "event",
        "hash",
        "appended",
    }
    assert f'"event": {newest.pk}' in message
    assert list(tmp_path.iterdir()) == []  # no file without the setting


def test_a_log_of_anchor_lines_can_be_checked_as_it_was_shipped(manager, caplog, tmp_path):
    """A syslog host's file: other lines, and each anchor after a prefix of its own."""
    write_events(manager, 2)
    anchor(MORNING)
    [record] = [r for r in caplog.records if r.name == "saferoom.audit.anchor"]
    shipped = tmp_path / "saferoom.log"
    shipped.write_text(
        "Mar 10 09:00:01 db1 saferoom[812]: INFO saferoom.worker: pass done\n"
        f"Mar 10 09:00:01 db1 saferoom[812]: INFO saferoom.audit.anchor: {record.getMessage()}\n",
        encoding="utf-8",
    )
    assert audit_verify("--anchor", str(shipped))[0] == 0


def test_an_empty_log_writes_no_anchor(anchor_file):
    assert anchor(MORNING).count == 0
    assert not anchor_file.exists()


def test_a_head_whose_seal_does_not_match_is_not_anchored(manager, anchor_file, caplog):
    write_events(manager, 2)
    AuditChainHead.objects.update(seal="0" * 64)
    result = anchor(MORNING)
    assert result.count == 0
    assert "FAILED" in result.what
    assert not anchor_file.exists()
    assert any(
        r.levelno == logging.ERROR and "seal does not match" in r.getMessage()
        for r in caplog.records
    )


def test_the_worker_anchors_the_chain_on_its_pass(manager, anchor_file):
    write_events(manager, 1)
    out = StringIO()
    with time_machine.travel(MORNING, tick=False):
        call_command("worker", "--once", stdout=out)
    head = AuditChainHead.objects.get()
    assert f"anchor_audit_chain: 1 audit chain anchor written (event {head.last_id})" in (
        out.getvalue()
    )
    assert [line["event"] for line in lines(anchor_file)] == [head.last_id]


# --- what audit-verify refuses to read ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--expect-event", "3"], "Give --expect-event and --expect-hash together."),
        (["--expect-event", "x", "--expect-hash", "a" * 64], "whole number above 0"),
        (["--expect-event", "3", "--expect-hash", "abc"], "64 hexadecimal characters"),
        (["--anchor", "/nonexistent/anchors.jsonl"], "There is no anchor file"),
    ],
)
def test_anchors_that_cannot_be_read_are_refused_with_a_clear_message(args, message):
    with pytest.raises(CommandError, match=message) as refused:
        call_command("audit_verify", *args)
    assert refused.value.returncode == 2


def test_a_file_without_anchors_or_with_a_garbled_one_is_refused(tmp_path):
    empty = tmp_path / "empty.log"
    empty.write_text("nothing here\n", encoding="utf-8")
    with pytest.raises(CommandError, match="holds no audit anchors"):
        call_command("audit_verify", "--anchor", str(empty))
    garbled = tmp_path / "garbled.jsonl"
    garbled.write_text('{"audit_anchor": 1, "event": 4, "hash": "abc\n', encoding="utf-8")
    with pytest.raises(
        CommandError, match=re.escape("garbled.jsonl line 1 is not an audit anchor")
    ):
        call_command("audit_verify", "--anchor", str(garbled))
