"""The facts the use indicators (U1–U9) are computed from, read from visits and consumption
sessions: counts by site, local day and local hour, and distinct-client counts.

Two ways to get them, giving the same answers: ``raw_*`` reads the visit and session tables;
:mod:`saferoom.reports.rollups` reads the daily rollups the worker keeps, and falls back to
``raw_*`` for the days a rollup does not cover (today, or days changed since it was built).
Indicators call only the public functions at the bottom.

Measures of :func:`raw_counts` (``CountRow.measure`` → what ``dim`` holds). Day and hour are
the site's local calendar, at the time named:

    visit              "registered" | "anonymous": arrivals not turned away, at arrival
    turnaway           turn-away reason category (capacity, not_eligible, banned,
                       intoxicated, other), at arrival
    otherwise          alternative-location group of visits not turned away
                       (public, semi_public, private, would_not_use, unknown), at arrival
    left_queue         "": visits that left the queue before being seen, at arrival
    episode.route      route of each consumption session, at session start
    episode.substance  substance category of the session (see ``substance_category``)
    episode.space      space kind of the session
    episode.otherwise  alternative-location group of the session's visit
    wait               "<space kind>:<whole minutes>": arrival to the start of the visit's
                       first session, floored to whole minutes, at arrival
    occupied           space kind: seat-minutes occupied or in clear-down in that hour
                       (a session runs from its start to its clear-down end, or its end, or
                       ``now`` while open; never past ``now``), split across hours and days,
                       rounded to whole minutes per site, day, hour and kind
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from django.db import connections
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import ExtractHour, TruncDate

from saferoom.clients.models import OTHERWISE_GROUPS, age_band
from saferoom.floor.models import ConsumptionSession, MobileStop, Visit
from saferoom.reports import rollups
from saferoom.reports.periods import Period
from saferoom.sites.models import OpeningHours, Site, Space

if TYPE_CHECKING:
    from saferoom.reports.registry import Scope

MEASURES = (
    "visit",
    "turnaway",
    "otherwise",
    "left_queue",
    "episode.route",
    "episode.substance",
    "episode.space",
    "episode.otherwise",
    "wait",
    "occupied",
)


@dataclass(frozen=True, order=True)
class CountRow:
    site_id: int
    day: date
    hour: int
    measure: str
    dim: str
    value: int


@dataclass(frozen=True)
class ClientCounts:
    """U3 and U5's facts for a scope (registered clients only; turned-away arrivals and
    anonymous visits excluded)."""

    total: int  # distinct clients with at least one visit in the period
    by_site: dict[int, int] = field(default_factory=dict)  # distinct per site (not additive)
    by_gender: dict[str, int] = field(default_factory=dict)
    by_age_band: dict[str, int] = field(default_factory=dict)  # "not_known" when no year
    monthly_sum: int = 0  # sum over sites and calendar months of distinct clients
    visits_per_client: tuple[int, ...] = ()  # registered visits of each client, ascending


@dataclass(frozen=True)
class NewClients:
    """U4: clients whose first admitted visit at any site of the network falls in the period
    (for a site scope: and was at that site)."""

    total: int
    by_gender: dict[str, int] = field(default_factory=dict)
    by_age_band: dict[str, int] = field(default_factory=dict)


def raw_counts(
    sites: Sequence[Site], first: date, last: date, measures: Iterable[str], now: datetime
) -> list[CountRow]:
    """Count rows for ``sites`` over the local days ``first``..``last`` (inclusive), from
    the visit and session tables. Rows with value 0 are left out."""
    wanted = tuple(dict.fromkeys(measures))
    unknown = [m for m in wanted if m not in MEASURES]
    if unknown:
        raise ValueError(f"Unknown measure {', '.join(unknown)}; known: {', '.join(MEASURES)}.")
    period = Period("range", first, last)
    rows: list[CountRow] = []
    for zone, zone_sites in _by_zone(sites).items():
        tz = ZoneInfo(zone)
        start, end = period.bounds(tz)
        ids = [s.pk for s in zone_sites]
        for measure in wanted:
            rows += _MEASURE_READERS[measure](ids, start, end, tz, now)
    return [row for row in rows if row.value]


def raw_unique_clients(scope: Scope) -> ClientCounts:
    visits = _registered_visits(scope)
    per_client = sorted(
        visits.values("client_id").annotate(n=Count("pk")).order_by().values_list("n", flat=True)
    )
    by_site = dict(
        visits.values("site_id")
        .annotate(n=Count("client_id", distinct=True))
        .order_by()
        .values_list("site_id", "n")
    )
    by_gender, by_age_band = _gender_and_age(visits, scope.period.first.year)
    monthly_sum = 0
    for zone, sites in _by_zone(scope.sites).items():
        # Each visit's calendar month, by comparing with the months' local ends.
        ends = [m.bounds(zone)[1] for m in scope.period.months()]
        local_month = Case(
            *(When(arrived_at__lt=end, then=Value(i)) for i, end in enumerate(ends)),
            output_field=IntegerField(),
        )
        monthly_sum += sum(
            visits.filter(site_id__in=[s.pk for s in sites])
            .annotate(local_month=local_month)
            .values("site_id", "local_month")
            .annotate(n=Count("client_id", distinct=True))
            .order_by()
            .values_list("n", flat=True)
        )
    return ClientCounts(
        total=len(per_client),
        by_site=by_site,
        by_gender=by_gender,
        by_age_band=by_age_band,
        monthly_sum=monthly_sum,
        visits_per_client=tuple(per_client),
    )


def raw_new_registrations(scope: Scope) -> NewClients:
    # A visit is its client's first when no admitted visit of theirs, at any site, came before
    # it (visits of merged codes have moved to the code kept, so a person has one first visit).
    earlier = (
        Visit.objects.filter(client_id=OuterRef("client_id"))
        .exclude(state=Visit.State.TURNED_AWAY)
        .filter(
            Q(arrived_at__lt=OuterRef("arrived_at"))
            | Q(arrived_at=OuterRef("arrived_at"), pk__lt=OuterRef("pk"))
        )
    )
    firsts = _registered_visits(scope).filter(~Exists(earlier))
    by_gender, by_age_band = _gender_and_age(firsts, scope.period.first.year)
    return NewClients(total=sum(by_gender.values()), by_gender=by_gender, by_age_band=by_age_band)


# --- definitions shared by the indicators ---------------------------------------------------

SUBSTANCE_CATEGORIES = ("opioid", "stimulant", "opioid_stimulant", "sedative", "other")
_SPEEDBALL = frozenset({"opioid", "stimulant", "opioid_stimulant"})


def substance_category(categories: set[str] | frozenset[str]) -> str:
    """The reporting category of what was used in one session, from the categories of its
    substances: none recorded → "not_recorded"; one category → that category; opioids with
    stimulants (or an item that is both) and nothing else → "opioid_stimulant"; any other mix
    → "mixed". A category outside the catalogue's list counts as "other"."""
    known = {c if c in SUBSTANCE_CATEGORIES else "other" for c in categories}
    if not known:
        return "not_recorded"
    if len(known) == 1:
        return next(iter(known))
    if known <= _SPEEDBALL:
        return "opioid_stimulant"
    return "mixed"


