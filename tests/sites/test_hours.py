"""Opening hours: the weekly table editor, and how the site decides whether it is open
(periods past midnight, and the days the clocks change in Europe/London)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.sites import actions
from saferoom.sites.actions import Period
from saferoom.sites.models import OpeningHours, Site
from tests.sites.helpers import audit_count
from tests.versions import version_of

LONDON = ZoneInfo("Europe/London")
UTC = dt.UTC


def url(site: Site) -> str:
    return reverse("sites:hours", kwargs={"site": site.slug})


def week(**periods: tuple[str, str]) -> dict[str, str]:
    """Form data: keys like ``d0_0`` (Monday, first row) → (opens, closes), from a page opened
    on the site as made (version 1)."""
    data: dict[str, str] = {"version": "1"}
    for key, (opens, closes) in periods.items():
        data[f"{key}_opens"] = opens
        data[f"{key}_closes"] = closes
    return data


def hours_of(site: Site) -> list[tuple[int, str, str]]:
    return [
        (h.weekday, f"{h.opens:%H:%M}", f"{h.closes:%H:%M}")
        for h in site.opening_hours.order_by("weekday", "opens")
    ]


def set_hours(site: Site, *periods: tuple[int, str, str]) -> None:
    site.opening_hours.all().delete()
    for weekday, opens, closes in periods:
        OpeningHours.objects.create(
            site=site,
            weekday=weekday,
            opens=dt.time.fromisoformat(opens),
            closes=dt.time.fromisoformat(closes),
        )


# --- The editor --------------------------------------------------------------------------------


def test_the_table_shows_the_current_week(as_manager, site_a):
    html = as_manager.get(url(site_a)).content.decode()
    assert 'name="d0_0_opens" value="09:00"' in html
    assert 'name="d6_0_closes" value="21:00"' in html
    assert "Monday, period 1, opens" in html  # every time box has an accessible name


def test_a_manager_sets_a_week_with_a_split_day_and_a_late_night(as_manager, site_a, manager):
    data = week(
        d0_0=("09:00", "13:00"),
        d0_1=("17:00", "21:00"),
        d4_0=("09:00", "03:00"),  # Friday, open until 3 on Saturday morning
    )
    response = as_manager.post(url(site_a), data)
    assert response.status_code == 302
    assert hours_of(site_a) == [(0, "09:00", "13:00"), (0, "17:00", "21:00"), (4, "09:00", "03:00")]
    event = AuditEvent.objects.get(action="site.opening_hours_changed")
    assert event.actor_label == manager.username
    assert "Friday 09:00–03:00" in event.detail["to"]


def test_periods_that_only_touch_are_allowed(as_manager, site_a):
    data = week(d0_0=("00:00", "12:00"), d0_1=("12:00", "00:00"), d1_0=("00:00", "08:00"))
    assert as_manager.post(url(site_a), data).status_code == 302
    assert len(hours_of(site_a)) == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (week(d0_0=("10:00", "10:00")), "opens and closes at the same time"),
        (
            week(d0_0=("09:00", "17:00"), d0_1=("16:00", "20:00")),
            "Monday 09:00–17:00 overlaps Monday 16:00–20:00",
        ),
        # Friday's late night runs into Saturday's morning period.
        (
            week(d4_0=("20:00", "03:00"), d5_0=("02:00", "10:00")),
            "Friday 20:00–03:00 overlaps Saturday 02:00–10:00",
        ),
        # Sunday night runs into Monday morning, across the end of the week.
        (
            week(d0_0=("01:00", "05:00"), d6_0=("22:00", "02:00")),
            "Monday 01:00–05:00 overlaps Sunday 22:00–02:00",
        ),
        (week(d0_0=("09:00", "")), "Give both the opening and the closing time"),
        (week(d0_0=("", "17:00")), "Give both the opening and the closing time"),
        (week(d0_0=("nine", "17:00")), "Give a time such as 09:30"),
        (week(d0_0=("25:00", "17:00")), "Give a time such as 09:30"),
        (week(d0_0=("<script>", "17:00")), "Give a time such as 09:30"),
    ],
)
def test_bad_periods_are_refused_and_nothing_changes(as_manager, site_a, data, message):
    before_hours, before_audit = hours_of(site_a), audit_count()
    response = as_manager.post(url(site_a), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert hours_of(site_a) == before_hours
    assert audit_count() == before_audit


def test_rows_beyond_the_table_are_ignored(as_manager, site_a):
    data = week(d0_0=("09:00", "17:00"), d0_5=("18:00", "19:00"), d9_0=("01:00", "02:00"))
    assert as_manager.post(url(site_a), data).status_code == 302
    assert hours_of(site_a) == [(0, "09:00", "17:00")]


def test_the_action_refuses_overlaps_and_empty_periods(site_a, manager):
    before = hours_of(site_a)
    with pytest.raises(ActionRefused, match="overlaps"):
        actions.set_opening_hours(
            site=site_a,
            periods=[Period(0, dt.time(9), dt.time(17)), Period(0, dt.time(12), dt.time(13))],
            by=manager,
            expected_version=version_of(site_a),
        )
    with pytest.raises(ActionRefused, match="same time"):
        actions.set_opening_hours(
            site=site_a,
            periods=[Period(2, dt.time(10), dt.time(10))],
            by=manager,
            expected_version=version_of(site_a),
        )
    assert hours_of(site_a) == before


def test_a_desk_worker_cannot_change_the_hours_through_the_action(site_a, desk):
    with pytest.raises(ActionRefused):
        actions.set_opening_hours(
            site=site_a, periods=[], by=desk, expected_version=version_of(site_a)
        )
    assert len(hours_of(site_a)) == 7


# --- Is the site open? ------------------------------------------------------------------------


def at(year: int, month: int, day: int, hour: int, minute: int = 0, tz=LONDON) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=tz)


def test_a_normal_day(site_a):
    set_hours(site_a, (2, "09:00", "21:00"))  # Wednesday
    wednesday = (2025, 1, 15)
    assert not site_a.is_open(at(*wednesday, 8, 59))
    assert site_a.is_open(at(*wednesday, 9, 0))
    assert site_a.opening_on(at(*wednesday, 12)) == (at(*wednesday, 9), at(*wednesday, 21))
    assert not site_a.is_open(at(*wednesday, 21, 0))  # closing time itself is closed
    assert not site_a.is_open(at(2025, 1, 16, 12))  # Thursday has no hours


def test_a_period_that_runs_past_midnight(site_a):
    set_hours(site_a, (4, "09:00", "03:00"))  # Friday 09:00 to Saturday 03:00
    assert site_a.is_open(at(2025, 1, 17, 23, 30))  # Friday night
    assert site_a.is_open(at(2025, 1, 18, 2, 59))  # Saturday early morning
    assert site_a.opening_on(at(2025, 1, 18, 1)) == (at(2025, 1, 17, 9), at(2025, 1, 18, 3))
    assert not site_a.is_open(at(2025, 1, 18, 3, 0))
    assert not site_a.is_open(at(2025, 1, 17, 2))  # Friday early morning belongs to Thursday


def test_the_moment_may_be_given_in_any_time_zone(site_a):
    set_hours(site_a, (2, "09:00", "21:00"))
    # 08:30 UTC is 09:30 in London in summer (BST).
    assert site_a.is_open(dt.datetime(2025, 7, 16, 8, 30, tzinfo=UTC))
    assert not site_a.is_open(dt.datetime(2025, 1, 15, 8, 30, tzinfo=UTC))


def test_the_night_the_clocks_go_forward(site_a):
    # Saturday 29 March 2025, 20:00 to Sunday 03:00; at 01:00 GMT the clocks jump to 02:00 BST,
    # so the period lasts an hour less in real time and ends at 02:00 UTC.
    set_hours(site_a, (5, "20:00", "03:00"))
    assert site_a.is_open(dt.datetime(2025, 3, 30, 0, 30, tzinfo=UTC))  # 00:30 GMT
    assert site_a.is_open(dt.datetime(2025, 3, 30, 1, 30, tzinfo=UTC))  # 02:30 BST
    assert not site_a.is_open(dt.datetime(2025, 3, 30, 2, 0, tzinfo=UTC))  # 03:00 BST
    start, end = site_a.opening_on(dt.datetime(2025, 3, 30, 1, 30, tzinfo=UTC))
    # Durations are measured in UTC: datetimes sharing a zone subtract on their wall clocks.
    assert end.astimezone(UTC) - start.astimezone(UTC) == dt.timedelta(hours=6)
    assert end.astimezone(UTC) == dt.datetime(2025, 3, 30, 2, 0, tzinfo=UTC)


def test_the_night_the_clocks_go_back(site_a):
    # Saturday 25 October 2025, 20:00 to Sunday 01:30. At 02:00 BST the clocks go back to 01:00
    # GMT, so 01:30 happens twice; the period ends at the first 01:30 (00:30 UTC) and the
    # second 01:30 (01:30 UTC) is already closed.
    set_hours(site_a, (5, "20:00", "01:30"))
    assert site_a.is_open(dt.datetime(2025, 10, 26, 0, 15, tzinfo=UTC))  # 01:15 BST
    assert not site_a.is_open(dt.datetime(2025, 10, 26, 0, 45, tzinfo=UTC))  # 01:45 BST
    assert not site_a.is_open(dt.datetime(2025, 10, 26, 1, 15, tzinfo=UTC))  # 01:15 GMT
    start, end = site_a.opening_on(dt.datetime(2025, 10, 26, 0, 15, tzinfo=UTC))
    assert end.astimezone(UTC) - start.astimezone(UTC) == dt.timedelta(hours=5, minutes=30)


def test_a_whole_day_in_the_clock_change_week_is_open_throughout(site_a):
    # 24 hours as two periods, 00:00–12:00 and 12:00–00:00, on the Sunday the clocks go forward.
    set_hours(site_a, (6, "00:00", "12:00"), (6, "12:00", "00:00"))
    moment = dt.datetime(2025, 3, 30, 0, 0, tzinfo=UTC)  # Sunday 00:00 GMT
    while moment < dt.datetime(2025, 3, 30, 23, 0, tzinfo=UTC):  # Monday 00:00 BST
        assert site_a.is_open(moment), moment
        moment += dt.timedelta(minutes=30)
    assert not site_a.is_open(moment)
    assert not site_a.is_open(dt.datetime(2025, 3, 29, 23, 59, tzinfo=UTC))  # Saturday 23:59
