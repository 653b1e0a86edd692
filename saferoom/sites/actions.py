"""Every write to a site's configuration and its staff: sites and their rules, opening hours,
spaces, catalogues, network settings, staff accounts and their roles.

Each action takes keyword arguments only, ``by=`` the acting user (``None`` for the system, as in
``saferoom createuser``), runs in one transaction and writes its audit event inside it. A refusal
raises :class:`ActionRefused` and changes nothing. Who may do what is checked here as well as in
the views, so a forged form or another caller cannot do more than the page offers.

Edits of what a page's form shows take the record's ``expected_version`` (the version the form
was opened on) and are refused with ``versioning.StaleEdit`` when a colleague saved the record
since: two managers editing at once never overwrite each other unseen.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, TypeVar

from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils.text import slugify
from django.utils.translation import gettext as _

from saferoom.core import audit, idempotency, usernames, versioning
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.core.roles import STAFF_ROLES, Role
from saferoom.sites.access import roles_at
from saferoom.sites.models import (
    CatalogueItem,
    ClientCodeScheme,
    IntakeQuestion,
    Membership,
    Network,
    OpeningHours,
    Route,
    Site,
    Space,
    validate_time_zone,
)

M = TypeVar("M", bound=models.Model)

MIN_AGE_RANGE = (10, 30)
# Supervision on the floor (minutes); the database holds the same ranges as constraints.
CHECK_INTERVAL_RANGE = (1, 60)
CHECK_OVERDUE_RANGE = (1, 30)
CHECK_ESCALATE_RANGE = (1, 60)
CHECK_INTERVAL_FIELDS = (
    "check_interval_booth",
    "check_interval_inhalation",
    "check_interval_flexible",
)
SEATS_RANGE = (1, 50)
MAX_CLEAR_DOWN_MINUTES = 120
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY

# The roles a site manager may give or take away at their own site. Evaluator and
# administrator roles, and roles across the whole network, are for administrators only.
MANAGER_GRANTABLE_ROLES: tuple[Role, ...] = (Role.DESK, Role.FLOOR, Role.MANAGER)


# --- Who may do what --------------------------------------------------------------------------


def may_manage_site(by: User | None, site: Site) -> bool:
    """Managers and administrators of the site (or of its whole network); the system always."""
    return by is None or bool(roles_at(by, site) & {Role.MANAGER, Role.ADMIN})


def is_site_admin(by: User | None, site: Site) -> bool:
    return by is None or Role.ADMIN in roles_at(by, site)


def is_network_admin(by: User | None, network: Network) -> bool:
    """An administrator of the whole network (not only of one of its sites)."""
    if by is None:
        return True
    return (
        by.is_active
        and Membership.objects.filter(
            user=by, network=network, site__isnull=True, role=Role.ADMIN
        ).exists()
    )


def grantable_site_roles(by: User | None, site: Site) -> list[Role]:
    """The roles ``by`` may give or take away at ``site``, in display order."""
    if is_site_admin(by, site):
        return list(Role)
    if may_manage_site(by, site):
        return list(MANAGER_GRANTABLE_ROLES)
    return []


def grantable_network_roles(by: User | None, network: Network) -> list[Role]:
    return list(Role) if is_network_admin(by, network) else []


def may_manage_account(by: User | None, user: User) -> bool:
    """Whether ``by`` may deactivate or reactivate ``user``'s account, which affects every site
    they work at: a network administrator of each network they belong to, or a manager of every
    site where they hold an ordinary staff role (and nothing wider)."""
    if by is None:
        return True
    memberships = list(Membership.objects.filter(user=user).select_related("site", "network"))
    if not memberships:
        # An account with no role anywhere can only be reached by an administrator.
        return Membership.objects.filter(user=by, site__isnull=True, role=Role.ADMIN).exists()
    networks = {m.network for m in memberships}
    if all(is_network_admin(by, network) for network in networks):
        return True
    for m in memberships:
        if m.site is None or m.role not in STAFF_ROLES or not may_manage_site(by, m.site):
            return False
    return True


def _require(allowed: bool, message: str, *, code: str = "not_allowed") -> None:
    if not allowed:
        raise ActionRefused(message, code=code)


def _replay(
    model: type[M],
    *,
    key: uuid.UUID | str | None,
    by: User | None,
    action: str,
    details: dict[str, Any],
) -> tuple[M | None, uuid.UUID | None]:
    """The object an earlier submission with this key created (if any), and the parsed key."""
    if key is None or by is None:
        return None, None
    parsed = idempotency.parse_key(key)
    existing_id = idempotency.replayed(key=parsed, by=by, action=action, details=details)
    if existing_id is None:
        return None, parsed
    return model._default_manager.get(pk=existing_id), parsed


def _remember(
    key: uuid.UUID | None, *, by: User | None, action: str, details: dict[str, Any], obj: Any
) -> None:
    if key is not None and by is not None:
        idempotency.remember(key=key, by=by, action=action, details=details, obj=obj)


def _text(value: str, *, label: str, max_length: int, required: bool = True) -> str:
    """Plain, single-line text for names and labels: no markup, no control characters."""
    cleaned = " ".join(str(value).split())
    if required and not cleaned:
        raise ActionRefused(_("Give a %(label)s.") % {"label": label}, code="required")
    if len(cleaned) > max_length:
        raise ActionRefused(
            _("The %(label)s can be at most %(n)d characters long.")
            % {"label": label, "n": max_length},
            code="too_long",
        )
    if "<" in cleaned or ">" in cleaned:
        raise ActionRefused(
            _("The %(label)s cannot contain < or >.") % {"label": label}, code="markup"
        )
    return cleaned


# --- Sites ------------------------------------------------------------------------------------

SITE_RULE_FIELDS = (
    "name",
    "kind",
    "time_zone",
    "active",
    "anonymous_visits_allowed",
    "drug_checking_allowed",
    "permitted_routes",
    "check_min_age",
    "min_age",
    "check_first_time_use",
    "check_intoxicated",
    "check_pregnancy",
    "check_residency",
    "residency_area",
    *CHECK_INTERVAL_FIELDS,
    "check_overdue_minutes",
    "check_escalate_minutes",
)


def _check_site_name(network: Network, name: str, *, exclude: Site | None = None) -> str:
    name = _text(name, label=_("site name"), max_length=120)
    clash = Site.objects.filter(network=network, name__iexact=name)
    if exclude is not None:
        clash = clash.exclude(pk=exclude.pk)
    if clash.exists():
        raise ActionRefused(
            _("There is already a site called “%(name)s” in this network. Choose another name.")
            % {"name": name},
            code="name",
        )
    return name


def _check_time_zone(value: str) -> str:
    try:
        validate_time_zone(value)
    except ValidationError:
        raise ActionRefused(
            _("%(value)s is not a time zone. Use a name such as Europe/London.") % {"value": value},
            code="time_zone",
        ) from None
    return value


def _check_site_rules(site: Site) -> None:
    """The rules that make a site's configuration usable at the desk."""
    _check_time_zone(site.time_zone)
    if site.kind not in Site.Kind.values:
        raise ActionRefused(_("Choose fixed site or mobile unit."), code="kind")
    routes = site.permitted_routes
    if not isinstance(routes, list) or not routes:
        raise ActionRefused(_("Allow at least one route on site."), code="permitted_routes")
    if any(route not in Route.values for route in routes):
        raise ActionRefused(_("Choose routes from the list."), code="permitted_routes")
    low, high = MIN_AGE_RANGE
    if not isinstance(site.min_age, int) or not low <= site.min_age <= high:
        raise ActionRefused(
            _("The minimum age must be between %(low)d and %(high)d.") % {"low": low, "high": high},
            code="min_age",
        )
    site.residency_area = _text(
        site.residency_area, label=_("area name"), max_length=120, required=False
    )
    if site.check_residency and not site.residency_area:
        raise ActionRefused(
            _("Name the area residents must live in, or switch the residency check off."),
            code="residency_area",
        )
    _check_supervision(site)


