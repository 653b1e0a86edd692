"""Report periods in a site's local calendar: a day, week, month, quarter, year or any range of
days, and the UTC instants that bound it (so a month in Glasgow starts at local midnight on the
1st, whatever the clocks did in between).

Written forms, as people type them on the command line and in URLs:

    2026-03-14          a day
    2026-W11            an ISO week (Monday to Sunday)
    2026-03             a month
    2026-Q1             a quarter
    2026                a year
    2026-03-01..2026-04-15   any range of days, both ends included
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

KINDS = ("day", "week", "month", "quarter", "year", "range")


class PeriodError(ValueError):
    """A period that cannot be read; the message says what was expected."""


@dataclass(frozen=True)
class Period:
    kind: str
    first: date  # the first day, included
    last: date  # the last day, included

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise PeriodError("A period cannot end before it starts.")

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def code(self) -> str:
        """The written form, which ``parse_period`` reads back."""
        if self.kind == "day":
            return self.first.isoformat()
        if self.kind == "week":
            iso_year, iso_week, _ = self.first.isocalendar()
            return f"{iso_year}-W{iso_week:02d}"
        if self.kind == "month":
            return f"{self.first:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.first.year}-Q{(self.first.month - 1) // 3 + 1}"
        if self.kind == "year":
            return str(self.first.year)
        return f"{self.first.isoformat()}..{self.last.isoformat()}"

    def bounds(self, zone: ZoneInfo | str) -> tuple[datetime, datetime]:
        """[start, end) as aware datetimes: local midnight of the first day to local midnight
        after the last day, in the site's zone."""
        tz = ZoneInfo(zone) if isinstance(zone, str) else zone
        start = datetime.combine(self.first, time.min, tzinfo=tz)
        end = datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=tz)
        return start, end

    def previous(self) -> Period:
        """The period of the same kind just before (for comparisons)."""
        if self.kind == "day":
            return day(self.first - timedelta(days=1))
        if self.kind == "week":
            return week_of(self.first - timedelta(days=7))
        if self.kind == "month":
            return month(*_shift_month(self.first.year, self.first.month, -1))
        if self.kind == "quarter":
            y, mon = _shift_month(self.first.year, self.first.month, -3)
            return quarter(y, (mon - 1) // 3 + 1)
        if self.kind == "year":
            return year(self.first.year - 1)
        length = timedelta(days=self.days)
        return Period("range", self.first - length, self.last - length)

    def months(self) -> list[Period]:
        """The calendar months this period touches, clipped to it (Health Canada counts unique
        clients per calendar month)."""
        result = []
        cursor = self.first.replace(day=1)
        while cursor <= self.last:
            whole = month(cursor.year, cursor.month)
            result.append(
                Period(
                    "month" if whole.first >= self.first and whole.last <= self.last else "range",
                    max(whole.first, self.first),
                    min(whole.last, self.last),
                )
            )
            cursor = whole.last + timedelta(days=1)
        return result


def _shift_month(year_: int, mon: int, by: int) -> tuple[int, int]:
    index = year_ * 12 + (mon - 1) + by
    return index // 12, index % 12 + 1


def day(d: date) -> Period:
    return Period("day", d, d)


def week_of(d: date) -> Period:
    monday = d - timedelta(days=d.weekday())
    return Period("week", monday, monday + timedelta(days=6))


def month(year_: int, mon: int) -> Period:
    first = date(year_, mon, 1)
    next_year, next_month = _shift_month(year_, mon, 1)
    return Period("month", first, date(next_year, next_month, 1) - timedelta(days=1))


def quarter(year_: int, q: int) -> Period:
    first = date(year_, 3 * (q - 1) + 1, 1)
    end_year, end_month = _shift_month(year_, first.month, 3)
    return Period("quarter", first, date(end_year, end_month, 1) - timedelta(days=1))


def year(year_: int) -> Period:
    return Period("year", date(year_, 1, 1), date(year_, 12, 31))


_PATTERNS = [
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"), "day"),
    (re.compile(r"^(\d{4})-W(\d{2})$"), "week"),
    (re.compile(r"^(\d{4})-(\d{2})$"), "month"),
    (re.compile(r"^(\d{4})-Q([1-4])$"), "quarter"),
    (re.compile(r"^(\d{4})$"), "year"),
]

EXAMPLES = "2026-03-14, 2026-W11, 2026-03, 2026-Q1, 2026, or 2026-03-01..2026-04-15"


def parse_period(text: str) -> Period:
    """Read a written period; anything else is refused with the forms that are understood."""
    value = (text or "").strip().upper()
    try:
        if ".." in value:
            first_text, last_text = value.split("..", 1)
            return Period("range", date.fromisoformat(first_text), date.fromisoformat(last_text))
        for pattern, kind in _PATTERNS:
            match = pattern.match(value)
            if not match:
                continue
            numbers = [int(part) for part in match.groups()]
            if kind == "day":
                return day(date(*numbers))
            if kind == "week":
                return week_of(date.fromisocalendar(numbers[0], numbers[1], 1))
            if kind == "month":
                return month(numbers[0], numbers[1])
            if kind == "quarter":
                return quarter(numbers[0], numbers[1])
            return year(numbers[0])
    except PeriodError:
        raise
    except ValueError:
        pass
    raise PeriodError(f"{text!r} is not a period. Write one of: {EXAMPLES}.")
