"""What the desk's queue shows, read in a fixed number of queries however long the queue is:
the waiting visits, the counts since opening, and a version that changes whenever any of that
does, so a poll can answer "nothing changed" without rendering anything."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from saferoom.floor.models import Visit
from saferoom.sites.models import Site


@dataclass(frozen=True)
class Counts:
    checked_in: int
    turned_away: int
    waiting: int


@dataclass(frozen=True)
class Window:
    """The stretch of time the desk's counts cover: the current opening period when the site
    is open (09:00–03:00 stays one day after midnight), else the local calendar day."""

    start: datetime
    since_opening: bool


def counting_window(site: Site, at: datetime) -> Window:
    period = site.opening_on(at)
    if period is not None:
        return Window(start=period[0], since_opening=True)
    local = site.local(at)
    return Window(start=datetime.combine(local.date(), time(0), site.tz), since_opening=False)


def waiting_visits(site: Site) -> QuerySet[Visit]:
    """Waiting visits, oldest first, with what the row shows (two queries in all)."""
    return (
        Visit.objects.filter(site=site, state=Visit.State.WAITING)
        .select_related("client")
        .prefetch_related("planned_substances")
        .order_by("arrived_at", "id")
    )


def counts(site: Site, window: Window, *, waiting: int) -> Counts:
    """Arrivals since the window began (one query over that window's rows only), and the
    number waiting now, which the caller has already counted."""
    row = Visit.objects.filter(site=site, arrived_at__gte=window.start).aggregate(
        checked_in=Count("id", filter=~Q(state=Visit.State.TURNED_AWAY)),
        turned_away=Count("id", filter=Q(state=Visit.State.TURNED_AWAY)),
    )
    return Counts(waiting=waiting, **row)


def version(site: Site, window: Window) -> str:
    """An ETag for everything the queue shows. The newest change (by the row's ``changed_at``,
    then id) catches every create and state change; the open counts catch changes made in the
    same instant; the window start rolls the counts over at opening or midnight."""
    visits = Visit.objects.filter(site=OuterRef("pk"))
    latest = visits.order_by("-changed_at", "-id")
    open_visits = visits.filter(state__in=Visit.OPEN_STATES).order_by().values("site")
    waiting = open_visits.filter(state=Visit.State.WAITING)
    # One round trip; each subquery is an index lookup, not a scan of the site's history.
    row = (
        Site.objects.filter(pk=site.pk)
        .values(
            latest_at=Subquery(latest.values("changed_at")[:1]),
            latest_id=Subquery(latest.values("id")[:1]),
            open=Subquery(open_visits.annotate(n=Count("id")).values("n")),
            waiting=Subquery(waiting.annotate(n=Count("id")).values("n")),
        )
        .get()
    )
    parts = [
        site.pk,
        window.start.isoformat(),
        row["latest_at"].isoformat() if row["latest_at"] else "",
        row["latest_id"] or "",
        row["open"] or 0,
        row["waiting"] or 0,
    ]
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:20]
    return f'"q-{digest}"'


def waited(since: datetime, now: datetime) -> str:
    """The wait as the live timer shows it (m:ss, or h:mm:ss), for the first paint."""
    total = max(0, int((now - since) / timedelta(seconds=1)))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes}:{seconds:02d}"
