"""The retention schedule: ``saferoom worker`` pseudonymises clients unseen for years, clears
the free text of old clinical records (never deleting them) and prunes old audit events behind
a sealed checkpoint, while every report figure stays the same and the audit chain verifies.
Each free-text field the schedule names (docs/privacy/retention.md) is shown cleared after its
period, kept before it, and a second run changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from saferoom.care.referrals.models import (
    FollowUp,
    IdentityOpening,
    IdentityRecord,
    Referral,
    ReferralAmendment,
)
from saferoom.clients.models import Ban, Client, ClientMerge
from saferoom.core import audit, audit_chain, jobs, retention
from saferoom.core.models import AuditCheckpoint, AuditEvent, User
from saferoom.floor.models import Visit
from saferoom.incidents.models import (
    Incident,
    IncidentAmendment,
    IncidentNote,
    Intervention,
    InterventionAmendment,
    OutcomeAmendment,
)
from saferoom.reports.periods import year
from saferoom.reports.registry import compute_report
from saferoom.reports.scopes import site_scope
from saferoom.sites.models import CatalogueItem, Site
from tests.governance.conftest import make_client

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
THEN = dt.datetime(2016, 6, 1, 12, 0, tzinfo=LONDON)
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=LONDON)


@pytest.fixture
def old_and_recent(site_a, desk):
    with time_machine.travel(THEN, tick=False):
        old = make_client(site_a, desk, name="Olwen Oldtimer", year=1970)
        Ban.objects.create(
            client=old,
            site=site_a,
            reason="violence",
            note="Threatened Dana near the bins",
            starts_at=THEN,
            set_by=desk,
            set_at=THEN,
        )
        incident = Incident.objects.create(
            site=site_a,
            kind="opioid",
            onset_at=THEN,
            started_at=THEN,
            started_by=desk,
            client=old,
            location="toilet",
            location_detail="Second cubicle, found by Sam",
            outcome="hospital",
            outcome_at=THEN + dt.timedelta(minutes=20),
            outcome_by=desk,
            hospital="Riverside General",
            review_note="Olwen's friend called an ambulance",
        )
        audit.record(action="client.viewed", by=desk, obj=old, site=site_a)
    with time_machine.travel(NOW - dt.timedelta(days=30), tick=False):
        recent = make_client(site_a, desk, name="Rhiannon Recent", year=1995)
        audit.record(action="client.viewed", by=desk, obj=recent, site=site_a)
    return old, recent, incident


def all_figures(site: Any) -> dict[Any, Any]:
    figures = {}
    for period in (year(2016), year(2026)):
        report = compute_report(site_scope(site, period, now=NOW))
        for code, result in report.results.items():
            figures[(period.first, code)] = (
                result.figures,
                result.breakdowns,
            )
    return figures


def test_the_schedule_pseudonymises_the_old_client_and_keeps_every_figure(site_a, old_and_recent):
    old, recent, incident = old_and_recent
    before = all_figures(site_a)
    with time_machine.travel(NOW, tick=False):
        done = retention.apply()
    assert done.clients == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.linkage_hash == ""
    assert recent.linkage_hash != ""
    assert not IdentityRecord.objects.filter(client=old).exists()
    assert IdentityRecord.objects.filter(client=recent).exists()
    assert Ban.objects.get(client=old).note == ""
    # Clinical facts stay: the visit, the incident and its kind, time and client.
    assert Visit.objects.filter(client=old).count() == 1
    incident.refresh_from_db()
    assert (incident.kind, incident.onset_at, incident.client_id) == ("opioid", THEN, old.pk)
    assert incident.location_detail == incident.review_note == ""
    assert (incident.outcome, incident.hospital) == ("hospital", "Riverside General")
    assert all_figures(site_a) == before


def test_clinical_records_keep_their_text_until_their_period_ends(site_a, old_and_recent):
    _, _, incident = old_and_recent
    with time_machine.travel(THEN + dt.timedelta(days=365 * 7), tick=False):
        retention.apply()
    incident.refresh_from_db()
    assert incident.location_detail == "Second cubicle, found by Sam"
    assert Incident.objects.filter(pk=incident.pk).exists()


def test_old_audit_events_go_behind_a_checkpoint_and_the_chain_still_verifies(
    site_a, old_and_recent
):
    old_events = AuditEvent.objects.filter(at__lt=NOW - dt.timedelta(days=365 * 8)).count()
    assert old_events >= 1
    with time_machine.travel(NOW, tick=False):
        done = retention.apply()
    assert done.audit_events == old_events
    assert not AuditEvent.objects.filter(at__lt=NOW - dt.timedelta(days=365 * 8)).exists()
    checkpoint = AuditCheckpoint.objects.get()
    assert checkpoint.removed == old_events
    result = audit_chain.verify()
    assert result.ok, result.problem
    assert result.checkpoint_through_id == checkpoint.through_id
    # What the job did is itself in the log.
    assert AuditEvent.objects.filter(action="retention.audit_pruned").exists()


def test_the_trigger_still_refuses_deleting_newer_events(site_a, old_and_recent):
    from django.db import DatabaseError, transaction

    with time_machine.travel(NOW, tick=False):
        retention.apply()
    newest = AuditEvent.objects.order_by("-pk")[0]
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=newest.pk)._raw_delete(AuditEvent.objects.db)


def test_running_it_again_changes_nothing(site_a, old_and_recent):
    with time_machine.travel(NOW, tick=False):
        retention.apply()
        again = retention.apply()
    assert (again.clients, again.incidents, again.referrals) == (0, 0, 0)
    assert AuditCheckpoint.objects.count() == 1
    assert audit_chain.verify().ok


def test_periods_are_configurable_but_not_below_their_minimum(site_a):
    with override_settings(RETENTION_YEARS={"client": 1, "audit": 10}):
        assert retention.years("client") == 2
        assert retention.years("audit") == 10
    assert retention.years("clinical") == 8


def test_the_worker_applies_the_schedule_once_a_day(site_a, old_and_recent):
    with time_machine.travel(NOW, tick=False):
        first = jobs.apply_retention_schedule(timezone.now())
        second = jobs.apply_retention_schedule(timezone.now())
    assert first.count >= 1
    assert "1 clients pseudonymised" in first.what
    assert second.count == 0
    assert Client.objects.filter(linkage_hash="").count() == 1


# --- every free-text field of a clinical record ------------------------------------------------

WORDS = "Pelican"  # in every text written below


def said(what: str) -> str:
    return f"{WORDS}: {what}"


def incident_full_of_text(site: Site, by: User, at: dt.datetime, client: Client) -> Incident:
    """An incident with text in every free-text field it has, and in each kind of correction."""
    incident = Incident.objects.create(
        site=site,
        kind="opioid",
        onset_at=at,
        started_at=at,
        started_by=by,
        client=client,
        location="toilet",
        location_detail=said("second cubicle"),
        outcome="hospital",
        outcome_at=at + dt.timedelta(minutes=20),
        outcome_by=by,
        hospital="Riverside General",
        outcome_reason=said("the crew arrived before the last breath was logged"),
        reviewed_at=at + dt.timedelta(days=1),
        reviewed_by=by,
        review_note=said("their friend called the ambulance"),
    )
    step = Intervention.objects.create(
        incident=incident,
        kind="naloxone",
        at=at + dt.timedelta(minutes=2),
        by=by,
        recorded_at=at + dt.timedelta(minutes=2),
        naloxone_mg="0.40",
        naloxone_route="IM",
        note=said("second dose from the kit"),
    )
    IncidentNote.objects.create(incident=incident, text=said("used alone first"), by=by, at=at)
    IncidentAmendment.objects.create(
        incident=incident,
        field="onset_at",
        old_at=at,
        new_at=at - dt.timedelta(minutes=1),
        reason=said("the wall clock was slow"),
        by=by,
        recorded_at=at,
    )
    OutcomeAmendment.objects.create(
        incident=incident,
        old_outcome="recovered",
        new_outcome="hospital",
        new_hospital="Riverside General",
        reason=said("they were taken in after all"),
        by=by,
        recorded_at=at,
    )
    InterventionAmendment.objects.create(
        intervention=step,
        field="at",
        old_at=step.at,
        new_at=step.at - dt.timedelta(minutes=1),
        reason=said("tapped late, gloves on"),
        by=by,
        recorded_at=at,
    )
    return incident


def referral_full_of_text(
    site: Site, by: User, at: dt.datetime, client: Client | None = None
) -> Referral:
    """A referral (of an anonymous visit when no client is given) with a follow-up note and a
    correction's reason."""
    visit = None
    if client is None:
        visit = Visit.objects.create(site=site, anonymous=True, arrived_at=at, created_by=by)
    target = CatalogueItem.objects.filter(network=site.network, kind="referral_target").first()
    assert target is not None
    referral = Referral.objects.create(
        site=site,
        client=client,
        visit=visit,
        target=target,
        category=target.category,
        urgency="routine",
        made_at=at,
        made_by=by,
        follow_up_due=at.date() + dt.timedelta(days=14),
        status="attended",
        closed_at=at + dt.timedelta(days=3),
        closed_by=by,
    )
    FollowUp.objects.create(
        referral=referral,
        at=at + dt.timedelta(days=3),
        by=by,
        outcome="attended",
        method="phone",
        note=said("went with their partner"),
    )
    ReferralAmendment.objects.create(
        referral=referral,
        at=at + dt.timedelta(days=4),
        by=by,
        changes={"urgency": ["routine", "urgent"]},
        reason=said("they are sleeping out"),
    )
    return referral


