"""The retention schedule (docs/privacy/retention.md) and the worker job that applies it.

Nothing here changes what the reports count: visits, sessions, incidents and their times,
kinds and outcomes, referrals and their statuses, a client's gender and year of birth all stay.
What goes is what could identify a person or is free text: the consented identity records, the
keyed hash of a client's code-scheme attributes, notes and reasons. Clinical records are never
deleted: after their period they are anonymised (their free text cleared; a reason the database
requires is replaced by :data:`REMOVED`), and stamped ``anonymised_at`` so the next run passes
them by (sealed text cannot be compared with what the job wrote). Audit events past their
period are removed oldest first behind a sealed checkpoint, so the hash chain still verifies.
The audit events hold no free text to clear: actions keep it on their own records.

Like ``core.jobs`` this reaches up to the apps whose records it keeps, importing them inside the
job so that ``core`` still loads first. Periods may be changed per deployment with the setting
``RETENTION_YEARS`` (a dict of record type to years), never below the minimums here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.db.models.functions import Coalesce
from django.utils import timezone

from saferoom.core import audit, audit_chain
from saferoom.core.models import AuditCheckpoint, AuditEvent

YEAR = timedelta(days=365)
# What replaces a reason the database refuses to leave empty (an amendment always says why):
# the record still shows that a reason was given, and that the schedule removed it.
REMOVED = "(removed under the retention schedule)"
# Records anonymised per run at most (one transaction, one audit event); the rest the next day.
BATCH = 5000


@dataclass(frozen=True)
class Rule:
    record: str
    years: int
    minimum_years: int
    what_happens: str


# The schedule. The periods follow the NHS Records Management Code of Practice (2023) for adult
# health records (8 years after the last contact) unless a reason to differ is given.
SCHEDULE: dict[str, Rule] = {
    rule.record: rule
    for rule in (
        Rule(
            "client",
            8,
            2,
            "8 years after the client's last visit: identity records (and who opened them, "
            "why) deleted, the attribute hash removed (they can no longer be found by their "
            "details), notes and reasons about them cleared. Code, gender, year of birth and "
            "every visit stay, so the figures do not change.",
        ),
        Rule(
            "clinical",
            8,
            8,
            "8 years after the incident (or the referral): free text (where exactly, the "
            "manager's review, the outcome's reason, intervention notes, incident notes and "
            "debriefs, follow-up notes, the reasons for corrections) cleared; times, kinds, "
            "outcomes, statuses and the hospital a transfer went to kept. Never deleted.",
        ),
        Rule(
            "audit",
            8,
            6,
            "8 years after the event: removed oldest first behind a sealed checkpoint; the "
            "rest of the chain still verifies.",
        ),
    )
}


def years(record: str) -> int:
    rule = SCHEDULE[record]
    configured = getattr(settings, "RETENTION_YEARS", {}).get(record, rule.years)
    return max(int(configured), rule.minimum_years)


def cutoff(record: str, now: datetime) -> datetime:
    return now - years(record) * YEAR


@dataclass(frozen=True)
class RetentionResult:
    clients: int
    incidents: int
    referrals: int
    audit_events: int


def pseudonymise_inactive_clients(now: datetime) -> int:
    """Clients with no visit (nor registration) since the cutoff lose what could identify them."""
    from saferoom.care.referrals.models import FollowUp, IdentityRecord
    from saferoom.clients.models import Ban, Client, ClientMerge, Intake

    before = cutoff("client", now)
    stale = (
        Client.objects.exclude(linkage_hash="")
        .annotate(last_seen=Coalesce(Max("visits__arrived_at"), "registered_at"))
        .filter(last_seen__lt=before)
    )
    done = 0
    for client in stale.iterator(chunk_size=500):
        with transaction.atomic():
            records = IdentityRecord.objects.filter(client=client).defer("details_json")
            identity_records = records.count()
            for record in records:
                record.referrals.clear()
            # Who opened them and why (IdentityOpening) goes with them, by cascade.
            records.delete()
            Client.objects.filter(pk=client.pk).update(linkage_hash="")
            Intake.objects.filter(client=client).update(residence_area="")
            Ban.objects.filter(client=client).update(note="", lift_reason="")
            FollowUp.objects.filter(referral__client=client).update(note="")
            # Why a code was merged into theirs ("same scar on the left hand") identifies them.
            ClientMerge.objects.filter(kept=client).update(reason="")
            audit.record(
                action="retention.client_pseudonymised",
                by=None,
                obj=client,
                detail={"identity_records": identity_records, "years": years("client")},
                at=now,
            )
        done += 1
    return done


def anonymise_old_clinical_records(now: datetime) -> int:
    """Incidents past the clinical period keep their facts and lose their free text: where
    exactly, the review, the outcome's reason, intervention notes, notes and debriefs, and the
    reasons of their corrections (replaced by :data:`REMOVED`)."""
    from saferoom.incidents.models import (
        Incident,
        IncidentAmendment,
        IncidentNote,
        Intervention,
        InterventionAmendment,
        OutcomeAmendment,
    )

    ids = list(
        Incident.objects.filter(onset_at__lt=cutoff("clinical", now), anonymised_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:BATCH]
    )
    if not ids:
        return 0
    with transaction.atomic():
        Intervention.objects.filter(incident_id__in=ids).exclude(note="").update(note="")
        InterventionAmendment.objects.filter(intervention__incident_id__in=ids).update(
            reason=REMOVED
        )
        IncidentAmendment.objects.filter(incident_id__in=ids).update(reason=REMOVED)
        OutcomeAmendment.objects.filter(incident_id__in=ids).update(reason=REMOVED)
        IncidentNote.objects.filter(incident_id__in=ids).update(text=REMOVED)
        Incident.objects.filter(pk__in=ids).update(
            location_detail="", review_note="", outcome_reason="", anonymised_at=now
        )
        audit.record(
            action="retention.incidents_anonymised",
            by=None,
            detail={"incidents": len(ids), "years": years("clinical")},
            at=now,
        )
    return len(ids)


def anonymise_old_referrals(now: datetime) -> int:
    """Referrals made before the clinical period keep their facts (where to, urgency, status,
    dates) and lose their free text: follow-up notes, and the reasons of their corrections
    (replaced by :data:`REMOVED`). A referral of an anonymous visit is covered too: it has no
    client for the client rule to reach."""
    from saferoom.care.referrals.models import FollowUp, Referral, ReferralAmendment

    ids = list(
        Referral.objects.filter(made_at__lt=cutoff("clinical", now), anonymised_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:BATCH]
    )
    if not ids:
        return 0
    with transaction.atomic():
        FollowUp.objects.filter(referral_id__in=ids).exclude(note="").update(note="")
        ReferralAmendment.objects.filter(referral_id__in=ids).update(reason=REMOVED)
        Referral.objects.filter(pk__in=ids).update(anonymised_at=now)
        audit.record(
            action="retention.referrals_anonymised",
            by=None,
            detail={"referrals": len(ids), "years": years("clinical")},
            at=now,
        )
    return len(ids)


def prune_audit_log(now: datetime) -> int:
    """Remove audit events older than the audit period, behind a sealed checkpoint naming the
    last one removed, so verification starts from there."""
    last_old = (
        AuditEvent.objects.filter(at__lt=cutoff("audit", now)).order_by("-pk").only("pk").first()
    )
    if last_old is None:
        return 0
    with transaction.atomic():
        through = AuditEvent.objects.get(pk=last_old.pk)
        previous = AuditCheckpoint.objects.order_by("-through_id").first()
        if previous is not None and previous.through_id >= through.pk:
            return 0
        removed = AuditEvent.objects.filter(pk__lte=through.pk).count()
        AuditCheckpoint.objects.create(
            through_id=through.pk,
            through_hash=through.row_hash,
            through_at=through.at,
            removed=removed,
            made_at=now,
            seal=audit_chain.checkpoint_seal(
                through_id=through.pk,
                through_hash=through.row_hash,
                through_at=through.at,
                removed=removed,
            ),
        )
        # The delete trigger lets events at or before the newest checkpoint go.
        AuditEvent.objects.filter(pk__lte=through.pk)._raw_delete(AuditEvent.objects.db)
        audit.record(
            action="retention.audit_pruned",
            by=None,
            detail={"removed": removed, "through": through.pk, "years": years("audit")},
            at=now,
        )
    return removed


def apply(now: datetime | None = None) -> RetentionResult:
    now = now or timezone.now()
    return RetentionResult(
        clients=pseudonymise_inactive_clients(now),
        incidents=anonymise_old_clinical_records(now),
        referrals=anonymise_old_referrals(now),
        audit_events=prune_audit_log(now),
    )
