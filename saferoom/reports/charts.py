"""Charts of the report pages, drawn on the server as inline SVG with the shared building blocks
of :mod:`saferoom.core.svg` (the evaluation charts' colours, fonts and
:class:`~saferoom.core.svg.Chart`), so they print as they show.

Every chart is drawn from what the reader is shown (a :class:`ShownResult`), never from exact
figures: a hidden (suppressed) figure is drawn as hidden — hatched, with its marker — and never
at its true size. Each chart has a title, a sentence for screen readers (the SVG's accessible
name) and its numbers as a table, in the same words the tables of the report use.

Which charts a report gets depends on which indicators are registered and which tables they
have: a chart whose indicator or table is missing is simply left out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from saferoom.core import svg
from saferoom.core.svg import BRAND, DANGER, INK, LINE, MUTED, OK, Chart, hourly_chart, nice_ceiling
from saferoom.reports.publish import Shown, ShownBreakdown, ShownFigure, ShownReport, ShownResult

Item = tuple[str, Shown]  # a label and the figure drawn for it

# Published comparators of S2 (indicators.md): emergencies per 1,000 supervised episodes at
# Insite, OnPoint and Thistle.
S2_BAND = (8.0, 14.0)
HATCH_INK = "#4a5563"  # the hatching of a hidden figure: muted ink, 3:1 against white


def hidden(shown: Shown) -> bool:
    return shown.value is None and bool(shown.hidden)


def _number(shown: Shown) -> float:
    """The value to draw: NaN when hidden or not defined (nothing is drawn for it)."""
    return float(shown.value) if shown.value is not None else math.nan


# --- finding what to draw -------------------------------------------------------------------


def find_figure(result: ShownResult | None, *keys: str) -> ShownFigure | None:
    """The first of ``keys`` the result has as a figure."""
    if result is None:
        return None
    by_key = {f.key: f for f in result.figures}
    for key in keys:
        if key in by_key:
            return by_key[key]
    return None


def find_table(result: ShownResult | None, *keys: str) -> ShownBreakdown | None:
    """The result's table with one of ``keys`` (exact), else one whose key holds every word of
    the first key split on ``_`` (so "weekday_hour" also finds "hour_by_weekday")."""
    if result is None:
        return None
    by_key = {t.key: t for t in result.breakdowns}
    for key in keys:
        if key in by_key:
            return by_key[key]
    for key in keys:
        words = key.split("_")
        for table in result.breakdowns:
            if all(word in table.key for word in words):
                return table
    return None


def one_way(table: ShownBreakdown) -> list[Item]:
    """A table as (label, figure) pairs: its rows when it has one column, its columns when it
    has one row, else each row's total (or first column)."""
    if len(table.columns) == 1 or not table.columns:
        return [(label, row[0]) for (_key, label), row in zip(table.rows, table.cells, strict=True)]
    if len(table.rows) == 1:
        return [
            (label, cell) for (_key, label), cell in zip(table.columns, table.cells[0], strict=True)
        ]
    if table.row_totals:
        return [
            (label, total)
            for (_key, label), total in zip(table.rows, table.row_totals, strict=True)
        ]
    return [(label, row[0]) for (_key, label), row in zip(table.rows, table.cells, strict=True)]


# --- SVG building blocks (the evaluation charts' style; hidden figures hatched) -------------


def _hatch(key: str) -> str:
    return (
        f'<defs><pattern id="hidden-{escape(key)}" width="6" height="6" '
        f'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{HATCH_INK}" stroke-width="2"/>'
        f"</pattern></defs>"
    )


def _hidden_box(key: str, x: float, y: float, w: float, h: float) -> str:
    return svg.rect(x, y, w, h, f"url(#hidden-{escape(key)})", f' stroke="{HATCH_INK}"')


def _hidden_note(items: Sequence[Shown], *, hatched: bool = True) -> str:
    """What the chart does with hidden figures, said only when it has some."""
    markers = sorted({s.text for s in items if hidden(s)})
    if not markers:
        return ""
    if not hatched:
        return " " + _(
            "Figures hidden under the small-number rule (%(markers)s) are not drawn."
        ) % {"markers": ", ".join(markers)}
    return " " + _("Hatched: hidden under the small-number rule (%(markers)s).") % {
        "markers": ", ".join(markers)
    }


def _chart(
    key: str,
    title: str,
    summary: str,
    drawing: SafeString,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
) -> Chart:
    return Chart(
        key=key,
        title=title,
        summary=summary,
        svg=drawing,
        columns=tuple(columns),
        rows=tuple(tuple(r) for r in rows),
    )


