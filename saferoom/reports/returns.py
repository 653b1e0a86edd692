"""Returns in the shapes funders use: a Health Canada–style monthly return, a Glasgow
Thistle–style table of months, and a North Rhine-Westphalia–style annual report
(``../shared/reference/domain.md`` §3.1, §3.6, §3.2).

A return computes nothing of its own. Each of its fields names one published figure or one
table cell of an indicator, in a small mapping language read against a
:class:`~saferoom.reports.publish.ShownReport`, so a return shows exactly the number the
dashboard shows, suppressed for evaluators and exact for the site's own staff:

    U1.total                      figure ``total`` of U1
    S1.kind[opioid]               row ``opioid`` of U1's table ``kind`` (a one-column table)
    E6.finding[fentanyl][n]       row ``fentanyl``, column ``n`` of a table with several columns
    U2.route[*]                   the table's total; ``[row][*]`` a row's, ``[*][col]`` a column's

A field whose categories come from the site's own lists (services, referral kinds) is an
:class:`EachRow`: one line per row of the named table, in the table's order. A field the
funder asks for and saferoom does not record is a :class:`NotRecorded` line with the reason,
never a made-up number. Every line says how it maps to ours: the indicator code and where the
funder's definition differs.

``tests/reports/test_returns_mapping.py`` computes every return for a small hand-built site
and checks that every reference resolves against the real registry: that is what keeps these
mappings honest when an indicator changes.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Literal

from django.utils import dateformat
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# openpyxl ships no type information (types-openpyxl is not a dependency).
from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.styles import Alignment, Font  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

from saferoom.reports.periods import Period, PeriodError, month, quarter, year
from saferoom.reports.publish import NOT_DEFINED, Shown, ShownBreakdown, ShownReport, publish
from saferoom.reports.registry import Kind, Report, Scope, compute_report
from saferoom.reports.scopes import site_scope

if TYPE_CHECKING:
    from saferoom.core.suppression import Rule
    from saferoom.sites.models import Site

Text = str | Promise  # a label, translated when it is shown

# The earliest year a return may ask for (no site has records from before; a far-away year
# would only make the database work for nothing).
FIRST_YEAR = 2000

# --- the mapping language -------------------------------------------------------------------

ANY = "*"
_REF = re.compile(
    r"^(?P<code>[A-Z][0-9]+)\.(?P<key>[A-Za-z0-9_]+)"
    r"(?:\[(?P<row>[^\[\]]+)\](?:\[(?P<column>[^\[\]]+)\])?)?$"
)


class MappingError(LookupError):
    """A reference that does not name a figure or cell of the report (a programming error:
    the mapping test finds it before anyone reads the return)."""


@dataclass(frozen=True)
class Ref:
    """A parsed reference: a figure (``row`` None) or a cell of a table."""

    code: str
    key: str
    row: str | None = None
    column: str | None = None

    @property
    def is_cell(self) -> bool:
        return self.row is not None

    def __str__(self) -> str:
        text = f"{self.code}.{self.key}"
        if self.row is not None:
            text += f"[{self.row}]"
        if self.column is not None:
            text += f"[{self.column}]"
        return text


def parse_ref(text: str) -> Ref:
    match = _REF.match(text.strip())
    if not match:
        raise MappingError(
            f"{text!r} is not a reference: write CODE.figure, CODE.table[row] or "
            "CODE.table[row][column]."
        )
    parts = match.groupdict()
    row = parts["row"].strip() if parts["row"] else None
    column = parts["column"].strip() if parts["column"] else None
    return Ref(parts["code"], parts["key"], row, column)


@dataclass(frozen=True)
class Value:
    """What a reference reads in one report: the shown number, its kind, and what it is in
    our terms (for the "how this maps" column)."""

    shown: Shown
    kind: Kind
    ours: str


def resolve(report: ShownReport, ref: Ref | str) -> Value:
    """The shown value ``ref`` names in ``report``; :class:`MappingError` when it names
    nothing there."""
    if isinstance(ref, str):
        ref = parse_ref(ref)
    result = report.results.get(ref.code)
    if result is None:
        raise MappingError(f"{ref}: the report has no indicator {ref.code}.")
    title = f"{ref.code} {result.indicator.title}"
    if not ref.is_cell:
        try:
            figure = result.figure(ref.key)
        except KeyError:
            raise MappingError(f"{ref}: {ref.code} has no figure {ref.key!r}.") from None
        return Value(figure.shown, figure.kind, f"{title}: {figure.label}")
    try:
        table = result.breakdown(ref.key)
    except KeyError:
        raise MappingError(f"{ref}: {ref.code} has no table {ref.key!r}.") from None
    rows = {key: i for i, (key, _label) in enumerate(table.rows)}
    columns = {key: i for i, (key, _label) in enumerate(table.columns)}
    if ref.column is None:
        if len(table.columns) != 1:
            raise MappingError(
                f"{ref}: table {ref.key!r} has {len(table.columns)} columns; name one "
                f"({', '.join(columns)})."
            )
        column = table.columns[0][0]
    else:
        column = ref.column
    if ref.row != ANY and ref.row not in rows:
        raise MappingError(f"{ref}: table {ref.key!r} has no row {ref.row!r}.")
    if column != ANY and column not in columns:
        raise MappingError(f"{ref}: table {ref.key!r} has no column {column!r}.")
    where = f"{title}: {table.label}"
    multi = len(table.columns) > 1
    if ref.row == ANY or column == ANY:
        return _total(ref, table, rows, columns, column, where, multi)
    r, c = rows[ref.row], columns[column]
    label = table.rows[r][1] + (f", {table.columns[c][1]}" if multi else "")
    return Value(table.cells[r][c], table.column_kinds[c], f"{where} — {label}")


def _total(
    ref: Ref,
    table: ShownBreakdown,
    rows: dict[str, int],
    columns: dict[str, int],
    column: str,
    where: str,
    multi: bool,
) -> Value:
    if table.total is None:
        raise MappingError(f"{ref}: table {ref.key!r} shows no totals.")
    if ref.row == ANY and column == ANY:
        return Value(table.total, "count", f"{where} — {_('total')}")
    if ref.row == ANY:
        assert table.column_totals is not None
        c = columns[column]
        return Value(
            table.column_totals[c], "count", f"{where} — {_('total')}, {table.columns[c][1]}"
        )
    assert table.row_totals is not None
    assert ref.row is not None
    r = rows[ref.row]
    label = table.rows[r][1] + (f", {_('all columns')}" if multi else "")
    return Value(table.row_totals[r], "count", f"{where} — {label}")


# --- what a return is made of ---------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One line of a return: the funder's label, and the figure or cell it is (``source``).
    ``how`` says where the funder's definition differs from ours; ``term`` is the funder's own
    word for it (the German for the NRW report)."""

    label: Text
    source: str
    how: Text = ""
    term: str = ""


