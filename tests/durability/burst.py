"""A busy evening's burst of writes through the API, cut short by a crash, and the checks that
nothing acknowledged was lost and nothing is half-written afterwards.

Four devices send check-ins (the desk) and incidents with their interventions (a nurse), each
with its own idempotency key, until the crash. After it the devices retry what got no
acknowledgement, with the same keys, as the van's outbox does. Used by the crash tests: the
server killed with SIGKILL (test_crash.py), PostgreSQL stopped with an immediate shutdown
(test_postgresql_crash.py)."""

from __future__ import annotations

import datetime as dt
import http.client
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.durability.scratch import Scratch
from tests.durability.server import Server

DEVICES = 4
STEPS_PER_INCIDENT = 4
SITE = "riverside"
PATHS = {"visit": f"/api/v1/sites/{SITE}/visits", "incident": f"/api/v1/sites/{SITE}/incidents"}


@dataclass
class Sent:
    kind: str  # "visit" or "incident"
    key: str
    body: dict[str, Any]
    token: str
    status: int | None = None  # None: no answer (the server died with it in flight)
    answer: Any = None

    @property
    def acknowledged(self) -> bool:
        return self.status in (200, 201)


def checkin() -> dict[str, Any]:
    return {
        "anonymous": True,
        "planned_route": "inject",
        "planned_substances": ["heroin"],
        "eligibility": {"first_time": False, "intoxicated": False, "old_enough": True},
    }


def overdose() -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)

    def ago(minutes: int) -> str:
        return (now - dt.timedelta(minutes=minutes)).isoformat()

    return {
        "location": "lounge",
        "kind": "opioid",
        "onset_at": ago(10),
        "interventions": [
            {"kind": "stimulation", "at": ago(9)},
            {"kind": "naloxone", "at": ago(8), "naloxone_mg": "0.4", "naloxone_route": "IM"},
            {"kind": "ambulance_called", "at": ago(7)},
            {"kind": "ambulance_arrived", "at": ago(2)},
        ],
    }


def new_write(kind: str, tokens: dict[str, str]) -> Sent:
    """A check-in (sent as the desk) or an incident (as the nurse), with a fresh key."""
    return Sent(
        kind=kind,
        key=str(uuid.uuid4()),
        body=checkin() if kind == "visit" else overdose(),
        token=tokens["dana.desk" if kind == "visit" else "nina.nurse"],
    )


def send(server: Server, sent: Sent) -> None:
    status, answer = server.request(
        "POST",
        PATHS[sent.kind],
        sent.body,
        {"Authorization": f"Bearer {sent.token}", "Idempotency-Key": sent.key},
    )
    sent.status, sent.answer = status, answer


@dataclass
class Burst:
    server: Server
    tokens: dict[str, str]
    sent: list[Sent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    problems: list[str] = field(default_factory=list)
    # Set just before the crash: from then on an error answer (the database is gone) is a
    # write not acknowledged, not a problem of the burst.
    cut: threading.Event = field(default_factory=threading.Event)
    devices: list[threading.Thread] = field(default_factory=list)

    def acknowledged(self) -> int:
        with self.lock:
            return sum(1 for s in self.sent if s.acknowledged)

    def start(self, devices: int = DEVICES) -> None:
        self.devices = [threading.Thread(target=device, args=(self, n)) for n in range(devices)]
        for thread in self.devices:
            thread.start()

    def run_until(self, acknowledged: int, timeout: float = 30) -> None:
        """Let the devices write until the server has acknowledged this many writes."""
        deadline = time.monotonic() + timeout
        while self.acknowledged() < acknowledged and time.monotonic() < deadline:
            assert not self.problems, self.problems
            time.sleep(0.01)

    def crash(self, how: Callable[[], None]) -> None:
        """Crash mid-burst with ``how``; the devices stop at the first write that fails."""
        self.cut.set()
        how()
        for thread in self.devices:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in self.devices)
        assert not self.problems, self.problems

    def first_answers(self) -> dict[str, Any]:
        """What the server acknowledged, by key, as it said it (before any retry)."""
        return {s.key: s.answer for s in self.sent if s.acknowledged}

    def retry(self) -> None:
        """Back up: the devices send again, with the same keys and bodies, every write that was
        not acknowledged, and one acknowledged write of each kind. Each lands on the first
        record (200 with the first answer) or makes the only one."""
        acknowledged = [s for s in self.sent if s.acknowledged]
        again = [s for s in self.sent if not s.acknowledged] + [
            next(s for s in acknowledged if s.kind == kind) for kind in ("visit", "incident")
        ]
        for sent in again:
            was = sent.answer if sent.acknowledged else None
            send(self.server, sent)
            assert sent.acknowledged, (sent.kind, sent.status, sent.answer)
            if was is not None:
                assert (sent.status, sent.answer) == (200, was)


