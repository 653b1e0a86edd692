"""The retention schedule: ``saferoom worker`` pseudonymises clients unseen for years, clears
the free text of old clinical records (never deleting them) and prunes old audit events behind
a sealed checkpoint, while every report figure stays the same and the audit chain verifies."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from saferoom.care.referrals.models import IdentityRecord
from saferoom.clients.models import Ban, Client
from saferoom.core import audit, audit_chain, jobs, retention
from saferoom.core.models import AuditCheckpoint, AuditEvent
from saferoom.floor.models import Visit
from saferoom.incidents.models import Incident
from saferoom.reports.periods import year
from saferoom.reports.registry import compute_report
from saferoom.reports.scopes import site_scope
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
    assert (again.clients, again.incidents) == (0, 0)
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
