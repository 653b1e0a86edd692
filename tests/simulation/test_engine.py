"""The simulator's engine: deterministic, within opening hours, and at published rates."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest

from saferoom.simulation import engine
from saferoom.simulation.engine import (
    Arrival,
    Departure,
    Emergency,
    LeftQueue,
    OpeningSpec,
    SessionEnded,
    SessionStarted,
    SimDay,
    SiteSpec,
    SpaceSpec,
    StopClosed,
    StopOpened,
    generate,
    tally,
)
from saferoom.simulation.profiles import PROFILES, get_profile

LONDON = ZoneInfo("Europe/London")
START = dt.date(2025, 1, 6)  # a Monday


def every_day(opens: int, closes: int) -> tuple[OpeningSpec, ...]:
    return tuple(OpeningSpec(d, dt.time(opens), dt.time(closes)) for d in range(7))


INJECTION_ONLY = SiteSpec(
    time_zone="Europe/London",
    opening=every_day(9, 21),
    spaces=(*[SpaceSpec("booth")] * 8, SpaceSpec("aftercare", seats=8)),
    permitted_routes=frozenset({"inject"}),
    check_first_time_use=False,
)
MIXED = SiteSpec(
    time_zone="Europe/London",
    opening=every_day(10, 22),
    spaces=(
        *[SpaceSpec("booth")] * 12,
        SpaceSpec("inhalation", seats=3, clear_down_minutes=10),
        SpaceSpec("inhalation", seats=3, clear_down_minutes=10),
        SpaceSpec("flexible", clear_down_minutes=5),
        SpaceSpec("flexible", clear_down_minutes=5),
        SpaceSpec("aftercare", seats=12),
    ),
    anonymous_allowed=True,
)


E = TypeVar("E")


def events_of(days: Iterable[SimDay], kind: type[E]) -> list[E]:
    return [e for day in days for e in day.events if isinstance(e, kind)]


def test_the_same_seed_gives_the_same_stream():
    first = list(generate(MIXED, get_profile("nrw"), start=START, days=14, seed=42))
    second = list(generate(MIXED, get_profile("nrw"), start=START, days=14, seed=42))
    assert [d.events for d in first] == [d.events for d in second]
    assert sum(len(d.events) for d in first) > 1000


def test_another_seed_gives_another_stream():
    first = list(generate(MIXED, get_profile("nrw"), start=START, days=7, seed=1))
    second = list(generate(MIXED, get_profile("nrw"), start=START, days=7, seed=2))
    assert [d.events for d in first] != [d.events for d in second]


def test_negative_days_are_refused():
    with pytest.raises(ValueError, match="negative"):
        generate(MIXED, get_profile("nrw"), start=START, days=-1, seed=1)


def test_emergencies_run_at_8_to_14_per_1000_episodes_over_a_long_run():
    counts = tally(generate(MIXED, get_profile("nrw"), start=START, days=240, seed=7))
    assert counts.episodes > 25_000
    assert 8 <= counts.per_1000_episodes(counts.emergencies) <= 14
    # Every emergency happens during an episode.
    assert counts.emergencies < counts.episodes


def test_every_emergency_happens_during_its_session():
    days = list(generate(MIXED, get_profile("nrw"), start=START, days=60, seed=3))
    started = {e.visit: e.at for e in events_of(days, SessionStarted)}
    ended = {e.visit: e.at for e in events_of(days, SessionEnded)}
    emergencies = events_of(days, Emergency)
    assert emergencies
    for emergency in emergencies:
        assert started[emergency.visit] <= emergency.at <= ended[emergency.visit]


def test_more_than_half_of_nrw_episodes_are_inhalation():
    counts = tally(generate(MIXED, get_profile("nrw"), start=START, days=60, seed=5))
    smoked = counts.episodes_by_route.get("smoke", 0)
    assert smoked / counts.episodes > 0.5


def test_frankfurt_is_mostly_injection():
    counts = tally(generate(MIXED, get_profile("frankfurt"), start=START, days=30, seed=5))
    injected = counts.episodes_by_route.get("inject", 0)
    assert 0.72 <= injected / counts.episodes <= 0.84


def test_glasgow_is_injection_only():
    counts = tally(generate(INJECTION_ONLY, get_profile("glasgow"), start=START, days=60, seed=5))
    assert counts.episodes > 1000
    assert set(counts.episodes_by_route) == {"inject"}


def test_an_injection_only_site_gets_no_inhalation_even_with_a_mixed_profile():
    counts = tally(generate(INJECTION_ONLY, get_profile("nrw"), start=START, days=14, seed=5))
    assert set(counts.episodes_by_route) <= {"inject", "snort", "oral"}
    assert counts.episodes_by_route.get("smoke", 0) == 0


def test_weekends_are_busier_than_weekdays():
    days = list(generate(INJECTION_ONLY, get_profile("glasgow"), start=START, days=140, seed=9))
    per_weekday: dict[int, list[int]] = defaultdict(list)
    for day in days:
        per_weekday[day.date.weekday()].append(len(day.of(Arrival)))
    mean = {wd: sum(v) / len(v) for wd, v in per_weekday.items()}
    weekend = (mean[5] + mean[6]) / 2
    midweek = (mean[0] + mean[1] + mean[2] + mean[3]) / 4
    assert weekend > midweek * 1.1


def test_evenings_are_busier_than_mornings():
    days = list(generate(INJECTION_ONLY, get_profile("glasgow"), start=START, days=90, seed=9))
    hours = Counter(e.at.astimezone(LONDON).hour for e in events_of(days, Arrival))
    morning = hours[9] + hours[10] + hours[11]
    evening = hours[16] + hours[17] + hours[18]
    assert evening > morning * 1.5


def _within(moment: dt.datetime, spec: SiteSpec) -> bool:
    tz = ZoneInfo(spec.time_zone)
    local = moment.astimezone(tz)
    for offset in (0, -1):
        day = local.date() + dt.timedelta(days=offset)
        for p in spec.opening:
            if p.weekday != day.weekday():
                continue
            start = dt.datetime.combine(day, p.opens, tz)
            end_day = day if p.closes > p.opens else day + dt.timedelta(days=1)
            end = dt.datetime.combine(end_day, p.closes, tz)
            if start.astimezone(dt.UTC) <= moment < end.astimezone(dt.UTC):
                return True
    return False


def test_nobody_arrives_outside_opening_hours_even_past_midnight_and_across_clock_changes():
    late = SiteSpec(
        time_zone="Europe/London",
        # Open 18:00 to 03:00 Wednesday to Sunday, and 09:00–12:00 on Mondays.
        opening=(
            *(OpeningSpec(d, dt.time(18), dt.time(3)) for d in (2, 3, 4, 5, 6)),
            OpeningSpec(0, dt.time(9), dt.time(12)),
        ),
        spaces=(*[SpaceSpec("booth")] * 4, SpaceSpec("inhalation", seats=2)),
    )
    # 1 March to 1 May and 1 October to 30 November 2025: both clock changes.
    days = [
        *generate(late, get_profile("nrw"), start=dt.date(2025, 3, 1), days=60, seed=1),
        *generate(late, get_profile("nrw"), start=dt.date(2025, 10, 1), days=60, seed=1),
    ]
    arrivals = events_of(days, Arrival)
    assert len(arrivals) > 3000
    after_midnight = [a for a in arrivals if a.at.astimezone(LONDON).hour < 3]
    assert after_midnight, "the period past midnight is used"
    assert all(_within(a.at, late) for a in arrivals)
    assert not [a for a in arrivals if a.at.astimezone(LONDON).weekday() == 1]
    # Everything else happens inside the period too: nobody checks out after closing.
    later = [
        *(e.at for e in events_of(days, LeftQueue)),
        *(e.at for e in events_of(days, Departure)),
        *(e.at for e in events_of(days, SessionStarted)),
        *(e.at for e in events_of(days, SessionEnded)),
        *(e.at for e in events_of(days, Emergency)),
    ]
    assert all(_within(at - dt.timedelta(seconds=1), late) for at in later)


def test_a_mobile_unit_only_has_visits_on_its_days():
    van = SiteSpec(
        time_zone="Europe/London",
        opening=tuple(OpeningSpec(d, dt.time(13), dt.time(18)) for d in (1, 2, 3, 4)),
        spaces=(SpaceSpec("booth"), SpaceSpec("booth"), SpaceSpec("inhalation")),
        mobile=True,
    )
    days = list(generate(van, get_profile("mobile"), start=START, days=28, seed=4))
    busy = {d.date.weekday() for d in days if d.of(Arrival)}
    assert busy == {1, 2, 3, 4}
    per_day = [len(d.of(Arrival)) for d in days if d.of(Arrival)]
    assert 8 <= sum(per_day) / len(per_day) <= 16
    # Each open day the van opens a stop before anyone arrives and closes it last.
    for day in days:
        if day.date.weekday() in (1, 2, 3, 4):
            assert isinstance(day.events[0], StopOpened)
            assert day.events[0].place in get_profile("mobile").stops
            assert isinstance(day.events[-1], StopClosed)
            assert isinstance(day.events[-2], engine.Closing)
        else:
            assert day.events == []


def test_a_fixed_site_opens_no_stops():
    days = list(generate(MIXED, get_profile("nrw"), start=START, days=3, seed=4))
    assert not events_of(days, StopOpened)


def test_sessions_last_15_to_25_minutes_and_after_care_10_to_30():
    days = list(generate(INJECTION_ONLY, get_profile("glasgow"), start=START, days=30, seed=2))
    started = {e.visit: e.at for e in events_of(days, SessionStarted)}
    ended = {e.visit: e.at for e in events_of(days, SessionEnded)}
    emergencies = {e.visit for e in events_of(days, Emergency)}
    for visit, start in started.items():
        assert dt.timedelta(minutes=15) <= ended[visit] - start <= dt.timedelta(minutes=25)
    for departure in events_of(days, Departure):
        if departure.visit not in emergencies:
            aftercare = departure.at - ended[departure.visit]
            assert dt.timedelta(minutes=10) <= aftercare <= dt.timedelta(minutes=30)


def test_places_are_never_double_booked_and_a_full_room_makes_a_queue():
    tiny = SiteSpec(
        time_zone="Europe/London",
        opening=every_day(9, 21),
        spaces=(SpaceSpec("booth"), SpaceSpec("booth")),
        permitted_routes=frozenset({"inject"}),
    )
    profile = get_profile("glasgow").override(visits_per_day=60)
    days = list(generate(tiny, profile, start=START, days=14, seed=8))
    counts = tally(days)
    assert counts.left_queue > 0
    assert counts.turned_away.get("full", 0) > 0
    for day in days:
        in_use = 0
        for event in day.events:
            if isinstance(event, SessionStarted):
                in_use += 1
                assert in_use <= 2
            elif isinstance(event, SessionEnded):
                in_use -= 1


def test_nobody_has_two_visits_open_at_once():
    days = list(generate(MIXED, get_profile("nrw"), start=START, days=30, seed=6))
    open_visit: dict[int, int] = {}
    visit_person: dict[int, int] = {}
    for day in days:
        for event in day.events:
            if isinstance(event, Arrival) and event.outcome == "checked_in" and event.person:
                assert event.person not in open_visit
                open_visit[event.person] = event.visit
                visit_person[event.visit] = event.person
            elif isinstance(event, LeftQueue | Departure) and event.visit in visit_person:
                open_visit.pop(visit_person[event.visit], None)
            elif isinstance(event, engine.Closing):
                open_visit.clear()


def test_regulars_come_most_days_and_new_people_keep_registering():
    days = list(generate(INJECTION_ONLY, get_profile("glasgow"), start=START, days=180, seed=11))
    days_seen: dict[int, set[dt.date]] = defaultdict(set)
    for day in days:
        for arrival in day.of(Arrival):
            if arrival.person:
                days_seen[arrival.person].add(day.date)
    frequencies = sorted((len(v) for v in days_seen.values()), reverse=True)
    assert frequencies[0] > 90  # the most regular client comes on most days
    # A heavy tail: most people come rarely.
    assert sorted(frequencies)[len(frequencies) // 2] < 15
    late_registrations = sum(a.register for d in days[-30:] for a in d.of(Arrival))
    assert late_registrations > 5


def test_anonymous_visits_only_where_the_site_allows_them():
    mixed = tally(generate(MIXED, get_profile("nrw"), start=START, days=14, seed=1))
    assert mixed.anonymous > 0
    closed = tally(generate(INJECTION_ONLY, get_profile("glasgow"), start=START, days=14, seed=1))
    assert closed.anonymous == 0


def test_turn_aways_follow_the_site_checks():
    counts = tally(generate(INJECTION_ONLY, get_profile("glasgow"), start=START, days=90, seed=3))
    # Injection-only Riverside does not refuse first-time users.
    assert "first_time" not in counts.turned_away
    assert counts.turned_away.get("intoxicated", 0) > 0
    assert counts.turned_away.get("full", 0) > 0
    mixed = tally(generate(MIXED, get_profile("nrw"), start=START, days=90, seed=3))
    assert mixed.turned_away.get("first_time", 0) > 0
    assert mixed.turned_away.get("banned", 0) > 0


def test_every_profile_runs_on_a_mixed_site():
    for name, profile in PROFILES.items():
        counts = tally(generate(MIXED, profile, start=START, days=3, seed=1))
        assert counts.episodes > 0, name


def test_profile_parameters_can_be_overridden():
    profile = get_profile("glasgow")
    changed = profile.override(visits_per_day=50)
    assert changed.visits_per_day == 50
    assert profile.visits_per_day == 30
    parsed = profile.override_from_text(["visits_per_day=12.5", "session_minutes=10,20"])
    assert parsed.visits_per_day == 12.5
    assert parsed.session_minutes == (10.0, 20.0)
    with pytest.raises(ValueError, match="Unknown profile parameter"):
        profile.override(colour="blue")
    with pytest.raises(ValueError, match="cannot be set"):
        profile.override_from_text(["visits_per_day=lots"])
    with pytest.raises(ValueError, match="cannot be set"):
        profile.override_from_text(["session_minutes=10"])
    with pytest.raises(ValueError, match="Unknown profile parameter"):
        profile.override_from_text(["route_mix"])


def test_unknown_profiles_are_named_in_the_error():
    with pytest.raises(KeyError, match="glasgow"):
        get_profile("atlantis")
