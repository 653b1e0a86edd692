"""Anchors of the audit chain outside the database, against a rollback: someone with write access
to the database who puts back an older chain head (with its genuine seal) and deletes the events
after it leaves a log that verifies. The worker writes the head (event id, row hash, events
appended, time) as one INFO line on the ``saferoom.audit.anchor`` logger and, with
SAFEROOM_AUDIT_ANCHOR_FILE set, as one JSON line appended to that file; shipped to another
machine, these are out of the intruder's reach. ``saferoom audit-verify --anchor FILE`` then
checks that every anchored event is still in the chain with the same hash.

Every anchor is checked, not only the newest: a rollback that happened before the newest anchor
was taken (the worker anchors whatever head it finds) shows only against the anchors written
before it. Each row hash commits to every event before it, so one indexed query per
``CHUNK`` distinct events is all it costs. An anchor at or before the newest retention
checkpoint names an event the retention job has removed: it counts as held, because the
checkpoint is sealed with the audit key (only saferoom can make one), names the last event
removed and its hash (compared when it is the anchored event itself), and retention only removes
events years old, never the recent ones a rollback would take.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from saferoom.core import audit_chain
from saferoom.core.models import AuditChainHead, AuditCheckpoint, AuditEvent

logger = logging.getLogger("saferoom.audit.anchor")

# The key that marks an anchor line (and its format's version); lines without it are skipped, so
# that a syslog file with other lines in it can be read too.
MARKER = "audit_anchor"
FORMAT = 1
CHUNK = 500
_HASH = re.compile(r"[0-9a-f]{64}")


class AnchorError(ValueError):
    """An anchor that cannot be read (the message says where and why)."""


@dataclass(frozen=True)
class Anchor:
    """The chain head at one moment: its last event's id and row hash, the events appended so
    far, and when. ``source`` says where it was read (for messages)."""

    event: int
    hash: str
    appended: int | None = None
    at: datetime | None = None
    source: str = ""

    def json(self) -> str:
        when = self.at.astimezone(UTC).isoformat(timespec="seconds") if self.at else None
        return json.dumps(
            {
                MARKER: FORMAT,
                "at": when,
                "event": self.event,
                "hash": self.hash,
                "appended": self.appended,
            }
        )

    def described(self, *, first: bool = False) -> str:
        when = f" of {self.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if self.at else ""
        where = f" ({self.source})" if self.source else ""
        return f"{'The' if first else 'the'} anchor{when}{where}"


def parse(event: object, hash_: object, *, source: str) -> Anchor:
    """An anchor from an event id and a row hash typed or read somewhere, or a clear error."""
    if isinstance(event, str) and re.fullmatch(r"[0-9]{1,18}", event.strip()):
        event = int(event)
    if not isinstance(event, int) or isinstance(event, bool) or event < 1:
        raise AnchorError(f"{source}: the event must be a whole number above 0, not {event!r}.")
    if not isinstance(hash_, str) or not _HASH.fullmatch(hash_):
        raise AnchorError(f"{source}: the hash must be 64 hexadecimal characters (a row hash).")
    return Anchor(event, hash_, source=source)


def _line_anchor(line: str, *, source: str) -> Anchor:
    start, end = line.find("{"), line.rfind("}")
    try:
        data = json.loads(line[start : end + 1]) if 0 <= start < end else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or data.get(MARKER) != FORMAT:
        raise AnchorError(f"{source} is not an audit anchor saferoom can read.")
    anchor = parse(data.get("event"), data.get("hash"), source=source)
    appended = data.get("appended")
    at = None
    if isinstance(data.get("at"), str):
        try:
            at = datetime.fromisoformat(data["at"])
        except ValueError:
            raise AnchorError(f"{source}: its time {data['at']!r} is not a time.") from None
    return Anchor(
        anchor.event,
        anchor.hash,
        appended if isinstance(appended, int) else None,
        at if at is not None and at.tzinfo is not None else None,
        source,
    )


def read(path: Path) -> list[Anchor]:
    """The anchors in a file the worker wrote (or a log file holding its anchor lines)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AnchorError(f"There is no anchor file {path}.") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        raise AnchorError(f"The anchor file {path} cannot be read ({reason}).") from None
    anchors = [
        _line_anchor(line, source=f"{path.name} line {number}")
        for number, line in enumerate(text.splitlines(), start=1)
        if MARKER in line
    ]
    if not anchors:
        raise AnchorError(f"The file {path} holds no audit anchors.")
    return anchors


