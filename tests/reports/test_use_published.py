"""What readers are shown of the use indicators: the site's own staff see every figure exactly;
an evaluator sees small counts hidden, with secondary suppression in additive tables, and the
medians and rates built on hidden counts hidden with them."""

from __future__ import annotations

import datetime as dt

import pytest

from saferoom.reports.periods import day, week_of
from saferoom.reports.publish import ShownReport, publish
from saferoom.reports.registry import compute_report
from saferoom.reports.scopes import rule_for, site_scope
from saferoom.sites.models import Network, Site
from tests.conftest import make_user
from tests.reports.test_facts import LATER, LONDON, Records, local

USE = ("U1", "U2", "U3", "U4", "U5", "U6", "U7", "U8", "U9")
MONDAY = local(LONDON, 2026, 5, 4, 10)


@pytest.fixture
def records(network: Network) -> Records:
    return Records(make_user("rita.recorder"))


@pytest.fixture
def busy_week(site_a: Site, records: Records) -> None:
    """Twelve visits on Monday 4 May (ten by two registered clients, two anonymous), three on
    Tuesday; twelve turn-aways for capacity and three of banned clients."""
    regular, other = records.client(site_a), records.client(site_a, gender="female")
    for i in range(12):
        who = None if i >= 10 else (regular if i % 2 else other)
        visit = records.visit(site_a, MONDAY + dt.timedelta(minutes=20 * i), who)
        start = visit.arrived_at + dt.timedelta(minutes=i)
        records.session(visit, "Booth 1", start, start + dt.timedelta(minutes=15))
    for i in range(3):
        records.visit(site_a, MONDAY + dt.timedelta(days=1, minutes=i), regular)
    for _ in range(12):
        records.turnaway(site_a, MONDAY, "full")
    for _ in range(3):
        records.turnaway(site_a, MONDAY, "banned", client=records.client(site_a))


def shown_to(user, site: Site) -> ShownReport:
    scope = site_scope(site, week_of(MONDAY.date()), now=LATER)
    return publish(compute_report(scope, USE), rule_for(user, scope))


def test_the_sites_staff_see_every_use_figure_exactly(busy_week, manager, site_a):
    report = shown_to(manager, site_a)
    assert report.rule is None
    u1 = report.results["U1"]
    assert u1.figure("total").shown.text == "15"
    assert [row[0].value for row in u1.breakdown("by_day").cells] == [12, 3, 0, 0, 0, 0, 0]
    u6 = report.results["U6"].breakdown("by_reason")
    assert [row[0].text for row in u6.cells] == ["12", "0", "3", "0", "0"]
    assert report.results["U7"].figure("median").shown.value is not None


def test_an_evaluator_sees_small_visit_counts_hidden_and_the_cells_that_would_reveal_them(
    busy_week, evaluator, site_a
):
    report = shown_to(evaluator, site_a)
    assert report.rule is not None
    assert report.rule.code == "lt10"
    u1 = report.results["U1"]
    by_day = u1.breakdown("by_day")
    monday, tuesday = by_day.cells[0][0], by_day.cells[1][0]
    assert (tuesday.text, tuesday.hidden) == ("<10", "primary")
    # Monday's 12 would give Tuesday away from the week's total of 15.
    assert (monday.text, monday.hidden) == ("[c]", "secondary")
    assert [row[0].text for row in by_day.cells[2:]] == ["0"] * 5
    assert by_day.total is not None
    assert by_day.total.text == "15"
    assert u1.figure("total").shown.text == "15"
    grid = u1.breakdown("by_weekday_hour")
    assert all(cell.value in (None, 0) for row in grid.cells for cell in row)


def test_an_evaluator_sees_the_turnaway_reasons_protected_the_same_way(
    busy_week, evaluator, site_a
):
    u6 = shown_to(evaluator, site_a).results["U6"]
    reasons = {
        key: row[0]
        for (key, _label), row in zip(
            u6.breakdown("by_reason").rows, u6.breakdown("by_reason").cells, strict=True
        )
    }
    assert (reasons["banned"].text, reasons["banned"].hidden) == ("<10", "primary")
    assert reasons["capacity"].hidden == "secondary"
    assert [reasons[k].text for k in ("not_eligible", "intoxicated", "other")] == ["0"] * 3
    assert u6.figure("total").shown.text == "15"


def test_an_evaluator_never_sees_a_count_from_one_to_nine(busy_week, evaluator, site_a):
    report = shown_to(evaluator, site_a)
    for result in report.results.values():
        for figure in result.figures:
            if figure.kind == "count":
                assert figure.shown.value is None or not 0 < figure.shown.value < 10, figure.key
        for table in result.breakdowns:
            for row in table.cells:
                for kind, cell in zip(table.column_kinds, row, strict=True):
                    if kind == "count":
                        assert cell.value is None or not 0 < cell.value < 10, table.key


def test_medians_and_rates_on_hidden_counts_are_hidden_too(busy_week, evaluator, site_a):
    report = shown_to(evaluator, site_a)
    u7 = report.results["U7"]
    assert u7.figure("seen").shown.text == "12"
    assert u7.figure("median").shown.value is not None  # twelve waits: shown
    hour_10 = u7.breakdown("by_hour").cells[10]
    assert [cell.hidden for cell in hour_10] == ["primary", "primary", "primary"]
    # Two registered clients: U3 is hidden, and so are visits per client and its median.
    u5 = report.results["U5"]
    assert report.results["U3"].figure("total").shown.text == "<10"
    assert [u5.figure(k).shown.value for k in ("ratio", "median", "p90")] == [None, None, None]


def test_occupancy_is_shown_to_an_evaluator_as_it_is(busy_week, evaluator, manager, site_a):
    theirs = shown_to(evaluator, site_a).results["U8"]
    ours = shown_to(manager, site_a).results["U8"]
    assert theirs.figure("share").shown == ours.figure("share").shown
    assert theirs.figure("share").shown.value
    assert theirs.breakdown("by_hour").cells == ours.breakdown("by_hour").cells


def test_a_day_with_nothing_recorded_shows_zeros_not_markers(evaluator, site_a):
    scope = site_scope(site_a, day(dt.date(2026, 5, 4)), now=LATER)
    report = publish(compute_report(scope, USE), rule_for(evaluator, scope))
    assert report.results["U1"].figure("total").shown.text == "0"
    assert [row[0].text for row in report.results["U6"].breakdown("by_reason").cells] == ["0"] * 5
    assert report.results["U7"].figure("median").shown.text == "—"
