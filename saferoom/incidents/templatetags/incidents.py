"""Template helpers of the emergency screen: a fresh idempotency key for each one-tap form."""

from __future__ import annotations

import uuid

from django import template

from saferoom.incidents.models import Incident
from saferoom.sites.models import Site

register = template.Library()


@register.simple_tag
def fresh_key() -> str:
    """A new key each time a form is drawn: a double tap sends the same key (one record); the
    next tap after the screen is redrawn is a new record (a repeat dose)."""
    return str(uuid.uuid4())


@register.simple_tag
def open_incidents(site: Site) -> list[Incident]:
    """The site's incidents not yet closed, newest first (for the shift handover)."""
    return list(
        Incident.objects.filter(site=site, reviewed_at__isnull=True)
        .select_related("client", "space")
        # The handover shows each one's outcome as last amended, without a query per row.
        .prefetch_related("outcome_amendments")
        .order_by("-onset_at", "-id")
    )
