"""Rollups that keep reports fast at network scale (ADR 10): the facts of
:mod:`saferoom.reports.facts` for finished local days, kept by the worker, so that a report
reads a few thousand rows instead of every visit.

What is kept (models in ``saferoom.reports.models.rollups``):

- the count rows of every finished site-day (``facts.raw_counts`` of that day, stored as they
  are), with a marker per site-day saying when and from what it was built;
- each client's admitted visits per site and local calendar month, for distinct clients (U3,
  U5) over periods made of whole months, and the same added up per calendar year (a year's
  client months, kept only while they are all built and unchanged);
- each client's first admitted visit at any site (U4).

How the readers stay exact. A site-day is *covered* when its marker exists, was built from the
site's current spaces, catalogue and time zone (``source_version``), and no visit touching that
day has changed since it was built. Every write to a visit sets ``Visit.changed_at`` (the
floor's own rule, which sessions follow: starting and ending a session moves its visit), so:

- the worker looks at visits changed since the site's watermark, drops the markers of the days
  (and months) they touch, and moves the watermark on to ``now - LAG``;
- the reader itself looks at the few visits changed since the watermark (the last pass or so)
  and treats the days they touch as not covered.

A change is assumed to be committed within ``LAG`` of its ``changed_at``; a day is therefore
built only when ``LAG`` has passed since its local midnight and since the last change that
touched it, and a marker is stale when a change touching its day has
``changed_at + LAG > built_at``. Today (site-local) is never rolled up. Everything not covered
is read raw, from the same functions the rollups were built with, so the two always agree
(``tests/reports/test_rollups.py`` checks it on simulated data).

Client merges move visits without touching them (they are the same visits): a receiver drops
the months and first visits of the two codes (``receivers.py``).
"""

from __future__ import annotations

import gc
import hashlib
import time as clock
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

if TYPE_CHECKING:
    from saferoom.reports.facts import ClientCounts, CountRow, NewClients
    from saferoom.reports.registry import Scope
    from saferoom.sites.models import Site

# Bump when what the facts count changes: every rollup built before is then read raw until
# the worker has built it again.
ROLLUP_VERSION = 1
# A change is committed within this long of its ``changed_at`` (the server's clock).
LAG = timedelta(minutes=5)
# The longest clear-down a space may have (sites.Space's check constraint): a visit's seat
# counts as occupied until then after it ends.
CLEAR_DOWN_MAX = timedelta(minutes=120)
# The most days rolled up from one read of the raw tables.
CHUNK_DAYS = 31
# How long one worker pass may spend building (the rest waits for the next pass).
WORKER_BUDGET_SECONDS = 10.0

TURNED_AWAY = "turned_away"

# A finished month's count rows are also kept added up (``RollupMonthSum``), at these grains:
# what each adds up by besides measure and dim, and the measures kept at it (None: all).
# Changing them needs a migration that throws the month sums away (they are built again).
MONTH_GRAINS: dict[str, tuple[frozenset[str], tuple[str, ...] | None]] = {
    "month": (frozenset(), None),
    "hour": (frozenset({"hour"}), ("wait",)),
    "day": (frozenset({"day", "weekday"}), ("visit",)),
    "weekday_hour": (frozenset({"weekday", "hour"}), ("visit", "occupied")),
}
# And the largest day cell (site, day, hour, dim) of the month's weekday × hour: U8 holds each
# cell to what was open (``clipped``), which a month's sum answers exactly when no cell of
# it is over its cap. Read only by ``clipped``, never by ``totals``.
PEAK_GRAIN = "weekday_hour_max"
PEAK_MEASURES = ("occupied",)


# --- small helpers ----------------------------------------------------------------------------


def _days(first: date, last: date) -> Iterator[date]:
    d = first
    while d <= last:
        yield d
        d += timedelta(days=1)


def _spans(days: Iterable[date], longest: int | None = None) -> list[tuple[date, date]]:
    """Consecutive runs of ``days`` as (first, last), each at most ``longest`` days."""
    spans: list[tuple[date, date]] = []
    for d in sorted(set(days)):
        if (
            spans
            and spans[-1][1] + timedelta(days=1) == d
            and (longest is None or (d - spans[-1][0]).days < longest)
        ):
            spans[-1] = (spans[-1][0], d)
        else:
            spans.append((d, d))
    return spans


def _month(d: date) -> date:
    return d.replace(day=1)


def _next_month(m: date) -> date:
    return (m.replace(day=28) + timedelta(days=4)).replace(day=1)


def _months(first: date, last: date) -> Iterator[date]:
    m = _month(first)
    while m <= last:
        yield m
        m = _next_month(m)


def _midnight(d: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(d, time.min, tzinfo=tz)


def _finished(tz: ZoneInfo, now: datetime) -> date:
    """The latest local day that may be rolled up at ``now``: over, and by at least LAG."""
    return (now - LAG).astimezone(tz).date() - timedelta(days=1)


def _sql_value(value: Any) -> Any:
    """A parameter for raw SQL: SQLite keeps aware instants as naive UTC text."""
    if isinstance(value, datetime) and connection.vendor != "postgresql":
        return connection.ops.adapt_datetimefield_value(value)
    return value


def _as_datetime(value: Any) -> datetime:
    """An instant read by raw SQL (SQLite gives naive UTC, or text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value  # type: ignore[no-any-return]


def insert_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert many rows fast: COPY on PostgreSQL, executemany elsewhere. Instants must be
    aware; ``table`` and ``columns`` are trusted names (never user input)."""
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            with cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - names are ours
            f"VALUES ({', '.join(['%s'] * len(columns))})"
        )
        batch: list[Sequence[Any]] = []
        for row in rows:
            batch.append([_sql_value(v) for v in row])
            if len(batch) >= 5000:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


# --- what a rollup is built from ---------------------------------------------------------------


def _hash(*parts: object) -> str:
    return hashlib.blake2b("|".join(str(p) for p in parts).encode(), digest_size=10).hexdigest()


class Sources:
    """What the day rollups of some sites depend on besides visits and sessions: the facts'
    definitions (``ROLLUP_VERSION``), each site's time zone, its spaces' kinds and its
    network's substance and turn-away categories. A rollup's ``source_version`` names them
    as they were when it was built, up to the newest space and catalogue entry then: a space
    or an entry added later cannot hold a session of an earlier day (one recorded late moves
    its visit, which makes the day stale), so adding one leaves the rollups in use, while
    changing a kind or a category, or the zone, makes every rollup of the site stale."""

    def __init__(self, sites: Sequence[Site]) -> None:
        from saferoom.sites.models import CatalogueItem, Space

        self.sites = {s.pk: s for s in sites}
        self.spaces: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for site_id, pk, kind in (
            Space.objects.filter(site__in=list(self.sites))
            .order_by("site_id", "pk")
            .values_list("site_id", "pk", "kind")
        ):
            self.spaces[site_id].append((pk, kind))
        self.items: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
        for network_id, pk, kind, category in (
            CatalogueItem.objects.filter(
                network__in={s.network_id for s in sites},
                kind__in=[CatalogueItem.Kind.SUBSTANCE, CatalogueItem.Kind.TURNAWAY_REASON],
            )
            .order_by("network_id", "pk")
            .values_list("network_id", "pk", "kind", "category")
        ):
            self.items[network_id].append((pk, kind, category))
        self.made: dict[tuple[int, int, int], str] = {}

    def version(self, site_id: int, spaces_upto: int, items_upto: int) -> str:
        key = (site_id, spaces_upto, items_upto)
        if key not in self.made:
            site = self.sites[site_id]
            spaces = [s for s in self.spaces[site_id] if s[0] <= spaces_upto]
            items = [i for i in self.items[site.network_id] if i[0] <= items_upto]
            digest = _hash(site.time_zone, spaces, items)
            self.made[key] = f"{ROLLUP_VERSION}:{spaces_upto}:{items_upto}:{digest}"
        return self.made[key]

    def current(self, site_id: int) -> str:
        """The version of a rollup built now."""
        spaces = self.spaces[site_id]
        items = self.items[self.sites[site_id].network_id]
        return self.version(
            site_id, spaces[-1][0] if spaces else 0, max((i[0] for i in items), default=0)
        )

    def holds(self, site_id: int, version: str) -> bool:
        """Whether a rollup of ``version`` still counts as the raw tables would."""
        parts = version.split(":")
        if len(parts) != 4 or parts[0] != str(ROLLUP_VERSION):
            return False
        return version == self.version(site_id, int(parts[1]), int(parts[2]))


def month_version(site: Site) -> str:
    """What a site's client months depend on besides visits: the calendar of its zone."""
    return f"{ROLLUP_VERSION}:{site.time_zone}"


# --- what changed since a site was last looked at ---------------------------------------------


