"""The incident pages through HTTP, as a tablet sends them: the emergency screen's taps (plain
POST and htmx), refusals (422, the message, nothing changed), the record, corrections, the
printable timeline, the list and the review queue, and who may do what."""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from saferoom.core.models import AuditEvent
from saferoom.core.roles import Role
from saferoom.incidents import actions
from saferoom.incidents.models import Incident, IncidentAmendment, IncidentNote, Intervention
from tests.conftest import login, make_user
from tests.incidents.conftest import HTMX, key, url
from tests.versions import version_of


def tap_form(kind: str, **values: str) -> dict[str, str]:
    return {"idempotency_key": key(), "kind": kind, **values}


def text(response: Any) -> str:
    return html.unescape(str(response.content.decode()))


# --- The emergency screen -------------------------------------------------------------------


def test_the_screen_has_big_preset_buttons_each_its_own_form_and_key(as_nurse, overdose, site_a):
    response = as_nurse.get(url(site_a, "screen", pk=overdose.pk))
    assert response.status_code == 200
    page = text(response)
    assert "EMERGENCY in Booth 1</h1>" in page
    assert overdose.client.display_code in page
    for label in (
        "Naloxone 0.4 mg IM",
        "Naloxone 0.8 mg IM",
        "Naloxone 2 mg IN",
        "Oxygen 2 L/min",
        "Oxygen 15 L/min",
        "Ambulance called",
        "Ambulance arrived",
        "Handed to paramedics",
        "AVPU: U",
        "SpO₂ 90%",
        "Breathing 8/min",
        "CPR started",
        "Recovered on site",
        "Transferred to hospital",
    ):
        assert f">{label}</button>" in page, label
    keys = re.findall(r'name="idempotency_key" value="([0-9a-f-]{36})"', page)
    assert len(keys) == len(set(keys)) > 30
    assert AuditEvent.objects.filter(
        action="client.viewed", detail__page="incident_screen"
    ).exists()


def test_a_plain_tap_records_and_comes_back_to_the_screen(as_nurse, overdose, site_a, nurse):
    response = as_nurse.post(
        url(site_a, "tap", pk=overdose.pk),
        tap_form("naloxone", naloxone_mg="0.4", naloxone_route="IM"),
    )
    assert response.status_code == 302
    assert response["Location"] == url(site_a, "screen", pk=overdose.pk)
    step = Intervention.objects.get()
    assert (step.kind, step.naloxone_mg, step.by) == ("naloxone", Decimal("0.4"), nurse)
    page = text(as_nurse.get(response["Location"]))
    assert "Recorded at" in page
    assert "Naloxone 0.4 mg IM" in page


def test_an_htmx_tap_answers_with_the_fresh_timeline_and_new_keys(as_nurse, overdose, site_a):
    form = tap_form("oxygen", oxygen_l_min="6")
    response = as_nurse.post(url(site_a, "tap", pk=overdose.pk), form, **HTMX)
    assert response.status_code == 200
    page = text(response)
    assert page.lstrip().startswith('<div id="incident-live"')
    assert "<html" not in page
    assert "Oxygen 6 L/min" in page.split('id="h-timeline"')[1]
    assert form["idempotency_key"] not in page


def test_a_double_tap_through_http_is_one_record(as_nurse, overdose, site_a):
    form = tap_form("naloxone", naloxone_mg="0.4", naloxone_route="IM")
    first = as_nurse.post(url(site_a, "tap", pk=overdose.pk), form, **HTMX)
    second = as_nurse.post(url(site_a, "tap", pk=overdose.pk), form, **HTMX)
    assert first.status_code == second.status_code == 200
    assert Intervention.objects.count() == 1


