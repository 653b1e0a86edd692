"""Rollups give exactly what the raw tables give (ADR 10): for whole and partial months, weeks
and days, across the clocks changing, with today, days changed since they were built, merged
clients and a changed catalogue — and they are what is read when they cover a period."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from saferoom.clients.actions import merge_clients
from saferoom.clients.models import Client
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.floor.actions import check_in, check_out
from saferoom.floor.models import Visit
from saferoom.reports import facts, rollups
from saferoom.reports.models import RollupCount, RollupDay, RollupFirstVisit, RollupMonth
from saferoom.reports.periods import parse_period
from saferoom.reports.registry import Scope
from saferoom.reports.scopes import network_scope, site_scope
from saferoom.simulation import bulk
from saferoom.simulation.profiles import get_profile
from saferoom.sites.models import CatalogueItem, Network, Site, Space
from tests.conftest import make_site, make_user

pytestmark = pytest.mark.django_db

# The raw readers themselves, for the expected answers (tests replace them with spies).
RAW_COUNTS = facts.raw_counts
RAW_CLIENTS = facts.raw_unique_clients
RAW_FIRSTS = facts.raw_new_registrations

NOW = dt.datetime(2026, 4, 20, 12, 0, tzinfo=dt.UTC)
START = dt.date(2026, 2, 1)
DAYS = (NOW.date() - START).days  # to yesterday
LATER = NOW + dt.timedelta(minutes=20)
# Whole and partial months, a quarter, a year, the week and the day the clocks go forward, a
# range across months, and periods that reach today and beyond.
PERIODS = (
    "2026",
    "2026-Q1",
    "2026-02",
    "2026-03",
    "2026-03-10..2026-04-02",
    "2026-W13",
    "2026-03-29",
    "2026-04",
    "2026-04-19..2026-04-20",
)


class Spy:
    """Records what is read raw, and still reads it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.counts: list[tuple[tuple[int, ...], dt.date, dt.date]] = []
        self.clients = 0
        self.firsts = 0
        raw_counts, raw_clients, raw_firsts = (
            facts.raw_counts,
            facts.raw_unique_clients,
            facts.raw_new_registrations,
        )

        def counts(sites: Any, first: dt.date, last: dt.date, *args: Any) -> Any:
            self.counts.append((tuple(s.pk for s in sites), first, last))
            return raw_counts(sites, first, last, *args)

        def clients(scope: Scope) -> Any:
            self.clients += 1
            return raw_clients(scope)

        def firsts(scope: Scope) -> Any:
            self.firsts += 1
            return raw_firsts(scope)

        monkeypatch.setattr(facts, "raw_counts", counts)
        monkeypatch.setattr(facts, "raw_unique_clients", clients)
        monkeypatch.setattr(facts, "raw_new_registrations", firsts)

    def reset(self) -> None:
        self.counts, self.clients, self.firsts = [], 0, 0


@pytest.fixture
def harbour(network: Network) -> Site:
    """A second site in another time zone."""
    return make_site(network, "Hafen", "hafen", time_zone="Europe/Berlin")


@pytest.fixture
def history(site_a: Site, harbour: Site) -> Iterator[None]:
    """Eleven weeks of simulated history at both sites, rolled up, as at NOW."""
    with time_machine.travel(NOW - dt.timedelta(hours=1), tick=False):
        bulk.generate(
            sites=[site_a, harbour],
            days=DAYS,
            start=START,
            seed=5,
            profile=get_profile("nrw").override(visits_per_day=20),
        )
    with time_machine.travel(NOW, tick=False):
        rollups.build()
        yield


def scopes(network: Network, site: Site, text: str, now: dt.datetime = NOW) -> list[Scope]:
    period = parse_period(text)
    return [network_scope(network, period, now), site_scope(site, period, now)]


def raw(scope: Scope) -> list[facts.CountRow]:
    first, last = scope.period.first, scope.period.last
    return sorted(RAW_COUNTS(scope.sites, first, last, facts.MEASURES, scope.now))


def same_as_raw(scope: Scope) -> None:
    assert sorted(rollups.counts(scope, facts.MEASURES)) == raw(scope)
    assert rollups.unique_clients(scope) == RAW_CLIENTS(scope)
    assert rollups.new_registrations(scope) == RAW_FIRSTS(scope)


