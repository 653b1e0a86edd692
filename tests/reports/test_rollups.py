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
