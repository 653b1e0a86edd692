"""The retention schedule (docs/privacy/retention.md) and the worker job that applies it.

Nothing here changes what the reports count: visits, sessions, incidents and their times,
kinds and outcomes, referrals and their statuses, a client's gender and year of birth all stay.
What goes is what could identify a person or is free text: the consented identity records, the
keyed hash of a client's code-scheme attributes, notes. Clinical records are never deleted: after
their period they are anonymised (their free text cleared). Audit events past their period are
removed oldest first behind a sealed checkpoint, so the hash chain still verifies.

Like ``core.jobs`` this reaches up to the apps whose records it keeps, importing them inside the
job so that ``core`` still loads first. Periods may be changed per deployment with the setting
``RETENTION_YEARS`` (a dict of record type to years), never below the minimums here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from saferoom.core import audit, audit_chain
from saferoom.core.models import AuditCheckpoint, AuditEvent

YEAR = timedelta(days=365)


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
            "8 years after the client's last visit: identity records deleted, the attribute "
            "hash removed (they can no longer be found by their details), notes cleared. Code, "
            "gender, year of birth and every visit stay, so the figures do not change.",
        ),
        Rule(
            "clinical",
            8,
            8,
            "8 years after the incident: free text (where exactly, the manager's review, "
            "intervention notes) cleared; times, kinds, outcomes and the hospital a transfer "
            "went to kept. Never deleted.",
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
    audit_events: int


def pseudonymise_inactive_clients(now: datetime) -> int:
    """Clients with no visit (nor registration) since the cutoff lose what could identify them."""
    from saferoom.care.referrals.models import FollowUp, IdentityRecord
    from saferoom.clients.models import Ban, Client, Intake

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
            records.delete()
            Client.objects.filter(pk=client.pk).update(linkage_hash="")
            Intake.objects.filter(client=client).update(residence_area="")
            Ban.objects.filter(client=client).update(note="", lift_reason="")
            FollowUp.objects.filter(referral__client=client).update(note="")
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
    """Incidents past the clinical period keep their facts and lose their free text."""
    from saferoom.incidents.models import Incident, Intervention

    old = Incident.objects.filter(onset_at__lt=cutoff("clinical", now)).filter(
        ~Q(location_detail="")
        | ~Q(review_note="")
        | Q(pk__in=Intervention.objects.exclude(note="").values("incident_id"))
    )
    ids = list(old.values_list("pk", flat=True)[:5000])
    if not ids:
        return 0
    with transaction.atomic():
        Intervention.objects.filter(incident_id__in=ids).update(note="")
        Incident.objects.filter(pk__in=ids).update(location_detail="", review_note="")
        audit.record(
            action="retention.incidents_anonymised",
            by=None,
            detail={"incidents": len(ids), "years": years("clinical")},
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
        audit_events=prune_audit_log(now),
    )