def test_the_history_is_rolled_up_to_yesterday_and_not_today(history, site_a, harbour):
    days = set(RollupDay.objects.filter(site=site_a).values_list("day", flat=True))
    assert min(days) == START
    assert max(days) == dt.date(2026, 4, 19)
    assert len(days) == DAYS
    assert RollupCount.objects.filter(site=harbour, measure="visit").exists()
    assert not RollupCount.objects.filter(day__gte=dt.date(2026, 4, 20)).exists()
    months = set(RollupMonth.objects.filter(site=site_a).values_list("month", flat=True))
    assert months == {dt.date(2026, 2, 1), dt.date(2026, 3, 1)}  # April is not over


def test_rollups_give_the_same_rows_clients_and_new_registrations_as_the_raw_tables(
    history, network, site_a, harbour
):
    for text in PERIODS:
        for scope in [*scopes(network, site_a, text), site_scope(harbour, parse_period(text), NOW)]:
            same_as_raw(scope)


def test_the_totals_are_the_rows_added_up(history, network, site_a):
    scope = network_scope(network, parse_period("2026-03-10..2026-04-20"), NOW)
    rows = raw(scope)
    by_day: dict[tuple[Any, ...], int] = {}
    for row in rows:
        key = (row.measure, row.day, row.dim)
        by_day[key] = by_day.get(key, 0) + row.value
    assert rollups.totals(scope, facts.MEASURES, ("day", "dim")) == by_day
    grid: dict[tuple[Any, ...], int] = {}
    for row in rows:
        cell = (row.measure, row.site_id, row.day.weekday(), row.hour)
        grid[cell] = grid.get(cell, 0) + row.value
    assert rollups.totals(scope, facts.MEASURES, ("site_id", "weekday", "hour")) == grid
    visits = sum(r.value for r in rows if r.measure == "visit")
    assert rollups.totals(scope, ["visit"]) == {("visit",): visits}


def test_a_covered_period_is_read_from_the_rollups_and_today_raw(
    history, network, site_a, harbour, monkeypatch
):
    spy = Spy(monkeypatch)
    year = network_scope(network, parse_period("2026"), NOW)
    rows = rollups.counts(year, facts.MEASURES)
    assert sum(r.value for r in rows if r.measure == "visit") > 1000
    # Only today and the rest of the year, once per time zone.
    assert sorted(spy.counts) == sorted(
        [((site_a.pk,), dt.date(2026, 4, 20), dt.date(2026, 12, 31)),
         ((harbour.pk,), dt.date(2026, 4, 20), dt.date(2026, 12, 31))]
    )  # fmt: skip
    spy.reset()
    quarter = network_scope(network, parse_period("2026-Q1"), NOW)
    rollups.counts(quarter, facts.MEASURES)
    clients = rollups.unique_clients(quarter)
    rollups.new_registrations(quarter)
    assert clients.total > 50
    assert spy.counts == []
    assert spy.clients == 0
    assert spy.firsts == 0


def test_distinct_clients_of_a_period_not_made_of_whole_months_are_read_raw(
    history, network, monkeypatch
):
    spy = Spy(monkeypatch)
    rollups.unique_clients(network_scope(network, parse_period("2026-03-10..2026-03-31"), NOW))
    rollups.unique_clients(network_scope(network, parse_period("2026-04"), NOW))  # not over
    assert spy.clients == 2


def nurse(site: Site) -> User:
    return make_user(f"nurse-{uuid.uuid4().hex[:6]}", (Role.MANAGER, site))


def visit_at(site: Site, by: User, at: dt.datetime, client: Client | None = None) -> Visit:
    heroin = CatalogueItem.objects.get(network=site.network, site=None, code="heroin")
    return check_in(
        site=site,
        client=client,
        anonymous=client is None,
        planned_route="inject",
        planned_substances=[heroin],
        otherwise_location="street",
        would_use_alone="yes",
        eligibility={"old_enough": True, "first_time": False, "intoxicated": False},
        by=by,
        idempotency_key=uuid.uuid4(),
        at=at,
    )


