"""The simulator's hook for referrals: called once per visit at after-care, it makes referrals
at reference rates through the real actions, and records their follow-ups a few days later
when that time has already passed. It never makes identity records: those hold real names.

Rates (``../shared/reference/domain.md``):
- how often: Insite 2016, 5,321 referrals in 214,898 visits (§1.1 table) = 2.5 per 100 visits;
- kind mix: Thistle's first 9 months, 340+ referrals: 46% housing, 13.3% addiction (drug
  treatment), just over 10% BBV team, about 4% sexual and reproductive health (§2.2, from the
  Glasgow HSCP news quoted there). The other ~27% is not broken down in the sources; we split
  it, as an assumption [I], over detox/rehab, mental health, primary care, benefits and legal.
- urgency and follow-up outcomes are not in the sources: assumptions [I] below, chosen so the
  follow-ups due list has a realistic mix (most referrals routine; about half not traceable).
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, time, timedelta

from django.utils import timezone

from saferoom.care.referrals import actions
from saferoom.care.referrals.models import FollowUp, Referral
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.floor.models import Visit
from saferoom.sites.models import Site, catalogue_for

REFERRALS_PER_VISIT = 5321 / 214898  # §1.1 Insite 2016
KIND_WEIGHTS = {  # §2.2 Thistle, then [I] for the remainder
    "housing": 46.0,
    "drug_treatment": 13.3,
    "bbv": 10.2,
    "sexual_health": 4.0,
    "detox_rehab": 7.0,
    "mental_health": 7.5,
    "primary_care": 5.0,
    "benefits": 5.0,
    "legal": 2.0,
}
URGENCY_WEIGHTS = {"routine": 60.0, "soon": 30.0, "urgent": 10.0}  # [I]
# The outcome a follow-up finally finds [I]; a first try finds nothing yet this often [I].
OUTCOME_WEIGHTS = {"attended": 40.0, "declined": 15.0, "unknown": 45.0}
NOT_YET_FIRST = 0.25
NOON = time(12)
METHOD_WEIGHTS = {"in_person": 55.0, "phone": 20.0, "service": 20.0, "other": 5.0}


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _key() -> uuid.UUID:
    # Fresh keys, not drawn from ``rng``: a second run with the same seed on the same database
    # must not replay the first run's keys (it would be refused as a changed form).
    return uuid.uuid4()


def _when(rng: random.Random, due: datetime, made: datetime) -> datetime:
    """Around the due date: a day or two early up to a few days late, in opening hours."""
    moment = due + timedelta(days=rng.randint(-2, 4), hours=rng.uniform(-3, 3))
    return max(moment, made + timedelta(hours=1))


def simulate_referrals(
    *, rng: random.Random, site: Site, visit: Visit, at: datetime, by: User
) -> None:
    if rng.random() >= REFERRALS_PER_VISIT:
        return
    targets = list(catalogue_for(site, "referral_target"))
    kind = _pick(rng, KIND_WEIGHTS)
    choices = [t for t in targets if t.category == kind] or targets
    if not choices:
        return
    try:
        referral = actions.make_referral(
            site=site,
            visit=visit,
            target=rng.choice(choices),
            urgency=_pick(rng, URGENCY_WEIGHTS),
            by=by,
            idempotency_key=_key(),
            at=at,
        )
    except ActionRefused:
        return
    _follow_up(rng, referral, by)


def _follow_up(rng: random.Random, referral: Referral, by: User) -> None:
    now = timezone.now()
    tz = referral.site.tz
    due_at = datetime.combine(referral.follow_up_due, NOON, tz)
    when = _when(rng, due_at, referral.made_at)
    tries = 0
    while when <= now and referral.is_open and tries < 3:
        tries += 1
        not_yet = tries == 1 and rng.random() < NOT_YET_FIRST
        outcome = FollowUp.Outcome.NOT_YET if not_yet else _pick(rng, OUTCOME_WEIGHTS)
        try:
            done = actions.record_follow_up(
                referral=referral,
                outcome=outcome,
                method=_pick(rng, METHOD_WEIGHTS),
                expected_version=referral.version,
                by=by,
                idempotency_key=_key(),
                at=when,
            )
        except ActionRefused:
            return
        if done.next_due is None:
            return
        when = _when(rng, datetime.combine(done.next_due, NOON, tz), when)
