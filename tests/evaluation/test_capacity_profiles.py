"""Arrival profiles and opening hours: what the simulation is fed, and the refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from saferoom.evaluation.capacity import (
    ArrivalProfile,
    describe_open_hours,
    load_profile,
    open_hours_from_periods,
    parse_open_hours,
    profile_names,
)


def profile_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "test",
        "route_mix": {"inject": 0.5, "smoke": 0.5},
        "rate_per_hour": [1.0] * 168,
    }
    data.update(changes)
    return data


def test_shipped_profiles_all_load_and_describe_themselves() -> None:
    names = profile_names()
    assert {"busy-urban-500", "glasgow-like", "nrw-mixed-150"} <= set(names)
    for name in names:
        profile = load_profile(name)
        assert profile.name == name
        assert profile.title
        assert profile.description
        assert profile.source
        assert sum(profile.route_mix.values()) == pytest.approx(1)


def test_busy_urban_profile_is_about_500_a_day() -> None:
    assert load_profile("busy-urban-500").arrivals_per_day == pytest.approx(500, rel=0.01)
    assert load_profile("glasgow-like").route_mix["inject"] == 1.0


def test_rates_may_be_seven_days_of_24() -> None:
    week = [[float(d)] * 24 for d in range(7)]
    profile = ArrivalProfile.from_dict(profile_data(rate_per_hour=week))
    assert len(profile.rate_per_hour) == 168
    assert profile.rate_per_hour[24 * 3 + 5] == 3.0  # Thursday 05:00


def test_missing_routes_count_as_zero_and_round_trip() -> None:
    profile = ArrivalProfile.from_dict(profile_data())
    assert profile.route_mix == {"inject": 0.5, "smoke": 0.5, "snort": 0.0, "oral": 0.0}
    assert ArrivalProfile.from_dict(profile.to_dict()) == profile


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rate_per_hour": [1.0] * 167}, "167 values; it needs 168"),
        ({"rate_per_hour": [1.0] * 167 + [-1.0]}, "Sun 23:00 is -1.0; arrivals cannot be negative"),
        ({"rate_per_hour": [1.0] * 167 + ["many"]}, "must be a number"),
        ({"rate_per_hour": [1.0] * 167 + [True]}, "must be a number"),
        ({"rate_per_hour": [1.0] * 167 + [float("nan")]}, "finite"),
        ({"rate_per_hour": "lots"}, "list of 168 numbers"),
        ({"rate_per_hour": [[1.0] * 24] * 6 + [[1.0] * 23]}, "Sun has 23 values; it needs 24"),
        ({"route_mix": {"inject": 0.5, "smoke": 0.4}}, "add up to 0.9; they must add up to 1"),
        ({"route_mix": {"inject": 0.5, "vape": 0.5}}, "unknown route 'vape'"),
        ({"route_mix": {"inject": 1.5, "smoke": -0.5}}, "between 0 and 1"),
        ({"route_mix": {}}, "route_mix must map routes"),
        ({"name": ""}, "needs a name"),
        ({"colour": "blue"}, "unknown fields: colour"),
    ],
)
def test_bad_profiles_are_refused_with_a_clear_message(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ArrivalProfile.from_dict(profile_data(**changes))


def test_a_profile_missing_its_rates_is_refused() -> None:
    data = profile_data()
    del data["rate_per_hour"]
    with pytest.raises(ValueError, match="no 'rate_per_hour'"):
        ArrivalProfile.from_dict(data)


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match=r"broken.json is not valid JSON \(line 1"):
        ArrivalProfile.from_file(broken)
    short = tmp_path / "short.json"
    short.write_text(json.dumps(profile_data(rate_per_hour=[1] * 10)))
    with pytest.raises(ValueError, match=r"short\.json: rate_per_hour has 10 values"):
        ArrivalProfile.from_file(short)
    with pytest.raises(ValueError, match="No profile file at"):
        ArrivalProfile.from_file(tmp_path / "absent.json")
    with pytest.raises(ValueError, match="No profile named 'absent'"):
        load_profile("absent")


def test_a_good_file_loads_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(profile_data(name="mine")))
    assert load_profile(str(path)).name == "mine"


# --- Opening hours ----------------------------------------------------------------------------


def open_hours_of_day(flags: tuple[bool, ...], day: int) -> list[int]:
    return [h for h in range(24) if flags[day * 24 + h]]


def test_every_day_ten_to_ten() -> None:
    flags = parse_open_hours("Mon-Sun 10:00-22:00")
    assert sum(flags) == 12 * 7
    assert open_hours_of_day(flags, 2) == list(range(10, 22))
    assert describe_open_hours(flags) == "every day 10:00–22:00"


def test_closing_after_midnight_runs_into_the_next_day() -> None:
    flags = parse_open_hours("Fri 22:00-03:00")
    assert open_hours_of_day(flags, 4) == [22, 23]
    assert open_hours_of_day(flags, 5) == [0, 1, 2]


def test_sunday_night_runs_into_monday_morning() -> None:
    flags = parse_open_hours("Sun 23:00-02:00")
    assert open_hours_of_day(flags, 6) == [23]
    assert open_hours_of_day(flags, 0) == [0, 1]


def test_several_periods_and_day_ranges_that_wrap() -> None:
    flags = parse_open_hours("Mon-Fri 09:00-17:00; Sat-Sun 12:00-16:00")
    assert sum(flags) == 5 * 8 + 2 * 4
    weekend = parse_open_hours("Sat-Mon 10:00-11:00")
    assert [d for d in range(7) if weekend[d * 24 + 10]] == [0, 5, 6]


def test_an_hour_counts_as_open_when_open_for_half_of_it() -> None:
    flags = open_hours_from_periods([(0, 9 * 60 + 30, 12 * 60 + 20)])
    assert open_hours_of_day(flags, 0) == [9, 10, 11]
    assert parse_open_hours("24/7") == (True,) * 168
    assert parse_open_hours("Mon 00:00-24:00") == tuple(i < 24 for i in range(168))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("whenever", "Cannot read opening hours 'whenever'"),
        ("Funday 10:00-12:00", "'Funday' is not a day"),
        ("Mon 10:00-10:00", "opens and closes at the same time"),
        ("Mon 25:00-26:00", "is not a time of day"),
        ("Mon 10:75-12:00", "is not a time of day"),
        ("Mon 24:00-02:00", "cannot open at 24:00"),
        (";", "No opening hours given"),
    ],
)
def test_unreadable_hours_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_open_hours(text)
