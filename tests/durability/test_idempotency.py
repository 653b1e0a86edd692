"""Idempotency under replay: a double tap, a retry after a timeout, a van's outbox sent again.

The same key with the same details makes one record and answers with it; the same key with
other details (or for another kind of record) is refused with a message saying what to do,
and writes nothing. Checked through the desk's and the nurse's forms, and through the API as a
state machine (Hypothesis) that interleaves new records, replays and forged replays."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from saferoom.care.supplies.models import StockMovement
from saferoom.clients.models import Client
from saferoom.core import idempotency
from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent, IdempotencyKey
from saferoom.floor.models import Visit
from saferoom.incidents.models import Incident, Intervention
from saferoom.sites.models import Site
from tests.api.conftest import Api, api_nurse, floor_a, supply  # noqa: F401 - fixtures
from tests.clients.conftest import NDTMS
from tests.floor.conftest import afternoon, checkin_form, reason  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db
REUSED = "already sent with different details"


# --- The forms ----------------------------------------------------------------------------


def anonymous_checkin(site: Site) -> tuple[str, dict[str, Any], dict[str, Any]]:
    first = checkin_form(site, old_enough="yes")
    return (
        reverse("floor:checkin_anonymous", kwargs={"site": site.slug}),
        first,
        {**first, "route": "smoke"},
    )


def registration(site: Site) -> tuple[str, dict[str, Any], dict[str, Any]]:
    first = {**NDTMS, "idempotency_key": str(uuid.uuid4())}
    return (
        reverse("clients:register", kwargs={"site": site.slug}),
        first,
        {**first, "initials": "XW"},
    )


def emergency(site: Site) -> tuple[str, dict[str, Any], dict[str, Any]]:
    first = {"idempotency_key": str(uuid.uuid4()), "location": "lounge", "kind": "opioid"}
    return reverse("incidents:new", kwargs={"site": site.slug}), first, {**first, "kind": "seizure"}


def turnaway(site: Site) -> tuple[str, dict[str, Any], dict[str, Any]]:
    first = {
        "idempotency_key": str(uuid.uuid4()),
        "who": "anonymous",
        "reason": reason(site, "intoxicated").pk,
    }
    return (
        reverse("floor:turnaway", kwargs={"site": site.slug}),
        first,
        {**first, "reason": reason(site, "full").pk},
    )


FORMS: dict[str, tuple[Any, str, Any]] = {
    "anonymous check-in": (anonymous_checkin, "as_desk", Visit),
    "registration": (registration, "as_desk", Client),
    "emergency": (emergency, "as_nurse", Incident),
    "turn-away": (turnaway, "as_desk", Visit),
}


@pytest.mark.parametrize("form", FORMS)
def test_a_form_sent_three_times_makes_one_record_and_another_body_is_refused(
    form: str, site_a: Site, request: pytest.FixtureRequest
) -> None:
    build, persona, model = FORMS[form]
    http: HttpClient = request.getfixturevalue(persona)
    url, first, other = build(site_a)
    answers = [http.post(url, first) for _ in range(3)]
    assert {a.status_code for a in answers} <= {200, 302}
    assert model.objects.count() == 1
    assert len({a.get("Location") for a in answers}) == 1  # the same record each time
    events = AuditEvent.objects.count()

    refused = http.post(url, other)
    assert refused.status_code in (200, 422)
    assert REUSED in refused.content.decode()
    assert model.objects.count() == 1
    assert AuditEvent.objects.exclude(action__contains="view").count() == events


# --- The API, as a state machine -----------------------------------------------------------


def visit_body(route: str) -> dict[str, Any]:
    return {
        "anonymous": True,
        "planned_route": route,
        "planned_substances": ["heroin"],
        "eligibility": {"first_time": False, "intoxicated": False, "old_enough": True},
    }


def incident_body(steps: int) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {
        "location": "lounge",
        "kind": "opioid",
        "onset_at": (now - dt.timedelta(minutes=10)).isoformat(),
        "interventions": [
            {"kind": "stimulation", "at": (now - dt.timedelta(minutes=9 - i)).isoformat()}
            for i in range(steps)
        ],
    }


def supply_body(quantity: int) -> dict[str, Any]:
    return {"item": "foil", "quantity": quantity}


ENDPOINTS = {
    "visit": "api:visit_create",
    "incident": "api:incident_create",
    "supply": "api:supply_give",
}
BODIES = {
    "visit": st.sampled_from(["inject", "smoke"]).map(visit_body),
    "incident": st.integers(min_value=0, max_value=3).map(incident_body),
    "supply": st.integers(min_value=1, max_value=5).map(supply_body),
}


def counts() -> dict[str, int]:
    return {
        "visit": Visit.objects.count(),
        "incident": Incident.objects.count(),
        "intervention": Intervention.objects.count(),
        "supply": StockMovement.objects.filter(quantity__lt=0).count(),
    }


class Replays(RuleBasedStateMachine):
    """A field tablet that records, retries and (by a bug, or a forger) reuses keys."""

    api: Api
    slug: str
    sent = Bundle("sent")

    def __init__(self) -> None:
        super().__init__()
        self.start = counts()
        self.made = {"visit": 0, "incident": 0, "intervention": 0, "supply": 0}

    def post(self, kind: str, key: str, body: dict[str, Any]) -> Any:
        return self.api.post(ENDPOINTS[kind], {"slug": self.slug}, body, key=key)

    @rule(target=sent, kind=st.sampled_from(sorted(ENDPOINTS)), data=st.data())
    def record(self, kind: str, data: Any) -> tuple[str, str, dict[str, Any], Any]:
        body = data.draw(BODIES[kind])
        key = str(uuid.uuid4())
        response = self.post(kind, key, body)
        assert response.status_code == 201, response.content
        self.made[kind] += 1
        if kind == "incident":
            self.made["intervention"] += len(body["interventions"])
        return kind, key, body, response.json()

    @rule(sent=sent)
    def retry(self, sent: tuple[str, str, dict[str, Any], Any]) -> None:
        kind, key, body, answer = sent
        response = self.post(kind, key, body)
        assert response.status_code == 200
        assert response.json() == answer

    @rule(sent=sent, data=st.data())
    def reuse_with_other_details(self, sent: tuple[str, str, dict[str, Any], Any], data) -> None:
        kind, key, body, _answer = sent
        other = data.draw(BODIES[kind].filter(lambda b: b != body))
        response = self.post(kind, key, json.loads(json.dumps(other)))
        assert response.status_code == 409, response.content
        assert response.json()["code"] == "idempotency_key_reused"

    @rule(sent=consumes(sent), kind=st.sampled_from(sorted(ENDPOINTS)), data=st.data())
    def reuse_for_another_kind(self, sent: tuple[str, str, dict[str, Any], Any], kind, data):
        was, key, _body, _answer = sent
        if kind == was:
            return
        response = self.post(kind, key, data.draw(BODIES[kind]))
        assert response.status_code == 409, response.content

    @invariant()
    def one_record_per_key(self) -> None:
        now = counts()
        assert {k: now[k] - self.start[k] for k in now} == self.made


def test_replayed_and_reused_keys_never_make_a_second_record(
    api_nurse: Api,  # noqa: F811 - the fixture
    floor_a: Any,  # noqa: F811 - the fixture
    site_a: Site,
) -> None:
    floor_a.stock(supply(site_a), 10_000)
    Replays.api = api_nurse
    Replays.slug = site_a.slug
    run_state_machine_as_test(
        Replays,
        settings=settings(
            max_examples=15,
            stateful_step_count=12,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )


# --- The fingerprint of what was sent -------------------------------------------------------


def test_a_fingerprint_cannot_be_tested_against_guesses_without_the_secret_key(
    settings: Any,
):
    details = {"site": 1, "note": "left by the back door"}
    keyed = idempotency.fingerprint(details)

    assert keyed != hashlib.sha256(json.dumps(details, sort_keys=True).encode()).hexdigest()
    assert keyed != idempotency.fingerprint(details, secret="another secret key " * 3)
    settings.SECRET_KEY = "a different secret key for this deployment " * 2
    assert idempotency.fingerprint(details) != keyed


def test_a_replay_is_still_known_after_the_secret_key_is_rotated(as_desk, site_a, settings):
    url, first, _other = anonymous_checkin(site_a)
    assert as_desk.post(url, first).status_code in (200, 302)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the secret key after a rotation, long enough to pass " * 2

    again = as_desk.post(url, first)

    assert again.status_code in (200, 302)
    assert REUSED not in again.content.decode()
    assert Visit.objects.count() == 1


def test_a_key_remembered_before_fingerprints_were_keyed_still_answers_its_replay(
    as_desk, site_a, desk
):
    url, first, _other = anonymous_checkin(site_a)
    assert as_desk.post(url, first).status_code in (200, 302)
    visit = Visit.objects.get()
    details = {"visit": visit.pk, "what": "a check-in"}
    key = uuid.uuid4()
    idempotency.remember(key=key, by=desk, action="test.replay", details=details, obj=visit)
    plain = json.dumps(details, sort_keys=True, default=str, separators=(",", ":"))
    IdempotencyKey.objects.filter(key=key).update(
        fingerprint=hashlib.sha256(plain.encode()).hexdigest()
    )

    assert idempotency.replayed(key=key, by=desk, action="test.replay", details=details) == visit.pk
    with pytest.raises(ActionRefused):
        idempotency.replayed(
            key=key, by=desk, action="test.replay", details={**details, "what": "other"}
        )
