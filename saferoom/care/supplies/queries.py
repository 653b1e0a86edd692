"""What the supplies pages (and other areas) read: stock levels, low-stock warnings, what a
visit was given, an item's history. Reads only; writes are in ``actions``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import models
from django.db.models import F, Q, Sum

from saferoom.care.supplies.models import ServiceGiven, StockLevel, StockMovement
from saferoom.core.versioning import FIRST_VERSION
from saferoom.floor.models import Visit
from saferoom.sites.models import CatalogueItem, Site, catalogue_for

HISTORY_LIMIT = 200


@dataclass(frozen=True)
class ItemStock:
    item: CatalogueItem
    quantity: int
    low_threshold: int | None
    # The warning's version (saferoom.core.versioning); 1 until the level is first saved.
    version: int = FIRST_VERSION

    @property
    def is_low(self) -> bool:
        return self.low_threshold is not None and self.quantity <= self.low_threshold

    @property
    def is_out(self) -> bool:
        return self.quantity <= 0

    @property
    def group(self) -> str:
        return str(dict(CatalogueItem.CATEGORIES["supply"]).get(self.item.category, ""))


def low_stock(site: Site) -> list[StockLevel]:
    """The site's supplies in use whose stock is at or below their warning level, emptiest
    first (one query). For the stock page, the nav and anyone else's page (board, handover)."""
    return list(
        StockLevel.objects.select_related("item")
        .filter(
            site=site,
            low_threshold__isnull=False,
            quantity__lte=F("low_threshold"),
            item__active=True,
            item__kind="supply",
        )
        .filter(Q(item__site__isnull=True) | Q(item__site=site))
        .order_by("quantity", "item__sort_order", "item__label")
    )


def stock_levels(site: Site) -> list[ItemStock]:
    """Every supply the site offers, with its stock (0 when never received): two queries."""
    items = list(catalogue_for(site, "supply"))
    levels = {
        level.item_id: level
        for level in StockLevel.objects.filter(site=site, item__in=[i.pk for i in items])
    }
    rows = []
    for item in items:
        level = levels.get(item.pk)
        rows.append(
            ItemStock(
                item=item,
                quantity=level.quantity if level else 0,
                low_threshold=level.low_threshold if level else None,
            )
        )
    return rows


def level_of(site: Site, item: CatalogueItem) -> ItemStock:
    level = StockLevel.objects.filter(site=site, item=item).first()
    return ItemStock(
        item=item,
        quantity=level.quantity if level else 0,
        low_threshold=level.low_threshold if level else None,
        version=level.version if level else FIRST_VERSION,
    )


def supplies_given_to(visit: Visit) -> list[StockMovement]:
    """The visit's give-outs, oldest first, each with its reversal if it had one."""
    return list(
        StockMovement.objects.select_related("item", "by", "reversed_by")
        .filter(visit=visit, kind=StockMovement.Kind.GIVEN)
        .order_by("at", "id")
    )


def services_given_to(visit: Visit) -> list[ServiceGiven]:
    return list(
        ServiceGiven.objects.select_related("item", "by").filter(visit=visit).order_by("at", "id")
    )


def recent_walk_in_supplies(site: Site, limit: int = 20) -> list[StockMovement]:
    return list(
        StockMovement.objects.select_related("item", "by", "reversed_by", "client")
        .filter(site=site, kind=StockMovement.Kind.GIVEN, visit__isnull=True)
        .order_by("-at", "-id")[:limit]
    )


def recent_walk_in_services(site: Site, limit: int = 20) -> list[ServiceGiven]:
    return list(
        ServiceGiven.objects.select_related("item", "by", "client")
        .filter(site=site, visit__isnull=True)
        .order_by("-at", "-id")[:limit]
    )


def history(site: Site, item: CatalogueItem, limit: int = HISTORY_LIMIT) -> list[StockMovement]:
    """The item's movements at the site, newest first."""
    return list(
        StockMovement.objects.select_related("by", "reverses")
        .filter(site=site, item=item)
        .order_by("-at", "-id")[:limit]
    )


def supplies_given_by_item(site: Site, start: datetime, end: datetime) -> dict[str, int]:
    """How many of each supply (by code) the site gave out in [start, end), leaving out
    give-outs reversed as recorded in error (whenever they were reversed). For reports
    (indicators.md E2): one query."""
    rows = (
        StockMovement.objects.filter(
            site=site,
            kind=StockMovement.Kind.GIVEN,
            at__gte=start,
            at__lt=end,
            reversed_by__isnull=True,
        )
        .values_list("item__code")
        .annotate(total=Sum("quantity"))
    )
    return {code: -total for code, total in rows if total}


def services_given_by_item(site: Site, start: datetime, end: datetime) -> dict[str, int]:
    """How many times each service (by code) was given in [start, end), leaving out those
    marked as recorded in error (indicators.md U6): one query."""
    rows = (
        ServiceGiven.objects.filter(site=site, at__gte=start, at__lt=end, voided_at__isnull=True)
        .values_list("item__code")
        .annotate(total=models.Count("id"))
    )
    return dict(rows)
