"""Recording through the API: check-in, sessions, incidents with interventions and supplies
given — each through the same action as its page, each idempotent, each refusing bad input with
a clear answer and nothing written."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse

from saferoom.care.supplies.models import StockLevel, StockMovement
from saferoom.clients.codes import new_display_code
from saferoom.core.models import AuditEvent
from saferoom.floor.models import ConsumptionSession, Visit
from saferoom.incidents.models import Incident, Intervention
from tests.api.conftest import ELIGIBLE, Floor, booth, supply

SITE = "riverside"


def checkin(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "anonymous": True,
        "planned_route": "inject",
        "planned_substances": ["heroin"],
        "otherwise_location": "street",
        "would_use_alone": "yes",
        "eligibility": ELIGIBLE,
    }
    body.update(overrides)
    return body


def as_sent(moment: dt.datetime) -> str:
    """How the API writes a time (ISO 8601, UTC, to the millisecond)."""
    return str(DjangoJSONEncoder().default(moment))


def ago(minutes: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)).isoformat()


# --- check-in -------------------------------------------------------------------------------


def test_a_registered_client_is_checked_in_by_the_code_on_their_card(api_desk, desk, client_a):
    body = checkin(anonymous=False, client_code=client_a.display_code.lower().replace("-", ""))
    response = api_desk.post("api:visit_create", {"slug": SITE}, body)
    assert response.status_code == 201, response.content
    visit = Visit.objects.get()
    assert response.json() == {
        "id": visit.pk,
        "state": "waiting",
        "arrived_at": as_sent(visit.arrived_at),
        "anonymous": False,
        "planned_route": "inject",
    }
    assert (visit.client, visit.created_by, visit.otherwise_location) == (client_a, desk, "street")
    assert list(visit.planned_substances.values_list("code", flat=True)) == ["heroin"]
    assert client_a.display_code not in response.content.decode()
    assert AuditEvent.objects.filter(action="visit.checked_in", object_id=str(visit.pk)).exists()
    found = AuditEvent.objects.get(action="client.found")
    assert found.detail == {"by": "code", "via": "api"}


def test_an_anonymous_visit_is_checked_in(api_desk):
    response = api_desk.post("api:visit_create", {"slug": SITE}, checkin())
    assert response.status_code == 201
    assert Visit.objects.get(pk=response.json()["id"]).anonymous


def test_the_same_checkin_sent_again_returns_the_first_visit(api_desk):
    key = str(uuid.uuid4())
    first = api_desk.post("api:visit_create", {"slug": SITE}, checkin(), key=key)
    again = api_desk.post("api:visit_create", {"slug": SITE}, checkin(), key=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert Visit.objects.count() == 1


def test_the_same_key_with_another_checkin_is_a_conflict_and_writes_nothing(api_desk):
    key = str(uuid.uuid4())
    api_desk.post("api:visit_create", {"slug": SITE}, checkin(), key=key)
    response = api_desk.post(
        "api:visit_create", {"slug": SITE}, checkin(planned_route="smoke"), key=key
    )
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert "different request" in response.json()["detail"]
    assert Visit.objects.count() == 1


@pytest.mark.parametrize(
    ("key", "code"), [(None, "no_idempotency_key"), ("not-a-uuid", "bad_idempotency_key")]
)
def test_a_create_without_a_valid_idempotency_key_is_a_bad_request(api_desk, key, code):
    response = api_desk.post("api:visit_create", {"slug": SITE}, checkin(), key=key)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["field"] == "Idempotency-Key"
    assert not Visit.objects.exists()


def test_a_refused_checkin_names_the_field_and_never_the_client(api_desk, floor_a, client_a):
    floor_a.visit(client_a)  # already waiting
    body = checkin(anonymous=False, client_code=client_a.display_code)
    response = api_desk.post("api:visit_create", {"slug": SITE}, body)
    assert response.status_code == 422
    answer = response.json()
    assert (answer["code"], answer["field"]) == ("already_here", "client_code")
    assert answer["detail"].startswith("The client is already waiting in the queue")
    assert client_a.display_code not in response.content.decode()
    assert Visit.objects.count() == 1


def test_an_unknown_client_code_is_refused_and_the_search_is_audited(api_desk):
    code = new_display_code()
    response = api_desk.post(
        "api:visit_create", {"slug": SITE}, checkin(anonymous=False, client_code=code)
    )
    assert response.status_code == 422
    assert (response.json()["field"], response.json()["code"]) == ("client_code", "unknown_client")
    assert code not in response.content.decode()
    assert AuditEvent.objects.filter(action="client.search_not_found").count() == 1
    assert not Visit.objects.exists()


def test_an_ineligible_person_is_refused_with_the_reason(api_desk):
    body = checkin(eligibility={"first_time": False, "intoxicated": True})
    response = api_desk.post("api:visit_create", {"slug": SITE}, body)
    assert response.status_code == 422
    assert response.json()["code"] == "not_eligible"
    assert "visibly intoxicated" in response.json()["detail"]
    assert not Visit.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"planned_route": "teleport"}, "planned_route"),
        ({"planned_substances": []}, "planned_substances"),
        ({"planned_substances": ["unobtainium"]}, "planned_substances"),
        ({"otherwise_location": "moon"}, "otherwise_location"),
        ({"eligibility": {"intoxicated": "no"}}, "eligibility.intoxicated"),
    ],
)
def test_bad_checkin_details_are_refused_naming_the_field(api_desk, change, field):
    response = api_desk.post("api:visit_create", {"slug": SITE}, checkin(**change))
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert not Visit.objects.exists()


# --- sessions -------------------------------------------------------------------------------


def test_a_session_starts_in_the_seat_asked_for(api_nurse, nurse, floor_a, site_a):
    visit = floor_a.visit()
    body = {"visit_id": visit.pk, "space_id": booth(site_a, 2).pk}
    response = api_nurse.post("api:session_start", {"slug": SITE}, body)
    assert response.status_code == 201, response.content
    session = ConsumptionSession.objects.get()
    assert response.json()["id"] == session.pk
    assert (session.visit, session.space, session.seat, session.started_by) == (
        visit,
        booth(site_a, 2),
        1,
        nurse,
    )
    visit.refresh_from_db()
    assert visit.state == "in_space"


def test_a_session_start_replayed_returns_the_same_session(api_nurse, floor_a, site_a):
    body = {"visit_id": floor_a.visit().pk, "space_id": booth(site_a, 1).pk}
    key = str(uuid.uuid4())
    first = api_nurse.post("api:session_start", {"slug": SITE}, body, key=key)
    again = api_nurse.post("api:session_start", {"slug": SITE}, body, key=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    other = {**body, "space_id": booth(site_a, 3).pk}
    conflict = api_nurse.post("api:session_start", {"slug": SITE}, other, key=key)
    assert conflict.status_code == 409
    assert ConsumptionSession.objects.count() == 1


def test_a_taken_seat_is_refused_naming_the_seat(api_nurse, floor_a, site_a):
    floor_a.session(booth(site_a, 1))
    body = {"visit_id": floor_a.visit().pk, "space_id": booth(site_a, 1).pk}
    response = api_nurse.post("api:session_start", {"slug": SITE}, body)
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == ("seat_taken", "seat")
    assert ConsumptionSession.objects.count() == 1


def test_another_sites_visit_or_space_is_not_found(
    api_nurse, site_b, floor_a, site_a, admin, register
):
    theirs = Floor(site_b, admin).visit(register(site_b))
    body = {"visit_id": theirs.pk, "space_id": booth(site_a, 1).pk}
    response = api_nurse.post("api:session_start", {"slug": SITE}, body)
    assert (response.status_code, response.json()["field"]) == (404, "visit_id")
    body = {"visit_id": floor_a.visit().pk, "space_id": booth(site_b, 1).pk}
    response = api_nurse.post("api:session_start", {"slug": SITE}, body)
    assert (response.status_code, response.json()["field"]) == (404, "space_id")
    assert not ConsumptionSession.objects.exists()


def test_a_session_ends_to_after_care_once(api_nurse, floor_a, site_a):
    session = floor_a.session(booth(site_a, 1))
    kwargs = {"slug": SITE, "session_id": session.pk}
    key = str(uuid.uuid4())
    first = api_nurse.post("api:session_end", kwargs, {}, key=key)
    again = api_nurse.post("api:session_end", kwargs, {}, key=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["ended_at"] is not None
    assert first.json() == again.json()
    session.visit.refresh_from_db()
    assert session.visit.state == "aftercare"
    assert AuditEvent.objects.filter(action="session.ended").count() == 1
    conflict = api_nurse.post("api:session_end", kwargs, {"to_aftercare": False}, key=key)
    assert conflict.status_code == 409
    later = api_nurse.post("api:session_end", kwargs, {})
    assert (later.status_code, later.json()["code"]) == (422, "already_ended")


def test_a_session_can_end_with_the_person_leaving_the_site(api_nurse, floor_a, site_a):
    session = floor_a.session(booth(site_a, 1))
    response = api_nurse.post(
        "api:session_end", {"slug": SITE, "session_id": session.pk}, {"to_aftercare": False}
    )
    assert response.status_code == 201
    session.visit.refresh_from_db()
    assert session.visit.state == "left"


def test_an_unknown_session_is_not_found(api_nurse):
    response = api_nurse.post("api:session_end", {"slug": SITE, "session_id": 999999}, {})
    assert response.status_code == 404


# --- incidents ------------------------------------------------------------------------------


def overdose(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
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
    body.update(overrides)
    return body


def test_an_incident_is_recorded_with_each_intervention_at_its_time(api_nurse, nurse):
    body = overdose()
    response = api_nurse.post("api:incident_create", {"slug": SITE}, body)
    assert response.status_code == 201, response.content
    incident = Incident.objects.get()
    answer = response.json()
    assert (answer["id"], answer["kind"], answer["location"]) == (incident.pk, "opioid", "lounge")
    steps = list(incident.interventions.order_by("at"))
    assert [s.kind for s in steps] == [
        "stimulation",
        "naloxone",
        "ambulance_called",
        "ambulance_arrived",
    ]
    assert [s.at for s in steps] == [
        dt.datetime.fromisoformat(i["at"]) for i in body["interventions"]
    ]
    assert str(steps[1].naloxone_mg) == "0.40"
    assert [i["id"] for i in answer["interventions"]] == [s.pk for s in steps]
    assert all(s.by == nurse for s in steps)
    assert AuditEvent.objects.filter(action="incident.intervention").count() == 4
    assert AuditEvent.objects.filter(action="incident.started").count() == 1


def test_an_incident_replayed_returns_the_same_incident_and_interventions(api_nurse):
    body = overdose()
    key = str(uuid.uuid4())
    first = api_nurse.post("api:incident_create", {"slug": SITE}, body, key=key)
    again = api_nurse.post("api:incident_create", {"slug": SITE}, body, key=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert (Incident.objects.count(), Intervention.objects.count()) == (1, 4)


def test_an_incident_with_one_more_intervention_under_the_same_key_is_a_conflict(api_nurse):
    body = overdose()
    key = str(uuid.uuid4())
    api_nurse.post("api:incident_create", {"slug": SITE}, body, key=key)
    longer = {**body, "interventions": [*body["interventions"], {"kind": "airway", "at": ago(1)}]}
    response = api_nurse.post("api:incident_create", {"slug": SITE}, longer, key=key)
    assert response.status_code == 409
    assert (Incident.objects.count(), Intervention.objects.count()) == (1, 4)


@pytest.mark.parametrize(
    ("bad_step", "code"),
    [
        ({"kind": "naloxone", "at": "later", "naloxone_mg": "4", "naloxone_route": "IM"}, "future"),
        (
            {"kind": "naloxone", "at": "now", "naloxone_mg": "40", "naloxone_route": "IM"},
            "implausible_dose",
        ),
        ({"kind": "handed_over", "at": "now"}, "handover_before_arrival"),
        ({"kind": "airway", "at": "before"}, "before_onset"),
    ],
)
def test_one_refused_intervention_writes_nothing_at_all(api_nurse, bad_step, code):
    times = {"later": ago(-30), "now": ago(1), "before": ago(20)}
    step = {**bad_step, "at": times[bad_step["at"]]}
    body = overdose(kind="opioid", interventions=[*overdose()["interventions"][:3], step])
    # Without the ambulance's arrival, a hand-over to paramedics is out of order.
    response = api_nurse.post("api:incident_create", {"slug": SITE}, body)
    assert response.status_code == 422, response.content
    assert (response.json()["field"], response.json()["code"]) == ("interventions[3]", code)
    assert (Incident.objects.count(), Intervention.objects.count()) == (0, 0)
    assert not AuditEvent.objects.filter(action__startswith="incident.").exists()


def test_an_incident_time_without_a_time_zone_is_refused(api_nurse):
    naive = (dt.datetime.now() - dt.timedelta(minutes=5)).isoformat()  # noqa: DTZ005
    body = overdose(interventions=[{"kind": "airway", "at": naive}])
    response = api_nurse.post("api:incident_create", {"slug": SITE}, body)
    assert response.status_code == 422
    assert response.json()["field"] == "interventions[0].at"
    assert not Incident.objects.exists()


def test_an_incident_names_a_visit_of_the_site(api_nurse, floor_a):
    visit = floor_a.visit()
    response = api_nurse.post(
        "api:incident_create", {"slug": SITE}, overdose(visit_id=visit.pk, interventions=[])
    )
    assert response.status_code == 201
    assert Incident.objects.get().visit == visit
    assert response.json()["visit_id"] == visit.pk


# --- supplies -------------------------------------------------------------------------------


def test_supplies_given_to_a_visit_take_stock_down(api_desk, desk, floor_a, site_a):
    foil = supply(site_a)
    floor_a.stock(foil, 10)
    visit = floor_a.visit()
    body = {"item": "foil", "quantity": 3, "visit_id": visit.pk}
    response = api_desk.post("api:supply_give", {"slug": SITE}, body)
    assert response.status_code == 201, response.content
    movement = StockMovement.objects.get(kind="given")
    assert response.json() == {
        "id": movement.pk,
        "item": "foil",
        "quantity": 3,
        "visit_id": visit.pk,
        "at": as_sent(movement.at),
        "in_stock_after": 7,
    }
    assert (movement.by, movement.visit) == (desk, visit)
    assert StockLevel.objects.get(site=site_a, item=foil).quantity == 7


def test_a_give_out_replayed_takes_stock_down_once(api_desk, floor_a, site_a):
    floor_a.stock(supply(site_a), 10)
    key = str(uuid.uuid4())
    body = {"item": "foil", "quantity": 2}
    first = api_desk.post("api:supply_give", {"slug": SITE}, body, key=key)
    again = api_desk.post("api:supply_give", {"slug": SITE}, body, key=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    conflict = api_desk.post("api:supply_give", {"slug": SITE}, {**body, "quantity": 3}, key=key)
    assert conflict.status_code == 409
    assert StockLevel.objects.get(item=supply(site_a)).quantity == 8


def test_a_walk_in_with_a_card_is_given_supplies(api_desk, floor_a, site_a, client_a):
    floor_a.stock(supply(site_a), 10)
    body = {"item": "foil", "quantity": 1, "client_code": client_a.display_code}
    response = api_desk.post("api:supply_give", {"slug": SITE}, body)
    assert response.status_code == 201
    assert StockMovement.objects.get(kind="given").client == client_a
    assert client_a.display_code not in response.content.decode()


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"item": "foil", "quantity": 50}, "quantity", "not_enough_stock"),
        ({"item": "foil", "quantity": 0}, "quantity", "invalid"),
        ({"item": "foil", "quantity": "2"}, "quantity", "invalid"),
        ({"item": "caviar", "quantity": 1}, "item", "unknown_code"),
        ({"item": "heroin", "quantity": 1}, "item", "unknown_code"),
    ],
)
def test_a_give_out_that_cannot_be_is_refused_naming_the_field(
    api_desk, floor_a, site_a, body, field, code
):
    floor_a.stock(supply(site_a), 10)
    response = api_desk.post("api:supply_give", {"slug": SITE}, body)
    assert response.status_code == 422
    assert (response.json()["field"], response.json()["code"]) == (field, code)
    assert not StockMovement.objects.filter(kind="given").exists()


# --- hostile input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs", "raw"),
    [
        ("api:visit_create", {}, b"{not json"),
        ("api:visit_create", {}, b"[]"),
        ("api:visit_create", {}, b'{"planned_route": null}'),
        ("api:session_start", {}, b'{"visit_id": 1e400, "space_id": 1}'),
        ("api:session_start", {}, b'{"visit_id": 99999999999999999999999999, "space_id": 1}'),
        ("api:session_start", {}, b'{"visit_id": true, "space_id": 1}'),
        ("api:incident_create", {}, b'{"location": "door", "interventions": "lots"}'),
        ("api:incident_create", {}, b'{"location": "door", "onset_at": "yesterday"}'),
        ("api:supply_give", {}, b'{"item": "foil", "quantity": 1, "visit_id": -4}'),
        ("api:supply_give", {}, json.dumps({"item": "x" * 5000, "quantity": 1}).encode()),
        ("api:session_end", {"session_id": 99999999999999999999}, b"{}"),
    ],
)
def test_hostile_input_is_refused_clearly_and_never_a_server_error(api_manager, name, kwargs, raw):
    response = api_manager.http.post(
        reverse(name, kwargs={"slug": SITE, **kwargs}),
        raw,
        content_type="application/json",
        headers=api_manager.headers(str(uuid.uuid4())),
    )
    assert response.status_code in (400, 404, 422), response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json()["detail"]
    assert not Visit.objects.exists()


def test_a_session_end_needs_no_body(api_nurse, floor_a, site_a):
    session = floor_a.session(booth(site_a, 1))
    response = api_nurse.http.post(
        reverse("api:session_end", kwargs={"slug": SITE, "session_id": session.pk}),
        "",
        content_type="application/json",
        headers=api_nurse.headers(str(uuid.uuid4())),
    )
    assert response.status_code == 201
    session.visit.refresh_from_db()
    assert session.visit.state == "aftercare"


def test_a_create_without_a_body_says_so(api_desk):
    response = api_desk.http.post(
        reverse("api:visit_create", kwargs={"slug": SITE}),
        "",
        content_type="application/json",
        headers=api_desk.headers(str(uuid.uuid4())),
    )
    assert (response.status_code, response.json()["field"]) == (422, "body")


def test_a_value_that_fails_the_schema_is_never_echoed_back(api_desk, client_a):
    code = client_a.display_code
    body = checkin(anonymous=False, client_code=f"{code} {code} {code} {code}")
    response = api_desk.post("api:visit_create", {"slug": SITE}, body)
    assert (response.status_code, response.json()["field"]) == (422, "client_code")
    assert code not in response.content.decode()
    assert not Visit.objects.exists()