def test_two_doses_are_two_taps_with_two_times(as_nurse, overdose, site_a, afternoon):
    for _ in range(2):
        as_nurse.post(
            url(site_a, "tap", pk=overdose.pk),
            tap_form("naloxone", naloxone_mg="0.4", naloxone_route="IM"),
        )
        afternoon.shift(dt.timedelta(minutes=3))
    times = list(Intervention.objects.values_list("at", flat=True))
    assert len(times) == 2
    assert times[1] - times[0] >= dt.timedelta(minutes=3)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (
            {"kind": "naloxone", "naloxone_mg": "20", "naloxone_route": "IM"},
            "20 mg is not a plausible naloxone dose. One dose is between 0.04 mg and 10 mg",
        ),
        (
            {"kind": "naloxone", "naloxone_mg": "0.4", "naloxone_route": "XX"},
            "Say how naloxone was given",
        ),
        ({"kind": "oxygen", "oxygen_l_min": "40"}, "Oxygen flow is between 1 and 15"),
        ({"kind": "ambulance_arrived"}, "The ambulance cannot arrive"),
        ({"kind": "handed_over"}, "needs the ambulance to have arrived first"),
        ({"kind": "observation", "spo2": "140"}, "SpO₂ is a percentage"),
        ({"kind": "teleport"}, "Choose what was done from the buttons shown."),
        (
            {"kind": "stimulation", "at": "2026-03-10T13:00"},
            "is before the onset",
        ),
        ({"kind": "stimulation", "at": "yesterday"}, "Give the date and time"),
    ],
)
def test_a_refused_tap_answers_422_with_the_message_and_changes_nothing(
    as_nurse, overdose, site_a, form, message
):
    before = AuditEvent.objects.filter(action__startswith="incident.").count()
    for extra in ({}, HTMX):
        response = as_nurse.post(
            url(site_a, "tap", pk=overdose.pk), {"idempotency_key": key(), **form}, **extra
        )
        assert response.status_code == 422
        page = text(response)
        assert message in page
        assert 'role="alert"><p class="message error">' in page
    assert not Intervention.objects.exists()
    assert AuditEvent.objects.filter(action__startswith="incident.").count() == before


def test_a_tap_without_a_key_is_refused(as_nurse, overdose, site_a):
    response = as_nurse.post(url(site_a, "tap", pk=overdose.pk), {"kind": "stimulation"})
    assert response.status_code == 422
    assert "This form is out of date" in text(response)
    assert not Intervention.objects.exists()


def test_two_incidents_at_once_do_not_mix(as_nurse, overdose, at_the_door, site_a):
    as_nurse.post(
        url(site_a, "tap", pk=overdose.pk),
        tap_form("naloxone", naloxone_mg="0.4", naloxone_route="IM"),
    )
    as_nurse.post(url(site_a, "tap", pk=at_the_door.pk), tap_form("oxygen", oxygen_l_min="4"))
    assert [s.kind for s in overdose.interventions.all()] == ["naloxone"]
    assert [s.kind for s in at_the_door.interventions.all()] == ["oxygen"]
    door = text(as_nurse.get(url(site_a, "screen", pk=at_the_door.pk))).split('id="h-timeline"')[1]
    assert "Oxygen 4 L/min" in door
    assert "Naloxone" not in door
    booth = text(as_nurse.get(url(site_a, "screen", pk=overdose.pk))).split('id="h-timeline"')[1]
    assert "Naloxone 0.4 mg IM" in booth
    assert "Oxygen" not in booth


def test_the_kind_buttons_say_what_is_happening(as_nurse, overdose, site_a):
    response = as_nurse.post(url(site_a, "kind", pk=overdose.pk), {"kind": "opioid"}, **HTMX)
    assert response.status_code == 200
    assert 'aria-pressed="true">Opioid overdose</button>' in text(response)
    bad = as_nurse.post(url(site_a, "kind", pk=overdose.pk), {"kind": "gremlins"})
    assert bad.status_code == 422
    overdose.refresh_from_db()
    assert overdose.kind == "opioid"


def test_the_hospital_button_needs_no_typing(as_nurse, overdose, site_a):
    page = text(as_nurse.get(url(site_a, "screen", pk=overdose.pk)))
    assert 'value="Nearest emergency department"' in page
    response = as_nurse.post(
        url(site_a, "outcome", pk=overdose.pk),
        {"outcome": "hospital", "hospital": "Nearest emergency department"},
    )
    assert response.status_code == 302
    assert response["Location"] == url(site_a, "detail", pk=overdose.pk)
    overdose.refresh_from_db()
    assert overdose.outcome == "hospital"


def test_an_outcome_refusal_shows_on_the_record_page(as_nurse, overdose, site_a):
    response = as_nurse.post(
        url(site_a, "outcome", pk=overdose.pk), {"outcome": "hospital", "from": "detail"}
    )
    assert response.status_code == 422
    assert "Say which hospital" in text(response)
    assert "Record the outcome" in text(response)
    overdose.refresh_from_db()
    assert overdose.outcome == ""


