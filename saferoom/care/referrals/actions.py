"""Writes of the referrals area: making a referral, recording follow-ups, amendments, and the
consented identity record with who may open it. Each runs in one transaction with its audit
event; creates are idempotent; a refusal raises ActionRefused and changes nothing.

Identity details never reach an audit event, a log line, an error message or a URL; nor does
any reason or note staff type: it is kept, encrypted, on its own record (the amendment, the
grant, the opening), which the audit event names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from saferoom.care.referrals.models import (
    FOLLOW_UP_DAYS,
    URGENCY_RANK,
    FollowUp,
    IdentityAccessGrant,
    IdentityDetails,
    IdentityOpening,
    IdentityRecord,
    Referral,
    ReferralAmendment,
    Urgency,
)
from saferoom.clients.models import Client
from saferoom.core import audit, versioning
from saferoom.core.errors import ActionRefused
from saferoom.core.idempotency import parse_key, remember, replayed
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.floor.models import Visit
from saferoom.sites.access import roles_at
from saferoom.sites.models import CatalogueItem, Site

MAX_NOTE_LENGTH = 1000
MAX_REASON_LENGTH = 200
# A follow-up date further out than this is a typing mistake.
MAX_FOLLOW_UP_DAYS = 366
NAMED_ROLES = frozenset({Role.MANAGER, Role.ADMIN})
GRANTABLE_ROLES = frozenset({Role.DESK, Role.FLOOR})


class IdentityAccessRefused(ActionRefused):
    """The person may not open identity records at this site (the refusal is audited)."""


def local_date(site: Site, moment: datetime) -> date:
    return site.local(moment).date()


def default_follow_up_due(site: Site, made_at: datetime, urgency: str) -> date:
    """When a referral of this urgency should first be followed up (the site's calendar)."""
    return local_date(site, made_at) + timedelta(days=FOLLOW_UP_DAYS[Urgency(urgency)])


def _day(value: date) -> str:
    return date_format(value, "l j F Y")


def _check_target(site: Site, target: CatalogueItem) -> None:
    if not (
        target.kind == CatalogueItem.Kind.REFERRAL_TARGET
        and target.active
        and target.network_id == site.network_id
        and target.site_id in (None, site.pk)
    ):
        raise ActionRefused(
            _("Choose where to refer them from this site's list."), code="bad_target"
        )


def _check_urgency(urgency: str) -> None:
    if urgency not in Urgency.values:
        raise ActionRefused(_("Choose how urgent the referral is."), code="bad_urgency")


def _check_due(site: Site, made_at: datetime, due: date) -> None:
    made_on = local_date(site, made_at)
    if due < made_on:
        raise ActionRefused(
            _("The follow-up date cannot be before the referral (%(day)s). Choose a later date.")
            % {"day": _day(made_on)},
            code="bad_due",
        )
    if due > made_on + timedelta(days=MAX_FOLLOW_UP_DAYS):
        raise ActionRefused(
            _("The follow-up date is more than a year away. Choose an earlier date."),
            code="bad_due",
        )


def _reason(reason: str, *, what: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise ActionRefused(_("Say why %(what)s.") % {"what": what}, code="no_reason")
    if len(text) > MAX_REASON_LENGTH:
        raise ActionRefused(
            _("The reason is too long: at most %(n)d characters.") % {"n": MAX_REASON_LENGTH},
            code="bad_reason",
        )
    return text


# ---------------------------------------------------------------------------------------------
# Referrals


def make_referral(
    *,
    site: Site,
    target: CatalogueItem,
    urgency: str,
    by: User,
    idempotency_key: Any,
    visit: Visit | None = None,
    client: Client | None = None,
    follow_up_due: date | None = None,
    at: datetime | None = None,
) -> Referral:
    """Refer the person of a visit (or a client, for a walk-in) to another service."""
    at = at or timezone.now()
    key = parse_key(idempotency_key)
    details = {
        "site": site.pk,
        "visit": visit.pk if visit is not None else None,
        "client": client.pk if client is not None else None,
        "target": target.pk,
        "urgency": urgency,
        "due": follow_up_due.isoformat() if follow_up_due else None,
    }
    with transaction.atomic():
        existing = replayed(key=key, by=by, action="referral.make", details=details)
        if existing is not None:
            return Referral.objects.select_related("client", "target", "site").get(pk=existing)
        if visit is not None:
            if visit.site_id != site.pk:
                raise ActionRefused(_("That visit is not at this site."), code="bad_visit")
            if client is not None and visit.client_id != client.pk:
                raise ActionRefused(
                    _("That visit is someone else's. Start again from the visit."),
                    code="bad_client",
                )
            client = visit.client
        elif client is None:
            raise ActionRefused(
                _("Say who the referral is for: start from their visit or their record."),
                code="bad_client",
            )
        if client is not None:
            if client.network_id != site.network_id:
                raise ActionRefused(
                    _("That client is not registered in this network."), code="bad_client"
                )
            if client.merged_into_id is not None:
                raise ActionRefused(
                    _("That code was merged into another client's. Find the client again."),
                    code="merged_client",
                )
        _check_target(site, target)
        _check_urgency(urgency)
        due = follow_up_due or default_follow_up_due(site, at, urgency)
        _check_due(site, at, due)
        referral = Referral.objects.create(
            site=site,
            client=client,
            visit=visit,
            target=target,
            category=target.category,
            urgency=urgency,
            made_at=at,
            made_by=by,
            follow_up_due=due,
        )
        audit.record(
            action="referral.made",
            by=by,
            obj=referral,
            site=site,
            at=at,
            detail={
                "target": target.code,
                "category": target.category,
                "urgency": urgency,
                "due": due.isoformat(),
                "visit": visit.pk if visit is not None else None,
            },
        )
        remember(key=key, by=by, action="referral.make", details=details, obj=referral)
    return referral


def _closed_message(referral: Referral) -> str:
    assert referral.closed_at is not None
    return _(
        "This referral was already recorded as “%(status)s” on %(day)s. To correct it, amend "
        "the referral and say why."
    ) % {
        "status": referral.get_status_display(),
        "day": _day(local_date(referral.site, referral.closed_at)),
    }


def record_follow_up(
    *,
    referral: Referral,
    outcome: str,
    method: str,
    expected_version: int,
    by: User,
    idempotency_key: Any,
    note: str = "",
    next_due: date | None = None,
    at: datetime | None = None,
) -> FollowUp:
    """Record one follow-up attempt. Attended, declined or not known closes the referral;
    'not known yet' keeps it open and sets when to try again. ``expected_version`` is the
    referral's version the form was opened on: a follow-up or correction a colleague saved
    since refuses this one (``versioning.StaleEdit``), so that neither is lost unseen."""
    at = at or timezone.now()
    key = parse_key(idempotency_key)
    note = (note or "").strip()
    details = {
        "referral": referral.pk,
        "outcome": outcome,
        "method": method,
        "note": note,  # hashed, never stored in clear
        "next_due": next_due.isoformat() if next_due else None,
    }
    with transaction.atomic():
        existing = replayed(key=key, by=by, action="referral.follow_up", details=details)
        if existing is not None:
            return FollowUp.objects.select_related("referral").get(pk=existing)
        # Two people following up the same referral at once: the second waits here and then
        # sees the first one's outcome.
        locked = Referral.objects.select_for_update().select_related("site").get(pk=referral.pk)
        versioning.expect(locked, expected_version)
        if outcome not in FollowUp.Outcome.values:
            raise ActionRefused(_("Choose what happened."), code="bad_outcome")
        if method not in FollowUp.Method.values:
            raise ActionRefused(_("Choose how you found out."), code="bad_method")
        if len(note) > MAX_NOTE_LENGTH:
            raise ActionRefused(
                _("The note is too long: at most %(n)d characters.") % {"n": MAX_NOTE_LENGTH},
                code="bad_note",
            )
        if not locked.is_open:
            raise ActionRefused(_closed_message(locked), code="closed")
        if at < locked.made_at:
            raise ActionRefused(
                _("A follow-up cannot be earlier than the referral it follows up."),
                code="bad_time",
            )
        site = locked.site
        if outcome == FollowUp.Outcome.NOT_YET:
            today = local_date(site, at)
            next_due = next_due or today + timedelta(days=FOLLOW_UP_DAYS[Urgency(locked.urgency)])
            if next_due <= today:
                raise ActionRefused(
                    _("Choose when to try again: a day after today."), code="bad_due"
                )
            if next_due > today + timedelta(days=MAX_FOLLOW_UP_DAYS):
                raise ActionRefused(
                    _("The next follow-up is more than a year away. Choose an earlier date."),
                    code="bad_due",
                )
        else:
            next_due = None
        versioning.bump(locked, expected_version)
        follow_up = FollowUp.objects.create(
            referral=locked,
            at=at,
            by=by,
            outcome=outcome,
            method=method,
            note=note,
            next_due=next_due,
        )
        if next_due is not None:
            locked.follow_up_due = next_due
            locked.save(update_fields=["follow_up_due"])
        else:
            locked.status = outcome
            locked.closed_at = at
            locked.closed_by = by
            locked.save(update_fields=["status", "closed_at", "closed_by"])
        audit.record(
            action="referral.followed_up",
            by=by,
            obj=locked,
            site=site,
            at=at,
            detail={
                "outcome": outcome,
                "method": method,
                "next_due": next_due.isoformat() if next_due else None,
                "follow_up": follow_up.pk,
                "version": locked.version,
            },
        )
        remember(key=key, by=by, action="referral.follow_up", details=details, obj=follow_up)
    referral.refresh_from_db()
    return follow_up


def amend_referral(
    *,
    referral: Referral,
    reason: str,
    expected_version: int,
    by: User,
    idempotency_key: Any,
    target: CatalogueItem | None = None,
    urgency: str | None = None,
    follow_up_due: date | None = None,
    status: str | None = None,
    at: datetime | None = None,
) -> ReferralAmendment:
    """Correct a referral: where it went, how urgent, when to follow up, or its status. The
    old and new values and the reason are kept; nothing is overwritten silently: a change a
    colleague saved after ``expected_version`` refuses this one (``versioning.StaleEdit``)."""
    at = at or timezone.now()
    key = parse_key(idempotency_key)
    details = {
        "referral": referral.pk,
        "target": target.pk if target is not None else None,
        "urgency": urgency,
        "due": follow_up_due.isoformat() if follow_up_due else None,
        "status": status,
        "reason": reason,
    }
    with transaction.atomic():
        existing = replayed(key=key, by=by, action="referral.amend", details=details)
        if existing is not None:
            return ReferralAmendment.objects.get(pk=existing)
        locked = (
            Referral.objects.select_for_update(of=("self",))
            .select_related("site", "target", "client")
            .get(pk=referral.pk)
        )
        versioning.expect(locked, expected_version)
        site = locked.site
        why = _reason(reason, what=_("the referral is corrected"))
        changes: dict[str, list[str]] = {}
        fields: list[str] = []
        if target is not None and target.pk != locked.target_id:
            _check_target(site, target)
            changes["target"] = [locked.target.label, target.label]
            locked.target = target
            locked.category = target.category
            fields += ["target", "category"]
        if urgency is not None and urgency != locked.urgency:
            _check_urgency(urgency)
            changes["urgency"] = [locked.urgency, urgency]
            locked.urgency = urgency
            fields.append("urgency")
        if status is not None and status != locked.status:
            if status not in Referral.Status.values:
                raise ActionRefused(_("Choose a status from the list."), code="bad_status")
            changes["status"] = [locked.status, status]
            locked.status = status
            if status == Referral.Status.MADE:
                locked.closed_at, locked.closed_by = None, None
            else:
                locked.closed_at, locked.closed_by = at, by
            fields += ["status", "closed_at", "closed_by"]
        if follow_up_due is not None and follow_up_due != locked.follow_up_due:
            _check_due(site, locked.made_at, follow_up_due)
            changes["follow_up_due"] = [
                locked.follow_up_due.isoformat(),
                follow_up_due.isoformat(),
            ]
            locked.follow_up_due = follow_up_due
            fields.append("follow_up_due")
        if not changes:
            raise ActionRefused(
                _("Nothing was changed. Change a value, or cancel."), code="no_change"
            )
        versioning.bump(locked, expected_version)
        locked.save(update_fields=fields)
        amendment = ReferralAmendment.objects.create(
            referral=locked, at=at, by=by, changes=changes, reason=why
        )
        audit.record(
            action="referral.amended",
            by=by,
            obj=locked,
            site=site,
            at=at,
            # The reason is kept on the amendment (encrypted), never in the audit trail.
            detail={
                "changes": changes,
                "reason_given": True,
                "amendment": amendment.pk,
                "version": locked.version,
            },
        )
        remember(key=key, by=by, action="referral.amend", details=details, obj=amendment)
    referral.refresh_from_db()
    return amendment


@dataclass(frozen=True)
class DueFollowUp:
    referral: Referral
    due: date
    days_overdue: int  # 0 when due today, negative when due later
    attempts: int

    @property
    def overdue(self) -> bool:
        return self.days_overdue > 0


def follow_ups_due(site: Site, now: datetime, *, within_days: int = 0) -> list[DueFollowUp]:
    """The site's open referrals due for follow-up by ``within_days`` after today (the site's
    calendar), overdue first: oldest due date first, then the most urgent, then the oldest."""
    today = local_date(site, now)
    rows = (
        Referral.objects.filter(
            site=site,
            status=Referral.Status.MADE,
            follow_up_due__lte=today + timedelta(within_days),
        )
        .select_related("client", "target", "visit")
        .annotate(attempts=Count("follow_ups"))
    )
    ordered = sorted(
        rows, key=lambda r: (r.follow_up_due, URGENCY_RANK[Urgency(r.urgency)], r.made_at, r.pk)
    )
    return [
        DueFollowUp(
            referral=r,
            due=r.follow_up_due,
            days_overdue=(today - r.follow_up_due).days,
            attempts=r.attempts,
        )
        for r in ordered
    ]


# ---------------------------------------------------------------------------------------------
# Identity records: who may open them


def open_grant(user: User, site: Site, at: datetime) -> IdentityAccessGrant | None:
    return (
        IdentityAccessGrant.objects.filter(site=site, user=user, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at))
        .first()
    )


def may_open_identity(user: User, site: Site, at: datetime | None = None) -> bool:
    """Named people only: the site's managers and administrators, and desk or floor staff a
    manager has granted (while the grant lasts and they still work at the site)."""
    held = roles_at(user, site)
    if held & NAMED_ROLES:
        return True
    if not held & GRANTABLE_ROLES:
        return False
    return open_grant(user, site, at or timezone.now()) is not None


def refuse_identity_access(
    *, user: User, site: Site, record: IdentityRecord | None, what: str, role: str = ""
) -> IdentityAccessRefused:
    """Audit a refusal (in its own transaction, so it stays when the request fails) and return
    the exception to raise."""
    audit.record(
        action="identity.refused", by=user, obj=record, site=site, role=role, detail={"tried": what}
    )
    return IdentityAccessRefused(
        _(
            "Only the site's managers, and staff a manager has named, may open identity records. "
            "Ask a manager."
        ),
        code="not_named",
    )


def _require_named(
    user: User, site: Site, record: IdentityRecord | None, what: str, role: str = ""
) -> None:
    if not may_open_identity(user, site):
        raise refuse_identity_access(user=user, site=site, record=record, what=what, role=role)


def _clean_details(details: IdentityDetails) -> IdentityDetails:
    name = details.full_name.strip()
    if not name:
        raise ActionRefused(_("Write the name the service needs."), code="bad_details")
    limits = {"full_name": 150, "contact": 300, "health_number": 30}
    for field, limit in limits.items():
        if len(getattr(details, field).strip()) > limit:
            raise ActionRefused(
                _("One of the details is too long. Shorten it and save again."),
                code="bad_details",
            )
    if details.date_of_birth:
        try:
            date.fromisoformat(details.date_of_birth)
        except ValueError:
            raise ActionRefused(
                _("The date of birth could not be read. Type it as day/month/year."),
                code="bad_details",
            ) from None
    return IdentityDetails(
        full_name=name,
        date_of_birth=details.date_of_birth,
        contact=details.contact.strip(),
        health_number=details.health_number.strip(),
    )


def record_identity(
    *,
    referral: Referral,
    details: IdentityDetails,
    consent_scope: str,
    consent_confirmed: bool,
    by: User,
    idempotency_key: Any,
    role: str = "",
    at: datetime | None = None,
) -> IdentityRecord:
    """Keep the identity a referral needs, with the person's consent, encrypted."""
    at = at or timezone.now()
    key = parse_key(idempotency_key)
    site = referral.site
    _require_named(by, site, None, "record", role)
    details = _clean_details(details)
    fingerprint = {
        "referral": referral.pk,
        "details": details.to_json(),  # hashed, never stored in clear
        "scope": consent_scope,
    }
    with transaction.atomic():
        existing = replayed(key=key, by=by, action="identity.record", details=fingerprint)
        if existing is not None:
            return IdentityRecord.objects.select_related("client").get(pk=existing)
        if not consent_confirmed:
            raise ActionRefused(
                _(
                    "Ask the person first. Their details are kept only when they agree: tick "
                    "that they agreed."
                ),
                code="no_consent",
            )
        if consent_scope not in IdentityRecord.Scope.values:
            raise ActionRefused(_("Choose what they agreed to."), code="bad_scope")
        if referral.client is None:
            raise ActionRefused(
                _(
                    "This referral is for an anonymous visit. Register the person first if "
                    "they want to be referred by name."
                ),
                code="anonymous",
            )
        current = IdentityRecord.objects.filter(
            site=site, client=referral.client, consent_withdrawn_at__isnull=True
        ).first()
        if current is not None:
            raise ActionRefused(
                _(
                    "%(code)s already has an identity record at this site. Use it for this "
                    "referral instead."
                )
                % {"code": referral.client.display_code},
                code="exists",
            )
        try:
            with transaction.atomic():
                record = IdentityRecord.objects.create(
                    site=site,
                    client=referral.client,
                    details_json=details.to_json(),
                    consent_scope=consent_scope,
                    consent_given_at=at,
                    recorded_by=by,
                )
        except IntegrityError:
            raise ActionRefused(
                _("Someone recorded an identity for this client a moment ago. Reload the page."),
                code="exists",
            ) from None
        record.referrals.add(referral)
        audit.record(
            action="identity.recorded",
            by=by,
            obj=record,
            site=site,
            role=role,
            at=at,
            detail={"referral": referral.pk, "scope": consent_scope},
        )
        remember(key=key, by=by, action="identity.record", details=fingerprint, obj=record)
    return record


def link_identity(
    *,
    record: IdentityRecord,
    referral: Referral,
    by: User,
    role: str = "",
    at: datetime | None = None,
) -> IdentityRecord:
    """Use an existing identity record for another referral of the same client, when the
    person agreed to it being kept for later referrals."""
    at = at or timezone.now()
    _require_named(by, record.site, record, "link", role)
    with transaction.atomic():
        if referral.client_id != record.client_id or referral.site_id != record.site_id:
            raise ActionRefused(_("That identity record is someone else's."), code="bad_record")
        if not record.consented:
            raise ActionRefused(
                _("Consent was withdrawn: ask again and record their details anew."),
                code="withdrawn",
            )
        if record.consent_scope != IdentityRecord.Scope.REFERRALS:
            raise ActionRefused(
                _(
                    "They agreed to their details being used for one referral only. Ask them "
                    "again, and record their details anew."
                ),
                code="scope",
            )
        if record.referrals.filter(pk=referral.pk).exists():
            return record
        record.referrals.add(referral)
        audit.record(
            action="identity.linked",
            by=by,
            obj=record,
            site=record.site,
            role=role,
            at=at,
            detail={"referral": referral.pk},
        )
    return record


OPENING_REASONS = dict(IdentityOpening.Reason.choices)


def open_identity_record(
    *,
    record: IdentityRecord,
    reason: str,
    by: User,
    note: str = "",
    role: str = "",
    at: datetime | None = None,
) -> IdentityDetails | None:
    """Decrypt an identity record for a named person who says why; the opening is kept (with the
    reason in their words, encrypted) and audited. None when consent was withdrawn (the details
    are erased). Anyone else is refused, and that is audited too."""
    at = at or timezone.now()
    site = record.site
    _require_named(by, site, record, "open", role)
    if reason not in OPENING_REASONS:
        raise ActionRefused(_("Say why you are opening it."), code="no_reason")
    note = (note or "").strip()
    if reason == "other" and not note:
        raise ActionRefused(_("Say why you are opening it, in a few words."), code="no_reason")
    if len(note) > MAX_REASON_LENGTH:
        raise ActionRefused(
            _("The reason is too long: at most %(n)d characters.") % {"n": MAX_REASON_LENGTH},
            code="bad_reason",
        )
    details = IdentityDetails.from_json(record.details_json) if record.consented else None
    with transaction.atomic():
        opening = IdentityOpening.objects.create(
            record=record, at=at, by=by, reason=reason, note=note
        )
        audit.record(
            action="identity.opened",
            by=by,
            obj=record,
            site=site,
            role=role,
            at=at,
            # The reason's code only: the words stay on the opening, encrypted.
            detail={
                "reason": reason,
                "opening": opening.pk,
                "note_given": bool(note),
                "erased": details is None,
            },
        )
    return details


def withdraw_consent(
    *, record: IdentityRecord, by: User, role: str = "", at: datetime | None = None
) -> IdentityRecord:
    """The person no longer agrees: erase their identity details at once, keep the fact that
    consent was given and withdrawn. Any member of staff may record it (nothing is shown)."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = (
            IdentityRecord.objects.select_for_update()
            .select_related("client", "site")
            .get(pk=record.pk)
        )
        if not locked.consented:
            assert locked.consent_withdrawn_at is not None
            raise ActionRefused(
                _("Consent was already withdrawn on %(day)s; the details are erased.")
                % {"day": _day(local_date(locked.site, locked.consent_withdrawn_at))},
                code="withdrawn",
            )
        locked.details_json = ""
        locked.consent_withdrawn_at = at
        locked.consent_withdrawn_by = by
        locked.save(update_fields=["details_json", "consent_withdrawn_at", "consent_withdrawn_by"])
        audit.record(
            action="identity.consent_withdrawn",
            by=by,
            obj=locked,
            site=locked.site,
            role=role,
            at=at,
        )
    record.refresh_from_db()
    return record


# ---------------------------------------------------------------------------------------------
# Granting access


def grant_identity_access(
    *,
    site: Site,
    user: User,
    reason: str,
    by: User,
    idempotency_key: Any,
    expires_at: datetime | None = None,
    at: datetime | None = None,
) -> IdentityAccessGrant:
    """A manager names a member of the desk or floor staff who may open identity records."""
    at = at or timezone.now()
    key = parse_key(idempotency_key)
    details = {
        "site": site.pk,
        "user": user.pk,
        "reason": reason,
        "expires": expires_at.isoformat() if expires_at else None,
    }
    with transaction.atomic():
        existing = replayed(key=key, by=by, action="identity.grant", details=details)
        if existing is not None:
            return IdentityAccessGrant.objects.select_related("user").get(pk=existing)
        if not roles_at(by, site) & NAMED_ROLES:
            raise ActionRefused(
                _("Only the site's managers may name who opens identity records."),
                code="not_manager",
            )
        why = _reason(reason, what=_("they need to open identity records"))
        held = roles_at(user, site)
        if held & NAMED_ROLES:
            raise ActionRefused(
                _("%(name)s is a manager here and can already open them.") % {"name": user},
                code="already",
            )
        if not held & GRANTABLE_ROLES or not user.is_active:
            raise ActionRefused(
                _("%(name)s does not work at the desk or on the floor here.") % {"name": user},
                code="not_staff",
            )
        if expires_at is not None and expires_at <= at:
            raise ActionRefused(_("The end must be in the future."), code="bad_expiry")
        current = IdentityAccessGrant.objects.select_for_update().filter(
            site=site, user=user, revoked_at__isnull=True
        )
        for grant in current:
            if grant.expires_at is None or grant.expires_at > at:
                raise ActionRefused(
                    _("%(name)s can already open identity records here.") % {"name": user},
                    code="already",
                )
            # An expired grant is closed so a new one can be opened.
            grant.revoked_at, grant.revoked_by = at, by
            grant.save(update_fields=["revoked_at", "revoked_by"])
        grant = IdentityAccessGrant.objects.create(
            site=site, user=user, reason=why, granted_at=at, granted_by=by, expires_at=expires_at
        )
        audit.record(
            action="identity_access.granted",
            by=by,
            obj=grant,
            site=site,
            at=at,
            # The reason stays on the grant (encrypted), never in the audit trail.
            detail={
                "user": user.get_username(),
                "reason_given": True,
                "expires": expires_at.isoformat() if expires_at else None,
            },
        )
        remember(key=key, by=by, action="identity.grant", details=details, obj=grant)
    return grant


def revoke_identity_access(
    *, grant: IdentityAccessGrant, by: User, at: datetime | None = None
) -> IdentityAccessGrant:
    at = at or timezone.now()
    with transaction.atomic():
        locked = (
            IdentityAccessGrant.objects.select_for_update()
            .select_related("site", "user")
            .get(pk=grant.pk)
        )
        if not roles_at(by, locked.site) & NAMED_ROLES:
            raise ActionRefused(
                _("Only the site's managers may name who opens identity records."),
                code="not_manager",
            )
        if locked.revoked_at is not None:
            raise ActionRefused(_("That access was already ended."), code="revoked")
        locked.revoked_at, locked.revoked_by = at, by
        locked.save(update_fields=["revoked_at", "revoked_by"])
        audit.record(
            action="identity_access.revoked",
            by=by,
            obj=locked,
            site=locked.site,
            at=at,
            detail={"user": locked.user.get_username()},
        )
    grant.refresh_from_db()
    return grant
