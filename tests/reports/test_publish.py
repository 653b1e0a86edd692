"""Publishing a report: exact for the site's staff; for everyone else counts under the site's
rule, tables with secondary suppression, headline counts that agree with their tables,
derived figures recomputed from what is shown, and deaths always published."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saferoom.core.suppression import RULES
from saferoom.reports import registry
from saferoom.reports.periods import parse_period
from saferoom.reports.publish import ShownReport, publish
from saferoom.reports.registry import Breakdown, Figure, Report, Result, Scope

LT10 = RULES["lt10"]
NHS = RULES["nhs"]


@pytest.fixture(autouse=True)
def test_indicators(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Three made-up indicators standing in for real ones, removed afterwards."""
    saved = dict(registry.INDICATORS)
    registry.INDICATORS.clear()

    def nothing(ctx: registry.Context) -> Result:  # never called: results are built by hand
        raise AssertionError

    groups: tuple[tuple[str, registry.Group, bool], ...] = (
        ("U1", "use", True),
        ("U2", "use", True),
        ("S7", "safety", False),
    )
    for code, group, suppressible in groups:
        registry.indicator(
            code, title=f"Test {code}", group=group, definition="made up", suppressible=suppressible
        )(nothing)
    # load() imports the real modules, which would register the real ones: keep them out.
    monkeypatch.setattr(registry, "INDICATOR_MODULES", ())
    yield
    registry.INDICATORS.clear()
    registry.INDICATORS.update(saved)


def scope() -> Scope:
    site = SimpleNamespace(pk=1, name="Riverside", time_zone="Europe/London")
    return Scope(
        network=SimpleNamespace(pk=1, name="Test network"),  # type: ignore[arg-type]
        sites=(site,),  # type: ignore[arg-type]
        period=parse_period("2026-03"),
        now=dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC),
    )


def by_reason(values: list[int]) -> Breakdown:
    return Breakdown(
        key="reason",
        label="By reason",
        row_label="Reason",
        rows=(("all", "All"),),
        columns=tuple((f"r{i}", f"Reason {i}") for i in range(len(values))),
        values=(tuple(values),),
    )


def report(u1: list[int], u2_total: int = 200, deaths: int = 0) -> Report:
    u1_total = sum(u1)
    return Report(
        scope=scope(),
        results={
            "U1": Result(
                "U1",
                figures=(
                    Figure("total", "Visits", u1_total),
                    Figure(
                        "per_episode",
                        "Visits per episode",
                        u1_total / u2_total,
                        kind="ratio",
                        numerator="U1.total",
                        denominator="U2.total",
                    ),
                    Figure("median_wait", "Median wait", 4.0, kind="minutes", basis="U1.total"),
                ),
                breakdowns=(by_reason(u1),),
            ),
            "U2": Result("U2", figures=(Figure("total", "Episodes", u2_total),)),
            "S7": Result("S7", figures=(Figure("total", "Deaths on site", deaths),)),
        },
    )


def test_site_staff_see_every_figure_exactly() -> None:
    shown = publish(report([3, 40, 12]), None)
    u1 = shown.results["U1"]
    assert u1.figure("total").shown.value == 55
    assert [c.value for c in u1.breakdown("reason").cells[0]] == [3, 40, 12]
    assert shown.rule is None
    assert "exact" in shown.suppression


def test_a_small_count_is_hidden_and_cannot_be_rebuilt_from_the_total() -> None:
    shown = publish(report([3, 40, 12]), LT10)
    cells = shown.results["U1"].breakdown("reason").cells[0]
    assert cells[0].text == "<10"
    assert cells[0].value is None
    # With the total shown, a second cell must be hidden too, or 3 = 55 - 40 - 12.
    assert sum(1 for c in cells if c.value is None) >= 2
    assert "3" not in [c.text for c in cells]


def test_the_headline_count_is_the_published_table_total() -> None:
    shown = publish(report([3, 4, 2]), LT10)
    table = shown.results["U1"].breakdown("reason")
    headline = shown.results["U1"].figure("total").shown
    assert table.total is not None
    assert headline == table.total
    assert headline.value is None  # 9 visits: below the threshold


def test_a_rate_is_recomputed_from_shown_counts_and_hidden_with_them() -> None:
    shown = publish(report([30, 40], u2_total=100), NHS)
    # NHS rounds to 5: 70 visits and 100 episodes are shown as 70 and 100.
    assert shown.results["U1"].figure("per_episode").shown.value == 0.7
    hidden = publish(report([3, 4], u2_total=100), LT10)
    assert hidden.results["U1"].figure("per_episode").shown.value is None
    assert hidden.results["U1"].figure("median_wait").shown.value is None


