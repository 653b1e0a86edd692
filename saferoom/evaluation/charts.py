"""Charts of the evaluation pages as server-rendered inline SVG: no JavaScript library, they print
as they show, and every chart carries its numbers as a table for screen readers and print.

A chart is drawn from plain numbers (no Django models, no engine objects) so it is easy to test.
The SVG has ``role="img"`` and an ``aria-label`` that says what the chart shows; its drawing is
decoration for sighted readers and the ``rows`` are the same facts in words."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

# Colours of saferoom.css: brand, ok, danger, muted, ink, line. All pass 3:1 against white as
# graphics (WCAG 1.4.11); patterns or labels carry the meaning too, never colour alone.
BRAND = "#0b5d7a"
OK = "#1f6f3d"
DANGER = "#a4161a"
MUTED = "#4a5563"
INK = "#1b1f24"
LINE = "#c9d1da"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"

Formatter = Callable[[float], str]

CURRENCY_SYMBOLS = {"USD": "$", "GBP": "£", "EUR": "€", "CAD": "CA$", "AUD": "A$"}
MINUS = "\u2212"  # a real minus sign reads better than a hyphen in money


@dataclass(frozen=True)
class Chart:
    """One chart: its title, a sentence for screen readers, the SVG, and its numbers."""

    key: str
    title: str
    summary: str
    svg: SafeString
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


# --- Number formats shared by the pages, the annex and the charts -------------------------------


def money(value: float | None, currency: str) -> str:
    """Whole units with thousands separators: "$1,234,567", "−£12,000"."""
    if value is None or not math.isfinite(value):
        return "—"
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    sign = MINUS if value < 0 else ""
    return f"{sign}{symbol}{abs(value):,.0f}"


def money_short(value: float, currency: str) -> str:
    """For axis labels: "$1.2M", "−£350k"."""
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    sign = MINUS if value < 0 else ""
    size = abs(value)
    if size >= 1e9:
        text = f"{size / 1e9:.1f}bn"
    elif size >= 1e6:
        text = f"{size / 1e6:.1f}M"
    elif size >= 1e3:
        text = f"{size / 1e3:.0f}k"
    else:
        text = f"{size:.0f}"
    return f"{sign}{symbol}{text}"


def number(value: float | None, digits: int = 1) -> str:
    """A count or a rate: separators, at most ``digits`` decimals, no trailing zeros."""
    if value is None or not math.isfinite(value):
        return "—"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    else:
        text = f"{value:,.{digits}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text.replace("-", MINUS)


def ratio(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.2f}".replace("-", MINUS)


def percent(value: float | None, digits: int = 0) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value * 100:.{digits}f}%"


# --- SVG building blocks ------------------------------------------------------------------------


def _svg(
    key: str, title: str, summary: str, width: int, height: int, body: list[str]
) -> SafeString:
    label = escape(f"{title}. {summary}")
    return mark_safe(  # noqa: S308 - every text piece below goes through escape()
        f'<svg class="chart" role="img" aria-label="{label}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" font-family="{FONT}" '
        f'font-size="13" xmlns="http://www.w3.org/2000/svg" data-chart="{escape(key)}">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _text(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "start",
    size: int = 13,
    weight: str = "400",
    fill: str = INK,
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'font-weight="{weight}" fill="{fill}">{escape(text)}</text>'
    )


def _rect(x: float, y: float, w: float, h: float, fill: str, extra: str = "") -> str:
    if w < 0:
        x, w = x + w, -w
    if h < 0:
        y, h = y + h, -h
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0.0):.1f}" '
        f'height="{max(h, 0.0):.1f}" fill="{fill}"{extra}/>'
    )


def _line(
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    stroke: str = MUTED,
    width: float = 1,
    dash: str = "",
) -> str:
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
        f'stroke-width="{width}"{dashed}/>'
    )


def _span(values: Sequence[float], *, include_zero: bool = True) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    low = min(finite, default=0.0)
    high = max(finite, default=0.0)
    if include_zero:
        low, high = min(low, 0.0), max(high, 0.0)
    if high == low:
        high = low + 1.0
    return low, high


def nice_ceiling(value: float) -> float:
    """The next "round" number at or above ``value`` (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × a power of
    ten), so axis labels read 40 min rather than 38.4 min."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = float(10 ** math.floor(math.log10(value)))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if value <= step * power * (1 + 1e-9):
            return step * power
    return 10 * power