@pytest.fixture
def clinical_text(site_a, desk, old_and_recent):
    """Old and recent incidents and referrals with text in every field the schedule clears. The
    old ones belong to a client still seen (so the client rule does not touch them), or to an
    anonymous visit."""
    _old, recent, _incident = old_and_recent
    with time_machine.travel(THEN, tick=False):
        old = {
            "incident": incident_full_of_text(site_a, desk, THEN, recent),
            "referral": referral_full_of_text(site_a, desk, THEN, recent),
            "anonymous_referral": referral_full_of_text(site_a, desk, THEN),
        }
    lately = NOW - dt.timedelta(days=30)
    with time_machine.travel(lately, tick=False):
        new = {
            "incident": incident_full_of_text(site_a, desk, lately, recent),
            "referral": referral_full_of_text(site_a, desk, lately, recent),
        }
    return old, new


def texts_of_incident(incident: Incident) -> dict[str, str]:
    incident.refresh_from_db()
    return {
        "where exactly": incident.location_detail,
        "review": incident.review_note,
        "outcome reason": incident.outcome_reason,
        "intervention note": Intervention.objects.get(incident=incident).note,
        "note": IncidentNote.objects.get(incident=incident).text,
        "time correction": IncidentAmendment.objects.get(incident=incident).reason,
        "outcome correction": OutcomeAmendment.objects.get(incident=incident).reason,
        "intervention correction": InterventionAmendment.objects.get(
            intervention__incident=incident
        ).reason,
    }


