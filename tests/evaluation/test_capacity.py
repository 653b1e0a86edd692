"""The capacity simulation behaves like a queue for spaces should."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pytest

from saferoom.evaluation import capacity
from saferoom.evaluation.capacity import (
    ArrivalProfile,
    PlanInput,
    load_profile,
    parse_open_hours,
    simulate,
    smallest_booths,
    smallest_rooms,
)

INJECT_ONLY = {"inject": 1.0}


def flat(per_hour: float, mix: dict[str, float] | None = None) -> ArrivalProfile:
    return ArrivalProfile.flat("flat", per_hour, mix or INJECT_ONLY)


def plan(**fields: Any) -> PlanInput:
    values: dict[str, Any] = {
        "profile": flat(6.0),
        "booths": 4,
        "inhalation_rooms": 0,
        "days": 28,
        "seed": 7,
    }
    values.update(fields)
    return PlanInput(**values)


def test_the_same_seed_gives_the_same_result() -> None:
    urban = plan(
        profile=load_profile("busy-urban-500"), booths=10, inhalation_rooms=3, seats_per_room=2
    )
    assert simulate(urban) == simulate(urban)
    assert simulate(urban) != simulate(urban.replace(seed=8))


def test_arrivals_follow_the_profile() -> None:
    result = simulate(plan(profile=flat(6.0), days=200))
    assert result.arrivals == pytest.approx(6 * 24 * 200, rel=0.02)
    assert all(a == pytest.approx(6 * 1.0, rel=0.1) for a in result.arrivals_by_hour)


def test_closed_hours_get_no_arrivals() -> None:
    hours = parse_open_hours("Mon-Fri 10:00-18:00")
    draws = capacity._draw(plan(open_hours=hours, days=28))
    hour_of_week = (draws.arrival // 60).astype(int) % 168
    assert draws.arrival.size > 0
    assert all(hours[h] for h in hour_of_week)
    result = simulate(plan(open_hours=hours, days=28))
    assert [h for h in range(24) if result.arrivals_by_hour[h] > 0] == list(range(10, 18))
    # Eight hours on twenty weekdays at six an hour.
    assert result.arrivals == pytest.approx(8 * 20 * 6, rel=0.1)


def test_the_same_people_arrive_in_the_open_hours_whatever_the_hours() -> None:
    long_day = capacity._draw(plan(open_hours=parse_open_hours("Mon-Sun 08:00-22:00")))
    short_day = capacity._draw(plan(open_hours=parse_open_hours("Mon-Sun 10:00-18:00")))
    in_short = ((long_day.arrival // 60) % 24 >= 10) & ((long_day.arrival // 60) % 24 < 18)
    assert np.array_equal(long_day.arrival[in_short], short_day.arrival)


def test_nobody_waits_when_spaces_are_plenty() -> None:
    result = simulate(plan(booths=30))
    assert result.p95_wait_minutes == 0.0
    assert result.share_unserved == 0.0
    assert result.served == result.arrivals


def test_occupancy_is_the_offered_load_per_space() -> None:
    # Six an hour, 20 minutes each, no clear-down, four booths: two booths' worth, so half busy.
    result = simulate(
        plan(
            booths=4,
            days=300,
            clear_down_minutes={"booth": 0},
            service_distribution="exponential",
            patience_minutes=math.inf,
        )
    )
    assert np.mean(result.occupancy_by_hour) == pytest.approx(0.5, rel=0.03)
    assert result.booth is not None
    assert result.booth.occupancy_by_hour == result.occupancy_by_hour


def test_clear_down_counts_as_occupied_and_lowers_throughput() -> None:
    # One booth, busier than it can serve, open 10:00–18:00: the clear-down eats serving time.
    busy = plan(
        profile=flat(6.0),
        booths=1,
        open_hours=parse_open_hours("Mon-Sun 10:00-18:00"),
        patience_minutes=math.inf,
    )
    quick = simulate(busy.replace(clear_down_minutes={"booth": 0}))
    slow = simulate(busy.replace(clear_down_minutes={"booth": 10}))
    assert slow.served < quick.served
    assert slow.p95_wait_minutes > quick.p95_wait_minutes
    # About 8 h × 60 / (20 + 10) = 16 a day with clear-down, 24 without.
    assert slow.served / 28 == pytest.approx(16, rel=0.1)
    assert quick.served / 28 == pytest.approx(24, rel=0.1)


def test_those_waiting_at_closing_leave_unserved() -> None:
    overloaded = plan(
        booths=1,
        patience_minutes=math.inf,
        clear_down_minutes={"booth": 0},
        open_hours=parse_open_hours("Mon-Sun 10:00-18:00"),
    )
    result = simulate(overloaded)
    assert result.share_unserved > 0.3
    # Open all the time and infinitely patient, everyone is served in the end.
    assert (
        simulate(overloaded.replace(open_hours=(True,) * 168, profile=flat(2.0))).share_unserved
        == 0
    )
    # Nobody waits past closing: the longest wait is under the 8 hours open.
    assert result.p95_wait_minutes < 8 * 60


def test_impatience_makes_people_leave_unserved() -> None:
    crowded = plan(profile=flat(14.0), booths=4)
    patient = simulate(crowded.replace(patience_minutes=math.inf))
    impatient = simulate(crowded.replace(patience_minutes=10.0))
    assert patient.share_unserved == 0.0
    assert impatient.share_unserved > 0.1
    assert impatient.p95_wait_minutes < patient.p95_wait_minutes


def test_no_booths_means_nobody_injects() -> None:
    result = simulate(
        plan(profile=flat(4.0, {"inject": 0.5, "smoke": 0.5}), booths=0, inhalation_rooms=2)
    )
    assert result.booth is not None
    assert result.inhalation is not None
    assert result.booth.arrivals > 0
    assert result.booth.served == 0
    assert result.booth.share_unserved == 1.0
    assert result.inhalation.share_unserved < 0.2


def test_routes_go_to_their_own_kind_of_space() -> None:
    result = simulate(
        plan(
            profile=flat(10.0, {"inject": 0.3, "smoke": 0.6, "snort": 0.1}),
            booths=5,
            inhalation_rooms=2,
            seats_per_room=3,
            days=100,
        )
    )
    assert result.booth is not None
    assert result.inhalation is not None
    assert result.booth.arrivals / result.arrivals == pytest.approx(0.4, abs=0.02)
    assert result.inhalation.spaces == 6
    assert result.booth.arrivals + result.inhalation.arrivals == result.arrivals


@pytest.mark.parametrize("kind", ["booths", "inhalation_rooms"])
def test_more_spaces_are_never_worse(kind: str) -> None:
    base = plan(
        profile=load_profile("busy-urban-500"),
        booths=6,
        inhalation_rooms=3,
        seats_per_room=2,
        open_hours=parse_open_hours("Mon-Sun 08:00-02:00"),
    )
    results = [
        simulate(base.replace(**{kind: base.booths + n if kind == "booths" else 3 + n}))
        for n in range(6)
    ]
    space = "booth" if kind == "booths" else "inhalation"
    p95s = [getattr(r, space).p95_wait_minutes for r in results]
    unserved = [getattr(r, space).share_unserved for r in results]
    assert p95s == sorted(p95s, reverse=True)
    assert unserved == sorted(unserved, reverse=True)
    assert p95s[0] > p95s[-1]


def test_smallest_booths_meets_the_target_and_one_fewer_does_not() -> None:
    base = plan(
        profile=load_profile("busy-urban-500"), booths=1, inhalation_rooms=4, seats_per_room=2
    )
    found = smallest_booths(base, target_p95_minutes=10)
    assert found is not None
    n, result = found
    assert result.booth is not None
    assert result.booth.p95_wait_minutes <= 10
    fewer = simulate(base.replace(booths=n - 1))
    assert fewer.booth is not None
    assert fewer.booth.p95_wait_minutes > 10
    assert smallest_booths(base, target_p95_minutes=10, maximum=2) is None


def test_smallest_rooms_counts_rooms_of_the_plans_seats() -> None:
    base = plan(
        profile=load_profile("busy-urban-500"), booths=12, inhalation_rooms=0, seats_per_room=2
    )
    found = smallest_rooms(base, target_p95_minutes=10)
    assert found is not None
    n, result = found
    assert result.inhalation is not None
    assert result.inhalation.spaces == 2 * n
    one_seat = smallest_rooms(base.replace(seats_per_room=1), target_p95_minutes=10)
    assert one_seat is not None
    assert one_seat[0] > n


def test_no_demand_needs_no_spaces() -> None:
    assert smallest_rooms(plan(), target_p95_minutes=5) is not None
    assert smallest_rooms(plan(), target_p95_minutes=5)[0] == 0  # type: ignore[index]


def test_waits_by_hour_follow_the_busy_hours() -> None:
    result = simulate(plan(profile=load_profile("busy-urban-500"), booths=6, inhalation_rooms=3))
    assert len(result.p95_wait_by_hour) == 24 == len(result.median_wait_by_hour)
    assert result.p95_wait_by_hour[17] > result.p95_wait_by_hour[9]
    assert result.p95_wait_by_hour[5] == 0.0  # nobody arrives at 05:00
    assert max(result.occupancy_by_hour) <= 1.0


def test_busy_slots_split_across_hours() -> None:
    starts = np.array([30.0, 100.0])
    ends = np.array([90.0, 110.0])
    # [30, 90): 30 minutes in hour 0 and 30 in hour 1; [100, 110): 10 in hour 1.
    assert capacity._busy_by_slot(starts, ends, 3).tolist() == [30.0, 40.0, 0.0]


def test_to_dict_is_plain_json() -> None:
    import json

    result = simulate(plan(profile=load_profile("glasgow-like"), booths=2))
    data = json.loads(json.dumps(result.to_dict()))
    assert data["arrivals"] == result.arrivals
    assert len(data["occupancy_by_hour"]) == 24
    assert set(data["spaces"]) == {"booth", "inhalation"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"booths": -1}, "booths must be between 0 and 1000"),
        ({"booths": 2.5}, "booths must be a whole number"),
        ({"seats_per_room": 0}, "Seats per inhalation room must be between 1 and 50"),
        ({"days": 0}, "days must be between 1 and 3660"),
        ({"open_hours": (True,) * 24}, "168 true/false flags"),
        ({"service_minutes": {"inject": 0}}, "Time in space for inject must be more than 0"),
        ({"service_minutes": {"vape": 10}}, "unknown route 'vape'"),
        ({"clear_down_minutes": {"booth": -1}}, "Clear-down for booth cannot be negative"),
        ({"clear_down_minutes": {"cupboard": 1}}, "unknown kind of space 'cupboard'"),
        ({"service_distribution": "normal"}, "'lognormal' or 'exponential'"),
        ({"patience_minutes": 0}, "Patience must be more than 0"),
        ({"profile": flat(2000.0), "days": 365}, "too many to simulate at once"),
    ],
)
def test_bad_plans_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan(**fields)


def test_partial_times_are_filled_from_the_defaults() -> None:
    p = plan(service_minutes={"smoke": 25}, clear_down_minutes={"inhalation": 15})
    assert p.service_minutes == {"inject": 20.0, "smoke": 25.0, "snort": 10.0, "oral": 10.0}
    assert p.clear_down_minutes == {"booth": 3.0, "inhalation": 15.0}


def test_a_year_of_a_500_a_day_site_runs_in_well_under_ten_seconds() -> None:
    year = PlanInput(
        profile=load_profile("busy-urban-500"),
        booths=12,
        inhalation_rooms=4,
        seats_per_room=2,
        days=365,
    )
    started = time.perf_counter()
    result = simulate(year)
    elapsed = time.perf_counter() - started
    assert result.arrivals == pytest.approx(500 * 365, rel=0.01)
    assert elapsed < 10


def test_engine_modules_import_no_django() -> None:
    code = (
        "import sys\n"
        "import saferoom.evaluation.capacity, saferoom.evaluation.erlang\n"
        "loaded = [m for m in sys.modules if m == 'django' or m.startswith('django.')]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", code], check=True, capture_output=True, timeout=60
    )
