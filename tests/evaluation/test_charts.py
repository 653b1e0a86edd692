"""The evaluation charts: inline SVG a screen reader can name, with the numbers behind each
chart as rows, text escaped, and money written the way a council paper writes it."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest

from saferoom.core.svg import Chart
from saferoom.evaluation import charts
from saferoom.evaluation.charts import money, money_short, nice_ceiling, number, percent, ratio

SVG = "{http://www.w3.org/2000/svg}"


def parse(chart: Chart) -> ET.Element:
    """The SVG must be well-formed XML (it is inlined in HTML and printed)."""
    return ET.fromstring(str(chart.svg))  # noqa: S314 - our own markup, not untrusted input


def dollars(value: float) -> str:
    return money(value, "USD")


def test_a_bar_chart_is_an_image_named_by_its_title_and_summary_with_a_row_per_bar() -> None:
    chart = charts.bar_chart(
        "benefit",
        "Benefit by module",
        [("HIV", 1_479_841.0), ("Deaths", 2_997_791.0)],
        fmt=dollars,
        value_heading="Value",
        summary="Deaths are the largest.",
    )
    svg = parse(chart)
    assert svg.get("role") == "img"
    assert svg.get("aria-label") == "Benefit by module. Deaths are the largest."
    assert svg.find(f"{SVG}title").text == "Benefit by module"  # type: ignore[union-attr]
    assert chart.rows == (("HIV", "$1,479,841"), ("Deaths", "$2,997,791"))
    assert len(svg.findall(f"{SVG}rect")) == 2
    # The longer bar is the larger value.
    widths = [float(r.get("width", 0)) for r in svg.findall(f"{SVG}rect")]
    assert widths[1] > widths[0]


def test_a_negative_bar_goes_left_of_zero_in_another_colour() -> None:
    chart = charts.bar_chart(
        "b", "Net", [("Loss", -50.0), ("Gain", 100.0)], fmt=str, value_heading="v"
    )
    loss, gain = parse(chart).findall(f"{SVG}rect")
    zero = float(gain.get("x", 0))
    assert float(loss.get("x", 0)) + float(loss.get("width", 0)) == pytest.approx(zero)
    assert loss.get("fill") != gain.get("fill")


def test_text_in_a_chart_is_escaped() -> None:
    chart = charts.bar_chart(
        "x", 'A "title" <b>', [("<script>alert(1)</script>", 1.0)], fmt=str, value_heading="v"
    )
    text = str(chart.svg)
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    assert 'aria-label="A &quot;title&quot; &lt;b&gt;.' in text
    parse(chart)


def test_a_histogram_marks_zero_and_gives_every_bin_as_a_row() -> None:
    edges = (-100.0, -50.0, 0.0, 50.0, 100.0)
    chart = charts.histogram(
        "h",
        "Net benefit",
        edges,
        (1, 4, 10, 5),
        fmt=dollars,
        fmt_short=lambda v: money_short(v, "USD"),
        summary="Mostly above zero.",
        value_heading="Net benefit",
    )
    svg = parse(chart)
    assert len(svg.findall(f"{SVG}rect")) == 4
    assert any(line.get("stroke-dasharray") for line in svg.findall(f"{SVG}line"))
    assert chart.rows[0] == ("−$100 to −$50", "1")
    assert chart.columns == ("Net benefit", "Draws")
    fills = [r.get("fill") for r in svg.findall(f"{SVG}rect")]
    assert fills[0] == fills[1] != fills[2] == fills[3]  # loss bins apart from gain bins


def test_a_tornado_has_a_row_per_input_with_both_ends_and_the_swing() -> None:
    bars = [
        charts.TornadoInput("Fall in deaths near the site", "0.2", "0.5", 4_000_000.0, 8_000_000.0),
        charts.TornadoInput("Discount rate", "0.05", "0.01", 5_500_000.0, 7_000_000.0),
    ]
    chart = charts.tornado(
        "t",
        "Tornado",
        6_000_000.0,
        bars,
        fmt=dollars,
        fmt_short=lambda v: money_short(v, "USD"),
        summary="s",
    )
    parse(chart)
    assert chart.rows[0] == (
        "Fall in deaths near the site",
        "0.2",
        "$4,000,000",
        "0.5",
        "$8,000,000",
        "$4,000,000",
    )
    assert "$6.0M" in str(chart.svg)  # the base case is marked


def test_the_probability_bar_is_clamped_and_reads_as_a_percentage() -> None:
    chart = charts.probability_bar("p", "Probability it saves money", 0.873, summary="s")
    assert chart.rows == (("Probability it saves money", "87.3%"),)
    assert charts.probability_bar("p", "P", 1.7, summary="").rows[0][1] == "100.0%"
    parse(chart)


def test_an_hourly_chart_has_24_rows_and_leaves_gaps_for_missing_hours() -> None:
    median = [math.nan] * 9 + [float(h) for h in range(12)] + [math.nan] * 3
    p95 = [v * 2 for v in median]
    chart = charts.hourly_chart(
        "w",
        "Waits by hour",
        [("Median", median), ("95th percentile", p95)],
        fmt=lambda v: f"{v:.0f} min",
        axis_label="Hour",
        summary="s",
    )
    svg = parse(chart)
    assert len(chart.rows) == 24
    assert chart.rows[0] == ("00:00", "—", "—")
    assert chart.rows[10] == ("10:00", "1 min", "2 min")
    assert chart.columns == ("Hour of day", "Median", "95th percentile")
    assert len(svg.findall(f"{SVG}polyline")) == 2
    assert len(svg.findall(f"{SVG}circle")) == 24  # 12 points in each series
    # The axis ends at a round number above the largest wait (22 minutes): 25.
    assert "25 min" in str(chart.svg)


def test_an_hourly_bar_chart_draws_a_column_per_busy_hour() -> None:
    occupancy = [0.0] * 9 + [0.5] * 12 + [0.0] * 3
    chart = charts.hourly_chart(
        "o",
        "Occupancy",
        [("Busy", occupancy)],
        fmt=percent,
        axis_label="Hour",
        summary="s",
        maximum=1.0,
        bars=True,
    )
    assert len(parse(chart).findall(f"{SVG}rect")) == 12
    assert chart.rows[12] == ("12:00", "50%")


@pytest.mark.parametrize(
    ("value", "currency", "text"),
    [
        (1234567.4, "USD", "$1,234,567"),
        (-12000, "GBP", "−£12,000"),
        (5, "CAD", "CA$5"),
        (7, "XYZ", "XYZ 7"),
        (None, "USD", "—"),
        (math.inf, "USD", "—"),
    ],
)
def test_money_is_whole_units_with_separators_and_a_real_minus(
    value: float | None, currency: str, text: str
) -> None:
    assert money(value, currency) == text


def test_short_money_numbers_ratios_and_round_ceilings() -> None:
    assert money_short(1_234_567, "USD") == "$1.2M"
    assert money_short(-350_000, "GBP") == "−£350k"
    assert money_short(2.5e9, "USD") == "$2.5bn"
    assert number(3.6789, 2) == "3.68"
    assert number(374.2) == "374"
    assert number(2.0, 2) == "2"
    assert number(-0.001, 1) == "0"
    assert ratio(4.4067) == "4.41"
    assert ratio(None) == "—"
    assert [nice_ceiling(v) for v in (38.4, 0.7, 100, 120, 0)] == [40, 0.8, 100, 150, 1]


def test_every_chart_is_one_svg_with_its_key_for_the_page() -> None:
    chart = charts.probability_bar("probability-cost-saving", "P", 0.5, summary="half")
    assert re.fullmatch(r"<svg .*</svg>", str(chart.svg), flags=re.S)
    assert 'data-chart="probability-cost-saving"' in str(chart.svg)