def texts_of_referral(referral: Referral) -> dict[str, str]:
    return {
        "follow-up note": FollowUp.objects.get(referral=referral).note,
        "correction": ReferralAmendment.objects.get(referral=referral).reason,
    }


# The fields cleared to nothing, and those a reason is required in (replaced by the marker).
CLEARED = {"where exactly", "review", "outcome reason", "intervention note", "follow-up note"}


def facts_of_incident(incident: Incident) -> tuple[Any, ...]:
    incident.refresh_from_db()
    return (
        incident.kind,
        incident.onset_at,
        incident.outcome,
        incident.outcome_at,
        incident.hospital,
        incident.reviewed_at,
        list(Intervention.objects.filter(incident=incident).values_list("kind", "at")),
        list(IncidentAmendment.objects.filter(incident=incident).values_list("new_at")),
        list(OutcomeAmendment.objects.filter(incident=incident).values_list("new_outcome")),
    )


def test_every_free_text_of_an_old_clinical_record_is_cleared_and_its_facts_stay(
    site_a, clinical_text
):
    old, new = clinical_text
    facts = facts_of_incident(old["incident"])
    figures = all_figures(site_a)
    with time_machine.travel(NOW, tick=False):
        done = retention.apply()
    assert (done.incidents, done.referrals) == (2, 2)  # old_and_recent's incident, and these

    for field, value in texts_of_incident(old["incident"]).items():
        assert value == ("" if field in CLEARED else retention.REMOVED), field
    for referral in (old["referral"], old["anonymous_referral"]):
        for field, value in texts_of_referral(referral).items():
            assert value == ("" if field in CLEARED else retention.REMOVED), field
        referral.refresh_from_db()
        assert referral.anonymised_at == NOW
        assert referral.status == "attended"
    assert old["incident"].anonymised_at == NOW
    assert facts_of_incident(old["incident"]) == facts
    assert all_figures(site_a) == figures
    # Nothing was deleted.
    assert IncidentNote.objects.filter(incident=old["incident"]).exists()
    assert ReferralAmendment.objects.filter(referral=old["referral"]).exists()
    # The recent ones keep every word.
    for value in [*texts_of_incident(new["incident"]).values()]:
        assert value.startswith(WORDS)
    for value in texts_of_referral(new["referral"]).values():
        assert value.startswith(WORDS)
    assert new["incident"].anonymised_at is None


