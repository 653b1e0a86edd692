"""The writes of supplies and services: give out (to a visit or a walk-in), reverse a give-out
recorded in error, receive a delivery, count, adjust, set a low-stock warning; give a service
on site and void one recorded in error.

Each runs in one transaction with its audit event; creates are idempotent; a refusal raises
ActionRefused and changes nothing. Stock moves only through a conditional UPDATE of the site's
StockLevel row (``quantity >= n`` for anything that takes stock away) in the same transaction as
the ledger row, so two devices giving the last item leave exactly one winner, and the database's
CheckConstraint refuses a negative level should anything slip past."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from saferoom.care.supplies.models import ServiceGiven, StockLevel, StockMovement
from saferoom.clients.models import Client
from saferoom.core import audit, tap_time, versioning
from saferoom.core.errors import ActionRefused
from saferoom.core.idempotency import parse_key, remember, replayed
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.floor.models import Visit
from saferoom.sites.access import roles_at
from saferoom.sites.models import CatalogueItem, Site

# Most of one item a single give-out, delivery or count may record: a typo guard (a box of
# 100 syringes times 10 boxes is a big delivery; a count of a storeroom can be larger).
MAX_GIVE = 200
MAX_RECEIVE = 100_000
MAX_COUNT = 1_000_000
MAX_REASON = 200

MANAGING_ROLES = frozenset({Role.MANAGER, Role.ADMIN})


# --- Checks shared by the actions ---------------------------------------------------------


def _check_item(site: Site, item: CatalogueItem, kind: str) -> None:
    """The item must be an active entry of the site's own list of ``kind``."""
    if (
        item.kind != kind
        or item.network_id != site.network_id
        or item.site_id
        not in (
            None,
            site.pk,
        )
    ):
        raise ActionRefused(
            _("That is not on %(site)s's list. Choose one of the items shown.")
            % {"site": site.name},
            code="other_site_item",
        )
    if not item.active:
        raise ActionRefused(
            _(
                "%(item)s is no longer in use. Choose another item, or ask a manager to bring "
                "it back in Site settings."
            )
            % {"item": item.label},
            code="inactive_item",
        )


def _check_quantity(quantity: object, *, most: int, least: int = 1) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise ActionRefused(_("Give the quantity as a whole number."), code="bad_quantity")
    if quantity < least or quantity > most:
        raise ActionRefused(
            _("The quantity must be between %(least)s and %(most)s.")
            % {"least": least, "most": most},
            code="bad_quantity",
        )
    return quantity


def _check_reason(reason: str, *, required: bool) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise ActionRefused(_("Say why, in a few words."), code="no_reason")
    if len(reason) > MAX_REASON:
        raise ActionRefused(
            _("Keep the reason under %(n)s characters.") % {"n": MAX_REASON}, code="bad_reason"
        )
    return reason


def _check_recipient(site: Site, visit: Visit | None, client: Client | None) -> Client | None:
    """Who receives: a visit of this site (its client, if any), or a walk-in who may show a
    card. Returns the client to record."""
    if visit is not None:
        if visit.site_id != site.pk:
            raise ActionRefused(
                _("That visit is not at %(site)s.") % {"site": site.name}, code="bad_visit"
            )
        if client is not None and client.pk != visit.client_id:
            raise ActionRefused(_("That client is not the one of this visit."), code="bad_client")
        return visit.client
    if client is not None:
        if client.network_id != site.network_id:
            raise ActionRefused(
                _("That client is not registered in this network."), code="bad_client"
            )
        if client.merged_into_id is not None:
            raise ActionRefused(
                _("That code was merged into another client's. Find the client again."),
                code="merged_client",
            )
    return client


def _when(
    site: Site, visit: Visit | None, at: datetime | None, tapped_at: datetime | None
) -> datetime:
    """When a give-out or service happened: the tap's time if a device gave one (checked: not
    in the future, not too old, not before the visit began), else ``at``, else now."""
    if tapped_at is not None:
        began = visit.arrived_at if visit is not None else None
        return tap_time.checked(tapped_at, site=site, began=began, what=_("the visit"))
    return at or timezone.now()


def _level(site: Site, item: CatalogueItem) -> StockLevel:
    level, _created = StockLevel.objects.get_or_create(site=site, item=item)
    return level


def _quantity_now(level: StockLevel) -> int:
    value: int = StockLevel.objects.filter(pk=level.pk).values_list("quantity", flat=True).get()
    return value


