"""A crash in the middle of a busy evening loses nothing anyone was told was saved.

A real server (gunicorn, two workers) runs on a database of its own (an SQLite file, or a
PostgreSQL database made for the test). Four devices send check-ins (the desk) and incidents
with their interventions (a nurse) through the API, each with its own idempotency key. The
server is killed with SIGKILL mid-burst, started again, and the devices retry what never got
an answer, with the same keys, as the van's outbox does. Then:

- every record the server acknowledged (2xx with an id) is there, as it was acknowledged;
- nothing is half-written: every visit has its audit event and its idempotency key, every
  incident has all of its interventions and their audit events;
- every retry lands on the first record or makes the only one: one record per key.
"""

from __future__ import annotations

import datetime as dt
import http.client
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.durability.scratch import Scratch, scratch_database
from tests.durability.server import Server, prepare

pytestmark = pytest.mark.slow

DEVICES = 4
KILL_AFTER = 40  # acknowledged writes before the kill
STEPS_PER_INCIDENT = 4
SITE = "riverside"


@dataclass
class Sent:
    kind: str  # "visit" or "incident"
    key: str
    body: dict[str, Any]
    token: str
    status: int | None = None  # None: no answer (the server died with it in flight)
    answer: Any = None


@dataclass
class Burst:
    server: Server
    tokens: dict[str, str]
    sent: list[Sent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    problems: list[str] = field(default_factory=list)

    def acknowledged(self) -> int:
        with self.lock:
            return sum(1 for s in self.sent if s.status in (200, 201))


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


PATHS = {"visit": f"/api/v1/sites/{SITE}/visits", "incident": f"/api/v1/sites/{SITE}/incidents"}


def send(server: Server, sent: Sent) -> None:
    status, answer = server.request(
        "POST",
        PATHS[sent.kind],
        sent.body,
        {"Authorization": f"Bearer {sent.token}", "Idempotency-Key": sent.key},
    )
    sent.status, sent.answer = status, answer


def device(burst: Burst, number: int) -> None:
    """One tablet: alternately a check-in (as the desk) and an incident (as the nurse), until
    the server stops answering."""
    for i in range(10_000):
        kind = "visit" if (i + number) % 2 == 0 else "incident"
        sent = Sent(
            kind=kind,
            key=str(uuid.uuid4()),
            body=checkin() if kind == "visit" else overdose(),
            token=burst.tokens["dana.desk" if kind == "visit" else "nina.nurse"],
        )
        with burst.lock:
            burst.sent.append(sent)
        try:
            send(burst.server, sent)
        except (OSError, http.client.HTTPException):
            return  # killed mid-request: this one is unacknowledged
        if sent.status not in (200, 201):
            with burst.lock:
                burst.problems.append(f"{sent.kind}: {sent.status} {sent.answer}")
            return


def ids(db: Scratch, sql: str) -> set[int]:
    return {int(row[0]) for row in db.rows(sql)}


def test_a_server_killed_mid_burst_keeps_every_acknowledged_write_whole(tmp_path: Path) -> None:
    with scratch_database("crash") as db:
        tokens = prepare(db)
        server = Server(db, tmp_path / "server.log")
        server.start()
        burst = Burst(server, tokens)
        devices = [threading.Thread(target=device, args=(burst, n)) for n in range(DEVICES)]
        for thread in devices:
            thread.start()
        deadline = time.monotonic() + 30
        while burst.acknowledged() < KILL_AFTER and time.monotonic() < deadline:
            assert not burst.problems, burst.problems
            time.sleep(0.01)
        server.kill()
        for thread in devices:
            thread.join(timeout=30)
        assert not burst.problems, burst.problems
        assert "database is locked" not in server.log.read_text(errors="replace")
        acknowledged = [s for s in burst.sent if s.status in (200, 201)]
        unanswered = [s for s in burst.sent if s.status is None]
        assert len(acknowledged) >= KILL_AFTER
        assert unanswered, "the kill should catch requests in flight"
        first_answers = {s.key: s.answer for s in acknowledged}

        # Back up; the devices retry what got no answer, and one acknowledged record of each
        # kind, with the same keys and bodies.
        server.start()
        retried = unanswered + [
            next(s for s in acknowledged if s.kind == kind) for kind in ("visit", "incident")
        ]
        for sent in retried:
            was = sent.answer if sent.status is not None else None
            send(server, sent)
            assert sent.status in (200, 201), (sent.kind, sent.status, sent.answer)
            if was is not None:
                assert (sent.status, sent.answer) == (200, was)
        server.kill()

        answered = {s.key: s for s in burst.sent}
        visit_ids = {s.answer["id"] for s in answered.values() if s.kind == "visit"}
        incidents = {s.answer["id"]: s.answer for s in answered.values() if s.kind == "incident"}

        # Everything acknowledged before the kill is there, as it was acknowledged.
        in_db_visits = ids(db, "SELECT id FROM floor_visit")
        in_db_incidents = ids(db, "SELECT id FROM incidents_incident")
        acked_visits = {a["id"] for k, a in first_answers.items() if "interventions" not in a}
        acked_incidents = {a["id"]: a for a in first_answers.values() if "interventions" in a}
        assert acked_visits <= in_db_visits
        assert set(acked_incidents) <= in_db_incidents
        steps = {
            (int(i), int(s))
            for i, s in db.rows("SELECT incident_id, id FROM incidents_intervention")
        }
        for incident_id, answer in acked_incidents.items():
            assert {(incident_id, step["id"]) for step in answer["interventions"]} <= steps

        # One record per key: retries found the first record or made the only one.
        assert in_db_visits == visit_ids
        assert in_db_incidents == set(incidents)

        # Nothing half-written.
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