# --- Starting stand-alone -------------------------------------------------------------------


def test_the_desk_starts_an_incident_at_the_door_and_logs_on_the_screen(as_desk, site_a, desk):
    form = as_desk.get(url(site_a, "new"))
    assert form.status_code == 200
    response = as_desk.post(
        url(site_a, "new"),
        {"idempotency_key": key(), "location": "door", "location_detail": "front step"},
    )
    incident = Incident.objects.get()
    assert response["Location"] == url(site_a, "screen", pk=incident.pk)
    assert incident.where() == "At the door or entrance: front step"
    screen = text(as_desk.get(response["Location"]))
    assert "EMERGENCY: At the door or entrance: front step</h1>" in screen
    assert (incident.client, incident.started_by) == (None, desk)
    tapped = as_desk.post(url(site_a, "tap", pk=incident.pk), tap_form("ambulance_called"))
    assert tapped.status_code == 302
    assert incident.interventions.get().by == desk


def test_a_start_with_no_place_is_refused_next_to_the_field(as_nurse, site_a):
    response = as_nurse.post(url(site_a, "new"), {"idempotency_key": key(), "location": "moon"})
    assert response.status_code == 422
    assert "Choose where it is happening from the places shown." in text(response)
    response = as_nurse.post(url(site_a, "new"), {"idempotency_key": key(), "location": "space"})
    assert response.status_code == 422
    assert "Choose which booth or room" in text(response)
    assert not Incident.objects.exists()


# --- The record, corrections, the printable timeline ----------------------------------------


def test_a_correction_needs_a_reason_and_keeps_the_original(as_nurse, at_the_door, site_a):
    page = as_nurse.get(url(site_a, "amend", pk=at_the_door.pk))
    assert page.status_code == 200
    new_time = at_the_door.site.local(at_the_door.onset_at - dt.timedelta(minutes=2))
    form = {
        "idempotency_key": key(),
        "field": "onset_at",
        "new_at": new_time.strftime("%Y-%m-%dT%H:%M:%S"),
        "reason": "",
        "version": version_of(at_the_door),
    }
    refused = as_nurse.post(url(site_a, "amend", pk=at_the_door.pk), form)
    assert refused.status_code == 422
    assert "Say why the time is corrected." in text(refused)
    assert not IncidentAmendment.objects.exists()
    form["reason"] = "Seen on the camera two minutes earlier."
    done = as_nurse.post(url(site_a, "amend", pk=at_the_door.pk), form)
    assert done.status_code == 302
    record = text(as_nurse.get(url(site_a, "detail", pk=at_the_door.pk)))
    assert "Onset corrected from" in record
    assert "Seen on the camera two minutes earlier." in record
    assert Incident.objects.values_list("onset_at", flat=True).get() == at_the_door.onset_at


def test_the_desk_cannot_correct_times(as_desk, overdose, site_a):
    assert as_desk.get(url(site_a, "amend", pk=overdose.pk)).status_code == 403


def test_an_intervention_is_struck_out_through_its_form(as_nurse, overdose, site_a, tap):
    step = tap(overdose, "naloxone", naloxone_mg="2", naloxone_route="IN")
    link = url(site_a, "amend_intervention", pk=overdose.pk, step=step.pk)
    assert link in text(as_nurse.get(url(site_a, "detail", pk=overdose.pk)))
    response = as_nurse.post(
        link,
        {
            "idempotency_key": key(),
            "change": "error",
            "reason": "Wrong button.",
            "version": version_of(overdose),
        },
    )
    assert response.status_code == 302
    record = text(as_nurse.get(url(site_a, "detail", pk=overdose.pk)))
    assert "<del>Naloxone 2 mg IN</del>" in record
    assert "Struck out by nina.nurse" in record
    assert Intervention.objects.filter(pk=step.pk).exists()


def test_another_incidents_intervention_answers_404(as_nurse, overdose, at_the_door, site_a, tap):
    step = tap(at_the_door, "stimulation")
    link = url(site_a, "amend_intervention", pk=overdose.pk, step=step.pk)
    assert as_nurse.get(link).status_code == 404


