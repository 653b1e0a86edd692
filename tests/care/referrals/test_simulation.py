"""The simulator's referrals hook: run over thousands of after-care visits, it makes referrals
at the reference rate and kind mix, follows them up only in the past, and never keeps an
identity record."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import pytest

from saferoom.care.referrals.models import FollowUp, IdentityRecord, Referral
from saferoom.care.referrals.simulation import KIND_WEIGHTS, REFERRALS_PER_VISIT, simulate_referrals
from tests.care.referrals.conftest import make_visit

CALLS = 12_000


@pytest.fixture
def history(site_a, register, nurse, afternoon):
    """12,000 after-care visits' worth of calls, spread over the 60 days before now."""
    rng = random.Random(20260310)
    visits = [make_visit(site_a, register(site_a), nurse) for _ in range(3)]
    now = dt.datetime.now(dt.UTC)
    for i in range(CALLS):
        at = now - dt.timedelta(days=60) + dt.timedelta(seconds=i * 60 * 60 * 24 * 60 / CALLS)
        simulate_referrals(rng=rng, site=site_a, visit=visits[i % 3], at=at, by=nurse)
    return now


@pytest.mark.slow
def test_referrals_come_at_the_reference_rate_and_mix_and_are_followed_up(history):
    made = Referral.objects.count()
    expected = CALLS * REFERRALS_PER_VISIT  # ~297
    # Binomial: sd ~ 17; four sd either side.
    assert expected - 70 < made < expected + 70
    kinds = Counter(Referral.objects.values_list("category", flat=True))
    housing = kinds["housing"] / made
    assert 0.38 < housing < 0.54  # Thistle: 46%
    assert set(kinds) <= set(KIND_WEIGHTS)
    assert kinds.most_common(1)[0][0] == "housing"

    # Follow-ups happen only in the past, and close nearly every referral a month old.
    assert not FollowUp.objects.filter(at__gt=history).exists()
    old = Referral.objects.filter(made_at__lt=history - dt.timedelta(days=30))
    closed = old.exclude(status="made").count()
    assert closed / old.count() > 0.9
    outcomes = Counter(old.exclude(status="made").values_list("status", flat=True))
    assert set(outcomes) <= {"attended", "declined", "unknown"}
    assert outcomes["attended"] > 0
    assert outcomes["unknown"] > 0
    # Recent referrals wait for their follow-up date.
    recent = Referral.objects.filter(made_at__gt=history - dt.timedelta(days=1))
    assert all(r.is_open for r in recent)

    # Identity records hold real names: the simulator never makes one.
    assert IdentityRecord.objects.count() == 0


def test_the_same_seed_makes_the_same_referrals(site_a, register, nurse):
    def run(seed: int) -> list[tuple[str, str]]:
        rng = random.Random(seed)
        visit = make_visit(site_a, register(site_a), nurse)
        at = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
        for _ in range(400):
            simulate_referrals(rng=rng, site=site_a, visit=visit, at=at, by=nurse)
        return list(Referral.objects.filter(visit=visit).values_list("category", "urgency"))

    assert run(7) == run(7)
