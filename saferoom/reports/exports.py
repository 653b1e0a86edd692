"""A report as a file: CSV, XLSX and JSON (and the plain-text table ``saferoom report`` prints),
each made from one :class:`~saferoom.reports.publish.ShownReport`, so a figure reads the same in
every format — the same value and the same printed text — and a hidden figure is only ever its
marker. Every file carries its scope, period, when it was made, the suppression rule in words,
and each indicator's definition.

- **JSON** (:func:`as_dict`, :func:`to_json`): one object; the API answers with the same
  structure. ``value`` is a number, or null when hidden or not defined; ``text`` is what is
  printed; ``hidden`` is null, ``"primary"`` or ``"secondary"``.
- **CSV** (:func:`to_csv`): one tidy table, one header row, one row per fact, UTF-8 with a byte
  order mark (so spreadsheet programs read the dashes and markers right; Python reads it with
  ``encoding="utf-8-sig"``, pandas and R as they are). The report's facts (scope, sites,
  period, when, rule) are repeated in the leading columns so every row stands alone; texts
  (the rule in words, definitions, comparators, notes) are rows of kind ``text`` so a script
  drops them with one filter. The columns are :data:`CSV_COLUMNS`.
- **XLSX** (:func:`to_xlsx`): an About sheet (scope, period, when, rule, and every indicator's
  definition), a Figures sheet (one row per headline figure) and one sheet per table. A
  one-column table's row totals repeat its cells, so that sheet and the printed table leave
  them out; the data formats keep every total.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import textwrap
from collections.abc import Iterator, Sequence
from typing import Any

from django.utils.translation import gettext as _

# openpyxl ships no type information (types-openpyxl is not a dependency).
from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.styles import Alignment, Font  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
from openpyxl.worksheet.worksheet import Worksheet  # type: ignore[import-untyped]

from saferoom.reports.publish import Shown, ShownBreakdown, ShownReport, ShownResult
from saferoom.reports.registry import GROUPS, Kind

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JSON_VERSION = 1
TOTAL = "total"  # the row and column key of a table's totals

# The CSV's columns, with what each holds (docs/indicators.md prints this list).
CSV_COLUMNS: tuple[tuple[str, str], ...] = (
    ("scope", "The site's name, or the network's name followed by (all sites)."),
    ("sites", "The slugs of the sites covered, separated by spaces."),
    ("time_zones", "Each site's time zone, in the order of `sites`."),
    ("period", "The period's code (e.g. 2026-03, 2026-Q1, 2026-03-01..2026-04-15)."),
    ("first_day", "The period's first day, included (ISO date, each site's local calendar)."),
    ("last_day", "The period's last day, included."),
    ("generated_at", "When the figures were computed (ISO 8601, UTC)."),
    ("suppression", "The suppression rule's code (lt10, nhs, ndtms), or `exact`."),
    ("code", "The indicator's code (U1 … C1); empty on a row about the whole report."),
    ("indicator", "The indicator's title."),
    ("table", "The table's key; empty for the indicator's headline figures."),
    ("table_label", "The table's title."),
    ("row", "The figure's key, the table row's key, or `total`; for a text, what it is."),
    ("row_label", "The figure's or row's label."),
    ("column", "The table column's key, or `total`; empty for a headline figure."),
    ("column_label", "The column's label."),
    ("kind", "count, rate, share, ratio, minutes, money, number — or text."),
    ("value", "The number (shares as fractions); empty when hidden or not defined."),
    ("shown", "The figure as printed: the marker when hidden, — when not defined; or the text."),
    ("hidden", "primary or secondary when the figure is hidden, else empty."),
    ("note", "What the figure is counted against (e.g. a rate's denominator)."),
)

# Characters a sheet name may not hold.
NOT_IN_SHEET_NAMES = re.compile(r"[\[\]:*?/\\]")


# --- the structure every format is made from -----------------------------------------------


def _number(value: float | None) -> float | None:
    """The value as every format carries it (JSON has no NaN or infinity)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value