@dataclass(frozen=True)
class _Change:
    """A visit changed since the watermark, and the local days it can touch."""

    visit_id: int
    site_id: int
    client_id: int | None
    admitted: bool
    arrived_at: datetime
    changed_at: datetime
    first_day: date
    last_day: date


def _changes(
    watermarks: dict[int, datetime], zones: dict[int, ZoneInfo], now: datetime
) -> list[_Change]:
    """Visits of these sites changed after their watermark (or, with ``None`` in place of a
    site's watermark, none of it). A visit touches the local days from its arrival to its end
    (or now, while open) plus the longest clear-down: its sessions and their seats."""
    from saferoom.floor.models import Visit

    where = Q(pk__in=[])
    for site_id, since in watermarks.items():
        where |= Q(site_id=site_id, changed_at__gt=since)
    found = []
    for pk, site_id, client_id, state, arrived, ended, changed in (
        Visit.objects.filter(where)
        .order_by()
        .values_list("pk", "site_id", "client_id", "state", "arrived_at", "ended_at", "changed_at")
    ):
        tz = zones[site_id]
        until = max(ended or now, arrived) + CLEAR_DOWN_MAX
        found.append(
            _Change(
                visit_id=pk,
                site_id=site_id,
                client_id=client_id,
                admitted=state != TURNED_AWAY,
                arrived_at=arrived,
                changed_at=changed,
                first_day=arrived.astimezone(tz).date(),
                last_day=until.astimezone(tz).date(),
            )
        )
    return found


def _touched(changes: Iterable[_Change]) -> dict[int, dict[date, datetime]]:
    """Per site, each local day touched by a change, with the latest change to touch it."""
    touched: dict[int, dict[date, datetime]] = defaultdict(dict)
    for change in changes:
        days = touched[change.site_id]
        for d in _days(change.first_day, change.last_day):
            if d not in days or days[d] < change.changed_at:
                days[d] = change.changed_at
    return touched


def _fresh(built_at: datetime, changed_at: datetime | None) -> bool:
    """Whether a rollup built at ``built_at`` already holds a change made at ``changed_at``."""
    return changed_at is None or built_at >= changed_at + LAG


# --- the reader's view of coverage ------------------------------------------------------------


@dataclass
class _SiteView:
    """What is known about one site's rollups at the moment a report reads them."""

    site: Site
    tz: ZoneInfo
    today: date  # local
    watermark: datetime | None
    first_day: date | None  # local day of the earliest arrival (None: no visits)
    touched: dict[date, datetime] = field(default_factory=dict)

    def empty(self, d: date) -> bool:
        """Before the site's first visit, and not touched since: nothing to count."""
        return (self.first_day is None or d < self.first_day) and d not in self.touched


# What the readers found out about coverage, for the few seconds one report takes: a report
# asks for its facts in several calls with the same scope (and the same ``now``). Anything this
# process builds or forgets empties it.
_SEEN: dict[tuple[Any, ...], tuple[float, Any]] = {}
SEEN_SECONDS = 5.0


def _remembered(key: tuple[Any, ...], work: Callable[[], Any]) -> Any:
    moment = clock.monotonic()
    found = _SEEN.get(key)
    if found is not None and found[0] > moment:
        return found[1]
    value = work()
    if len(_SEEN) > 32:
        _SEEN.clear()
    _SEEN[key] = (moment + SEEN_SECONDS, value)
    return value


def forget_seen() -> None:
    _SEEN.clear()


def _views(sites: Sequence[Site], now: datetime) -> tuple[dict[int, _SiteView], list[_Change]]:
    """Each site's watermark and the visits changed since it (one query each)."""
    return _remembered(  # type: ignore[no-any-return]
        ("views", tuple(s.pk for s in sites), now), lambda: _look(sites, now)
    )


def _look(sites: Sequence[Site], now: datetime) -> tuple[dict[int, _SiteView], list[_Change]]:
    from saferoom.reports.models import RollupWatermark

    marks = {
        site_id: (scanned, first)
        for site_id, scanned, first in RollupWatermark.objects.filter(
            site__in=[s.pk for s in sites]
        ).values_list("site_id", "scanned_to", "first_arrival")
    }
    zones = {s.pk: ZoneInfo(s.time_zone) for s in sites}
    views = {}
    for s in sites:
        scanned, first = marks.get(s.pk, (None, None))
        tz = zones[s.pk]
        views[s.pk] = _SiteView(
            site=s,
            tz=tz,
            today=now.astimezone(tz).date(),
            watermark=scanned,
            first_day=first.astimezone(tz).date() if first is not None else None,
        )
    changes = _changes(
        {pk: v.watermark for pk, v in views.items() if v.watermark is not None}, zones, now
    )
    for site_id, days in _touched(changes).items():
        views[site_id].touched = days
    return views, changes


def _covered_days(
    views: dict[int, _SiteView], first: date, last: date, now: datetime
) -> dict[int, tuple[set[date], set[date]]]:
    """Per site: (days in first..last read from rollups, days with nothing to count)."""
    return _remembered(  # type: ignore[no-any-return]
        ("days", tuple(views), first, last, now), lambda: _covered(views, first, last)
    )


def _covered(
    views: dict[int, _SiteView], first: date, last: date
) -> dict[int, tuple[set[date], set[date]]]:
    from saferoom.reports.models import RollupDay

    sources = Sources([v.site for v in views.values()])
    result: dict[int, tuple[set[date], set[date]]] = {pk: (set(), set()) for pk in views}
    wanted: list[int] = []
    for pk, view in views.items():
        if view.watermark is None:
            continue
        top = min(last, view.today - timedelta(days=1))
        if top < first:
            continue
        empty = result[pk][1]
        for d in _days(first, top):
            if view.empty(d):
                empty.add(d)
        if view.first_day is not None and view.first_day <= top:
            wanted.append(pk)
    if wanted:
        for site_id, d, built_at, version in RollupDay.objects.filter(
            site_id__in=wanted, day__gte=first, day__lte=last
        ).values_list("site_id", "day", "built_at", "source_version"):
            view = views[site_id]
            if (
                d < view.today
                and _fresh(built_at, view.touched.get(d))
                and sources.holds(site_id, version)
            ):
                result[site_id][0].add(d)
    return result


# --- readers ----------------------------------------------------------------------------------


@dataclass
class _Plan:
    """Where a scope's count rows come from: per site, the runs of days read from the day
    rollups and the months read from the month sums; and the runs of days read raw (sites
    grouped by zone)."""

    stored: dict[int, list[tuple[date, date]]] = field(default_factory=dict)
    summed: dict[int, list[date]] = field(default_factory=dict)
    raw: dict[tuple[str, date, date], list[Site]] = field(default_factory=dict)


def _checked(measures: Iterable[str]) -> tuple[str, ...]:
    from saferoom.reports import facts

    wanted = tuple(dict.fromkeys(measures))
    unknown = [m for m in wanted if m not in facts.MEASURES]
    if unknown:
        raise ValueError(
            f"Unknown measure {', '.join(unknown)}; known: {', '.join(facts.MEASURES)}."
        )
    return wanted


def _plan(scope: Scope, *, months: bool) -> _Plan:
    """Which days of the scope are read from where. With ``months``, the whole calendar
    months of the period whose days are all covered and whose sums are built are read from
    the month sums."""
    first, last = scope.period.first, scope.period.last
    views, _ = _views(scope.sites, scope.now)
    covered = _covered_days(views, first, last, scope.now)
    summed = _summed_months(views, covered, first, last, scope.now) if months else {}
    plan = _Plan()
    raw: dict[tuple[str, date, date], list[Site]] = defaultdict(list)
    every_day = set(_days(first, last))
    days_of: dict[date, set[date]] = {}
    for site in scope.sites:
        from_rollups, empty = covered[site.pk]
        in_months = summed.get(site.pk, [])
        stored_days = from_rollups
        if in_months:
            plan.summed[site.pk] = in_months
            for m in in_months:
                if m not in days_of:
                    days_of[m] = set(_days(m, _next_month(m) - timedelta(days=1)))
                stored_days = stored_days - days_of[m]
        if stored_days:
            plan.stored[site.pk] = _spans(stored_days)
        if len(from_rollups) + len(empty) < len(every_day):
            for a, b in _spans(every_day - from_rollups - empty):
                raw[site.time_zone, a, b].append(site)
    plan.raw = dict(sorted(raw.items(), key=lambda kv: (kv[0][1], kv[0][0])))
    return plan


def _summed_months(
    views: dict[int, _SiteView],
    covered: dict[int, tuple[set[date], set[date]]],
    first: date,
    last: date,
    now: datetime,
) -> dict[int, list[date]]:
    """Per site, the whole months of first..last read from the month sums: every day of the
    month covered (or with nothing to count), and the sums built since (they are thrown away
    whenever one of the month's days is)."""
    return _remembered(  # type: ignore[no-any-return]
        ("months", tuple(views), first, last, now),
        lambda: _find_summed_months(views, covered, first, last),
    )