def _cell(values: Sequence[float], index: int, fmt: Formatter) -> str:
    if index >= len(values) or not math.isfinite(values[index]):
        return "—"
    return fmt(values[index])


def _truncate(text: str, limit: int = 34) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- Charts ---------------------------------------------------------------------------------


def bar_chart(
    key: str,
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    fmt: Formatter,
    value_heading: str,
    summary: str = "",
    label_heading: str = "",
) -> Chart:
    """Horizontal bars, one per item, from a zero line (negative values go left)."""
    width, label_w, value_w, bar_h, gap, top = 720, 250, 110, 24, 10, 10
    height = top * 2 + max(len(items), 1) * (bar_h + gap)
    plot_x, plot_w = label_w, width - label_w - value_w
    low, high = _span([v for _, v in items])
    scale = plot_w / (high - low)
    zero_x = plot_x + (0 - low) * scale
    body = []
    for i, (label, value) in enumerate(items):
        y = top + i * (bar_h + gap)
        body.append(_text(label_w - 8, y + bar_h * 0.7, _truncate(label), anchor="end"))
        v = value if math.isfinite(value) else 0.0
        body.append(_rect(zero_x, y, v * scale, bar_h, DANGER if v < 0 else BRAND))
        end_x = zero_x + v * scale
        tx = end_x + 6 if v >= 0 else end_x - 6
        body.append(
            _text(
                tx, y + bar_h * 0.7, fmt(value), anchor="start" if v >= 0 else "end", weight="600"
            )
        )
    body.append(_line(zero_x, top - 4, zero_x, height - top + 4, INK, 1.5))
    rows = tuple((label, fmt(value)) for label, value in items)
    return Chart(
        key=key,
        title=title,
        summary=summary or _("%(n)s bars; the numbers are in the table.") % {"n": len(items)},
        svg=_svg(key, title, summary, width, height, body),
        columns=(label_heading or _("Item"), value_heading),
        rows=rows,
    )


def histogram(
    key: str,
    title: str,
    edges: Sequence[float],
    counts: Sequence[int],
    *,
    fmt: Formatter,
    fmt_short: Formatter,
    summary: str,
    value_heading: str,
) -> Chart:
    """Columns of a histogram; bins below zero (a net loss) in red, above in blue, with a
    dashed line at zero when zero is in range."""
    width, height, left, right, top, bottom = 720, 300, 50, 20, 20, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(counts)
    body = []
    if n and len(edges) == n + 1:
        low, high = edges[0], edges[-1]
        span = (high - low) or 1.0
        peak = max(counts) or 1
        for i, count in enumerate(counts):
            x0 = left + (edges[i] - low) / span * plot_w
            x1 = left + (edges[i + 1] - low) / span * plot_w
            h = count / peak * plot_h
            mid = (edges[i] + edges[i + 1]) / 2
            body.append(
                _rect(x0 + 0.5, top + plot_h - h, x1 - x0 - 1, h, DANGER if mid < 0 else BRAND)
            )
        body.append(_line(left, top + plot_h, left + plot_w, top + plot_h, INK))
        body.append(_text(left, height - bottom + 18, fmt_short(low), anchor="start"))
        body.append(_text(left + plot_w, height - bottom + 18, fmt_short(high), anchor="end"))
        if low < 0 < high:
            zx = left + (0 - low) / span * plot_w
            body.append(_line(zx, top - 6, zx, top + plot_h, INK, 2, "6 4"))
            body.append(
                _text(zx, height - bottom + 18, fmt_short(0), anchor="middle", weight="700")
            )
        body.append(
            _text(left + plot_w / 2, height - 8, value_heading, anchor="middle", fill=MUTED)
        )
        body.append(_text(left - 8, top + 10, str(peak), anchor="end", fill=MUTED))
        body.append(_text(left - 8, top + plot_h, "0", anchor="end", fill=MUTED))
    rows = tuple(
        (f"{fmt(edges[i])} {_('to')} {fmt(edges[i + 1])}", f"{counts[i]:,}")
        for i in range(min(n, len(edges) - 1))
    )
    return Chart(
        key=key,
        title=title,
        summary=summary,
        svg=_svg(key, title, summary, width, height, body),
        columns=(value_heading, _("Draws")),
        rows=rows,
    )