# --- chart shapes ---------------------------------------------------------------------------


def bars(
    key: str,
    title: str,
    items: Sequence[Item],
    *,
    value_heading: str,
    label_heading: str,
    summary: str = "",
    band: tuple[float, float] | None = None,
    band_label: str = "",
) -> Chart:
    """Horizontal bars from zero, one per item; a hidden item gets a hatched box and its marker
    instead of a bar. ``band`` shades a reference range (published comparators)."""
    width, label_w, value_w, bar_h, gap = 760, 230, 120, 24, 10
    top = 34 if band else 10
    height = top + 10 + max(len(items), 1) * (bar_h + gap) + (24 if band else 0)
    plot_x, plot_w = label_w, width - label_w - value_w
    values = [v for _label, s in items if math.isfinite(v := _number(s))]
    high = nice_ceiling(max([*values, *(band or ())], default=0.0) * (1.1 if band else 1.0))
    scale = plot_w / high
    body = [_hatch(key)]
    bottom = top + max(len(items), 1) * (bar_h + gap)
    if band:
        low_x, high_x = plot_x + band[0] * scale, plot_x + band[1] * scale
        body.append(svg.rect(low_x, top - 6, high_x - low_x, bottom - top + 6, "#e3eef3"))
        body.append(svg.line(low_x, top - 6, low_x, bottom, BRAND, 1.5, "5 3"))
        body.append(svg.line(high_x, top - 6, high_x, bottom, BRAND, 1.5, "5 3"))
        body.append(svg.text((low_x + high_x) / 2, top - 12, band_label, anchor="middle", size=12))
        for tick in (0.0, band[0], band[1], high):
            body.append(
                svg.text(
                    plot_x + tick * scale,
                    bottom + 16,
                    f"{tick:g}",
                    anchor="middle",
                    size=12,
                    fill=MUTED,
                )
            )
    for i, (label, shown) in enumerate(items):
        y = top + i * (bar_h + gap)
        body.append(svg.text(label_w - 8, y + bar_h * 0.7, svg.truncate(label, 30), anchor="end"))
        if hidden(shown):
            body.append(_hidden_box(key, plot_x, y, 36, bar_h))
            body.append(
                svg.text(plot_x + 44, y + bar_h * 0.7, shown.text, weight="600", fill=MUTED)
            )
            continue
        v = _number(shown)
        length = v * scale if math.isfinite(v) else 0.0
        if length > 0:
            body.append(svg.rect(plot_x, y, length, bar_h, BRAND))
        body.append(svg.text(plot_x + length + 6, y + bar_h * 0.7, shown.text, weight="600"))
    body.append(svg.line(plot_x, top - 4, plot_x, bottom, INK, 1.5))
    summary = (summary or _("%(n)s bars.") % {"n": len(items)}) + _hidden_note(
        [s for _label, s in items]
    )
    return _chart(
        key,
        title,
        summary,
        svg.document(key, title, summary, width, height, body),
        (label_heading, value_heading),
        [(label, s.text) for label, s in items],
    )


def heatmap(
    key: str,
    title: str,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    cells: Sequence[Sequence[Shown]],
    *,
    corner: str,
    summary: str,
) -> Chart:
    """A grid shaded from white (none) to the brand colour (the most); hidden cells hatched.
    Every cell's number is in the table."""
    width, left, right, top, cell_h = 760, 90, 10, 26, 26
    n_cols = max(len(column_labels), 1)
    cell_w = (width - left - right) / n_cols
    height = top + len(row_labels) * cell_h + 34
    values = [_number(c) for row in cells for c in row]
    peak = max((v for v in values if math.isfinite(v)), default=0.0) or 1.0
    body = [_hatch(key)]
    every = max(1, math.ceil(n_cols / 12))
    for c, label in enumerate(column_labels):
        if c % every == 0:
            body.append(
                svg.text(
                    left + (c + 0.5) * cell_w, top - 8, label, anchor="middle", size=12, fill=MUTED
                )
            )
    for r, label in enumerate(row_labels):
        y = top + r * cell_h
        body.append(svg.text(left - 8, y + cell_h * 0.68, svg.truncate(label, 12), anchor="end"))
        for c, shown in enumerate(cells[r]):
            x = left + c * cell_w
            if hidden(shown):
                body.append(_hidden_box(key, x + 1, y + 1, cell_w - 2, cell_h - 2))
                continue
            v = _number(shown)
            share = (v / peak) if math.isfinite(v) else 0.0
            body.append(
                svg.rect(x + 1, y + 1, cell_w - 2, cell_h - 2, _shade(share), f' stroke="{LINE}"')
            )
    legend_y = top + len(row_labels) * cell_h + 14
    for i, share in enumerate((0.0, 0.25, 0.5, 0.75, 1.0)):
        body.append(svg.rect(left + i * 22, legend_y, 20, 14, _shade(share), f' stroke="{LINE}"'))
    body.append(
        svg.text(
            left + 5 * 22 + 8,
            legend_y + 12,
            _("none to the most (%(peak)s)") % {"peak": f"{peak:,.0f}"},
            size=12,
            fill=MUTED,
        )
    )
    flat = [c for row in cells for c in row]
    summary = summary + _hidden_note(flat)
    rows = [(label, *(c.text for c in cells[r])) for r, label in enumerate(row_labels)]
    return _chart(
        key,
        title,
        summary,
        svg.document(key, title, summary, width, height, body),
        (corner, *column_labels),
        rows,
    )