def _cell(shown: Shown) -> dict[str, Any]:
    return {"value": _number(shown.value), "text": shown.text, "hidden": shown.hidden or None}


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _suppression(report: ShownReport) -> dict[str, Any]:
    rule = report.rule
    return {
        "code": rule.code if rule else "exact",
        "label": rule.label if rule else _("Exact figures"),
        "rule": report.suppression,
        "marker": rule.marker if rule else None,
        "secondary_marker": rule.secondary_marker if rule else None,
    }


def _table(table: ShownBreakdown) -> dict[str, Any]:
    rows = []
    for r, (key, label) in enumerate(table.rows):
        rows.append(
            {
                "key": key,
                "label": label,
                "cells": [_cell(c) for c in table.cells[r]],
                "total": _cell(table.row_totals[r]) if table.row_totals else None,
            }
        )
    return {
        "key": table.key,
        "label": table.label,
        "row_label": table.row_label,
        "note": table.note,
        "columns": [
            {"key": key, "label": label, "kind": kind}
            for (key, label), kind in zip(table.columns, table.column_kinds, strict=True)
        ],
        "rows": rows,
        "column_totals": [_cell(c) for c in table.column_totals] if table.column_totals else None,
        "total": _cell(table.total) if table.total else None,
    }


def _indicator(result: ShownResult) -> dict[str, Any]:
    ind = result.indicator
    return {
        "code": ind.code,
        "title": ind.title,
        "group": ind.group,
        "group_title": GROUPS[ind.group],
        "definition": ind.definition,
        "comparators": ind.comparators,
        "breakdowns": list(ind.breakdowns),
        "suppressible": ind.suppressible,
        "notes": list(result.notes),
        "figures": [
            {"key": f.key, "label": f.label, "kind": f.kind, "note": f.note, **_cell(f.shown)}
            for f in result.figures
        ],
        "tables": [_table(t) for t in result.breakdowns],
    }


def as_dict(report: ShownReport) -> dict[str, Any]:
    """The report as JSON-able data (the JSON export and the API answer)."""
    scope = report.scope
    return {
        "version": JSON_VERSION,
        "scope": {
            "kind": "network" if scope.is_network else "site",
            "name": scope.network.name if scope.is_network else scope.sites[0].name,
            "label": scope.label,
            "network": scope.network.name,
            "sites": [
                {"slug": s.slug, "name": s.name, "time_zone": s.time_zone} for s in scope.sites
            ],
        },
        "period": {
            "code": scope.period.code,
            "kind": scope.period.kind,
            "first_day": scope.period.first.isoformat(),
            "last_day": scope.period.last.isoformat(),
        },
        "generated_at": _when(report.generated_at),
        "exact": report.rule is None,
        "suppression": _suppression(report),
        "indicators": [_indicator(r) for r in report.results.values()],
    }


def to_json(report: ShownReport) -> bytes:
    return (json.dumps(as_dict(report), indent=2, ensure_ascii=False) + "\n").encode()


# --- CSV ------------------------------------------------------------------------------------


def _csv_value(value: float | None) -> str:
    value = _number(value)
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else repr(float(value))


def _table_facts(table: ShownBreakdown) -> Iterator[tuple[str, str, str, str, Kind, Shown]]:
    """(row key, row label, column key, column label, kind, shown) of every number of a
    table: its cells, then row totals, column totals and the grand total."""
    total_label = _("Total")
    for r, (row_key, row_label) in enumerate(table.rows):
        for c, ((col_key, col_label), kind) in enumerate(
            zip(table.columns, table.column_kinds, strict=True)
        ):
            yield row_key, row_label, col_key, col_label, kind, table.cells[r][c]
        if table.row_totals:
            yield row_key, row_label, TOTAL, total_label, "count", table.row_totals[r]
    if table.column_totals:
        for (col_key, col_label), cell in zip(table.columns, table.column_totals, strict=True):
            yield TOTAL, total_label, col_key, col_label, "count", cell
    if table.total:
        yield TOTAL, total_label, TOTAL, total_label, "count", table.total


