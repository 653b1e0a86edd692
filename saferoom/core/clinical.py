"""Records that are never deleted: a client, what happened on their visits (sessions, checks,
incidents and each intervention, supplies and services given, drug checks, referrals and their
follow-ups), the corrections made to them, and the accounting of disclosures. A mistake is put
right by an amendment with its reason, author and the value before (ADR 8); the retention
schedule clears free text but keeps the record (``core.retention``).

Any ORM delete of one of these models, directly, through a queryset or by cascade from
something else, is refused before Django touches the database. Wiping a whole database
(``saferoom flush``, the test runner) goes round the ORM and is not affected.

Like ``core.retention`` this names models of apps that depend on ``core``; they are looked up
by label when the apps are ready, so nothing here imports them."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db.models.signals import pre_delete

NEVER_DELETED = (
    "clients.Client",
    "clients.Intake",
    "clients.Ban",
    "clients.ClientMerge",
    "floor.Visit",
    "floor.ConsumptionSession",
    "floor.SessionCheck",
    "floor.Escalation",
    "floor.MobileStop",
    "incidents.Incident",
    "incidents.Intervention",
    "incidents.IncidentAmendment",
    "incidents.OutcomeAmendment",
    "incidents.InterventionAmendment",
    "incidents.IncidentNote",
    "supplies.StockMovement",
    "supplies.ServiceGiven",
    "checking.DrugCheck",
    "checking.DrugAlert",
    "referrals.Referral",
    "referrals.FollowUp",
    "referrals.ReferralAmendment",
    "governance.Disclosure",
    "governance.DisclosureRelease",
)


class RecordNeverDeleted(RuntimeError):
    """Raised by any attempt to delete a record that is kept for good."""


def refuse_deletion(sender: type[Any], instance: Any, **kwargs: Any) -> None:
    raise RecordNeverDeleted(
        f"{sender._meta.label} records are never deleted: correct one with an amendment."
    )


def protect_records() -> None:
    """Connect the refusal to every model in NEVER_DELETED whose app is installed."""
    installed = {config.label for config in apps.get_app_configs()}
    for label in NEVER_DELETED:
        if label.split(".")[0] not in installed:
            continue
        model = apps.get_model(label)  # a renamed model fails here, loudly
        pre_delete.connect(
            refuse_deletion, sender=model, weak=False, dispatch_uid=f"never_deleted:{label}"
        )
