"""Charts drawn on the server as inline SVG, in one style for every page (the evaluation
pages and the reports): the colours, the building blocks (a document, text, a rectangle, a
line), the :class:`Chart` a template shows, and the chart both families use (values by hour
of day). No JavaScript library; charts print as they show, and every chart carries its
numbers as a table for screen readers and print.

The SVG has ``role="img"`` and an ``aria-label`` that says what the chart shows; every text
piece goes through ``escape``."""

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


@dataclass(frozen=True)
class Chart:
    """One chart: its title, a sentence for screen readers, the SVG, and its numbers."""

    key: str
    title: str
    summary: str
    svg: SafeString
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


# --- Building blocks ----------------------------------------------------------------------------


def document(
    key: str, title: str, summary: str, width: int, height: int, body: list[str]
) -> SafeString:
    label = escape(f"{title}. {summary}")
    return mark_safe(  # noqa: S308 - every text piece below goes through escape()
        f'<svg class="chart" role="img" aria-label="{label}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" font-family="{FONT}" '
        f'font-size="13" xmlns="http://www.w3.org/2000/svg" data-chart="{escape(key)}">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def text(
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


def rect(x: float, y: float, w: float, h: float, fill: str, extra: str = "") -> str:
    if w < 0:
        x, w = x + w, -w
    if h < 0:
        y, h = y + h, -h
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0.0):.1f}" '
        f'height="{max(h, 0.0):.1f}" fill="{fill}"{extra}/>'
    )


def line(
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


def polyline(points: Sequence[tuple[float, float]], colour: str, dash: str = "") -> list[str]:
    """A line through ``points`` with a marker on each (so a lone point still shows)."""
    if not points:
        return []
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return [
        f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"{dashed}/>',
        *(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points),
    ]


def span(values: Sequence[float], *, include_zero: bool = True) -> tuple[float, float]:
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


def cell(values: Sequence[float], index: int, fmt: Formatter) -> str:
    if index >= len(values) or not math.isfinite(values[index]):
        return "—"
    return fmt(values[index])


def truncate(text: str, limit: int = 34) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- A chart both the evaluation pages and the reports draw ------------------------------------


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

    body = [line(left, top + plot_h, left + plot_w, top + plot_h, INK)]
    for frac in (0.5, 1.0):
        y = top + plot_h - frac * plot_h
        body.append(line(left, y, left + plot_w, y, LINE, 1))
        body.append(text(left - 6, y + 4, fmt(high * frac), anchor="end", size=12, fill=MUTED))
    body.append(text(left - 6, top + plot_h + 4, fmt(0), anchor="end", size=12, fill=MUTED))
    for hour in range(0, 24, 3):
        body.append(
            text(
                left + (hour + 0.5) * step,
                top + plot_h + 18,
                f"{hour:02d}",
                anchor="middle",
                size=12,
                fill=MUTED,
            )
        )
    body.append(text(left + plot_w / 2, height - 6, axis_label, anchor="middle", fill=MUTED))
    styles = ((BRAND, ""), (DANGER, "7 4"), (OK, "2 3"))
    for s, (name, values) in enumerate(series):
        colour, dash = styles[s % len(styles)]
        lx = left + s * 220
        body.append(line(lx, 12, lx + 28, 12, colour, 3, dash))
        body.append(text(lx + 34, 16, name, size=12))
        if bars:
            for hour, v in enumerate(values[:24]):
                if math.isfinite(v) and v > 0:
                    body.append(
                        rect(left + hour * step + 2, sy(v), step - 4, top + plot_h - sy(v), colour)
                    )
            continue
        points = [
            (left + (hour + 0.5) * step, sy(v))
            for hour, v in enumerate(values[:24])
            if math.isfinite(v)
        ]
        body.extend(polyline(points, colour, dash))
    rows = tuple(
        (
            f"{hour:02d}:00",
            *(cell(values, hour, fmt) for _, values in series),
        )
        for hour in range(24)
    )
    return Chart(
        key=key,
        title=title,
        summary=summary,
        svg=document(key, title, summary, width, height, body),
        columns=(_("Hour of day"), *(name for name, _values in series)),
        rows=rows,
    )