def _check_minutes(site: Site, field: str, low: int, high: int) -> int:
    value: object = getattr(site, field)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ActionRefused(
            _("Give a whole number of minutes from %(low)d to %(high)d.")
            % {"low": low, "high": high},
            code=field,
        )
    return value


def _check_supervision(site: Site) -> None:
    """Check intervals, and when a missed check turns red and goes to the shift lead: the
    escalation cannot come before the check is even overdue."""
    for field in CHECK_INTERVAL_FIELDS:
        _check_minutes(site, field, *CHECK_INTERVAL_RANGE)
    overdue = _check_minutes(site, "check_overdue_minutes", *CHECK_OVERDUE_RANGE)
    escalate = _check_minutes(site, "check_escalate_minutes", *CHECK_ESCALATE_RANGE)
    if escalate < overdue:
        raise ActionRefused(
            _(
                "A missed check cannot go to the shift lead before it turns red: give at least "
                "%(minutes)d minutes."
            )
            % {"minutes": overdue},
            code="check_escalate_minutes",
        )


def create_site(
    *,
    network: Network,
    name: str,
    slug: str,
    kind: str = Site.Kind.FIXED,
    time_zone: str = "Europe/London",
    by: User | None,
    idempotency_key: uuid.UUID | str | None = None,
    at: datetime | None = None,
) -> Site:
    """A new fixed site or mobile unit of ``network`` (network administrators only)."""
    _require(
        is_network_admin(by, network), _("Only an administrator of the network can add a site.")
    )
    details = {"network": network.pk, "name": name, "slug": slug, "kind": kind, "tz": time_zone}
    with transaction.atomic():
        existing, key = _replay(
            Site, key=idempotency_key, by=by, action="site.created", details=details
        )
        if existing is not None:
            return existing
        name = _check_site_name(network, name)
        if slugify(slug) != slug or not slug:
            raise ActionRefused(
                _("The short name may only hold lower-case letters, numbers and hyphens."),
                code="slug",
            )
        if Site.objects.filter(slug=slug).exists():
            raise ActionRefused(
                _("The short name “%(slug)s” is taken. Choose another.") % {"slug": slug},
                code="slug",
            )
        site = Site(network=network, name=name, slug=slug, kind=kind, time_zone=time_zone)
        _check_site_rules(site)
        site.save()
        audit.record(
            action="site.created",
            by=by,
            obj=site,
            site=site,
            detail={"kind": kind, "time_zone": time_zone},
            at=at,
        )
        _remember(key, by=by, action="site.created", details=details, obj=site)
    return site


