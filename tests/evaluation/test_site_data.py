"""A site's recorded arrivals and set-up, as capacity-planning inputs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from saferoom.core.models import User
from saferoom.evaluation.capacity import ALWAYS_OPEN
from saferoom.evaluation.site_data import recorded_profile, site_plan_defaults
from saferoom.floor.models import Visit
from saferoom.sites.models import OpeningHours, Site, Space

LONDON = ZoneInfo("Europe/London")
MONDAY = dt.date(2025, 3, 24)  # the week the clocks go forward (Sunday 30 March, 01:00 GMT)
SUNDAY = dt.date(2025, 3, 30)
MON, SUN = 0, 6


@pytest.fixture
def arrive(site_a: Site, desk: User) -> Callable[..., Visit]:
    def make(when: dt.datetime, route: str = "inject") -> Visit:
        return Visit.objects.create(
            site=site_a, anonymous=True, arrived_at=when, planned_route=route, created_by=desk
        )

    return make


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), LONDON)


def test_arrivals_count_in_the_sites_local_hour_across_the_clock_change(
    site_a: Site, arrive: Callable[..., Visit]
) -> None:
    arrive(local(MONDAY, 9, 30))  # GMT: 09:30 UTC
    arrive(local(SUNDAY, 0, 30))  # GMT, before the change
    arrive(local(SUNDAY, 10, 15))  # BST: 09:15 UTC, counted at 10:00 local
    arrive(local(SUNDAY, 10, 45), route="smoke")
    # 00:30 BST on Monday 31 March is still Sunday in UTC, but outside the week locally.
    arrive(local(SUNDAY + dt.timedelta(days=1), 0, 30))
    arrive(local(MONDAY - dt.timedelta(days=1), 23, 59))  # the Sunday before
    profile = recorded_profile(site_a, MONDAY, SUNDAY)
    rates = profile.rate_per_hour
    assert rates[MON * 24 + 9] == 1.0
    assert rates[SUN * 24 + 0] == 1.0
    assert rates[SUN * 24 + 10] == 2.0
    assert rates[SUN * 24 + 9] == 0.0
    assert sum(rates) == 4.0
    assert profile.route_mix == {"inject": 0.75, "smoke": 0.25, "snort": 0.0, "oral": 0.0}


def test_a_longer_period_gives_the_mean_per_week(
    site_a: Site, arrive: Callable[..., Visit]
) -> None:
    # Two Mondays in a 10-day period (Monday 24 March to Wednesday 2 April).
    arrive(local(MONDAY, 14, 0))
    arrive(local(MONDAY, 14, 20))
    arrive(local(MONDAY + dt.timedelta(days=7), 14, 10))
    arrive(local(MONDAY + dt.timedelta(days=8), 11, 0))  # one Tuesday of two
    profile = recorded_profile(site_a, MONDAY, MONDAY + dt.timedelta(days=9))
    assert profile.rate_per_hour[MON * 24 + 14] == 1.5
    assert profile.rate_per_hour[1 * 24 + 11] == 0.5


def test_the_profile_comes_from_aggregate_queries(
    site_a: Site, arrive: Callable[..., Visit], django_assert_max_num_queries: Any
) -> None:
    for minute in range(0, 60, 5):
        arrive(local(MONDAY, 12, minute))
    with django_assert_max_num_queries(2):
        profile = recorded_profile(site_a, MONDAY, SUNDAY)
    assert profile.rate_per_hour[12] == 12.0


def test_without_planned_routes_the_allowed_routes_are_equally_likely(
    site_a: Site, arrive: Callable[..., Visit]
) -> None:
    site_a.permitted_routes = ["inject", "smoke"]
    site_a.save()
    arrive(local(MONDAY, 12), route="")
    profile = recorded_profile(site_a, MONDAY, SUNDAY)
    assert profile.route_mix == {"inject": 0.5, "smoke": 0.5, "snort": 0.0, "oral": 0.0}
    assert "no planned routes" in profile.description


def test_another_sites_visits_are_not_counted(site_a: Site, site_b: Site, desk: User) -> None:
    Visit.objects.create(
        site=site_b,
        anonymous=True,
        arrived_at=local(MONDAY, 12),
        planned_route="inject",
        created_by=desk,
    )
    assert sum(recorded_profile(site_a, MONDAY, SUNDAY).rate_per_hour) == 0


def test_a_period_shorter_than_a_week_or_backwards_is_refused(site_a: Site) -> None:
    with pytest.raises(ValueError, match="at least 7 days"):
        recorded_profile(site_a, MONDAY, MONDAY + dt.timedelta(days=5))
    with pytest.raises(ValueError, match="ends before it starts"):
        recorded_profile(site_a, SUNDAY, MONDAY)


def test_plan_defaults_from_the_sites_spaces_and_hours(site_a: Site) -> None:
    # Riverside: four booths, a smoking room with three seats, open 09:00–21:00 every day.
    defaults = site_plan_defaults(site_a)
    assert defaults["booths"] == 4
    assert defaults["inhalation_rooms"] == 1
    assert defaults["seats_per_room"] == 3
    assert defaults["clear_down_minutes"] == {"booth": 2.0, "inhalation": 10.0}
    assert defaults["hours_set"] is True
    flags = defaults["open_hours"]
    assert sum(flags) == 12 * 7
    assert [h for h in range(24) if flags[h]] == list(range(9, 21))


def test_flexible_spaces_count_as_booths_and_seats_are_averaged(site_a: Site) -> None:
    Space.objects.create(site=site_a, name="Flex", kind="flexible")
    Space.objects.create(site=site_a, name="Smoking room 2", kind="inhalation", seats=1)
    defaults = site_plan_defaults(site_a)
    assert defaults["booths"] == 5
    assert defaults["flexible"] == 1
    assert defaults["inhalation_rooms"] == 2
    assert defaults["seats_per_room"] == 2  # (3 + 1) / 2


def test_opening_past_midnight_runs_into_the_next_morning(site_a: Site) -> None:
    site_a.opening_hours.all().delete()
    OpeningHours.objects.create(site=site_a, weekday=6, opens=dt.time(20, 0), closes=dt.time(2, 0))
    flags = site_plan_defaults(site_a)["open_hours"]
    assert [h for h in range(168) if flags[h]] == [
        0,
        1,
        6 * 24 + 20,
        6 * 24 + 21,
        6 * 24 + 22,
        6 * 24 + 23,
    ]


def test_a_site_without_hours_counts_as_always_open(site_a: Site) -> None:
    site_a.opening_hours.all().delete()
    defaults = site_plan_defaults(site_a)
    assert defaults["open_hours"] == ALWAYS_OPEN
    assert defaults["hours_set"] is False
