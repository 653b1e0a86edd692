"""XLSX exports of the evaluation pages: what a council paper attaches. A cost–benefit workbook
(sheets Inputs, Results, PSA, Tornado, About) and a capacity-plan workbook (Inputs, Results,
By hour, Arrivals, About). Aggregates and model inputs only: no client-level data exists here.

Each function takes plain engine results and returns the file's bytes; the views only name the
file and send it."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

# openpyxl ships no type information (types-openpyxl is not a dependency).
from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.styles import Alignment, Font  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
from openpyxl.worksheet.worksheet import Worksheet  # type: ignore[import-untyped]

if TYPE_CHECKING:
    from saferoom.evaluation.capacity import PlanInput, PlanResult
    from saferoom.evaluation.model import Result
    from saferoom.evaluation.parameters import Preset
    from saferoom.evaluation.psa import PSAResult

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MONEY = "#,##0"
NUMBER = "#,##0.00"
SHARE = "0.0%"
BOLD = Font(bold=True)

# What a reader of the workbook needs to know to read every total right.
PERSPECTIVE_RULE = (
    "Each benefit counts in the narrowest perspective it belongs to (health system, then public "
    "sector, then societal). A total in a perspective adds the benefits of that perspective and "
    "the narrower ones, so nothing is counted twice."
)


def _sheet(book: Workbook, title: str, header: Sequence[str], *, first: bool = False) -> Worksheet:
    if first:
        sheet = book.active
        assert sheet is not None
        sheet.title = title
    else:
        sheet = book.create_sheet(title)
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = BOLD
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    return sheet


def _widths(sheet: Worksheet, widths: Iterable[int]) -> None:
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width


def _format_column(sheet: Worksheet, column: int, number_format: str, *, from_row: int = 2) -> None:
    for row in sheet.iter_rows(min_row=from_row, min_col=column, max_col=column):
        for cell in row:
            if isinstance(cell.value, int | float):
                cell.number_format = number_format


def _save(book: Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _about(book: Workbook, rows: Sequence[tuple[str, Any]]) -> None:
    sheet = _sheet(book, "About", (_("Item"), _("Value")))
    for label, value in rows:
        sheet.append([label, value])
    for row in sheet.iter_rows(min_row=2):
        row[1].alignment = Alignment(wrap_text=True, vertical="top")
    _widths(sheet, (28, 110))


def cost_benefit_workbook(
    *,
    site_name: str,
    base: Preset,
    scenario: Preset,
    result: Result,
    psa: PSAResult | None,
    perspective_label: str,
    module_labels: Mapping[str, str],
    generated_at: dt.datetime,
    address: str,
) -> bytes:
    """Inputs (every parameter with unit, source, distribution and whether it was changed from
    the preset), Results, PSA summary and histogram, Tornado, and About."""
    book = Workbook()
    inputs = _sheet(
        book,
        "Inputs",
        (
            _("Module"),
            _("Parameter"),
            _("Input"),
            _("Value"),
            _("Unit"),
            _("Currency"),
            _("Price year"),
            _("Distribution"),
            _("Source"),
            _("Changed from the preset"),
            _("Preset value"),
            _("Distribution changed from the preset"),
        ),
        first=True,
    )
    for name, parameter in scenario.parameters.items():
        original = base.parameters.get(name)
        original_value = original.value if original else None
        original_distribution = original.distribution if original else None
        inputs.append(
            [
                module_labels.get(parameter.module, parameter.module),
                name,
                parameter.label,
                parameter.value,
                parameter.unit,
                parameter.currency or "",
                parameter.price_year or "",
                parameter.distribution.describe() if parameter.distribution else "",
                parameter.source,
                _("yes") if original_value != parameter.value else "",
                original_value,
                _("yes") if original_distribution != parameter.distribution else "",
            ]
        )
    row = inputs.max_row + 2
    inputs.cell(row=row, column=1, value=_("Methods")).font = BOLD
    for option, value in scenario.options.items():
        row += 1
        inputs.cell(row=row, column=1, value=_("Method"))
        inputs.cell(row=row, column=2, value=option)
        inputs.cell(row=row, column=4, value=value)
        if base.options.get(option) != value:
            inputs.cell(row=row, column=10, value=_("yes"))
            inputs.cell(row=row, column=11, value=base.options.get(option))
    _widths(inputs, (22, 30, 48, 16, 16, 10, 10, 30, 60, 12, 16, 14))

    has_psa = psa is not None
    header = [
        _("Module"),
        _("Outcome"),
        _("Events averted a year"),
        _("Unit"),
        _("Value a year"),
        _("Counts in perspective"),
        _("Notes"),
    ]
    if has_psa:
        header += [
            _("Value, PSA mean"),
            _("Value, 2.5th percentile"),
            _("Value, 97.5th percentile"),
            _("Events, PSA mean"),
            _("Events, 2.5th percentile"),
            _("Events, 97.5th percentile"),
        ]
    results = _sheet(book, "Results", header)
    for module in result.modules:
        line: list[Any] = [
            module.name,
            module.label,
            module.events_averted,
            module.unit,
            module.value,
            module.perspective,
            "; ".join(module.notes),
        ]
        if psa is not None:
            worth = psa.outputs.get(f"{module.name}.value")
            events = psa.outputs.get(f"{module.name}.events_averted")
            line += [
                worth.mean if worth else None,
                worth.low if worth else None,
                worth.high if worth else None,
                events.mean if events else None,
                events.low if events else None,
                events.high if events else None,
            ]
        results.append(line)
    results.append([])
    totals = (
        ("total_benefit", _("Total benefit"), result.total_benefit),
        ("cost", _("Cost"), result.cost),
        ("net_benefit", _("Net benefit"), result.net_benefit),
        ("benefit_cost_ratio", _("Benefit–cost ratio"), result.benefit_cost_ratio),
    )
    for key, label, total in totals:
        line = ["", label, None, "", total, result.perspective, ""]
        if psa is not None:
            spread = psa.outputs.get(key)
            line += [
                spread.mean if spread else None,
                spread.low if spread else None,
                spread.high if spread else None,
            ]
        results.append(line)
        for cell in results[results.max_row]:
            cell.font = BOLD
    if psa is not None:
        results.append(
            [
                "",
                _("Probability that net benefit is positive"),
                None,
                "",
                psa.probability_net_benefit_positive,
            ]
        )
        results.cell(row=results.max_row, column=5).number_format = SHARE
    for column in (5, 8, 9, 10):
        _format_column(results, column, MONEY)
    for column in (3, 11, 12, 13):
        _format_column(results, column, NUMBER)
    # The ratio is not money: two decimals.
    for row in results.iter_rows(min_row=2):
        if row[1].value == _("Benefit–cost ratio"):
            for cell in row[4:10]:
                if isinstance(cell.value, int | float):
                    cell.number_format = NUMBER
    _widths(results, (12, 40, 14, 22, 16, 16, 40, 16, 16, 16, 14, 14, 14))

    psa_sheet = _sheet(
        book,
        "PSA",
        (_("Output"), _("Mean"), _("Median"), _("2.5th percentile"), _("97.5th percentile")),
    )
    if psa is None:
        psa_sheet.append([_("No probabilistic sensitivity analysis was run (0 draws).")])
    else:
        for key, summary in psa.outputs.items():
            psa_sheet.append([key, summary.mean, summary.median, summary.low, summary.high])
        for column in (2, 3, 4, 5):
            _format_column(psa_sheet, column, NUMBER)
        psa_sheet.append([])
        psa_sheet.append([_("Draws"), psa.draws])
        psa_sheet.append([_("Seed"), psa.seed])
        psa_sheet.append(
            [_("Probability that net benefit is positive"), psa.probability_net_benefit_positive]
        )
        psa_sheet.cell(row=psa_sheet.max_row, column=2).number_format = SHARE
        psa_sheet.append([])
        psa_sheet.append([_("Net benefit histogram: from"), _("to"), _("draws")])
        for cell in psa_sheet[psa_sheet.max_row]:
            cell.font = BOLD
        start = psa_sheet.max_row + 1
        edges, counts = psa.histogram_edges, psa.histogram_counts
        for i, count in enumerate(counts):
            if i + 1 < len(edges):
                psa_sheet.append([edges[i], edges[i + 1], count])
        for column in (1, 2):
            _format_column(psa_sheet, column, MONEY, from_row=start)
    _widths(psa_sheet, (40, 18, 18, 18, 18))

    tornado = _sheet(
        book,
        "Tornado",
        (
            _("Parameter"),
            _("Input"),
            _("Input low"),
            _("Input high"),
            _("Net benefit at low"),
            _("Net benefit at high"),
            _("Swing"),
        ),
    )
    if psa is not None:
        for bar in psa.tornado:
            tornado.append(
                [
                    bar.parameter,
                    bar.label,
                    bar.low_input,
                    bar.high_input,
                    bar.net_benefit_at_low,
                    bar.net_benefit_at_high,
                    abs(bar.net_benefit_at_high - bar.net_benefit_at_low),
                ]
            )
        for column in (5, 6, 7):
            _format_column(tornado, column, MONEY)
    _widths(tornado, (30, 48, 14, 14, 18, 18, 18))

    _about(
        book,
        (
            (_("Site"), site_name),
            (_("Preset"), f"{base.title} ({base.name})"),
            (_("Citation"), base.citation),
            (_("Description"), base.description),
            (_("Currency"), result.currency),
            (_("Price year"), result.price_year),
            (_("Perspective"), perspective_label),
            (_("Perspective rule"), PERSPECTIVE_RULE),
            (_("Uncertainty draws"), psa.draws if psa else 0),
            (_("Seed"), psa.seed if psa else ""),
            (_("Inputs changed from the preset"), ", ".join(_changed(base, scenario)) or _("none")),
            (_("Generated"), generated_at.strftime("%Y-%m-%d %H:%M %Z")),
            (_("Address of this run"), address),
            (
                _("Data"),
                _("Model inputs and aggregate results only; no client-level data."),
            ),
        ),
    )
    return _save(book)


def _changed(base: Preset, scenario: Preset) -> list[str]:
    names = [
        name
        for name, parameter in scenario.parameters.items()
        if name in base.parameters and base.parameters[name].value != parameter.value
    ]
    names += [o for o, v in scenario.options.items() if base.options.get(o) != v]
    names += [
        _("distribution of %(name)s") % {"name": name}
        for name, parameter in scenario.parameters.items()
        if name in base.parameters and base.parameters[name].distribution != parameter.distribution
    ]
    return names


WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def plan_workbook(
    *,
    site_name: str,
    plan: PlanInput,
    result: PlanResult,
    source_text: str,
    target_p95_minutes: float,
    smallest_booths: tuple[int, PlanResult] | None,
    smallest_rooms: tuple[int, PlanResult] | None,
    searched: bool,
    seconds: float,
    generated_at: dt.datetime,
    address: str,
) -> bytes:
    """Inputs, Results, By hour (waits and occupancy), Arrivals (the 168-hour profile), About."""
    book = Workbook()
    inputs = _sheet(book, "Inputs", (_("Input"), _("Value")), first=True)
    for label, value in (
        (_("Arrivals"), source_text),
        (_("Injection booths"), plan.booths),
        (_("Inhalation rooms"), plan.inhalation_rooms),
        (_("Seats per inhalation room"), plan.seats_per_room),
        (_("Patience (mean minutes before leaving)"), plan.patience_minutes),
        (_("Target p95 wait (minutes)"), target_p95_minutes),
        (_("Days simulated"), plan.days),
        (_("Seed"), plan.seed),
        (_("Time in space"), plan.service_distribution),
    ):
        inputs.append([label, value])
    for route, minutes in plan.service_minutes.items():
        inputs.append([_("Mean minutes in space: %(route)s") % {"route": route}, minutes])
    for kind, minutes in plan.clear_down_minutes.items():
        inputs.append([_("Clear-down minutes: %(kind)s") % {"kind": kind}, minutes])
    for route, share in plan.profile.route_mix.items():
        inputs.append([_("Share of visits: %(route)s") % {"route": route}, share])
        inputs.cell(row=inputs.max_row, column=2).number_format = SHARE
    for day, name in enumerate(WEEKDAY_NAMES):
        open_hours = [h for h in range(24) if plan.open_hours[day * 24 + h]]
        text = (
            ", ".join(f"{h:02d}:00–{h + 1:02d}:00" for h in open_hours) if open_hours else "closed"
        )
        inputs.append([_("Open on %(day)s") % {"day": _(name)}, text])
    _widths(inputs, (44, 80))

    results = _sheet(book, "Results", (_("Result"), _("Value")))
    for label, value, fmt in (
        (_("Arrivals"), result.arrivals, "#,##0"),
        (_("Served"), result.served, "#,##0"),
        (_("Median wait (minutes)"), result.median_wait_minutes, NUMBER),
        (_("95th percentile wait (minutes)"), result.p95_wait_minutes, NUMBER),
        (_("Share who left unserved"), result.share_unserved, SHARE),
    ):
        results.append([label, value])
        results.cell(row=results.max_row, column=2).number_format = fmt
    if searched:
        for label, found in (
            (_("Smallest number of booths meeting the target"), smallest_booths),
            (_("Smallest number of inhalation rooms meeting the target"), smallest_rooms),
        ):
            results.append([label, found[0] if found else _("not found within the search limit")])
    results.append([_("Seconds the run took"), round(seconds, 2)])
    _widths(results, (52, 24))

    hourly = _sheet(
        book,
        "By hour",
        (
            _("Hour of day"),
            _("Median wait (minutes)"),
            _("95th percentile wait (minutes)"),
            _("Occupancy"),
        ),
    )
    for hour in range(24):
        hourly.append(
            [
                f"{hour:02d}:00",
                result.median_wait_by_hour[hour]
                if hour < len(result.median_wait_by_hour)
                else None,
                result.p95_wait_by_hour[hour] if hour < len(result.p95_wait_by_hour) else None,
                result.occupancy_by_hour[hour] if hour < len(result.occupancy_by_hour) else None,
            ]
        )
    _format_column(hourly, 2, NUMBER)
    _format_column(hourly, 3, NUMBER)
    _format_column(hourly, 4, SHARE)
    _widths(hourly, (14, 24, 30, 14))

    arrivals = _sheet(book, "Arrivals", (_("Day"), _("Hour"), _("Mean arrivals in the hour")))
    for index, rate in enumerate(plan.profile.rate_per_hour):
        arrivals.append([_(WEEKDAY_NAMES[index // 24]), f"{index % 24:02d}:00", rate])
    _format_column(arrivals, 3, NUMBER)
    _widths(arrivals, (14, 10, 26))

    _about(
        book,
        (
            (_("Site"), site_name),
            (_("Arrival profile"), plan.profile.name),
            (
                _("Model"),
                _("Discrete-event simulation of arrivals, waits, time in space and clear-down."),
            ),
            (_("Seed"), plan.seed),
            (_("Generated"), generated_at.strftime("%Y-%m-%d %H:%M %Z")),
            (_("Address of this run"), address),
            (_("Data"), _("Hourly arrival rates and model results only; no client-level data.")),
        ),
    )
    return _save(book)