def update_site_rules(
    *,
    site: Site,
    changes: Mapping[str, Any],
    expected_version: int,
    by: User | None,
    at: datetime | None = None,
) -> Site:
    """Change a site's details and rules (name, kind, time zone, what is allowed, eligibility
    checks). Only the fields in ``SITE_RULE_FIELDS`` can be changed."""
    _require(may_manage_site(by, site), _("Only a manager of this site can change its rules."))
    unknown = set(changes) - set(SITE_RULE_FIELDS)
    if unknown:
        raise ActionRefused(_("Those settings cannot be changed here."), code="unknown_field")
    with transaction.atomic():
        locked = Site.objects.select_for_update().get(pk=site.pk)
        versioning.expect(locked, expected_version)
        before = {f: getattr(locked, f) for f in changes}
        for field, value in changes.items():
            setattr(locked, field, value)
        if "name" in changes:
            locked.name = _check_site_name(locked.network, locked.name, exclude=locked)
        if "permitted_routes" in changes and isinstance(locked.permitted_routes, list):
            # Keep the list in the order of Route so that reports and the desk read the same.
            locked.permitted_routes = [r for r in Route.values if r in locked.permitted_routes]
        _check_site_rules(locked)
        changed = {
            f: {"from": before[f], "to": getattr(locked, f)}
            for f in changes
            if before[f] != getattr(locked, f)
        }
        if not changed:
            return locked
        versioning.bump(locked, expected_version)
        locked.save(update_fields=list(changed))
        audit.record(
            action="site.updated",
            by=by,
            obj=locked,
            site=locked,
            detail={**changed, "version": locked.version},
            at=at,
        )
    for field in [*changed, "version"]:
        setattr(site, field, getattr(locked, field))
    return locked


# --- Opening hours ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """One opening period: opens on ``weekday`` (0 = Monday) and closes at ``closes``, on the
    next day when ``closes`` is earlier than ``opens``."""

    weekday: int
    opens: time
    closes: time

    def minutes(self) -> tuple[int, int]:
        """Start and end in minutes from Monday 00:00 (the end may run past Sunday night)."""
        start = self.weekday * MINUTES_PER_DAY + self.opens.hour * 60 + self.opens.minute
        length = (self.closes.hour * 60 + self.closes.minute) - (
            self.opens.hour * 60 + self.opens.minute
        )
        if length <= 0:
            length += MINUTES_PER_DAY
        return start, start + length

    def describe(self) -> str:
        day = OpeningHours.Weekday(self.weekday).label
        return f"{day} {self.opens:%H:%M}–{self.closes:%H:%M}"


def find_overlaps(periods: Sequence[Period]) -> list[tuple[Period, Period]]:
    """Pairs of periods that share any minute, including a Sunday-night period running into
    Monday morning. Touching periods (12:00–14:00 and 14:00–18:00) do not overlap."""
    overlaps: list[tuple[Period, Period]] = []
    spans = [(p, *p.minutes()) for p in periods]
    for i, (p, a_start, a_end) in enumerate(spans):
        for q, b_start, b_end in spans[i + 1 :]:
            # Compare on the week's circle: shift the second period a week either way.
            for shift in (-MINUTES_PER_WEEK, 0, MINUTES_PER_WEEK):
                if a_start < b_end + shift and b_start + shift < a_end:
                    overlaps.append((p, q))
                    break
    return overlaps


def check_periods(periods: Sequence[Period]) -> None:
    """Refuse empty, malformed or overlapping periods with a message naming them."""
    for p in periods:
        if not 0 <= p.weekday <= 6:
            raise ActionRefused(_("Choose a day of the week."), code="weekday")
        if p.opens == p.closes:
            raise ActionRefused(
                _(
                    "%(period)s opens and closes at the same time. To stay open all day, use "
                    "two periods: 00:00–12:00 and 12:00–00:00."
                )
                % {"period": p.describe()},
                code="empty_period",
            )
    overlaps = find_overlaps(periods)
    if overlaps:
        first, second = overlaps[0]
        raise ActionRefused(
            _("%(first)s overlaps %(second)s. Change one of them.")
            % {"first": first.describe(), "second": second.describe()},
            code="overlap",
        )


def set_opening_hours(
    *,
    site: Site,
    periods: Sequence[Period],
    expected_version: int,
    by: User | None,
    at: datetime | None = None,
) -> list[OpeningHours]:
    """Replace the site's weekly opening hours with ``periods``. ``expected_version`` is the
    site's: its hours are part of the record its manager edits."""
    _require(
        may_manage_site(by, site), _("Only a manager of this site can change its opening hours.")
    )
    ordered = sorted(set(periods), key=lambda p: (p.weekday, p.opens))
    check_periods(ordered)
    with transaction.atomic():
        locked = Site.objects.select_for_update().only("pk", "version").get(pk=site.pk)
        versioning.expect(locked, expected_version)
        current = list(site.opening_hours.order_by("weekday", "opens"))
        before = [Period(h.weekday, h.opens, h.closes).describe() for h in current]
        after = [p.describe() for p in ordered]
        if before == after:
            return current
        site.version = versioning.bump(locked, expected_version)
        site.opening_hours.all().delete()
        rows = OpeningHours.objects.bulk_create(
            OpeningHours(site=site, weekday=p.weekday, opens=p.opens, closes=p.closes)
            for p in ordered
        )
        audit.record(
            action="site.opening_hours_changed",
            by=by,
            obj=site,
            site=site,
            detail={"from": before, "to": after, "version": site.version},
            at=at,
        )
    # Forget any prefetched hours so that opening_on reads the new ones.
    getattr(site, "_prefetched_objects_cache", {}).pop("opening_hours", None)
    return rows


# --- Spaces -----------------------------------------------------------------------------------

SPACE_FIELDS = ("name", "kind", "seats", "clear_down_minutes", "accessible", "sort_order")