def test_no_clinical_text_goes_before_its_period_ends(site_a, clinical_text):
    old, _new = clinical_text
    with time_machine.travel(THEN + dt.timedelta(days=365 * 8 - 1), tick=False):
        done = retention.apply()
    assert (done.incidents, done.referrals) == (0, 0)
    for value in texts_of_incident(old["incident"]).values():
        assert value.startswith(WORDS)
    for referral in (old["referral"], old["anonymous_referral"]):
        for value in texts_of_referral(referral).values():
            assert value.startswith(WORDS)
    assert old["incident"].anonymised_at is None


def test_a_second_run_finds_nothing_to_anonymise_and_writes_nothing(site_a, clinical_text):
    old, _new = clinical_text
    with time_machine.travel(NOW, tick=False):
        retention.apply()
    events = AuditEvent.objects.count()
    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
        again = retention.apply()
    assert (again.clients, again.incidents, again.referrals) == (0, 0, 0)
    assert AuditEvent.objects.count() == events
    old["incident"].refresh_from_db()
    assert old["incident"].anonymised_at == NOW  # not stamped again


def test_an_incident_the_earlier_job_cleared_is_done_once_more_for_its_corrections(
    site_a, desk, clinical_text
):
    """The job before ``anonymised_at`` cleared where exactly, the review and intervention
    notes, and picked incidents by those; it left the outcome reason, the notes and the
    corrections' reasons. Such an incident has no ``anonymised_at`` and is done again."""
    old, _new = clinical_text
    Incident.objects.filter(pk=old["incident"].pk).update(location_detail="", review_note="")
    Intervention.objects.filter(incident=old["incident"]).update(note="")
    with time_machine.travel(NOW, tick=False):
        retention.apply()
    texts = texts_of_incident(old["incident"])
    assert texts["outcome reason"] == ""
    assert texts["time correction"] == texts["note"] == retention.REMOVED


def test_the_retention_marker_is_sealed_like_any_reason(site_a, clinical_text):
    from django.db import connection

    with time_machine.travel(NOW, tick=False):
        retention.apply()
    with connection.cursor() as cursor:
        cursor.execute("SELECT reason FROM incidents_incidentamendment")
        stored = [row[0] for row in cursor.fetchall()]
    assert stored
    assert all(value.startswith("gAAAA") for value in stored)
    assert not any(WORDS in value for value in stored)


def test_a_pseudonymised_client_loses_the_reasons_for_opening_and_merging_their_records(
    site_a, desk, manager, old_and_recent
):
    old, recent, _incident = old_and_recent
    with time_machine.travel(THEN, tick=False):
        record = IdentityRecord.objects.get(client=old)
        IdentityOpening.objects.create(
            record=record, at=THEN, by=manager, reason="other", note=said("housing lost it")
        )
        twin = make_client(site_a, desk, name="Olwen Again", year=1970)
        for client in (old, twin):
            Visit.objects.filter(client=client).update(arrived_at=THEN)
        ClientMerge.objects.create(
            kept=old, merged=twin, reason=said("same scar"), merged_by=manager, merged_at=THEN
        )
        kept_merge = ClientMerge.objects.create(
            kept=recent,
            merged=make_client(site_a, desk, name="Rhiannon Again", year=1995),
            reason=said("same tattoo"),
            merged_by=manager,
            merged_at=THEN,
        )
    recent_record = IdentityRecord.objects.get(client=recent)
    IdentityOpening.objects.create(
        record=recent_record, at=NOW, by=manager, reason="other", note=said("asked again")
    )
    with time_machine.travel(NOW, tick=False):
        retention.apply()
    assert not IdentityOpening.objects.filter(record_id=record.pk).exists()
    assert IdentityOpening.objects.get(record=recent_record).note == said("asked again")
    assert ClientMerge.objects.get(kept=old).reason == ""
    kept_merge.refresh_from_db()
    assert kept_merge.reason == said("same tattoo")
