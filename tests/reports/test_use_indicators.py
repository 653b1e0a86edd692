"""The use indicators (U1–U9) computed for a site or a network over a period of each site's own
calendar, from hand-built records whose answers are known."""

from __future__ import annotations

import datetime as dt

import pytest

from saferoom.clients.actions import merge_clients
from saferoom.reports.periods import Period, day, month
from saferoom.reports.publish import ShownBreakdown, ShownReport, publish
from saferoom.reports.registry import Breakdown, Result, compute_report, load
from saferoom.reports.scopes import network_scope, site_scope
from saferoom.sites.models import Network, Site
from tests.conftest import make_user
from tests.reports.test_facts import LATER, LONDON, TORONTO, Records, local, toronto_site, utc

USE = ("U1", "U2", "U3", "U4", "U5", "U6", "U7", "U8", "U9")


@pytest.fixture
def records(network: Network) -> Records:
    return Records(make_user("rita.recorder"))


@pytest.fixture
def lakeshore(network: Network) -> Site:
    return toronto_site(network)


def exact(scope) -> ShownReport:
    """The report as the site's own staff see it."""
    return publish(compute_report(scope, USE), None)


def column(table: Breakdown, index: int = 0) -> dict[str, float | None]:
    return {key: row[index] for (key, _label), row in zip(table.rows, table.values, strict=True)}


def shown_rows(table: ShownBreakdown) -> dict[str, list[float | None]]:
    """Row key → the values a reader is shown in that row."""
    return {
        key: [cell.value for cell in row]
        for (key, _label), row in zip(table.rows, table.cells, strict=True)
    }


def table(result: Result, key: str) -> Breakdown:
    return next(t for t in result.breakdowns if t.key == key)


def test_the_use_indicators_are_registered_with_their_definitions():
    registry = load()
    assert [code for code in registry if code.startswith("U")] == list(USE)
    assert registry["U1"].definition == (
        "Visits whose arrival falls in the period, excluding turned-away arrivals. "
        "Anonymous visits count."
    )
    assert registry["U1"].breakdowns == ("day", "weekday × hour", "site")
    assert registry["U8"].group == "use"
    assert "nearest-rank" in registry["U5"].definition
    assert "nearest-rank" in registry["U7"].definition


# --- U1 -------------------------------------------------------------------------------------


@pytest.fixture
def march_at_riverside(site_a: Site, records: Records) -> None:
    """Riverside's March 2026, at its edges: three visits in the month, and others just
    outside it in London time."""
    first, last = records.client(site_a), records.client(site_a)
    records.visit(site_a, utc(2026, 2, 28, 23, 50))  # 23:50 GMT on 28 February
    records.visit(site_a, utc(2026, 3, 1, 0, 10), first)  # Sunday 1 March, 00:10
    records.visit(site_a, utc(2026, 3, 29, 1, 30))  # Sunday 29 March, 02:30 BST (anonymous)
    records.visit(site_a, utc(2026, 3, 31, 22, 59), last)  # Tuesday 31 March, 23:59 BST
    records.visit(site_a, utc(2026, 3, 31, 23, 10))  # 00:10 BST on 1 April
    records.turnaway(site_a, utc(2026, 3, 10, 12, 0), "full", client=first)


def test_visits_count_in_the_sites_local_month_excluding_turnaways(site_a, march_at_riverside):
    result = compute_report(site_scope(site_a, month(2026, 3), now=LATER), ["U1"]).results["U1"]
    figures = {f.key: f.value for f in result.figures}
    assert figures == {"total": 3, "registered": 2, "anonymous": 1}

    by_day = column(table(result, "by_day"))
    assert len(by_day) == 31
    assert {k: v for k, v in by_day.items() if v} == {
        "2026-03-01": 1,
        "2026-03-29": 1,
        "2026-03-31": 1,
    }
    grid = table(result, "by_weekday_hour")
    assert grid.rows[0][1] == "Monday"
    assert len(grid.columns) == 24
    filled = {(r, c): v for r, row in enumerate(grid.values) for c, v in enumerate(row) if v}
    assert filled == {(6, 0): 1, (6, 2): 1, (1, 23): 1}
    assert column(table(result, "by_site")) == {str(site_a.pk): 3}


