"""The facts the use indicators read: counts by site, local day and local hour in each site's own
calendar (across midnight, month ends and the days the clocks change), open and occupied
seat-minutes, waits, and the definitions every indicator shares (nearest-rank percentiles,
substance categories).

The records are written straight into the tables, as the desk and the board leave them, so
each test says exactly what happened and when. ``Records`` is the kit the use-indicator tests
share."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterable
from zoneinfo import ZoneInfo

import pytest

from saferoom.clients.models import Client
from saferoom.core.models import User
from saferoom.floor.models import ConsumptionSession, MobileStop, Visit
from saferoom.reports import facts
from saferoom.reports.facts import CountRow, nearest_rank, substance_category
from saferoom.reports.periods import Period, day, month
from saferoom.reports.scopes import site_scope
from saferoom.sites.models import CatalogueItem, Network, OpeningHours, Site, Space
from tests.conftest import make_site, make_user

LONDON = ZoneInfo("Europe/London")
TORONTO = ZoneInfo("America/Toronto")
UTC = dt.UTC
LATER = dt.datetime(2027, 1, 1, tzinfo=UTC)  # "now" for reports on 2026: everything has happened

_codes = itertools.count(1)


def local(
    zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0
) -> dt.datetime:
    """An aware local time (fold 0: the first of a repeated hour)."""
    return dt.datetime(year, month, day, hour, minute, sec, tzinfo=zone)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


class Records:
    """Visits, turn-aways and consumption sessions written as the desk and the board would."""

    def __init__(self, by: User) -> None:
        self.by = by

    def client(self, site: Site, *, gender: str = "male", born: int | None = 1985) -> Client:
        n = next(_codes)
        return Client.objects.create(
            network=site.network,
            display_code=f"T{n:05d}",
            linkage_hash=f"hash-{n}",
            scheme=site.network.client_code_scheme,
            gender=gender,
            year_of_birth=born,
            registered_at=utc(2025, 1, 1),
            registered_site=site,
            registered_by=self.by,
        )

    def visit(
        self,
        site: Site,
        at: dt.datetime,
        client: Client | None = None,
        *,
        otherwise: str = "street",
        left_queue: bool = False,
    ) -> Visit:
        """A visit that has ended (anonymous when no client is named)."""
        return Visit.objects.create(
            site=site,
            client=client,
            anonymous=client is None,
            arrived_at=at,
            state=Visit.State.LEFT,
            planned_route="inject",
            otherwise_location=otherwise,
            created_by=self.by,
            ended_at=at + dt.timedelta(minutes=5 if left_queue else 60),
            ended_by=self.by,
            end_reason=Visit.EndReason.LEFT_QUEUE if left_queue else Visit.EndReason.CHECKED_OUT,
        )

    def turnaway(
        self, site: Site, at: dt.datetime, code: str = "full", client: Client | None = None
    ) -> Visit:
        reason = CatalogueItem.objects.get(
            network=site.network, site=None, kind="turnaway_reason", code=code
        )
        return Visit.objects.create(
            site=site,
            client=client,
            arrived_at=at,
            state=Visit.State.TURNED_AWAY,
            turnaway_reason=reason,
            created_by=self.by,
            ended_at=at,
            ended_by=self.by,
            end_reason=Visit.EndReason.TURNED_AWAY,
        )

    def session(
        self,
        visit: Visit,
        space: str,
        start: dt.datetime,
        end: dt.datetime | None = None,
        *,
        seat: int = 1,
        route: str = "inject",
        substances: Iterable[str] = ("heroin",),
    ) -> ConsumptionSession:
        """A session in the named space; ended at ``end`` with the space's clear-down after it,
        or still open when ``end`` is None."""
        place = Space.objects.get(site=visit.site, name=space)
        session = ConsumptionSession.objects.create(
            site=visit.site,
            visit=visit,
            space=place,
            seat=seat,
            route=route,
            started_at=start,
            started_by=self.by,
            check_interval_minutes=5,
            next_check_due_at=start + dt.timedelta(minutes=5),
            ended_at=end,
            ended_by=self.by if end else None,
            end_reason="finished" if end else "",
            clear_down_until=end + dt.timedelta(minutes=place.clear_down_minutes) if end else None,
        )
        session.substances.set(
            CatalogueItem.objects.filter(
                network=visit.site.network, site=None, kind="substance", code__in=list(substances)
            )
        )
        return session


def toronto_site(network: Network) -> Site:
    """A site of the same network in Toronto (the same spaces and 09:00–21:00 hours as
    Riverside, in its own zone)."""
    return make_site(network, "Lakeshore", "lakeshore", time_zone="America/Toronto")


@pytest.fixture
def records(network: Network) -> Records:
    return Records(make_user("rita.recorder"))


@pytest.fixture
def lakeshore(network: Network) -> Site:
    return toronto_site(network)


def counts(site: Site, period: Period, *measures: str, now: dt.datetime = LATER) -> list[CountRow]:
    return facts.raw_counts([site], period.first, period.last, measures, now)


def cells(rows: Iterable[CountRow]) -> dict[tuple[dt.date, int, str], int]:
    """(day, hour, dim) → value, over every site."""
    out: dict[tuple[dt.date, int, str], int] = defaultdict(int)
    for row in rows:
        out[row.day, row.hour, row.dim] += row.value
    return dict(out)


# --- shared definitions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([1, 2, 3, 4], 50, 2),
        ([1, 2, 3, 4, 5], 50, 3),
        ([1, 2, 3, 4], 90, 4),
        (list(range(1, 11)), 90, 9),
        (list(range(1, 11)), 91, 10),
        ([1, 1, 2, 3, 10], 90, 10),
        ([7], 50, 7),
        ([7], 90, 7),
        ([3, 9], 100, 9),
    ],
)
def test_a_percentile_is_the_smallest_value_with_that_share_at_or_below_it(values, p, expected):
    assert nearest_rank(values, p) == expected


def test_a_percentile_of_nothing_is_not_defined():
    assert nearest_rank([], 50) is None
    with pytest.raises(ValueError, match="above 0"):
        nearest_rank([1], 0)


@pytest.mark.parametrize(
    ("categories", "expected"),
    [
        (set(), "not_recorded"),
        ({"opioid"}, "opioid"),
        ({"stimulant"}, "stimulant"),
        ({"opioid_stimulant"}, "opioid_stimulant"),
        ({"opioid", "stimulant"}, "opioid_stimulant"),
        ({"opioid_stimulant", "opioid"}, "opioid_stimulant"),
        ({"opioid", "stimulant", "opioid_stimulant"}, "opioid_stimulant"),
        ({"opioid", "sedative"}, "mixed"),
        ({"opioid", "stimulant", "sedative"}, "mixed"),
        ({"opioid_stimulant", "other"}, "mixed"),
        ({"sedative"}, "sedative"),
        ({"made_up"}, "other"),
    ],
)
def test_a_session_has_one_substance_category(categories, expected):
    assert substance_category(categories) == expected


# --- visits in the site's own calendar ------------------------------------------------------


def test_a_visit_after_local_midnight_belongs_to_the_next_local_day_and_month(
    site_a, lakeshore, records
):
    # 23:30 UTC on 30 June is 00:30 on 1 July in London (summer time) ...
    records.visit(site_a, utc(2026, 6, 30, 23, 30), records.client(site_a))
    # ... and 03:30 UTC on 1 July is 23:30 on 30 June in Toronto.
    records.visit(lakeshore, utc(2026, 7, 1, 3, 30))

    assert cells(counts(site_a, month(2026, 6), "visit")) == {}
    assert cells(counts(site_a, month(2026, 7), "visit")) == {
        (dt.date(2026, 7, 1), 0, "registered"): 1
    }
    assert cells(counts(lakeshore, month(2026, 6), "visit")) == {
        (dt.date(2026, 6, 30), 23, "anonymous"): 1
    }
    assert cells(counts(lakeshore, month(2026, 7), "visit")) == {}


def test_the_day_the_clocks_go_forward_has_no_one_oclock(site_a, records):
    records.visit(site_a, utc(2026, 3, 28, 23, 59))  # 23:59 GMT on the 28th
    records.visit(site_a, utc(2026, 3, 29, 0, 30))  # 00:30 GMT
    records.visit(site_a, utc(2026, 3, 29, 1, 30))  # 02:30 BST: 01:00–02:00 never happened
    records.visit(site_a, utc(2026, 3, 29, 22, 59))  # 23:59 BST, the day's last minute
    records.visit(site_a, utc(2026, 3, 29, 23, 0))  # 00:00 on the 30th

    assert cells(counts(site_a, day(dt.date(2026, 3, 29)), "visit")) == {
        (dt.date(2026, 3, 29), 0, "anonymous"): 1,
        (dt.date(2026, 3, 29), 2, "anonymous"): 1,
        (dt.date(2026, 3, 29), 23, "anonymous"): 1,
    }


def test_the_day_the_clocks_go_back_has_two_one_oclocks_in_the_same_hour(site_a, records):
    records.visit(site_a, utc(2026, 10, 24, 23, 0))  # 00:00 BST on the 25th
    records.visit(site_a, utc(2026, 10, 25, 0, 30))  # 01:30 BST
    records.visit(site_a, utc(2026, 10, 25, 1, 30))  # 01:30 GMT, the second time round
    records.visit(site_a, utc(2026, 10, 25, 23, 59))  # 23:59 GMT, the 25-hour day's end

    rows = counts(site_a, day(dt.date(2026, 10, 25)), "visit")
    assert cells(rows) == {
        (dt.date(2026, 10, 25), 0, "anonymous"): 1,
        (dt.date(2026, 10, 25), 1, "anonymous"): 2,
        (dt.date(2026, 10, 25), 23, "anonymous"): 1,
    }


def test_a_zone_half_an_hour_from_utc_splits_a_utc_hour_between_two_local_days(network, records):
    kolkata = make_site(network, "Howrah", "howrah", time_zone="Asia/Kolkata")
    records.visit(kolkata, utc(2026, 5, 4, 18, 15))  # 23:45 on 4 May in Kolkata
    records.visit(kolkata, utc(2026, 5, 4, 18, 45))  # 00:15 on 5 May
    rows = counts(kolkata, Period("range", dt.date(2026, 5, 4), dt.date(2026, 5, 5)), "visit")
    assert cells(rows) == {
        (dt.date(2026, 5, 4), 23, "anonymous"): 1,
        (dt.date(2026, 5, 5), 0, "anonymous"): 1,
    }


def test_turned_away_arrivals_count_only_as_turnaways_by_reason(site_a, records):
    noon = local(LONDON, 2026, 5, 4, 12)
    records.visit(site_a, noon, otherwise="park")
    records.turnaway(site_a, noon, "full")
    records.turnaway(site_a, noon, "under_age")
    records.turnaway(site_a, noon, "pregnant")
    records.turnaway(site_a, noon, "refused_rules", client=records.client(site_a))

    rows = counts(site_a, day(noon.date()), "visit", "turnaway", "otherwise")
    by_measure = {(r.measure, r.dim): r.value for r in rows}
    assert by_measure == {
        ("visit", "anonymous"): 1,
        ("otherwise", "public"): 1,
        ("turnaway", "capacity"): 1,
        ("turnaway", "not_eligible"): 2,
        ("turnaway", "other"): 1,
    }


def test_episodes_count_at_their_start_by_route_substance_and_space(site_a, records):
    arrived = local(LONDON, 2026, 5, 4, 23, 40)
    first = records.visit(site_a, arrived, otherwise="shelter")
    records.session(
        first, "Booth 1", arrived + dt.timedelta(minutes=10), substances=("heroin", "crack")
    )
    second = records.visit(site_a, arrived)
    # Starts after midnight: the next day's episode, though the visit arrived the day before.
    records.session(
        second,
        "Smoking room",
        arrived + dt.timedelta(minutes=30),
        route="smoke",
        substances=("crack", "benzodiazepine"),
    )
    third = records.visit(site_a, arrived, otherwise="not_said")
    records.session(third, "Booth 2", arrived + dt.timedelta(minutes=5), substances=())

    measures = ("episode.route", "episode.substance", "episode.space", "episode.otherwise")
    rows = counts(site_a, day(dt.date(2026, 5, 4)), *measures)
    assert {(r.measure, r.dim, r.hour): r.value for r in rows} == {
        ("episode.route", "inject", 23): 2,
        ("episode.substance", "opioid_stimulant", 23): 1,
        ("episode.substance", "not_recorded", 23): 1,
        ("episode.space", "booth", 23): 2,
        ("episode.otherwise", "semi_public", 23): 1,
        ("episode.otherwise", "unknown", 23): 1,
    }
    next_day = counts(site_a, day(dt.date(2026, 5, 5)), *measures)
    assert {(r.measure, r.dim, r.hour): r.value for r in next_day} == {
        ("episode.route", "smoke", 0): 1,
        ("episode.substance", "mixed", 0): 1,
        ("episode.space", "inhalation", 0): 1,
        ("episode.otherwise", "public", 0): 1,
    }


def test_a_wait_runs_from_arrival_to_the_first_session_in_whole_minutes(site_a, records):
    arrived = local(LONDON, 2026, 5, 4, 10, 0, 30)
    visit = records.visit(site_a, arrived)
    # 4 minutes 50 seconds: floored to 4. The second session does not count.
    records.session(
        visit,
        "Smoking room",
        arrived + dt.timedelta(minutes=4, seconds=50),
        arrived + dt.timedelta(minutes=30),
        route="smoke",
    )
    records.session(visit, "Booth 1", arrived + dt.timedelta(minutes=40))
    records.visit(site_a, arrived + dt.timedelta(hours=1), left_queue=True)
    never_seen = records.visit(site_a, arrived + dt.timedelta(hours=2))

    rows = counts(site_a, day(arrived.date()), "wait", "left_queue")
    assert {(r.measure, r.hour, r.dim): r.value for r in rows} == {
        ("wait", 10, "inhalation:4"): 1,
        ("left_queue", 11, ""): 1,
    }
    assert never_seen.sessions.count() == 0


def test_an_unknown_measure_is_refused(site_a):
    with pytest.raises(ValueError, match="Unknown measure visits"):
        counts(site_a, day(dt.date(2026, 5, 4)), "visits")


# --- seat-minutes ---------------------------------------------------------------------------


def night_site(network: Network, *, slug: str = "nightly", opens_on: int = 5) -> Site:
    """A London site open one night a week (Saturday 22:00 to Sunday 06:00 unless told), with
    two booths, a three-seat smoking room, a booth out of service and an after-care area."""
    site = Site.objects.create(network=network, name=slug.title(), slug=slug)
    OpeningHours.objects.create(
        site=site, weekday=opens_on, opens=dt.time(22, 0), closes=dt.time(6, 0)
    )
    Space.objects.create(site=site, name="Booth 1", kind="booth")
    Space.objects.create(site=site, name="Booth 2", kind="booth")
    Space.objects.create(site=site, name="Booth 3", kind="booth", out_of_service=True)
    Space.objects.create(
        site=site, name="Smoking room", kind="inhalation", seats=3, clear_down_minutes=10
    )
    Space.objects.create(site=site, name="Recovery", kind="aftercare", seats=8)
    return site


def open_cells(
    site: Site, period: Period, now: dt.datetime = LATER
) -> dict[tuple[dt.date, int, str], int]:
    rows = facts.open_seat_minutes(site_scope(site, period, now=now))
    assert all(r.measure == "open" and r.site_id == site.pk for r in rows)
    return cells(rows)


def test_open_seat_minutes_follow_the_opening_hours_past_midnight(network):
    site = night_site(network)
    # Saturday 2 May 2026: 22:00–24:00, two booths (the third is out of service) and three
    # smoking seats. Sunday 3 May: 00:00–06:00 of the same opening.
    saturday = open_cells(site, day(dt.date(2026, 5, 2)))
    assert saturday == {
        (dt.date(2026, 5, 2), 22, "booth"): 120,
        (dt.date(2026, 5, 2), 23, "booth"): 120,
        (dt.date(2026, 5, 2), 22, "inhalation"): 180,
        (dt.date(2026, 5, 2), 23, "inhalation"): 180,
    }
    sunday = open_cells(site, day(dt.date(2026, 5, 3)))
    assert sum(v for (_d, _h, kind), v in sunday.items() if kind == "booth") == 6 * 60 * 2
    assert {h for (_d, h, _k) in sunday} == {0, 1, 2, 3, 4, 5}
    assert open_cells(site, day(dt.date(2026, 5, 4))) == {}


def test_the_short_night_and_the_long_night_when_the_clocks_change(network):
    site = night_site(network)
    # Saturday 28 March 22:00 to Sunday 06:00 is seven hours; 25 October's is nine.
    spring = open_cells(site, Period("range", dt.date(2026, 3, 28), dt.date(2026, 3, 29)))
    booth = {(d, h): v for (d, h, kind), v in spring.items() if kind == "booth"}
    assert sum(booth.values()) == 7 * 60 * 2
    assert (dt.date(2026, 3, 29), 1) not in booth
    autumn = open_cells(site, Period("range", dt.date(2026, 10, 24), dt.date(2026, 10, 25)))
    booth = {(d, h): v for (d, h, kind), v in autumn.items() if kind == "booth"}
    assert sum(booth.values()) == 9 * 60 * 2
    assert booth[dt.date(2026, 10, 25), 1] == 2 * 60 * 2


def test_nothing_is_open_after_the_report_runs(network):
    site = night_site(network)
    now = local(LONDON, 2026, 5, 3, 1, 30)
    rows = open_cells(site, month(2026, 5), now=now)
    assert sum(v for (_d, _h, kind), v in rows.items() if kind == "booth") == 210 * 2


def test_overlapping_opening_rows_are_open_once(network):
    site = night_site(network, opens_on=0)
    OpeningHours.objects.create(site=site, weekday=0, opens=dt.time(23, 0), closes=dt.time(1, 0))
    rows = open_cells(site, Period("range", dt.date(2026, 5, 4), dt.date(2026, 5, 5)))
    assert sum(v for (_d, _h, kind), v in rows.items() if kind == "booth") == 8 * 60 * 2


def test_a_mobile_unit_is_open_while_it_stands_at_a_stop(network, records):
    van = make_site(network, "The van", "van", kind="mobile")
    MobileStop.objects.create(
        site=van,
        place="Market square",
        opened_at=local(LONDON, 2026, 5, 4, 10, 0),
        opened_by=records.by,
        closed_at=local(LONDON, 2026, 5, 4, 12, 30),
        closed_by=records.by,
    )
    MobileStop.objects.create(
        site=van,
        place="Station",
        opened_at=local(LONDON, 2026, 5, 4, 23, 0),
        opened_by=records.by,
    )
    now = local(LONDON, 2026, 5, 5, 0, 15)
    rows = open_cells(van, month(2026, 5), now=now)
    # Four booths of one seat: 150 minutes at the square, 75 at the station so far.
    booth = {(d, h): v for (d, h, kind), v in rows.items() if kind == "booth"}
    assert booth == {
        (dt.date(2026, 5, 4), 10): 240,
        (dt.date(2026, 5, 4), 11): 240,
        (dt.date(2026, 5, 4), 12): 120,
        (dt.date(2026, 5, 4), 23): 240,
        (dt.date(2026, 5, 5), 0): 60,
    }


def test_occupied_minutes_run_to_the_end_of_clear_down_split_by_hour_and_day(site_a, records):
    arrived = local(LONDON, 2026, 5, 4, 20, 40)
    visit = records.visit(site_a, arrived)
    # 20:50–21:05 in a booth with two minutes' clear-down: 10 minutes at 20, 7 at 21.
    records.session(
        visit, "Booth 1", arrived + dt.timedelta(minutes=10), local(LONDON, 2026, 5, 4, 21, 5)
    )
    late = records.visit(site_a, local(LONDON, 2026, 5, 4, 23, 30))
    # 23:45 to 00:20 in the smoking room, ten minutes' clear-down: across midnight.
    records.session(
        late,
        "Smoking room",
        local(LONDON, 2026, 5, 4, 23, 45),
        local(LONDON, 2026, 5, 5, 0, 20),
        route="smoke",
    )
    still_in = records.visit(site_a, local(LONDON, 2026, 5, 5, 9, 0))
    records.session(still_in, "Booth 2", local(LONDON, 2026, 5, 5, 9, 40))
    now = local(LONDON, 2026, 5, 5, 10, 10)

    rows = counts(
        site_a, Period("range", dt.date(2026, 5, 4), dt.date(2026, 5, 5)), "occupied", now=now
    )
    assert cells(rows) == {
        (dt.date(2026, 5, 4), 20, "booth"): 10,
        (dt.date(2026, 5, 4), 21, "booth"): 7,
        (dt.date(2026, 5, 4), 23, "inhalation"): 15,
        (dt.date(2026, 5, 5), 0, "inhalation"): 30,
        (dt.date(2026, 5, 5), 9, "booth"): 20,
        (dt.date(2026, 5, 5), 10, "booth"): 10,
    }
    # A day's report sees only its own part of a session across midnight.
    assert (
        cells(counts(site_a, day(dt.date(2026, 5, 5)), "occupied", now=now))[
            dt.date(2026, 5, 5), 0, "inhalation"
        ]
        == 30
    )