def test_rounding_applies_to_shown_counts_and_what_is_derived_from_them() -> None:
    shown = publish(report([33, 41], u2_total=97), NHS)
    assert shown.results["U1"].figure("total").shown.value == 75
    assert shown.results["U2"].figure("total").shown.value == 95
    assert shown.results["U1"].figure("per_episode").shown.value == pytest.approx(0.79, abs=0.01)


@pytest.mark.parametrize("deaths", [0, 1, 3])
def test_deaths_on_site_are_published_as_they_are(deaths: int) -> None:
    shown = publish(report([30, 40], deaths=deaths), LT10)
    figure = shown.results["S7"].figure("total").shown
    assert figure.value == deaths
    assert figure.text == str(deaths)


def visible_numbers(shown: ShownReport) -> dict[str, Any]:
    u1 = shown.results["U1"]
    table = u1.breakdown("reason")
    return {
        "cells": [c.value for c in table.cells[0]],
        "total": u1.figure("total").shown.value,
        "columns": [c.value for c in table.column_totals or ()],
        "rows": [c.value for c in table.row_totals or ()],
    }


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), min_size=2, max_size=6))
def test_no_hidden_count_of_a_published_report_can_be_worked_out(values: list[int]) -> None:
    """Brute force over every table a reader could believe: each hidden count has at least
    two possible values consistent with everything shown (headline, cells, totals, rule)."""
    shown = publish(report(values), LT10)
    seen = visible_numbers(shown)
    cells = seen["cells"]
    hidden = [i for i, v in enumerate(cells) if v is None]
    if not hidden:
        return
    total = seen["total"]
    known = sum(v for v in cells if v is not None)

    def possible(i: int) -> set[int]:
        # What a reader allows for a hidden cell: primary ones 1–9; secondary ones ≥10
        # (capped, as the real values are), and the row adding up to the total when shown.
        reason = shown.results["U1"].breakdown("reason").cells[0][i].hidden
        return set(range(1, 10)) if reason == "primary" else set(range(10, 41))

    options = {i: possible(i) for i in hidden}
    for i in hidden:
        values_i = set()
        others = [j for j in hidden if j != i]
        for v in options[i]:
            # Is there an assignment of the other hidden cells that makes the sums agree?
            rest = None if total is None else total - known - v
            if rest is None:
                values_i.add(v)
                continue
            reachable = {0}
            for j in others:
                reachable = {r + o for r in reachable for o in options[j] if r + o <= rest}
            if rest in reachable:
                values_i.add(v)
        assert len(values_i) >= 2, (values, i, values_i)


def test_parts_of_a_shown_total_are_hidden_together() -> None:
    """15 visits, 13 registered, 2 anonymous: hiding only the 2 would leave it as 15 − 13."""
    base = report([15, 0])
    u1 = base.results["U1"]
    parts = (
        Figure("registered", "Registered", 13, part_of="total"),
        Figure("anonymous", "Anonymous", 2, part_of="total"),
    )
    with_parts = Report(
        scope=base.scope,
        results={**base.results, "U1": Result("U1", u1.figures + parts, u1.breakdowns)},
    )
    shown = publish(with_parts, LT10).results["U1"]
    assert shown.figure("total").shown.value == 15
    assert shown.figure("anonymous").shown.value is None
    assert shown.figure("registered").shown.value is None
    assert shown.figure("registered").shown.hidden == "secondary"
    exact = publish(with_parts, None).results["U1"]
    assert exact.figure("registered").shown.value == 13


def with_u1(figures: tuple[Figure, ...], breakdowns: tuple[Breakdown, ...]) -> Report:
    base = report([0])
    return Report(
        scope=base.scope, results={**base.results, "U1": Result("U1", figures, breakdowns)}
    )


def status_table(counts: dict[str, int]) -> Breakdown:
    return registry.one_way(
        "status",
        "By status",
        "Status",
        tuple((k, k.title()) for k in counts),
        ("referrals", "Referrals"),
        counts,
    )