def _check_space(space: Space) -> None:
    space.name = _text(space.name, label=_("space name"), max_length=60)
    if space.kind not in Space.Kind.values:
        raise ActionRefused(_("Choose what kind of space this is."), code="kind")
    low, high = SEATS_RANGE
    if not isinstance(space.seats, int) or not low <= space.seats <= high:
        raise ActionRefused(
            _("A space has between %(low)d and %(high)d seats.") % {"low": low, "high": high},
            code="seats",
        )
    if (
        not isinstance(space.clear_down_minutes, int)
        or not 0 <= space.clear_down_minutes <= MAX_CLEAR_DOWN_MINUTES
    ):
        raise ActionRefused(
            _("Clear-down is between 0 and %(max)d minutes.") % {"max": MAX_CLEAR_DOWN_MINUTES},
            code="clear_down_minutes",
        )
    if not isinstance(space.sort_order, int) or not 0 <= space.sort_order <= 32767:
        raise ActionRefused(_("Give the order as a whole number."), code="sort_order")
    clash = Space.objects.filter(site_id=space.site_id, name__iexact=space.name)
    if space.pk is not None:
        clash = clash.exclude(pk=space.pk)
    if clash.exists():
        raise ActionRefused(
            _("There is already a space called “%(name)s” at this site. Choose another name.")
            % {"name": space.name},
            code="name",
        )


def _save_space(space: Space, **kwargs: Any) -> None:
    try:
        with transaction.atomic():
            space.save(**kwargs)
    except IntegrityError:
        # Another person saved the same name a moment ago.
        raise ActionRefused(
            _("There is already a space called “%(name)s” at this site. Choose another name.")
            % {"name": space.name},
            code="name",
        ) from None


def create_space(
    *,
    site: Site,
    name: str,
    kind: str,
    seats: int = 1,
    clear_down_minutes: int | None = None,
    accessible: bool = False,
    sort_order: int | None = None,
    by: User | None,
    idempotency_key: uuid.UUID | str | None = None,
    at: datetime | None = None,
) -> Space:
    """A new booth, inhalation room, flexible space or after-care area. Without a clear-down
    time, the usual one for the kind is used; without an order, it goes last on the board."""
    _require(may_manage_site(by, site), _("Only a manager of this site can add spaces."))
    details = {
        "site": site.pk,
        "name": name,
        "kind": kind,
        "seats": seats,
        "clear_down": clear_down_minutes,
        "accessible": accessible,
        "order": sort_order,
    }
    with transaction.atomic():
        existing, key = _replay(
            Space, key=idempotency_key, by=by, action="space.created", details=details
        )
        if existing is not None:
            return existing
        if sort_order is None:
            last = site.spaces.aggregate(m=models.Max("sort_order"))["m"]
            sort_order = min((last or 0) + 1, 32767)
        if clear_down_minutes is None:
            clear_down_minutes = Space.DEFAULT_CLEAR_DOWN.get(kind, 0)
        space = Space(
            site=site,
            name=name,
            kind=kind,
            seats=seats,
            clear_down_minutes=clear_down_minutes,
            accessible=accessible,
            sort_order=sort_order,
        )
        _check_space(space)
        _save_space(space)
        audit.record(
            action="space.created",
            by=by,
            obj=space,
            site=site,
            detail={f: getattr(space, f) for f in SPACE_FIELDS},
            at=at,
        )
        _remember(key, by=by, action="space.created", details=details, obj=space)
    return space


def update_space(
    *,
    space: Space,
    changes: Mapping[str, Any],
    expected_version: int,
    by: User | None,
    at: datetime | None = None,
) -> Space:
    """Change a space's name, kind, seats, clear-down, accessibility or order on the board."""
    _require(
        may_manage_site(by, space.site), _("Only a manager of this site can change its spaces.")
    )
    if set(changes) - set(SPACE_FIELDS):
        raise ActionRefused(_("Those settings cannot be changed here."), code="unknown_field")
    with transaction.atomic():
        locked = Space.objects.select_for_update().get(pk=space.pk)
        versioning.expect(locked, expected_version)
        before = {f: getattr(locked, f) for f in changes}
        for field, value in changes.items():
            setattr(locked, field, value)
        _check_space(locked)
        changed = {
            f: {"from": before[f], "to": getattr(locked, f)}
            for f in changes
            if before[f] != getattr(locked, f)
        }
        if not changed:
            return locked
        versioning.bump(locked, expected_version)
        _save_space(locked, update_fields=list(changed))
        audit.record(
            action="space.updated",
            by=by,
            obj=locked,
            site=space.site,
            detail={**changed, "version": locked.version},
            at=at,
        )
    return locked


def _may_work_space(by: User | None, site: Site) -> bool:
    # Floor staff take a booth out of service when it needs cleaning or repair, not only
    # managers; evaluators never change anything.
    return by is None or bool(
        roles_at(by, site) & {Role.DESK, Role.FLOOR, Role.MANAGER, Role.ADMIN}
    )


def set_out_of_service(
    *, space: Space, reason: str, by: User | None, at: datetime | None = None
) -> Space:
    """Take a space off the board until it is returned to service; ``reason`` says why. The
    reason is shown on the space until it is back, and is never copied into the audit trail
    (staff may write anything there; the trail can never be corrected or erased)."""
    _require(
        _may_work_space(by, space.site),
        _("Only staff of this site can take its spaces out of service."),
    )
    reason = _text(reason, label=_("reason"), max_length=200)
    with transaction.atomic():
        locked = Space.objects.select_for_update().get(pk=space.pk)
        if locked.out_of_service:
            raise ActionRefused(
                _("%(name)s is already out of service.") % {"name": locked.name},
                code="already_out",
            )
        locked.out_of_service = True
        locked.out_of_service_reason = reason
        locked.save(update_fields=["out_of_service", "out_of_service_reason"])
        audit.record(
            action="space.out_of_service",
            by=by,
            obj=locked,
            site=space.site,
            detail={"reason_given": True},
            at=at,
        )
    space.out_of_service, space.out_of_service_reason = True, reason
    return locked