def test_the_printable_timeline_shows_every_step_with_its_time(as_nurse, overdose, site_a, tap):
    steps = [
        tap(overdose, "naloxone", naloxone_mg="0.4", naloxone_route="IM"),
        tap(overdose, "oxygen", oxygen_l_min="10"),
        tap(overdose, "ambulance_called"),
    ]
    page = text(as_nurse.get(url(site_a, "timeline", pk=overdose.pk)))
    assert "incidents.css" in page
    for step in steps:
        assert site_a.local(step.at).strftime("%H:%M:%S") in page
        assert step.summary() in page
    assert "data-print" in page


def test_notes_and_debrief_through_the_record(as_nurse, overdose, site_a):
    response = as_nurse.post(
        url(site_a, "note", pk=overdose.pk),
        {"idempotency_key": key(), "kind": "debrief", "text": "Oxygen reached us in 40 s."},
    )
    assert response.status_code == 302
    assert IncidentNote.objects.get().kind == "debrief"
    empty = as_nurse.post(
        url(site_a, "note", pk=overdose.pk), {"idempotency_key": key(), "kind": "note", "text": ""}
    )
    assert empty.status_code == 422
    assert "Write the note first" in text(empty)


# --- Review and close; lists ----------------------------------------------------------------


def test_only_a_manager_reviews_and_closes(as_nurse, as_manager, overdose, site_a, nurse):
    actions.set_kind(incident=overdose, kind="opioid", by=nurse)
    early = as_manager.post(url(site_a, "close", pk=overdose.pk), {"note": "ok"})
    assert early.status_code == 422
    assert "Record the outcome first" in text(early)
    actions.record_outcome(incident=overdose, outcome="recovered", by=nurse)
    assert as_nurse.post(url(site_a, "close", pk=overdose.pk), {"note": "ok"}).status_code == 403
    queue = text(as_manager.get(url(site_a, "review")))
    assert url(site_a, "detail", pk=overdose.pk) in queue
    done = as_manager.post(url(site_a, "close", pk=overdose.pk), {"note": "Textbook response."})
    assert done.status_code == 302
    overdose.refresh_from_db()
    assert overdose.is_closed
    assert url(site_a, "detail", pk=overdose.pk) not in text(as_manager.get(url(site_a, "review")))
    after = as_nurse.post(url(site_a, "tap", pk=overdose.pk), tap_form("stimulation"))
    assert after.status_code == 422
    assert "reviewed and closed" in text(after)


def test_the_list_shows_open_incidents_first(as_desk, overdose, at_the_door, site_a, manager):
    actions.record_outcome(incident=at_the_door, outcome="recovered", by=manager)
    actions.review_and_close(incident=at_the_door, by=manager)
    page = text(as_desk.get(url(site_a, "list")))
    open_part, closed_part = page.split('id="h-closed"')
    assert url(site_a, "screen", pk=overdose.pk) in open_part
    assert url(site_a, "detail", pk=at_the_door.pk) in closed_part
    assert "Review queue" not in page  # the desk does not review


def test_the_evaluator_gets_403_everywhere(as_evaluator, overdose, site_a):
    for name, kwargs in (
        ("list", {}),
        ("screen", {"pk": overdose.pk}),
        ("detail", {"pk": overdose.pk}),
    ):
        assert as_evaluator.get(url(site_a, name, **kwargs)).status_code == 403
    assert (
        as_evaluator.post(url(site_a, "tap", pk=overdose.pk), tap_form("stimulation")).status_code
        == 403
    )


def test_another_sites_incident_answers_404(site_b, overdose, nurse, site_a):
    there = login(make_user("bea.b", (Role.FLOOR, site_b)))
    assert there.get(url(site_b, "screen", pk=overdose.pk)).status_code == 404
    assert there.get(url(site_a, "screen", pk=overdose.pk)).status_code == 404
    assert (
        there.post(url(site_b, "tap", pk=overdose.pk), tap_form("stimulation")).status_code == 404
    )
    assert not Intervention.objects.exists()


def test_the_timeline_poll_answers_the_timeline_alone(as_nurse, overdose, site_a, tap):
    tap(overdose, "stimulation")
    response = as_nurse.get(url(site_a, "screen", pk=overdose.pk), {"part": "timeline"}, **HTMX)
    page = text(response)
    assert page.lstrip().startswith('<section id="incident-timeline"')
    assert "Stimulation" in page
    assert "tap-button" not in page