def test_a_day_changed_after_it_was_rolled_up_is_read_raw_until_rolled_up_again(
    history, network, site_a, monkeypatch
):
    day = dt.datetime(2026, 3, 12, 14, 0, tzinfo=site_a.tz)
    someone = Client.objects.filter(visits__site=site_a).first()
    assert someone is not None
    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
        by = nurse(site_a)
        # A visit recorded late, for a past day: its client's first visit moves earlier too.
        late = visit_at(site_a, by, dt.datetime(2026, 1, 30, 10, 0, tzinfo=site_a.tz), someone)
        check_out(visit=late, by=by, at=dt.datetime(2026, 1, 30, 10, 30, tzinfo=site_a.tz))
        visit = visit_at(site_a, by, day)
        check_out(visit=visit, by=by, at=day + dt.timedelta(minutes=40))
    spy = Spy(monkeypatch)
    for text in ("2026-03", "2026-Q1", "2026-01", "2026-02"):
        for scope in scopes(network, site_a, text, LATER):
            same_as_raw(scope)
    read_raw = {(first, last) for sites, first, last in spy.counts if sites == (site_a.pk,)}
    assert (dt.date(2026, 3, 12), dt.date(2026, 3, 12)) in read_raw
    assert (dt.date(2026, 1, 30), dt.date(2026, 1, 30)) in read_raw

    with time_machine.travel(LATER, tick=False):
        summary = rollups.build()
    assert summary.stale_days == 1
    assert summary.days == 3  # 12 March again, and 30 and 31 January for the first time
    spy.reset()
    for text in ("2026-03", "2026-Q1", "2026-01"):
        for scope in scopes(network, site_a, text, LATER):
            same_as_raw(scope)
    assert spy.counts == []
    assert spy.clients == 0


def test_a_day_touched_a_moment_ago_waits_before_it_is_rolled_up_again(history, site_a):
    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
        visit = visit_at(site_a, nurse(site_a), dt.datetime(2026, 3, 5, 11, 0, tzinfo=site_a.tz))
        check_out(visit=visit, by=visit.created_by, at=visit.arrived_at + dt.timedelta(hours=1))
    with time_machine.travel(NOW + dt.timedelta(minutes=2), tick=False):
        first = rollups.build()
    with time_machine.travel(LATER, tick=False):
        second = rollups.build()
    assert (first.stale_days, first.days) == (1, 0)
    assert (second.stale_days, second.days) == (0, 1)
    assert RollupDay.objects.filter(site=site_a, day=dt.date(2026, 3, 5)).exists()


def test_merging_two_clients_is_followed_at_once(history, network, site_a, monkeypatch):
    keep, merge = Client.objects.filter(
        visits__site=site_a, visits__arrived_at__month=3, registered_site=site_a
    ).distinct()[:2]
    with time_machine.travel(LATER, tick=False):
        merge_clients(keep=keep, merge=merge, reason="Same person", by=nurse(site_a), site=site_a)
    spy = Spy(monkeypatch)
    for text in ("2026-03", "2026-Q1", "2026-02"):
        for scope in scopes(network, site_a, text, LATER):
            same_as_raw(scope)
    assert spy.clients > 0  # the months the two codes were counted in wait for the worker
    assert spy.firsts == 0
    with time_machine.travel(LATER, tick=False):
        assert rollups.build().months >= 1
    assert not RollupFirstVisit.objects.filter(client=merge).exists()
    spy.reset()
    for scope in scopes(network, site_a, "2026-Q1", LATER):
        same_as_raw(scope)
    assert spy.clients == 0


def test_a_changed_substance_category_leaves_the_rollups_unused_until_rebuilt(
    history, network, site_a, monkeypatch
):
    crack = CatalogueItem.objects.get(network=network, site=None, code="crack")
    crack.category = "other"
    crack.save()
    spy = Spy(monkeypatch)
    for scope in scopes(network, site_a, "2026-03", LATER):
        assert sorted(rollups.counts(scope, facts.MEASURES)) == raw(scope)
    assert spy.counts  # read raw
    with time_machine.travel(LATER, tick=False):
        assert rollups.build().days == 2 * DAYS


def test_a_new_space_or_catalogue_entry_leaves_the_rollups_in_use(
    history, network, site_a, monkeypatch
):
    CatalogueItem.objects.create(
        network=network, kind="substance", code="nitazene", label="Nitazene", category="opioid"
    )
    Space.objects.create(site=site_a, name="Booth 9", kind="booth", sort_order=9)
    spy = Spy(monkeypatch)
    for scope in scopes(network, site_a, "2026-03", LATER):
        assert sorted(rollups.counts(scope, facts.MEASURES)) == raw(scope)
    assert spy.counts == []