def test_a_network_counts_each_site_in_its_own_calendar(
    site_a, lakeshore, records, march_at_riverside
):
    # 03:30 UTC on 1 April is 23:30 on 31 March in Toronto; 04:30 UTC on 1 March is still
    # 28 February there.
    records.visit(lakeshore, utc(2026, 4, 1, 3, 30))
    records.visit(lakeshore, utc(2026, 3, 1, 4, 30))
    shown = exact(network_scope(site_a.network, month(2026, 3), now=LATER)).results["U1"]
    assert shown.figure("total").shown.value == 4
    by_site = shown.breakdown("by_site")
    assert [c[0].value for c in by_site.cells] == [1, 3]  # Lakeshore, Riverside (by name)
    assert by_site.total is not None
    assert by_site.total.value == 4
    assert shown.breakdown("by_day").cells[30][0].value == 2  # 31 March at both sites


# --- U2 -------------------------------------------------------------------------------------


def test_episodes_are_sessions_started_in_the_period_by_route_substance_and_space(site_a, records):
    arrived = local(LONDON, 2026, 5, 4, 12)
    for substances, space, route in (
        (("heroin",), "Booth 1", "inject"),
        (("heroin", "fentanyl"), "Booth 2", "inject"),
        (("speedball",), "Booth 3", "inject"),
        (("crack", "heroin"), "Smoking room", "smoke"),
        (("crack", "ketamine"), "Booth 4", "inject"),
        ((), "Booth 1", "inject"),
    ):
        visit = records.visit(site_a, arrived)
        start = arrived + dt.timedelta(minutes=5)
        end = None if substances == () else start + dt.timedelta(minutes=20)
        if substances == ():
            start += dt.timedelta(hours=1)
        records.session(visit, space, start, end, route=route, substances=substances)
    result = compute_report(site_scope(site_a, day(arrived.date()), now=LATER), ["U2"])
    u2 = result.results["U2"]
    assert u2.figure("total").value == 6
    assert column(table(u2, "by_route")) == {"inject": 5, "smoke": 1, "snort": 0, "oral": 0}
    assert column(table(u2, "by_substance")) == {
        "opioid": 2,
        "stimulant": 0,
        "opioid_stimulant": 2,
        "sedative": 0,
        "other": 0,
        "mixed": 1,
        "not_recorded": 1,
    }
    assert column(table(u2, "by_space_kind")) == {"booth": 5, "inhalation": 1, "flexible": 0}


# --- U3, U4, U5 -----------------------------------------------------------------------------


def test_unique_clients_count_a_merged_client_once_and_never_anonymous_visits(
    site_a, records, manager
):
    april = local(LONDON, 2026, 4, 2, 12)
    keep = records.client(site_a, gender="female", born=1990)
    duplicate = records.client(site_a, gender="female", born=1990)
    other = records.client(site_a, gender="male", born=None)
    records.visit(site_a, april, keep)
    records.visit(site_a, april + dt.timedelta(days=1), duplicate)
    records.visit(site_a, april + dt.timedelta(days=2), other)
    records.visit(site_a, april)  # anonymous
    records.turnaway(site_a, april, "banned", client=records.client(site_a))
    scope = site_scope(site_a, month(2026, 4), now=LATER)
    assert compute_report(scope, ["U3"]).results["U3"].figure("total").value == 3

    merge_clients(keep=keep, merge=duplicate, reason="Same person", by=manager, site=site_a)
    result = compute_report(scope, ["U1", "U3", "U5"]).results
    u3 = result["U3"]
    assert u3.figure("total").value == 2
    assert u3.figure("monthly_sum").value == 2
    assert u3.notes == ()  # one calendar month
    assert column(table(u3, "by_gender")) == {
        "female": 1,
        "male": 1,
        "other": 0,
        "not_stated": 0,
    }
    ages = column(table(u3, "by_age_band"))
    assert (ages["35–44"], ages["not_known"], sum(v or 0 for v in ages.values())) == (1, 1, 2)
    assert result["U1"].figure("anonymous").value == 1
    assert result["U5"].figure("ratio").value == 1.5  # three registered visits, two clients


def test_a_network_counts_a_client_once_but_at_each_site_and_in_each_month(
    site_a, lakeshore, records
):
    both, toronto_only = records.client(site_a), records.client(lakeshore)
    records.visit(site_a, local(LONDON, 2026, 3, 5, 12), both)
    records.visit(lakeshore, local(TORONTO, 2026, 3, 6, 12), both)
    records.visit(lakeshore, local(TORONTO, 2026, 3, 7, 12), toronto_only)
    records.visit(lakeshore, local(TORONTO, 2026, 3, 31, 23, 30), toronto_only)  # 03:30 UTC 1 April
    records.visit(lakeshore, local(TORONTO, 2026, 4, 20, 12), toronto_only)
    period = Period("range", dt.date(2026, 3, 1), dt.date(2026, 4, 30))

    shown = exact(network_scope(site_a.network, period, now=LATER)).results["U3"]
    assert shown.figure("total").shown.value == 2
    # Riverside in March (1) + Lakeshore in March (2) + Lakeshore in April (1).
    assert shown.figure("monthly_sum").shown.value == 4
    by_site = shown.breakdown("by_site")
    assert by_site.rows == ((str(lakeshore.pk), "Lakeshore"), (str(site_a.pk), "Riverside"))
    assert [row[0].value for row in by_site.cells] == [2, 1]
    assert by_site.total is None  # not additive: a client at both sites counts at each
    assert "once in each calendar month" in shown.notes[0]


