"""The report charts, from hand-made shown figures: each has a title, an accessible name and its
numbers as a table; a hidden (suppressed) figure is drawn hatched with its marker, never at its
true size; S2 is drawn against the published 8–14 band."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

from saferoom.reports import charts
from saferoom.reports.periods import parse_period
from saferoom.reports.publish import Shown, ShownBreakdown, ShownFigure, ShownReport, ShownResult
from saferoom.reports.registry import Indicator, Result, Scope

HIDDEN = Shown(None, "<10", "primary")
SECONDARY = Shown(None, "[c]", "secondary")


def n(value: int) -> Shown:
    return Shown(value, f"{value:,}")


def minutes(value: float) -> Shown:
    return Shown(value, f"{value:g}")


def table(key: str, rows: list[tuple[str, str]], columns, cells, kinds=()) -> ShownBreakdown:
    return ShownBreakdown(
        key=key,
        label=key,
        row_label="Row",
        rows=tuple(rows),
        columns=tuple(columns),
        column_kinds=tuple(kinds) or tuple("count" for _ in columns),
        cells=tuple(tuple(row) for row in cells),
        row_totals=None,
        column_totals=None,
        total=None,
    )


def result(code: str, figures=(), tables=()) -> ShownResult:
    def nothing(ctx):  # never called
        return Result(code, ())

    ind = Indicator(code, f"Test {code}", "use", "made up", (), nothing)
    return ShownResult(ind, tuple(figures), tuple(tables), ())


def report(period: str, *results: ShownResult) -> ShownReport:
    site = SimpleNamespace(pk=1, name="Riverside", time_zone="Europe/London")
    scope = Scope(
        network=SimpleNamespace(pk=1, name="Net"),  # type: ignore[arg-type]
        sites=(site,),  # type: ignore[arg-type]
        period=parse_period(period),
        now=dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
    )
    return ShownReport(scope, scope.now, None, {r.indicator.code: r for r in results})


def widths(svg: str) -> list[float]:
    return [float(w) for w in re.findall(r'<rect x="[^"]+" y="[^"]+" width="([^"]+)"', svg)]


def test_a_bar_chart_hatches_a_hidden_figure_and_names_its_marker():
    chart = charts.bars(
        "mix",
        "Episodes by route",
        [("Inject", n(120)), ("Smoke", HIDDEN), ("Snort", n(0))],
        value_heading="Episodes",
        label_heading="Route",
    )
    svg = str(chart.svg)
    assert 'role="img"' in svg
    assert (
        'aria-label="Episodes by route. 3 bars. Hatched: hidden under the small-number rule' in svg
    )
    assert "<title>Episodes by route</title>" in svg
    assert svg.count("url(#hidden-mix)") == 1
    assert "&lt;10" in svg
    assert chart.rows == (("Inject", "120"), ("Smoke", "<10"), ("Snort", "0"))
    assert chart.columns == ("Route", "Episodes")


def test_the_emergency_rate_is_drawn_against_the_published_band():
    chart = charts.emergency_chart([("Riverside", Shown(11.5, "11.5")), ("Eastgate", HIDDEN)])
    assert chart is not None
    svg = str(chart.svg)
    assert "published 8–14 (Insite, OnPoint, Thistle)" in svg
    assert "8 to 14 per 1,000 episodes" in chart.summary
    assert chart.rows == (("Riverside", "11.5"), ("Eastgate", "<10"))
    assert "url(#hidden-emergency-rate)" in svg


def test_the_heatmap_shades_counts_and_hatches_hidden_cells():
    chart = charts.heatmap(
        "grid",
        "Visits by weekday and hour",
        ["Monday", "Tuesday"],
        ["09:00", "10:00"],
        [[n(0), n(40)], [HIDDEN, SECONDARY]],
        corner="Weekday",
        summary="Darker is busier.",
    )
    svg = str(chart.svg)
    assert svg.count('fill="url(#hidden-grid)"') == 2
    assert 'fill="#0b5d7a"' in svg  # the busiest cell, darkest
    assert 'fill="#ffffff" stroke' in svg  # nobody
    assert chart.rows == (("Monday", "0", "40"), ("Tuesday", "<10", "[c]"))
    assert chart.columns == ("Weekday", "09:00", "10:00")


def test_a_weekday_hour_table_the_other_way_round_is_turned_for_the_heatmap():
    hours = [(f"{h:02d}", f"{h:02d}:00") for h in range(24)]
    days = [
        (str(d), name) for d, name in enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    ]
    cells = [[n(h * 10 + d) for d in range(7)] for h in range(24)]
    grid = charts.weekday_hour_grid(table("by_weekday_hour", hours, days, cells))
    assert grid.row_labels[0] == "Mon"
    assert grid.column_labels[0] == "00:00"
    assert grid.cells[1][3].value == 31  # Tuesday at 03:00


def test_a_long_periods_trend_is_drawn_by_month_and_a_month_with_a_hidden_day_is_hidden():
    days = [
        ("2026-01-05", "5 Jan"),
        ("2026-02-10", "10 Feb"),
        ("2026-02-11", "11 Feb"),
        ("2026-03-01", "1 Mar"),
    ]
    u1 = result(
        "U1",
        tables=[
            table("by_day", days, [("count", "Visits")], [[n(12)], [n(30)], [HIDDEN], [n(15)]])
        ],
    )
    chart = charts.trend_chart(report("2026-Q1", u1))
    assert chart is not None
    assert chart.columns == ("Month", "Visits (U1)")
    assert chart.rows == (("Jan 2026", "12"), ("Feb 2026", "<10"), ("Mar 2026", "15"))


def test_a_months_trend_is_drawn_by_day_with_episodes_beside_visits():
    u1 = result(
        "U1", tables=[table("by_day", [("2026-03-02", "2 Mar")], [("count", "Visits")], [[n(14)]])]
    )
    u2 = result(
        "U2",
        tables=[table("by_day", [("2026-03-02", "2 Mar")], [("count", "Episodes")], [[n(11)]])],
    )
    chart = charts.trend_chart(report("2026-03", u1, u2))
    assert chart is not None
    assert len(chart.rows) == 31
    assert chart.rows[1] == ("2 Mar", "14", "11")
    assert chart.rows[0] == ("1 Mar", "0", "0")
    assert "<polyline" in str(chart.svg)


def test_waiting_times_by_hour_show_median_and_p90_and_leave_hidden_hours_undrawn():
    columns = [("n", "Seen"), ("median", "Median minutes"), ("p90", "90th percentile")]
    rows = [("09", "09:00"), ("10", "10:00")]
    cells = [[n(25), minutes(4), minutes(12)], [HIDDEN, HIDDEN, HIDDEN]]
    u7 = result(
        "U7", tables=[table("by_hour", rows, columns, cells, ("count", "minutes", "minutes"))]
    )
    chart = charts.waiting_chart(report("2026-03", u7))
    assert chart is not None
    assert chart.columns == ("Hour of arrival", "Median (minutes)", "90th percentile (minutes)")
    assert chart.rows == (("09:00", "4", "12"), ("10:00", "<10", "<10"))
    assert str(chart.svg).count("<circle") == 2  # one point per line: 10:00 is not drawn
    assert "(<10) are not drawn" in chart.summary


def test_the_referral_funnel_runs_from_referrals_made_to_their_status():
    e2 = result("E2", figures=[ShownFigure("total", "Referrals made", "count", n(40))])
    status = table(
        "status",
        [
            ("attended", "Attended"),
            ("declined", "Declined"),
            ("unknown", "Not known"),
            ("waiting", "Waiting"),
        ],
        [("referrals", "Referrals")],
        [[n(22)], [HIDDEN], [n(10)], [SECONDARY]],
    )
    e3 = result("E3", tables=[status])
    chart = charts.funnel_chart(report("2026-03", e2, e3))
    assert chart is not None
    assert chart.rows == (
        ("Referrals made", "40"),
        ("Attended", "22"),
        ("Declined", "<10"),
        ("Not known", "10"),
        ("Waiting", "[c]"),
    )


def test_no_emergency_chart_is_drawn_where_no_rate_is_defined():
    assert charts.emergency_chart([("Riverside", Shown(None, "—"))]) is None


def test_charts_whose_indicators_are_missing_are_left_out():
    assert charts.report_charts(report("2026-03")) == []
