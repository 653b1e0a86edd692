"""Atomic multi-record writes (checklist item 21): a write that makes several rows (an incident
and its interventions, a give-out and the stock level, a registration and its audit event and
idempotency key) either happens whole or not at all. Each test makes the write fail part-way,
after some of its rows are written, and finds the database exactly as it was: no incident
without its interventions, no stock taken without a movement, no record without its audit
event, no idempotency key pointing at nothing. A retry with the same key then succeeds."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.test import Client as HttpClient
from django.utils import timezone

from saferoom.care.supplies.models import StockLevel
from saferoom.core import audit_chain
from saferoom.core.clinical import NEVER_DELETED
from saferoom.core.models import AuditEvent, IdempotencyKey
from tests.api.conftest import Api, api_desk, api_nurse, floor_a, supply  # noqa: F401 - fixtures
from tests.durability.test_idempotency import anonymous_checkin, emergency, registration
from tests.floor.conftest import afternoon  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


class Injected(RuntimeError):
    """The failure this test injects, part-way through a write."""


@pytest.fixture
def fail_at_audit_event(monkeypatch) -> Callable[[int], list[int]]:
    """Make the n-th audit event of the next write fail: by then the rows before it are written
    (each action writes its audit events as it goes, inside its transaction)."""
    real = audit_chain.append

    def arm(n: int) -> list[int]:
        calls = [0]

        def append(fields: dict[str, Any]) -> AuditEvent:
            calls[0] += 1
            if calls[0] == n:
                raise Injected(f"injected failure at audit event {n}")
            return real(fields)

        monkeypatch.setattr(audit_chain, "append", append)
        return calls

    return arm


def snapshot() -> dict[str, Any]:
    counts = {label: apps.get_model(label).objects.count() for label in NEVER_DELETED}
    counts["audit"] = AuditEvent.objects.count()
    counts["keys"] = IdempotencyKey.objects.count()
    counts["stock"] = sorted(StockLevel.objects.values_list("item_id", "quantity"))
    return counts


def ago(minutes: float) -> str:
    return (timezone.now() - dt.timedelta(minutes=minutes)).isoformat()


OVERDOSE: dict[str, Any] = {
    "location": "lounge",
    "kind": "opioid",
    "interventions": [
        {"kind": "stimulation", "at": None},
        {"kind": "naloxone", "at": None, "naloxone_mg": "0.4", "naloxone_route": "IM"},
        {"kind": "ambulance_called", "at": None},
    ],
}


def overdose() -> dict[str, Any]:
    body: dict[str, Any] = {**OVERDOSE, "onset_at": ago(10)}
    body["interventions"] = [
        {**step, "at": ago(9 - i)} for i, step in enumerate(OVERDOSE["interventions"])
    ]
    return body


@pytest.mark.parametrize("fail_at", [2, 3, 4])
def test_an_incident_and_its_interventions_are_written_whole_or_not_at_all(
    request, fail_at_audit_event, fail_at
):
    api = request.getfixturevalue("api_nurse")
    before = snapshot()
    calls = fail_at_audit_event(fail_at)
    key = str(uuid.uuid4())
    body = overdose()
    response = api.post("api:incident_create", {"slug": "riverside"}, body, key=key)
    assert calls[0] == fail_at, "the failure came part-way through"
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert snapshot() == before
    # Nothing half-made blocks the retry.
    calls[0] = -1000
    retry = api.post("api:incident_create", {"slug": "riverside"}, body, key=key)
    assert retry.status_code == 201, retry.content
    assert len(retry.json()["interventions"]) == 3


def test_a_give_out_never_takes_stock_without_recording_the_movement(
    request, site_a, fail_at_audit_event
):
    api, floor = request.getfixturevalue("api_desk"), request.getfixturevalue("floor_a")
    floor.stock(supply(site_a), 10)
    visit = floor.visit()
    before = snapshot()
    calls = fail_at_audit_event(1)
    body = {"item": "foil", "quantity": 3, "visit_id": visit.pk}
    response = api.post("api:supply_give", {"slug": "riverside"}, body)
    assert calls[0] == 1
    assert response.status_code == 500
    assert snapshot() == before
    assert StockLevel.objects.get(site=site_a, item=supply(site_a)).quantity == 10


FORMS = {
    "registration": (registration, "desk"),
    "anonymous check-in": (anonymous_checkin, "desk"),
    "emergency": (emergency, "nurse"),
}


@pytest.mark.parametrize("form", FORMS)
def test_a_form_that_fails_part_way_leaves_nothing_behind(
    form, request, site_a, fail_at_audit_event
):
    request.getfixturevalue("afternoon")  # the site is open
    make, persona = FORMS[form]
    browser = HttpClient(raise_request_exception=False)
    browser.force_login(request.getfixturevalue(persona))
    url, data, _other = make(site_a)
    before = snapshot()
    calls = fail_at_audit_event(1)  # the write's own event, after its rows
    response = browser.post(url, data)
    assert calls[0] >= 1
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
    assert snapshot() == before
    calls[0] = -1000
    assert browser.post(url, data).status_code in (200, 302)
    assert snapshot() != before
