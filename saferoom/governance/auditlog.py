"""Reading the audit log: which events a manager (their site) or a network administrator
(every site of the network, and events tied to no site) may see, filtered."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet

from saferoom.core.models import AuditEvent
from saferoom.sites.models import Site

SITE = "site"
NETWORK = "network"


@dataclass(frozen=True)
class Filters:
    scope: str = SITE
    date_from: date | None = None
    date_to: date | None = None
    person: str = ""
    action: str = ""
    object_code: str = ""


def _local_start(site: Site, day: date) -> datetime:
    return datetime.combine(day, time(0), site.tz)


def events(site: Site, filters: Filters) -> QuerySet[AuditEvent]:
    """The events the filters pick, newest first. ``NETWORK`` scope is for administrators of
    the whole network; the view decides who may ask for it."""
    if filters.scope == NETWORK:
        sites = Site.objects.filter(network_id=site.network_id).values("pk")
        rows = AuditEvent.objects.filter(Q(site_id__in=sites) | Q(site_id__isnull=True))
    else:
        rows = AuditEvent.objects.filter(site_id=site.pk)
    if filters.date_from:
        rows = rows.filter(at__gte=_local_start(site, filters.date_from))
    if filters.date_to:
        rows = rows.filter(at__lt=_local_start(site, filters.date_to + timedelta(days=1)))
    if filters.person:
        rows = rows.filter(actor_label__iexact=filters.person)
    if filters.action:
        rows = rows.filter(action__startswith=filters.action)
    if filters.object_code:
        # Labels hold a client's display code alone ("K7F29Q") or in words ("ban of K7F29Q").
        rows = rows.filter(
            Q(object_label=filters.object_code)
            | Q(object_label__endswith=f" {filters.object_code}")
            | Q(object_label__contains=f"({filters.object_code})")
        )
    return rows.order_by("-at", "-id")


CSV_HEADER = [
    "id",
    "at_utc",
    "person",
    "role",
    "action",
    "object_type",
    "object_id",
    "object",
    "site",
    "request_id",
]


def _safe(value: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(rows: Iterable[AuditEvent]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for e in rows:
        writer.writerow(
            [
                e.pk,
                e.at.isoformat(),
                _safe(e.actor_label),
                e.role,
                e.action,
                e.object_type,
                e.object_id,
                _safe(e.object_label),
                _safe(e.site_label),
                e.request_id,
            ]
        )
    return out.getvalue()