def return_to_service(*, space: Space, by: User | None, at: datetime | None = None) -> Space:
    _require(
        _may_work_space(by, space.site),
        _("Only staff of this site can return its spaces to service."),
    )
    with transaction.atomic():
        locked = Space.objects.select_for_update().get(pk=space.pk)
        if not locked.out_of_service:
            raise ActionRefused(
                _("%(name)s is already in service.") % {"name": locked.name}, code="already_in"
            )
        locked.out_of_service = False
        locked.out_of_service_reason = ""
        locked.save(update_fields=["out_of_service", "out_of_service_reason"])
        audit.record(
            action="space.returned_to_service",
            by=by,
            obj=locked,
            site=space.site,
            at=at,
        )
    space.out_of_service, space.out_of_service_reason = False, ""
    return locked


# --- Catalogues -------------------------------------------------------------------------------


def categories_for(kind: str) -> list[str]:
    return [code for code, _label in CatalogueItem.CATEGORIES.get(kind, [])]


def _may_edit_catalogue(by: User | None, network: Network, site: Site | None) -> bool:
    if site is None:
        return is_network_admin(by, network)
    return may_manage_site(by, site)


def _new_code(network: Network, kind: str, label: str) -> str:
    """A code made from the label (``Nitrous oxide`` → ``nitrous_oxide``), unique in the
    network's list; it never changes afterwards, so reports keep grouping by it."""
    base = slugify(label).replace("-", "_").strip("_")[:34].strip("_") or kind
    taken = set(
        CatalogueItem.objects.filter(network=network, kind=kind, code__startswith=base).values_list(
            "code", flat=True
        )
    )
    code, n = base, 1
    while code in taken:
        n += 1
        code = f"{base}_{n}"
    return code


def _check_catalogue_entry(item: CatalogueItem) -> None:
    item.label = _text(item.label, label=_("label"), max_length=80)
    if item.category not in categories_for(item.kind):
        raise ActionRefused(_("Choose a reporting group from the list."), code="category")
    if not isinstance(item.sort_order, int) or not 0 <= item.sort_order <= 32767:
        raise ActionRefused(_("Give the order as a whole number."), code="sort_order")
    same_list = CatalogueItem.objects.filter(
        network_id=item.network_id, kind=item.kind, label__iexact=item.label
    )
    if item.site_id is not None:
        same_list = same_list.filter(Q(site__isnull=True) | Q(site_id=item.site_id))
    if item.pk is not None:
        same_list = same_list.exclude(pk=item.pk)
    clash = same_list.first()
    if clash is not None:
        if clash.active:
            message = _("There is already an entry called “%(label)s” in this list.")
        else:
            message = _(
                "There is a retired entry called “%(label)s” in this list: restore it instead."
            )
        raise ActionRefused(message % {"label": clash.label}, code="label")


def create_catalogue_item(
    *,
    network: Network,
    site: Site | None,
    kind: str,
    label: str,
    category: str,
    sort_order: int | None = None,
    by: User | None,
    idempotency_key: uuid.UUID | str | None = None,
    at: datetime | None = None,
) -> CatalogueItem:
    """A new entry in one of the lists: for one site, or (administrators) the whole network."""
    if kind not in CatalogueItem.Kind.values:
        raise ActionRefused(_("Choose one of the lists."), code="kind")
    if site is not None and site.network_id != network.pk:
        raise ActionRefused(_("That site is not part of this network."), code="site")
    _require(
        _may_edit_catalogue(by, network, site),
        _("Only an administrator can add entries for every site of the network.")
        if site is None
        else _("Only a manager of this site can add entries to its lists."),
    )
    details = {
        "network": network.pk,
        "site": site.pk if site else None,
        "kind": kind,
        "label": label,
        "category": category,
        "order": sort_order,
    }
    with transaction.atomic():
        existing, key = _replay(
            CatalogueItem, key=idempotency_key, by=by, action="catalogue.created", details=details
        )
        if existing is not None:
            return existing
        if sort_order is None:
            last = CatalogueItem.objects.filter(network=network, kind=kind).aggregate(
                m=models.Max("sort_order")
            )["m"]
            sort_order = min((last or 0) + 1, 32767)
        item = CatalogueItem(
            network=network,
            site=site,
            kind=kind,
            label=label,
            category=category,
            sort_order=sort_order,
        )
        _check_catalogue_entry(item)
        item.code = _new_code(network, kind, item.label)
        item.save()
        audit.record(
            action="catalogue.created",
            by=by,
            obj=item,
            site=site,
            detail={
                "label": item.label,
                "category": category,
                "scope": "site" if site else "network",
            },
            at=at,
        )
        _remember(key, by=by, action="catalogue.created", details=details, obj=item)
    return item


def update_catalogue_item(
    *,
    item: CatalogueItem,
    label: str,
    category: str,
    sort_order: int,
    expected_version: int,
    by: User | None,
    at: datetime | None = None,
) -> CatalogueItem:
    """Change an entry's label, reporting group and order. Its code stays the same."""
    _require(
        _may_edit_catalogue(by, item.network, item.site),
        _("Only an administrator can change entries used by every site of the network."),
    )
    with transaction.atomic():
        locked = CatalogueItem.objects.select_for_update().get(pk=item.pk)
        versioning.expect(locked, expected_version)
        before = {
            "label": locked.label,
            "category": locked.category,
            "sort_order": locked.sort_order,
        }
        locked.label, locked.category, locked.sort_order = label, category, sort_order
        _check_catalogue_entry(locked)
        changed = {
            f: {"from": old, "to": getattr(locked, f)}
            for f, old in before.items()
            if old != getattr(locked, f)
        }
        if not changed:
            return locked
        versioning.bump(locked, expected_version)
        locked.save(update_fields=list(changed))
        audit.record(
            action="catalogue.updated",
            by=by,
            obj=locked,
            site=item.site,
            detail={**changed, "version": locked.version},
            at=at,
        )
    return locked


