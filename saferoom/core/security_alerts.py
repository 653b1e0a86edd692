"""Security alerts for a site's managers, in one place: raised by the rate limits
(``saferoom.core.ratelimit``) and by break-glass (``saferoom.core.breakglass``), listed on the
site's "Security alerts" page with a count in the navigation, and marked as reviewed there."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from saferoom.core import audit
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.core.models_security import BreakGlassGrant, SecurityAlert

REVIEW_NOTE_MAX = 1000


def raise_alert(
    *,
    kind: str,
    user: User,
    site_id: int,
    at: datetime,
    detail: dict[str, Any] | None = None,
    grant: BreakGlassGrant | None = None,
    merge_within: timedelta | None = None,
) -> SecurityAlert:
    """A new alert for the site's managers, or, when ``merge_within`` is given and the same
    person raised the same kind of alert there within it and nobody has reviewed it yet, that
    alert counted once more (someone hammering a limit raises one alert, not hundreds).
    Call inside the transaction of what caused it."""
    if merge_within is not None:
        recent = (
            SecurityAlert.objects.select_for_update()
            .filter(
                kind=kind,
                user=user,
                site_id=site_id,
                reviewed_at__isnull=True,
                last_at__gte=at - merge_within,
            )
            .order_by("-last_at")
            .first()
        )
        if recent is not None:
            SecurityAlert.objects.filter(pk=recent.pk).update(times=F("times") + 1, last_at=at)
            recent.refresh_from_db()
            return recent
    return SecurityAlert.objects.create(
        kind=kind,
        user=user,
        site_id=site_id,
        raised_at=at,
        last_at=at,
        grant=grant,
        detail=detail or {},
    )


def open_alerts(site_id: int) -> QuerySet[SecurityAlert]:
    """The site's alerts nobody has reviewed yet, newest first."""
    return SecurityAlert.objects.filter(site_id=site_id, reviewed_at__isnull=True)


def site_alerts(site_id: int) -> QuerySet[SecurityAlert]:
    return SecurityAlert.objects.filter(site_id=site_id).select_related(
        "user", "reviewed_by", "grant"
    )


def review_alert(
    *, alert: SecurityAlert, note: str, by: User, site: Any, at: datetime | None = None
) -> SecurityAlert:
    """A manager has looked into the alert: it leaves the open list, with their note."""
    at = at or timezone.now()
    note = note.strip()
    if len(note) > REVIEW_NOTE_MAX:
        raise ActionRefused(
            _("Keep the note under %(n)d characters.") % {"n": REVIEW_NOTE_MAX}, code="too_long"
        )
    with transaction.atomic():
        updated = SecurityAlert.objects.filter(pk=alert.pk, reviewed_at__isnull=True).update(
            reviewed_at=at, reviewed_by=by, review_note=note
        )
        if not updated:
            raise ActionRefused(
                _("Someone has already marked this alert as reviewed."), code="already_reviewed"
            )
        audit.record(
            action="security.alert_reviewed",
            by=by,
            obj=alert,
            site=site,
            detail={"kind": alert.kind},
            at=at,
        )
    alert.refresh_from_db()
    return alert