def _find_summed_months(
    views: dict[int, _SiteView],
    covered: dict[int, tuple[set[date], set[date]]],
    first: date,
    last: date,
) -> dict[int, list[date]]:
    from saferoom.reports.models import RollupMonthSummed

    whole = {
        m: set(_days(m, _next_month(m) - timedelta(days=1)))
        for m in _months(first, last)
        if m >= first and _next_month(m) - timedelta(days=1) <= last
    }
    candidates: dict[int, set[date]] = {}
    for pk in views:
        from_rollups, empty = covered[pk]
        if not from_rollups:
            continue
        for m, days in whole.items():
            if all(d in from_rollups or d in empty for d in days) and not days.isdisjoint(
                from_rollups
            ):
                candidates.setdefault(pk, set()).add(m)
    if not candidates:
        return {}
    found: dict[int, list[date]] = defaultdict(list)
    lowest = min(min(ms) for ms in candidates.values())
    highest = max(max(ms) for ms in candidates.values())
    for site_id, m in (
        RollupMonthSummed.objects.filter(
            site_id__in=list(candidates), month__gte=lowest, month__lte=highest
        )
        .order_by("site_id", "month")
        .values_list("site_id", "month")
    ):
        if m in candidates[site_id]:
            found[site_id].append(m)
    return dict(found)


def counts(scope: Scope, measures: tuple[str, ...]) -> list[CountRow]:
    """The rows ``facts.raw_counts`` would give for the scope: from the rollups for covered
    days, from the raw tables for the rest (grouped into spans of days, sites by zone)."""
    wanted = _checked(measures)
    if not wanted or not scope.sites:
        return []
    return _cells(scope, wanted, _plan(scope, months=False))


def _cells(scope: Scope, measures: tuple[str, ...], plan: _Plan) -> list[CountRow]:
    from saferoom.reports import facts

    rows: list[CountRow] = []
    if plan.stored:
        rows += _stored_rows(plan.stored, measures)
    for (_zone, a, b), sites in plan.raw.items():
        rows += facts.raw_counts(sites, a, b, measures, scope.now)
    return rows


def _where_spans(
    spans: dict[int, list[tuple[date, date]]], table: str = ""
) -> tuple[str, list[Any]]:
    """SQL for the rows of these sites on these runs of days. Sites with the same runs share
    a clause: their ids, the first and last day, and the few days between left out — one
    range of the (site, measure, day) index per site, where a clause per run would have
    PostgreSQL combine dozens of bitmaps (and scan the index on the measure alone)."""
    alike: dict[tuple[tuple[date, date], ...], list[int]] = defaultdict(list)
    for site_id, site_runs in spans.items():
        alike[tuple(site_runs)].append(site_id)
    clauses = []
    params: list[Any] = []
    for runs, ids in alike.items():
        lowest, highest = runs[0][0], runs[-1][1]
        gaps = [
            d
            for (_a, b), (c, _d) in pairwise(runs)
            for d in _days(b + timedelta(days=1), c - timedelta(days=1))
        ]
        sites = f"{table}site_id IN ({', '.join(['%s'] * len(ids))})"
        if len(gaps) <= 100:
            left_out = f" AND {table}day NOT IN ({', '.join(['%s'] * len(gaps))})" if gaps else ""
            clauses.append(f"({sites} AND {table}day BETWEEN %s AND %s{left_out})")
            params += [*ids, lowest, highest, *gaps]
        else:
            ranges = " OR ".join([f"{table}day BETWEEN %s AND %s"] * len(runs))
            clauses.append(f"({sites} AND ({ranges}))")
            params += [*ids, *(d for run in runs for d in run)]
    return "(" + " OR ".join(clauses) + ")", params