def _set_catalogue_active(
    item: CatalogueItem, *, active: bool, by: User | None, at: datetime | None
) -> CatalogueItem:
    _require(
        _may_edit_catalogue(by, item.network, item.site),
        _("Only an administrator can change entries used by every site of the network."),
    )
    with transaction.atomic():
        locked = CatalogueItem.objects.select_for_update().get(pk=item.pk)
        if locked.active == active:
            return locked
        locked.active = active
        locked.save(update_fields=["active"])
        audit.record(
            action="catalogue.restored" if active else "catalogue.retired",
            by=by,
            obj=locked,
            site=item.site,
            at=at,
        )
    item.active = active
    return locked


def retire_catalogue_item(
    *, item: CatalogueItem, by: User | None, at: datetime | None = None
) -> CatalogueItem:
    """Stop offering an entry. It is never deleted: past visits and reports refer to it."""
    return _set_catalogue_active(item, active=False, by=by, at=at)


def restore_catalogue_item(
    *, item: CatalogueItem, by: User | None, at: datetime | None = None
) -> CatalogueItem:
    return _set_catalogue_active(item, active=True, by=by, at=at)


# --- Network settings -------------------------------------------------------------------------


def update_network_settings(
    *,
    network: Network,
    client_code_scheme: str,
    intake_questions: Iterable[str],
    expected_version: int,
    by: User | None,
    at: datetime | None = None,
) -> Network:
    """The client-code scheme and the first-visit intake questions (administrators only).
    Changing the scheme means returning clients can no longer be found by their attributes:
    they are found by their code or registered again."""
    _require(
        is_network_admin(by, network),
        _("Only an administrator of the network can change these settings."),
    )
    if client_code_scheme not in ClientCodeScheme.values:
        raise ActionRefused(_("Choose a client-code scheme from the list."), code="scheme")
    questions = list(intake_questions)
    if any(q not in IntakeQuestion.values for q in questions):
        raise ActionRefused(_("Choose intake questions from the list."), code="questions")
    ordered = [q for q in IntakeQuestion.values if q in questions]
    with transaction.atomic():
        locked = Network.objects.select_for_update().get(pk=network.pk)
        versioning.expect(locked, expected_version)
        changed: dict[str, Any] = {}
        if locked.client_code_scheme != client_code_scheme:
            changed["client_code_scheme"] = {
                "from": locked.client_code_scheme,
                "to": client_code_scheme,
            }
            locked.client_code_scheme = client_code_scheme
        if list(locked.intake_questions) != ordered:
            changed["intake_questions"] = {"from": locked.intake_questions, "to": ordered}
            locked.intake_questions = ordered
        if not changed:
            return locked
        versioning.bump(locked, expected_version)
        locked.save(update_fields=list(changed))
        audit.record(
            action="network.updated",
            by=by,
            obj=locked,
            detail={**changed, "version": locked.version},
            at=at,
        )
    network.client_code_scheme, network.intake_questions = client_code_scheme, ordered
    network.version = locked.version
    return locked


# --- Staff ------------------------------------------------------------------------------------


def _check_password(password: str, user: User) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        raise ActionRefused(" ".join(error.messages), code="password") from None


def _check_roles(roles: Iterable[str]) -> list[Role]:
    chosen = set(roles)
    if any(r not in Role.values for r in chosen):
        raise ActionRefused(_("Choose roles from the list."), code="roles")
    return [r for r in Role if r.value in chosen]


def _role_refusal(role: Role, where: str) -> ActionRefused:
    return ActionRefused(
        _("You cannot give or remove the role “%(role)s” %(where)s: ask an administrator.")
        % {"role": role.label, "where": where},
        code="roles",
    )


def create_staff_user(
    *,
    username: str,
    display_name: str,
    password: str,
    memberships: list[tuple[Role, Site | None]],
    network: Network,
    by: User | None,
    idempotency_key: uuid.UUID | str | None = None,
    at: datetime | None = None,
) -> User:
    """A new staff account with its roles: at a site, or at every site of ``network`` when the
    site is ``None``. The password must pass AUTH_PASSWORD_VALIDATORS."""
    username = str(username).strip()
    display_name = _text(display_name, label=_("name"), max_length=80)
    if not memberships:
        raise ActionRefused(_("Give the new account at least one role."), code="roles")
    wanted: set[tuple[Role, Site | None]] = set()
    for role, site in memberships:
        if role not in Role.values:
            raise ActionRefused(_("Choose roles from the list."), code="roles")
        role = Role(role)
        if site is None:
            if not is_network_admin(by, network):
                raise _role_refusal(role, _("across the network"))
        else:
            if site.network_id != network.pk:
                raise ActionRefused(_("That site is not part of this network."), code="site")
            if role not in grantable_site_roles(by, site):
                raise _role_refusal(role, _("at %(site)s") % {"site": site.name})
        wanted.add((role, site))
    details = {
        "username": username,
        "display_name": display_name,
        "network": network.pk,
        "memberships": sorted(f"{r.value}@{s.pk if s else 'network'}" for r, s in wanted),
    }
    with transaction.atomic():
        existing, key = _replay(
            User, key=idempotency_key, by=by, action="staff.created", details=details
        )
        if existing is not None:
            return existing
        if not username:
            raise ActionRefused(_("Give a username."), code="username")
        try:
            UnicodeUsernameValidator()(username)
        except ValidationError:
            raise ActionRefused(
                _("A username may hold only letters, numbers and . @ + - _ characters."),
                code="username",
            ) from None
        if len(username) > 150:
            raise ActionRefused(_("A username can be at most 150 characters."), code="username")
        if User.objects.filter(username__iexact=username).exists():
            raise ActionRefused(
                _("The username “%(username)s” is taken. Choose another.") % {"username": username},
                code="username",
            )
        places = [network.name, *network.sites.values_list("name", flat=True)]
        places += network.sites.values_list("slug", flat=True)
        if usernames.is_generic(username, places):
            raise ActionRefused(
                _(
                    "“%(username)s” names a role, a place or a device, not a person. Every "
                    "account is one person's, so that records show who did what: use their "
                    "name, such as dana.okafor. A shared tablet is shared with Switch user."
                )
                % {"username": username},
                code="username",
            )
        candidate = User(username=username, display_name=display_name)
        _check_password(password, candidate)
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    username=username, password=password, display_name=display_name
                )
        except IntegrityError:
            raise ActionRefused(
                _("The username “%(username)s” is taken. Choose another.") % {"username": username},
                code="username",
            ) from None
        audit.record(
            action="staff.created",
            by=by,
            obj=user,
            detail={"display_name": display_name, "network": network.name},
            at=at,
        )
        for role, site in sorted(wanted, key=lambda rs: (rs[1].pk if rs[1] else 0, rs[0])):
            _grant(user=user, role=role, network=network, site=site, by=by, at=at)
        _remember(key, by=by, action="staff.created", details=details, obj=user)
    return user


