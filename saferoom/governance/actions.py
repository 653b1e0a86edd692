"""Disclosure writes: open a request, decide it (someone other than who asked), release it
once. Each in one transaction with one audit event; a refusal changes nothing."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from saferoom.clients.models import Client
from saferoom.core import audit, idempotency
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.governance.export import ClientRecord, client_record
from saferoom.governance.models import Disclosure, DisclosureRelease, LegalBasis
from saferoom.sites.models import Site


def request_disclosure(
    *,
    site: Site,
    client: Client,
    recipient: str,
    legal_basis: str,
    reference: str,
    justification: str,
    include_identity: bool,
    by: User,
    idempotency_key: uuid.UUID,
    at: datetime | None = None,
) -> Disclosure:
    """Open a request to disclose one client's record. Refused without a legal basis from the
    fixed list, a reference and a justification."""
    at = at or timezone.now()
    recipient, reference, justification = (
        recipient.strip(),
        reference.strip(),
        justification.strip(),
    )
    if legal_basis not in LegalBasis.values:
        raise ActionRefused(
            _("Choose the legal basis for this disclosure. Without one, nothing is disclosed."),
            code="no_basis",
        )
    if not (recipient and reference and justification):
        raise ActionRefused(
            _("Say who receives it, the reference (court order number, consent form) and why."),
            code="incomplete",
        )
    if client.network_id != site.network_id or client.merged_into_id is not None:
        raise ActionRefused(_("That client cannot be disclosed from this site."), code="client")
    details = {
        "client": client.pk,
        "recipient": recipient,
        "legal_basis": legal_basis,
        "reference": reference,
        "include_identity": include_identity,
    }
    with transaction.atomic():
        existing = idempotency.replayed(
            key=idempotency_key, by=by, action="disclosure.requested", details=details
        )
        if existing is not None:
            return Disclosure.objects.get(pk=existing)
        disclosure = Disclosure.objects.create(
            site=site,
            client=client,
            recipient=recipient,
            legal_basis=legal_basis,
            reference=reference,
            justification=justification,
            include_identity=include_identity,
            requested_at=at,
            requested_by=by,
        )
        idempotency.remember(
            key=idempotency_key,
            by=by,
            action="disclosure.requested",
            details=details,
            obj=disclosure,
        )
        audit.record(
            action="disclosure.requested",
            by=by,
            obj=disclosure,
            site=site,
            detail={"legal_basis": legal_basis, "include_identity": include_identity},
            at=at,
        )
    return disclosure


def decide_disclosure(
    *,
    disclosure: Disclosure,
    approve: bool,
    note: str = "",
    by: User,
    at: datetime | None = None,
) -> Disclosure:
    """Approve or refuse a request: only someone other than the person who opened it."""
    at = at or timezone.now()
    with transaction.atomic():
        current = Disclosure.objects.select_for_update().get(pk=disclosure.pk)
        if current.requested_by_id == by.pk:
            raise ActionRefused(
                _("Another manager or an administrator must decide a request you opened."),
                code="same_person",
            )
        if current.status != Disclosure.Status.REQUESTED:
            raise ActionRefused(_("This request has already been decided."), code="decided")
        current.status = Disclosure.Status.APPROVED if approve else Disclosure.Status.REFUSED
        current.decided_at = at
        current.decided_by = by
        current.decision_note = note.strip()[:300]
        current.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
        audit.record(
            action="disclosure.approved" if approve else "disclosure.refused",
            by=by,
            obj=current,
            site=current.site,
            at=at,
        )
    return current


def release_disclosure(
    *, disclosure: Disclosure, by: User, at: datetime | None = None
) -> ClientRecord:
    """The approved client record, once, with its row in the accounting of disclosures."""
    at = at or timezone.now()
    with transaction.atomic():
        current = (
            Disclosure.objects.select_for_update(of=("self",))
            .select_related("client__registered_site", "site", "decided_by")
            .get(pk=disclosure.pk)
        )
        if current.status == Disclosure.Status.RELEASED:
            raise ActionRefused(
                _("This disclosure has been released already. Open a new request if needed."),
                code="released",
            )
        if current.status != Disclosure.Status.APPROVED:
            raise ActionRefused(
                _("Only an approved disclosure can be released."), code="not_approved"
            )
        record = client_record(current)
        DisclosureRelease.objects.create(
            disclosure=current,
            client=current.client,
            site=current.site,
            recipient=current.recipient,
            legal_basis=current.legal_basis,
            reference=current.reference,
            released_at=at,
            released_by=by,
            contents=record.contents,
            sha256=hashlib.sha256(record.text.encode()).hexdigest(),
        )
        current.status = Disclosure.Status.RELEASED
        current.save(update_fields=["status"])
        audit.record(
            action="disclosure.released",
            by=by,
            obj=current,
            site=current.site,
            detail={"contents": record.contents, "legal_basis": current.legal_basis},
            at=at,
        )
    return record