def _stored_rows(spans: dict[int, list[tuple[date, date]]], measures: tuple[str, ...]) -> list[Any]:
    from saferoom.reports.facts import CountRow

    where, params = _where_spans(spans)
    # SQLite would parse each row's date: read it as text, and parse each day once.
    day = "day" if connection.vendor == "postgresql" else "CAST(day AS TEXT)"
    sql = (
        f"SELECT site_id, {day}, hour, measure, dim, value FROM reports_rollupcount "  # noqa: S608
        f"WHERE {where} AND measure IN ({', '.join(['%s'] * len(measures))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *measures])
        fetched = cursor.fetchall()
    days: dict[Any, date] = {}
    for d in {row[1] for row in fetched}:
        days[d] = d if isinstance(d, date) else date.fromisoformat(d)
    # Millions of small objects and no cycles among them: the cyclic garbage collector would
    # walk every one of them again and again as the list grows.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return [CountRow(s, days[d], h, m, dim, v) for s, d, h, m, dim, v in fetched]
    finally:
        if collecting:
            gc.enable()


KEYS = ("site_id", "day", "weekday", "hour", "dim")


def _weekday_sql(column: str) -> str:
    """The weekday of a date column (0 = Monday), in this database's SQL."""
    if connection.vendor == "postgresql":
        return f"(EXTRACT(ISODOW FROM {column})::int - 1)"
    return f"((CAST(strftime('%%w', {column}) AS INTEGER) + 6) %% 7)"


def _day_key_sql(key: str) -> str:
    return {
        "site_id": "site_id",
        "day": "day" if connection.vendor == "postgresql" else "CAST(day AS TEXT)",
        "hour": "hour",
        "dim": "dim",
        "weekday": _weekday_sql("day"),
    }[key]


def _grain_for(measure: str, keys: tuple[str, ...]) -> str | None:
    """The month sums' grain that answers ``measure`` added up by ``keys`` (None: none)."""
    needed = set(keys) - {"site_id", "dim"}
    for grain, (holds, kept) in MONTH_GRAINS.items():
        if needed <= holds and (kept is None or measure in kept):
            return grain
    return None


def totals(
    scope: Scope, measures: Iterable[str], by: Sequence[str] = ()
) -> dict[tuple[Any, ...], int]:
    """The scope's count rows added up by ``measure`` and the keys named in ``by`` (any of
    "site_id", "day", "weekday" (0 = Monday), "hour", "dim", in that order in the key
    tuple): what :func:`counts` gives, summed, but added up by the database: whole months
    from the month sums (``MONTH_GRAINS``) where they hold the keys asked for, the other
    covered days from the day rollups, and the rest raw — a network's year is a few
    thousand sums instead of millions of rows."""
    from saferoom.reports import facts

    keys = tuple(k for k in KEYS if k in by)
    if len(keys) != len(tuple(by)):
        raise ValueError(f"totals() adds up by {', '.join(KEYS)}.")
    wanted = _checked(measures)
    if not wanted or not scope.sites:
        return {}
    result: dict[tuple[Any, ...], int] = defaultdict(int)
    by_grain: dict[str | None, list[str]] = defaultdict(list)
    for measure in wanted:
        by_grain[_grain_for(measure, keys)].append(measure)
    plans = {}
    if None in by_grain:
        plans[False] = _plan(scope, months=False)
    if any(g is not None for g in by_grain):
        plans[True] = _plan(scope, months=True)
    for grain, group in by_grain.items():
        plan = plans[grain is not None]
        if grain is not None and plan.summed:
            _add_month_sums(result, plan.summed, grain, tuple(group), keys)
        if plan.stored:
            _add_day_sums(result, plan.stored, tuple(group), keys)
        for (_zone, a, b), sites in plan.raw.items():
            for row in facts.raw_counts(sites, a, b, group, scope.now):
                values = {"site_id": row.site_id, "day": row.day, "weekday": row.day.weekday(),
                          "hour": row.hour, "dim": row.dim}  # fmt: skip
                result[(row.measure, *(values[k] for k in keys))] += row.value
    return dict(result)


def _add_day_sums(
    result: dict[tuple[Any, ...], int],
    spans: dict[int, list[tuple[date, date]]],
    measures: tuple[str, ...],
    keys: tuple[str, ...],
) -> None:
    where, params = _where_spans(spans)
    columns = ", ".join(("measure", *(_day_key_sql(k) for k in keys)))
    sql = (
        f"SELECT {columns}, SUM(value) FROM reports_rollupcount WHERE {where} "  # noqa: S608
        f"AND measure IN ({', '.join(['%s'] * len(measures))}) "
        f"GROUP BY {', '.join(str(i) for i in range(1, len(keys) + 2))}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *measures])
        fetched = cursor.fetchall()
    day_at = 1 + keys.index("day") if "day" in keys else None
    weekday_at = 1 + keys.index("weekday") if "weekday" in keys else None
    for *key, total in fetched:
        if day_at is not None and not isinstance(key[day_at], date):
            key[day_at] = date.fromisoformat(key[day_at])
        if weekday_at is not None:
            key[weekday_at] = int(key[weekday_at])
        result[tuple(key)] += int(total)


def _add_month_sums(
    result: dict[tuple[Any, ...], int],
    months: dict[int, list[date]],
    grain: str,
    measures: tuple[str, ...],
    keys: tuple[str, ...],
) -> None:
    clauses = []
    params: list[Any] = [grain, *measures]
    for site_id, ms in months.items():
        clauses.append(f"(site_id = %s AND month IN ({', '.join(['%s'] * len(ms))}))")
        params += [site_id, *ms]
    # Grouped by what the keys need: the month and part are needed only to name days, hours
    # or weekdays.
    parted = bool(set(keys) - {"site_id", "dim"})
    month = "month" if connection.vendor == "postgresql" else "CAST(month AS TEXT)"
    columns = [
        "measure",
        "site_id" if "site_id" in keys else "0",
        month if grain == "day" and parted else "NULL",
        "part" if parted else "0",
        "dim" if "dim" in keys else "''",
    ]
    sql = (
        f"SELECT {', '.join(columns)}, SUM(value) FROM reports_rollupmonthsum "  # noqa: S608
        f"WHERE grain = %s AND measure IN ({', '.join(['%s'] * len(measures))}) "
        f"AND ({' OR '.join(clauses)}) GROUP BY 1, 2, 3, 4, 5"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    first_days: dict[Any, date] = {}
    for measure, site_id, m, part, dim, total in fetched:
        values: dict[str, Any] = {"site_id": site_id, "dim": dim}
        if grain == "day" and parted:
            if m not in first_days:
                first_days[m] = m if isinstance(m, date) else date.fromisoformat(m)
            d = first_days[m] + timedelta(days=part - 1)
            values["day"] = d
            values["weekday"] = d.weekday()
        elif grain == "weekday_hour":
            values["weekday"], values["hour"] = divmod(part, 24)
        elif grain == "hour":
            values["hour"] = part
        result[(measure, *(values[k] for k in keys))] += int(total)


def _caps_sql(
    caps: dict[int, dict[tuple[int, int, str], int]], weekday: str, hour: str
) -> tuple[str, list[Any], str, list[Any]]:
    """The caps of U8's cells in SQL: a ``u (site_id, dim, cap)`` table of each site and
    dim's usual cap, to join on, and the cap of a cell (``weekday`` and ``hour`` its SQL),
    which is the usual one or that of its weekday and hour where it differs (a part-open
    hour). Cells of a closed hour get the usual cap here: the caller leaves them out.
    Returns (the VALUES of u, their parameters, the cap expression, its parameters)."""
    usual: dict[tuple[int, str], int] = {}
    cases: list[str] = []
    params: list[Any] = []
    for site_id, table in caps.items():
        seen: dict[str, Counter[int]] = defaultdict(Counter)
        for (_w, _h, dim), cap in table.items():
            seen[dim][cap] += 1
        for dim, found in seen.items():
            usual[site_id, dim] = found.most_common(1)[0][0]
        for (w, h, dim), cap in table.items():
            if cap != usual[site_id, dim]:
                cases.append(
                    f"WHEN r.site_id = %s AND r.dim = %s AND {weekday} = %s AND {hour} = %s THEN %s"
                )
                params += [site_id, dim, w, h, cap]
    values = ", ".join(["(%s, %s, %s)"] * len(usual)) or "(0, '', 0)"
    values_params = [p for (site_id, dim), cap in usual.items() for p in (site_id, dim, cap)]
    cap_of = f"CASE {' '.join(cases)} ELSE u.cap END" if cases else "u.cap"
    return values, values_params, cap_of, params


def _where_months(months: dict[int, list[date]], table: str = "") -> tuple[str, list[Any]]:
    """SQL for the rows of these sites in these months (sites with the same months share a
    clause)."""
    alike: dict[tuple[date, ...], list[int]] = defaultdict(list)
    for site_id, ms in months.items():
        alike[tuple(ms)].append(site_id)
    clauses = []
    params: list[Any] = []
    for chosen, ids in alike.items():
        clauses.append(
            f"({table}site_id IN ({', '.join(['%s'] * len(ids))}) "
            f"AND {table}month IN ({', '.join(['%s'] * len(chosen))}))"
        )
        params += [*ids, *chosen]
    return "(" + " OR ".join(clauses) + ")", params


def _clipped_months(
    months: dict[int, list[date]],
    measure: str,
    caps: dict[int, dict[tuple[int, int, str], int]],
    sums: dict[tuple[str, int], tuple[int, int]],
) -> set[tuple[int, date]]:
    """Add U8's held use of these whole months to ``sums`` from the month sums, where no
    cell of the month is over its cap (then each cell held to its cap is the cell itself, and
    the month's sum is their sum). Returns the (site, month) pairs with a cell over its cap,
    which the caller reads day by day."""
    week, hour = "(r.part / 24)", "(r.part - (r.part / 24) * 24)"
    values, values_params, cap_of, cap_params = _caps_sql(caps, week, hour)
    where, params = _where_months(months, "r.")
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH u (site_id, dim, cap) AS (VALUES {values}) "  # noqa: S608
            "SELECT DISTINCT r.site_id, r.month FROM reports_rollupmonthsum r "
            "LEFT JOIN u ON u.site_id = r.site_id AND u.dim = r.dim "
            f"WHERE r.grain = %s AND r.measure = %s AND {where} "
            f"AND COALESCE({cap_of}, 0) > 0 AND r.value > {cap_of}",
            [*values_params, PEAK_GRAIN, measure, *params, *cap_params, *cap_params],
        )
        over = {
            (site_id, m if isinstance(m, date) else date.fromisoformat(m))
            for site_id, m in cursor.fetchall()
        }
        kept = {
            site_id: [m for m in ms if (site_id, m) not in over] for site_id, ms in months.items()
        }
        kept = {k: v for k, v in kept.items() if v}
        if not kept:
            return over
        where, params = _where_months(kept)
        cursor.execute(
            "SELECT site_id, part, dim, SUM(value) FROM reports_rollupmonthsum "  # noqa: S608
            f"WHERE grain = %s AND measure = %s AND {where} GROUP BY site_id, part, dim",
            ["weekday_hour", measure, *params],
        )
        fetched = cursor.fetchall()
    for site_id, part, dim, total in fetched:
        w, h = divmod(int(part), 24)
        open_ = caps.get(site_id, {}).get((w, h, dim), 0)
        before = sums[dim, h]
        sums[dim, h] = (before[0] + (int(total) if open_ else 0), before[1] + int(total))
    return over


def clipped(
    scope: Scope,
    measure: str,
    caps: dict[int, dict[tuple[int, int, str], int]],
    irregular: dict[int, set[date]],
) -> tuple[dict[tuple[str, int], tuple[int, int]], list[CountRow]]:
    """U8's use, each cell (site, day, hour, dim) held to a cap: for the covered days not
    named in ``irregular``, per (dim, hour), the sum of min(value, cap) and the sum of value,
    added up by the database, the cap of a cell being ``caps[site][weekday, hour, dim]`` (0
    when missing); and the cell rows of every other day of the scope (rollups or raw), for
    the caller to hold to caps of its own. Whole months with no irregular day are read from
    the month sums where none of their cells is over its cap (``_clipped_months``)."""
    wanted = _checked([measure])
    if not scope.sites:
        return {}, []
    plan = _plan(scope, months=True)
    sums: dict[tuple[str, int], tuple[int, int]] = defaultdict(lambda: (0, 0))
    covered: dict[int, set[date]] = {
        site_id: {d for a, b in runs for d in _days(a, b)} for site_id, runs in plan.stored.items()
    }
    monthly: dict[int, list[date]] = {}
    for site_id, ms in plan.summed.items():
        odd = irregular.get(site_id, set())
        for m in ms:
            days = set(_days(m, _next_month(m) - timedelta(days=1)))
            if odd & days or measure not in PEAK_MEASURES:
                covered.setdefault(site_id, set()).update(days)
            else:
                monthly.setdefault(site_id, []).append(m)
    if monthly:
        for site_id, m in _clipped_months(monthly, wanted[0], caps, sums):
            covered.setdefault(site_id, set()).update(_days(m, _next_month(m) - timedelta(days=1)))
    regular: dict[int, list[tuple[date, date]]] = {}
    left: dict[int, list[tuple[date, date]]] = {}
    for site_id, days in covered.items():
        odd = irregular.get(site_id, set())
        if days - odd:
            regular[site_id] = _spans(days - odd)
        if days & odd:
            left[site_id] = _spans(days & odd)
    if regular:
        # Cells are added up by site, weekday, hour and dim, each held to its cap; a closed
        # hour's cells (cap 0) are all left out here.
        weekday = _weekday_sql("r.day")
        values, values_params, cap_of, cap_params = _caps_sql(caps, weekday, "r.hour")
        least = "LEAST" if connection.vendor == "postgresql" else "MIN"
        where, span_params = _where_spans(regular, "r.")
        sql = (
            f"WITH u (site_id, dim, cap) AS (VALUES {values}) "  # noqa: S608
            f"SELECT r.site_id, {weekday}, r.hour, r.dim, SUM(r.value), "
            f"SUM({least}(r.value, COALESCE({cap_of}, 0))) FROM reports_rollupcount r "
            "LEFT JOIN u ON u.site_id = r.site_id AND u.dim = r.dim "
            f"WHERE r.measure = %s AND {where} GROUP BY 1, 2, 3, 4"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*values_params, *cap_params, wanted[0], *span_params])
            fetched = cursor.fetchall()
        for site_id, w, hour, dim, total, kept in fetched:
            open_ = caps.get(site_id, {}).get((int(w), int(hour), dim), 0)
            before = sums[dim, int(hour)]
            sums[dim, int(hour)] = (before[0] + (int(kept) if open_ else 0), before[1] + int(total))
    cells = _cells(scope, wanted, _Plan(stored=left, raw=plan.raw))
    return dict(sums), cells


def _whole_months(scope: Scope) -> list[date] | None:
    """The first days of the calendar months the period is made of, or None when it is not
    made of whole months."""
    months = scope.period.months()
    if any(m.kind != "month" for m in months):
        return None
    return [m.first for m in months]


def _months_covered(views: dict[int, _SiteView], months: list[date]) -> bool:
    """Whether every site's client months for ``months`` are over, built and still true."""
    from saferoom.reports.models import RollupMonth

    needed: dict[int, set[date]] = {}
    touched: dict[int, dict[date, datetime]] = {}
    for pk, view in views.items():
        if view.watermark is None:
            return False
        latest: dict[date, datetime] = {}
        for d, changed in view.touched.items():
            m = _month(d)
            if m not in latest or latest[m] < changed:
                latest[m] = changed
        touched[pk] = latest
        for m in months:
            month_last = _next_month(m) - timedelta(days=1)
            if month_last >= view.today:
                return False  # not over yet
            if m in latest or (view.first_day is not None and month_last >= view.first_day):
                needed.setdefault(pk, set()).add(m)
    if not needed:
        return True
    built: dict[tuple[int, date], tuple[datetime, str]] = {
        (site_id, m): (built_at, version)
        for site_id, m, built_at, version in RollupMonth.objects.filter(
            site_id__in=list(needed), month__gte=min(months), month__lte=max(months)
        ).values_list("site_id", "month", "built_at", "source_version")
    }
    for pk, wanted in needed.items():
        version = month_version(views[pk].site)
        for m in wanted:
            found = built.get((pk, m))
            if found is None or found[1] != version or not _fresh(found[0], touched[pk].get(m)):
                return False
    return True


def _client_rows(scope: Scope, months: list[date]) -> tuple[str, list[Any], bool]:
    """SQL for the scope's clients per site as (site_id, client_id, visits, months): each
    calendar year the period holds whole, where the site's client year is built, from the
    client years, the other months from the client months (which must be covered). Also
    whether every site is read from one year or one month only (a row per client)."""
    from saferoom.reports.models import RollupYear

    wanted = set(months)
    whole_years = sorted(
        y
        for y in {_year(m) for m in months}
        if all(m in wanted for m in _months(y, y.replace(month=12)))
    )
    site_ids = [s.pk for s in scope.sites]
    summed: dict[int, set[date]] = defaultdict(set)
    if whole_years:
        for site_id, y in RollupYear.objects.filter(
            site_id__in=site_ids, year__in=whole_years
        ).values_list("site_id", "year"):
            summed[site_id].add(y)
    alike: dict[tuple[tuple[date, ...], tuple[date, ...]], list[int]] = defaultdict(list)
    for site_id in site_ids:
        built = summed.get(site_id, set())
        others = tuple(m for m in months if _year(m) not in built)
        alike[tuple(sorted(built)), others].append(site_id)
    parts: list[str] = []
    params: list[Any] = []
    for (years, rest), ids in alike.items():
        sites = f"site_id IN ({', '.join(['%s'] * len(ids))})"
        if years:
            parts.append(
                "SELECT site_id, client_id, visits, months FROM reports_rollupclientyear "  # noqa: S608
                f"WHERE {sites} AND year IN ({', '.join(['%s'] * len(years))})"
            )
            params += [*ids, *years]
        if rest:
            parts.append(
                "SELECT site_id, client_id, visits, 1 AS months FROM reports_rollupclientmonth "  # noqa: S608
                f"WHERE {sites} AND month IN ({', '.join(['%s'] * len(rest))})"
            )
            params += [*ids, *rest]
    one_part = all(len(years) + len(rest) == 1 for years, rest in alike)
    return " UNION ALL ".join(parts), params, one_part


def unique_clients(scope: Scope) -> ClientCounts:
    """U3 and U5's facts: for a period of whole, finished months whose client months are
    built, counted from them; otherwise raw."""
    from saferoom.clients.models import age_band
    from saferoom.reports import facts

    months = _whole_months(scope)
    if not months or not scope.sites:
        return facts.raw_unique_clients(scope)
    views, _ = _views(scope.sites, scope.now)
    if not _months_covered(views, months):
        return facts.raw_unique_clients(scope)
    rows, params, one_part = _client_rows(scope, months)
    # Added up by the database: clients by their number of visits in the period, gender and
    # year of birth (with their client-months), and distinct clients per site.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT per.visits, c.gender, c.year_of_birth, COUNT(*), SUM(per.months) "  # noqa: S608
            "FROM (SELECT cm.client_id, SUM(cm.visits) AS visits, SUM(cm.months) AS months "
            f"FROM ({rows}) cm GROUP BY cm.client_id) per "
            "JOIN clients_client c ON c.id = per.client_id "
            "GROUP BY per.visits, c.gender, c.year_of_birth",
            params,
        )
        grouped = cursor.fetchall()
        # A site read from one year (or one month) has a row per client already.
        distinct = "COUNT(*)" if one_part else "COUNT(DISTINCT cm.client_id)"
        cursor.execute(
            f"SELECT cm.site_id, {distinct} FROM ({rows}) cm GROUP BY cm.site_id",  # noqa: S608
            params,
        )
        by_site = dict(cursor.fetchall())
    year = scope.period.first.year
    by_gender: dict[str, int] = defaultdict(int)
    by_age_band: dict[str, int] = defaultdict(int)
    how_many: dict[int, int] = defaultdict(int)
    monthly_sum = 0
    for total, gender, born, n, months_of in grouped:
        how_many[int(total)] += n
        by_gender[gender] += n
        by_age_band[age_band(born, year) or "not_known"] += n
        monthly_sum += int(months_of)
    visits: list[int] = []
    for total in sorted(how_many):
        visits += [total] * how_many[total]
    return facts.ClientCounts(
        total=len(visits),
        by_site=by_site,
        by_gender=dict(by_gender),
        by_age_band=dict(by_age_band),
        monthly_sum=monthly_sum,
        visits_per_client=tuple(visits),
    )


