"""Report periods are the site's local calendar, whatever the clocks do."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from saferoom.reports.periods import PeriodError, parse_period

LONDON = "Europe/London"


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2026-03-14", date(2026, 3, 14), date(2026, 3, 14)),
        ("2026-W11", date(2026, 3, 9), date(2026, 3, 15)),
        ("2026-03", date(2026, 3, 1), date(2026, 3, 31)),
        ("2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        ("2028-02", date(2028, 2, 1), date(2028, 2, 29)),
        ("2026-q4", date(2026, 10, 1), date(2026, 12, 31)),
        ("2026", date(2026, 1, 1), date(2026, 12, 31)),
        ("2026-03-01..2026-04-15", date(2026, 3, 1), date(2026, 4, 15)),
    ],
)
def test_every_written_form_reads_as_the_days_it_names(text, first, last):
    period = parse_period(text)
    assert (period.first, period.last) == (first, last)
    assert parse_period(period.code) == period


@pytest.mark.parametrize(
    "text", ["", "March", "2026-13", "2026-02-30", "2026-W54", "2026-Q5", "2026-04-01..2026-03-01"]
)
def test_anything_else_is_refused_with_the_forms_that_work(text):
    with pytest.raises(PeriodError, match=r"2026-W11|cannot end before"):
        parse_period(text)


def test_a_month_starts_and_ends_at_local_midnight():
    start, end = parse_period("2026-07").bounds(LONDON)
    assert start.astimezone(UTC) == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 7, 31, 23, 0, tzinfo=UTC)


def test_the_day_the_clocks_go_forward_is_twenty_three_hours_long():
    start, end = parse_period("2026-03-29").bounds(LONDON)
    assert (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() == 23 * 3600


def test_the_day_the_clocks_go_back_is_twenty_five_hours_long():
    start, end = parse_period("2026-10-25").bounds(LONDON)
    assert (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() == 25 * 3600


@pytest.mark.parametrize(
    ("text", "previous"),
    [
        ("2026-03-01", "2026-02-28"),
        ("2026-W01", "2025-W52"),
        ("2026-01", "2025-12"),
        ("2026-Q1", "2025-Q4"),
        ("2026", "2025"),
        ("2026-03-11..2026-03-20", "2026-03-01..2026-03-10"),
    ],
)
def test_each_period_knows_the_one_before_it_for_comparisons(text, previous):
    assert parse_period(text).previous().code == previous


def test_a_range_splits_into_the_calendar_months_it_touches():
    months = parse_period("2026-01-15..2026-03-31").months()
    assert [m.code for m in months] == ["2026-01-15..2026-01-31", "2026-02", "2026-03"]
