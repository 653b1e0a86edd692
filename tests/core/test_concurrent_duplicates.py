"""A duplicate sent while the first is still being saved (checklist item 22): a tablet retrying
on a slow connection while its first request is still in flight. The idempotency key's unique
constraint decides: one request makes the record, the other is answered 409 ``in_flight`` and
writes nothing; sent again once the first has finished, it gets the first's answer (200).

Replays and reused keys one after another are tested in tests/durability/test_idempotency.py
and tests/api/test_writes.py."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from saferoom.api import actions as api_actions
from saferoom.core import idempotency
from saferoom.core.models import IdempotencyKey
from saferoom.incidents.models import Incident, Intervention
from tests.api.conftest import Api, api_nurse, token  # noqa: F401 - fixture


def ago(minutes: float) -> str:
    return (timezone.now() - dt.timedelta(minutes=minutes)).isoformat()


def overdose() -> dict[str, Any]:
    return {
        "location": "lounge",
        "kind": "opioid",
        "onset_at": ago(10),
        "interventions": [
            {"kind": "stimulation", "at": ago(9)},
            {"kind": "naloxone", "at": ago(8), "naloxone_mg": "0.4", "naloxone_route": "IM"},
        ],
    }


@pytest.mark.django_db
def test_a_duplicate_that_raced_past_the_lookup_gets_409_and_writes_nothing(request, monkeypatch):
    """The race, made certain: the duplicate's look-up of its key finds nothing (as when the
    first had not yet committed), so only the database's unique constraint can stop it."""
    api = request.getfixturevalue("api_nurse")
    key, body = str(uuid.uuid4()), overdose()
    first = api.post("api:incident_create", {"slug": "riverside"}, body, key=key)
    assert first.status_code == 201
    monkeypatch.setattr(api_actions, "replayed", lambda **_: None)
    duplicate = api.post("api:incident_create", {"slug": "riverside"}, body, key=key)
    assert duplicate.status_code == 409, duplicate.content
    assert duplicate.json()["code"] == "in_flight"
    assert "still being saved" in duplicate.json()["detail"]
    assert (Incident.objects.count(), Intervention.objects.count()) == (1, 2)
    monkeypatch.undo()
    again = api.post("api:incident_create", {"slug": "riverside"}, body, key=key)
    assert again.status_code == 200
    assert again.json() == first.json()


@pytest.mark.django_db(transaction=True)
def test_two_identical_requests_at_the_same_moment_make_one_incident(nurse, monkeypatch):
    """Two threads, two connections, the same request, both looking the key up before either
    has saved (a barrier holds them there): one makes the incident, the other gets 409.

    PostgreSQL only: SQLite takes the write lock when a transaction begins, so there the second
    request waits for the first and replays it (and the test database is a shared in-memory
    one, whose table locks ignore the busy timeout). Concurrent writers on a real SQLite file
    are tested in tests/durability/test_database_settings.py."""
    if connection.vendor != "postgresql":
        pytest.skip("the race needs two writers at once: PostgreSQL")
    secret = token(nurse)
    key, body = str(uuid.uuid4()), overdose()
    real = idempotency.replayed
    barrier = threading.Barrier(2, timeout=10)

    def replayed(**kwargs: Any) -> int | None:
        found = real(**kwargs)
        barrier.wait()  # both have looked, neither has written
        return found

    monkeypatch.setattr(api_actions, "replayed", replayed)
    answers: list[int] = []

    def send() -> None:
        try:
            response = Api(secret).post("api:incident_create", {"slug": "riverside"}, body, key=key)
            answers.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [201, 409]
    assert (Incident.objects.count(), Intervention.objects.count()) == (1, 2)
    assert IdempotencyKey.objects.filter(key=key).count() == 1