def _write_movement(
    *,
    site: Site,
    item: CatalogueItem,
    kind: str,
    quantity: int,
    balance_after: int,
    at: datetime,
    by: User,
    audit_action: str,
    audit_detail: dict[str, Any],
    key: Any,
    key_action: str,
    details: dict[str, Any],
    **extra: Any,
) -> StockMovement:
    """One line of the stock ledger, its audit event and its idempotency record: every stock
    write ends here, inside the caller's transaction."""
    movement = StockMovement.objects.create(
        site=site,
        item=item,
        kind=kind,
        quantity=quantity,
        balance_after=balance_after,
        at=at,
        by=by,
        **extra,
    )
    audit.record(action=audit_action, by=by, obj=movement, site=site, at=at, detail=audit_detail)
    remember(key=key, by=by, action=key_action, details=details, obj=movement)
    return movement


def in_stock(site: Site, item: CatalogueItem) -> int:
    value = StockLevel.objects.filter(site=site, item=item).values_list("quantity", flat=True)
    return next(iter(value), 0)


def _count_since(site: Site, item: CatalogueItem, at: datetime) -> StockMovement | None:
    """The latest stock count made after ``at``, if any. A count is the truth about the shelf
    when it was made: whatever left it, or never left it, before then is already in it. So a
    give-out tapped on an offline tablet before a count, and sent after it, must not take the
    item off the level a second time (nor may the reversal of a give-out counted since)."""
    return (
        StockMovement.objects.filter(
            site=site, item=item, kind=StockMovement.Kind.COUNTED, at__gt=at
        )
        .order_by("-at", "-id")
        .first()
    )


def _in_count_note(site: Site, count: StockMovement) -> str:
    return _("Already in the stock count of %(when)s: the level is unchanged.") % {
        "when": date_format(site.local(count.at), "SHORT_DATETIME_FORMAT")
    }


def _is_manager(user: User, site: Site) -> bool:
    return bool(roles_at(user, site) & MANAGING_ROLES)


def _take(level: StockLevel, n: int) -> bool:
    """Take ``n`` from the level if (and only if) that many are there: one conditional UPDATE,
    so of two devices racing for the last item exactly one updates a row."""
    return bool(
        StockLevel.objects.filter(pk=level.pk, quantity__gte=n).update(
            quantity=F("quantity") - n, updated_at=timezone.now()
        )
    )


def _put(level: StockLevel, n: int) -> None:
    StockLevel.objects.filter(pk=level.pk).update(
        quantity=F("quantity") + n, updated_at=timezone.now()
    )


def _not_enough(site: Site, item: CatalogueItem, wanted: int, have: int) -> ActionRefused:
    if have == 0:
        message = _(
            "There is no %(item)s in stock at %(site)s, so none can be given. If there is some "
            "on the shelf, a manager can count it on the Stock page first."
        ) % {"item": item.label, "site": site.name}
    else:
        message = _(
            "Only %(have)s %(item)s left in stock at %(site)s: %(wanted)s cannot be given. Give "
            "%(have)s or fewer, or, if there are more on the shelf, a manager can count them on "
            "the Stock page first."
        ) % {"have": have, "item": item.label, "site": site.name, "wanted": wanted}
    return ActionRefused(message, code="not_enough_stock")


# --- Giving out ---------------------------------------------------------------------------


