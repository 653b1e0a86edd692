"""The period chooser of the report pages: quick choices (today, this week, this month, last
month, this quarter, this year) as links, and any period typed as ``parse_period`` reads it
(2026-03, 2026-Q1, 2026-03-01..2026-04-15). The period travels in the query string
(``?period=2026-03``): it is not personal data, and a report has an address to share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from saferoom.reports import periods
from saferoom.reports.periods import EXAMPLES, Period, PeriodError, parse_period

# The calendar a report may cover: enough for any service's history, and far from the edges
# of Python's dates (a period's "previous" must exist too).
FIRST_YEAR = 2000
LAST_YEAR = 2099
MAX_DAYS = 5 * 366

EXPORT_FORMATS = (
    ("csv", _("CSV (spreadsheet text)")),
    ("xlsx", _("XLSX (Excel workbook)")),
    ("json", _("JSON (for other software)")),
)


@dataclass(frozen=True)
class QuickChoice:
    label: str
    period: Period


def quick_choices(today: date) -> list[QuickChoice]:
    """The usual periods, in the site's calendar on ``today``."""
    this_month = periods.month(today.year, today.month)
    last_month = this_month.previous()
    return [
        QuickChoice(str(_("Today")), periods.day(today)),
        QuickChoice(str(_("This week")), periods.week_of(today)),
        QuickChoice(str(_("This month")), this_month),
        QuickChoice(str(_("Last month")), last_month),
        QuickChoice(
            str(_("This quarter")), periods.quarter(today.year, (today.month - 1) // 3 + 1)
        ),
        QuickChoice(str(_("This year")), periods.year(today.year)),
    ]


def default_period(today: date) -> Period:
    """What a report shows before anyone chooses: this month so far."""
    return periods.month(today.year, today.month)


def read_period(text: str) -> Period:
    """A typed period, within the calendar reports cover; PeriodError says what went wrong."""
    period = parse_period(text)
    if period.first.year < FIRST_YEAR or period.last.year > LAST_YEAR:
        raise PeriodError(
            str(_("Choose a period between the years %(first)s and %(last)s."))
            % {"first": FIRST_YEAR, "last": LAST_YEAR}
        )
    if period.days > MAX_DAYS:
        raise PeriodError(str(_("A report covers at most five years. Choose a shorter period.")))
    return period


class PeriodForm(forms.Form):
    """``period`` (empty: the default); ``cleaned_data["period"]`` is a Period."""

    period = forms.CharField(
        label=_("Any period"),
        max_length=40,
        required=False,
        help_text=_("For example 2026-03 (a month), 2026-Q1, 2026, or 2026-03-01..2026-04-15."),
    )

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["period"].widget.attrs.update(
            {"autocomplete": "off", "spellcheck": "false", "inputmode": "text"}
        )

    def clean_period(self) -> Period:
        text = (self.cleaned_data.get("period") or "").strip()
        if not text:
            return default_period(self.today)
        try:
            return read_period(text)
        except PeriodError as error:
            message = str(error)
            if "end before it starts" in message:
                message = str(_("A period cannot end before it starts."))
            elif "is not a period" in message:
                message = str(
                    _("That is not a period we can read. Write one of: %(examples)s.")
                    % {"examples": EXAMPLES}
                )
            raise forms.ValidationError(message, code="invalid_period") from None


class ExportForm(PeriodForm):
    """A download: the period and the file format."""

    format = forms.ChoiceField(
        label=_("File format"),
        choices=EXPORT_FORMATS,
        initial="csv",
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose a file format: CSV, XLSX or JSON."),
            "invalid_choice": _("Choose a file format: CSV, XLSX or JSON."),
        },
    )