def _grant(
    *,
    user: User,
    role: Role,
    network: Network,
    site: Site | None,
    by: User | None,
    at: datetime | None,
    version: int | None = None,
) -> Membership:
    membership = Membership.objects.create(user=user, network=network, site=site, role=role)
    detail: dict[str, Any] = {"role": role.value, "where": site.name if site else network.name}
    if version is not None:
        detail["version"] = version
    audit.record(action="staff.role_granted", by=by, obj=user, site=site, detail=detail, at=at)
    return membership


def _revoke(
    membership: Membership, *, by: User | None, at: datetime | None, version: int | None = None
) -> None:
    where = membership.site.name if membership.site else membership.network.name
    detail: dict[str, Any] = {"role": membership.role, "where": where}
    if version is not None:
        detail["version"] = version
    audit.record(
        action="staff.role_removed",
        by=by,
        obj=membership.user,
        site=membership.site,
        detail=detail,
        at=at,
    )
    membership.delete()


@dataclass(frozen=True)
class _RolePlan:
    """The memberships a change of roles removes and the roles it gives, at one place."""

    network: Network
    site: Site | None
    remove: list[Membership]
    add: list[Role]

    def __bool__(self) -> bool:
        return bool(self.remove or self.add)

    def apply(self, user: User, *, by: User | None, at: datetime | None, version: int) -> None:
        for m in self.remove:
            _revoke(m, by=by, at=at, version=version)
        for role in self.add:
            _grant(
                user=user,
                role=role,
                network=self.network,
                site=self.site,
                by=by,
                at=at,
                version=version,
            )


def set_site_roles(
    *,
    user: User,
    site: Site,
    roles: Iterable[str],
    by: User | None,
    at: datetime | None = None,
) -> list[Role]:
    """Give ``user`` exactly ``roles`` at ``site`` among the roles ``by`` may manage there;
    roles ``by`` may not manage (an administrator's, say) are left as they are. A manager cannot
    take away their own manager role, so a site is never left locked out by accident.

    Not version-checked (adding someone who already has an account to this site's staff): it
    moves the person's version, so a staff page opened before cannot undo it unseen."""
    with transaction.atomic():
        locked = User.objects.select_for_update().only("pk", "version").get(pk=user.pk)
        plan = _plan_site_roles(user=user, site=site, roles=roles, by=by)
        if plan:
            plan.apply(user, by=by, at=at, version=versioning.bump_unchecked(locked))
    return sorted(
        {
            Role(r)
            for r in Membership.objects.filter(user=user, site=site).values_list("role", flat=True)
        },
        key=list(Role).index,
    )


def _plan_site_roles(*, user: User, site: Site, roles: Iterable[str], by: User | None) -> _RolePlan:
    """What giving ``user`` exactly ``roles`` at ``site`` changes, or the refusal. Call it with
    the person's row locked."""
    chosen = _check_roles(roles)
    grantable = grantable_site_roles(by, site)
    _require(bool(grantable), _("Only a manager of this site can change its staff's roles."))
    current = {m.role: m for m in Membership.objects.filter(user=user, site=site)}
    for role in chosen:
        if role not in grantable and role.value not in current:
            raise _role_refusal(role, _("at %(site)s") % {"site": site.name})
    to_add = [r for r in chosen if r.value not in current]
    to_remove = [m for role, m in current.items() if role in grantable and Role(role) not in chosen]
    if (
        by is not None
        and by.pk == user.pk
        and any(m.role == Role.MANAGER for m in to_remove)
        and not _manages_site_otherwise(by, site)
    ):
        raise ActionRefused(
            _(
                "You cannot remove your own manager role here: ask another manager or an "
                "administrator to do it."
            ),
            code="own_manager_role",
        )
    if (
        by is not None
        and by.pk == user.pk
        and any(m.role == Role.ADMIN for m in to_remove)
        and not is_network_admin(by, site.network)
    ):
        raise ActionRefused(
            _("You cannot remove your own administrator role: ask another administrator."),
            code="own_admin_role",
        )
    return _RolePlan(network=site.network, site=site, remove=to_remove, add=to_add)


def _manages_site_otherwise(by: User, site: Site) -> bool:
    """Whether ``by`` would still manage ``site`` without their manager role at it."""
    return Membership.objects.filter(
        Q(site=site, role=Role.ADMIN)
        | Q(site__isnull=True, network_id=site.network_id, role__in=[Role.MANAGER, Role.ADMIN]),
        user=by,
    ).exists()