def csv_rows(report: ShownReport) -> Iterator[list[str]]:
    """The CSV's rows after its header, as text."""
    scope = report.scope
    lead = [
        scope.label,
        " ".join(s.slug for s in scope.sites),
        " ".join(s.time_zone for s in scope.sites),
        scope.period.code,
        scope.period.first.isoformat(),
        scope.period.last.isoformat(),
        _when(report.generated_at),
        report.rule.code if report.rule else "exact",
    ]

    def text_row(
        code: str, title: str, table: str, table_label: str, what: str, label: str, words: str
    ) -> list[str]:
        return [
            *lead,
            code,
            title,
            table,
            table_label,
            what,
            label,
            "",
            "",
            "text",
            "",
            words,
            "",
            "",
        ]

    yield text_row("", "", "", "", "suppression_rule", _("Suppression rule"), report.suppression)
    for result in report.results.values():
        ind = result.indicator
        yield text_row(ind.code, ind.title, "", "", "definition", _("Definition"), ind.definition)
        if ind.comparators:
            yield text_row(
                ind.code, ind.title, "", "", "comparators", _("Comparators"), ind.comparators
            )
        for note in result.notes:
            yield text_row(ind.code, ind.title, "", "", "note", _("Note"), note)
        for fig in result.figures:
            yield [
                *lead,
                ind.code,
                ind.title,
                "",
                "",
                fig.key,
                fig.label,
                "",
                "",
                fig.kind,
                _csv_value(fig.shown.value),
                fig.shown.text,
                fig.shown.hidden,
                fig.note,
            ]
        for table in result.breakdowns:
            if table.note:
                yield text_row(
                    ind.code, ind.title, table.key, table.label, "note", _("Note"), table.note
                )
            for row_key, row_label, col_key, col_label, kind, cell in _table_facts(table):
                yield [
                    *lead,
                    ind.code,
                    ind.title,
                    table.key,
                    table.label,
                    row_key,
                    row_label,
                    col_key,
                    col_label,
                    kind,
                    _csv_value(cell.value),
                    cell.text,
                    cell.hidden,
                    "",
                ]


def to_csv(report: ShownReport) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([name for name, _meaning in CSV_COLUMNS])
    writer.writerows(csv_rows(report))
    return buffer.getvalue().encode("utf-8-sig")


# --- XLSX -----------------------------------------------------------------------------------

BOLD = Font(bold=True)
TOP = Alignment(wrap_text=True, vertical="top")
NUMBER_FORMATS: dict[str, str] = {
    "count": "#,##0",
    "rate": "#,##0.00",
    "share": "0.0%",  # three places as a fraction: the percentage exactly as normalised
    "ratio": "#,##0.00",
    "minutes": "General",
    "money": "#,##0.00",
    "number": "#,##0.00",
}


def _sheet(book: Workbook, title: str, *, first: bool = False) -> Worksheet:
    if first:
        sheet = book.active
        assert sheet is not None
        sheet.title = title
        return sheet
    return book.create_sheet(title)


def _bold_row(sheet: Worksheet, values: Sequence[Any]) -> None:
    sheet.append(list(values))
    for cell in sheet[sheet.max_row]:
        cell.font = BOLD
        cell.alignment = TOP


def _widths(sheet: Worksheet, widths: Sequence[int]) -> None:
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width


def _put(sheet: Worksheet, row: int, column: int, shown: Shown, kind: Kind) -> None:
    """A number as a number (formatted by kind); a hidden or undefined one as its text."""
    value = _number(shown.value)
    if value is None:
        sheet.cell(row=row, column=column, value=shown.text)
        sheet.cell(row=row, column=column).alignment = Alignment(horizontal="right")
    else:
        sheet.cell(row=row, column=column, value=value).number_format = NUMBER_FORMATS[kind]


def _sheet_names(report: ShownReport) -> dict[tuple[str, str], str]:
    """A unique, valid sheet name (31 characters at most) for every table."""
    names: dict[tuple[str, str], str] = {}
    taken = {"about", "figures"}
    for result in report.results.values():
        for table in result.breakdowns:
            base = NOT_IN_SHEET_NAMES.sub(" ", f"{result.indicator.code} {table.label}")[
                :31
            ].strip()
            name, n = base, 2
            while name.lower() in taken:
                suffix = f" {n}"
                name, n = base[: 31 - len(suffix)] + suffix, n + 1
            taken.add(name.lower())
            names[(result.indicator.code, table.key)] = name
    return names