def new_registrations(scope: Scope) -> NewClients:
    """U4: from each client's first visit as the worker keeps it, brought up to date with the
    visits changed since; raw until every site of the network has been looked at."""
    from saferoom.clients.models import Client, age_band
    from saferoom.reports import facts
    from saferoom.reports.models import RollupFirstVisit
    from saferoom.sites.models import Site

    if not scope.sites:
        return facts.raw_new_registrations(scope)
    network_ids = {s.network_id for s in scope.sites}
    network_sites = list(Site.objects.filter(network__in=network_ids))
    views, changes = _views(network_sites, scope.now)
    if any(v.watermark is None for v in views.values()):
        return facts.raw_new_registrations(scope)
    bounds = {s.pk: scope.bounds(s) for s in scope.sites}

    def counted(site_id: int, arrived: datetime) -> bool:
        window = bounds.get(site_id)
        return window is not None and window[0] <= arrived < window[1]

    # Visits changed since the watermarks: their clients' first visits may be earlier now.
    recent: dict[int, tuple[datetime, int, int]] = {}
    for change in changes:
        if change.client_id is None or not change.admitted:
            continue
        candidate = (change.arrived_at, change.visit_id, change.site_id)
        if change.client_id not in recent or candidate < recent[change.client_id]:
            recent[change.client_id] = candidate

    where = Q(pk__in=[])
    for zone_sites in _by_zone(scope.sites).values():
        start, end = scope.period.bounds(zone_sites[0].time_zone)
        where |= Q(
            site_id__in=[s.pk for s in zone_sites], arrived_at__gte=start, arrived_at__lt=end
        )
    # The stored first visits in the period, counted by the database by gender and year of
    # birth; then the clients of recent changes are taken out and counted again by hand.
    people: dict[tuple[str, int | None], int] = defaultdict(int)
    for gender, born, n in (
        RollupFirstVisit.objects.filter(where)
        .values("client__gender", "client__year_of_birth")
        .annotate(n=Count("client_id"))
        .order_by()
        .values_list("client__gender", "client__year_of_birth", "n")
    ):
        people[gender, born] += n
    if recent:
        ids = list(recent)
        stored: dict[int, tuple[datetime, int, int]] = {}
        about: dict[int, tuple[str, int | None]] = {}
        for i in range(0, len(ids), 5000):
            chunk = ids[i : i + 5000]
            for client_id, arrived, visit_id, site_id in RollupFirstVisit.objects.filter(
                client_id__in=chunk
            ).values_list("client_id", "arrived_at", "visit_id", "site_id"):
                stored[client_id] = (arrived, visit_id, site_id)
            for pk, gender, born in Client.objects.filter(pk__in=chunk).values_list(
                "pk", "gender", "year_of_birth"
            ):
                about[pk] = (gender, born)
        for client_id, candidate in recent.items():
            before = stored.get(client_id)
            if before is not None and counted(before[2], before[0]):
                people[about[client_id]] -= 1
            first = candidate if before is None or candidate[:2] < before[:2] else before
            if counted(first[2], first[0]):
                people[about[client_id]] += 1
    year = scope.period.first.year
    by_gender: dict[str, int] = defaultdict(int)
    by_age_band: dict[str, int] = defaultdict(int)
    for (gender, born), n in people.items():
        if not n:
            continue
        by_gender[gender] += n
        by_age_band[age_band(born, year) or "not_known"] += n
    return facts.NewClients(
        total=sum(by_gender.values()), by_gender=dict(by_gender), by_age_band=dict(by_age_band)
    )


