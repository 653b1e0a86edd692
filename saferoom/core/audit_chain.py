"""The audit log's HMAC hash chain: every event stores the previous event's hash and an HMAC
(SAFEROOM_AUDIT_KEY) of that hash and its own fields, so an edited, removed or inserted event
breaks the chain where it happened, and nobody without the key can rebuild it.

Appending locks the one-row chain head (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite
every write transaction already holds the database's write lock from ``BEGIN IMMEDIATE``), so
two writers never chain onto the same event. :func:`verify` walks the chain; ``saferoom
audit_verify`` (or ``audit-verify``) prints what it finds, and the restore drill calls it.

Database triggers (migration ``core.0005``) refuse UPDATE and DELETE on the events, except the
deletion of events the retention job has covered with a sealed :class:`AuditCheckpoint`.

The head (last event's id and hash, events appended) carries a seal of its own, an HMAC with the
same key, rewritten by every append in the same UPDATE: whoever gets past the triggers cannot
cut events off the end and point the head at the new last event. Putting back an older head with
its genuine seal (a rollback) is caught by the anchors written outside the database
(``saferoom.core.audit_anchor``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from saferoom.core.models import AuditChainHead, AuditCheckpoint, AuditEvent

HEAD_PK = 1
# The fields an event's HMAC covers, in this order (besides prev_hash). Changing the list or
# the encoding below breaks every existing chain: add a version instead.
CHAINED_FIELDS = (
    "at",
    "actor_id",
    "actor_label",
    "role",
    "action",
    "object_type",
    "object_id",
    "object_label",
    "site_id",
    "site_label",
    "request_id",
    "detail",
)
VERSION = b"saferoom-audit-v1"


def _key() -> bytes:
    return str(settings.AUDIT_KEY).encode()


def _encode(value: Any) -> str:
    """A deterministic text for a JSON value that survives a round trip through SQLite's JSON
    text and PostgreSQL's jsonb (which reorders keys and may print 1e16 as 10000000000000000):
    keys sorted, numbers in normalised decimal form, strings quoted."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float | Decimal):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        return "n" + str(number.normalize())
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    if isinstance(value, dict):
        items = sorted((str(k), v) for k, v in value.items())
        return (
            "{"
            + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_encode(v)}" for k, v in items)
            + "}"
        )
    raise TypeError(f"An audit event cannot hold a {type(value).__name__}.")


def canonical(values: dict[str, Any]) -> bytes:
    """The bytes an event's HMAC covers: its chained fields, in a fixed order and encoding."""
    at: datetime = values["at"]
    parts = [at.astimezone(UTC).isoformat(timespec="microseconds")]
    parts += [_encode(values[name]) for name in CHAINED_FIELDS[1:]]
    return "\x1f".join(parts).encode()


def row_hash(prev_hash: str, values: dict[str, Any]) -> str:
    """HMAC-SHA256(key, version ‖ prev_hash ‖ canonical fields), as hex."""
    message = VERSION + b"\x1e" + prev_hash.encode() + b"\x1e" + canonical(values)
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()


def checkpoint_seal(
    *, through_id: int, through_hash: str, through_at: datetime, removed: int
) -> str:
    message = b"\x1e".join(
        [
            VERSION,
            b"checkpoint",
            str(through_id).encode(),
            through_hash.encode(),
            through_at.astimezone(UTC).isoformat(timespec="microseconds").encode(),
            str(removed).encode(),
        ]
    )
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()


def head_seal(*, last_id: int, last_hash: str, appended: int) -> str:
    """The chain head's HMAC over its three values, so that the head cannot be moved (events cut
    off the end) by anyone without the key."""
    message = b"\x1e".join(
        [VERSION, b"head", str(last_id).encode(), last_hash.encode(), str(appended).encode()]
    )
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()


def head_is_sealed(head: AuditChainHead) -> bool:
    expected = head_seal(last_id=head.last_id, last_hash=head.last_hash, appended=head.appended)
    return hmac.compare_digest(expected, head.seal)


def _locked_head() -> AuditChainHead:
    """The chain head, locked until the transaction ends. It is made on first use (a fresh or
    flushed database); two first writers racing on PostgreSQL meet at the primary key."""
    head = AuditChainHead.objects.select_for_update().filter(pk=HEAD_PK).first()
    if head is None:
        AuditChainHead.objects.get_or_create(
            pk=HEAD_PK, defaults={"seal": head_seal(last_id=0, last_hash="", appended=0)}
        )
        head = AuditChainHead.objects.select_for_update().get(pk=HEAD_PK)
    return head


def append(values: dict[str, Any]) -> AuditEvent:
    """Add one event at the end of the chain (``values``: the model's chained fields)."""
    values = {**values, "detail": json.loads(json.dumps(values.get("detail") or {}))}
    with transaction.atomic(savepoint=False):
        head = _locked_head()
        event = AuditEvent(**values, prev_hash=head.last_hash)
        event.row_hash = row_hash(head.last_hash, values)
        event.save(force_insert=True)
        appended = head.appended + 1
        AuditChainHead.objects.filter(pk=HEAD_PK).update(
            last_id=event.pk,
            last_hash=event.row_hash,
            appended=appended,
            seal=head_seal(last_id=event.pk, last_hash=event.row_hash, appended=appended),
        )
    return event


@dataclass(frozen=True)
class VerifyResult:
    """What :func:`verify` found: ``ok``; how many events it ``checked``; the first
    ``problem`` in words (empty when ok) and the id of the event where the chain breaks."""

    ok: bool
    checked: int
    problem: str = ""
    first_bad_id: int | None = None
    checkpoint_through_id: int | None = None