def to_xlsx(report: ShownReport) -> bytes:
    data = as_dict(report)
    names = _sheet_names(report)
    book = Workbook()

    about = _sheet(book, _("About"), first=True)
    _bold_row(about, (_("Item"), _("Value")))
    scope = data["scope"]
    period = data["period"]
    for label, value in (
        (_("Scope"), scope["label"]),
        (_("Network"), scope["network"]),
        (_("Sites"), " ".join(s["slug"] for s in scope["sites"])),
        (_("Time zones"), " ".join(s["time_zone"] for s in scope["sites"])),
        (_("Period"), period["code"]),
        (_("First day"), period["first_day"]),
        (_("Last day"), period["last_day"]),
        (_("Generated (UTC)"), data["generated_at"]),
        (_("Suppression rule"), data["suppression"]["code"]),
        (_("Suppression rule in words"), data["suppression"]["rule"]),
    ):
        about.append([label, value])
        about.cell(row=about.max_row, column=2).alignment = TOP
    about.append([])
    _bold_row(
        about,
        (
            _("Code"),
            _("Indicator"),
            _("Group"),
            _("Definition"),
            _("Comparators"),
            _("Breakdowns"),
            _("Suppressed outside the site"),
            _("Notes"),
            _("Tables (sheets)"),
        ),
    )
    for result in report.results.values():
        ind = result.indicator
        about.append(
            [
                ind.code,
                ind.title,
                GROUPS[ind.group],
                ind.definition,
                ind.comparators,
                ", ".join(ind.breakdowns),
                _("yes") if ind.suppressible else _("no"),
                " ".join(result.notes),
                ", ".join(names[(ind.code, t.key)] for t in result.breakdowns),
            ]
        )
        for cell in about[about.max_row]:
            cell.alignment = TOP
    _widths(about, (26, 40, 22, 70, 40, 30, 14, 40, 40))

    figures = _sheet(book, _("Figures"))
    _bold_row(
        figures,
        (
            _("Code"),
            _("Indicator"),
            _("Figure"),
            _("Label"),
            _("Kind"),
            _("Value"),
            _("Shown"),
            _("Hidden"),
            _("Note"),
        ),
    )
    figures.freeze_panes = "A2"
    for result in report.results.values():
        ind = result.indicator
        for fig in result.figures:
            figures.append(
                [ind.code, ind.title, fig.key, fig.label, fig.kind, None, fig.shown.text]
            )
            row = figures.max_row
            value = _number(fig.shown.value)
            if value is not None:
                figures.cell(row=row, column=6, value=value).number_format = NUMBER_FORMATS[
                    fig.kind
                ]
            figures.cell(row=row, column=8, value=fig.shown.hidden)
            figures.cell(row=row, column=9, value=fig.note)
    _widths(figures, (8, 36, 22, 48, 10, 14, 14, 10, 48))

    for result in report.results.values():
        for table in result.breakdowns:
            _table_sheet(book, names[(result.indicator.code, table.key)], result, table)

    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _row_totals_differ(table: ShownBreakdown) -> bool:
    """Whether a row total says more than its row: not in a one-column table, whose row totals
    are its cells again (and whose column total is the grand total). The data formats keep
    them all; the printed table and the workbook's table sheets leave the repeats out."""
    return table.row_totals is not None and len(table.columns) > 1