def give_supply(
    *,
    site: Site,
    item: CatalogueItem,
    quantity: int,
    visit: Visit | None = None,
    client: Client | None = None,
    by: User,
    idempotency_key: Any,
    at: datetime | None = None,
    tapped_at: datetime | None = None,
) -> StockMovement:
    """Give ``quantity`` of a supply to a visit, or to a walk-in (no visit; a client if they
    showed a card). Stock goes down; refused if there is not that much in stock.
    ``tapped_at``: the time of the tap as a device says (saferoom.core.tap_time)."""
    key = parse_key(idempotency_key)
    details = {
        "site": site.pk,
        "item": item.pk,
        "quantity": quantity,
        "visit": visit.pk if visit is not None else None,
        "client": client.pk if client is not None else None,
    }
    with transaction.atomic():
        existing = replayed(key=key, by=by, action="supply.give", details=details)
        if existing is not None:
            return StockMovement.objects.select_related("item").get(pk=existing)
        at = _when(site, visit, at, tapped_at)
        _check_item(site, item, "supply")
        n = _check_quantity(quantity, most=MAX_GIVE)
        recipient = _check_recipient(site, visit, client)
        level = _level(site, item)
        counted = _count_since(site, item, at)
        if counted is None and not _take(level, n):
            raise _not_enough(site, item, n, _quantity_now(level))
        movement = _write_movement(
            site=site,
            item=item,
            kind=StockMovement.Kind.GIVEN,
            quantity=-n,
            balance_after=_quantity_now(level),
            at=at,
            by=by,
            audit_action="supply.given",
            audit_detail={
                "item": item.code,
                "quantity": n,
                "visit": visit.pk if visit is not None else None,
                "walk_in": visit is None,
                **tap_time.received(tapped_at),
                **({"in_count": counted.pk} if counted is not None else {}),
            },
            key=key,
            key_action="supply.give",
            details=details,
            visit=visit,
            client=recipient,
            reason=_in_count_note(site, counted) if counted is not None else "",
        )
    return movement


def reverse_give_out(
    *,
    movement: StockMovement,
    reason: str,
    by: User,
    idempotency_key: Any,
    at: datetime | None = None,
) -> StockMovement:
    """A give-out recorded in error goes back into stock with a reason; the give-out stays in
    the ledger, marked as reversed. Staff reverse their own; managers anyone's."""
    at = at or timezone.now()
    key = parse_key(idempotency_key)
    details = {"movement": movement.pk, "reason": reason}
    site = movement.site
    with transaction.atomic():
        existing = replayed(key=key, by=by, action="supply.reverse", details=details)
        if existing is not None:
            return StockMovement.objects.select_related("item").get(pk=existing)
        if movement.kind != StockMovement.Kind.GIVEN:
            raise ActionRefused(_("Only a give-out can be reversed."), code="not_a_give_out")
        why = _check_reason(reason, required=True)
        if movement.by_id != by.pk and not _is_manager(by, site):
            raise ActionRefused(
                _(
                    "Only the person who recorded this give-out, or a manager, can reverse it. "
                    "Ask a manager."
                ),
                code="not_yours",
            )
        # Lock the give-out (PostgreSQL; SQLite serialises writers) so two reversals sent at
        # once cannot both pass the check below; the one-to-one column is the last guard.
        list(StockMovement.objects.select_for_update().filter(pk=movement.pk).values_list("pk"))
        if StockMovement.objects.filter(reverses=movement).exists():
            raise ActionRefused(_("This give-out was already reversed."), code="already_reversed")
        level = _level(site, movement.item)
        # Counted since the give-out: the count saw the item on the shelf, if it was there.
        counted = _count_since(site, movement.item, movement.at)
        if counted is None:
            _put(level, -movement.quantity)
        reversal = _write_movement(
            site=site,
            item=movement.item,
            kind=StockMovement.Kind.RETURNED,
            quantity=-movement.quantity,
            balance_after=_quantity_now(level),
            at=at,
            by=by,
            audit_action="supply.give_out_reversed",
            audit_detail={
                "item": movement.item.code,
                "quantity": -movement.quantity,
                "of": movement.pk,
                **({"in_count": counted.pk} if counted is not None else {}),
            },
            key=key,
            key_action="supply.reverse",
            details=details,
            reason=why,
            reverses=movement,
        )
    return reversal


# --- Stock: deliveries, counts, adjustments, warnings ---------------------------------------


def receive_stock(
    *,
    site: Site,
    item: CatalogueItem,
    quantity: int,
    note: str = "",
    by: User,
    idempotency_key: Any,
    at: datetime | None = None,
) -> StockMovement:
    """A delivery arrived: stock goes up."""
    at = at or timezone.now()
    key = parse_key(idempotency_key)
    details = {"site": site.pk, "item": item.pk, "quantity": quantity, "note": note}
    with transaction.atomic():
        existing = replayed(key=key, by=by, action="stock.receive", details=details)
        if existing is not None:
            return StockMovement.objects.select_related("item").get(pk=existing)
        _check_item(site, item, "supply")
        n = _check_quantity(quantity, most=MAX_RECEIVE)
        why = _check_reason(note, required=False)
        level = _level(site, item)
        _put(level, n)
        movement = _write_movement(
            site=site,
            item=item,
            kind=StockMovement.Kind.RECEIVED,
            quantity=n,
            balance_after=_quantity_now(level),
            at=at,
            by=by,
            audit_action="stock.received",
            audit_detail={"item": item.code, "quantity": n},
            key=key,
            key_action="stock.receive",
            details=details,
            reason=why,
        )
    return movement


