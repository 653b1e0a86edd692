"""Simulation hooks for supplies and services (called by ``saferoom.simulation.runner``):
after-care give-outs and services per visit, and a daily delivery that keeps stock realistic.

Rates. domain.md §1.8 lists what sites give (Insite: syringes, cookers, filters, water,
tourniquets, take-home naloxone; German DCRs: sterile syringes, swabs, inhalation utensils;
Thistle: wound care, naloxone, shower, laundry, clothing, sexual health and BBV clinics; the
EMCDDA list adds refreshments, counselling, naloxone training) but publishes no per-visit rates,
so the numbers below are our assumptions [I], kept modest so a visit costs the 5–10 writes of
§6 (check-in, space, after-care, "supplies", a possible incident):

- an injecting visit takes a fresh kit 60% of the time and extra syringes 25%, filters or
  swabs 15%; a smoking visit takes foil 50%, a pipe 20%; any visit a naloxone kit 3% (nasal
  and intramuscular alike), condoms 5%, a sharps bin 4%;
- 15% of visits get a service on site: food 30%, wound care 25%, counselling 10%, BBV test 8%,
  shower 10%, sexual health 5%, laundry 4%, clothing 4%, naloxone training 4%.

Only the ``rng`` given is used, so a run is reproducible; every write goes through
``actions`` with ``by`` and ``at``; an expected refusal (an item out of stock or retired) is
skipped, never raised."""

from __future__ import annotations

import contextlib
import random
import uuid
from datetime import datetime, timedelta

from django.db.models import Sum

from saferoom.care.supplies import actions
from saferoom.care.supplies.models import StockLevel, StockMovement
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.core.versioning import FIRST_VERSION
from saferoom.floor.models import Visit
from saferoom.sites.models import CatalogueItem, Site, catalogue_for

# (code, probability per visit, quantities to choose from) by planned route.
INJECTING = [
    ("injecting_kit", 0.60, (1, 1, 1, 2)),
    ("syringe_1ml", 0.25, (5, 10, 10)),
    ("filter", 0.15, (5, 10)),
    ("swab", 0.15, (5, 10)),
]
SMOKING = [
    ("foil", 0.50, (5, 10)),
    ("pipe", 0.20, (1,)),
]
ANY_ROUTE = [
    ("naloxone", 0.03, (1,)),  # one kit: nasal or intramuscular, chosen below
    ("condoms", 0.05, (3, 5)),
    ("sharps_bin", 0.04, (1,)),
]
SERVICE_RATE = 0.15
SERVICE_MIX = {
    "food": 30,
    "wound_care": 25,
    "counselling": 10,
    "shower": 10,
    "bbv_test": 8,
    "sexual_health": 5,
    "laundry": 4,
    "clothing": 4,
    "naloxone_training": 4,
}

# What a site keeps on the shelf at least, by reporting group; a delivery tops stock up to
# twice the last day's give-outs when that is more.
BASE_PAR = {"injecting": 400, "smoking": 300, "naloxone": 40, "other": 100}
BOX = 50  # deliveries come in boxes
REORDER_BELOW = 0.6  # order when stock falls under 60% of par


def _key() -> uuid.UUID:
    return uuid.uuid4()


def _give(
    *,
    site: Site,
    items: dict[str, CatalogueItem],
    code: str,
    quantity: int,
    visit: Visit,
    at: datetime,
    by: User,
) -> None:
    item = items.get(code)
    if item is None:
        return
    # Out of stock today: the worker says so and gives something else, or nothing.
    with contextlib.suppress(ActionRefused):
        actions.give_supply(
            site=site,
            item=item,
            quantity=quantity,
            visit=visit,
            by=by,
            idempotency_key=_key(),
            at=at,
        )


def simulate_visit_care(
    *, rng: random.Random, site: Site, visit: Visit, at: datetime, by: User
) -> None:
    """After-care: the supplies and services one visit receives, at reference rates."""
    items = {item.code: item for item in catalogue_for(site, "supply")}
    plan = list(ANY_ROUTE)
    if visit.planned_route == "inject":
        plan = INJECTING + plan
    elif visit.planned_route == "smoke":
        plan = SMOKING + plan
    moment = at
    for code, probability, quantities in plan:
        if rng.random() >= probability:
            continue
        if code == "naloxone":
            code = rng.choice(("naloxone_nasal", "naloxone_im"))
        moment += timedelta(seconds=rng.randint(5, 40))
        _give(
            site=site,
            items=items,
            code=code,
            quantity=rng.choice(quantities),
            visit=visit,
            at=moment,
            by=by,
        )
    if rng.random() < SERVICE_RATE:
        services = {item.code: item for item in catalogue_for(site, "service")}
        offered = [(code, weight) for code, weight in SERVICE_MIX.items() if code in services]
        if offered:
            codes, weights = zip(*offered, strict=True)
            code = rng.choices(codes, weights=weights)[0]
            with contextlib.suppress(ActionRefused):
                actions.give_service(
                    site=site,
                    item=services[code],
                    visit=visit,
                    by=by,
                    idempotency_key=_key(),
                    at=moment + timedelta(minutes=rng.randint(1, 10)),
                )


def simulate_deliveries(*, rng: random.Random, site: Site, day_start: datetime, by: User) -> None:
    """Once a day: top up every supply that has fallen under its reorder level, and give each
    a low-stock warning level the first time (a fifth of what the shelf should hold)."""
    items = list(catalogue_for(site, "supply"))
    levels = {level.item_id: level for level in StockLevel.objects.filter(site=site)}
    given = dict(
        StockMovement.objects.filter(
            site=site,
            kind=StockMovement.Kind.GIVEN,
            at__gte=day_start - timedelta(days=1),
            at__lt=day_start,
        )
        .values_list("item_id")
        .annotate(total=Sum("quantity"))
        .values_list("item_id", "total")
    )
    at = day_start + timedelta(minutes=rng.randint(30, 150))
    for item in items:
        par = max(BASE_PAR.get(item.category, 100), 2 * -(given.get(item.pk) or 0))
        level = levels.get(item.pk)
        have = level.quantity if level is not None else 0
        if level is None or level.low_threshold is None:
            actions.set_low_threshold(
                site=site,
                item=item,
                threshold=par // 5,
                expected_version=level.version if level is not None else FIRST_VERSION,
                by=by,
                at=at,
            )
        if have >= par * REORDER_BELOW:
            continue
        boxes = -(-(par - have) // BOX)  # round up to whole boxes
        with contextlib.suppress(ActionRefused):
            actions.receive_stock(
                site=site,
                item=item,
                quantity=boxes * BOX,
                note="delivery",
                by=by,
                idempotency_key=_key(),
                at=at,
            )