def _event_values(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(CHAINED_FIELDS, row[3:], strict=True))


def verify(*, chunk_size: int = 2000) -> VerifyResult:
    """Walk the chain from the latest checkpoint (or the first event) to the head; stop at the
    first event whose HMAC does not match its fields (edited, or inserted without the key), or
    whose prev_hash is not the previous event's hash (an event removed or inserted before it),
    and finally check that the head is genuine (its seal) and points at the last event (events
    removed from the end)."""
    checkpoint = AuditCheckpoint.objects.order_by("-through_id").first()
    expected_prev = ""
    start_after = 0
    through: int | None = None
    if checkpoint is not None:
        seal = checkpoint_seal(
            through_id=checkpoint.through_id,
            through_hash=checkpoint.through_hash,
            through_at=checkpoint.through_at,
            removed=checkpoint.removed,
        )
        if not hmac.compare_digest(seal, checkpoint.seal):
            return VerifyResult(
                False,
                0,
                f"The retention checkpoint through event {checkpoint.through_id} is not genuine: "
                "it was altered, or made without the audit key.",
                checkpoint.through_id,
            )
        expected_prev = checkpoint.through_hash
        start_after = through = checkpoint.through_id

    checked = 0
    previous_id: int | None = through
    rows = (
        AuditEvent.objects.filter(pk__gt=start_after)
        .order_by("pk")
        .values_list("pk", "prev_hash", "row_hash", *CHAINED_FIELDS)
    )
    for row in rows.iterator(chunk_size=chunk_size):
        pk, prev_hash, stored_hash = row[0], row[1], row[2]
        expected = row_hash(prev_hash, _event_values(row))
        if not hmac.compare_digest(expected, stored_hash):
            return VerifyResult(
                False,
                checked,
                f"Audit event {pk} does not match its hash: it was edited, or inserted "
                "without the audit key.",
                pk,
                through,
            )
        if prev_hash != expected_prev:
            after = f"event {previous_id}" if previous_id is not None else "the start of the log"
            return VerifyResult(
                False,
                checked,
                f"The chain breaks between {after} and event {pk}: an event was removed or "
                "inserted there.",
                pk,
                through,
            )
        expected_prev = stored_hash
        previous_id = pk
        checked += 1

    head = AuditChainHead.objects.filter(pk=HEAD_PK).first()
    last_id = previous_id if checked else (through or 0)
    if head is None and (checked or through):
        return VerifyResult(
            False,
            checked,
            "The chain head is missing: the end of the log was altered.",
            last_id,
            through,
        )
    if head is not None and not head_is_sealed(head):
        return VerifyResult(
            False,
            checked,
            "The chain head's seal does not match: the end of the log was altered (the head "
            f"says the log ends at event {head.last_id}).",
            head.last_id,
            through,
        )
    head_id = head.last_id if head is not None else 0
    head_hash = head.last_hash if head is not None else ""
    if checked and (head_id != last_id or head_hash != expected_prev):
        return VerifyResult(
            False,
            checked,
            f"The log ends at event {last_id} but the chain head says it should end at event "
            f"{head_id}: events were removed from the end, or the head was altered.",
            last_id,
            through,
        )
    if not checked and head_id and head_id != (through or 0):
        return VerifyResult(
            False,
            0,
            f"The chain head says the log ends at event {head_id}, but there are no events "
            "after the last checkpoint: events were removed.",
            head_id,
            through,
        )
    return VerifyResult(True, checked, "", None, through)


# --- the triggers -------------------------------------------------------------------------

GUARDED_TABLES = ("core_auditevent", "core_auditcheckpoint")


@contextmanager
def triggers_suspended(conn: BaseDatabaseWrapper | None = None) -> Iterator[None]:
    """Lift the append-only triggers for the duration (``saferoom flush``, which empties the
    whole database, and tests that tamper with the log on purpose). On SQLite the triggers are
    dropped and re-created from their stored definitions; on PostgreSQL they are disabled."""
    conn = conn or connection
    if conn.vendor == "postgresql":
        with conn.cursor() as cursor:
            for table in GUARDED_TABLES:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        try:
            yield
        finally:
            with conn.cursor() as cursor:
                for table in GUARDED_TABLES:
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        return
    if conn.vendor != "sqlite":
        yield
        return
    with conn.cursor() as cursor:
        placeholders = ", ".join(["%s"] * len(GUARDED_TABLES))
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "  # noqa: S608
            f"AND tbl_name IN ({placeholders})",
            GUARDED_TABLES,
        )
        saved = cursor.fetchall()
        for name, _sql in saved:
            cursor.execute(f'DROP TRIGGER "{name}"')
    try:
        yield
    finally:
        with conn.cursor() as cursor:
            for _name, sql in saved:
                cursor.execute(sql)


def installed_triggers(conn: BaseDatabaseWrapper | None = None) -> list[str]:
    """The names of the append-only triggers present (for tests and the health of a restore)."""
    conn = conn or connection
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D' "
                "AND tgrelid::regclass::text = ANY(%s) ORDER BY tgname",
                [list(GUARDED_TABLES)],
            )
        else:
            placeholders = ", ".join(["%s"] * len(GUARDED_TABLES))
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "  # noqa: S608
                f"AND tbl_name IN ({placeholders}) ORDER BY name",
                GUARDED_TABLES,
            )
        return [name for (name,) in cursor.fetchall()]