def _shade(share: float) -> str:
    """White to the brand colour (#0b5d7a) by ``share`` from 0 to 1."""
    share = min(max(share, 0.0), 1.0)
    start, end = (255, 255, 255), (0x0B, 0x5D, 0x7A)
    r, g, b = (round(s + (e - s) * share) for s, e in zip(start, end, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def over_time(
    key: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Shown]]],
    *,
    summary: str,
    label_heading: str,
) -> Chart:
    """Columns for the first series, a dashed line with markers for a second, over days or
    months; a hidden value gets a hatched stub at the baseline."""
    width, height, left, right, top, bottom = 760, 280, 60, 16, 34, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(labels), 1)
    step = plot_w / n
    finite = [v for _name, values in series for s in values if math.isfinite(v := _number(s))]
    high = nice_ceiling(max(finite, default=0.0))

    def sy(v: float) -> float:
        return top + plot_h - (max(v, 0.0) / high) * plot_h

    body = [_hatch(key), svg.line(left, top + plot_h, left + plot_w, top + plot_h, INK)]
    for frac in (0.5, 1.0):
        y = top + plot_h - frac * plot_h
        body.append(svg.line(left, y, left + plot_w, y, LINE, 1))
        body.append(
            svg.text(left - 6, y + 4, f"{high * frac:,.0f}", anchor="end", size=12, fill=MUTED)
        )
    body.append(svg.text(left - 6, top + plot_h + 4, "0", anchor="end", size=12, fill=MUTED))
    shown_ticks = sorted({0, n // 2, n - 1}) if n > 2 else list(range(n))
    for i in shown_ticks:
        if i < len(labels):
            body.append(
                svg.text(
                    left + (i + 0.5) * step,
                    top + plot_h + 18,
                    labels[i],
                    anchor="middle",
                    size=12,
                    fill=MUTED,
                )
            )
    styles = ((BRAND, ""), (DANGER, "7 4"), (OK, "2 3"))
    for s, (name, values) in enumerate(series):
        colour, dash = styles[s % len(styles)]
        lx = left + s * 240
        body.append(svg.line(lx, 12, lx + 28, 12, colour, 3 if s else 8, dash))
        body.append(svg.text(lx + 34, 16, name, size=12))
        points = []
        for i, shown in enumerate(values):
            if hidden(shown):
                body.append(_hidden_box(key, left + i * step + 1, top + plot_h - 8, step - 2, 8))
                continue
            v = _number(shown)
            if not math.isfinite(v):
                continue
            if s == 0:
                if v > 0:
                    body.append(
                        svg.rect(
                            left + i * step + 1,
                            sy(v),
                            max(step - 2, 1.0),
                            top + plot_h - sy(v),
                            colour,
                        )
                    )
            else:
                points.append((left + (i + 0.5) * step, sy(v)))
        body.extend(svg.polyline(points, colour, dash))
    summary = summary + _hidden_note([v for _name, values in series for v in values])
    rows = [
        (label, *(values[i].text if i < len(values) else "—" for _name, values in series))
        for i, label in enumerate(labels)
    ]
    return _chart(
        key,
        title,
        summary,
        svg.document(key, title, summary, width, height, body),
        (label_heading, *(name for name, _values in series)),
        rows,
    )


# --- the report's charts --------------------------------------------------------------------

MONTHLY_AFTER_DAYS = 62  # a longer period's trend is drawn by month


@dataclass(frozen=True)
class Grid:
    row_labels: tuple[str, ...]
    column_labels: tuple[str, ...]
    cells: tuple[tuple[Shown, ...], ...]


def weekday_hour_grid(table: ShownBreakdown) -> Grid:
    """Weekdays down, hours across, whichever way round the table is."""
    if len(table.columns) == 7 and len(table.rows) != 7:
        cells = tuple(
            tuple(table.cells[r][c] for r in range(len(table.rows)))
            for c in range(len(table.columns))
        )
        return Grid(
            tuple(label for _k, label in table.columns),
            tuple(label for _k, label in table.rows),
            cells,
        )
    return Grid(
        tuple(label for _k, label in table.rows),
        tuple(label for _k, label in table.columns),
        table.cells,
    )


def _by_day(table: ShownBreakdown) -> dict[date, Shown]:
    days: dict[date, Shown] = {}
    for (key, _label), shown in zip(table.rows, (row[0] for row in table.cells), strict=True):
        try:
            days[date.fromisoformat(key)] = shown
        except ValueError:
            continue
    return days


def _sum(values: Sequence[Shown]) -> Shown:
    """A month's total of the days shown: hidden when any day is hidden (the reader cannot add
    up what is hidden either)."""
    marks = [s for s in values if hidden(s)]
    if marks:
        return Shown(None, marks[0].text, marks[0].hidden)
    total = sum(int(s.value or 0) for s in values)
    return Shown(total, f"{total:,}")


def trend_chart(report: ShownReport) -> Chart | None:
    """U1 by day (and U2 by day when it has one); by month for periods over two months."""
    u1 = find_table(report.results.get("U1"), "by_day", "day")
    if u1 is None:
        return None
    period = report.scope.period
    series_tables = [(_("Visits (U1)"), _by_day(u1))]
    u2 = find_table(report.results.get("U2"), "by_day", "day")
    if u2 is not None:
        series_tables.append((_("Supervised episodes (U2)"), _by_day(u2)))
    days = [
        period.first.fromordinal(o)
        for o in range(period.first.toordinal(), period.last.toordinal() + 1)
    ]
    zero = Shown(0, "0")
    if period.days > MONTHLY_AFTER_DAYS:
        months = sorted({(d.year, d.month) for d in days})
        labels = [date_format(date(y, m, 1), "M Y") for y, m in months]
        series = [
            (
                name,
                [
                    _sum([by_day.get(d, zero) for d in days if (d.year, d.month) == ym])
                    for ym in months
                ],
            )
            for name, by_day in series_tables
        ]
        heading, unit = _("Month"), _("month")
    else:
        labels = [date_format(d, "j M") for d in days]
        series = [(name, [by_day.get(d, zero) for d in days]) for name, by_day in series_tables]
        heading, unit = _("Day"), _("day")
    return over_time(
        "trend",
        _("Visits over the period"),
        labels,
        series,
        summary=_("One column per %(unit)s; the numbers are in the table.") % {"unit": unit},
        label_heading=heading,
    )


def heatmap_chart(report: ShownReport) -> Chart | None:
    table = find_table(report.results.get("U1"), "by_weekday_hour", "weekday_hour")
    if table is None or not table.rows or not table.columns:
        return None
    grid = weekday_hour_grid(table)
    return heatmap(
        "weekday-hour",
        _("Visits by weekday and hour"),
        grid.row_labels,
        grid.column_labels,
        grid.cells,
        corner=_("Weekday"),
        summary=_(
            "Darker squares are busier hours, by local time at arrival; the numbers are in the "
            "table."
        ),
    )


def mix_charts(report: ShownReport) -> list[Chart]:
    """U2's mix: episodes by substance and by route."""
    u2 = report.results.get("U2")
    charts = []
    for key, title, heading in (
        ("substance", _("Episodes by substance"), _("Substance")),
        ("route", _("Episodes by route"), _("Route")),
    ):
        table = find_table(u2, f"by_{key}", key)
        if table is None or not table.rows:
            continue
        charts.append(
            bars(
                f"episodes-by-{key}",
                title,
                one_way(table),
                value_heading=_("Episodes"),
                label_heading=heading,
            )
        )
    return charts


def emergency_rate_items(report: ShownReport, label: str) -> list[Item]:
    figure = s2_per_episodes(report.results.get("S2"))
    return [] if figure is None else [(label, figure.shown)]


def s2_per_episodes(result: ShownResult | None) -> ShownFigure | None:
    """S2's rate per 1,000 supervised episodes."""
    if result is None:
        return None
    found = find_figure(
        result, "per_1000_episodes", "per_episodes", "per_1000_episode", "episodes", "rate"
    )
    if found is not None:
        return found
    rates = [f for f in result.figures if f.kind == "rate"]
    for fig in rates:
        if "episode" in fig.key or "episode" in fig.note.lower():
            return fig
    return rates[0] if rates else None


def emergency_chart(items: Sequence[Item]) -> Chart | None:
    """S2 per 1,000 episodes against the published 8–14 band (left out when no rate is
    defined anywhere: no episodes, nothing to draw)."""
    if not any(shown.value is not None or hidden(shown) for _label, shown in items):
        return None
    low, high = S2_BAND
    return bars(
        "emergency-rate",
        _("Emergencies per 1,000 supervised episodes"),
        items,
        value_heading=_("Per 1,000 episodes"),
        label_heading=_("Where"),
        band=S2_BAND,
        band_label=_("published %(low)g–%(high)g (Insite, OnPoint, Thistle)")
        % {"low": low, "high": high},
        summary=_(
            "The shaded band is the range other services publish, %(low)g to %(high)g per "
            "1,000 episodes."
        )
        % {"low": low, "high": high},
    )


def funnel_chart(report: ShownReport) -> Chart | None:
    """Referrals made (E2), then what became of them at the report date (E3's status table:
    attended, declined, not known, still waiting)."""
    e2, e3 = report.results.get("E2"), report.results.get("E3")
    made = find_figure(e2, "total") or find_figure(e3, "total")
    status = find_table(e3, "status", "by_status")
    if made is None or status is None or not status.rows:
        return None
    items: list[Item] = [(_("Referrals made"), made.shown), *one_way(status)]
    return bars(
        "referral-funnel",
        _("Referrals made and what became of them"),
        items,
        value_heading=_("Referrals"),
        label_heading=_("Stage"),
        summary=_(
            "Referrals made in the period (E2), then each one's status at the report date (E3)."
        ),
    )


def turnaway_chart(report: ShownReport) -> Chart | None:
    table = find_table(report.results.get("U6"), "by_reason", "reason")
    if table is None or not table.rows:
        return None
    return bars(
        "turn-aways",
        _("Turn-aways by reason"),
        one_way(table),
        value_heading=_("Turn-aways"),
        label_heading=_("Reason"),
    )


def _hour_of(key: str) -> int | None:
    digits = "".join(ch for ch in key.split(":")[0] if ch.isdigit())
    if not digits:
        return None
    hour = int(digits)
    return hour if 0 <= hour < 24 else None


def waiting_chart(report: ShownReport) -> Chart | None:
    """U7 by hour of arrival: median and 90th percentile wait, in minutes."""
    table = find_table(report.results.get("U7"), "by_hour", "hour")
    if table is None or not table.rows:
        return None
    keys = [k for k, _l in table.columns]
    median = next((i for i, k in enumerate(keys) if "median" in k), None)
    p90 = next((i for i, k in enumerate(keys) if "90" in k), None)
    if median is None and p90 is None:
        return None
    wanted = [
        (i, label)
        for i, label in ((median, _("Median")), (p90, _("90th percentile")))
        if i is not None
    ]
    hours: dict[int, tuple[Shown, ...]] = {}
    for (key, _label), row in zip(table.rows, table.cells, strict=True):
        hour = _hour_of(key)
        if hour is not None:
            hours[hour] = row
    series = [
        (label, [_number(hours[h][i]) if h in hours else math.nan for h in range(24)])
        for i, label in wanted
    ]
    summary = _("Minutes from arrival to the first session, by hour of arrival.") + _hidden_note(
        [row[i] for row in hours.values() for i, _label in wanted], hatched=False
    )
    chart = hourly_chart(
        "waiting-times",
        _("Waiting times by hour of arrival"),
        series,
        fmt=lambda v: f"{v:g}",
        axis_label=_("Hour of arrival (local time)"),
        summary=summary,
    )
    rows = tuple(
        (f"{h:02d}:00", *(hours[h][i].text for i, _label in wanted)) for h in sorted(hours)
    )
    return replace(
        chart,
        columns=(_("Hour of arrival"), *(f"{label} ({_('minutes')})" for _i, label in wanted)),
        rows=rows,
    )


def report_charts(report: ShownReport, *, emergency_items: Sequence[Item] = ()) -> list[Chart]:
    """Every chart the report's indicators allow, in the order of the report."""
    scope_label = report.scope.label
    found = [
        trend_chart(report),
        heatmap_chart(report),
        *mix_charts(report),
        turnaway_chart(report),
        waiting_chart(report),
        emergency_chart(list(emergency_items) or emergency_rate_items(report, scope_label)),
        funnel_chart(report),
    ]
    return [chart for chart in found if chart is not None]
