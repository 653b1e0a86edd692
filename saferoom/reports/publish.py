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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
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
    # A network report's counts of each site ("U1.total" → one per site, in the scope's
    # order), published as one table with the network's total (see :func:`link_sites`).
    sites: dict[str, tuple[Shown, ...]] = field(default_factory=dict)

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


# The one rounding rule (ADR 11, docs/indicators.md): counts whole; shares to a tenth of a
# percentage point (3 places as a fraction); money, rates, ratios and other numbers to 2
# places; minutes to 0.1. Half rounds up. The text is written from the rounded value at the
# same precision, so every output shows the same digits.
DECIMAL_PLACES: dict[Kind, int] = {
    "share": 3,
    "money": 2,
    "minutes": 1,
    "rate": 2,
    "ratio": 2,
    "number": 2,
}


def normalise(kind: Kind, value: float | None) -> float | None:
    """The value every output carries for a figure of ``kind`` (rounded once, here, so the
    screen, CSV, XLSX, JSON, API and command line agree to the digit)."""
    if value is None:
        return None
    if kind == "count":
        return int(value)
    return _round(value, DECIMAL_PLACES[kind])


def percent(share: float, places: int = 1) -> str:
    """A share (a fraction) as a percentage with ``places`` decimals, in decimal arithmetic so
    0.0015 reads 0.2 and never 0.1 from its binary approximation."""
    quantum = Decimal(1).scaleb(-places)
    return f"{(Decimal(str(share)) * 100).quantize(quantum, rounding=ROUND_HALF_UP)}"


def text(kind: Kind, value: float | None) -> str:
    """How a normalised value is written on screen and in print."""
    if value is None:
        return NOT_DEFINED
    if kind == "count":
        return f"{int(value):,}"
    if kind == "share":
        return f"{percent(value)}%"
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
    table: Breakdown,
    rule: Rule | None,
    suppressible: bool,
    *,
    hide_total: bool = False,
    hide: Sequence[int] = (),
) -> tuple[ShownBreakdown, Shown | None]:
    """The shown table, and its shown grand total when it is an additive count table."""
    kinds = table.kinds()
    all_counts = all(k == "count" for k in kinds)
    values = table.values
    row_totals: tuple[Shown, ...] | None = None
    column_totals: tuple[Shown, ...] | None = None
    cells: tuple[tuple[Shown, ...], ...]
    total: Shown | None = None
    stats_total = False
    if all_counts and table.additive and values and values[0]:
        ints = [[int(v or 0) for v in row] for row in values]
        one_way = len(ints[0]) == 1 or len(ints) == 1
        if rule is not None and suppressible and one_way:
            flat = [v for row in ints for v in row]
            listed, list_total = suppress_list(flat, rule, hide_total=hide_total, hide=hide)
            shown_list: tuple[Shown, ...] = tuple(_from_cell(c) for c in listed)
            total = _from_cell(list_total)
            if len(ints[0]) == 1:  # a column: each row's total is its one cell
                cells = tuple((c,) for c in shown_list)
                row_totals, column_totals = shown_list, (total,)
            else:  # a row: each column's total is its one cell
                cells = (shown_list,)
                row_totals, column_totals = (total,), shown_list
        elif rule is not None and suppressible:
            published = suppress_table(ints, rule, hide_total=hide_total)
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
        # A stats table whose counts add up to a figure (waits by hour: visits seen) publishes
        # them as a one-way list with that total, so no hidden count is the figure less the
        # others; other tables hide each count on its own.
        stats_total = bool(
            table.additive and table.total_key is not None and kinds[:1] == ("count",) and values
        )
        first: list[Shown | None] = [None] * len(values)
        if stats_total:
            counts = [int(row[0] or 0) for row in values]
            if rule is not None and suppressible:
                listed, list_total = suppress_list(counts, rule)
                first = [_from_cell(c) for c in listed]
                total = _from_cell(list_total)
            else:
                first = [shown_exact("count", v) for v in counts]
                total = shown_exact("count", sum(counts))
        rows = []
        for r, row in enumerate(values):
            shown_row: list[Shown] = []
            row_hidden = ""
            for c, (kind, v) in enumerate(zip(kinds, row, strict=True)):
                listed_cell = first[r] if c == 0 else None
                if listed_cell is not None:
                    row_hidden = listed_cell.hidden
                    shown_row.append(listed_cell)
                elif kind == "count" and rule is not None and suppressible and v is not None:
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
        # A stats table's total is the figure it adds up to, shown beside it, not in it.
        total=None if stats_total else total,
        note=table.note,
    )
    return shown, total