def count_stock(
    *,
    site: Site,
    item: CatalogueItem,
    counted: int,
    note: str = "",
    by: User,
    idempotency_key: Any,
    at: datetime | None = None,
) -> StockMovement:
    """A stock-take: the level becomes what was counted; the movement records the difference
    (which may be none)."""
    at = at or timezone.now()
    key = parse_key(idempotency_key)
    details = {"site": site.pk, "item": item.pk, "counted": counted, "note": note}
    with transaction.atomic():
        existing = replayed(key=key, by=by, action="stock.count", details=details)
        if existing is not None:
            return StockMovement.objects.select_related("item").get(pk=existing)
        # A count may include an item no longer in use (what is left on the shelf).
        _check_item_any(site, item)
        n = _check_quantity(counted, most=MAX_COUNT, least=0)
        why = _check_reason(note, required=False)
        level = _level(site, item)
        # Lock the row (PostgreSQL; SQLite's immediate transaction already serialises writers)
        # so a give-out cannot slip in between reading the old level and setting the new one.
        before = (
            StockLevel.objects.select_for_update()
            .filter(pk=level.pk)
            .values_list("quantity", flat=True)[0]
        )
        StockLevel.objects.filter(pk=level.pk).update(quantity=n, updated_at=timezone.now())
        movement = _write_movement(
            site=site,
            item=item,
            kind=StockMovement.Kind.COUNTED,
            quantity=n - before,
            balance_after=n,
            at=at,
            by=by,
            audit_action="stock.counted",
            audit_detail={"item": item.code, "counted": n, "difference": n - before},
            key=key,
            key_action="stock.count",
            details=details,
            reason=why,
        )
    return movement


def take_stock(
    *,
    site: Site,
    counts: list[tuple[CatalogueItem, int]],
    note: str = "",
    by: User,
    idempotency_key: Any,
    at: datetime | None = None,
) -> list[StockMovement]:
    """A stock-take of several items at once: all are recorded, or (on any refusal) none.
    Each item's count is idempotent on its own key, made from the form's key and the item."""
    key = parse_key(idempotency_key)
    if not counts:
        raise ActionRefused(_("Fill in at least one count."), code="nothing_counted")
    with transaction.atomic():
        return [
            count_stock(
                site=site,
                item=item,
                counted=counted,
                note=note,
                by=by,
                idempotency_key=uuid.uuid5(key, str(item.pk)),
                at=at,
            )
            for item, counted in counts
        ]


def _check_item_any(site: Site, item: CatalogueItem) -> None:
    """Like _check_item, for actions that may touch an item no longer in use."""
    if (
        item.kind != "supply"
        or item.network_id != site.network_id
        or item.site_id
        not in (
            None,
            site.pk,
        )
    ):
        raise ActionRefused(
            _("That is not on %(site)s's list. Choose one of the items shown.")
            % {"site": site.name},
            code="other_site_item",
        )


def adjust_stock(
    *,
    site: Site,
    item: CatalogueItem,
    change: int,
    reason: str,
    by: User,
    idempotency_key: Any,
    at: datetime | None = None,
) -> StockMovement:
    """Add or take away stock with a reason (found, damaged, expired, moved to another site).
    Taking away more than is there is refused: stock never goes below zero."""
    at = at or timezone.now()
    key = parse_key(idempotency_key)
    details = {"site": site.pk, "item": item.pk, "change": change, "reason": reason}
    with transaction.atomic():
        existing = replayed(key=key, by=by, action="stock.adjust", details=details)
        if existing is not None:
            return StockMovement.objects.select_related("item").get(pk=existing)
        _check_item_any(site, item)
        if isinstance(change, bool) or not isinstance(change, int) or change == 0:
            raise ActionRefused(
                _(
                    "Give the change as a whole number: more than 0 to add, less than 0 to take "
                    "away."
                ),
                code="bad_quantity",
            )
        _check_quantity(abs(change), most=MAX_RECEIVE)
        why = _check_reason(reason, required=True)
        level = _level(site, item)
        if change > 0:
            _put(level, change)
        elif not _take(level, -change):
            have = _quantity_now(level)
            raise ActionRefused(
                _(
                    "Only %(have)s %(item)s in stock: you cannot take away %(n)s. Count the "
                    "stock instead if the number on the shelf is different."
                )
                % {"have": have, "item": item.label, "n": -change},
                code="not_enough_stock",
            )
        movement = _write_movement(
            site=site,
            item=item,
            kind=StockMovement.Kind.ADJUSTED,
            quantity=change,
            balance_after=_quantity_now(level),
            at=at,
            by=by,
            audit_action="stock.adjusted",
            audit_detail={"item": item.code, "change": change},
            key=key,
            key_action="stock.adjust",
            details=details,
            reason=why,
        )
    return movement


