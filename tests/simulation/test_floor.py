"""The simulated floor: every session the engine starts goes through the board's own actions
(next free seat, assign, a check at each due time, emergency, end, clear-down, cleaned), and
other areas' activity comes in through hooks that are called only when they exist."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from typing import Any

import pytest
from django.db.models import F

from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.core.roles import Role
from saferoom.floor.models import ConsumptionSession, Escalation, SessionCheck, Visit
from saferoom.simulation import engine, runner
from saferoom.simulation.profiles import get_profile
from saferoom.sites.models import Network

START = dt.date(2025, 3, 3)
QUIET = get_profile("nrw").override(visits_per_day=25)

pytestmark = pytest.mark.django_db


def engine_stream(site: Any, *, days: int, seed: int, profile: Any = QUIET) -> engine.Tally:
    """What the engine generates for this site, as SiteRun asks for it."""
    return engine.tally(
        engine.generate(
            runner.site_spec(site), profile, start=START, days=days, seed=f"{seed}:{site.slug}"
        )
    )


# --- A simulated week ---------------------------------------------------------------------------


def test_a_simulated_week_runs_the_floor_through_the_board(site_a):
    summary = runner.run(sites=[site_a], days=7, start=START, seed=1, profile=QUIET, hooks={})
    assert summary.refused == {}

    sessions = ConsumptionSession.objects.filter(site=site_a)
    # Every engine session of an admitted visit became a session on the board, by the floor.
    assert summary.episodes > 100
    assert sessions.count() == summary.sessions == summary.episodes
    assert set(sessions.values_list("started_by__username", flat=True)) == {"sim.floor"}
    assert sessions.count() == AuditEvent.objects.filter(action="session.started").count()
    # Seats that fit the route: nobody smokes in an injection booth.
    assert not sessions.filter(route="smoke", space__kind="booth").exists()
    assert not sessions.filter(route="inject", space__kind="inhalation").exists()

    # Checks at each due time: several per session, most on time, a realistic few late, and
    # some of the late ones passed to the shift lead (then acknowledged by the check).
    checks = SessionCheck.objects.filter(session__site=site_a)
    assert checks.count() == summary.checks >= 2 * sessions.count()
    late = checks.filter(was_overdue=True).count()
    assert late == summary.late_checks
    assert 0.01 <= late / checks.count() <= 0.12
    escalations = Escalation.objects.filter(site=site_a)
    assert 0 < escalations.count() == summary.escalations <= late
    assert not escalations.filter(acknowledged_at__isnull=True).exists()
    for session in sessions.filter(emergency_at__isnull=True).prefetch_related("checks")[:40]:
        times = sorted(c.at for c in session.checks.all())
        assert times, "a session of 15 minutes or more with no check"
        assert session.ended_at is not None
        assert session.started_at < times[0] <= session.ended_at

    # Every session ended, its seat cleared down; some marked cleaned before their time.
    assert not sessions.filter(ended_at__isnull=True).exists()
    assert not sessions.filter(clear_down_until__lte=F("ended_at")).exists()
    assert summary.clear_downs == sessions.count()
    cleaned = AuditEvent.objects.filter(action="seat.cleaned").count()
    assert cleaned == summary.cleaned_early
    assert 0.1 * summary.clear_downs <= cleaned <= 0.5 * summary.clear_downs
    assert (
        sessions.filter(end_reason="finished").count()
        + sessions.filter(end_reason="emergency").count()
        == sessions.count()
    )

    # Emergencies: exactly the engine's, started on the board during the session.
    stream = engine_stream(site_a, days=7, seed=1)
    emergencies = sessions.filter(emergency_at__isnull=False)
    assert emergencies.count() == summary.emergencies_started == stream.emergencies
    assert emergencies.count() == summary.emergencies
    for session in emergencies:
        assert session.emergency_at is not None
        assert session.ended_at is not None
        assert session.started_at <= session.emergency_at <= session.ended_at
        assert session.end_reason == "emergency"

    # The visits went on to after-care and out: nothing left in a space or in after-care.
    assert not Visit.objects.filter(site=site_a, state__in=Visit.OPEN_STATES).exists()
    lines = "\n".join(summary.lines())
    assert f"Sessions:          {summary.sessions}" in lines
    assert f"Checks:            {summary.checks} (late {summary.late_checks}" in lines


def test_the_board_gets_the_engines_emergency_rate_which_is_in_the_published_band(site_a):
    """A week holds too few episodes for a rate (about two emergencies): the week above
    records exactly the engine's emergencies, and here the engine, for this very site and
    profile, runs at 8-14 per 1,000 episodes over a long run."""
    stream = engine_stream(site_a, days=400, seed=1, profile=get_profile("nrw"))
    assert stream.episodes > 20_000
    assert 8 <= stream.per_1000_episodes(stream.emergencies) <= 14


def test_no_session_is_left_open_at_the_end_of_any_day(site_a, manager):
    desk = runner.simulation_user(runner.SIM_DESK_USERNAME, "", Role.DESK, site_a)
    floor = runner.simulation_user(runner.SIM_FLOOR_USERNAME, "", Role.FLOOR, site_a)
    summary = runner.Summary()
    site = runner.load_sites([site_a])[0]
    run = runner.SiteRun(
        site, QUIET, seed=4, start=START, days=3, desk=desk, floor=floor, manager=manager,
        summary=summary,
    )  # fmt: skip
    for _day in range(3):
        run.next_day()
        assert not ConsumptionSession.objects.filter(site=site_a, ended_at__isnull=True).exists()
        assert not Visit.objects.filter(site=site_a, state=Visit.State.IN_SPACE).exists()
        assert run.sessions == {}
        assert run.tasks == []
    assert summary.sessions > 0


def test_the_floors_habits_do_not_change_the_peoples_history(site_a):
    """The floor has its own random numbers: with or without hooks, the same seed gives the
    same arrivals and sessions."""
    first = runner.run(sites=[site_a], days=1, start=START, seed=5, profile=QUIET, hooks={})
    assert first.sessions > 0
    assert first.episodes == engine_stream(site_a, days=1, seed=5).episodes


# --- Hooks for the other areas -----------------------------------------------------------------


def test_every_area_hook_exists_and_a_missing_one_fails_loudly():
    with pytest.raises(ModuleNotFoundError):
        runner.find_hook("saferoom.no_such_area.simulation", "simulate_visit_care")
    with pytest.raises(AttributeError):
        runner.find_hook("saferoom.floor.board", "no_such_function")
    assert set(runner.find_hooks()) == set(runner.HOOKS)
    assert set(runner.HOOKS) == {
        "incident",
        "drug_checks",
        "visit_care",
        "referrals",
        "deliveries",
        "alerts",
        "standalone_incidents",
    }


def test_every_hook_is_called_at_its_moment_with_one_shared_random_generator(site_a, site_b):
    calls: list[tuple[str, dict[str, Any]]] = []

    def recorder(name: str) -> Any:
        def hook(**kwargs: Any) -> None:
            calls.append((name, kwargs))

        return hook

    hooks = {name: recorder(name) for name in runner.HOOKS}
    busy = QUIET.override(emergency_per_1000=300)
    summary = runner.run(
        sites=[site_a, site_b], days=2, start=START, seed=3, profile=busy, hooks=hooks
    )
    assert summary.refused == {}
    made = Counter(name for name, _ in calls)
    assert made == summary.hook_calls
    # One shared generator for every hook of the run.
    generators = {id(kwargs["rng"]) for _, kwargs in calls}
    assert len(generators) == 1
    assert isinstance(calls[0][1]["rng"], random.Random)

    visits = Visit.objects.exclude(state=Visit.State.TURNED_AWAY)
    assert made["drug_checks"] == visits.count()
    ended = ConsumptionSession.objects.count()
    assert made["visit_care"] == made["referrals"] == ended
    assert made["incident"] == summary.emergencies_started > 0
    assert made["deliveries"] == made["standalone_incidents"] == 2 * 2  # days × sites
    assert made["alerts"] == 2  # days × networks (both sites are in one network)

    for name, kwargs in calls:
        assert kwargs["by"].username.startswith("sim."), name
        if name in ("drug_checks", "visit_care", "referrals", "incident"):
            assert set(kwargs) >= {"rng", "site", "visit", "at", "by"}
            assert kwargs["visit"].site == kwargs["site"]
        if name == "incident":
            session = kwargs["session"]
            assert session.visit == kwargs["visit"]
            assert session.emergency_at == kwargs["at"]
        if name == "visit_care":
            kwargs["visit"].refresh_from_db()
            assert kwargs["visit"].aftercare_started_at == kwargs["at"]
        if name == "alerts":
            assert isinstance(kwargs["network"], Network)
            assert kwargs["day_start"].time() == dt.time(0)
        if name == "standalone_incidents":
            assert kwargs["day_end"] - kwargs["day_start"] >= dt.timedelta(hours=23)


def test_a_refused_hook_is_counted_and_undoes_only_its_own_writes(site_a):
    def refuses(**kwargs: Any) -> None:
        AuditEvent.objects.filter(pk=-1).update(action="x")  # a write inside the savepoint
        raise ActionRefused("Not today.", code="not_today")

    summary = runner.run(
        sites=[site_a], days=1, start=START, seed=2, profile=QUIET,
        hooks={"visit_care": refuses},
    )  # fmt: skip
    assert summary.refused["visit_care:not_today"] == summary.sessions > 0
    assert summary.hook_calls == Counter()
    assert ConsumptionSession.objects.filter(ended_at__isnull=False).count() == summary.sessions