@dataclass(frozen=True)
class TornadoInput:
    label: str
    low_input: str
    high_input: str
    at_low: float
    at_high: float


def tornado(
    key: str,
    title: str,
    base: float,
    bars: Sequence[TornadoInput],
    *,
    fmt: Formatter,
    fmt_short: Formatter,
    summary: str,
) -> Chart:
    """One-way sensitivity: for each input, net benefit at its low and high value, as a bar
    from the base case. Low input is drawn light blue, high input solid."""
    width, label_w, right, bar_h, gap, top, bottom = 760, 300, 20, 22, 10, 24, 36
    height = top + bottom + max(len(bars), 1) * (bar_h + gap)
    plot_x, plot_w = label_w, width - label_w - right
    values = [base] + [b.at_low for b in bars] + [b.at_high for b in bars]
    low, high = _span(values, include_zero=False)
    pad = (high - low) * 0.05
    low, high = low - pad, high + pad
    scale = plot_w / (high - low)

    def sx(v: float) -> float:
        return plot_x + (v - low) * scale

    body = [
        _rect(plot_x, 4, 12, 12, "#5b8fa8"),
        _text(plot_x + 16, 15, _("input low"), size=12),
        _rect(plot_x + 110, 4, 12, 12, BRAND),
        _text(plot_x + 126, 15, _("input high"), size=12),
    ]
    for i, bar in enumerate(bars):
        y = top + i * (bar_h + gap)
        body.append(
            _text(label_w - 8, y + bar_h * 0.7, _truncate(bar.label, 42), anchor="end", size=12)
        )
        body.append(_rect(sx(base), y, sx(bar.at_low) - sx(base), bar_h / 2, "#5b8fa8"))
        body.append(_rect(sx(base), y + bar_h / 2, sx(bar.at_high) - sx(base), bar_h / 2, BRAND))
    base_x = sx(base)
    body.append(_line(base_x, top - 4, base_x, height - bottom + 4, INK, 2))
    body.append(_text(base_x, height - bottom + 20, fmt_short(base), anchor="middle", weight="700"))
    body.append(_text(plot_x, height - 4, fmt_short(low), anchor="start", fill=MUTED))
    body.append(_text(plot_x + plot_w, height - 4, fmt_short(high), anchor="end", fill=MUTED))
    rows = tuple(
        (
            bar.label,
            bar.low_input,
            fmt(bar.at_low),
            bar.high_input,
            fmt(bar.at_high),
            fmt(abs(bar.at_high - bar.at_low)),
        )
        for bar in bars
    )
    return Chart(
        key=key,
        title=title,
        summary=summary,
        svg=_svg(key, title, summary, width, height, body),
        columns=(
            _("Input"),
            _("Input low"),
            _("Net benefit at low"),
            _("Input high"),
            _("Net benefit at high"),
            _("Swing"),
        ),
        rows=rows,
    )