# --- writing --------------------------------------------------------------------------------


def current(at: datetime) -> Anchor | None:
    """The chain head as an anchor; None when nothing was ever appended. Raises if the head's
    seal does not match (there is nothing genuine to anchor)."""
    head = AuditChainHead.objects.filter(pk=audit_chain.HEAD_PK).first()
    if head is None or not head.last_id:
        return None
    if not audit_chain.head_is_sealed(head):
        raise AnchorError(
            "The audit chain head's seal does not match: the end of the log was altered. "
            "Run `saferoom audit-verify`."
        )
    return Anchor(head.last_id, head.last_hash, head.appended, at)


def write(anchor: Anchor, path: Path | None) -> None:
    """Log the anchor and, given a file, append it there as one line, on disk before this
    returns. A new file is made readable and writable by its owner only."""
    logger.info("audit anchor %s", anchor.json())
    if path is None:
        return
    created = not path.exists()
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as file:
        file.write(anchor.json() + "\n")
        file.flush()
        os.fsync(file.fileno())
    if created:  # the new file's name must survive a crash too
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


# --- checking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnchorResult:
    """What :func:`check` found: ``ok``; how many distinct anchored events it compared with the
    log (``compared``) or found behind the retention checkpoint (``covered``); the first
    ``problem`` in words (empty when ok)."""

    ok: bool
    compared: int
    covered: int
    problem: str = ""


def check(anchors: Iterable[Anchor]) -> AnchorResult:
    """Check that every anchored event is still in the log with the hash it had. Call it once
    :func:`audit_chain.verify` has found the chain itself intact."""
    by_event: dict[int, Anchor] = {}
    for anchor in anchors:
        seen = by_event.setdefault(anchor.event, anchor)
        if seen.hash != anchor.hash:
            return AnchorResult(
                False,
                0,
                0,
                f"{seen.described(first=True)} and {anchor.described()} give event "
                f"{anchor.event} different hashes: the log was rolled back behind the first and "
                "written again before the second.",
            )
    checkpoint = AuditCheckpoint.objects.order_by("-through_id").first()
    through = checkpoint.through_id if checkpoint is not None else 0
    head = AuditChainHead.objects.filter(pk=audit_chain.HEAD_PK).first()
    last_id = head.last_id if head is not None else 0
    covered = compared = 0
    pending: list[Anchor] = []
    for event in sorted(by_event):
        anchor = by_event[event]
        if checkpoint is not None and event == through and anchor.hash != checkpoint.through_hash:
            return _rolled_back(anchor, last_id, differs=True)
        if event <= through:
            covered += 1
        else:
            pending.append(anchor)
    for start in range(0, len(pending), CHUNK):
        chunk = pending[start : start + CHUNK]
        found = dict(
            AuditEvent.objects.filter(pk__in=[a.event for a in chunk]).values_list("pk", "row_hash")
        )
        for anchor in chunk:
            if anchor.event not in found or found[anchor.event] != anchor.hash:
                return _rolled_back(anchor, last_id, differs=anchor.event in found)
            compared += 1
    return AnchorResult(True, compared, covered)


def _rolled_back(anchor: Anchor, last_id: int, *, differs: bool) -> AnchorResult:
    rewritten = (
        "events were removed from the end, the chain head was set back to an older one, and "
        "the log was written on from there"
    )
    if differs:
        what = f"event {anchor.event} no longer has the hash {anchor.described()} recorded"
    elif anchor.event > last_id:
        what = (
            f"the log ends at event {last_id}, but {anchor.described()} recorded event "
            f"{anchor.event}"
        )
        rewritten = (
            f"the events after event {last_id} were removed and the chain head set back to an "
            "older one"
        )
    else:
        what = f"event {anchor.event}, recorded by {anchor.described()}, is no longer in the log"
    return AnchorResult(
        False, 0, 0, f"The log was rolled back behind an anchor: {what}; {rewritten}."
    )
