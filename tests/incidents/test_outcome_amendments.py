"""A mis-tapped outcome (or the wrong hospital) is corrected by an amendment with a reason: the
incident row keeps the outcome first recorded, the amendment holds old and new, who, when and
why, and the pages show the latest amended outcome with its history."""

from __future__ import annotations

import html
from typing import Any

import pytest

from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.incidents import actions
from saferoom.incidents.models import Incident, OutcomeAmendment
from tests.incidents.conftest import audits, key, url
from tests.versions import version_of

REASON = "Wrong button pressed with gloves on: they walked out recovered."


def text(response: Any) -> str:
    return html.unescape(str(response.content.decode()))


def _fresh(incident: Incident) -> Incident:
    return Incident.objects.prefetch_related("outcome_amendments").get(pk=incident.pk)


def _stored(incident: Incident) -> tuple[str, str]:
    return Incident.objects.values_list("outcome", "hospital").get(pk=incident.pk)


@pytest.fixture
def died(at_the_door: Incident, nurse: User) -> Incident:
    """The collapse at the door, with "Died" tapped by mistake."""
    return actions.record_outcome(incident=at_the_door, outcome="died", by=nurse)


@pytest.fixture
def transferred(at_the_door: Incident, nurse: User) -> Incident:
    return actions.record_outcome(
        incident=at_the_door, outcome="hospital", hospital="St Mary's", by=nurse
    )


# --- The action -------------------------------------------------------------------------------


def test_a_corrected_outcome_keeps_the_original_in_the_database(died, nurse):
    amendment = actions.amend_outcome(
        incident=died,
        outcome="recovered",
        reason=REASON,
        by=nurse,
        idempotency_key=key(),
        expected_version=version_of(died),
    )
    # The row still holds what was first recorded ...
    assert _stored(died) == ("died", "")
    # ... the amendment holds both, who and why ...
    assert (amendment.old_outcome, amendment.new_outcome, amendment.by) == (
        "died",
        "recovered",
        nurse,
    )
    assert amendment.reason == REASON
    assert amendment.recorded_at is not None
    # ... and the outcome that counts is the latest amended one.
    shown = _fresh(died)
    assert shown.effective_outcome == "recovered"
    assert shown.effective_outcome_label() == "Recovered on site"
    assert audits("incident.outcome_amended") == 1


def test_the_wrong_hospital_is_corrected(transferred, manager):
    actions.amend_outcome(
        incident=transferred,
        outcome="hospital",
        hospital="Royal Infirmary",
        reason="The crew went to the Royal, not St Mary's.",
        by=manager,
        idempotency_key=key(),
        expected_version=version_of(transferred),
    )
    shown = _fresh(transferred)
    assert (shown.effective_outcome, shown.effective_hospital) == ("hospital", "Royal Infirmary")
    assert _stored(transferred) == ("hospital", "St Mary's")
    amendment = OutcomeAmendment.objects.get()
    assert (amendment.old_hospital, amendment.new_hospital) == ("St Mary's", "Royal Infirmary")


def test_a_second_correction_wins_and_both_stay(died, nurse, manager):
    actions.amend_outcome(
        incident=died,
        outcome="recovered",
        reason=REASON,
        by=nurse,
        idempotency_key=key(),
        expected_version=version_of(died),
    )
    actions.amend_outcome(
        incident=died,
        outcome="hospital",
        hospital="Royal Infirmary",
        reason="Recovered, then taken in after all.",
        by=manager,
        idempotency_key=key(),
        expected_version=version_of(died),
    )
    shown = _fresh(died)
    assert (shown.effective_outcome, shown.effective_hospital) == ("hospital", "Royal Infirmary")
    olds = list(OutcomeAmendment.objects.order_by("id").values_list("old_outcome", flat=True))
    assert olds == ["died", "recovered"]
    assert _stored(died) == ("died", "")


def test_leaving_hospital_drops_the_hospital_name(transferred, nurse):
    actions.amend_outcome(
        incident=transferred,
        outcome="refused_transfer",
        hospital="St Mary's",
        reason="They refused at the ambulance door.",
        by=nurse,
        idempotency_key=key(),
        expected_version=version_of(transferred),
    )
    shown = _fresh(transferred)
    assert (shown.effective_outcome, shown.effective_hospital) == ("refused_transfer", "")