def probability_bar(key: str, title: str, probability: float, *, summary: str) -> Chart:
    """A single 0–100% bar: the share of draws in which the site saves money."""
    width, height, left, right = 720, 70, 10, 10
    plot_w = width - left - right
    p = min(max(probability, 0.0), 1.0) if math.isfinite(probability) else 0.0
    body = [
        _rect(left, 10, plot_w, 28, "#ffffff", f' stroke="{INK}" stroke-width="1.5"'),
        _rect(left, 10, plot_w * p, 28, OK),
        _line(left + plot_w / 2, 6, left + plot_w / 2, 42, INK, 1, "3 3"),
        _text(left, 60, "0%", fill=MUTED),
        _text(left + plot_w / 2, 60, "50%", anchor="middle", fill=MUTED),
        _text(left + plot_w, 60, "100%", anchor="end", fill=MUTED),
        _text(min(left + plot_w * p + 6, width - 60), 30, percent(p, 1), weight="700"),
    ]
    return Chart(
        key=key,
        title=title,
        summary=summary,
        svg=_svg(key, title, summary, width, height, body),
        columns=(_("Measure"), _("Value")),
        rows=((title, percent(p, 1)),),
    )


def hourly_chart(
    key: str,
    title: str,
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    fmt: Formatter,
    axis_label: str,
    summary: str,
    maximum: float | None = None,
    bars: bool = False,
) -> Chart:
    """Values by hour of day (24 each): lines with markers (solid, then dashed) or, with
    ``bars``, one column per hour for a single series."""
    width, height, left, right, top, bottom = 720, 290, 76, 16, 34, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    every = [v for _, values in series for v in values if math.isfinite(v)]
    high = maximum if maximum is not None else nice_ceiling(max(every, default=0.0))
    step = plot_w / 24

    def sy(v: float) -> float:
        return top + plot_h - (max(v, 0.0) / high) * plot_h

    body = [_line(left, top + plot_h, left + plot_w, top + plot_h, INK)]
    for frac in (0.5, 1.0):
        y = top + plot_h - frac * plot_h
        body.append(_line(left, y, left + plot_w, y, LINE, 1))
        body.append(_text(left - 6, y + 4, fmt(high * frac), anchor="end", size=12, fill=MUTED))
    body.append(_text(left - 6, top + plot_h + 4, fmt(0), anchor="end", size=12, fill=MUTED))
    for hour in range(0, 24, 3):
        body.append(
            _text(
                left + (hour + 0.5) * step,
                top + plot_h + 18,
                f"{hour:02d}",
                anchor="middle",
                size=12,
                fill=MUTED,
            )
        )
    body.append(_text(left + plot_w / 2, height - 6, axis_label, anchor="middle", fill=MUTED))
    styles = ((BRAND, ""), (DANGER, "7 4"), (OK, "2 3"))
    for s, (name, values) in enumerate(series):
        colour, dash = styles[s % len(styles)]
        lx = left + s * 220
        body.append(_line(lx, 12, lx + 28, 12, colour, 3, dash))
        body.append(_text(lx + 34, 16, name, size=12))
        if bars:
            for hour, v in enumerate(values[:24]):
                if math.isfinite(v) and v > 0:
                    body.append(
                        _rect(left + hour * step + 2, sy(v), step - 4, top + plot_h - sy(v), colour)
                    )
            continue
        points = [
            (left + (hour + 0.5) * step, sy(v))
            for hour, v in enumerate(values[:24])
            if math.isfinite(v)
        ]
        if points:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            dashed = f' stroke-dasharray="{dash}"' if dash else ""
            body.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" '
                f'stroke-width="2.5"{dashed}/>'
            )
            body.extend(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points
            )
    rows = tuple(
        (
            f"{hour:02d}:00",
            *(_cell(values, hour, fmt) for _, values in series),
        )
        for hour in range(24)
    )
    return Chart(
        key=key,
        title=title,
        summary=summary,
        svg=_svg(key, title, summary, width, height, body),
        columns=(_("Hour of day"), *(name for name, _values in series)),
        rows=rows,
    )