def device(burst: Burst, number: int) -> None:
    """One tablet: alternately a check-in and an incident, until the server stops answering or
    (once the crash has begun) answers with an error."""
    for i in range(10_000):
        sent = new_write("visit" if (i + number) % 2 == 0 else "incident", burst.tokens)
        with burst.lock:
            burst.sent.append(sent)
        try:
            send(burst.server, sent)
        except (OSError, http.client.HTTPException):
            return  # killed mid-request: this one is unacknowledged
        if not sent.acknowledged:
            if not burst.cut.is_set():
                with burst.lock:
                    burst.problems.append(f"{sent.kind}: {sent.status} {sent.answer}")
            return


def ids(db: Scratch, sql: str) -> set[int]:
    return {int(row[0]) for row in db.rows(sql)}


def check_every_acknowledged_write_whole(
    db: Scratch, first_answers: dict[str, Any], sent: list[Sent]
) -> None:
    """After the crash and the retries (``sent``, each now acknowledged):

    - every record the server acknowledged before the crash is there, as it was acknowledged;
    - one record per key: retries found the first record or made the only one;
    - nothing is half-written: every visit has its audit event and its idempotency key, every
      incident has all of its interventions and their audit events."""
    visit_ids = {s.answer["id"] for s in sent if s.kind == "visit"}
    incident_ids = {s.answer["id"] for s in sent if s.kind == "incident"}

    in_db_visits = ids(db, "SELECT id FROM floor_visit")
    in_db_incidents = ids(db, "SELECT id FROM incidents_incident")
    acked_visits = {a["id"] for a in first_answers.values() if "interventions" not in a}
    acked_incidents = {a["id"]: a for a in first_answers.values() if "interventions" in a}
    assert acked_visits <= in_db_visits
    assert set(acked_incidents) <= in_db_incidents
    steps = {
        (int(i), int(s)) for i, s in db.rows("SELECT incident_id, id FROM incidents_intervention")
    }
    for incident_id, answer in acked_incidents.items():
        assert {(incident_id, step["id"]) for step in answer["interventions"]} <= steps

    assert in_db_visits == visit_ids
    assert in_db_incidents == incident_ids

    per_incident = Counter(i for i, _s in steps)
    assert per_incident == dict.fromkeys(in_db_incidents, STEPS_PER_INCIDENT)
    audited_visits = ids(
        db, "SELECT object_id FROM core_auditevent WHERE action = 'visit.checked_in'"
    )
    assert audited_visits == in_db_visits
    started = db.rows(
        "SELECT object_id, COUNT(*) FROM core_auditevent WHERE action = 'incident.started' "
        "GROUP BY object_id"
    )
    assert {int(i): n for i, n in started} == dict.fromkeys(in_db_incidents, 1)
    logged = db.rows(
        "SELECT object_id, COUNT(*) FROM core_auditevent "
        "WHERE action = 'incident.intervention' GROUP BY object_id"
    )
    assert {int(i): n for i, n in logged} == dict.fromkeys(in_db_incidents, STEPS_PER_INCIDENT)
    for action, records in (
        ("visit.check_in", in_db_visits),
        ("api.incident", in_db_incidents),
    ):
        keyed = ids(db, f"SELECT object_id FROM core_idempotencykey WHERE action = '{action}'")  # noqa: S608
        assert keyed == records