@dataclass
class _Force:
    """What a linked table needs hidden in an indicator's tables: their totals, and counts by
    table key."""

    total: bool = False
    cells: dict[str, set[int]] = field(default_factory=dict)


def _publish_result(
    result: Result, ind: Indicator, rule: Rule | None, force: _Force | None = None
) -> tuple[dict[str, Shown], ShownResult]:
    tables: list[ShownBreakdown] = []
    counts: dict[str, Shown] = {}
    force = force or _Force()
    for table in result.breakdowns:
        linked = force.total and table.total_key == "total"
        shown_table, total = _publish_table(
            table,
            rule,
            ind.suppressible,
            hide_total=linked,
            hide=sorted(force.cells.get(table.key, ())) if linked else (),
        )
        tables.append(shown_table)
        if total is not None and table.total_key and table.total_key not in counts:
            counts[table.total_key] = total
    return counts, ShownResult(
        indicator=ind, figures=(), breakdowns=tuple(tables), notes=result.notes
    )


def publish(report: Report, rule: Rule | None, *, sites: SitesSeen | None = None) -> ShownReport:
    """The report as a reader is shown it: exact when ``rule`` is None, else suppressed.

    For a network report, ``sites`` says what the reader sees of each site on its own pages:
    the counts it names are then published across the sites as one table with the network's
    total (:func:`link_sites`), and the network's total is hidden when that is the only way to
    keep a site's hidden count from being the total less the others."""
    registry = load()
    shown: dict[str, Shown] = {}  # "CODE.key" → shown value, counts first
    partial: dict[str, ShownResult] = {}
    linked: dict[str, tuple[Shown, ...]] = {}
    # Counts first (table totals win, so the headline agrees with its table), then the rest;
    # indicators computed in support of the ones asked for are published but not shown.
    for code, result in {**report.support, **report.results}.items():
        ind = registry[code]
        ref = f"{code}.total"
        if rule is not None and sites is not None and ind.suppressible and ref in sites.values:
            totals, partial[code], linked[ref] = _publish_linked(result, ind, rule, sites, ref)
        else:
            totals, partial[code] = _publish_result(result, ind, rule)
        for fig in result.figures:
            ref = f"{code}.{fig.key}"
            if fig.kind != "count":
                continue
            if fig.key in totals:
                shown[ref] = totals[fig.key]
            elif fig.rows_of is not None and rule is not None and ind.suppressible:
                shown[ref] = _from_rows(fig, partial[code], rule)
            elif rule is not None and ind.suppressible and fig.value is not None:
                shown[ref] = _from_cell(suppress_value(int(fig.value), rule))
            else:
                shown[ref] = shown_exact("count", fig.value)
        if rule is not None and ind.suppressible:
            _hide_parts_together(code, result, shown, rule)

    def lookup(ref: str) -> Shown | None:
        if ref in shown:
            return shown[ref]
        code, key = ref.split(".", 1)
        found = report.results.get(code) or report.support.get(code)
        if found is not None:
            fig = found.figure(key)
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
        scope=report.scope,
        generated_at=report.generated_at,
        rule=rule,
        results=results,
        sites=linked,
    )


# --- a network's sites, published as one table with its total ---------------------------------

INFINITY = 10**12
Range = tuple[int, int]


@dataclass(frozen=True)
class SitesSeen:
    """What the reader of a network report sees of each of its sites elsewhere — on the site's
    own pages, in the API and exports — for the counts published across sites: ``values``
    (exact, one per site in the scope's order, by ``"CODE.total"``), ``own`` (what the site's
    own report shows the reader) and ``rules`` (the rule each site's report is shown under;
    None where the reader sees it exactly)."""

    values: dict[str, tuple[int, ...]]
    own: dict[str, tuple[Shown, ...]]
    rules: tuple[Rule | None, ...]


