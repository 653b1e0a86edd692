"""Times are corrected only by amendments with a reason: the original stays in the database,
the pages show the latest amended time with its history, and nothing is deleted."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import ProtectedError

from saferoom.core.errors import ActionRefused
from saferoom.incidents import actions
from saferoom.incidents.models import Incident, IncidentAmendment, Intervention
from tests.incidents.conftest import audits, key
from tests.versions import version_of


def _fresh(incident: Incident) -> Incident:
    return Incident.objects.prefetch_related("amendments", "interventions__amendments").get(
        pk=incident.pk
    )


def test_a_corrected_onset_keeps_the_original_in_the_database(at_the_door, nurse):
    original = at_the_door.onset_at
    corrected = original - dt.timedelta(minutes=4)
    actions.amend_incident_time(
        incident=at_the_door,
        field="onset_at",
        new_at=corrected,
        reason="The door camera shows the collapse four minutes earlier.",
        by=nurse,
        idempotency_key=key(),
        expected_version=version_of(at_the_door),
    )
    # The row itself still holds what was first recorded ...
    assert Incident.objects.filter(pk=at_the_door.pk).values_list("onset_at", flat=True).get() == (
        original
    )
    # ... the amendment holds both, with the reason ...
    amendment = IncidentAmendment.objects.get()
    assert (amendment.old_at, amendment.new_at, amendment.by) == (original, corrected, nurse)
    # ... and what is shown is the latest amended time.
    assert _fresh(at_the_door).onset == corrected
    assert audits("incident.amended") == 1


def test_a_second_correction_wins_and_both_stay(at_the_door, nurse, manager):
    first = at_the_door.onset_at - dt.timedelta(minutes=4)
    second = at_the_door.onset_at - dt.timedelta(minutes=3)
    for when, who in ((first, nurse), (second, manager)):
        actions.amend_incident_time(
            incident=at_the_door,
            field="onset_at",
            new_at=when,
            reason="Checked against the log.",
            by=who,
            idempotency_key=key(),
            expected_version=version_of(at_the_door),
        )
    assert _fresh(at_the_door).onset == second
    assert IncidentAmendment.objects.count() == 2
    assert IncidentAmendment.objects.order_by("id").values_list("old_at", flat=True)[1] == first


def test_a_corrected_intervention_time_keeps_the_original(overdose, tap, nurse, afternoon):
    afternoon.shift(dt.timedelta(minutes=5))
    dose = tap(overdose, "naloxone", naloxone_mg="0.4", naloxone_route="IM")
    original = dose.at
    corrected = original - dt.timedelta(minutes=2)
    actions.amend_intervention(
        intervention=dose,
        new_at=corrected,
        reason="Tapped after the fact: the dose went in at the first check.",
        by=nurse,
        idempotency_key=key(),
        expected_version=version_of(dose.incident),
    )
    assert Intervention.objects.filter(pk=dose.pk).values_list("at", flat=True).get() == original
    shown = _fresh(overdose).interventions.get(pk=dose.pk)
    assert shown.time == corrected
    assert [a.old_at for a in shown.amendments.all()] == [original]


def test_a_mistap_is_struck_out_and_no_longer_counts(overdose, tap, nurse):
    dose = tap(overdose, "naloxone", naloxone_mg="2", naloxone_route="IN")
    actions.amend_intervention(
        intervention=dose,
        in_error=True,
        reason="Wrong button: the spray was not given.",
        by=nurse,
        idempotency_key=key(),
        expected_version=version_of(dose.incident),
    )
    step = _fresh(overdose).interventions.get()
    assert step.struck is not None
    assert Intervention.objects.filter(pk=dose.pk).exists()  # still there, struck out
    with pytest.raises(ActionRefused) as refused:
        actions.amend_intervention(
            intervention=dose,
            in_error=True,
            reason="again",
            by=nurse,
            idempotency_key=key(),
            expected_version=version_of(dose.incident),
        )
    assert refused.value.code == "struck"


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_correction_without_a_reason_is_refused(at_the_door, nurse, reason):
    with pytest.raises(ActionRefused) as refused:
        actions.amend_incident_time(
            incident=at_the_door,
            field="onset_at",
            new_at=at_the_door.onset_at - dt.timedelta(minutes=1),
            reason=reason,
            by=nurse,
            idempotency_key=key(),
            expected_version=version_of(at_the_door),
        )
    assert refused.value.code == "no_reason"
    assert not IncidentAmendment.objects.exists()


def test_the_onset_cannot_move_after_the_first_intervention(at_the_door, tap, nurse, afternoon):
    afternoon.shift(dt.timedelta(minutes=2))
    first = tap(at_the_door, "stimulation")
    with pytest.raises(ActionRefused) as refused:
        actions.amend_incident_time(
            incident=at_the_door,
            field="onset_at",
            new_at=first.at + dt.timedelta(seconds=10),
            reason="Later than we thought.",
            by=nurse,
            idempotency_key=key(),
            expected_version=version_of(at_the_door),
        )
    assert refused.value.code == "onset_after_intervention"


def test_an_intervention_cannot_be_moved_before_the_onset(overdose, tap, nurse):
    dose = tap(overdose, "stimulation")
    with pytest.raises(ActionRefused) as refused:
        actions.amend_intervention(
            intervention=dose,
            new_at=overdose.onset_at - dt.timedelta(minutes=1),
            reason="Typo.",
            by=nurse,
            idempotency_key=key(),
            expected_version=version_of(dose.incident),
        )
    assert refused.value.code == "before_onset"


def test_the_call_cannot_be_moved_after_the_ambulance_arrived(overdose, tap, nurse, afternoon):
    called = tap(overdose, "ambulance_called")
    afternoon.shift(dt.timedelta(minutes=8))
    tap(overdose, "ambulance_arrived")
    with pytest.raises(ActionRefused) as refused:
        actions.amend_intervention(
            intervention=called,
            new_at=called.at + dt.timedelta(minutes=8, seconds=30),
            reason="Wrong clock.",
            by=nurse,
            idempotency_key=key(),
            expected_version=version_of(called.incident),
        )
    assert refused.value.code == "arrived_before_called"
    with pytest.raises(ActionRefused) as refused:
        actions.amend_intervention(
            intervention=called,
            in_error=True,
            reason="?",
            by=nurse,
            idempotency_key=key(),
            expected_version=version_of(called.incident),
        )
    assert refused.value.code == "arrived_before_called"


def test_the_outcome_time_is_corrected_like_the_onset(overdose, nurse, afternoon):
    with pytest.raises(ActionRefused) as refused:
        actions.amend_incident_time(
            incident=overdose,
            field="outcome_at",
            new_at=overdose.onset_at,
            reason="x",
            by=nurse,
            idempotency_key=key(),
            expected_version=version_of(overdose),
        )
    assert refused.value.code == "no_outcome"
    afternoon.shift(dt.timedelta(minutes=10))
    done = actions.record_outcome(incident=overdose, outcome="recovered", by=nurse)
    assert done.outcome_at is not None
    actions.amend_incident_time(
        incident=overdose,
        field="outcome_at",
        new_at=done.outcome_at - dt.timedelta(minutes=3),
        reason="Recovered earlier; recorded when the paperwork was done.",
        by=nurse,
        idempotency_key=key(),
        expected_version=version_of(overdose),
    )
    assert Incident.objects.values_list("outcome_at", flat=True).get() == done.outcome_at
    assert _fresh(overdose).outcome_time == done.outcome_at - dt.timedelta(minutes=3)


def test_an_unchanged_time_is_not_a_correction(at_the_door, nurse):
    with pytest.raises(ActionRefused) as refused:
        actions.amend_incident_time(
            incident=at_the_door,
            field="onset_at",
            new_at=at_the_door.onset_at,
            reason="Nothing.",
            by=nurse,
            idempotency_key=key(),
            expected_version=version_of(at_the_door),
        )
    assert refused.value.code == "unchanged"


def test_clinical_records_cannot_be_deleted(overdose, tap):
    tap(overdose, "stimulation")
    with pytest.raises(ProtectedError):
        overdose.delete()


def test_after_an_earlier_onset_the_outcome_may_come_before_the_first_recorded_onset(
    site_a, desk, nurse, afternoon
):
    # Recorded late: the desk started the record ten minutes after the collapse.
    afternoon.shift(dt.timedelta(minutes=10))
    late = actions.start_incident(site=site_a, by=desk, idempotency_key=key(), location="door")
    true_onset = late.onset_at - dt.timedelta(minutes=10)
    actions.amend_incident_time(
        incident=late,
        field="onset_at",
        new_at=true_onset,
        reason="Started the record after the person had recovered.",
        by=nurse,
        idempotency_key=key(),
        expected_version=version_of(late),
    )
    done = actions.record_outcome(
        incident=late, outcome="recovered", by=desk, at=true_onset + dt.timedelta(minutes=5)
    )
    assert done.outcome_at is not None
    assert done.outcome_at < late.onset_at