@pytest.mark.parametrize(
    ("counts", "attended", "known"),
    [
        # 3 declined is hidden, and the 15 waiting with it; shown one by one beside the total,
        # "with a known outcome" (41) would give the waiting away, and the declined with it.
        ({"attended": 20, "declined": 3, "unknown": 18, "waiting": 15}, 20, None),
        # Everything big enough: both read off the table.
        ({"attended": 20, "declined": 30, "unknown": 18, "waiting": 15}, 20, 68),
        # Attended hidden in the table (to protect the 4 declined): hidden as a figure too;
        # the known outcomes are the shown total less the shown waiting, so shown as that.
        ({"attended": 12, "declined": 4, "unknown": 0, "waiting": 40}, None, 16),
    ],
)
def test_referral_outcomes_are_read_from_the_status_table_as_shown(counts, attended, known) -> None:
    """E3's attended and known-outcome figures are rows of its status table: shown only as
    the shown table gives them, never hidden on their own beside a shown total."""
    total = sum(counts.values())
    figures = (
        Figure("total", "Referrals", total),
        Figure("attended", "Attended", counts["attended"], rows_of=("status", ("attended",))),
        Figure(
            "known",
            "Known",
            counts["attended"] + counts["declined"] + counts["unknown"],
            rows_of=("status", ("attended", "declined", "unknown")),
        ),
    )
    shown = publish(with_u1(figures, (status_table(counts),)), LT10).results["U1"]
    table = {
        key: row[0]
        for (key, _l), row in zip(
            shown.breakdown("status").rows, shown.breakdown("status").cells, strict=True
        )
    }
    assert shown.figure("attended").shown.value == attended
    assert shown.figure("known").shown.value == known
    if attended is None:
        assert table["attended"].hidden
    if known is None:
        # what the table shows cannot give it either
        assert table["waiting"].hidden or any(
            table[k].hidden for k in ("attended", "declined", "unknown")
        )
    exact = publish(with_u1(figures, (status_table(counts),)), None).results["U1"]
    assert exact.figure("known").shown.value == total - counts["waiting"]


@pytest.mark.parametrize(
    ("total", "before", "changed", "before_shown", "changed_shown"),
    [
        (50, 45, 20, False, True),  # 5 checks after use would be 50 − 45
        (50, 30, 27, True, False),  # 3 checks before use not followed by a change: 30 − 27
        (50, 30, 15, True, True),  # nothing small left over
        (50, 3, 0, False, True),  # a small part is hidden; nothing changed shows as 0
    ],
)
def test_checks_before_use_are_hidden_when_what_they_leave_of_the_total_is_small(
    total, before, changed, before_shown, changed_shown
) -> None:
    """E6: checks before use are part of all checks, and changes of plan part of those; a part
    is hidden when the rest of its whole is a small count."""
    figures = (
        Figure("total", "Checks", total),
        Figure("before_use", "Before use", before, part_of="total"),
        Figure("dose_reduced_or_disposed", "Changed plan", changed, part_of="before_use"),
    )
    shown = publish(with_u1(figures, ()), LT10).results["U1"]
    assert shown.figure("total").shown.value == total
    assert (shown.figure("before_use").shown.value is not None) is before_shown
    assert (shown.figure("dose_reduced_or_disposed").shown.value is not None) is changed_shown


def test_waits_by_hour_are_published_with_the_visits_seen_as_one_table() -> None:
    """U7: the visits seen are the sum of the hours' counts; one hidden hour beside a shown
    total would be the total less the others, so another hour goes with it."""
    waits = Breakdown(
        key="by_hour",
        label="Waits by hour",
        row_label="Hour",
        rows=(("09", "09:00"), ("10", "10:00"), ("11", "11:00")),
        columns=(("n", "Seen"), ("median", "Median"), ("p90", "p90")),
        values=((3, 5.0, 9.0), (40, 12.0, 30.0), (25, 7.0, 20.0)),
        column_kinds=("count", "minutes", "minutes"),
        total_key="seen",
    )
    figures = (
        Figure("seen", "Seen", 68),
        Figure("median", "Median", 9.0, kind="minutes", basis="U1.seen"),
    )
    shown = publish(with_u1(figures, (waits,)), LT10).results["U1"]
    table = shown.breakdown("by_hour")
    assert [row[0].hidden for row in table.cells] == ["primary", "", "secondary"]
    assert [row[1].hidden for row in table.cells] == ["primary", "", "secondary"]  # minutes go too
    assert shown.figure("seen").shown.value == 68
    assert table.total is None  # the total is the figure beside the table, not a row of it


def test_shares_are_rounded_once_to_a_tenth_of_a_percentage_point() -> None:
    """One rule everywhere: 0.1235 is carried as 0.124 and written 12.4%."""
    from saferoom.reports.publish import normalise, shown_exact

    assert normalise("share", 0.1235) == 0.124
    assert shown_exact("share", 0.1235).text == "12.4%"
    assert shown_exact("share", 0.0015).text == "0.2%"  # not 0.1 from the binary 0.0015
    assert shown_exact("share", 1).text == "100.0%"