def reader_range(shown: Shown, rule: Rule | None, exact: int) -> Range:
    """The values a count could have, to someone who reads ``shown`` under ``rule``."""
    if rule is None:
        return exact, exact
    if shown.hidden == "primary":
        return 1, rule.below - 1
    if shown.hidden == "secondary":
        return rule.below, INFINITY
    if shown.value is None:
        return 0, INFINITY
    value = int(shown.value)
    if rule.round_to <= 1 or value == 0:
        return value, value
    half = rule.round_to // 2
    return max(rule.below, value - half), value + half


def _meet(a: Range, b: Range) -> Range:
    return max(a[0], b[0]), min(a[1], b[1])


def link_sites(
    values: Sequence[int],
    own: Sequence[Shown],
    own_rules: Sequence[Rule | None],
    rule: Rule,
    total: Range,
) -> tuple[list[Shown], bool]:
    """Each site's count published under the network's ``rule``, as one table with the
    network's total (known to lie in ``total``): hidden where the rule or the site's own report
    hides it, and further sites hidden (smallest first) until no count hidden on its own page
    and here can be pinned down from the total and what the reader knows of the others,
    including what the sites' own pages show them. Returns the cells, and whether a count is
    still pinned down (only hiding the total can help: every other site is known anyway)."""
    cells: list[Shown] = []
    for v, mine in zip(values, own, strict=True):
        if rule.hides(v):
            cells.append(Shown(None, rule.marker, "primary"))
        elif mine.hidden:
            cells.append(Shown(None, rule.secondary_marker, "secondary"))
        else:
            cells.append(shown_exact("count", rule.shown(v)))
    own_ranges = [reader_range(m, r, v) for m, r, v in zip(own, own_rules, values, strict=True)]
    while True:
        ranges = [
            _meet(mine, reader_range(cell, rule, v))
            for mine, cell, v in zip(own_ranges, cells, values, strict=True)
        ]
        lo_all = sum(lo for lo, _hi in ranges)
        hi_all = sum(min(hi, INFINITY) for _lo, hi in ranges)
        pinned = False
        for i, (lo, hi) in enumerate(ranges):
            if not (own[i].hidden and cells[i].hidden):
                continue
            low = max(lo, total[0] - (hi_all - min(hi, INFINITY)))
            high = min(hi, total[1] - (lo_all - lo))
            if high - low < 1:
                pinned = True
                break
        if not pinned:
            return cells, False
        helpful = [
            i
            for i, cell in enumerate(cells)
            if not cell.hidden and values[i] and own_ranges[i][0] < own_ranges[i][1]
        ]
        if not helpful:
            return cells, True
        cells[min(helpful, key=lambda i: (values[i], i))] = Shown(
            None, rule.secondary_marker, "secondary"
        )


def _total_range(part: ShownResult, total: Shown, rule: Rule, exact: int) -> Range:
    """What the reader knows of an indicator's total: its shown value, and the sum of the
    cells of each of its additive tables (other than the sites' own)."""
    known = reader_range(total, rule, exact)
    for table in part.breakdowns:
        if table.key == "by_site" or table.total is None or table.column_totals is None:
            continue
        lo = hi = 0
        for row in table.cells:
            for cell in row:
                cell_lo, cell_hi = reader_range(cell, rule, 0)
                lo, hi = lo + cell_lo, hi + min(cell_hi, INFINITY)
        known = _meet(known, (lo, hi))
    return known


def _next_to_hide(part: ShownResult, force: _Force) -> tuple[str, int] | None:
    """The smallest shown count of the indicator's one-column tables (not the sites' own)."""
    found: list[tuple[float, str, int]] = []
    for table in part.breakdowns:
        if table.key == "by_site" or table.total is None or len(table.columns) != 1:
            continue
        for r, row in enumerate(table.cells):
            if row[0].value and r not in force.cells.get(table.key, set()):
                found.append((row[0].value, table.key, r))
    if not found:
        return None
    _value, key, index = min(found)
    return key, index


