"""Charts of the evaluation pages (benefit by module, the PSA histogram, the tornado, the
probability of saving money) and the number formats of the pages, the annex and the charts.
Drawn with the shared building blocks of :mod:`saferoom.core.svg` (no JavaScript library; they
print as they show, and every chart carries its numbers as a table for screen readers and print).

A chart is drawn from plain numbers (no Django models, no engine objects) so it is easy to test.
Its drawing is decoration for sighted readers and the ``rows`` are the same facts in words."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _

from saferoom.core import svg
from saferoom.core.svg import BRAND, DANGER, INK, MUTED, OK, Chart, Formatter
from saferoom.core.svg import hourly_chart as hourly_chart  # the capacity page's chart
from saferoom.core.svg import nice_ceiling as nice_ceiling

CURRENCY_SYMBOLS = {"USD": "$", "GBP": "£", "EUR": "€", "CAD": "CA$", "AUD": "A$"}
MINUS = "\u2212"  # a real minus sign reads better than a hyphen in money


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
    low, high = svg.span([v for _, v in items])
    scale = plot_w / (high - low)
    zero_x = plot_x + (0 - low) * scale
    body = []
    for i, (label, value) in enumerate(items):
        y = top + i * (bar_h + gap)
        body.append(svg.text(label_w - 8, y + bar_h * 0.7, svg.truncate(label), anchor="end"))
        v = value if math.isfinite(value) else 0.0
        body.append(svg.rect(zero_x, y, v * scale, bar_h, DANGER if v < 0 else BRAND))
        end_x = zero_x + v * scale
        tx = end_x + 6 if v >= 0 else end_x - 6
        body.append(
            svg.text(
                tx, y + bar_h * 0.7, fmt(value), anchor="start" if v >= 0 else "end", weight="600"
            )
        )
    body.append(svg.line(zero_x, top - 4, zero_x, height - top + 4, INK, 1.5))
    rows = tuple((label, fmt(value)) for label, value in items)
    return Chart(
        key=key,
        title=title,
        summary=summary or _("%(n)s bars; the numbers are in the table.") % {"n": len(items)},
        svg=svg.document(key, title, summary, width, height, body),
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
                svg.rect(x0 + 0.5, top + plot_h - h, x1 - x0 - 1, h, DANGER if mid < 0 else BRAND)
            )
        body.append(svg.line(left, top + plot_h, left + plot_w, top + plot_h, INK))
        body.append(svg.text(left, height - bottom + 18, fmt_short(low), anchor="start"))
        body.append(svg.text(left + plot_w, height - bottom + 18, fmt_short(high), anchor="end"))
        if low < 0 < high:
            zx = left + (0 - low) / span * plot_w
            body.append(svg.line(zx, top - 6, zx, top + plot_h, INK, 2, "6 4"))
            body.append(
                svg.text(zx, height - bottom + 18, fmt_short(0), anchor="middle", weight="700")
            )
        body.append(
            svg.text(left + plot_w / 2, height - 8, value_heading, anchor="middle", fill=MUTED)
        )
        body.append(svg.text(left - 8, top + 10, str(peak), anchor="end", fill=MUTED))
        body.append(svg.text(left - 8, top + plot_h, "0", anchor="end", fill=MUTED))
    rows = tuple(
        (f"{fmt(edges[i])} {_('to')} {fmt(edges[i + 1])}", f"{counts[i]:,}")
        for i in range(min(n, len(edges) - 1))
    )
    return Chart(
        key=key,
        title=title,
        summary=summary,
        svg=svg.document(key, title, summary, width, height, body),
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
    low, high = svg.span(values, include_zero=False)
    pad = (high - low) * 0.05
    low, high = low - pad, high + pad
    scale = plot_w / (high - low)

    def sx(v: float) -> float:
        return plot_x + (v - low) * scale

    body = [
        svg.rect(plot_x, 4, 12, 12, "#5b8fa8"),
        svg.text(plot_x + 16, 15, _("input low"), size=12),
        svg.rect(plot_x + 110, 4, 12, 12, BRAND),
        svg.text(plot_x + 126, 15, _("input high"), size=12),
    ]
    for i, bar in enumerate(bars):
        y = top + i * (bar_h + gap)
        body.append(
            svg.text(
                label_w - 8, y + bar_h * 0.7, svg.truncate(bar.label, 42), anchor="end", size=12
            )
        )
        body.append(svg.rect(sx(base), y, sx(bar.at_low) - sx(base), bar_h / 2, "#5b8fa8"))
        body.append(svg.rect(sx(base), y + bar_h / 2, sx(bar.at_high) - sx(base), bar_h / 2, BRAND))
    base_x = sx(base)
    body.append(svg.line(base_x, top - 4, base_x, height - bottom + 4, INK, 2))
    body.append(
        svg.text(base_x, height - bottom + 20, fmt_short(base), anchor="middle", weight="700")
    )
    body.append(svg.text(plot_x, height - 4, fmt_short(low), anchor="start", fill=MUTED))
    body.append(svg.text(plot_x + plot_w, height - 4, fmt_short(high), anchor="end", fill=MUTED))
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
        svg=svg.document(key, title, summary, width, height, body),
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
        svg.rect(left, 10, plot_w, 28, "#ffffff", f' stroke="{INK}" stroke-width="1.5"'),
        svg.rect(left, 10, plot_w * p, 28, OK),
        svg.line(left + plot_w / 2, 6, left + plot_w / 2, 42, INK, 1, "3 3"),
        svg.text(left, 60, "0%", fill=MUTED),
        svg.text(left + plot_w / 2, 60, "50%", anchor="middle", fill=MUTED),
        svg.text(left + plot_w, 60, "100%", anchor="end", fill=MUTED),
        svg.text(min(left + plot_w * p + 6, width - 60), 30, percent(p, 1), weight="700"),
    ]
    return Chart(
        key=key,
        title=title,
        summary=summary,
        svg=svg.document(key, title, summary, width, height, body),
        columns=(_("Measure"), _("Value")),
        rows=((title, percent(p, 1)),),
    )
