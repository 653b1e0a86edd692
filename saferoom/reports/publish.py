"""What a reader is shown of a report: exact figures for the site's own staff, and for everyone
else (evaluators, commissioners, every public export) the same figures under the site's
suppression rule, with secondary suppression in tables. Every screen, export, API answer and
command-line output is made from a :class:`ShownReport`, so a figure reads the same in all.

Rules, beyond ``saferoom.core.suppression``:

- a count of an indicator marked not suppressible (S7, deaths on site) is shown as it is;
- an indicator's headline count is the total of its first additive table when it has one, so a
  hidden cell cannot be rebuilt from the headline either;
- a derived figure (rate, share, ratio, money per unit) is recomputed from the shown values of
  the figures it names, and is hidden when one of them is hidden;
- a median or percentile is hidden when its count of observations is hidden.

Two one-way tables of the same total (visits by day and visits by site) leak nothing about
each other: any pair of margins with the same total has a non-negative table behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext

from saferoom.core.suppression import Cell, Rule, suppress_list, suppress_table, suppress_value
from saferoom.reports.registry import (
    Breakdown,
    Figure,
    Indicator,
    Kind,
    Report,
    Result,
    Scope,
    load,
)

NOT_DEFINED = "—"  # a rate over nothing, a median of no observations


@dataclass(frozen=True)
class Shown:
    """One number as the reader sees it: ``value`` (None when hidden or not defined) and the
    ``text`` printed for it. ``hidden`` is "", "primary" or "secondary"."""

    value: float | None
    text: str
    hidden: str = ""


@dataclass(frozen=True)
class ShownFigure:
    key: str
    label: str
    kind: Kind
    shown: Shown
    note: str = ""


@dataclass(frozen=True)
class ShownBreakdown:
    key: str
    label: str
    row_label: str
    rows: tuple[tuple[str, str], ...]
    columns: tuple[tuple[str, str], ...]
    column_kinds: tuple[Kind, ...]
    cells: tuple[tuple[Shown, ...], ...]
    row_totals: tuple[Shown, ...] | None  # None when the table shows no totals
    column_totals: tuple[Shown, ...] | None
    total: Shown | None
    note: str = ""


@dataclass(frozen=True)
class ShownResult:
    indicator: Indicator
    figures: tuple[ShownFigure, ...]
    breakdowns: tuple[ShownBreakdown, ...]
    notes: tuple[str, ...]

    def figure(self, key: str) -> ShownFigure:
        for fig in self.figures:
            if fig.key == key:
                return fig
        raise KeyError(f"{self.indicator.code} has no figure {key!r}")

    def breakdown(self, key: str) -> ShownBreakdown:
        for table in self.breakdowns:
            if table.key == key:
                return table
        raise KeyError(f"{self.indicator.code} has no breakdown {key!r}")


@dataclass(frozen=True)
class ShownReport:
    scope: Scope
    generated_at: datetime
    rule: Rule | None  # None: exact figures (the site's own staff)
    results: dict[str, ShownResult]

    @property
    def suppression(self) -> str:
        """The rule used, in words (every export carries it)."""
        if self.rule is None:
            return gettext("None: exact figures, for the site's own staff only.")
        return f"{self.rule.label}. {self.rule.describe()}"


# --- writing numbers ------------------------------------------------------------------------


def _round(value: float, places: int) -> float:
    quantum = Decimal(1).scaleb(-places)
    return float(Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def normalise(kind: Kind, value: float | None) -> float | None:
    """The value every output carries for a figure of ``kind`` (rounded once, here, so the
    screen, CSV, XLSX, JSON, API and command line agree to the digit)."""
    if value is None:
        return None
    if kind == "count":
        return int(value)
    if kind == "share":
        return _round(value, 4)
    if kind == "money":
        return _round(value, 2)
    if kind == "minutes":
        return _round(value, 1)
    return _round(value, 2)


def text(kind: Kind, value: float | None) -> str:
    """How a normalised value is written on screen and in print."""
    if value is None:
        return NOT_DEFINED
    if kind == "count":
        return f"{int(value):,}"
    if kind == "share":
        return f"{value * 100:.1f}%"
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "minutes":
        return f"{value:g}"
    return f"{value:,.2f}"


def shown_exact(kind: Kind, value: float | None) -> Shown:
    value = normalise(kind, value)
    return Shown(value, text(kind, value))


def _from_cell(cell: Cell) -> Shown:
    if cell.value is None:
        return Shown(None, cell.text, cell.reason)
    return Shown(cell.value, text("count", cell.value))


# --- publishing -----------------------------------------------------------------------------


def _publish_table(
    table: Breakdown, rule: Rule | None, suppressible: bool
) -> tuple[ShownBreakdown, Shown | None]:
    """The shown table, and its shown grand total when it is an additive count table."""
    kinds = table.kinds()
    all_counts = all(k == "count" for k in kinds)
    values = table.values
    row_totals: tuple[Shown, ...] | None = None
    column_totals: tuple[Shown, ...] | None = None
    cells: tuple[tuple[Shown, ...], ...]
    total: Shown | None = None
    if all_counts and table.additive and values and values[0]:
        ints = [[int(v or 0) for v in row] for row in values]
        one_way = len(ints[0]) == 1 or len(ints) == 1
        if rule is not None and suppressible and one_way:
            flat = [v for row in ints for v in row]
            listed, list_total = suppress_list(flat, rule)
            shown_list: tuple[Shown, ...] = tuple(_from_cell(c) for c in listed)
            total = _from_cell(list_total)
            if len(ints[0]) == 1:  # a column: each row's total is its one cell
                cells = tuple((c,) for c in shown_list)
                row_totals, column_totals = shown_list, (total,)
            else:  # a row: each column's total is its one cell
                cells = (shown_list,)
                row_totals, column_totals = (total,), shown_list
        elif rule is not None and suppressible:
            published = suppress_table(ints, rule)
            cells = tuple(tuple(_from_cell(c) for c in row) for row in published.cells)
            row_totals = tuple(_from_cell(c) for c in published.row_totals)
            column_totals = tuple(_from_cell(c) for c in published.column_totals)
            total = _from_cell(published.total)
        else:
            cells = tuple(tuple(shown_exact("count", v) for v in row) for row in ints)
            row_totals = tuple(shown_exact("count", sum(row)) for row in ints)
            column_totals = tuple(
                shown_exact("count", sum(row[c] for row in ints)) for c in range(len(ints[0]))
            )
            total = shown_exact("count", sum(map(sum, ints)))
    else:
        rows = []
        for row in values:
            shown_row: list[Shown] = []
            row_hidden = ""
            for c, (kind, v) in enumerate(zip(kinds, row, strict=True)):
                if kind == "count" and rule is not None and suppressible and v is not None:
                    cell = _from_cell(suppress_value(int(v), rule))
                    if c == 0 and cell.hidden:
                        row_hidden = cell.hidden
                    shown_row.append(cell)
                elif row_hidden and kind != "count":
                    shown_row.append(Shown(None, rule.marker if rule else "", row_hidden))
                else:
                    shown_row.append(shown_exact(kind, v))
            rows.append(tuple(shown_row))
        cells = tuple(rows)
    shown = ShownBreakdown(
        key=table.key,
        label=table.label,
        row_label=table.row_label,
        rows=table.rows,
        columns=table.columns,
        column_kinds=kinds,
        cells=cells,
        row_totals=row_totals,
        column_totals=column_totals,
        total=total,
        note=table.note,
    )
    return shown, total


def _publish_result(
    result: Result, ind: Indicator, rule: Rule | None
) -> tuple[dict[str, Shown], ShownResult]:
    tables: list[ShownBreakdown] = []
    counts: dict[str, Shown] = {}
    for table in result.breakdowns:
        shown_table, total = _publish_table(table, rule, ind.suppressible)
        tables.append(shown_table)
        if total is not None and table.total_key and table.total_key not in counts:
            counts[table.total_key] = total
    return counts, ShownResult(
        indicator=ind, figures=(), breakdowns=tuple(tables), notes=result.notes
    )


def publish(report: Report, rule: Rule | None) -> ShownReport:
    """The report as a reader is shown it: exact when ``rule`` is None, else suppressed."""
    registry = load()
    shown: dict[str, Shown] = {}  # "CODE.key" → shown value, counts first
    partial: dict[str, ShownResult] = {}
    # Counts first (table totals win, so the headline agrees with its table), then the rest.
    for code, result in report.results.items():
        ind = registry[code]
        totals, partial[code] = _publish_result(result, ind, rule)
        for fig in result.figures:
            ref = f"{code}.{fig.key}"
            if fig.kind != "count":
                continue
            if fig.key in totals:
                shown[ref] = totals[fig.key]
            elif rule is not None and ind.suppressible and fig.value is not None:
                shown[ref] = _from_cell(suppress_value(int(fig.value), rule))
            else:
                shown[ref] = shown_exact("count", fig.value)
        if rule is not None:
            _hide_parts_together(code, result, shown, rule.secondary_marker)

    def lookup(ref: str) -> Shown | None:
        if ref in shown:
            return shown[ref]
        code, key = ref.split(".", 1)
        if code in report.results:
            fig = report.results[code].figure(key)
            return shown_exact(fig.kind, fig.value)
        return None

    results: dict[str, ShownResult] = {}
    for code, result in report.results.items():
        ind = registry[code]
        figures = []
        for fig in result.figures:
            ref = f"{code}.{fig.key}"
            value = shown[ref] if fig.kind == "count" else _derived(fig, rule, lookup)
            figures.append(ShownFigure(fig.key, fig.label, fig.kind, value, fig.note))
        part = partial[code]
        results[code] = ShownResult(
            indicator=ind, figures=tuple(figures), breakdowns=part.breakdowns, notes=part.notes
        )
    return ShownReport(
        scope=report.scope, generated_at=report.generated_at, rule=rule, results=results
    )


def _derived(fig: Figure, rule: Rule | None, find: Callable[[str], Shown | None]) -> Shown:
    """A non-count figure: exact for staff; for others, recomputed from shown counts."""
    if rule is None:
        return shown_exact(fig.kind, fig.value)
    if fig.basis is not None:
        basis = find(fig.basis)
        if basis is not None and basis.value is None and basis.hidden:
            return Shown(None, rule.marker, basis.hidden)
        return shown_exact(fig.kind, fig.value)
    if fig.numerator is None and fig.denominator is None:
        return shown_exact(fig.kind, fig.value)
    parts: list[Shown | None] = []
    for ref in (fig.numerator, fig.denominator):
        if ref is None:
            parts.append(None)
            continue
        part = find(ref)
        if part is not None and part.value is None and part.hidden:
            return Shown(None, rule.marker, part.hidden)
        parts.append(part)
    num, den = parts
    if fig.value is None or num is None or den is None or not den.value:
        return shown_exact(fig.kind, fig.value)
    return shown_exact(fig.kind, (num.value or 0) * fig.scale / den.value)


def _hide_parts_together(code: str, result: Result, shown: dict[str, Shown], marker: str) -> None:
    """Parts of one total are hidden together: with the total shown, a single hidden part
    would be the total minus the shown parts."""
    groups: dict[str, list[str]] = {}
    for fig in result.figures:
        if fig.kind == "count" and fig.part_of:
            groups.setdefault(fig.part_of, []).append(f"{code}.{fig.key}")
    for refs in groups.values():
        marked = [shown[r] for r in refs if shown[r].hidden]
        if not marked:
            continue
        for ref in refs:
            if not shown[ref].hidden:
                shown[ref] = Shown(None, marker, "secondary")
