"""C1 (cost per visit, per episode, per client) on hand-entered monthly costs with known answers:
each month's latest entry, pro-rated by the days of a partly covered month, not defined (with a
note naming them) when months are missing, refused across currencies, summed over a network."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from saferoom.core.suppression import RULES
from saferoom.reports import registry
from saferoom.reports.costs_actions import record_operating_cost
from saferoom.reports.models import OperatingCost
from saferoom.reports.periods import parse_period
from saferoom.reports.publish import publish
from saferoom.reports.registry import Figure, Result, compute_report
from saferoom.reports.scopes import network_scope, site_scope
from saferoom.sites.models import Site

UTC = dt.UTC
NOW = dt.datetime(2026, 4, 2, 9, tzinfo=UTC)


@pytest.fixture
def use_totals(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """U1, U2 and U3 stand in with totals the test sets (they have their own tests)."""
    totals = {"U1": 100, "U2": 200, "U3": 0}
    registry.load()
    for code in totals:

        def compute(ctx: registry.Context, code: str = code) -> Result:
            return Result(code, figures=(Figure("total", code, totals[code]),))

        monkeypatch.setitem(
            registry.INDICATORS,
            code,
            dataclasses.replace(registry.INDICATORS[code], compute=compute),
        )
    return totals


def enter(
    site: Site,
    by: Any,
    month: str,
    amount: str,
    *,
    currency: str = "GBP",
    at: dt.datetime | None = None,
    reason: str = "",
) -> OperatingCost:
    return record_operating_cost(
        site=site,
        month=month,
        amount=amount,
        currency=currency,
        note="",
        reason=reason,
        key=uuid.uuid4(),
        by=by,
        at=at or dt.datetime(2026, 3, 1, 10, tzinfo=UTC),
    )


def c1(scope: Any) -> Result:
    return compute_report(scope, ["C1"]).results["C1"]


def test_a_partly_covered_month_counts_its_share_of_days_and_the_latest_entry_wins(
    site_a, manager, use_totals
):
    enter(site_a, manager, "2026-02", "28000")  # 28 days: 1,000 a day
    enter(site_a, manager, "2026-03", "31000", at=dt.datetime(2026, 3, 2, tzinfo=UTC))
    enter(
        site_a,
        manager,
        "2026-03",
        "62000",
        at=dt.datetime(2026, 3, 20, tzinfo=UTC),
        reason="Agency staff invoice arrived",
    )
    # 15–28 February (14 days of 28) and 1–10 March (10 days of 31).
    res = c1(site_scope(site_a, parse_period("2026-02-15..2026-03-10"), now=NOW))

    assert res.figure("operating_cost").value == pytest.approx(14_000 + 20_000)
    assert res.figure("per_visit").value == pytest.approx(340)  # 100 visits
    assert res.figure("per_episode").value == pytest.approx(170)  # 200 episodes
    assert res.figure("per_client").value is None  # no unique clients: not defined
    assert res.figure("per_visit").numerator == "C1.operating_cost"
    assert res.figure("per_visit").denominator == "U1.total"
    assert res.figure("operating_cost").note == "GBP"
    assert res.notes == ()


def test_a_correction_entered_after_the_report_ran_does_not_change_it(site_a, manager, use_totals):
    enter(site_a, manager, "2026-03", "31000")
    enter(
        site_a,
        manager,
        "2026-03",
        "46500",
        at=dt.datetime(2026, 4, 5, tzinfo=UTC),
        reason="Rent was left out",
    )
    march = parse_period("2026-03")

    assert c1(site_scope(site_a, march, now=NOW)).figure("operating_cost").value == 31000
    later = dt.datetime(2026, 4, 6, tzinfo=UTC)
    assert c1(site_scope(site_a, march, now=later)).figure("operating_cost").value == 46500


def test_months_without_an_entry_leave_the_cost_undefined_and_are_named(
    site_a, manager, use_totals
):
    enter(site_a, manager, "2026-02", "28000")
    res = c1(site_scope(site_a, parse_period("2026-Q1"), now=NOW))

    assert [f.value for f in res.figures] == [None, None, None, None]
    assert res.notes[0] == "No operating cost entered for January 2026, March 2026."


def test_a_network_adds_up_its_sites_and_names_the_site_missing_a_month(
    network, site_a, site_b, manager, admin, use_totals
):
    march = parse_period("2026-03")
    enter(site_a, manager, "2026-03", "31000")
    enter(site_b, admin, "2026-02", "10000")
    missing = c1(network_scope(network, march, now=NOW))
    assert missing.figure("operating_cost").value is None
    assert "No operating cost entered at Eastgate for March 2026." in missing.notes

    enter(site_b, admin, "2026-03", "9000.50")
    res = c1(network_scope(network, march, now=NOW))
    assert res.figure("operating_cost").value == pytest.approx(40000.50)
    assert res.figure("per_visit").value == pytest.approx(400.005)


def test_costs_in_two_currencies_are_not_added_up(
    network, site_a, site_b, manager, admin, use_totals
):
    enter(site_a, manager, "2026-03", "31000")
    enter(site_b, admin, "2026-03", "20000", currency="EUR")
    res = c1(network_scope(network, parse_period("2026-03"), now=NOW))

    assert res.figure("operating_cost").value is None
    assert res.figure("per_visit").value is None
    assert any("more than one currency (EUR, GBP)" in note for note in res.notes)


def test_costs_are_never_suppressed_but_a_cost_per_hidden_count_is(site_a, manager, use_totals):
    enter(site_a, manager, "2026-03", "31000")
    use_totals["U2"] = 4  # four episodes: hidden outside the site
    report = compute_report(
        site_scope(site_a, parse_period("2026-03"), now=NOW), ["U1", "U2", "C1"]
    )
    shown = publish(report, RULES["lt10"]).results["C1"]

    assert shown.figure("operating_cost").shown.text == "31,000.00"
    assert shown.figure("per_visit").shown.text == "310.00"
    assert shown.figure("per_episode").shown.value is None


def test_the_cost_is_read_in_one_query(site_a, manager, use_totals, django_assert_num_queries):
    enter(site_a, manager, "2026-03", "31000")
    scope = site_scope(site_a, parse_period("2026-Q1"), now=NOW)
    with django_assert_num_queries(1):
        registry.load()["C1"].compute(registry.Context(scope))


def test_amounts_are_added_as_decimals(site_a, manager, use_totals):
    for month in ("2026-01", "2026-02", "2026-03"):
        enter(site_a, manager, month, "0.10")
    res = c1(site_scope(site_a, parse_period("2026-Q1"), now=NOW))
    assert Decimal(str(res.figure("operating_cost").value)) == Decimal("0.3")