def _by_zone(sites: Iterable[Site]) -> dict[str, list[Site]]:
    zones: dict[str, list[Site]] = {}
    for site in sites:
        zones.setdefault(site.time_zone, []).append(site)
    return zones


# --- building ---------------------------------------------------------------------------------


@dataclass
class BuildSummary:
    sites: int = 0
    days: int = 0
    rows: int = 0
    months: int = 0
    month_sums: int = 0  # site-months of count rows added up
    years: int = 0  # site-years of client months added up
    stale_days: int = 0
    stale_months: int = 0
    first_visits: int = 0
    first_looks: int = 0  # sites looked at for the first time (all their visits read)
    seconds: float = 0.0
    finished: bool = True  # False: the time budget ran out before everything was built

    def lines(self) -> list[str]:
        return [
            f"Rolled up {self.days} site-day(s) ({self.rows} count rows) and "
            f"{self.months} site-month(s) of clients and {self.month_sums} of count sums, "
            f"{self.years} site-year(s) of clients, at {self.sites} site(s) "
            f"in {self.seconds:.1f} s.",
            f"Dropped as changed since built: {self.stale_days} day(s), "
            f"{self.stale_months} month(s); first visits updated: {self.first_visits}.",
            *([] if self.finished else ["Stopped at the time budget: run again to finish."]),
        ]