def test_a_site_without_rollups_is_read_raw(network, site_a, monkeypatch):
    spy = Spy(monkeypatch)
    scope = site_scope(site_a, parse_period("2026-03"), NOW)
    assert rollups.counts(scope, facts.MEASURES) == []
    assert rollups.unique_clients(scope) == RAW_CLIENTS(scope)
    assert spy.counts == [((site_a.pk,), dt.date(2026, 3, 1), dt.date(2026, 3, 31))]
    assert spy.clients == 1


def test_an_unknown_measure_is_refused(network, site_a):
    with pytest.raises(ValueError, match="Unknown measure"):
        rollups.counts(site_scope(site_a, parse_period("2026-03"), NOW), ("visits",))


# --- the command and the worker ---------------------------------------------------------------


def run(*args: str) -> str:
    out = StringIO()
    call_command("rollups", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_command_builds_what_is_missing_and_rebuilds_on_request(history, site_a, harbour):
    with time_machine.travel(LATER, tick=False):
        assert "Rolled up 0 site-day(s)" in run()
        RollupDay.objects.filter(site=site_a, day=dt.date(2026, 2, 10)).delete()
        assert "Rolled up 1 site-day(s)" in run("--site", "riverside")
        assert f"Rolled up {DAYS} site-day(s)" in run("--rebuild", "--site", "hafen")
    assert RollupDay.objects.filter(site=harbour).count() == DAYS


def test_the_command_refuses_an_unknown_site(site_a):
    with pytest.raises(CommandError, match=r"No site 'nowhere'\. Sites: riverside"):
        run("--site", "nowhere")


def test_the_worker_rolls_up_finished_days_a_little_at_a_time(site_a, harbour, monkeypatch):
    with time_machine.travel(NOW - dt.timedelta(hours=1), tick=False):
        bulk.generate(
            sites=[site_a], days=40, start=dt.date(2026, 3, 1), seed=2,
            profile=get_profile("glasgow").override(visits_per_day=10),
        )  # fmt: skip
    monkeypatch.setattr(rollups, "CHUNK_DAYS", 7)
    monkeypatch.setattr(rollups, "WORKER_BUDGET_SECONDS", 0.0)
    built = []
    with time_machine.travel(NOW, tick=False):
        for _ in range(14):
            out = StringIO()
            call_command("worker", "--once", stdout=out)
            found = re.search(r"build_report_rollups: (\d+) site-days", out.getvalue())
            assert found is not None
            built.append(int(found.group(1)))
    # One piece of work a pass: a first look at a site, a week of days, or a month.
    assert max(built) == 7
    assert sum(built) == (NOW.date() - dt.date(2026, 3, 1)).days
    assert RollupDay.objects.filter(site=site_a).count() == (NOW.date() - dt.date(2026, 3, 1)).days


# --- month sums and occupancy at scale -------------------------------------------------------

# Whole months (read from the month sums), and periods around them (read day by day).
SUMMED_PERIODS = ("2026", "2026-Q1", "2026-02", "2026-03", "2026-02-20..2026-04-20", "2026-W13")
# What the indicators add up by.
GROUPINGS: tuple[tuple[str, ...], ...] = (
    (),
    ("dim",),
    ("site_id", "day", "dim"),
    ("weekday", "hour"),
    ("hour", "dim"),
    ("site_id", "weekday", "hour", "dim"),
)


def added_up(scope: Scope, by: tuple[str, ...]) -> dict[tuple[Any, ...], int]:
    """The raw rows added up by hand, keyed as ``rollups.totals`` keys them."""
    found: dict[tuple[Any, ...], int] = {}
    for row in raw(scope):
        values = {"site_id": row.site_id, "day": row.day, "weekday": row.day.weekday(),
                  "hour": row.hour, "dim": row.dim}  # fmt: skip
        key = (row.measure, *(values[k] for k in rollups.KEYS if k in by))
        found[key] = found.get(key, 0) + row.value
    return found


def test_finished_months_are_also_kept_added_up(history, site_a, harbour):
    from saferoom.reports.models import RollupMonthSum, RollupMonthSummed

    for site in (site_a, harbour):
        months = set(RollupMonthSummed.objects.filter(site=site).values_list("month", flat=True))
        assert months == {dt.date(2026, 2, 1), dt.date(2026, 3, 1)}  # April is not over
    assert set(RollupMonthSum.objects.values_list("grain", flat=True)) == {
        *rollups.MONTH_GRAINS,
        rollups.PEAK_GRAIN,
    }


def test_the_totals_are_the_raw_rows_added_up_whatever_they_are_added_up_by(
    history, network, site_a, harbour, monkeypatch
):
    spy = Spy(monkeypatch)
    for text in SUMMED_PERIODS:
        for scope in [*scopes(network, site_a, text), site_scope(harbour, parse_period(text), NOW)]:
            for by in GROUPINGS:
                assert rollups.totals(scope, facts.MEASURES, by) == added_up(scope, by), (text, by)
    # Only today and later are read raw.
    assert {first for _sites, first, _last in spy.counts} == {dt.date(2026, 4, 20)}


def test_a_quarter_is_added_up_from_its_month_sums(history, network, site_a, harbour):
    from saferoom.reports.models import RollupCount

    scope = network_scope(network, parse_period("2026-Q1"), NOW)
    expected = added_up(scope, ("dim",))
    # With the day rollups of February and March gone (and their days still marked built),
    # the quarter's totals can only have come from the month sums.
    RollupCount.objects.filter(day__gte=dt.date(2026, 2, 1), day__lte=dt.date(2026, 3, 31)).delete()
    rollups.forget_seen()
    assert rollups.totals(scope, facts.MEASURES, ("dim",)) == expected


def test_a_changed_day_throws_its_months_sums_away_until_they_are_added_up_again(
    history, network, site_a
):
    from saferoom.reports.models import RollupMonthSummed

    day = dt.datetime(2026, 3, 12, 14, 0, tzinfo=site_a.tz)
    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
        by = nurse(site_a)
        visit = visit_at(site_a, by, day)
        check_out(visit=visit, by=by, at=day + dt.timedelta(minutes=40))
    for scope in scopes(network, site_a, "2026-Q1", LATER):
        for by_keys in GROUPINGS:
            assert rollups.totals(scope, facts.MEASURES, by_keys) == added_up(scope, by_keys)
    with time_machine.travel(LATER, tick=False):
        summary = rollups.build()
    assert summary.stale_days == 1
    assert summary.month_sums == 1  # March, added up again
    assert RollupMonthSummed.objects.filter(site=site_a, month=dt.date(2026, 3, 1)).exists()
    for scope in scopes(network, site_a, "2026-Q1", LATER):
        for by_keys in GROUPINGS:
            assert rollups.totals(scope, facts.MEASURES, by_keys) == added_up(scope, by_keys)


def occupancy_cell_by_cell(scope: Scope) -> facts.Occupancy:
    """U8's facts as the definition says: each site, day, hour and kind's use held to what
    was open then, worked out cell by cell from the raw rows and the open seat-minutes."""
    open_at: dict[tuple[Any, ...], int] = {}
    for row in facts.open_seat_minutes(scope):
        key = (row.site_id, row.day, row.hour, row.dim)
        open_at[key] = open_at.get(key, 0) + row.value
    used_at: dict[tuple[Any, ...], int] = {}
    for row in raw(scope):
        if row.measure == "occupied":
            key = (row.site_id, row.day, row.hour, row.dim)
            used_at[key] = used_at.get(key, 0) + row.value
    used_kind: dict[str, int] = {}
    open_kind: dict[str, int] = {}
    used_hour: dict[int, int] = {}
    open_hour: dict[int, int] = {}
    outside = 0
    for key in open_at.keys() | used_at.keys():
        _site, _day, hour, kind = key
        available = open_at.get(key, 0)
        used = min(used_at.get(key, 0), available)
        outside += used_at.get(key, 0) - used
        used_kind[kind] = used_kind.get(kind, 0) + used
        open_kind[kind] = open_kind.get(kind, 0) + available
        if used:
            used_hour[hour] = used_hour.get(hour, 0) + used
        if available:
            open_hour[hour] = open_hour.get(hour, 0) + available
    return facts.Occupancy(used_kind, open_kind, used_hour, open_hour, outside)


def same_occupancy(found: facts.Occupancy, expected: facts.Occupancy) -> None:
    assert found.used_kind == expected.used_kind
    assert found.open_kind == expected.open_kind
    assert {h: n for h, n in found.used_hour.items() if n} == expected.used_hour
    assert {h: n for h, n in found.open_hour.items() if n} == expected.open_hour
    assert found.outside == expected.outside


def test_occupancy_holds_each_hour_to_what_was_open_as_cell_by_cell(
    history, network, site_a, harbour
):
    # Part-open hours (9:30 to 17:15 on weekdays, to 12:00 at weekends), so that some use
    # falls outside the opening hours, and a space out of service.
    from saferoom.sites.models import OpeningHours

    OpeningHours.objects.filter(site=site_a).delete()
    for weekday in range(7):
        closes = dt.time(17, 15) if weekday < 5 else dt.time(12, 0)
        OpeningHours.objects.create(
            site=site_a, weekday=weekday, opens=dt.time(9, 30), closes=closes
        )
    Space.objects.filter(site=harbour, kind="inhalation").update(out_of_service=True)
    for text in (*SUMMED_PERIODS, "2026-03-29", "2026-04-19..2026-04-20", "2026-04"):
        for scope in [*scopes(network, site_a, text), site_scope(harbour, parse_period(text), NOW)]:
            expected = occupancy_cell_by_cell(scope)
            same_occupancy(facts.occupancy(scope), expected)
    year = network_scope(network, parse_period("2026"), NOW)
    assert occupancy_cell_by_cell(year).outside > 0


def test_a_percentile_of_counted_values_is_the_nearest_rank_of_them_written_out():
    import random

    chance = random.Random(7)
    for _ in range(200):
        counts = {chance.randint(0, 30): chance.randint(1, 4) for _ in range(chance.randint(1, 8))}
        written = sorted(v for v, n in counts.items() for _ in range(n))
        for p in (1, 10, 50, 90, 99.5, 100):
            assert facts.counted_rank(counts, p) == facts.nearest_rank(written, p)
    assert facts.counted_rank({}, 50) is None


# --- client years -------------------------------------------------------------------------------

# A history across a new year, looked at once January is over: 2025 is a finished year.
YEAR_NOW = dt.datetime(2026, 2, 10, 12, 0, tzinfo=dt.UTC)
YEAR_START = dt.date(2025, 11, 20)
YEAR_LATER = YEAR_NOW + dt.timedelta(minutes=20)
# A whole year, a quarter and a month of it, whole months across the new year, and whole
# months from a year and a month (read from the year and the month).
YEAR_PERIODS = (
    "2025",
    "2025-Q4",
    "2025-12",
    "2025-11-01..2026-01-31",
    "2025-01-01..2026-01-31",
)


@pytest.fixture
def year_end(site_a: Site, harbour: Site) -> Iterator[Client]:
    """Eleven weeks at both sites across the new year, with a client of site A who also
    came to the harbour in December, rolled up as at YEAR_NOW; yields that client."""
    with time_machine.travel(YEAR_NOW - dt.timedelta(hours=1), tick=False):
        bulk.generate(
            sites=[site_a, harbour],
            days=(YEAR_NOW.date() - YEAR_START).days,
            start=YEAR_START,
            seed=7,
            profile=get_profile("nrw").override(visits_per_day=20),
        )
        both = Client.objects.filter(
            visits__site=site_a, visits__arrived_at__year=2025, visits__state="left"
        ).first()
        assert both is not None
        by = nurse(harbour)
        at = dt.datetime(2025, 12, 9, 15, 0, tzinfo=harbour.tz)
        visit = visit_at(harbour, by, at, both)
        check_out(visit=visit, by=by, at=at + dt.timedelta(minutes=30))
    with time_machine.travel(YEAR_NOW, tick=False):
        rollups.build()
        yield both


def test_a_finished_year_of_client_months_is_kept_added_up_per_client(
    year_end, network, site_a, harbour
):
    from saferoom.reports.models import RollupClientYear, RollupYear

    for site in (site_a, harbour):
        years = set(RollupYear.objects.filter(site=site).values_list("year", flat=True))
        assert years == {dt.date(2025, 1, 1)}  # 2026 is not over
    # The client of both sites has a row at each, and is one client of the network.
    assert RollupClientYear.objects.filter(client=year_end).count() == 2
    network_year = network_scope(network, parse_period("2025"), YEAR_NOW)
    counted = rollups.unique_clients(network_year)
    assert counted.total < sum(counted.by_site.values())
    for text in YEAR_PERIODS:
        for scope in scopes(network, site_a, text, YEAR_NOW) + scopes(
            network, harbour, text, YEAR_NOW
        ):
            assert rollups.unique_clients(scope) == RAW_CLIENTS(scope), text


def test_a_whole_year_is_counted_from_the_client_years(
    year_end, network, site_a, harbour, monkeypatch
):
    from saferoom.reports.models import RollupClientMonth

    expected = {
        text: [RAW_CLIENTS(scope) for scope in scopes(network, harbour, text, YEAR_NOW)]
        for text in ("2025", "2025-01-01..2026-01-31")
    }
    # Without 2025's client months, the year can only have come from the client years.
    RollupClientMonth.objects.filter(month__year=2025).delete()
    spy = Spy(monkeypatch)
    for text, answers in expected.items():
        found = [rollups.unique_clients(s) for s in scopes(network, harbour, text, YEAR_NOW)]
        assert found == answers, text
    assert spy.clients == 0


def test_a_changed_month_throws_its_client_year_away_until_it_is_added_up_again(
    year_end, network, site_a, harbour, monkeypatch
):
    from saferoom.reports.models import RollupYear

    with time_machine.travel(YEAR_NOW + dt.timedelta(minutes=1), tick=False):
        by = nurse(harbour)
        # A visit recorded late, in November, by the client of both sites.
        at = dt.datetime(2025, 11, 25, 12, 0, tzinfo=harbour.tz)
        late = visit_at(harbour, by, at, year_end)
        check_out(visit=late, by=by, at=at + dt.timedelta(minutes=20))
    spy = Spy(monkeypatch)
    for text in YEAR_PERIODS:
        for scope in scopes(network, harbour, text, YEAR_LATER):
            assert rollups.unique_clients(scope) == RAW_CLIENTS(scope), text
    assert spy.clients > 0  # November waits for the worker
    with time_machine.travel(YEAR_LATER, tick=False):
        summary = rollups.build()
    assert summary.stale_months == 1
    assert summary.years == 1
    assert RollupYear.objects.filter(site=harbour, year=dt.date(2025, 1, 1)).exists()
    spy.reset()
    for text in YEAR_PERIODS:
        for scope in scopes(network, harbour, text, YEAR_LATER):
            assert rollups.unique_clients(scope) == RAW_CLIENTS(scope), text
    assert spy.clients == 0


def test_merging_clients_of_two_sites_throws_their_client_years_away(
    year_end, network, site_a, harbour, monkeypatch
):
    from saferoom.reports.models import RollupYear

    keep = year_end
    merge = (
        Client.objects.filter(visits__site=harbour, visits__arrived_at__year=2025)
        .exclude(pk=keep.pk)
        .exclude(visits__site=site_a)
        .distinct()
        .first()
    )
    assert merge is not None
    with time_machine.travel(YEAR_LATER, tick=False):
        merge_clients(keep=keep, merge=merge, reason="Same person", by=nurse(site_a), site=site_a)
    assert not RollupYear.objects.filter(year=dt.date(2025, 1, 1)).exists()
    spy = Spy(monkeypatch)
    for text in YEAR_PERIODS:
        for scope in scopes(network, harbour, text, YEAR_LATER):
            assert rollups.unique_clients(scope) == RAW_CLIENTS(scope), text
    with time_machine.travel(YEAR_LATER, tick=False):
        assert rollups.build().years == 2
    spy.reset()
    for text in YEAR_PERIODS:
        for scope in scopes(network, site_a, text, YEAR_LATER) + scopes(
            network, harbour, text, YEAR_LATER
        ):
            assert rollups.unique_clients(scope) == RAW_CLIENTS(scope), text
    assert spy.clients == 0


def test_occupancy_of_a_whole_month_within_its_caps_is_read_from_the_month_sums(
    history, network, site_a, harbour
):
    scopes_ = [site_scope(harbour, parse_period(t), NOW) for t in ("2026-02", "2026-Q1")]
    expected = [occupancy_cell_by_cell(scope) for scope in scopes_]
    # No cell of February is over what was open: with its day rows gone, February's held use
    # can only have come from the month sums.
    RollupCount.objects.filter(
        site=harbour, measure="occupied", day__gte=dt.date(2026, 2, 1), day__lt=dt.date(2026, 3, 1)
    ).delete()
    for scope, answer in zip(scopes_, expected, strict=True):
        same_occupancy(facts.occupancy(scope), answer)