def _publish_linked(
    result: Result, ind: Indicator, rule: Rule, sites: SitesSeen, ref: str
) -> tuple[dict[str, Shown], ShownResult, tuple[Shown, ...]]:
    """An indicator of a network report whose count per site is published with the network's
    total as one table; the total (and, to keep it from being the sum of a table's shown
    cells, those cells) hidden when the sites' own pages would otherwise give a site away."""
    values, own = sites.values[ref], sites.own[ref]
    exact = int(result.figure("total").value or 0)
    force = _Force()
    while True:
        totals, part = _publish_result(result, ind, rule, force)
        if "total" not in totals:
            totals["total"] = (
                Shown(None, rule.secondary_marker, "secondary")
                if force.total and not rule.hides(exact)
                else _from_cell(suppress_value(exact, rule))
            )
        total = totals["total"]
        cells, pinned = link_sites(
            values, own, sites.rules, rule, _total_range(part, total, rule, exact)
        )
        if not pinned:
            break
        if not force.total:
            force.total = True
            continue
        step = _next_to_hide(part, force)
        if step is None:
            break
        force.cells.setdefault(step[0], set()).add(step[1])
    tables = tuple(
        replace(
            table,
            cells=tuple((cell,) for cell in cells),
            row_totals=tuple(cells),
            column_totals=(total,),
            total=total,
        )
        if table.key == "by_site" and len(table.rows) == len(cells) and len(table.columns) == 1
        else table
        for table in part.breakdowns
    )
    return totals, replace(part, breakdowns=tables), tuple(cells)


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


def _hide_parts_together(code: str, result: Result, shown: dict[str, Shown], rule: Rule) -> None:
    """Parts of one total are hidden together: with the total shown, a single hidden part
    would be the total minus the shown parts. And when the parts leave a small count of the
    shown total (checks not done before use), they are hidden, so that count is not the total
    minus the parts. Groups are taken in the order of their totals' figures, so a part that is
    also a total (checks before use) is settled before its own parts are."""
    groups: dict[str, list[Figure]] = {}
    for fig in result.figures:
        if fig.kind == "count" and fig.part_of:
            groups.setdefault(fig.part_of, []).append(fig)
    order = [f.key for f in result.figures]
    for total_key in sorted(groups, key=lambda k: order.index(k) if k in order else len(order)):
        parts = groups[total_key]
        refs = [f"{code}.{fig.key}" for fig in parts]
        whole = shown.get(f"{code}.{total_key}")
        rest = None
        if whole is not None and whole.value is not None and total_key in order:
            exact_total = result.figure(total_key).value or 0
            rest = int(exact_total) - sum(int(fig.value or 0) for fig in parts)
        small_rest = rest is not None and rule.hides(rest)
        if not small_rest and not any(shown[r].hidden for r in refs):
            continue
        for ref in refs:
            if not shown[ref].hidden:
                shown[ref] = Shown(None, rule.secondary_marker, "secondary")


def _from_rows(fig: Figure, result: ShownResult, rule: Rule) -> Shown:
    """A count that is the sum of some rows of a one-way table, as the shown table gives it:
    the shown rows added up, or the shown total less the other shown rows; hidden when the
    table does not give it (with the marker its exact value would have on its own)."""
    assert fig.rows_of is not None
    key, wanted = fig.rows_of
    table = result.breakdown(key)
    cells = {
        row_key: row[0] for (row_key, _label), row in zip(table.rows, table.cells, strict=True)
    }
    inside = [cells[k] for k in wanted if k in cells]
    outside = [cell for k, cell in cells.items() if k not in wanted]
    value: float | None = None
    if all(c.value is not None for c in inside):
        value = sum(c.value or 0 for c in inside)
    elif (
        table.total is not None
        and table.total.value is not None
        and all(c.value is not None for c in outside)
    ):
        value = table.total.value - sum(c.value or 0 for c in outside)
    if value is not None:
        return shown_exact("count", value)
    if fig.value is not None and rule.hides(int(fig.value)):
        return Shown(None, rule.marker, "primary")
    return Shown(None, rule.secondary_marker, "secondary")