def build(
    *,
    now: datetime | None = None,
    sites: Sequence[Site] | None = None,
    rebuild: bool = False,
    budget_seconds: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> BuildSummary:
    """Bring the rollups of ``sites`` (default: every site) up to date: look at the visits
    changed since each site's watermark, then build every finished day and month that is not
    built or was made stale. Safe to run from several workers at once (a site's work is done
    under a lock on its watermark; rebuilding a day is delete + insert in one transaction).
    ``rebuild`` throws the sites' rollups away first. ``budget_seconds`` stops between
    pieces of work when the time is up (the worker's passes)."""
    from saferoom.sites.models import Site

    started = clock.monotonic()
    forget_seen()
    deadline = started + budget_seconds if budget_seconds is not None else None
    chosen = list(sites) if sites is not None else list(Site.objects.order_by("pk"))
    summary = BuildSummary(sites=len(chosen))
    if rebuild:
        forget(chosen)
    for site in chosen:
        now_ = now or timezone.now()
        # A first look at a site reads all its visits: only while there is time left.
        _look_at_changes(site, now_, summary, first_look=not _out_of_time(deadline, summary))
    for site in chosen:
        now_ = now or timezone.now()
        if not _build_days(site, now_, summary, deadline, progress):
            summary.finished = False
            break
        if not _build_months(site, now_, summary, deadline):
            summary.finished = False
            break
        if not _build_month_sums(site, now_, summary, deadline):
            summary.finished = False
            break
        if not _build_client_years(site, now_, summary, deadline):
            summary.finished = False
            break
    many = summary.rows > 100_000 or summary.month_sums + summary.months + summary.years >= 100
    if many and connection.vendor == "postgresql":
        # Fresh statistics after a large build (autovacuum would gather them, later): without
        # them the readers' plans go wrong (an index scanned on the site alone).
        with connection.cursor() as cursor:
            for table in (
                "reports_rollupcount",
                "reports_rollupday",
                "reports_rollupclientmonth",
                "reports_rollupclientyear",
                "reports_rollupmonthsum",
                "reports_rollupmonthsummed",
                "reports_rollupyear",
            ):
                cursor.execute(f"ANALYZE {table}")
    summary.seconds = clock.monotonic() - started
    forget_seen()
    return summary


def forget(sites: Sequence[Site]) -> None:
    """Throw away every rollup of these sites: they are read raw until built again. Used by
    ``--rebuild`` and after a bulk import of history. Clients' first visits are network-wide
    and only ever move earlier, so they are kept (a site looked at afresh merges its visits
    in again) unless every site of their network is forgotten."""
    from saferoom.reports.models import (
        RollupClientMonth,
        RollupClientYear,
        RollupCount,
        RollupDay,
        RollupFirstVisit,
        RollupMonth,
        RollupMonthSum,
        RollupMonthSummed,
        RollupWatermark,
        RollupYear,
    )
    from saferoom.sites.models import Site

    forget_seen()
    ids = {s.pk for s in sites}
    whole = [
        network_id
        for network_id in {s.network_id for s in sites}
        if set(Site.objects.filter(network_id=network_id).values_list("pk", flat=True)) <= ids
    ]
    with transaction.atomic():
        RollupWatermark.objects.filter(site__in=ids).delete()
        RollupDay.objects.filter(site__in=ids).delete()
        RollupCount.objects.filter(site__in=ids).delete()
        RollupMonthSummed.objects.filter(site__in=ids).delete()
        RollupMonthSum.objects.filter(site__in=ids).delete()
        RollupMonth.objects.filter(site__in=ids).delete()
        RollupClientMonth.objects.filter(site__in=ids).delete()
        RollupYear.objects.filter(site__in=ids).delete()
        RollupClientYear.objects.filter(site__in=ids).delete()
        if whole:
            RollupFirstVisit.objects.filter(client__network__in=whole).delete()


def _look_at_changes(
    site: Site, now: datetime, summary: BuildSummary, *, first_look: bool = True
) -> None:
    """Move the site's watermark on: drop the rollups that visits changed since have made
    stale, and take those visits into the first visits. A site looked at for the first time
    (or after ``forget``) starts from nothing."""
    from saferoom.floor.models import Visit
    from saferoom.reports.models import (
        RollupClientMonth,
        RollupCount,
        RollupDay,
        RollupMonth,
        RollupWatermark,
    )

    tz = ZoneInfo(site.time_zone)
    horizon = timezone.now() - LAG
    try:
        with transaction.atomic():
            mark = RollupWatermark.objects.select_for_update().filter(site=site).first()
            if mark is None and not first_look:
                summary.finished = False
                return
            if mark is None:
                summary.first_looks += 1
                RollupDay.objects.filter(site=site).delete()
                RollupCount.objects.filter(site=site).delete()
                _drop_month_sums(site, None)
                RollupMonth.objects.filter(site=site).delete()
                RollupClientMonth.objects.filter(site=site).delete()
                _drop_client_years(site.pk, None)
                first = (
                    Visit.objects.filter(site=site)
                    .order_by("arrived_at")
                    .values_list("arrived_at", flat=True)
                    .first()
                )
                summary.first_visits += _first_visits_of_site(site)
                RollupWatermark.objects.create(site=site, scanned_to=horizon, first_arrival=first)
                return
            changes = _changes({site.pk: mark.scanned_to}, {site.pk: tz}, now)
            if changes:
                touched = _touched(changes).get(site.pk, {})
                summary.stale_days += _drop_stale_days(site, touched)
                summary.stale_months += _drop_stale_months(site, touched)
                summary.first_visits += _take_first_visits(changes)
                earliest = min(c.arrived_at for c in changes)
                if mark.first_arrival is None or earliest < mark.first_arrival:
                    mark.first_arrival = earliest
            mark.scanned_to = max(mark.scanned_to, horizon)
            mark.save(update_fields=["scanned_to", "first_arrival"])
    except IntegrityError:
        return  # another worker looked at this site for the first time at the same moment


def _drop_stale_days(site: Site, touched: dict[date, datetime]) -> int:
    from saferoom.reports.models import RollupDay

    if not touched:
        return 0
    stale = [
        (pk, d)
        for pk, d, built_at in RollupDay.objects.filter(
            site=site, day__gte=min(touched), day__lte=max(touched)
        ).values_list("pk", "day", "built_at")
        if d in touched and not _fresh(built_at, touched[d])
    ]
    RollupDay.objects.filter(pk__in=[pk for pk, _d in stale]).delete()
    _drop_month_sums(site, {_month(d) for _pk, d in stale})
    return len(stale)


def _drop_month_sums(site: Site, months: set[date] | None) -> None:
    """Throw away the month sums of these months (None: all): one of their days is gone or
    is being built again."""
    from saferoom.reports.models import RollupMonthSum, RollupMonthSummed

    if months is not None and not months:
        return
    marks = RollupMonthSummed.objects.filter(site=site)
    sums = RollupMonthSum.objects.filter(site=site)
    if months is not None:
        marks = marks.filter(month__in=sorted(months))
        sums = sums.filter(grain__in=[*MONTH_GRAINS, PEAK_GRAIN], month__in=sorted(months))
    marks.delete()
    sums.delete()


def _drop_stale_months(site: Site, touched: dict[date, datetime]) -> int:
    from saferoom.reports.models import RollupMonth

    latest: dict[date, datetime] = {}
    for d, changed in touched.items():
        m = _month(d)
        if m not in latest or latest[m] < changed:
            latest[m] = changed
    if not latest:
        return 0
    stale = [
        (pk, m)
        for pk, m, built_at in RollupMonth.objects.filter(
            site=site, month__in=list(latest)
        ).values_list("pk", "month", "built_at")
        if not _fresh(built_at, latest[m])
    ]
    RollupMonth.objects.filter(pk__in=[pk for pk, _m in stale]).delete()
    _drop_client_years(site.pk, {m for _pk, m in stale})
    return len(stale)


def _year(d: date) -> date:
    return d.replace(month=1, day=1)


def _drop_client_years(site_id: int, months: Iterable[date] | None) -> None:
    """Throw away the client years holding these months (None: all): one of their client
    months is gone or is being built again."""
    from saferoom.reports.models import RollupClientYear, RollupYear

    marks = RollupYear.objects.filter(site_id=site_id)
    rows = RollupClientYear.objects.filter(site_id=site_id)
    if months is not None:
        years = sorted({_year(m) for m in months})
        if not years:
            return
        marks = marks.filter(year__in=years)
        rows = rows.filter(year__in=years)
    marks.delete()
    rows.delete()


def _build_client_years(
    site: Site, now: datetime, summary: BuildSummary, deadline: float | None
) -> bool:
    """Add up the client months of the site's finished calendar years whose every month (from
    the site's first arrival) is built and which are not added up yet, per client, by the
    database. False when the time budget ran out."""
    from saferoom.reports.models import RollupMonth, RollupWatermark, RollupYear

    mark = RollupWatermark.objects.filter(site=site).first()
    if mark is None or mark.first_arrival is None:
        return True
    tz = ZoneInfo(site.time_zone)
    last_day = _finished(tz, now)
    version = month_version(site)
    done = set(RollupYear.objects.filter(site=site).values_list("year", flat=True))
    sql = (
        "INSERT INTO reports_rollupclientyear (site_id, year, client_id, visits, months) "
        "SELECT site_id, %s, client_id, SUM(visits), COUNT(*) FROM reports_rollupclientmonth "
        "WHERE site_id = %s AND month >= %s AND month <= %s GROUP BY site_id, client_id"
    )
    for y in range(mark.first_arrival.astimezone(tz).year, last_day.year + 1):
        first, december = date(y, 1, 1), date(y, 12, 1)
        if date(y, 12, 31) > last_day or first in done:
            continue
        if _out_of_time(deadline, summary):
            return False
        with transaction.atomic():
            locked = RollupWatermark.objects.select_for_update().filter(site=site).first()
            if locked is None or locked.first_arrival is None:
                return True
            lowest = max(first, _month(locked.first_arrival.astimezone(tz).date()))
            built = set(
                RollupMonth.objects.filter(
                    site=site, source_version=version, month__gte=lowest, month__lte=december
                ).values_list("month", flat=True)
            )
            if not set(_months(lowest, december)) <= built:
                continue  # a month is still to be built (or being changed): a later pass
            _drop_client_years(site.pk, {first})
            with connection.cursor() as cursor:
                cursor.execute(sql, [first, site.pk, lowest, december])
            RollupYear.objects.create(site=site, year=first, built_at=timezone.now())
        summary.years += 1
    return True


def _merge_first_visits(candidates: dict[int, tuple[datetime, int, int]]) -> int:
    """Keep for each client the earlier of its stored first visit and the candidate
    (arrived_at, visit id, site id). Returns how many changed."""
    from saferoom.reports.models import RollupFirstVisit

    changed = 0
    ids = list(candidates)
    for i in range(0, len(ids), 5000):
        chunk = ids[i : i + 5000]
        stored = {
            client_id: (arrived, visit_id)
            for client_id, arrived, visit_id in RollupFirstVisit.objects.filter(
                client_id__in=chunk
            ).values_list("client_id", "arrived_at", "visit_id")
        }
        replace = [c for c in chunk if c not in stored or candidates[c][:2] < stored[c]]
        if not replace:
            continue
        RollupFirstVisit.objects.filter(client_id__in=[c for c in replace if c in stored]).delete()
        insert_rows(
            "reports_rollupfirstvisit",
            ("client_id", "arrived_at", "visit_id", "site_id"),
            ((c, *candidates[c]) for c in replace),
        )
        changed += len(replace)
    return changed


def _first_visits_of_site(site: Site) -> int:
    """Take every admitted visit of a registered client at the site into the first visits."""
    sql = (
        "SELECT client_id, arrived_at, id FROM ("
        " SELECT client_id, arrived_at, id, ROW_NUMBER() OVER ("
        "  PARTITION BY client_id ORDER BY arrived_at, id) AS n"
        " FROM floor_visit WHERE site_id = %s AND client_id IS NOT NULL AND state <> %s"
        ") AS ranked WHERE n = 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [site.pk, TURNED_AWAY])
        found = {
            client_id: (_as_datetime(arrived), visit_id, site.pk)
            for client_id, arrived, visit_id in cursor.fetchall()
        }
    return _merge_first_visits(found)


def _take_first_visits(changes: Iterable[_Change]) -> int:
    candidates: dict[int, tuple[datetime, int, int]] = {}
    for change in changes:
        if change.client_id is None or not change.admitted:
            continue
        candidate = (change.arrived_at, change.visit_id, change.site_id)
        if change.client_id not in candidates or candidate < candidates[change.client_id]:
            candidates[change.client_id] = candidate
    return _merge_first_visits(candidates)


def first_visit_of(client_id: int) -> tuple[datetime, int, int] | None:
    """A client's first admitted visit as (arrived_at, visit id, site id), from the visits."""
    from saferoom.floor.models import Visit

    found = (
        Visit.objects.filter(client_id=client_id)
        .exclude(state=TURNED_AWAY)
        .order_by("arrived_at", "pk")
        .values_list("arrived_at", "pk", "site_id")
        .first()
    )
    return found


def _out_of_time(deadline: float | None, summary: BuildSummary) -> bool:
    """Whether the time budget is spent (a pass always does one piece of work)."""
    done = summary.days or summary.months or summary.first_looks
    return deadline is not None and bool(done) and clock.monotonic() > deadline


def _quiet_days(site: Site, tz: ZoneInfo, now: datetime) -> set[date]:
    """Days touched by changes too recent to be sure every one is committed (wait for them)."""
    changes = _changes({site.pk: now - LAG}, {site.pk: tz}, now)
    return set(_touched(changes).get(site.pk, {}))


def _build_days(
    site: Site,
    now: datetime,
    summary: BuildSummary,
    deadline: float | None,
    progress: Callable[[str], None] | None,
) -> bool:
    """Build the site's finished days that are not built, or not from today's version.
    False when the time budget ran out."""
    from saferoom.reports import facts
    from saferoom.reports.models import RollupCount, RollupDay, RollupWatermark

    mark = RollupWatermark.objects.filter(site=site).first()
    if mark is None or mark.first_arrival is None:
        return True
    tz = ZoneInfo(site.time_zone)
    first = mark.first_arrival.astimezone(tz).date()
    last = _finished(tz, now)
    if last < first:
        return True
    sources = Sources([site])
    version = sources.current(site.pk)
    built = {
        d
        for d, made_from in RollupDay.objects.filter(
            site=site, day__gte=first, day__lte=last
        ).values_list("day", "source_version")
        if sources.holds(site.pk, made_from)
    }
    busy = _quiet_days(site, tz, now)
    needed = [d for d in _days(first, last) if d not in built and d not in busy]
    for a, b in _spans(needed, CHUNK_DAYS):
        if _out_of_time(deadline, summary):
            return False
        read_at = timezone.now()
        rows = facts.raw_counts([site], a, b, facts.MEASURES, now)
        with transaction.atomic():
            RollupWatermark.objects.select_for_update().filter(site=site).first()
            RollupDay.objects.filter(site=site, day__gte=a, day__lte=b).delete()
            _drop_month_sums(site, set(_months(a, b)))
            # Every measure named, so the (site, measure, day) index finds the rows.
            RollupCount.objects.filter(
                site=site, measure__in=facts.MEASURES, day__gte=a, day__lte=b
            ).delete()
            summary.rows += insert_rows(
                "reports_rollupcount",
                ("site_id", "day", "hour", "measure", "dim", "value"),
                ((r.site_id, r.day, r.hour, r.measure, r.dim, r.value) for r in rows),
            )
            insert_rows(
                "reports_rollupday",
                ("site_id", "day", "built_at", "source_version"),
                ((site.pk, d, read_at, version) for d in _days(a, b)),
            )
        summary.days += (b - a).days + 1
        if progress is not None:
            progress(f"{site.slug}: {a} to {b}")
    return True


def _build_months(site: Site, now: datetime, summary: BuildSummary, deadline: float | None) -> bool:
    """Build the site's client months that are over and not built (or of another zone)."""
    from saferoom.floor.models import Visit
    from saferoom.reports.models import RollupClientMonth, RollupMonth, RollupWatermark

    mark = RollupWatermark.objects.filter(site=site).first()
    if mark is None or mark.first_arrival is None:
        return True
    tz = ZoneInfo(site.time_zone)
    last_day = _finished(tz, now)
    version = month_version(site)
    built = set(
        RollupMonth.objects.filter(site=site, source_version=version).values_list(
            "month", flat=True
        )
    )
    busy = {_month(d) for d in _quiet_days(site, tz, now)}
    for m in _months(mark.first_arrival.astimezone(tz).date(), last_day):
        following = _next_month(m)
        if following - timedelta(days=1) > last_day or m in built or m in busy:
            continue
        if _out_of_time(deadline, summary):
            return False
        read_at = timezone.now()
        per_client = list(
            Visit.objects.filter(
                site=site,
                arrived_at__gte=_midnight(m, tz),
                arrived_at__lt=_midnight(following, tz),
                anonymous=False,
                client__isnull=False,
            )
            .exclude(state=TURNED_AWAY)
            .values("client_id")
            .annotate(n=Count("pk"))
            .order_by()
            .values_list("client_id", "n")
        )
        with transaction.atomic():
            RollupWatermark.objects.select_for_update().filter(site=site).first()
            RollupMonth.objects.filter(site=site, month=m).delete()
            RollupClientMonth.objects.filter(site=site, month=m).delete()
            _drop_client_years(site.pk, {m})
            insert_rows(
                "reports_rollupclientmonth",
                ("site_id", "month", "client_id", "visits"),
                ((site.pk, m, client_id, n) for client_id, n in per_client),
            )
            RollupMonth.objects.create(site=site, month=m, built_at=read_at, source_version=version)
        summary.months += 1
    return True


# --- client merges ----------------------------------------------------------------------------


def client_merged(*, kept_id: int, merged_id: int, network_id: int) -> None:
    """Two codes are one person now (their visits moved to ``kept_id`` without being
    changed): drop the client months that counted either, and work the person's first visit
    out again. Runs inside the merge's transaction."""
    from saferoom.reports.models import (
        RollupClientMonth,
        RollupFirstVisit,
        RollupMonth,
        RollupWatermark,
    )

    forget_seen()
    both = [kept_id, merged_id]
    months = set(
        RollupClientMonth.objects.filter(client_id__in=both).values_list("site_id", "month")
    )
    if months:
        where = Q(pk__in=[])
        for site_id, m in months:
            where |= Q(site_id=site_id, month=m)
        RollupMonth.objects.filter(where).delete()
        by_site: dict[int, set[date]] = defaultdict(set)
        for site_id, m in months:
            by_site[site_id].add(m)
        for site_id, ms in by_site.items():
            _drop_client_years(site_id, ms)
    RollupFirstVisit.objects.filter(client_id__in=both).delete()
    if RollupWatermark.objects.filter(site__network_id=network_id).exists():
        found = first_visit_of(kept_id)
        if found is not None:
            RollupFirstVisit.objects.create(
                client_id=kept_id, arrived_at=found[0], visit_id=found[1], site_id=found[2]
            )


def _month_sums_sql() -> str:
    """INSERT … SELECT that adds up a site's day rollups of one month at every grain of
    ``MONTH_GRAINS``. Parameters, per grain: the month, the site, the month's first and last
    day, then the measures kept at that grain (if not all)."""
    from saferoom.reports import facts

    postgres = connection.vendor == "postgresql"
    parts = {
        "month": "0",
        "hour": "hour",
        "day": "EXTRACT(DAY FROM day)::int"
        if postgres
        else "CAST(strftime('%%d', day) AS INTEGER)",
        "weekday_hour": f"{_weekday_sql('day')} * 24 + hour",
    }
    selects = []
    for grain, (_holds, kept) in MONTH_GRAINS.items():
        measures = kept if kept is not None else facts.MEASURES
        selects.append(
            f"SELECT site_id, %s, '{grain}', {parts[grain]}, measure, dim, SUM(value) "  # noqa: S608
            "FROM reports_rollupcount WHERE site_id = %s AND day BETWEEN %s AND %s "
            f"AND measure IN ({', '.join(['%s'] * len(measures))}) "
            f"GROUP BY site_id, measure, dim{'' if grain == 'month' else ', ' + parts[grain]}"
        )
    selects.append(
        f"SELECT site_id, %s, '{PEAK_GRAIN}', {parts['weekday_hour']}, measure, dim, "  # noqa: S608
        "MAX(value) FROM reports_rollupcount WHERE site_id = %s AND day BETWEEN %s AND %s "
        f"AND measure IN ({', '.join(['%s'] * len(PEAK_MEASURES))}) "
        f"GROUP BY site_id, measure, dim, {parts['weekday_hour']}"
    )
    return (
        "INSERT INTO reports_rollupmonthsum (site_id, month, grain, part, measure, dim, value) "
        + " UNION ALL ".join(selects)
    )


def _month_sums_params(site: Site, m: date) -> list[Any]:
    from saferoom.reports import facts

    params: list[Any] = []
    for _holds, kept in MONTH_GRAINS.values():
        measures = kept if kept is not None else facts.MEASURES
        params += [m, site.pk, m, _next_month(m) - timedelta(days=1), *measures]
    params += [m, site.pk, m, _next_month(m) - timedelta(days=1), *PEAK_MEASURES]
    return params


def _build_month_sums(
    site: Site, now: datetime, summary: BuildSummary, deadline: float | None
) -> bool:
    """Add up the day rollups of the site's finished months whose every day is built (from
    the sources of today) and which are not added up yet, by the database. False when the
    time budget ran out."""
    from saferoom.reports.models import RollupDay, RollupMonthSummed, RollupWatermark

    mark = RollupWatermark.objects.filter(site=site).first()
    if mark is None or mark.first_arrival is None:
        return True
    tz = ZoneInfo(site.time_zone)
    first = mark.first_arrival.astimezone(tz).date()
    last_day = _finished(tz, now)
    summed = set(RollupMonthSummed.objects.filter(site=site).values_list("month", flat=True))
    sources = Sources([site])
    sql = _month_sums_sql()
    for m in _months(first, last_day):
        month_last = _next_month(m) - timedelta(days=1)
        if month_last > last_day or m in summed:
            continue
        if _out_of_time(deadline, summary):
            return False
        with transaction.atomic():
            locked = RollupWatermark.objects.select_for_update().filter(site=site).first()
            if locked is None or locked.first_arrival is None:
                return True
            lowest = max(m, locked.first_arrival.astimezone(tz).date())
            built = {
                d
                for d, made_from in RollupDay.objects.filter(
                    site=site, day__gte=lowest, day__lte=month_last
                ).values_list("day", "source_version")
                if sources.holds(site.pk, made_from)
            }
            if len(built) != (month_last - lowest).days + 1:
                continue  # a day is still to be built (or being changed): a later pass
            _drop_month_sums(site, {m})
            with connection.cursor() as cursor:
                cursor.execute(sql, _month_sums_params(site, m))
            RollupMonthSummed.objects.create(site=site, month=m, built_at=timezone.now())
        summary.month_sums += 1
    return True