def set_network_roles(
    *,
    user: User,
    network: Network,
    roles: Iterable[str],
    by: User | None,
    at: datetime | None = None,
) -> list[Role]:
    """Give ``user`` exactly ``roles`` at every site of ``network`` (administrators only). Not
    version-checked (the demo and the command line); it moves the person's version."""
    roles = list(roles)
    with transaction.atomic():
        locked = User.objects.select_for_update().only("pk", "version").get(pk=user.pk)
        plan = _plan_network_roles(user=user, network=network, roles=roles, by=by)
        if plan:
            plan.apply(user, by=by, at=at, version=versioning.bump_unchecked(locked))
    return _check_roles(roles)


def _plan_network_roles(
    *, user: User, network: Network, roles: Iterable[str], by: User | None
) -> _RolePlan:
    chosen = _check_roles(roles)
    _require(
        is_network_admin(by, network),
        _("Only an administrator can give roles across the whole network."),
    )
    current = {m.role: m for m in Membership.objects.filter(user=user, network=network, site=None)}
    to_add = [r for r in chosen if r.value not in current]
    to_remove = [m for role, m in current.items() if Role(role) not in chosen]
    if by is not None and by.pk == user.pk and any(m.role == Role.ADMIN for m in to_remove):
        raise ActionRefused(
            _("You cannot remove your own administrator role: ask another administrator."),
            code="own_admin_role",
        )
    return _RolePlan(network=network, site=None, remove=to_remove, add=to_add)


def _check_may_rename(by: User | None, user: User) -> None:
    works_where_by_manages = by is None or any(
        may_manage_site(by, m.site)
        for m in Membership.objects.filter(user=user, site__isnull=False).select_related("site")
        if m.site is not None
    )
    _require(
        works_where_by_manages or may_manage_account(by, user),
        _("Only a manager of a site where this person works can change their name."),
    )


def _rename(locked: User, display_name: str, *, by: User | None, at: datetime | None) -> None:
    before = locked.display_name
    locked.display_name = display_name
    locked.save(update_fields=["display_name"])
    audit.record(
        action="staff.updated",
        by=by,
        obj=locked,
        detail={"display_name": {"from": before, "to": display_name}, "version": locked.version},
        at=at,
    )


def update_staff_user(
    *,
    user: User,
    display_name: str,
    expected_version: int,
    by: User | None,
    at: datetime | None = None,
) -> User:
    """Change the name colleagues see. Any manager of a site where the person works may."""
    display_name = _text(display_name, label=_("name"), max_length=80)
    _check_may_rename(by, user)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        versioning.expect(locked, expected_version)
        if locked.display_name == display_name:
            return locked
        versioning.bump(locked, expected_version)
        _rename(locked, display_name, by=by, at=at)
    user.display_name, user.version = display_name, locked.version
    return locked


def edit_staff_member(
    *,
    user: User,
    site: Site,
    display_name: str,
    site_roles: Iterable[str],
    network_roles: Iterable[str] | None,
    expected_version: int,
    by: User | None,
    at: datetime | None = None,
) -> User:
    """The staff page's one save: the name colleagues see, the roles at ``site`` among those
    ``by`` may manage there, and (``network_roles`` not None: administrators) the roles across
    the network; all or nothing, as one edit of the person's version."""
    display_name = _text(display_name, label=_("name"), max_length=80)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        versioning.expect(locked, expected_version)
        renamed = locked.display_name != display_name
        if renamed:
            _check_may_rename(by, user)
        plans = [_plan_site_roles(user=user, site=site, roles=site_roles, by=by)]
        if network_roles is not None:
            plans.append(
                _plan_network_roles(user=user, network=site.network, roles=network_roles, by=by)
            )
        if not renamed and not any(plans):
            return locked
        version = versioning.bump(locked, expected_version)
        if renamed:
            _rename(locked, display_name, by=by, at=at)
        for plan in plans:
            plan.apply(user, by=by, at=at, version=version)
    user.display_name, user.version = display_name, version
    return locked


def _set_active(user: User, *, active: bool, by: User | None, at: datetime | None) -> User:
    if by is not None and by.pk == user.pk and not active:
        raise ActionRefused(
            _("You cannot deactivate your own account: ask another manager."), code="self"
        )
    _require(
        may_manage_account(by, user),
        _(
            "This person also works elsewhere or holds a wider role: ask an administrator, or "
            "remove their roles at this site instead."
        ),
    )
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.is_active == active:
            return locked
        locked.is_active = active
        locked.save(update_fields=["is_active"])
        audit.record(
            action="staff.reactivated" if active else "staff.deactivated",
            by=by,
            obj=locked,
            at=at,
        )
    user.is_active = active
    return locked


def deactivate_staff_user(*, user: User, by: User | None, at: datetime | None = None) -> User:
    """Stop an account from logging in (their open sessions end at their next request). The
    account is never deleted: the audit trail and clinical records name who did what."""
    return _set_active(user, active=False, by=by, at=at)


def reactivate_staff_user(*, user: User, by: User | None, at: datetime | None = None) -> User:
    return _set_active(user, active=True, by=by, at=at)


def set_staff_password(
    *, user: User, password: str, by: User | None, at: datetime | None = None
) -> User:
    """A new password set for someone (for example, one who has forgotten theirs)."""
    _require(
        may_manage_account(by, user),
        _("Only a manager of every site where this person works can set their password."),
    )
    _check_password(password, user)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.set_password(password)
        locked.save(update_fields=["password"])
        audit.record(action="staff.password_set", by=by, obj=locked, at=at)
    return locked
