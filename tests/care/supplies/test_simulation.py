"""The simulation hooks give supplies and services at the rates written in
saferoom/care/supplies/simulation.py, keep stock from running out with daily deliveries, never
raise for an expected refusal and give the same history for the same seed."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db.models import Sum
from django.utils import timezone

from saferoom.care.supplies import simulation
from saferoom.care.supplies.models import ServiceGiven, StockLevel, StockMovement
from saferoom.floor.models import Visit
from saferoom.simulation import runner
from saferoom.simulation.profiles import get_profile
from tests.care.supplies.conftest import make_visit

pytestmark = pytest.mark.django_db


def run(site, by, seed: int, *, days: int = 3, per_day: int = 90) -> list[Visit]:
    rng = random.Random(seed)
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=days + 1)
    visits = []
    for day in range(days):
        day_start = start + dt.timedelta(days=day)
        simulation.simulate_deliveries(rng=rng, site=site, day_start=day_start, by=by)
        for i in range(per_day):
            route = "inject" if i % 10 < 7 else "smoke"
            visit = make_visit(site, by, planned_route=route)
            at = day_start + dt.timedelta(hours=2, minutes=5 * i)
            simulation.simulate_visit_care(rng=rng, site=site, visit=visit, at=at, by=by)
            visits.append(visit)
    return visits


def given(site, code: str, route: str | None = None) -> int:
    movements = StockMovement.objects.filter(site=site, kind="given", item__code=code)
    if route is not None:
        movements = movements.filter(visit__planned_route=route)
    return movements.values("visit").distinct().count()


def test_rates_are_in_the_reference_band_and_stock_never_runs_out(site_a, manager):
    visits = run(site_a, manager, seed=7)
    injecting = sum(1 for v in visits if v.planned_route == "inject")
    smoking = len(visits) - injecting
    # simulation.py: a kit to 60% of injecting visits, foil to 50% of smoking visits,
    # naloxone to 3% of all, a service to 15% of all.
    assert 0.50 <= given(site_a, "injecting_kit", "inject") / injecting <= 0.70
    assert 0.38 <= given(site_a, "foil", "smoke") / smoking <= 0.62
    assert given(site_a, "foil", "inject") == 0
    assert given(site_a, "injecting_kit", "smoke") == 0
    naloxone = given(site_a, "naloxone_nasal") + given(site_a, "naloxone_im")
    assert 0.01 <= naloxone / len(visits) <= 0.06
    assert 0.10 <= ServiceGiven.objects.filter(site=site_a).count() / len(visits) <= 0.21
    # Deliveries came, every level agrees with its ledger and none is below zero.
    assert StockMovement.objects.filter(site=site_a, kind="received").exists()
    for level in StockLevel.objects.filter(site=site_a):
        assert level.quantity >= 0
        ledger = StockMovement.objects.filter(site=site_a, item=level.item).aggregate(
            total=Sum("quantity")
        )["total"]
        assert level.quantity == (ledger or 0), level.item.code
        assert level.low_threshold is not None


def test_writes_per_visit_stay_within_the_budget(site_a, manager):
    visits = run(site_a, manager, seed=11, days=2, per_day=60)
    writes = (
        StockMovement.objects.filter(site=site_a, kind="given").count()
        + ServiceGiven.objects.filter(site=site_a).count()
    )
    # domain.md §6: 5–10 writes a visit in all; supplies and services take about two.
    assert writes / len(visits) <= 2.0


def test_the_same_seed_gives_the_same_history(site_a, site_b, manager, admin):
    run(site_a, admin, seed=3, days=2, per_day=30)
    run(site_b, admin, seed=3, days=2, per_day=30)

    def summary(site) -> list[tuple[str, str, int]]:
        return list(
            StockMovement.objects.filter(site=site)
            .order_by("at", "id")
            .values_list("kind", "item__code", "quantity")
        )

    assert summary(site_a) == summary(site_b)


def test_the_runner_drives_the_hooks_through_a_simulated_week(site_a):
    hooks = {}
    for key in ("visit_care", "deliveries"):
        hook = runner.find_hook(*runner.HOOKS[key])
        assert hook is not None, key
        hooks[key] = hook
    summary = runner.run(
        sites=[site_a],
        days=3,
        start=dt.date(2025, 3, 3),
        seed=2,
        profile=get_profile("nrw").override(visits_per_day=25),
        hooks=hooks,
    )
    assert summary.refused == {}
    assert summary.hook_calls["deliveries"] == 3
    assert summary.hook_calls["visit_care"] > 0
    assert StockMovement.objects.filter(site=site_a, kind="given").exists()
    assert not StockLevel.objects.filter(site=site_a, quantity__lt=0).exists()