REFUSALS = [
    # (fixture, outcome, hospital, reason, code)
    ("died", "recovered", "", "", "no_reason"),
    ("died", "recovered", "", "   ", "no_reason"),
    ("died", "died", "", REASON, "unchanged"),
    ("transferred", "hospital", "St Mary's", REASON, "unchanged"),
    ("died", "fine", "", REASON, "bad_outcome"),
    ("died", "hospital", "", REASON, "no_hospital"),
    ("died", "hospital", "   ", REASON, "no_hospital"),
    ("died", "resolved", "", REASON, "outcome_mismatch"),
    ("at_the_door", "recovered", "", REASON, "no_outcome"),
]


@pytest.mark.parametrize(("which", "outcome", "hospital", "reason", "code"), REFUSALS)
def test_refused_corrections_change_nothing(request, nurse, which, outcome, hospital, reason, code):
    incident = request.getfixturevalue(which)
    before = _stored(incident)
    with pytest.raises(ActionRefused) as refused:
        actions.amend_outcome(
            incident=incident,
            outcome=outcome,
            hospital=hospital,
            reason=reason,
            by=nurse,
            idempotency_key=key(),
            expected_version=version_of(incident),
        )
    assert refused.value.code == code
    assert not OutcomeAmendment.objects.exists()
    assert _stored(incident) == before
    assert audits("incident.outcome_amended") == 0


def test_unchanged_is_judged_against_the_latest_correction(died, nurse):
    actions.amend_outcome(
        incident=died,
        outcome="recovered",
        reason=REASON,
        by=nurse,
        idempotency_key=key(),
        expected_version=version_of(died),
    )
    with pytest.raises(ActionRefused) as refused:
        actions.amend_outcome(
            incident=died,
            outcome="recovered",
            reason=REASON,
            by=nurse,
            idempotency_key=key(),
            expected_version=version_of(died),
        )
    assert refused.value.code == "unchanged"
    # Back to the original is a correction like any other.
    actions.amend_outcome(
        incident=died,
        outcome="died",
        reason="It was right.",
        by=nurse,
        idempotency_key=key(),
        expected_version=version_of(died),
    )
    assert _fresh(died).effective_outcome == "died"


def test_a_replayed_correction_is_recorded_once(died, nurse):
    same = key()
    first = actions.amend_outcome(
        incident=died,
        outcome="recovered",
        reason=REASON,
        by=nurse,
        idempotency_key=same,
        expected_version=version_of(died),
    )
    again = actions.amend_outcome(
        incident=died,
        outcome="recovered",
        reason=REASON,
        by=nurse,
        idempotency_key=same,
        expected_version=version_of(died),
    )
    assert again.pk == first.pk
    assert OutcomeAmendment.objects.count() == 1
    assert audits("incident.outcome_amended") == 1
    with pytest.raises(ActionRefused):
        actions.amend_outcome(
            incident=died,
            outcome="left_against_advice",
            reason=REASON,
            by=nurse,
            idempotency_key=same,
            expected_version=version_of(died),
        )
    assert OutcomeAmendment.objects.count() == 1


def test_a_closed_incident_is_corrected_like_its_times(died, nurse, manager):
    """Time corrections are allowed after the review (the record must be right): so is this."""
    actions.review_and_close(incident=died, by=manager)
    actions.amend_outcome(
        incident=died,
        outcome="recovered",
        reason=REASON,
        by=manager,
        idempotency_key=key(),
        expected_version=version_of(died),
    )
    assert _fresh(died).effective_outcome == "recovered"


# --- Through HTTP -----------------------------------------------------------------------------