def set_low_threshold(
    *,
    site: Site,
    item: CatalogueItem,
    threshold: int | None,
    expected_version: int,
    by: User,
    at: datetime | None = None,
) -> StockLevel:
    """Warn when the site's stock of ``item`` is at or below ``threshold`` (None: never).
    ``expected_version`` is the warning's version the form was opened on (1 before the item
    was first stocked): a warning level a colleague saved since refuses this one."""
    if threshold is not None:
        _check_quantity(threshold, most=MAX_RECEIVE, least=0)
    with transaction.atomic():
        _check_item_any(site, item)
        level = StockLevel.objects.select_for_update().get(pk=_level(site, item).pk)
        versioning.expect(level, expected_version)
        before = level.low_threshold
        versioning.bump(level, expected_version)
        StockLevel.objects.filter(pk=level.pk).update(
            low_threshold=threshold, updated_at=timezone.now()
        )
        level.refresh_from_db()
        audit.record(
            action="stock.threshold_set",
            by=by,
            obj=level,
            site=site,
            at=at,
            detail={
                "item": item.code,
                "from": before,
                "to": threshold,
                "version": level.version,
            },
        )
    return level


# --- Services given on site ---------------------------------------------------------------


def give_service(
    *,
    site: Site,
    item: CatalogueItem,
    visit: Visit | None = None,
    client: Client | None = None,
    by: User,
    idempotency_key: Any,
    at: datetime | None = None,
    tapped_at: datetime | None = None,
) -> ServiceGiven:
    """Record a service given on site to a visit or a walk-in. ``tapped_at``: the time of the
    tap as a device says (saferoom.core.tap_time)."""
    key = parse_key(idempotency_key)
    details = {
        "site": site.pk,
        "item": item.pk,
        "visit": visit.pk if visit is not None else None,
        "client": client.pk if client is not None else None,
    }
    with transaction.atomic():
        existing = replayed(key=key, by=by, action="service.give", details=details)
        if existing is not None:
            return ServiceGiven.objects.select_related("item").get(pk=existing)
        at = _when(site, visit, at, tapped_at)
        _check_item(site, item, "service")
        recipient = _check_recipient(site, visit, client)
        service = ServiceGiven.objects.create(
            site=site, item=item, visit=visit, client=recipient, at=at, by=by
        )
        audit.record(
            action="service.given",
            by=by,
            obj=service,
            site=site,
            at=at,
            detail={
                "item": item.code,
                "visit": visit.pk if visit is not None else None,
                "walk_in": visit is None,
                **tap_time.received(tapped_at),
            },
        )
        remember(key=key, by=by, action="service.give", details=details, obj=service)
    return service


def void_service(
    *, service: ServiceGiven, reason: str, by: User, at: datetime | None = None
) -> ServiceGiven:
    """A service recorded in error stays on record, marked void with a reason."""
    at = at or timezone.now()
    with transaction.atomic():
        why = _check_reason(reason, required=True)
        if service.by_id != by.pk and not _is_manager(by, service.site):
            raise ActionRefused(
                _(
                    "Only the person who recorded this service, or a manager, can mark it as "
                    "recorded in error. Ask a manager."
                ),
                code="not_yours",
            )
        claimed = ServiceGiven.objects.filter(pk=service.pk, voided_at__isnull=True).update(
            voided_at=at, voided_by=by, void_reason=why
        )
        if not claimed:
            raise ActionRefused(
                _("This service was already marked as recorded in error."), code="already_void"
            )
        service.refresh_from_db()
        audit.record(
            action="service.voided",
            by=by,
            obj=service,
            site=service.site,
            at=at,
            detail={"item": service.item.code},
        )
    return service
