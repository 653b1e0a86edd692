"""``saferoom plan``: the capacity simulation from the command line."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from saferoom.core.models import User
from saferoom.evaluation import capacity, erlang
from saferoom.floor.models import Visit
from saferoom.sites.models import Site


def plan(*args: str) -> str:
    out = StringIO()
    call_command("plan", *args, stdout=out)
    return out.getvalue()


def refused(*args: str) -> CommandError:
    with pytest.raises(CommandError) as caught:
        plan(*args)
    return caught.value


def test_table_shows_waits_unserved_and_occupancy_by_hour() -> None:
    out = plan("--profile", "busy-urban-500", "--booths", "8", "--rooms", "3", "--seats", "2")
    assert "Arrivals: busy-urban-500" in out
    assert "8 booths, 3 inhalation rooms × 2 seat(s)" in out
    for heading in ("Booths", "Inhalation seats", "All", "Median", "p95", "Unserved", "Occupied"):
        assert heading in out
    assert "17:00" in out
    assert "23:00" in out
    # The profile's quiet hours are closed: nobody arrives at 05:00.
    assert next(line for line in out.splitlines() if line.startswith("05:00")).split()[1] == "-"


def test_json_has_the_plan_and_the_result() -> None:
    data = json.loads(
        plan(
            "--profile",
            "glasgow-like",
            "--booths",
            "2",
            "--rooms",
            "0",
            "--format",
            "json",
            "--days",
            "14",
        )
    )
    assert data["plan"]["booths"] == 2
    assert data["plan"]["days"] == 14
    result = data["result"]
    assert result["arrivals"] > 0
    assert {
        "median_wait_minutes",
        "p95_wait_minutes",
        "share_unserved",
        "occupancy_by_hour",
    } <= set(result)
    assert len(result["p95_wait_by_hour"]) == 24


def test_target_prints_the_smallest_numbers() -> None:
    out = plan(
        "--profile",
        "busy-urban-500",
        "--booths",
        "8",
        "--rooms",
        "3",
        "--seats",
        "2",
        "--target-p95",
        "10",
    )
    assert "Smallest numbers keeping the p95 wait at or under 10 min" in out
    data = json.loads(
        plan(
            "--profile",
            "busy-urban-500",
            "--booths",
            "8",
            "--rooms",
            "3",
            "--seats",
            "2",
            "--target-p95",
            "10",
            "--format",
            "json",
        )
    )
    base = capacity.PlanInput(
        profile=capacity.load_profile("busy-urban-500"),
        booths=8,
        inhalation_rooms=3,
        seats_per_room=2,
        open_hours=capacity.load_profile("busy-urban-500").active_hours(),
    )
    found = capacity.smallest_booths(base, target_p95_minutes=10)
    assert found is not None
    assert data["smallest"]["booths"] == found[0]
    assert data["smallest"]["inhalation_rooms"] >= 1


def test_options_change_the_plan() -> None:
    data = json.loads(
        plan(
            "--profile",
            "glasgow-like",
            "--booths",
            "1",
            "--rooms",
            "0",
            "--open",
            "Mon-Fri 10:00-18:00",
            "--minutes",
            "inject=30",
            "--clear-down-booth",
            "5",
            "--patience",
            "none",
            "--distribution",
            "exponential",
            "--seed",
            "9",
            "--format",
            "json",
        )
    )
    p = data["plan"]
    assert p["open_hours_text"].startswith("Mon 10:00–18:00")
    assert p["service_minutes"]["inject"] == 30
    assert p["clear_down_minutes"]["booth"] == 5
    assert p["patience_minutes"] is None
    assert p["service_distribution"] == "exponential"
    assert p["seed"] == 9


def test_check_agrees_with_erlang_c() -> None:
    out = plan("--profile", "busy-urban-500", "--booths", "5", "--rooms", "4", "--days", "200")
    assert "Booths" in out
    out = plan("--profile", "busy-urban-500", "--booths", "5", "--rooms", "4", "--check")
    assert "Simulated 365 days" in out
    assert "Erlang-C" in out
    assert "Agree within tolerance." in out
    assert " NO" not in out
    data = json.loads(
        plan(
            "--profile",
            "busy-urban-500",
            "--booths",
            "5",
            "--rooms",
            "4",
            "--check",
            "--format",
            "json",
        )
    )
    assert data["check"]["ok"] is True
    assert len(data["check"]["rows"]) == 6


def test_check_exits_1_when_simulation_and_formula_disagree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = erlang.mean_wait
    monkeypatch.setattr(erlang, "mean_wait", lambda *a: 3 * real(*a))
    error = refused(
        "--profile", "busy-urban-500", "--booths", "5", "--rooms", "4", "--check", "--days", "60"
    )
    assert error.returncode == 1
    assert "disagree" in str(error)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Say where arrivals come from"),
        (("--profile", "nowhere"), "No profile named 'nowhere'"),
        (("--profile", "glasgow-like"), "Say how many spaces"),
        (
            ("--profile", "glasgow-like", "--booths", "two", "--rooms", "0"),
            "--booths takes a whole number",
        ),
        (
            ("--profile", "glasgow-like", "--booths", "-1", "--rooms", "0"),
            "--booths must be between 0 and 1000",
        ),
        (
            ("--profile", "glasgow-like", "--booths", "1", "--rooms", "0", "--seats", "0"),
            "--seats must be between 1",
        ),
        (
            ("--profile", "glasgow-like", "--booths", "1", "--rooms", "0", "--open", "noon"),
            "Cannot read opening hours",
        ),
        (
            ("--profile", "glasgow-like", "--booths", "1", "--rooms", "0", "--format", "xml"),
            "--format is table or json",
        ),
        (
            ("--profile", "glasgow-like", "--booths", "1", "--rooms", "0", "--days", "0"),
            "--days must be between 1",
        ),
        (
            ("--profile", "glasgow-like", "--booths", "1", "--rooms", "0", "--target-p95", "soon"),
            "--target-p95 takes a number",
        ),
        (
            ("--profile", "glasgow-like", "--booths", "1", "--rooms", "0", "--patience", "0"),
            "--patience must be more than 0",
        ),
        (
            ("--profile", "glasgow-like", "--booths", "1", "--rooms", "0", "--minutes", "vape=3"),
            "--minutes takes ROUTE=MINUTES",
        ),
        (
            (
                "--profile",
                "glasgow-like",
                "--booths",
                "1",
                "--rooms",
                "0",
                "--distribution",
                "normal",
            ),
            "--distribution is lognormal",
        ),
        (("--profile", "glasgow-like", "--site", "riverside"), "not both"),
        (("--profile", "glasgow-like", "--from", "2025-01-01"), "--from and --to go with --site"),
        (
            ("--profile", "busy-urban-500", "--booths", "2", "--rooms", "4", "--check"),
            "needs fewer arrivals",
        ),
        (
            (
                "--profile",
                "glasgow-like",
                "--booths",
                "1",
                "--rooms",
                "0",
                "--check",
                "--target-p95",
                "5",
            ),
            "--check runs on its own",
        ),
    ],
)
def test_bad_input_is_refused_with_exit_status_2(args: tuple[str, ...], message: str) -> None:
    error = refused(*args)
    assert error.returncode == 2
    assert message in str(error)


def test_a_bad_profile_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(
        json.dumps({"name": "mine", "route_mix": {"inject": 1}, "rate_per_hour": [1] * 100})
    )
    error = refused("--profile", str(path), "--booths", "1", "--rooms", "0")
    assert "mine.json: rate_per_hour has 100 values; it needs 168" in str(error)


def test_from_the_command_line_bad_input_is_one_line_and_exit_2() -> None:
    env = {**os.environ, "SAFEROOM_DEBUG": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "saferoom.cli",
            "plan",
            "--profile",
            "glasgow-like",
            "--booths",
            "x",
            "--rooms",
            "0",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "CommandError: --booths takes a whole number, not 'x'."
    ]
    assert "Traceback" not in done.stderr


@pytest.mark.django_db
def test_from_a_sites_record_and_set_up(site_a: Site, desk: User) -> None:
    london = ZoneInfo("Europe/London")
    monday = dt.date(2025, 3, 24)
    for day in range(7):
        for minute in (0, 20, 40):
            Visit.objects.create(
                site=site_a,
                anonymous=True,
                arrived_at=dt.datetime.combine(
                    monday + dt.timedelta(days=day), dt.time(12, minute), london
                ),
                planned_route="inject" if minute else "smoke",
                created_by=desk,
            )
    data = json.loads(
        plan(
            "--site", "riverside", "--from", "2025-03-24", "--to", "2025-03-30", "--format", "json"
        )
    )
    p = data["plan"]
    assert p["booths"] == 4
    assert p["inhalation_rooms"] == 1
    assert p["seats_per_room"] == 3
    assert p["open_hours_text"] == "every day 09:00–21:00"
    assert p["arrivals_per_day"] == pytest.approx(3.0)
    assert p["route_mix"]["smoke"] == pytest.approx(1 / 3)
    assert p["clear_down_minutes"] == {"booth": 2.0, "inhalation": 10.0}
    # Numbers given on the command line win over the site's.
    data = json.loads(
        plan(
            "--site",
            "riverside",
            "--from",
            "2025-03-24",
            "--to",
            "2025-03-30",
            "--booths",
            "1",
            "--format",
            "json",
        )
    )
    assert data["plan"]["booths"] == 1


@pytest.mark.django_db
def test_site_refusals(site_a: Site) -> None:
    assert "No site with the short name 'nowhere'" in str(refused("--site", "nowhere"))
    assert "at least 7 days" in str(
        refused("--site", "riverside", "--from", "2025-03-24", "--to", "2025-03-25")
    )
    assert "takes a date like 2025-01-31" in str(
        refused("--site", "riverside", "--from", "yesterday")
    )
    # With no visits at all the plan still runs, and says so.
    out = plan("--site", "riverside", "--from", "2025-03-24", "--to", "2025-03-30")
    assert "No arrivals in the profile or the period" in out