def test_new_registrations_are_first_visits_anywhere_in_the_network(site_a, lakeshore, records):
    before = records.client(site_a)
    records.visit(lakeshore, local(TORONTO, 2026, 2, 20, 12), before)
    records.visit(site_a, local(LONDON, 2026, 3, 2, 12), before)
    came_to_toronto_first = records.client(lakeshore, born=None)
    records.visit(lakeshore, local(TORONTO, 2026, 3, 10, 12), came_to_toronto_first)
    records.visit(site_a, local(LONDON, 2026, 3, 12, 12), came_to_toronto_first)
    turned_away_first = records.client(site_a, gender="female", born=2000)
    records.turnaway(site_a, local(LONDON, 2026, 2, 1, 12), "under_age", client=turned_away_first)
    records.visit(site_a, local(LONDON, 2026, 3, 3, 12), turned_away_first)
    records.visit(site_a, local(LONDON, 2026, 3, 4, 12), turned_away_first)

    def new(scope) -> dict[str, object]:
        u4 = compute_report(scope, ["U4"]).results["U4"]
        ages = {k: v for k, v in column(table(u4, "by_age_band")).items() if v}
        return {"total": u4.figure("total").value, "ages": ages}

    march = month(2026, 3)
    assert new(site_scope(site_a, march, now=LATER)) == {"total": 1, "ages": {"25–34": 1}}
    assert new(site_scope(lakeshore, march, now=LATER)) == {"total": 1, "ages": {"not_known": 1}}
    network = network_scope(site_a.network, march, now=LATER)
    assert new(network) == {"total": 2, "ages": {"25–34": 1, "not_known": 1}}
    assert new(network_scope(site_a.network, month(2026, 2), now=LATER))["total"] == 1


def test_visits_per_client_has_a_nearest_rank_median_and_90th_percentile(site_a, records):
    start = local(LONDON, 2026, 4, 1, 10)
    for visits in (1, 1, 2, 3, 10):
        client = records.client(site_a)
        for i in range(visits):
            records.visit(site_a, start + dt.timedelta(days=i), client)
    u5 = exact(site_scope(site_a, month(2026, 4), now=LATER)).results["U5"]
    assert u5.figure("ratio").shown.value == 3.4  # 17 visits ÷ 5 clients
    assert u5.figure("median").shown.value == 2
    assert u5.figure("p90").shown.value == 10


# --- U6, U7 ---------------------------------------------------------------------------------


def test_turnaways_show_all_five_reasons_zeros_included(site_a, records):
    noon = local(LONDON, 2026, 5, 4, 12)
    for code in ("full", "full", "under_age", "first_time", "intoxicated"):
        records.turnaway(site_a, noon, code)
    records.visit(site_a, noon)
    u6 = compute_report(site_scope(site_a, day(noon.date()), now=LATER), ["U6"]).results["U6"]
    assert u6.figure("total").value == 5
    assert column(table(u6, "by_reason")) == {
        "capacity": 2,
        "not_eligible": 2,
        "banned": 0,
        "intoxicated": 1,
        "other": 0,
    }


def test_waits_run_from_arrival_to_the_first_session(site_a, records):
    for hour, wait, space in (
        (10, 0, "Booth 1"),
        (10, 2, "Booth 2"),
        (11, 4, "Booth 1"),
        (11, 7, "Smoking room"),
        (15, 30, "Smoking room"),
    ):
        visit = records.visit(site_a, local(LONDON, 2026, 5, 4, hour, 5))
        start = visit.arrived_at + dt.timedelta(minutes=wait, seconds=20)
        records.session(visit, space, start, start + dt.timedelta(minutes=20))
    records.visit(site_a, local(LONDON, 2026, 5, 4, 16), left_queue=True)
    records.visit(site_a, local(LONDON, 2026, 5, 4, 17))  # not seen, did not leave the queue

    u7 = exact(site_scope(site_a, day(dt.date(2026, 5, 4)), now=LATER)).results["U7"]
    figures = {f.key: f.shown.value for f in u7.figures}
    assert figures == {"seen": 5, "median": 4, "p90": 30, "left_queue": 1}
    by_hour = u7.breakdown("by_hour")
    rows = shown_rows(by_hour)
    assert rows["10"] == [2, 0, 2]
    assert rows["11"] == [2, 4, 7]
    assert rows["12"] == [0, None, None]
    assert shown_rows(u7.breakdown("by_space_kind")) == {
        "booth": [3, 2, 4],
        "inhalation": [2, 7, 30],
        "flexible": [0, None, None],
    }
    assert by_hour.total is None


