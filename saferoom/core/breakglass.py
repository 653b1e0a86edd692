"""Break-glass: emergency access, with a reason, for a limited time, that the site's managers
are told about (checklist item 13; HIPAA emergency access; Caldicott 7, the duty to share).

What it unlocks in saferoom: a worker normally sees a client's visits only at the sites where
they work (``clients.access``). In an emergency (an overdose, a client who collapses) the worker
may need the client's history at every site of the network: earlier overdoses, what was given,
how they arrived. A grant opens exactly that, for one client, for one person, for
``settings.BREAK_GLASS_MINUTES``; every page opened under it is audited with the grant's id,
and a security alert tells the site's managers at once.

``core`` comes before ``clients``, so clients are passed in as objects with ``pk``,
``network_id`` and ``audit_label()``; nothing here imports the clients app.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from saferoom.core import audit, idempotency
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.core.models_security import BreakGlassGrant, SecurityAlert
from saferoom.core.security_alerts import raise_alert

REASON_MIN = 10
REASON_MAX = 500


def duration() -> timedelta:
    return timedelta(minutes=settings.BREAK_GLASS_MINUTES)


def active_grant(user: Any, client_pk: int, at: datetime | None = None) -> BreakGlassGrant | None:
    """The person's break-glass grant for this client that has not expired yet, if any."""
    if not getattr(user, "is_authenticated", False):
        return None
    at = at or timezone.now()
    return (
        BreakGlassGrant.objects.filter(
            user=user, client_id=client_pk, started_at__lte=at, expires_at__gt=at
        )
        .order_by("-expires_at")
        .first()
    )


def open_grant(
    *,
    client: Any,
    site: Any,
    reason: str,
    by: User,
    idempotency_key: Any,
    role: str = "",
    at: datetime | None = None,
) -> BreakGlassGrant:
    """Give ``by`` break-glass access to ``client``'s history across the network, from ``site``
    where they are working, and tell that site's managers."""
    at = at or timezone.now()
    reason = (reason or "").strip()
    if len(reason) < REASON_MIN:
        raise ActionRefused(
            _("Say in a sentence why you need this now (at least %(n)d characters).")
            % {"n": REASON_MIN},
            code="reason_too_short",
        )
    if len(reason) > REASON_MAX:
        raise ActionRefused(
            _("Keep the reason under %(n)d characters.") % {"n": REASON_MAX},
            code="reason_too_long",
        )
    if client.network_id != site.network_id:
        raise ActionRefused(_("This client is not registered in this network."), code="network")
    key = idempotency.parse_key(idempotency_key)
    details = {"client": client.pk, "site": site.pk, "reason": reason}
    with transaction.atomic():
        existing = idempotency.replayed(
            key=key, by=by, action="break_glass.opened", details=details
        )
        if existing is not None:
            return BreakGlassGrant.objects.get(pk=existing)
        grant = BreakGlassGrant.objects.create(
            user=by,
            client_id=client.pk,
            client_label=client.audit_label(),
            site_id=site.pk,
            network_id=site.network_id,
            reason=reason,
            started_at=at,
            expires_at=at + duration(),
        )
        # The reason stays on the grant (for managers), never in the audit trail.
        audit.record(
            action="break_glass.opened",
            by=by,
            obj=client,
            site=site,
            role=role,
            detail={"grant": grant.pk, "minutes": settings.BREAK_GLASS_MINUTES},
            at=at,
        )
        raise_alert(
            kind=SecurityAlert.Kind.BREAK_GLASS,
            user=by,
            site_id=site.pk,
            at=at,
            grant=grant,
            detail={"minutes": settings.BREAK_GLASS_MINUTES, "client": grant.client_label},
        )
        idempotency.remember(
            key=key, by=by, action="break_glass.opened", details=details, obj=grant
        )
    return grant
