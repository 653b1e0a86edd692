"""The simulation hooks produce drug checks and alerts at the reference rates (domain.md §1.7),
through the real actions, reproducibly from the rng they are given."""

from __future__ import annotations

import datetime as dt
import random

from django.db import transaction

from saferoom.care.checking import simulation
from saferoom.care.checking.models import DrugAlert, DrugCheck
from saferoom.core.models import AuditEvent

CALLS = 20_000


def test_drug_checks_come_at_the_reference_rates(site_a, nurse, visit_a):
    rng = random.Random(20260310)
    at = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    for _ in range(CALLS):
        simulation.simulate_drug_checks(rng=rng, site=site_a, visit=visit_a, at=at, by=nurse)
    checks = list(DrugCheck.objects.all())
    # §1.7: about 1% of visits led to a check.
    assert 0.007 <= len(checks) / CALLS <= 0.013
    fentanyl = [c for c in checks if c.method == "fentanyl_strip"]
    positive = sum(c.strip_result == "positive" for c in fentanyl)
    # §1.7: 79.8% of fentanyl strip checks were positive.
    assert 0.70 <= positive / len(fentanyl) <= 0.90
    # §1.7: positive before use -> far more likely to plan a lower dose (10x).
    reduced_pos = [c.decision == "reduce_dose" for c in fentanyl if c.strip_result == "positive"]
    assert sum(reduced_pos) / len(reduced_pos) >= 0.15
    assert all(c.visit_id == visit_a.pk and c.checked_at == at for c in checks)
    assert AuditEvent.objects.filter(action="drug_check.recorded").count() == len(checks)


def test_no_checks_where_the_site_does_not_offer_them(site_a, nurse, visit_a):
    site_a.drug_checking_allowed = False
    rng = random.Random(1)
    at = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    for _ in range(2_000):
        simulation.simulate_drug_checks(rng=rng, site=site_a, visit=visit_a, at=at, by=nurse)
    assert not DrugCheck.objects.exists()


def test_alerts_come_about_once_a_month_and_expire(network, site_a, site_b, manager):
    rng = random.Random(7)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    days = 720
    for day in range(days):
        simulation.simulate_alerts(
            rng=rng, network=network, day_start=start + dt.timedelta(days=day), by=manager
        )
    alerts = list(DrugAlert.objects.all())
    assert 12 <= len(alerts) <= 36  # about 24 in two years
    assert all(
        a.expires_at - a.issued_at in {dt.timedelta(days=7), dt.timedelta(days=14)} for a in alerts
    )
    assert {a.site_id for a in alerts} <= {site_a.pk, site_b.pk}


def test_the_same_seed_gives_the_same_checks(site_a, nurse, visit_a):
    at = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

    def run() -> list[tuple[str, str, list[str], str]]:
        # Each run is rolled back: drug checks are never deleted (saferoom.core.clinical), and
        # the same seed makes the same idempotency keys.
        with transaction.atomic():
            rng = random.Random(99)
            for _ in range(3_000):
                simulation.simulate_drug_checks(
                    rng=rng, site=site_a, visit=visit_a, at=at, by=nurse
                )
            made = [
                (c.method, c.strip_result, c.found, c.decision)
                for c in DrugCheck.objects.order_by("pk")
            ]
            transaction.set_rollback(True)
        return made

    assert run() == run()