# --- U8 -------------------------------------------------------------------------------------


def test_occupancy_is_the_share_of_open_seat_minutes_used(site_a, records):
    # Riverside: 09:00–21:00, four one-seat booths and a three-seat smoking room.
    when = local(LONDON, 2026, 5, 4, 10)
    booth = records.visit(site_a, when)
    records.session(booth, "Booth 1", when, when + dt.timedelta(minutes=58))  # +2 clear-down
    smoker = records.visit(site_a, when)
    records.session(
        smoker,
        "Smoking room",
        when.replace(hour=14),
        when.replace(hour=14, minute=50),
        route="smoke",
    )  # +10 clear-down
    late = records.visit(site_a, when.replace(hour=20, minute=45))
    records.session(
        late, "Booth 2", when.replace(hour=20, minute=50), when.replace(hour=21, minute=20)
    )  # 10 minutes before closing, 22 after

    u8 = exact(site_scope(site_a, day(when.date()), now=LATER)).results["U8"]
    open_booth, open_smoking = 12 * 60 * 4, 12 * 60 * 3
    assert u8.figure("share").shown.value == round(130 / (open_booth + open_smoking), 3)
    assert shown_rows(u8.breakdown("by_space_kind")) == {
        "booth": [round(70 / open_booth, 3)],
        "inhalation": [round(60 / open_smoking, 3)],
        "flexible": [None],
    }
    hours = shown_rows(u8.breakdown("by_hour"))
    assert hours["10"] == [round(60 / 420, 3)]
    assert hours["21"] == [None]  # closed
    assert "22 seat-minutes of use outside the opening hours" in u8.notes[0]


def test_occupancy_of_a_closed_site_is_not_defined(site_a):
    u8 = exact(site_scope(site_a, day(dt.date(2026, 5, 4)), now=LATER - dt.timedelta(days=365)))
    assert u8.results["U8"].figure("share").shown.value is None
    assert "No space was open" in u8.results["U8"].notes[0]


# --- U9 -------------------------------------------------------------------------------------


def test_alternative_location_groups_visits_and_counts_public_episodes_averted(site_a, records):
    noon = local(LONDON, 2026, 5, 4, 12)
    answers = ("street", "car", "shelter", "own_home", "would_not_use", "not_said")
    visits = {answer: records.visit(site_a, noon, otherwise=answer) for answer in answers}
    for answer, space in (("street", "Booth 1"), ("shelter", "Booth 2"), ("not_said", "Booth 3")):
        records.session(visits[answer], space, noon + dt.timedelta(minutes=5))
    records.turnaway(site_a, noon)

    u9 = exact(site_scope(site_a, day(noon.date()), now=LATER)).results["U9"]
    groups = u9.breakdown("by_group")
    assert [row[0].value for row in groups.cells] == [2, 1, 1, 1, 1]
    assert [key for key, _label in groups.rows] == [
        "public",
        "semi_public",
        "private",
        "would_not_use",
        "unknown",
    ]
    figures = {f.key: f.shown.value for f in u9.figures}
    assert figures == {
        "total": 6,
        "public_episodes_averted": 1,
        "answered_episodes": 2,
        "public_share": 0.5,
    }


# --- cost -----------------------------------------------------------------------------------


def test_the_use_indicators_read_the_same_few_queries_however_many_records(
    site_a, records, django_assert_max_num_queries
):
    scope = site_scope(site_a, month(2026, 5), now=LATER)

    def add(n: int) -> None:
        for i in range(n):
            visit = records.visit(
                site_a, local(LONDON, 2026, 5, 1 + i % 28, 10 + i % 10), records.client(site_a)
            )
            records.session(
                visit,
                f"Booth {1 + i % 4}",
                visit.arrived_at + dt.timedelta(minutes=3),
                visit.arrived_at + dt.timedelta(minutes=25),
            )
            records.turnaway(site_a, visit.arrived_at, "full")

    add(3)
    # A few reads per fact (and the rollups' checks of what they cover), never one per record.
    with django_assert_max_num_queries(45) as few:
        compute_report(scope, USE)
    add(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        compute_report(scope, USE)
