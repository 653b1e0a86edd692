"""Simulation hooks of the checking area, called by saferoom/simulation/runner.py: drug checks at
check-in where the site offers them, and now and then a drug alert across the network. Only the
``rng`` given is used (reproducible runs); every write goes through the real actions.

Rates (../shared/reference/domain.md §1.7, Insite, Harm Reduct J 2018 s12954-018-0252-8):
- about 1% of visits led to a check (CHECK_RATE);
- 79.8% of 1,411 fentanyl strip checks were positive (FENTANYL_POSITIVE);
- clients testing positive before use were 10x more likely to plan a lower dose
  (REDUCE_IF_POSITIVE / REDUCE_IF_NEGATIVE).
Everything else below is an assumption, marked [A], chosen to look plausible in a demo."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from saferoom.care.checking import actions
from saferoom.care.checking.models import Decision, Finding, Method, StripResult, Timing
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.floor.models import Visit
from saferoom.sites.models import Network, Site

CHECK_RATE = 0.01  # §1.7: about 1% of visits
FENTANYL_POSITIVE = 0.798  # §1.7: 79.8% of fentanyl strip checks
FENTANYL_INVALID = 0.02  # [A] of all strip checks
REDUCE_IF_POSITIVE = 0.30  # [A] level; the ratio of 10x to negatives is §1.7
REDUCE_IF_NEGATIVE = 0.03
# [A] Strips are cheap and fast, so most checks are fentanyl strips; FTIR where a site has one.
METHOD_MIX = [
    (Method.FENTANYL_STRIP, 0.80),
    (Method.FTIR, 0.10),
    (Method.BENZODIAZEPINE_STRIP, 0.05),
    (Method.XYLAZINE_STRIP, 0.05),
]
OTHER_STRIP_POSITIVE: dict[str, float] = {
    Method.BENZODIAZEPINE_STRIP: 0.30,
    Method.XYLAZINE_STRIP: 0.20,
}  # [A]
FTIR_FINDS = [  # [A] independent chances per sample
    (Finding.FENTANYL, 0.55),
    (Finding.XYLAZINE, 0.15),
    (Finding.BENZODIAZEPINE, 0.10),
    (Finding.NITAZENE, 0.03),
]
ALERT_DAILY_CHANCE = 1 / 30  # [A] about one alert a month per network
ALERT_SEVERITY = [("danger", 0.5), ("warning", 0.4), ("info", 0.1)]  # [A]
ALERT_MESSAGES = [
    "Nitazene found in what was sold as heroin. Use less, go slowly, never use alone.",
    "Xylazine found in several heroin samples: wounds heal badly, sedation lasts longer.",
    "High-strength fentanyl in the local supply this week. Test first, start low.",
    "Benzodiazepines found in what was sold as heroin: overdoses last longer.",
    "Contaminated crack reported nearby: unusual smell or colour, test before use.",
]


def _pick(rng: random.Random, mix: Sequence[tuple[str, float]]) -> str:
    roll = rng.random() * sum(weight for _, weight in mix)
    for value, weight in mix:
        roll -= weight
        if roll < 0:
            return value
    return mix[-1][0]


def _decision(rng: random.Random, unexpected: bool) -> str:
    if rng.random() < (REDUCE_IF_POSITIVE if unexpected else REDUCE_IF_NEGATIVE):
        return Decision.REDUCE_DOSE
    if unexpected:
        return _pick(
            rng,
            [
                (Decision.AS_PLANNED, 0.60),
                (Decision.WITH_SOMEONE, 0.15),
                (Decision.DISPOSE, 0.08),
                (Decision.NOT_DECIDED, 0.17),
            ],
        )
    return _pick(rng, [(Decision.AS_PLANNED, 0.93), (Decision.NOT_DECIDED, 0.07)])


def simulate_drug_checks(
    *, rng: random.Random, site: Site, visit: Visit, at: datetime, by: User
) -> None:
    """Called once per visit at check-in: about 1 in 100 visits has a sample checked first."""
    if not site.drug_checking_allowed or rng.random() >= CHECK_RATE:
        return
    method = _pick(rng, METHOD_MIX)
    strip_result = ""
    found: list[str] = []
    if method == Method.FENTANYL_STRIP:
        roll = rng.random()
        if roll < FENTANYL_POSITIVE:
            strip_result = StripResult.POSITIVE
        elif roll < FENTANYL_POSITIVE + FENTANYL_INVALID:
            strip_result = StripResult.INVALID
        else:
            strip_result = StripResult.NEGATIVE
    elif method in OTHER_STRIP_POSITIVE:
        positive = rng.random() < OTHER_STRIP_POSITIVE[method]
        strip_result = StripResult.POSITIVE if positive else StripResult.NEGATIVE
    else:
        found = [finding for finding, chance in FTIR_FINDS if rng.random() < chance]
        found = found or [Finding.AS_EXPECTED]
    unexpected = strip_result == StripResult.POSITIVE or (bool(found) and found != ["as_expected"])
    planned = list(visit.planned_substances.all())
    try:
        actions.record_check(
            site=site,
            visit=visit,
            method=method,
            strip_result=strip_result,
            expected=rng.choice(planned) if planned else None,
            found=found,
            timing=Timing.BEFORE,
            decision=_decision(rng, unexpected),
            by=by,
            idempotency_key=uuid.UUID(int=rng.getrandbits(128)),
            at=at,
        )
    except ActionRefused:
        return


def simulate_alerts(*, rng: random.Random, network: Network, day_start: datetime, by: User) -> None:
    """Called once per simulated day: about once a month a manager issues an alert from one of
    the network's sites, showing for one or two weeks."""
    if rng.random() >= ALERT_DAILY_CHANCE:
        return
    sites = list(Site.objects.filter(network=network, active=True).order_by("pk"))
    if not sites:
        return
    at = day_start + timedelta(hours=9 + rng.random() * 8)
    try:
        actions.issue_alert(
            site=rng.choice(sites),
            severity=_pick(rng, ALERT_SEVERITY),
            message=rng.choice(ALERT_MESSAGES),
            expires_at=at + timedelta(days=rng.choice([7, 14])),
            by=by,
            idempotency_key=uuid.UUID(int=rng.getrandbits(128)),
            at=at,
        )
    except ActionRefused:
        return