def test_the_screen_costs_the_same_queries_with_one_step_or_twelve(
    as_nurse, overdose, site_a, tap, django_assert_max_num_queries
):
    tap(overdose, "stimulation")
    with CaptureQueriesContext(connection) as one:
        as_nurse.get(url(site_a, "screen", pk=overdose.pk))
    for _ in range(11):
        tap(overdose, "observation", spo2="90")
    with django_assert_max_num_queries(len(one.captured_queries)):
        as_nurse.get(url(site_a, "screen", pk=overdose.pk))


def test_a_key_sent_again_to_another_incident_is_refused(as_nurse, overdose, at_the_door, site_a):
    form = tap_form("stimulation")
    as_nurse.post(url(site_a, "tap", pk=overdose.pk), form)
    again = as_nurse.post(url(site_a, "tap", pk=at_the_door.pk), form)
    assert again.status_code == 422
    assert "already sent with different details" in text(again)
    assert not at_the_door.interventions.exists()


def local_input(site: Any, moment: dt.datetime) -> str:
    return str(site.local(moment).strftime("%Y-%m-%dT%H:%M:%S"))


def test_an_intervention_moved_before_the_onset_is_refused_through_its_form(
    as_nurse, overdose, site_a, tap
):
    step = tap(overdose, "stimulation")
    link = url(site_a, "amend_intervention", pk=overdose.pk, step=step.pk)
    assert as_nurse.get(link).status_code == 200
    response = as_nurse.post(
        link,
        {
            "idempotency_key": key(),
            "change": "time",
            "new_at": local_input(site_a, overdose.onset_at - dt.timedelta(minutes=5)),
            "reason": "Clock was wrong.",
            "version": version_of(overdose),
        },
    )
    assert response.status_code == 422
    assert "is before the onset" in text(response)
    assert not step.amendments.exists()


def test_an_outcome_before_the_last_step_through_the_record_needs_a_reason(
    as_nurse, overdose, site_a, tap, afternoon
):
    afternoon.shift(dt.timedelta(minutes=4))
    tap(overdose, "oxygen", oxygen_l_min="2")
    earlier = local_input(site_a, overdose.onset_at + dt.timedelta(minutes=1))
    form = {"from": "detail", "outcome": "recovered", "at": earlier}
    refused = as_nurse.post(url(site_a, "outcome", pk=overdose.pk), form)
    assert refused.status_code == 422
    assert "is before the last intervention" in text(refused)
    overdose.refresh_from_db()
    assert overdose.outcome == ""
    form["reason"] = "Recovered before the oxygen; kept on it as a precaution."
    done = as_nurse.post(url(site_a, "outcome", pk=overdose.pk), form)
    assert done.status_code == 302
    overdose.refresh_from_db()
    assert overdose.outcome == "recovered"
    record = text(as_nurse.get(url(site_a, "detail", pk=overdose.pk)))
    assert "Recovered before the oxygen" in record


def test_a_step_done_earlier_is_recorded_from_the_record_page(
    as_nurse, overdose, site_a, afternoon
):
    afternoon.shift(dt.timedelta(minutes=6))
    done_at = overdose.onset_at + dt.timedelta(minutes=2)
    form = {
        "from": "detail",
        "idempotency_key": key(),
        "kind": "naloxone",
        "at": local_input(site_a, done_at),
        "naloxone_mg": "0.4",
        "naloxone_route": "IM",
    }
    response = as_nurse.post(url(site_a, "tap", pk=overdose.pk), form)
    assert response.status_code == 302
    assert response["Location"] == url(site_a, "detail", pk=overdose.pk)
    step = Intervention.objects.get()
    assert step.at == done_at.replace(microsecond=0)
    too_early = {
        **form,
        "idempotency_key": key(),
        "at": local_input(site_a, overdose.onset_at - dt.timedelta(minutes=1)),
    }
    refused = as_nurse.post(url(site_a, "tap", pk=overdose.pk), too_early)
    assert refused.status_code == 422
    page = text(refused)
    assert "is before the onset" in page
    assert "Record a step done earlier" in page  # the record page, with the message
    assert Intervention.objects.count() == 1