def _table_sheet(book: Workbook, name: str, result: ShownResult, table: ShownBreakdown) -> None:
    """A title, its note, then the table: a header row, one row per row key, totals last."""
    sheet = _sheet(book, name)
    sheet.append([f"{result.indicator.code} {result.indicator.title}: {table.label}"])
    sheet.cell(row=1, column=1).font = BOLD
    sheet.append([table.note])
    row_totals = table.row_totals if _row_totals_differ(table) else None
    header = [table.row_label, *(label for _key, label in table.columns)]
    if row_totals:
        header.append(_("Total"))
    _bold_row(sheet, header)
    sheet.freeze_panes = "B4"
    width = len(table.columns)
    for r, (_key, label) in enumerate(table.rows):
        sheet.append([label])
        row = sheet.max_row
        for c in range(width):
            _put(sheet, row, c + 2, table.cells[r][c], table.column_kinds[c])
        if row_totals:
            _put(sheet, row, width + 2, row_totals[r], "count")
    if table.column_totals:
        sheet.append([_("Total")])
        row = sheet.max_row
        sheet.cell(row=row, column=1).font = BOLD
        for c, cell in enumerate(table.column_totals):
            _put(sheet, row, c + 2, cell, "count")
        if row_totals and table.total:
            _put(sheet, row, width + 2, table.total, "count")
    _widths(sheet, (28, *(14 for _ in range(width + 1))))


# --- plain text (saferoom report --format table) --------------------------------------------

WIDE = 12  # more columns than this (and than rows): print the table turned on its side


def to_text(report: ShownReport) -> str:
    """The report as a readable text table, as ``saferoom report`` prints it."""
    data = as_dict(report)
    scope, period = data["scope"], data["period"]
    sites = ", ".join(f"{s['slug']} ({s['time_zone']})" for s in scope["sites"])
    lines = [
        f"{scope['label']}: {period['code']} ({period['first_day']} to {period['last_day']})",
        _("Sites: %(sites)s") % {"sites": sites or "—"},
        _("Generated: %(when)s") % {"when": data["generated_at"]},
        *textwrap.wrap(
            _("Suppression: %(rule)s") % {"rule": report.suppression}, 96, subsequent_indent="  "
        ),
    ]
    for result in report.results.values():
        ind = result.indicator
        lines += ["", f"{ind.code}  {ind.title}"]
        lines += textwrap.wrap(ind.definition, 96, initial_indent="    ", subsequent_indent="    ")
        if ind.comparators:
            lines += textwrap.wrap(
                _("Comparators: %(text)s") % {"text": ind.comparators},
                96,
                initial_indent="    ",
                subsequent_indent="    ",
            )
        for note in result.notes:
            lines += textwrap.wrap(note, 96, initial_indent="    ! ", subsequent_indent="      ")
        if result.figures:
            lines.append("")
        label_width = max((len(f.label) for f in result.figures), default=0)
        text_width = max((len(f.shown.text) for f in result.figures), default=0)
        for fig in result.figures:
            note = f"  ({fig.note})" if fig.note else ""
            lines.append(
                f"    {fig.label:<{label_width}}  {fig.shown.text:>{text_width}}{note}".rstrip()
            )
        for table in result.breakdowns:
            lines += ["", f"    {table.label}", *_text_table(table)]
            if table.note:
                lines += textwrap.wrap(
                    table.note, 96, initial_indent="      ", subsequent_indent="      "
                )
    return "\n".join(lines) + "\n"


def _text_table(table: ShownBreakdown) -> list[str]:
    """Rows and columns with their totals; a table much wider than long (weekday × hour) is
    turned on its side so it fits a terminal."""
    total = _("Total")
    row_totals = table.row_totals if _row_totals_differ(table) else None
    header = [table.row_label, *(label for _key, label in table.columns)]
    grid = [
        [label, *(cell.text for cell in table.cells[r])]
        for r, (_key, label) in enumerate(table.rows)
    ]
    if row_totals:
        header.append(total)
        for line, cell in zip(grid, row_totals, strict=True):
            line.append(cell.text)
    if table.column_totals:
        last = [total, *(cell.text for cell in table.column_totals)]
        if row_totals:
            last.append(table.total.text if table.total else "")
        grid.append(last)
    grid.insert(0, header)
    if len(table.columns) > WIDE and len(table.rows) < len(table.columns):
        grid = [list(line) for line in zip(*grid, strict=True)]
        grid[0][0] = ""
    widths = [max(len(line[c]) for line in grid) for c in range(len(grid[0]))]
    out = []
    for line in grid:
        first = f"{line[0]:<{widths[0]}}"
        rest = "  ".join(f"{v:>{w}}" for v, w in zip(line[1:], widths[1:], strict=True))
        out.append(f"      {first}  {rest}".rstrip())
    return out
