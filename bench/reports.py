"""Report benchmarks (issue 5): how long a report takes on a long, busy history, with the
rollups the worker keeps (ADR 10), against the same headline figures counted by a plain
SQL GROUP BY over the raw tables.

- One busy site (SQLite, every ``make bench``): a calendar year at about 500 arrivals a day,
  written by the bulk generator (``saferoom.simulation.bulk``: the simulation engine's stream,
  written a batch at a time), the rollups built, then the month's and the year's report
  (``compute_report`` + ``publish``) timed against a target of 300 ms.
- A network of 20 sites over 5 years, about 10 million arrivals (PostgreSQL, only with
  ``--postgres URL``): written once into a database of its own on that server
  (``saferoom_bench_network``) and reused by later runs; ``--rebuild-network`` writes it
  again. The network's annual report is timed against a target of 1 s.

Report times are wall-clock times of the function calls in this process (no HTTP), p50/p95
over several runs after one untimed run; the GROUP BY is timed the same way on the same
database, and the table says how many times slower or faster the report is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils import timezone

from bench.harness import BenchError, Row, Timings, counting_queries
from saferoom.reports import facts, rollups
from saferoom.reports.periods import Period, month, year
from saferoom.reports.publish import publish
from saferoom.reports.registry import Scope, compute_report
from saferoom.reports.scopes import network_scope, scope_rule, site_scope
from saferoom.simulation import bulk
from saferoom.simulation.profiles import get_profile
from saferoom.sites.defaults import seed_catalogue
from saferoom.sites.models import Network, OpeningHours, Site, Space

SITE_REPORT_TARGET_MS = 300.0
NETWORK_REPORT_TARGET_MS = 1000.0
BUSY_VISITS_PER_DAY = 500
NETWORK_SITES = 20
NETWORK_YEARS = 5
NETWORK_VISITS_PER_DAY = 275  # on average over the sites: 20 × 275 × 1,826 ≈ 10 million
NETWORK_DATABASE = "saferoom_bench_network"


@dataclass
class ReportData:
    network: Network
    sites: list[Site]
    first: date
    last: date
    generated: bulk.BulkSummary | None
    generated_s: float
    built: rollups.BuildSummary
    visits: int

    def describe(self) -> str:
        how = (
            f"written in {self.generated_s:.0f} s by the bulk generator"
            if self.generated is not None
            else "reused from an earlier run"
        )
        return (
            f"{len(self.sites)} site(s), {self.first} to {self.last}, {self.visits:,} visits "
            f"({how}); rollups brought up to date in {self.built.seconds:.1f} s "
            f"({self.built.days:,} site-days, {self.built.rows:,} count rows, "
            f"{self.built.months:,} client months, {self.built.month_sums:,} months of count "
            f"sums, {self.built.years:,} client years)"
        )


def _site(
    network: Network,
    name: str,
    slug: str,
    *,
    zone: str,
    booths: int,
    rooms: int,
    hours: tuple[clock_time, clock_time],
) -> Site:
    site = Site.objects.create(
        network=network, name=name, slug=slug, time_zone=zone, anonymous_visits_allowed=True
    )
    opens, closes = hours
    OpeningHours.objects.bulk_create(
        OpeningHours(site=site, weekday=d, opens=opens, closes=closes) for d in range(7)
    )
    spaces = [
        Space(site=site, name=f"Booth {i}", kind="booth", sort_order=i)
        for i in range(1, booths + 1)
    ]
    spaces += [
        Space(
            site=site,
            name=f"Smoking room {i}",
            kind="inhalation",
            seats=3,
            clear_down_minutes=10,
            sort_order=100 + i,
        )
        for i in range(1, rooms + 1)
    ]
    spaces.append(Space(site=site, name="Recovery", kind="aftercare", seats=10, sort_order=200))
    Space.objects.bulk_create(spaces)
    return site


def _visits(sites: list[Site], first: date, last: date) -> int:
    from saferoom.floor.models import Visit

    start = datetime.combine(first, clock_time.min, tzinfo=UTC) - timedelta(days=1)
    end = datetime.combine(last, clock_time.min, tzinfo=UTC) + timedelta(days=2)
    return Visit.objects.filter(site__in=sites, arrived_at__gte=start, arrived_at__lt=end).count()


# --- the busy site --------------------------------------------------------------------------


def busy_site(quick: bool) -> ReportData:
    """A network with one busy site and last calendar year's history (``quick``: 40 days at
    100 a day), rolled up."""
    today = timezone.localdate()
    network = Network.objects.create(name="Report benchmark")
    seed_catalogue(network)
    site = _site(
        network,
        "Busy Street",
        "busy-street",
        zone="Europe/London",
        booths=14,
        rooms=3,
        hours=(clock_time(7), clock_time(23)),
    )
    if quick:
        first, days, per_day = today - timedelta(days=41), 40, 100
    else:
        first = date(today.year - 1, 1, 1)
        days, per_day = (date(today.year, 1, 1) - first).days, BUSY_VISITS_PER_DAY
    started = time.monotonic()
    generated = bulk.generate(
        sites=[site],
        days=days,
        start=first,
        seed=2026,
        profile=get_profile("nrw").override(visits_per_day=per_day),
    )
    generated_s = time.monotonic() - started
    built = rollups.build()
    last = first + timedelta(days=days - 1)
    return ReportData(
        network, [site], first, last, generated, generated_s, built, _visits([site], first, last)
    )


# --- timing -----------------------------------------------------------------------------------


def _timings(work: Callable[[], Any], runs: int) -> tuple[Timings, Any]:
    result = work()  # untimed: imports, caches, the database's own first read
    ns: list[int] = []
    cpu: list[int] = []
    for _ in range(runs):
        c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
        result = work()
        ns.append(time.perf_counter_ns() - t0)
        cpu.append(time.thread_time_ns() - c0)
    return Timings(ns, cpu), result


def _report(scope: Scope) -> Callable[[], Any]:
    rule = scope_rule(scope)

    def work() -> Any:
        return publish(compute_report(scope), rule)

    return work


def group_by_figures(scope: Scope) -> dict[str, Any]:
    """Visits by local day, episodes by route and distinct clients of the scope, as a plain
    SQL GROUP BY over the visit and session tables (PostgreSQL converts to local time
    itself; SQLite cannot, so it groups by UTC hour and the hours are put on local days)."""
    by_day: dict[date, int] = {}
    by_route: dict[str, int] = {}
    zones: dict[str, list[int]] = {}
    for s in scope.sites:
        zones.setdefault(s.time_zone, []).append(s.pk)
    clause = []
    params: list[Any] = []
    with connection.cursor() as cursor:
        for zone, ids in zones.items():
            start, end = scope.period.bounds(zone)
            where = f"site_id IN ({', '.join(['%s'] * len(ids))})"
            span = [_param(start), _param(end)]
            clause.append(f"({where} AND arrived_at >= %s AND arrived_at < %s)")
            params += [*ids, *span]
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT (arrived_at AT TIME ZONE %s)::date, COUNT(*) FROM floor_visit "  # noqa: S608 - placeholders only
                    f"WHERE {where} AND arrived_at >= %s AND arrived_at < %s "
                    "AND state <> 'turned_away' GROUP BY 1",
                    [zone, *ids, *span],
                )
                for d, n in cursor.fetchall():
                    by_day[d] = by_day.get(d, 0) + n
            else:
                tz = ZoneInfo(zone)
                cursor.execute(
                    "SELECT substr(arrived_at, 1, 13), COUNT(*) FROM floor_visit "  # noqa: S608 - placeholders only
                    f"WHERE {where} AND arrived_at >= %s AND arrived_at < %s "
                    "AND state <> 'turned_away' GROUP BY 1",
                    [*ids, *span],
                )
                for hour, n in cursor.fetchall():
                    moment = datetime.fromisoformat(hour + ":00").replace(tzinfo=UTC)
                    d = moment.astimezone(tz).date()
                    by_day[d] = by_day.get(d, 0) + n
            cursor.execute(
                "SELECT route, COUNT(*) FROM floor_consumptionsession "  # noqa: S608 - placeholders only
                f"WHERE {where} AND started_at >= %s AND started_at < %s "
                "GROUP BY route",
                [*ids, *span],
            )
            for route, n in cursor.fetchall():
                by_route[route] = by_route.get(route, 0) + n
        cursor.execute(
            "SELECT COUNT(DISTINCT client_id) FROM floor_visit "  # noqa: S608 - placeholders only
            f"WHERE ({' OR '.join(clause)}) AND client_id IS NOT NULL "
            "AND state <> 'turned_away'",
            params,
        )
        clients = cursor.fetchone()[0]
    return {"by_day": by_day, "by_route": by_route, "clients": clients}


def rollup_figures(scope: Scope) -> dict[str, Any]:
    """The same figures from the facts the indicators read (rollups where built), added up
    by the database (``rollups.totals``) rather than row by row."""
    by_day: dict[date, int] = {}
    for (_measure, d), n in rollups.totals(scope, ["visit"], ("day",)).items():
        by_day[d] = by_day.get(d, 0) + n
    by_route: dict[str, int] = {}
    for (_measure, dim), n in rollups.totals(scope, ["episode.route"], ("dim",)).items():
        by_route[dim] = by_route.get(dim, 0) + n
    return {"by_day": by_day, "by_route": by_route, "clients": facts.unique_clients(scope).total}


def _param(moment: datetime) -> Any:
    if connection.vendor == "postgresql":
        return moment
    return connection.ops.adapt_datetimefield_value(moment)


def _row(
    measure: str, t: Timings, *, queries: int | str = "", target_ms: float | None, note: str = ""
) -> Row:
    if target_ms is None:
        target, result = "", "INFO"
    else:
        target = f"p95 < {target_ms:g} ms"
        result = "PASS" if t.p95 < target_ms else "FAIL"
    return Row(
        measure,
        samples=len(t.ns),
        p50=t.p50,
        p95=t.p95,
        p99=t.p99,
        queries=str(queries),
        target=target,
        result=result,
        note=note,
    )


def report_rows(
    label: str,
    scopes: list[tuple[str, Scope, float]],
    *,
    runs: int,
    data: ReportData,
) -> list[Row]:
    """Time each scope's report, then the headline figures by GROUP BY and from the facts,
    for the last (largest) scope; the figures must agree."""
    rows = [
        Row(
            f"{label}: bench data",
            result="INFO",
            note=data.describe(),
        )
    ]
    report_p50 = 0.0
    for name, scope, target in scopes:
        t, shown = _timings(_report(scope), runs)
        with counting_queries() as seen:
            _report(scope)()
        report_p50 = t.p50
        cpu = t.cpu
        rows.append(
            _row(
                f"{label}: {name} report",
                t,
                queries=len(seen),
                target_ms=target,
                note=f"compute_report + publish under the scope's suppression rule (as an "
                f"evaluator sees it), every indicator; CPU p50 {cpu.p50:.0f} ms",
            )
        )
        if shown is None:
            raise BenchError("the report produced nothing")
    name, scope, _target = scopes[-1]
    t_sql, plain = _timings(lambda: group_by_figures(scope), runs)
    t_facts, from_facts = _timings(lambda: rollup_figures(scope), runs)
    if plain != from_facts:
        raise BenchError(
            f"the GROUP BY and the facts disagree for the {name}: "
            f"{sum(plain['by_day'].values())} / {sum(from_facts['by_day'].values())} visits, "
            f"{plain['clients']} / {from_facts['clients']} clients"
        )
    visits = sum(plain["by_day"].values())
    rows.append(
        _row(
            f"{label}: {name}, plain SQL GROUP BY",
            t_sql,
            queries=3 * len({s.time_zone for s in scope.sites}) + 1,
            target_ms=None,
            note=f"visits by local day, episodes by route, distinct clients over the raw "
            f"tables ({visits:,} visits, {plain['clients']:,} clients); the {name} report "
            f"takes {report_p50 / t_sql.p50:.2f} × this",
        )
    )
    rows.append(
        _row(
            f"{label}: {name}, same figures from rollups",
            t_facts,
            target_ms=None,
            note=f"rollups.totals (summed by the database) + facts.unique_clients: "
            f"{t_facts.p50 / t_sql.p50:.2f} × the GROUP BY's time",
        )
    )
    return rows


def busy_site_reports(data: ReportData, runs: int) -> list[Row]:
    site = data.sites[0]
    last_month = month(data.last.year, data.last.month)
    whole_year = (
        year(data.first.year)
        if data.first == date(data.first.year, 1, 1)
        else Period("range", data.first, data.last)
    )
    return report_rows(
        "One site",
        [
            ("month", site_scope(site, last_month), SITE_REPORT_TARGET_MS),
            ("year", site_scope(site, whole_year), SITE_REPORT_TARGET_MS),
        ],
        runs=runs,
        data=data,
    )


# --- the network (PostgreSQL) -------------------------------------------------------------------


def _server(dbname: str) -> Any:
    """A connection to the benchmark's PostgreSQL server, to another database."""
    import psycopg

    s = connection.settings_dict
    return psycopg.connect(
        host=s.get("HOST") or None,
        port=s.get("PORT") or None,
        user=s.get("USER") or None,
        password=s.get("PASSWORD") or None,
        dbname=dbname,
        autocommit=True,
    )


