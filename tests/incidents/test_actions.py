"""The incident's writes through its actions: starting (from the board and stand-alone), each
tap an intervention with its own time and who, the timeline's rules, outcome, review, close."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from saferoom.core import idempotency
from saferoom.core.errors import ActionRefused
from saferoom.incidents import actions
from saferoom.incidents.models import Incident, Intervention
from tests.incidents.conftest import audits, key

# --- Starting -------------------------------------------------------------------------------


def test_an_emergency_on_the_board_opens_an_incident_with_client_space_session_and_onset(
    overdose, session, nurse
):
    session.refresh_from_db()
    assert overdose.session == session
    assert overdose.visit == session.visit
    assert overdose.client == session.visit.client
    assert overdose.space == session.space
    assert overdose.onset_at == session.emergency_at
    assert overdose.location == "space"
    assert list(overdose.staff_present.all()) == [nurse]
    assert audits("incident.started") == 1


def test_a_second_start_from_the_same_session_is_the_same_incident(overdose, session, nurse2):
    again = actions.start_from_session(session=session, by=nurse2)
    assert again.pk == overdose.pk
    assert Incident.objects.count() == 1
    assert audits("incident.started") == 1


def test_the_database_refuses_two_incidents_for_one_session(overdose, session, nurse):
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.create(
            site=overdose.site,
            onset_at=overdose.onset_at,
            started_at=overdose.started_at,
            started_by=nurse,
            session=session,
        )


def test_the_desk_starts_a_standalone_incident_at_the_door(at_the_door, desk):
    assert at_the_door.client is None
    assert at_the_door.session is None
    assert at_the_door.where() == "At the door or entrance"
    assert at_the_door.kind == "opioid"
    assert at_the_door.started_by == desk
    assert abs(at_the_door.onset_at - timezone.now()) < dt.timedelta(seconds=5)


def test_a_standalone_start_sent_twice_is_one_incident(site_a, desk):
    same = key()
    first = actions.start_incident(site=site_a, by=desk, idempotency_key=same, location="lounge")
    second = actions.start_incident(site=site_a, by=desk, idempotency_key=same, location="lounge")
    assert first.pk == second.pk
    assert Incident.objects.count() == 1


def test_the_same_key_with_other_details_is_refused(site_a, desk):
    same = key()
    actions.start_incident(site=site_a, by=desk, idempotency_key=same, location="lounge")
    with pytest.raises(ActionRefused) as refused:
        actions.start_incident(site=site_a, by=desk, idempotency_key=same, location="toilet")
    assert refused.value.code == "key_reused"
    assert Incident.objects.count() == 1


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"location": "roof"}, "bad_location"),
        ({"location": "space"}, "bad_location"),
        ({"location": "lounge", "kind": "alien"}, "bad_kind"),
        ({"location": "lounge", "location_detail": "x" * 121}, "too_long"),
    ],
)
def test_a_standalone_start_with_bad_details_is_refused(site_a, desk, values, code):
    with pytest.raises(ActionRefused) as refused:
        actions.start_incident(site=site_a, by=desk, idempotency_key=key(), **values)
    assert refused.value.code == code
    assert not Incident.objects.exists()


def test_a_standalone_onset_in_the_future_is_refused(site_a, desk):
    with pytest.raises(ActionRefused) as refused:
        actions.start_incident(
            site=site_a,
            by=desk,
            idempotency_key=key(),
            location="lounge",
            at=timezone.now() + dt.timedelta(minutes=10),
        )
    assert refused.value.code == "future"
    assert not Incident.objects.exists()


def test_another_sites_space_cannot_be_named(site_a, site_b, desk):
    with pytest.raises(ActionRefused) as refused:
        actions.start_incident(
            site=site_a,
            by=desk,
            idempotency_key=key(),
            location="space",
            space=site_b.spaces.first(),
        )
    assert refused.value.code == "bad_space"


# --- Interventions --------------------------------------------------------------------------


def test_each_tap_records_its_own_time_and_who(overdose, tap, nurse, nurse2):
    first = tap(overdose, "naloxone", naloxone_mg="0.4", naloxone_route="IM")
    second = tap(overdose, "naloxone", naloxone_mg="0.4", naloxone_route="IM", by=nurse2)
    oxygen = tap(overdose, "oxygen", oxygen_l_min="6")
    assert first.pk != second.pk
    assert first.at < second.at < oxygen.at
    assert (first.by, second.by, oxygen.by) == (nurse, nurse2, nurse)
    assert first.naloxone_mg == Decimal("0.4")
    assert first.naloxone_route == "IM"
    assert oxygen.oxygen_l_min == 6
    assert set(overdose.staff_present.all()) == {nurse, nurse2}
    assert audits("incident.intervention") == 3
    assert (
        Intervention.objects.filter(incident=overdose, kind="naloxone").count() == 2
    )  # countable for reports


def test_a_double_tap_is_one_record(overdose, nurse):
    same = key()
    for _ in range(2):
        actions.record_intervention(
            incident=overdose,
            kind="naloxone",
            naloxone_mg="0.4",
            naloxone_route="IM",
            by=nurse,
            idempotency_key=same,
        )
    assert overdose.interventions.count() == 1
    assert audits("incident.intervention") == 1


@pytest.mark.parametrize("dose", ["0.01", "0.03", "10.5", "20", "400", "abc", "", "NaN", "0.123"])
def test_an_implausible_naloxone_dose_is_refused_saying_what_is_plausible(overdose, tap, dose):
    with pytest.raises(ActionRefused) as refused:
        tap(overdose, "naloxone", naloxone_mg=dose, naloxone_route="IM")
    assert refused.value.code == "implausible_dose"
    assert "between 0.04 mg and 10 mg" in refused.value.message
    assert "0.4 mg IM" in refused.value.message
    assert not overdose.interventions.exists()


@pytest.mark.parametrize("dose", ["0.04", "0.4", "2", "10"])
def test_plausible_doses_at_the_edges_are_accepted(overdose, tap, dose):
    assert tap(overdose, "naloxone", naloxone_mg=dose, naloxone_route="IN").pk


def test_naloxone_needs_a_route(overdose, tap):
    with pytest.raises(ActionRefused) as refused:
        tap(overdose, "naloxone", naloxone_mg="0.4", naloxone_route="SC")
    assert refused.value.code == "bad_route"


@pytest.mark.parametrize("flow", ["0", "16", "", "lots"])
def test_an_oxygen_flow_outside_1_to_15_is_refused(overdose, tap, flow):
    with pytest.raises(ActionRefused) as refused:
        tap(overdose, "oxygen", oxygen_l_min=flow)
    assert refused.value.code == "bad_flow"


@pytest.mark.parametrize(
    "values",
    [{}, {"spo2": "101"}, {"breathing_rate": "61"}, {"avpu": "X"}, {"breathing_rate": "fast"}],
)
def test_an_observation_needs_a_plausible_value(overdose, tap, values):
    with pytest.raises(ActionRefused) as refused:
        tap(overdose, "observation", **values)
    assert refused.value.code == "bad_observation"


def test_observations_are_timed_like_interventions(overdose, tap):
    seen = tap(overdose, "observation", breathing_rate="4", spo2="82", avpu="U")
    assert (seen.breathing_rate, seen.spo2, seen.avpu) == (4, 82, "U")
    assert "breathing 4/min" in seen.summary()
    assert "SpO₂ 82%" in seen.summary()
    apnoea = tap(overdose, "observation", breathing_rate="0")
    assert apnoea.breathing_rate == 0


def test_an_intervention_before_the_onset_is_refused(overdose, tap):
    with pytest.raises(ActionRefused) as refused:
        tap(overdose, "stimulation", at=overdose.onset_at - dt.timedelta(minutes=2))
    assert refused.value.code == "before_onset"
    assert "before the onset" in refused.value.message
    assert not overdose.interventions.exists()


def test_an_intervention_in_the_future_is_refused(overdose, tap):
    with pytest.raises(ActionRefused) as refused:
        tap(overdose, "stimulation", at=timezone.now() + dt.timedelta(minutes=5))
    assert refused.value.code == "future"


def test_an_unknown_intervention_is_refused(overdose, tap):
    with pytest.raises(ActionRefused) as refused:
        tap(overdose, "leeches")
    assert refused.value.code == "bad_kind"


def test_the_ambulance_cannot_arrive_before_it_was_called(overdose, tap):
    with pytest.raises(ActionRefused) as refused:
        tap(overdose, "ambulance_arrived")
    assert refused.value.code == "arrived_before_called"
    called = tap(overdose, "ambulance_called")
    with pytest.raises(ActionRefused):
        tap(overdose, "ambulance_arrived", at=called.at - dt.timedelta(seconds=1))
    assert tap(overdose, "ambulance_arrived").pk
    assert overdose.interventions.count() == 2


def test_paramedics_take_over_only_after_the_ambulance_arrived(overdose, tap):
    tap(overdose, "ambulance_called")
    with pytest.raises(ActionRefused) as refused:
        tap(overdose, "handed_over")
    assert refused.value.code == "handover_before_arrival"


def test_cpr_stops_only_after_it_started(overdose, tap):
    with pytest.raises(ActionRefused) as refused:
        tap(overdose, "cpr_stopped")
    assert refused.value.code == "cpr_not_started"
    tap(overdose, "cpr_started")
    assert tap(overdose, "cpr_stopped").pk


def test_nothing_is_added_after_close(overdose, tap, manager):
    tap(overdose, "naloxone", naloxone_mg="0.4", naloxone_route="IM")
    actions.set_kind(incident=overdose, kind="opioid", by=manager)
    actions.record_outcome(incident=overdose, outcome="recovered", by=manager)
    actions.review_and_close(incident=overdose, by=manager, note="Good response.")
    with pytest.raises(ActionRefused) as refused:
        tap(overdose, "oxygen", oxygen_l_min="4")
    assert refused.value.code == "closed"
    with pytest.raises(ActionRefused):
        actions.set_kind(incident=overdose, kind="seizure", by=manager)
    assert overdose.interventions.count() == 1


def test_an_intervention_after_the_outcome_time_is_refused(overdose, tap, nurse):
    actions.record_outcome(incident=overdose, outcome="recovered", by=nurse)
    with pytest.raises(ActionRefused) as refused:
        tap(overdose, "oxygen", oxygen_l_min="4", at=timezone.now() + dt.timedelta(seconds=30))
    assert refused.value.code == "after_outcome"


# --- Kind, outcome, notes, review -----------------------------------------------------------


def test_what_is_happening_can_change_while_open_and_each_change_is_audited(overdose, nurse):
    actions.set_kind(incident=overdose, kind="stimulant", by=nurse)
    actions.set_kind(incident=overdose, kind="opioid", by=nurse)
    overdose.refresh_from_db()
    assert overdose.kind == "opioid"
    assert audits("incident.kind_set") == 2


def test_an_outcome_is_recorded_once(overdose, nurse):
    done = actions.record_outcome(
        incident=overdose, outcome="hospital", hospital="Royal Infirmary", by=nurse
    )
    assert (done.outcome, done.hospital, done.outcome_by) == ("hospital", "Royal Infirmary", nurse)
    with pytest.raises(ActionRefused) as refused:
        actions.record_outcome(incident=overdose, outcome="recovered", by=nurse)
    assert refused.value.code == "outcome_recorded"
    overdose.refresh_from_db()
    assert overdose.outcome == "hospital"


def test_a_transfer_names_the_hospital(overdose, nurse):
    with pytest.raises(ActionRefused) as refused:
        actions.record_outcome(incident=overdose, outcome="hospital", by=nurse)
    assert refused.value.code == "no_hospital"
    overdose.refresh_from_db()
    assert overdose.outcome == ""


def test_an_outcome_before_the_last_intervention_needs_a_reason(overdose, tap, nurse, afternoon):
    afternoon.shift(dt.timedelta(minutes=3))
    oxygen = tap(overdose, "oxygen", oxygen_l_min="4")
    earlier = oxygen.at - dt.timedelta(minutes=1)
    with pytest.raises(ActionRefused) as refused:
        actions.record_outcome(incident=overdose, outcome="recovered", by=nurse, at=earlier)
    assert refused.value.code == "outcome_before_last"
    assert "Give a reason" in refused.value.message
    done = actions.record_outcome(
        incident=overdose,
        outcome="recovered",
        by=nurse,
        at=earlier,
        reason="Breathing again before the oxygen mask went on; oxygen given as a precaution.",
    )
    assert done.outcome_reason.startswith("Breathing again")


def test_an_outcome_before_the_onset_is_refused(overdose, nurse):
    with pytest.raises(ActionRefused) as refused:
        actions.record_outcome(
            incident=overdose,
            outcome="recovered",
            by=nurse,
            at=overdose.onset_at - dt.timedelta(minutes=1),
            reason="whatever",
        )
    assert refused.value.code == "before_onset"


def test_a_medical_incident_cannot_end_as_no_medical_need(overdose, nurse):
    actions.set_kind(incident=overdose, kind="opioid", by=nurse)
    with pytest.raises(ActionRefused) as refused:
        actions.record_outcome(incident=overdose, outcome="resolved", by=nurse)
    assert refused.value.code == "outcome_mismatch"


def test_a_non_medical_incident_is_dealt_with(site_a, desk):
    found = actions.start_incident(
        site=site_a, by=desk, idempotency_key=key(), location="toilet", kind="substance_found"
    )
    assert actions.record_outcome(incident=found, outcome="resolved", by=desk).outcome


def test_closing_needs_the_outcome_and_the_kind(at_the_door, site_a, desk, manager):
    with pytest.raises(ActionRefused) as refused:
        actions.review_and_close(incident=at_the_door, by=manager)
    assert refused.value.code == "no_outcome"
    unknown = actions.start_incident(site=site_a, by=desk, idempotency_key=key(), location="door")
    actions.record_outcome(incident=unknown, outcome="recovered", by=desk)
    with pytest.raises(ActionRefused) as refused:
        actions.review_and_close(incident=unknown, by=manager)
    assert refused.value.code == "no_kind"


def test_review_and_close_once(at_the_door, desk, manager):
    actions.record_outcome(incident=at_the_door, outcome="recovered", by=desk)
    closed = actions.review_and_close(incident=at_the_door, by=manager, note="Fine.")
    assert closed.is_closed
    assert closed.reviewed_by == manager
    with pytest.raises(ActionRefused) as refused:
        actions.review_and_close(incident=at_the_door, by=manager)
    assert refused.value.code == "closed"
    assert audits("incident.closed") == 1


def test_notes_and_the_debrief_are_appended_also_after_close(at_the_door, desk, manager):
    actions.add_note(
        incident=at_the_door, text="Found by the door.", by=desk, idempotency_key=key()
    )
    actions.record_outcome(incident=at_the_door, outcome="recovered", by=desk)
    actions.review_and_close(incident=at_the_door, by=manager)
    same = key()
    for _ in range(2):
        actions.add_note(
            incident=at_the_door,
            text="Team debrief: oxygen kit was slow to reach.",
            kind="debrief",
            by=manager,
            idempotency_key=same,
        )
    assert [n.kind for n in at_the_door.notes.all()] == ["note", "debrief"]
    with pytest.raises(ActionRefused) as refused:
        actions.add_note(incident=at_the_door, text="   ", by=desk, idempotency_key=key())
    assert refused.value.code == "empty"


def test_a_bad_idempotency_key_is_refused(overdose, nurse):
    with pytest.raises(ActionRefused) as refused:
        actions.record_intervention(
            incident=overdose, kind="stimulation", by=nurse, idempotency_key="not-a-key"
        )
    assert refused.value.code == "bad_key"
    assert uuid.UUID(key())


def test_a_tap_sent_again_after_its_key_was_forgotten_is_refused_not_recorded_twice(
    overdose, nurse, afternoon
):
    # A tablet's outbox sends a tap made at the onset; the answer is lost, so it keeps it.
    tapped = overdose.onset_at + dt.timedelta(minutes=1)
    first = key()
    afternoon.shift(dt.timedelta(minutes=5))
    actions.record_intervention(
        incident=overdose, kind="stimulation", by=nurse, idempotency_key=first, tapped_at=tapped
    )
    # Three days later the keys of that afternoon are forgotten, and the tablet sends it again.
    afternoon.shift(dt.timedelta(hours=72))
    assert idempotency.purge_expired() >= 1

    with pytest.raises(ActionRefused) as refusal:
        actions.record_intervention(
            incident=overdose,
            kind="stimulation",
            by=nurse,
            idempotency_key=first,
            tapped_at=tapped,
        )

    assert refusal.value.code == "too_old"
    assert Intervention.objects.count() == 1


def test_a_late_tap_within_two_days_is_recorded_at_the_time_of_the_tap(overdose, nurse, afternoon):
    tapped = overdose.onset_at + dt.timedelta(minutes=1)
    afternoon.shift(dt.timedelta(hours=21))

    step = actions.record_intervention(
        incident=overdose, kind="stimulation", by=nurse, idempotency_key=key(), tapped_at=tapped
    )

    assert step.at == tapped
    assert step.recorded_at >= tapped + dt.timedelta(hours=20)
    assert audits("incident.intervention") == 1
