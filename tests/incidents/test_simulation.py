"""The simulation hook: many simulated emergencies on a test site give the published rates
(domain.md §2.2), through the real actions, reproducibly, never raising for a refusal."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import pytest
from django.utils import timezone

from saferoom.floor import board
from saferoom.incidents.models import Incident, Intervention
from saferoom.incidents.simulation import simulate_incident, simulate_standalone_incidents
from saferoom.sites.models import Site

RUNS = 300


def _emergencies(site, by, *, seed: int, runs: int) -> None:
    rng = random.Random(seed)
    start = timezone.now() - dt.timedelta(days=30)
    for i in range(runs):
        at = start + dt.timedelta(hours=i)
        simulate_incident(rng=rng, site=site, visit=None, session=None, at=at, by=by)


def test_many_emergencies_give_the_published_rates(site_a, nurse):
    _emergencies(site_a, nurse, seed=7, runs=RUNS)
    incidents = list(Incident.objects.filter(site=site_a).prefetch_related("interventions"))
    assert len(incidents) == RUNS
    kinds = Counter(i.kind for i in incidents)
    assert kinds["opioid"] / RUNS > 0.6  # mostly opioid at an injecting site
    opioid = [i for i in incidents if i.kind == "opioid"]

    def has(incident: Incident, kind: str) -> bool:
        return any(s.kind == kind for s in incident.interventions.all())

    # Canada 2017–2024: 26% of overdoses needed naloxone.
    naloxone_share = sum(has(i, "naloxone") for i in opioid) / len(opioid)
    assert 0.18 <= naloxone_share <= 0.34, naloxone_share
    # OnPoint: oxygen in about 44% of opioid overdose responses.
    oxygen_share = sum(has(i, "oxygen") for i in opioid) / len(opioid)
    assert 0.34 <= oxygen_share <= 0.54, oxygen_share
    # EMS between OnPoint's 3.6% and Thistle's 20% of emergencies.
    ambulance = sum(has(i, "ambulance_called") for i in incidents) / RUNS
    assert 0.036 <= ambulance <= 0.20, ambulance
    outcomes = Counter(i.outcome for i in incidents)
    assert outcomes["died"] == 0
    assert 0 < outcomes["hospital"] <= sum(has(i, "ambulance_called") for i in incidents)
    assert all(i.outcome for i in incidents)  # all in the past: all over
    assert sum(i.is_closed for i in incidents) / RUNS > 0.85
    # Repeat doses are countable, each with its own time.
    doses = Intervention.objects.filter(incident__site=site_a, kind="naloxone")
    assert doses.count() >= sum(has(i, "naloxone") for i in opioid)


def test_the_same_seed_gives_the_same_history(site_a, site_b, nurse):
    _emergencies(site_a, nurse, seed=3, runs=25)
    _emergencies(site_b, nurse, seed=3, runs=25)

    def story(site: Site) -> list[tuple[str, str, tuple[str, ...]]]:
        return [
            (i.kind, i.outcome, tuple(s.kind for s in i.interventions.all()))
            for i in Incident.objects.filter(site=site).order_by("onset_at")
        ]

    assert story(site_a) == story(site_b)


def test_an_emergency_on_the_board_gets_its_incident(site_a, session, nurse):
    emergency = board.start_emergency(session=session, by=nurse)
    simulate_incident(
        rng=random.Random(1),
        site=site_a,
        visit=session.visit,
        session=emergency,
        at=emergency.emergency_at or timezone.now(),
        by=nurse,
    )
    incident = Incident.objects.get()
    assert incident.session == session
    assert incident.kind


def test_an_emergency_in_the_future_is_left_alone(site_a, nurse):
    simulate_incident(
        rng=random.Random(1),
        site=site_a,
        visit=None,
        session=None,
        at=timezone.now() + dt.timedelta(hours=1),
        by=nurse,
    )
    assert not Incident.objects.exists()


@pytest.mark.parametrize("seed", [11])
def test_non_medical_incidents_come_at_low_daily_rates(site_a, nurse, seed):
    rng = random.Random(seed)
    start = timezone.now() - dt.timedelta(days=400)
    for day in range(365):
        day_start = start + dt.timedelta(days=day)
        simulate_standalone_incidents(
            rng=rng,
            site=site_a,
            day_start=day_start,
            day_end=day_start + dt.timedelta(hours=12),
            by=nurse,
        )
    kinds = Counter(Incident.objects.values_list("kind", flat=True))
    assert 10 <= kinds["substance_found"] <= 50  # about 0.08 a day
    assert 5 <= kinds["violence"] <= 35  # about 0.05 a day
    assert set(Incident.objects.values_list("outcome", flat=True)) == {"resolved"}