def _recipe() -> str | None:
    """What the network database was made for, once it was made completely."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_recipe (recipe text NOT NULL, complete boolean)"
        )
        cursor.execute("SELECT recipe FROM bench_recipe WHERE complete")
        row = cursor.fetchone()
    return row[0] if row else None


def _set_recipe(recipe: str, *, complete: bool) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM bench_recipe")
        cursor.execute("INSERT INTO bench_recipe VALUES (%s, %s)", [recipe, complete])


class OtherDatabase:
    """Meanwhile, the default connection uses another database on the same server (made
    if missing, dropped and made again when ``fresh``)."""

    def __init__(self, name: str, *, fresh: bool) -> None:
        self.name = name
        self.fresh = fresh
        self.before = ""

    def __enter__(self) -> OtherDatabase:
        from django.core.management import call_command

        self.before = connection.settings_dict["NAME"]
        with _server(self.before) as server:
            exists = server.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [self.name]
            ).fetchone()
            if exists and self.fresh:
                server.execute(f'DROP DATABASE "{self.name}" WITH (FORCE)')
                exists = None
            if not exists:
                server.execute(f'CREATE DATABASE "{self.name}"')
        connection.close()
        connection.settings_dict["NAME"] = self.name
        call_command("migrate", verbosity=0, interactive=False)
        return self

    def __exit__(self, *exc: object) -> None:
        connection.close()
        connection.settings_dict["NAME"] = self.before


def network_data(
    quick: bool, *, sites_n: int = NETWORK_SITES, years: int = NETWORK_YEARS
) -> ReportData:
    """The network's history in the current database: reused when a complete one for the
    same recipe is there, else written (``quick``: 3 sites, 60 days). ``sites_n`` and
    ``years`` make a smaller network of the same kind (``bench.network_profile``)."""
    today = timezone.localdate()
    if quick:
        sites_n, years = 3, 0
    recipe = (
        f"quick:{today:%Y}"
        if quick
        else f"v1:{sites_n}x{years}y@{NETWORK_VISITS_PER_DAY}:{today:%Y}"
    )
    name = "Bench network" + (" (quick)" if quick else "")
    first = today - timedelta(days=62) if quick else date(today.year - years, 1, 1)
    last = today - timedelta(days=3) if quick else date(today.year - 1, 12, 31)
    generated = None
    generated_s = 0.0
    if _recipe() != recipe:
        if Network.objects.filter(name=name).exists():
            raise BenchError(
                f"the database holds an incomplete or different network; run again with "
                f"--rebuild-network (recipe {recipe})"
            )
        _set_recipe(recipe, complete=False)
        network = Network.objects.create(name=name)
        seed_catalogue(network)
        made = []
        for i in range(1, sites_n + 1):
            visits = 100 if quick else 150 + round(250 * (i - 1) / (sites_n - 1))
            made.append(
                (
                    _site(
                        network,
                        f"Site {i:02d}",
                        f"site-{i:02d}",
                        zone="Europe/Berlin" if i % 4 == 0 else "Europe/London",
                        booths=max(4, visits // 25),
                        rooms=2,
                        hours=(clock_time(9), clock_time(22)),
                    ),
                    visits,
                )
            )
        profiles = {site.pk: get_profile("nrw").override(visits_per_day=v) for site, v in made}
        started = time.monotonic()
        generated = bulk.generate(
            sites=[site for site, _ in made],
            days=(last - first).days + 1,
            start=first,
            seed=2026,
            profile_for=lambda site: profiles[site.pk],
            workers=2,
            progress=lambda line: print(f"  network: {line}", flush=True),
        )
        generated_s = time.monotonic() - started
        _set_recipe(recipe, complete=True)
    network = Network.objects.get(name=name)
    sites = list(Site.objects.filter(network=network).order_by("pk"))
    # Whatever is not built yet (all of it the first time; an interrupted build goes on).
    built = build_rollups(sites, workers=1 if quick else 2)
    return ReportData(
        network, sites, first, last, generated, generated_s, built, _visits(sites, first, last)
    )


def build_rollups(sites: list[Site], workers: int) -> rollups.BuildSummary:
    """``rollups.build`` for these sites, the sites shared out between ``workers`` processes
    on PostgreSQL (each builds its own sites; a site's work is locked by its watermark), then
    once more here for anything a process left (a first look that met another's)."""
    started = time.monotonic()
    total = rollups.BuildSummary(sites=len(sites))
    if workers > 1 and connection.vendor == "postgresql" and len(sites) > 1:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        from saferoom.simulation import bulk_process

        database = {"NAME": connection.settings_dict["NAME"]}
        connection.close()
        parts = [[s.pk for s in sites[i::workers]] for i in range(workers)]
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=get_context("spawn"),
            initializer=bulk_process.set_up,
            initargs=(database,),
        ) as pool:
            for part in pool.map(_build_part, parts):
                total.days += part.days
                total.rows += part.rows
                total.months += part.months
                total.month_sums += part.month_sums
                total.years += part.years
    rest = rollups.build(sites=sites, progress=lambda line: print(f"  rollups: {line}", flush=True))
    total.days += rest.days
    total.rows += rest.rows
    total.months += rest.months
    total.month_sums += rest.month_sums
    total.years += rest.years
    total.seconds = time.monotonic() - started
    return total


def _build_part(site_ids: list[int]) -> rollups.BuildSummary:
    """One process's share of :func:`build_rollups`."""
    sites = list(Site.objects.filter(pk__in=site_ids).order_by("pk"))
    return rollups.build(sites=sites, progress=lambda line: print(f"  rollups: {line}", flush=True))


def network_reports(data: ReportData, runs: int) -> list[Row]:
    annual = (
        year(data.last.year) if data.last.month == 12 else Period("range", data.first, data.last)
    )
    return report_rows(
        "Network",
        [("annual", network_scope(data.network, annual), NETWORK_REPORT_TARGET_MS)],
        runs=runs,
        data=data,
    )