def test_the_outcome_is_corrected_through_its_form(as_nurse, died, site_a):
    record = text(as_nurse.get(url(site_a, "detail", pk=died.pk)))
    link = url(site_a, "amend_outcome", pk=died.pk)
    assert link in record
    page = as_nurse.get(link)
    assert page.status_code == 200
    assert 'name="idempotency_key"' in text(page)
    done = as_nurse.post(
        link,
        {
            "idempotency_key": key(),
            "outcome": "recovered",
            "hospital": "",
            "reason": REASON,
            "version": version_of(died),
        },
    )
    assert done.status_code == 302
    assert _stored(died) == ("died", "")
    assert audits("incident.outcome_amended") == 1
    record = text(as_nurse.get(url(site_a, "detail", pk=died.pk)))
    assert "Recovered on site" in record
    assert "Outcome corrected from Died to Recovered on site by nina.nurse" in record
    assert REASON in record
    assert "Outcome as first recorded: Died" in record
    timeline = text(as_nurse.get(url(site_a, "timeline", pk=died.pk)))
    assert "Outcome: Recovered on site" in timeline
    assert "Outcome corrected from Died to Recovered on site" in timeline
    listing = text(as_nurse.get(url(site_a, "list")))
    assert "Recovered on site: awaiting review" in listing


def test_the_hospital_correction_shows_on_the_printable_timeline(as_manager, transferred, site_a):
    link = url(site_a, "amend_outcome", pk=transferred.pk)
    form = {
        "idempotency_key": key(),
        "outcome": "hospital",
        "hospital": "Royal Infirmary",
        "reason": "The crew went to the Royal.",
        "version": version_of(transferred),
    }
    assert as_manager.post(link, form).status_code == 302
    timeline = text(as_manager.get(url(site_a, "timeline", pk=transferred.pk)))
    assert "Transferred to hospital (Royal Infirmary)" in timeline
    assert "hospital: St Mary's → Royal Infirmary" in timeline


HTTP_REFUSALS = [
    # (fixture, outcome, hospital, reason, message)
    ("died", "recovered", "", "", "Say why the outcome is corrected."),
    ("died", "died", "", REASON, "That is already the recorded outcome (Died)."),
    ("died", "fine", "", REASON, "Choose the outcome from the buttons shown."),
    ("died", "hospital", "", REASON, "Say which hospital they were taken to"),
    ("at_the_door", "recovered", "", REASON, "There is no outcome yet: record the outcome first."),
]


@pytest.mark.parametrize(("which", "outcome", "hospital", "reason", "message"), HTTP_REFUSALS)
def test_refused_corrections_through_the_form(
    request, as_nurse, site_a, which, outcome, hospital, reason, message
):
    incident = request.getfixturevalue(which)
    before = _stored(incident)
    response = as_nurse.post(
        url(site_a, "amend_outcome", pk=incident.pk),
        {
            "idempotency_key": key(),
            "outcome": outcome,
            "hospital": hospital,
            "reason": reason,
            "version": version_of(incident),
        },
    )
    assert response.status_code == 422
    assert message in text(response)
    assert not OutcomeAmendment.objects.exists()
    assert _stored(incident) == before
    assert audits("incident.outcome_amended") == 0


def test_a_double_submit_records_one_correction(as_nurse, died, site_a):
    form = {
        "idempotency_key": key(),
        "outcome": "recovered",
        "hospital": "",
        "reason": REASON,
        "version": version_of(died),
    }
    link = url(site_a, "amend_outcome", pk=died.pk)
    assert as_nurse.post(link, form).status_code == 302
    assert as_nurse.post(link, form).status_code == 302
    assert OutcomeAmendment.objects.count() == 1
    assert audits("incident.outcome_amended") == 1


def test_no_outcome_yet_says_so_and_offers_no_link(as_nurse, at_the_door, site_a):
    link = url(site_a, "amend_outcome", pk=at_the_door.pk)
    assert link not in text(as_nurse.get(url(site_a, "detail", pk=at_the_door.pk)))
    page = as_nurse.get(link)
    assert page.status_code == 200
    assert "There is no outcome yet: record the outcome first." in text(page)


def test_the_desk_cannot_correct_the_outcome(as_desk, died, site_a):
    link = url(site_a, "amend_outcome", pk=died.pk)
    assert as_desk.get(link).status_code == 403
    form = {"idempotency_key": key(), "outcome": "recovered", "reason": REASON}
    assert as_desk.post(link, form).status_code == 403
    assert not OutcomeAmendment.objects.exists()