@dataclass(frozen=True)
class EachRow:
    """One line per row of an indicator's table (``source`` = ``CODE.table``), for categories
    the site's own lists decide (services, referral kinds). ``column`` picks one column of a
    table that has several."""

    label: Text
    source: str
    column: str | None = None
    how: Text = ""
    term: str = ""


@dataclass(frozen=True)
class NotRecorded:
    """A field the funder asks for that saferoom does not record, and why. Never a number."""

    label: Text
    reason: Text
    term: str = ""


Line = Field | EachRow | NotRecorded


@dataclass(frozen=True)
class Section:
    title: Text
    lines: tuple[Line, ...]
    term: str = ""


Layout = Literal["period", "months"]


@dataclass(frozen=True)
class ReturnShape:
    """A return: its fields in the funder's order, the periods it is made for, and whether it
    has one column of figures (the period) or one column per calendar month of the period."""

    slug: str  # also the start of its URL names ("health_canada", "health_canada_csv" …)
    title: Text
    funder: Text
    summary: Text
    period_kinds: tuple[str, ...]
    layout: Layout
    sections: tuple[Section, ...]
    notes: tuple[Text, ...] = ()
    language: str = ""  # the language of the funder's own terms ("de"), when given

    def references(self) -> list[str]:
        """Every reference the return reads (tables of :class:`EachRow` lines as
        ``CODE.table``)."""
        refs: list[str] = []
        for section in self.sections:
            for line in section.lines:
                if isinstance(line, Field | EachRow):
                    refs.append(line.source)
        return refs

    def codes(self) -> set[str]:
        """The indicators the return reads."""
        return {ref.split(".", 1)[0] for ref in self.references()}

    def period_example(self) -> str:
        examples = {"month": "2026-03", "quarter": "2026-Q1", "year": "2026"}
        return _(" or ").join(examples[k] for k in self.period_kinds)

    def default_period(self, today: date) -> Period:
        """The last complete period of the return's first kind before ``today``."""
        kind = self.period_kinds[0]
        if kind == "month":
            return month(today.year, today.month).previous()
        if kind == "quarter":
            return quarter(today.year, (today.month - 1) // 3 + 1).previous()
        return year(today.year - 1)

    def check_period(self, period: Period, today: date) -> None:
        """Refuse a period this return is not made for, in words the reader can act on."""
        if period.kind not in self.period_kinds:
            raise PeriodError(
                _("The %(title)s is made for %(kinds)s. Write one like %(example)s.")
                % {
                    "title": self.title,
                    "kinds": _(" or ").join(str(KIND_NAMES[k]) for k in self.period_kinds),
                    "example": self.period_example(),
                }
            )
        if period.first.year < FIRST_YEAR:
            raise PeriodError(_("Choose a period from %(year)s onwards.") % {"year": FIRST_YEAR})
        if period.first > today:
            raise PeriodError(
                _("%(period)s has not started yet. Choose a period that has.")
                % {"period": period.code}
            )


KIND_NAMES: dict[str, Text] = {
    "month": gettext_lazy("a month"),
    "quarter": gettext_lazy("a quarter"),
    "year": gettext_lazy("a year"),
}


# --- a return filled in ---------------------------------------------------------------------


@dataclass(frozen=True)
class FilledLine:
    label: str
    term: str
    values: tuple[Shown, ...]  # one per column of the return
    kind: Kind | None  # None for a line saferoom does not record
    source: str  # the reference, "" when not recorded
    maps: str  # how this maps: our indicator and any difference in definition
    recorded: bool = True
    problem: str = ""  # a reference that did not resolve (the mapping test catches it)


@dataclass(frozen=True)
class FilledSection:
    title: str
    term: str
    lines: tuple[FilledLine, ...]


@dataclass(frozen=True)
class FilledReturn:
    shape: ReturnShape
    site: Site
    period: Period
    columns: tuple[Period, ...]  # the period itself, or its calendar months
    reports: tuple[ShownReport, ...]  # one per column
    sections: tuple[FilledSection, ...]
    generated_at: datetime
    rule: Rule | None

    @property
    def suppression(self) -> str:
        return self.reports[0].suppression

    @property
    def exact(self) -> bool:
        return self.rule is None

    @property
    def complete(self) -> bool:
        """Whether the period was over (in the site's calendar) when the return was made."""
        end = self.period.bounds(self.site.time_zone)[1]
        return self.generated_at >= end

    @property
    def problems(self) -> list[str]:
        return [line.problem for s in self.sections for line in s.lines if line.problem]

    def lines(self) -> list[tuple[FilledSection, FilledLine]]:
        return [(s, line) for s in self.sections for line in s.lines]


def _not_recorded_text() -> Shown:
    return Shown(None, _("not recorded by saferoom"))


def _missing() -> Shown:
    return Shown(None, NOT_DEFINED)


def _with_how(ours: str, how: Text) -> str:
    return f"{ours}. {how}" if how else ours


def _field_line(line: Field, reports: Sequence[ShownReport]) -> FilledLine:
    values: list[Shown] = []
    kind: Kind | None = None
    ours = ""
    problem = ""
    for report in reports:
        try:
            value = resolve(report, line.source)
        except MappingError as error:
            problem = problem or str(error)
            values.append(_missing())
            continue
        values.append(value.shown)
        kind = kind or value.kind
        ours = ours or value.ours
    return FilledLine(
        label=str(line.label),
        term=line.term,
        values=tuple(values),
        kind=kind,
        source=line.source,
        maps=_with_how(ours or line.source, line.how),
        problem=problem,
    )


def _each_row_lines(line: EachRow, reports: Sequence[ShownReport]) -> list[FilledLine]:
    """One line per row of the table across the reports (rows in first-seen order). A row
    one month's table lacks (a list entry retired since) reads "—" there, never a number."""
    try:
        table_ref = parse_ref(line.source)
        if table_ref.is_cell:
            raise MappingError(f"{line.source}: an EachRow line names a table, not a cell.")
        tables = []
        for report in reports:
            result = report.results.get(table_ref.code)
            if result is None:
                raise MappingError(f"{line.source}: the report has no indicator {table_ref.code}.")
            try:
                tables.append(result.breakdown(table_ref.key))
            except KeyError:
                raise MappingError(
                    f"{line.source}: {table_ref.code} has no table {table_ref.key!r}."
                ) from None
    except MappingError as error:
        return [_broken(line, str(error), len(reports))]
    order: dict[str, str] = {}
    for table in tables:
        for key, label in table.rows:
            order.setdefault(key, label)
    lines: list[FilledLine] = []
    column = f"[{line.column}]" if line.column else ""
    for key, label in order.items():
        ref = f"{line.source}[{key}]{column}"
        values: list[Shown] = []
        kind: Kind | None = None
        ours = ""
        problem = ""
        for report, table in zip(reports, tables, strict=True):
            if all(key != k for k, _label in table.rows):
                values.append(_missing())
                continue
            try:
                value = resolve(report, ref)
            except MappingError as error:  # e.g. a column that is not there
                problem = problem or str(error)
                values.append(_missing())
                continue
            values.append(value.shown)
            kind = kind or value.kind
            ours = ours or value.ours
        lines.append(
            FilledLine(
                label=f"{line.label}: {label}",
                term=line.term,
                values=tuple(values),
                kind=kind,
                source=ref,
                maps=_with_how(ours or ref, line.how),
                problem=problem,
            )
        )
    if not lines:
        lines.append(
            FilledLine(
                label=str(line.label),
                term=line.term,
                values=tuple(_missing() for _r in reports),
                kind=None,
                source=line.source,
                maps=_("%(source)s: no categories in this table") % {"source": line.source},
            )
        )
    return lines


def _broken(line: EachRow, problem: str, columns: int) -> FilledLine:
    return FilledLine(
        label=str(line.label),
        term=line.term,
        values=tuple(_missing() for _c in range(columns)),
        kind=None,
        source=line.source,
        maps=line.source,
        problem=problem,
    )


def _not_recorded_line(line: NotRecorded, columns: int) -> FilledLine:
    return FilledLine(
        label=str(line.label),
        term=line.term,
        values=tuple(_not_recorded_text() for _c in range(columns)),
        kind=None,
        source="",
        maps=f"{_('Not recorded by saferoom')}: {line.reason}",
        recorded=False,
    )


def _computed(scope: Scope, codes: set[str]) -> Report:
    """The indicators ``codes`` for ``scope``, and any indicator a derived figure of theirs is
    computed from, so each figure publishes as it does on the full dashboard (a count or a
    table cell depends only on its own indicator; a rate on the counts it names)."""
    wanted = set(codes)
    while True:
        report = compute_report(scope, wanted)
        named = {
            ref.split(".", 1)[0]
            for result in report.results.values()
            for fig in result.figures
            for ref in (fig.numerator, fig.denominator, fig.basis)
            if ref
        }
        if named <= wanted:
            return report
        wanted |= named


def columns_of(shape: ReturnShape, period: Period, today: date) -> tuple[Period, ...]:
    """The columns of figures: the period, or each of its calendar months that has started."""
    if shape.layout == "period":
        return (period,)
    return tuple(m for m in period.months() if m.first <= today)


def fill_from(
    shape: ReturnShape,
    *,
    site: Site,
    period: Period,
    columns: Sequence[Period],
    reports: Sequence[ShownReport],
    rule: Rule | None,
    generated_at: datetime,
) -> FilledReturn:
    """A return filled in from already published reports, one per column."""
    sections: list[FilledSection] = []
    for section in shape.sections:
        lines: list[FilledLine] = []
        for line in section.lines:
            if isinstance(line, Field):
                lines.append(_field_line(line, reports))
            elif isinstance(line, EachRow):
                lines += _each_row_lines(line, reports)
            else:
                lines.append(_not_recorded_line(line, len(reports)))
        sections.append(FilledSection(str(section.title), section.term, tuple(lines)))
    return FilledReturn(
        shape=shape,
        site=site,
        period=period,
        columns=tuple(columns),
        reports=tuple(reports),
        sections=tuple(sections),
        generated_at=generated_at,
        rule=rule,
    )


def fill(
    shape: ReturnShape, *, site: Site, period: Period, rule: Rule | None, now: datetime
) -> FilledReturn:
    """Compute and publish the report of each column (under ``rule``: None for the site's own
    staff) and fill the return in from them. The caller checks the period first."""
    today = site.local(now).date()
    columns = columns_of(shape, period, today)
    codes = shape.codes()
    reports = [publish(_computed(site_scope(site, p, now), codes), rule) for p in columns]
    return fill_from(
        shape,
        site=site,
        period=period,
        columns=columns,
        reports=reports,
        rule=rule,
        generated_at=now,
    )


# --- words, CSV and XLSX --------------------------------------------------------------------

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NUMBER_FORMATS: dict[str, str] = {
    "count": "#,##0",
    "rate": "#,##0.00",
    "share": "0.0%",
    "ratio": "#,##0.00",
    "minutes": "General",
    "money": "#,##0.00",
    "number": "#,##0.00",
}
MAPPING_LANGUAGE = gettext_lazy(
    "Each source names one published figure or table cell of saferoom's indicators: "
    "CODE.figure (U1.total), CODE.table[row] (S1.kind[opioid]), CODE.table[row][column]; "
    "[*] is a table's total. The definitions are in docs/indicators.md."
)


def period_label(period: Period) -> str:
    """A period as people say it: March 2026, Q1 2026, 2026."""
    if period.kind == "month":
        return dateformat.format(period.first, "F Y")
    if period.kind == "quarter":
        return _("Q%(quarter)s %(year)s") % {
            "quarter": (period.first.month - 1) // 3 + 1,
            "year": period.first.year,
        }
    if period.kind == "year":
        return str(period.first.year)
    return f"{dateformat.format(period.first, 'j M Y')} – {dateformat.format(period.last, 'j M Y')}"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _cell_value(shown: Shown) -> float | str:
    """A number as a number; a hidden, undefined or unrecorded one as its text."""
    return shown.value if shown.value is not None else shown.text


def _about(filled: FilledReturn) -> list[tuple[str, str]]:
    shape = filled.shape
    return [
        (_("Return"), str(shape.title)),
        (_("Funder"), str(shape.funder)),
        (_("Site"), filled.site.name),
        (_("Period"), filled.period.code),
        (_("First day"), filled.period.first.isoformat()),
        (_("Last day"), filled.period.last.isoformat()),
        (_("Generated (UTC)"), _when(filled.generated_at)),
        (
            _("Period over when generated"),
            _("yes") if filled.complete else _("no: figures so far"),
        ),
        (_("Figures"), _("exact") if filled.exact else _("suppressed")),
        (_("Suppression rule"), filled.suppression),
        (_("Sources"), str(MAPPING_LANGUAGE)),
    ]


def _header(filled: FilledReturn) -> list[str]:
    header = [_("Section"), _("Field")]
    if filled.shape.language:
        header.append(_("Term (%(language)s)") % {"language": filled.shape.language})
    header += [p.code for p in filled.columns]
    header += [_("Source"), _("How this maps")]
    return header


def _section_name(section: FilledSection) -> str:
    return f"{section.title} ({section.term})" if section.term else section.title


def _line_cells(filled: FilledReturn, section: FilledSection, line: FilledLine) -> list[object]:
    cells: list[object] = [_section_name(section), line.label]
    if filled.shape.language:
        cells.append(line.term)
    cells += [_cell_value(v) for v in line.values]
    cells += [line.source, line.maps]
    return cells


def to_csv(filled: FilledReturn) -> bytes:
    """The return as one CSV: what it is and the rule it was published under, a blank row,
    then the return's table (with its sources and how each maps) and its notes."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows([label, value] for label, value in _about(filled))
    writer.writerow([])
    writer.writerow(_header(filled))
    for section, line in filled.lines():
        writer.writerow(_line_cells(filled, section, line))
    writer.writerow([])
    for note in filled.shape.notes:
        writer.writerow([_("Note"), str(note)])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(filled: FilledReturn) -> bytes:
    """The return as a workbook: a Return sheet (the table, with sources and how each maps)
    and an About sheet (what it is, the suppression rule, the notes)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _("Return")
    bold = Font(bold=True)
    top = Alignment(wrap_text=True, vertical="top")
    sheet.append(_header(filled))
    for cell in sheet[1]:
        cell.font = bold
        cell.alignment = top
    first_value = 4 if filled.shape.language else 3
    for section, line in filled.lines():
        sheet.append(_line_cells(filled, section, line))
        row = sheet.max_row
        for i, shown in enumerate(line.values):
            cell = sheet.cell(row=row, column=first_value + i)
            if shown.value is None:
                cell.alignment = Alignment(horizontal="right")
            elif line.kind is not None:
                cell.number_format = NUMBER_FORMATS[line.kind]
        sheet.cell(row=row, column=sheet.max_column).alignment = top
    sheet.freeze_panes = sheet.cell(row=2, column=first_value)
    widths = [28, 40] + ([30] if filled.shape.language else [])
    widths += [12] * len(filled.columns) + [22, 80]
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width

    about = book.create_sheet(_("About"))
    about.append([_("Item"), _("Value")])
    for cell in about[1]:
        cell.font = bold
    for label, value in _about(filled):
        about.append([label, value])
    for note in filled.shape.notes:
        about.append([_("Note"), str(note)])
    for row in about.iter_rows(min_row=2):
        row[1].alignment = top
    about.column_dimensions["A"].width = 28
    about.column_dimensions["B"].width = 100

    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- the returns ----------------------------------------------------------------------------

g = gettext_lazy

HEALTH_CANADA = ReturnShape(
    slug="health_canada",
    title=g("Health Canada monthly return"),
    funder=g("Health Canada (supervised consumption sites)"),
    summary=g(
        "One site, one calendar month, in the standard reporting format federally exempted "
        "supervised consumption sites have used since March 2020."
    ),
    period_kinds=("month",),
    layout="period",
    sections=(
        Section(
            g("Visits and clients"),
            (
                Field(
                    g("Total visits"),
                    "U1.total",
                    g(
                        "Same definition: the times people used the site in the month. "
                        "Turned-away arrivals are not visits; anonymous visits are."
                    ),
                ),
                Field(
                    g("Unique clients"),
                    "U3.total",
                    g(
                        "Health Canada counts a person once per site per calendar month; for "
                        "one site and one month that is U3. Anonymous visits have no client "
                        "and are not counted."
                    ),
                ),
                Field(
                    g("New clients"),
                    "U4.total",
                    g("Clients whose first visit at any site of the network was this month."),
                ),
            ),
        ),
        Section(
            g("Demographics of unique clients"),
            (
                EachRow(g("Gender"), "U3.by_gender"),
                EachRow(g("Age"), "U3.by_age_band", how=g("Age in the calendar year.")),
            ),
        ),
        Section(
            g("Drugs consumed"),
            (
                Field(g("Consumption episodes"), "U2.total"),
                EachRow(
                    g("Route of consumption"),
                    "U2.by_route",
                    how=g("Health Canada's routes: injection, inhalation, intranasal, oral."),
                ),
                EachRow(
                    g("Drug type"),
                    "U2.by_substance",
                    how=g("Each episode counted once, under the group of what was consumed."),
                ),
            ),
        ),
        Section(
            g("Overdoses and drug emergencies"),
            (
                Field(
                    g("Overdoses and drug emergencies"),
                    "S1.total",
                    g(
                        "Medical incidents with onset in the month, fatal ones included. "
                        "Health Canada's non-fatal overdoses are these less the deaths below; "
                        "saferoom does not publish the difference itself."
                    ),
                ),
                Field(g("Opioid overdoses"), "S1.kind[opioid]"),
                Field(g("Stimulant overdoses"), "S1.kind[stimulant]"),
                Field(
                    g("Other drug-related emergencies"),
                    "S1.kind[other_drug]",
                    g("Sedatives, seizures, agitation or psychosis."),
                ),
                Field(g("Other medical emergencies"), "S1.kind[other_medical]"),
                Field(
                    g("Overdoses needing naloxone"),
                    "S3.incidents",
                    g("Incidents with at least one naloxone dose."),
                ),
                Field(g("Naloxone doses given"), "S3.doses"),
                Field(g("Calls to EMS (ambulance called)"), "S5.incidents"),
                Field(g("Hospital transfers"), "S6.incidents"),
                Field(
                    g("Deaths"),
                    "S7.total",
                    g("Deaths on site are published as they are, even when small."),
                ),
            ),
        ),
        Section(
            g("Services and referrals"),
            (
                Field(g("Health and social services provided within the site"), "E1.total"),
                EachRow(g("Service"), "E1.service"),
                Field(
                    g("Total referrals"),
                    "E2.total",
                    g(
                        "Health Canada: any referral to health or social support services, "
                        "on site or off. Ours: referrals made in the month, to any target."
                    ),
                ),
                EachRow(g("Referrals to"), "E2.kind"),
            ),
        ),
        Section(
            g("Drug checking"),
            (
                Field(g("Drug checks"), "E6.total"),
                EachRow(g("Method"), "E6.method"),
            ),
        ),
    ),
    notes=(
        g(
            "Unique clients are counted per site per calendar month, as Health Canada counts "
            "them: add months and a person is counted once in each month they came."
        ),
    ),
)

THISTLE = ReturnShape(
    slug="thistle",
    title=g("Glasgow Thistle monthly table"),
    funder=g("Glasgow Health and Social Care Partnership (Thistle service data)"),
    summary=g(
        "Months side by side, as Glasgow publishes the Thistle's service data: each month is "
        "its own report, so each column reads what the dashboard shows for that month."
    ),
    period_kinds=("quarter", "year"),
    layout="months",
    sections=(
        Section(
            g("Service use"),
            (
                Field(
                    g("Service users"),
                    "U3.total",
                    g(
                        "Thistle: distinct registered people who used any part of the service "
                        "(wound care, shower, clothing store and laundry included). Ours: "
                        "registered clients with a recorded visit in the month."
                    ),
                ),
                Field(g("Service users: male"), "U3.by_gender[male]"),
                Field(g("Service users: female"), "U3.by_gender[female]"),
                Field(
                    g("Times service accessed"),
                    "U1.registered",
                    g(
                        "Visits by registered clients only; visits by unregistered people are "
                        "left out."
                    ),
                ),
                Field(g("New registrations"), "U4.total"),
            ),
        ),
        Section(
            g("Consumption"),
            (
                Field(
                    g("Injecting episodes"),
                    "U2.by_route[inject]",
                    g("Thistle: occasions an injecting booth was used to prepare and inject."),
                ),
                Field(g("Inhalation episodes"), "U2.by_route[smoke]"),
                Field(
                    g("Heroin"),
                    "U2.by_substance[opioid]",
                    g(
                        "Thistle publishes the substance mix as shares of all episodes; this is "
                        "the count of episodes of opioids (heroin and others)."
                    ),
                ),
                Field(
                    g("Cocaine"),
                    "U2.by_substance[stimulant]",
                    g("Episodes of stimulants (cocaine, crack and others), as a count."),
                ),
                Field(
                    g("Snowball (heroin and cocaine)"),
                    "U2.by_substance[opioid_stimulant]",
                    g("Episodes of an opioid and a stimulant together, as a count."),
                ),
            ),
        ),
        Section(
            g("Safety"),
            (
                Field(g("Medical emergencies"), "S1.total"),
                Field(g("Overdoses: opioid"), "S1.kind[opioid]"),
                Field(g("Overdoses: stimulant"), "S1.kind[stimulant]"),
                Field(g("Naloxone administered"), "S3.incidents"),
                Field(g("Oxygen or ventilation support"), "S4.incidents"),
                Field(g("Ambulance call-outs"), "S5.incidents"),
                Field(
                    g("Transfers to hospital (A&E)"),
                    "S6.incidents",
                    g("Transfers from the site; A&E attendances elsewhere are not known to us."),
                ),
                Field(g("Deaths on site"), "S7.total"),
            ),
        ),
        Section(
            g("Interventions"),
            (
                Field(g("Referrals"), "E2.total"),
                Field(
                    g("Referrals to drug treatment"),
                    "E2.kind[drug_treatment]",
                    g("Drug treatment services, opioid substitution treatment included."),
                ),
                EachRow(g("Service"), "E1.service"),
                NotRecorded(
                    g("Reviews of injecting practice"),
                    g(
                        "saferoom keeps no record of this. A site can add it to its services "
                        "list; it then appears under the services above."
                    ),
                ),
                NotRecorded(
                    g("Peer support"),
                    g(
                        "saferoom keeps no record of this. A site can add it to its services "
                        "list; it then appears under the services above."
                    ),
                ),
                NotRecorded(
                    g("Engagement in treatment"),
                    g(
                        "saferoom records referrals and whether they were attended, not whether "
                        "someone stays in treatment afterwards."
                    ),
                ),
            ),
        ),
    ),
    notes=(
        g(
            "Each month is its own report: unique clients of several months are not added up. "
            "There is no column for the whole period: beside its months it would let a hidden "
            "small count be worked out. The dashboard shows the whole period on its own."
        ),
        g("Thistle is for injecting: inhalation episodes show only where a site offers it."),
    ),
)

NRW = ReturnShape(
    slug="nrw",
    title=g("North Rhine-Westphalia annual report"),
    funder=g("Land North Rhine-Westphalia (Konsumraumdokumentation)"),
    summary=g(
        "One site, one calendar year, in the shape of the NRW annual drug consumption room "
        "report. English labels, with the German term alongside."
    ),
    period_kinds=("year",),
    layout="period",
    language="de",
    sections=(
        Section(
            g("Site"),
            (
                NotRecorded(
                    g("Consumption places"),
                    g(
                        "A site's booths and rooms are its settings, not a report figure, and "
                        "saferoom keeps no history of how many were open through the year. See "
                        "Site settings, Spaces."
                    ),
                    term="Konsumplätze",
                ),
            ),
            term="Einrichtung",
        ),
        Section(
            g("Visits and clients"),
            (
                Field(g("Visits"), "U1.total", term="Besuche"),
                Field(
                    g("Clients"),
                    "U3.total",
                    g(
                        "Distinct registered clients with a visit in the year, each once. "
                        "Anonymous visits have no client and are not counted."
                    ),
                    term="Klientinnen und Klienten",
                ),
                Field(g("New clients"), "U4.total", term="Neuaufnahmen"),
                EachRow(
                    g("Sex"),
                    "U3.by_gender",
                    how=g(
                        "NRW also counts consumption episodes by sex; saferoom counts clients "
                        "by gender."
                    ),
                    term="Geschlecht",
                ),
                EachRow(
                    g("Age"),
                    "U3.by_age_band",
                    how=g("Clients by age band in the year; NRW also counts episodes by age."),
                    term="Alter",
                ),
            ),
            term="Besuche und Klientel",
        ),
        Section(
            g("Consumption episodes"),
            (
                Field(g("Consumption episodes"), "U2.total", term="Konsumvorgänge"),
                EachRow(g("Route"), "U2.by_route", term="Konsumart"),
                EachRow(g("Substance"), "U2.by_substance", term="Substanz"),
                NotRecorded(
                    g("Episodes by visibly substituted clients"),
                    g(
                        "saferoom does not record at each visit whether someone is in "
                        "substitution treatment; intake may ask about current treatment, "
                        "but that is not kept per episode."
                    ),
                    term="Konsumvorgänge durch sichtbar Substituierte",
                ),
            ),
            term="Konsumvorgänge",
        ),
        Section(
            g("People turned away"),
            (
                Field(
                    g("Turned away"),
                    "U6.total",
                    g("Turned-away arrivals: one person turned away twice counts twice."),
                    term="Abgewiesene Personen",
                ),
                EachRow(g("Reason"), "U6.by_reason", term="Abweisungsgründe"),
            ),
            term="Abweisungen",
        ),
        Section(
            g("Drug emergencies"),
            (
                Field(g("Drug emergencies"), "S1.total", term="Drogennotfälle"),
                EachRow(g("Kind"), "S1.kind", term="Art des Notfalls"),
                Field(g("Naloxone given"), "S3.incidents", term="Naloxongabe"),
                Field(g("Oxygen or ventilation"), "S4.incidents", term="Sauerstoffgabe, Beatmung"),
                Field(
                    g("Ambulance called"), "S5.incidents", term="Rettungsdienst, Notarzt alarmiert"
                ),
                Field(g("Transfer to hospital"), "S6.incidents", term="Krankenhauseinweisung"),
                Field(g("Deaths"), "S7.total", term="Todesfälle"),
            ),
            term="Drogennotfälle und Maßnahmen",
        ),
        Section(
            g("Special incidents"),
            (
                Field(g("Special incidents"), "S8.total", term="Besondere Vorkommnisse"),
                EachRow(g("Kind"), "S8.kind", term="Art des Vorkommnisses"),
            ),
            term="Besondere Vorkommnisse",
        ),
        Section(
            g("Help given"),
            (
                Field(g("Services provided"), "E1.total", term="Hilfeleistungen"),
                EachRow(g("Service"), "E1.service", term="Hilfeleistungen nach Art"),
                Field(g("Referrals"), "E2.total", term="Vermittlungen"),
                EachRow(g("Referrals to"), "E2.kind", term="Vermittlungen nach Art"),
            ),
            term="Hilfen und Vermittlungen",
        ),
    ),
    notes=(
        g(
            "NRW reports by calendar year: clients are counted once in the year, however many "
            "months they came."
        ),
    ),
)

SHAPES: dict[str, ReturnShape] = {s.slug: s for s in (HEALTH_CANADA, THISTLE, NRW)}