def nearest_rank(sorted_values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least ``p`` per cent of the
    observations at or below it (so the median of 1, 2, 3, 4 is 2). None when there are none.
    Every median and percentile of the reports is this one."""
    if not sorted_values:
        return None
    if not 0 < p <= 100:
        raise ValueError("A percentile is above 0 and at most 100.")
    n = len(sorted_values)
    rank = math.ceil(Fraction(str(p)) * n / 100)
    return sorted_values[max(rank, 1) - 1]


def counted_rank(counts: Mapping[int, int], p: float) -> int | None:
    """:func:`nearest_rank` of the values ``counts`` holds, each as many times as counted
    (``{5: 2, 9: 1}`` is 5, 5, 9), without writing them all out."""
    n = sum(counts.values())
    if not n:
        return None
    if not 0 < p <= 100:
        raise ValueError("A percentile is above 0 and at most 100.")
    rank = max(math.ceil(Fraction(str(p)) * n / 100), 1)
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return value
    raise AssertionError("unreachable: the counts add up to n")


def otherwise_group(location: str) -> str:
    """The U9 group of an answer to "where would you otherwise have used?"."""
    return OTHERWISE_GROUPS.get(location, "unknown")


TURNAWAY_CATEGORIES = ("capacity", "not_eligible", "banned", "intoxicated", "other")


@dataclass(frozen=True)
class Occupancy:
    """U8's facts for a scope: seat-minutes open, and used (occupied or in clear-down) with
    each site's local day, hour and space kind held to what was open then, by space kind and
    by local hour; and the use left out (outside the opening hours, or in spaces now out of
    service). Every kind with use or open minutes has an entry in both kind tables."""

    used_kind: dict[str, int]
    open_kind: dict[str, int]
    used_hour: dict[int, int]
    open_hour: dict[int, int]
    outside: int


@dataclass
class _OpenSources:
    seats: dict[int, dict[str, int]]
    hours: dict[int, list[tuple[int, time, time]]]
    stops: dict[int, list[tuple[datetime, datetime | None]]]


def _open_sources(scope: Scope) -> _OpenSources:
    sites = list(scope.sites)
    seats: dict[int, dict[str, int]] = defaultdict(dict)
    for site_id, kind, total in (
        Space.objects.filter(site__in=sites, out_of_service=False)
        .exclude(kind=Space.Kind.AFTERCARE)
        .values("site_id", "kind")
        .annotate(total=Sum("seats"))
        .order_by()
        .values_list("site_id", "kind", "total")
    ):
        seats[site_id][kind] = total
    hours: dict[int, list[tuple[int, time, time]]] = defaultdict(list)
    for site_id, weekday, opens, closes in OpeningHours.objects.filter(
        site__in=[s for s in sites if s.kind != Site.Kind.MOBILE]
    ).values_list("site_id", "weekday", "opens", "closes"):
        hours[site_id].append((weekday, opens, closes))
    stops: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    mobile = [s for s in sites if s.kind == Site.Kind.MOBILE]
    if mobile:
        earliest = min(scope.bounds(s)[0] for s in mobile)
        for site_id, opened, closed in (
            MobileStop.objects.filter(site__in=mobile, opened_at__lt=scope.now)
            .filter(Q(closed_at__isnull=True) | Q(closed_at__gt=earliest))
            .values_list("site_id", "opened_at", "closed_at")
        ):
            stops[site_id].append((opened, closed))
    return _OpenSources(seats=dict(seats), hours=dict(hours), stops=dict(stops))


def _open_cells(
    site: Site, sources: _OpenSources, period: Period, now: datetime
) -> dict[tuple[date, int, str], int]:
    """A site's open seat-minutes in ``period`` by (local day, hour, space kind); none 0."""
    seats = sources.seats.get(site.pk)
    if not seats:
        return {}
    tz = ZoneInfo(site.time_zone)
    start, end = period.bounds(tz)
    end = min(end, now)
    if site.kind == Site.Kind.MOBILE:
        intervals = [(o, c if c is not None else now) for o, c in sources.stops.get(site.pk, [])]
    else:
        intervals = _opening_intervals(sources.hours.get(site.pk, []), period, tz)
    spans: dict[tuple[date, int], timedelta] = defaultdict(timedelta)
    for a, b in _union(intervals, start, end):
        for day_, hour, length in _local_hours(a, b, tz):
            spans[day_, hour] += length
    cells = {}
    for (day_, hour), length in spans.items():
        for kind, n in seats.items():
            minutes = _minutes(length * n)
            if minutes:
                cells[day_, hour, kind] = minutes
    return cells


def open_seat_minutes(scope: Scope) -> list[CountRow]:
    """U8's denominator: seat-minutes open, by site, local day and hour, and space kind
    (``dim``), measure "open". A fixed site is open in its opening hours (a period that closes
    earlier than it opens runs past midnight); a mobile unit between opening and closing each
    stop. Seats are those of its consumption spaces in service now (not after-care). Nothing
    after ``scope.now`` is open yet."""
    sources = _open_sources(scope)
    return [
        CountRow(site.pk, day_, hour, "open", kind, minutes)
        for site in scope.sites
        for (day_, hour, kind), minutes in _open_cells(
            site, sources, scope.period, scope.now
        ).items()
    ]


def _period_days(period: Period) -> Iterator[date]:
    day_ = period.first
    while day_ <= period.last:
        yield day_
        day_ += timedelta(days=1)


def _steady_days(period: Period, tz: ZoneInfo) -> set[date]:
    """The days of ``period`` whose clocks keep one offset from UTC from the local midnight
    that begins the day before to the one that ends the day (so a fixed site's opening hours
    fall on such a day as on any other of its weekday)."""
    offsets = {
        d: datetime.combine(d, time.min, tzinfo=tz).utcoffset()
        for d in _period_days(
            Period("range", period.first - timedelta(days=1), period.last + timedelta(days=1))
        )
    }
    one = timedelta(days=1)
    return {d for d in _period_days(period) if offsets[d - one] == offsets[d] == offsets[d + one]}


def _occupancy(scope: Scope) -> Occupancy:
    """U8's facts. A fixed site's open minutes on a day whose clocks keep one offset (and
    that is over at ``scope.now``) are those of its weekday, worked out once; the use of such
    days, where the rollups cover them, is held to them by the database. Every other day (a
    clocks change, today, a mobile unit's stops, days not rolled up) is worked out cell by
    cell here."""
    sources = _open_sources(scope)
    caps: dict[int, dict[tuple[int, int, str], int]] = {}
    irregular: dict[int, set[date]] = {}
    exact: dict[tuple[int, date, int, str], int] = {}
    open_kind: dict[str, int] = defaultdict(int)
    open_hour: dict[int, int] = defaultdict(int)
    period = scope.period
    for site in scope.sites:
        tz = ZoneInfo(site.time_zone)
        over = scope.now.astimezone(tz).date()  # days before this are over
        weekdays: dict[int, dict[tuple[int, str], int]] = {}
        odd: set[date] = set()
        if site.kind == Site.Kind.MOBILE:
            # Open at its stops, which differ every day: all of them worked out at once.
            for (day_, hour, kind), minutes in _open_cells(
                site, sources, period, scope.now
            ).items():
                exact[site.pk, day_, hour, kind] = minutes
                open_kind[kind] += minutes
                open_hour[hour] += minutes
            caps[site.pk] = {}
            irregular[site.pk] = set(_period_days(period))
            continue
        steady = _steady_days(period, tz)
        times: dict[int, int] = defaultdict(int)  # steady days of each weekday
        for day_ in _period_days(period):
            if day_ < over and day_ in steady:
                week = day_.weekday()
                times[week] += 1
                if week not in weekdays:
                    one = _open_cells(site, sources, Period("range", day_, day_), scope.now)
                    weekdays[week] = {(h, k): n for (_d, h, k), n in one.items()}
                continue
            odd.add(day_)
            one = _open_cells(site, sources, Period("range", day_, day_), scope.now)
            for (_d, hour, kind), minutes in one.items():
                exact[site.pk, day_, hour, kind] = minutes
                open_kind[kind] += minutes
                open_hour[hour] += minutes
        for week, cells in weekdays.items():
            for (hour, kind), minutes in cells.items():
                open_kind[kind] += minutes * times[week]
                open_hour[hour] += minutes * times[week]
        caps[site.pk] = {
            (w, h, k): n for w, cells in weekdays.items() for (h, k), n in cells.items()
        }
        irregular[site.pk] = odd
    sums, rows = rollups.clipped(scope, "occupied", caps, irregular)
    used_kind: dict[str, int] = defaultdict(int)
    used_hour: dict[int, int] = defaultdict(int)
    outside = 0
    for (kind, hour), (held, total) in sums.items():
        used_kind[kind] += held
        used_hour[hour] += held
        open_kind[kind] += 0
        outside += total - held
    used_at: dict[tuple[int, date, int, str], int] = defaultdict(int)
    for row in rows:
        used_at[row.site_id, row.day, row.hour, row.dim] += row.value
    for (site_id, day_, hour, kind), used in used_at.items():
        if day_ in irregular[site_id]:
            available = exact.get((site_id, day_, hour, kind), 0)
        else:
            available = caps[site_id].get((day_.weekday(), hour, kind), 0)
        held = min(used, available)
        used_kind[kind] += held
        used_hour[hour] += held
        open_kind[kind] += 0
        outside += used - held
    for kind in open_kind:
        used_kind[kind] += 0
    return Occupancy(
        used_kind=dict(used_kind),
        open_kind=dict(open_kind),
        used_hour=dict(used_hour),
        open_hour=dict(open_hour),
        outside=outside,
    )


# --- reading the tables ---------------------------------------------------------------------

Reader = Callable[[list[int], datetime, datetime, ZoneInfo, datetime], list[CountRow]]


def _by_zone(sites: Iterable[Site]) -> dict[str, list[Site]]:
    zones: dict[str, list[Site]] = {}
    for site in sites:
        zones.setdefault(site.time_zone, []).append(site)
    return zones


def _admitted(ids: list[int], start: datetime, end: datetime) -> QuerySet[Visit]:
    """Visits at these sites arriving in [start, end), not turned away (read through the
    (site, arrived_at) index)."""
    return Visit.objects.filter(site_id__in=ids, arrived_at__gte=start, arrived_at__lt=end).exclude(
        state=Visit.State.TURNED_AWAY
    )


class _UtcHour(Func):
    """The UTC hour an instant falls in, as text "YYYY-MM-DD HH", worked out by the database
    itself (Django's time-zone functions call back into Python for every row on SQLite)."""

    output_field = CharField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # SQLite keeps instants as UTC text, "YYYY-MM-DD HH:MM:SS[.ffffff]".
        return self.as_sql(compiler, connection, template="substr(%(expressions)s, 1, 13)")

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"
        return self.as_sql(compiler, connection, template=template)


def _grouped(
    rows: QuerySet[Any], moment: str, tz: ZoneInfo, *dims: str
) -> Iterator[tuple[Any, ...]]:
    """(site, local day, local hour, *dims, count) of ``rows``, counted by the database.

    Counted by UTC hour, each of which is one local hour wherever the clocks are a whole
    number of hours from UTC; in a zone that is not (India, Newfoundland, Adelaide), or on a
    database without :class:`_UtcHour`, counted by local hour directly (slower)."""
    if rows.db and connections[rows.db].vendor in ("sqlite", "postgresql"):
        by_utc_hour = list(
            rows.annotate(utc_hour=_UtcHour(moment))
            .values("site_id", "utc_hour", *dims)
            .annotate(n=Count("pk"))
            .order_by()
            .values_list("site_id", "utc_hour", *dims, "n")
        )
        local: dict[str, tuple[date, int] | None] = {}
        for _site, hour, *_rest in by_utc_hour:
            if hour not in local:
                moment_local = datetime.fromisoformat(f"{hour}:00+00:00").astimezone(tz)
                whole = moment_local.minute == 0
                local[hour] = (moment_local.date(), moment_local.hour) if whole else None
        if all(local.values()):
            return iter(
                (site, *cast("tuple[date, int]", local[hour]), *rest)
                for site, hour, *rest in by_utc_hour
            )
    return iter(
        rows.annotate(
            local_day=TruncDate(moment, tzinfo=tz), local_hour=ExtractHour(moment, tzinfo=tz)
        )
        .values("site_id", "local_day", "local_hour", *dims)
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("site_id", "local_day", "local_hour", *dims, "n")
    )


def _summed(measure: str, keyed: Iterable[tuple[int, date, int, str, int]]) -> list[CountRow]:
    """Count rows, adding up rows that fall on the same key (several answers in one group)."""
    totals: dict[tuple[int, date, int, str], int] = defaultdict(int)
    for site_id, day_, hour, dim, n in keyed:
        totals[site_id, day_, hour, dim] += n
    return [CountRow(s, d, h, measure, dim, n) for (s, d, h, dim), n in totals.items()]


def _visit(
    ids: list[int], start: datetime, end: datetime, tz: ZoneInfo, now: datetime
) -> list[CountRow]:
    rows = _grouped(_admitted(ids, start, end), "arrived_at", tz, "anonymous")
    return _summed(
        "visit", ((s, d, h, "anonymous" if anon else "registered", n) for s, d, h, anon, n in rows)
    )


def _turnaway(
    ids: list[int], start: datetime, end: datetime, tz: ZoneInfo, now: datetime
) -> list[CountRow]:
    visits = Visit.objects.filter(
        site_id__in=ids, arrived_at__gte=start, arrived_at__lt=end, state=Visit.State.TURNED_AWAY
    )
    rows = _grouped(visits, "arrived_at", tz, "turnaway_reason__category")
    return _summed(
        "turnaway",
        ((s, d, h, c if c in TURNAWAY_CATEGORIES else "other", n) for s, d, h, c, n in rows),
    )


def _otherwise(
    ids: list[int], start: datetime, end: datetime, tz: ZoneInfo, now: datetime
) -> list[CountRow]:
    rows = _grouped(_admitted(ids, start, end), "arrived_at", tz, "otherwise_location")
    return _summed("otherwise", ((s, d, h, otherwise_group(o), n) for s, d, h, o, n in rows))


def _left_queue(
    ids: list[int], start: datetime, end: datetime, tz: ZoneInfo, now: datetime
) -> list[CountRow]:
    visits = _admitted(ids, start, end).filter(end_reason=Visit.EndReason.LEFT_QUEUE)
    return _summed(
        "left_queue", ((s, d, h, "", n) for s, d, h, n in _grouped(visits, "arrived_at", tz))
    )


def _sessions(ids: list[int], start: datetime, end: datetime) -> QuerySet[ConsumptionSession]:
    return ConsumptionSession.objects.filter(
        site_id__in=ids, started_at__gte=start, started_at__lt=end
    )


def _episode_route(
    ids: list[int], start: datetime, end: datetime, tz: ZoneInfo, now: datetime
) -> list[CountRow]:
    rows = _grouped(_sessions(ids, start, end), "started_at", tz, "route")
    return _summed("episode.route", rows)


def _episode_space(
    ids: list[int], start: datetime, end: datetime, tz: ZoneInfo, now: datetime
) -> list[CountRow]:
    rows = _grouped(_sessions(ids, start, end), "started_at", tz, "space__kind")
    return _summed("episode.space", rows)


def _episode_otherwise(
    ids: list[int], start: datetime, end: datetime, tz: ZoneInfo, now: datetime
) -> list[CountRow]:
    rows = _grouped(_sessions(ids, start, end), "started_at", tz, "visit__otherwise_location")
    return _summed(
        "episode.otherwise", ((s, d, h, otherwise_group(o), n) for s, d, h, o, n in rows)
    )


def _episode_substance(
    ids: list[int], start: datetime, end: datetime, tz: ZoneInfo, now: datetime
) -> list[CountRow]:
    # A session's category depends on all of its substances together, so the categories are
    # read one row per session and substance (a plain join) and combined here.
    sessions = (
        _sessions(ids, start, end)
        .order_by()
        .values_list("pk", "site_id", "started_at", "substances__category")
    )
    where: dict[int, tuple[int, date, int]] = {}
    found: dict[int, set[str]] = defaultdict(set)
    for pk, site_id, started, category in sessions:
        if pk not in where:
            local = started.astimezone(tz)
            where[pk] = (site_id, local.date(), local.hour)
        if category is not None:
            found[pk].add(category)
    keyed = ((*at, substance_category(found[pk]), 1) for pk, at in where.items())
    return _summed("episode.substance", keyed)


def _wait(
    ids: list[int], start: datetime, end: datetime, tz: ZoneInfo, now: datetime
) -> list[CountRow]:
    # Every session of the visits that arrived in the window (a join on the visit, not a
    # subquery per visit); the first of each visit is picked here, and its wait and local
    # hour worked out here too (date arithmetic differs between databases).
    sessions = (
        ConsumptionSession.objects.filter(
            visit__site_id__in=ids, visit__arrived_at__gte=start, visit__arrived_at__lt=end
        )
        .exclude(visit__state=Visit.State.TURNED_AWAY)
        .order_by()
        .values_list(
            "visit_id", "visit__site_id", "visit__arrived_at", "started_at", "pk", "space__kind"
        )
    )
    first: dict[int, tuple[tuple[datetime, int], tuple[int, date, int, str]]] = {}
    for visit_id, site_id, arrived, began, pk, kind in sessions:
        seen = first.get(visit_id)
        if seen is None or (began, pk) < seen[0]:
            local = arrived.astimezone(tz)
            minutes = max(0, (began - arrived) // MINUTE)
            first[visit_id] = (
                (began, pk),
                (site_id, local.date(), local.hour, f"{kind}:{minutes}"),
            )
    keyed = ((*where, 1) for _order, where in first.values())
    return _summed("wait", keyed)


def _occupied(
    ids: list[int], start: datetime, end: datetime, tz: ZoneInfo, now: datetime
) -> list[CountRow]:
    sessions = (
        ConsumptionSession.objects.filter(site_id__in=ids, started_at__lt=min(end, now))
        .filter(
            Q(ended_at__isnull=True)
            | Q(clear_down_until__gt=start)
            | Q(clear_down_until__isnull=True, ended_at__gt=start)
        )
        .order_by()
        .values_list("site_id", "space__kind", "started_at", "ended_at", "clear_down_until")
    )
    spans: dict[tuple[int, date, int, str], timedelta] = defaultdict(timedelta)
    for site_id, kind, began, ended, cleared in sessions:
        # Nothing after ``now`` has happened yet, even a clear-down already timed.
        until = min(cleared or ended or now, end, now)
        for day_, hour, length in _local_hours(max(began, start), until, tz):
            spans[site_id, day_, hour, kind] += length
    return [
        CountRow(site_id, day_, hour, "occupied", kind, _minutes(length))
        for (site_id, day_, hour, kind), length in spans.items()
    ]


_MEASURE_READERS: dict[str, Reader] = {
    "visit": _visit,
    "turnaway": _turnaway,
    "otherwise": _otherwise,
    "left_queue": _left_queue,
    "episode.route": _episode_route,
    "episode.substance": _episode_substance,
    "episode.space": _episode_space,
    "episode.otherwise": _episode_otherwise,
    "wait": _wait,
    "occupied": _occupied,
}


def _registered_visits(scope: Scope) -> QuerySet[Visit]:
    """Admitted visits of registered clients in the scope, each site in its own calendar."""
    where = Q(pk__in=[])
    for zone, sites in _by_zone(scope.sites).items():
        start, end = scope.period.bounds(zone)
        where |= Q(site_id__in=[s.pk for s in sites], arrived_at__gte=start, arrived_at__lt=end)
    return (
        Visit.objects.filter(where, anonymous=False, client__isnull=False)
        .exclude(state=Visit.State.TURNED_AWAY)
        .order_by()
    )


def _gender_and_age(visits: QuerySet[Visit], year: int) -> tuple[dict[str, int], dict[str, int]]:
    """Distinct clients of ``visits`` by gender and by age band in ``year``."""
    by_gender: dict[str, int] = defaultdict(int)
    by_age_band: dict[str, int] = defaultdict(int)
    for gender, born, n in (
        visits.values("client__gender", "client__year_of_birth")
        .annotate(n=Count("client_id", distinct=True))
        .order_by()
        .values_list("client__gender", "client__year_of_birth", "n")
    ):
        by_gender[gender] += n
        by_age_band[age_band(born, year) or "not_known"] += n
    return dict(by_gender), dict(by_age_band)


# --- time -----------------------------------------------------------------------------------

MINUTE = timedelta(minutes=1)


def _minutes(length: timedelta) -> int:
    """Whole minutes, half a minute and more rounded up."""
    return (length + MINUTE / 2) // MINUTE


def _local_hours(a: datetime, b: datetime, tz: ZoneInfo) -> Iterator[tuple[date, int, timedelta]]:
    """[a, b) cut at the local clock's hours: (local day, local hour, length) of each piece.
    In the hour the clocks go back, local hour 1 holds two hours; the hour they go forward
    has no piece."""
    moment = a.astimezone(UTC)
    end = b.astimezone(UTC)
    while moment < end:
        local = moment.astimezone(tz)
        hour_start = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        following = hour_start + timedelta(hours=1)
        if following <= moment:  # a zone that moves its clocks by less than an hour
            following = moment + MINUTE
        piece_end = min(following, end)
        yield local.date(), local.hour, piece_end - moment
        moment = piece_end


def _opening_intervals(
    hours: list[tuple[int, time, time]], period: Period, tz: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """The instants a fixed site is open on the local days of ``period`` (and from the evening
    before it, for hours that run past midnight)."""
    intervals = []
    day_ = period.first - timedelta(days=1)
    while day_ <= period.last:
        for weekday, opens, closes in hours:
            if weekday != day_.weekday():
                continue
            closes_on = day_ if closes > opens else day_ + timedelta(days=1)
            intervals.append(
                (
                    datetime.combine(day_, opens, tzinfo=tz).astimezone(UTC),
                    datetime.combine(closes_on, closes, tzinfo=tz).astimezone(UTC),
                )
            )
        day_ += timedelta(days=1)
    return intervals


def _union(
    intervals: Iterable[tuple[datetime, datetime]], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The intervals clipped to [start, end), overlapping ones joined (so two opening rows
    that overlap are not counted twice)."""
    clipped = sorted(
        (max(a, start), min(b, end)) for a, b in intervals if min(b, end) > max(a, start)
    )
    joined: list[tuple[datetime, datetime]] = []
    for a, b in clipped:
        if joined and a <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], b))
        else:
            joined.append((a, b))
    return joined


# --- what indicators call -------------------------------------------------------------------


def counts(scope: Scope, measures: Iterable[str]) -> list[CountRow]:
    """Count rows of ``measures`` for the scope's sites and period (rollups where they are
    built, the raw tables elsewhere)."""
    return rollups.counts(scope, tuple(measures))


def totals(
    scope: Scope, measures: Iterable[str], by: Sequence[str] = ()
) -> dict[tuple[Any, ...], int]:
    """What :func:`counts` gives, added up by measure and the keys named in ``by`` ("site_id",
    "day", "weekday", "hour", "dim"; keyed ``(measure, *keys)`` in that order), summed by the
    database where the rollups cover the period."""
    return rollups.totals(scope, measures, by)


def occupancy(scope: Scope) -> Occupancy:
    return _occupancy(scope)


def unique_clients(scope: Scope) -> ClientCounts:
    return rollups.unique_clients(scope)


def new_registrations(scope: Scope) -> NewClients:
    return rollups.new_registrations(scope)
