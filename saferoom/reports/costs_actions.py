"""Entering a site's operating cost for a month (indicator C1), and what the costs pages read.

Entries are never edited: a correction is a later entry for the same month, with a reason, and
the month's cost is its latest entry. Every rule about what may be entered lives here, so a
form, the API or a script get the same refusals; a refusal raises ActionRefused (``code`` names
the field it is about) and changes nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from saferoom.core import audit
from saferoom.core.errors import ActionRefused
from saferoom.core.idempotency import parse_key, remember, replayed
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.reports.models import OperatingCost
from saferoom.sites.access import roles_at
from saferoom.sites.models import Site

ENTERERS = frozenset({Role.MANAGER, Role.ADMIN})
MAX_TEXT_LENGTH = 200
# The model holds 12 digits with 2 after the point.
MAX_AMOUNT = Decimal("9999999999.99")
EARLIEST_YEAR = 2000
DEFAULT_CURRENCY = "GBP"
HISTORY_MONTHS = 12  # the list always shows at least the last year, entered or not

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_MONEY_SIGNS = "£$€"


def month_name(month: date) -> str:
    return date_format(month, "F Y")


def _shift(month: date, by: int) -> date:
    index = month.year * 12 + month.month - 1 + by
    return date(index // 12, index % 12 + 1, 1)


def parse_month(value: date | str) -> date:
    """The first day of the month written as YYYY-MM (or given as a date in it)."""
    if isinstance(value, date):
        return value.replace(day=1)
    match = _MONTH.match((value or "").strip())
    if match:
        year, mon = int(match.group(1)), int(match.group(2))
        if 1 <= mon <= 12:
            return date(year, mon, 1)
    raise ActionRefused(_("Write the month as year and month, for example 2026-03."), code="month")


def parse_amount(value: Decimal | int | float | str) -> Decimal:
    """An amount of money of at most two decimal places, from what a person typed (commas,
    spaces and a £, $ or € sign are allowed)."""
    if isinstance(value, float):  # a float is never an exact amount of money
        value = repr(value)
    text = str(value).strip().replace(",", "").replace(" ", "").lstrip(_MONEY_SIGNS)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not text or not amount.is_finite():
        raise ActionRefused(
            _("Write the cost as a number, for example 42000 or 42000.50."), code="amount"
        )
    if amount < 0:
        raise ActionRefused(_("A cost cannot be negative. Write 0 or more."), code="amount")
    if amount != amount.quantize(Decimal("0.01")):
        raise ActionRefused(
            _("Give the cost to the penny: at most two figures after the point."), code="amount"
        )
    if amount > MAX_AMOUNT:
        raise ActionRefused(
            _("That is more than %(most)s. Check the amount.") % {"most": f"{MAX_AMOUNT:,}"},
            code="amount",
        )
    return amount.quantize(Decimal("0.01"))


def _currency(value: str) -> str:
    code = (value or DEFAULT_CURRENCY).strip().upper()
    if not _CURRENCY.match(code):
        raise ActionRefused(
            _("Write the currency as its three-letter code, for example GBP or EUR."),
            code="currency",
        )
    return code


def _text(value: str, *, field: str) -> str:
    cleaned = " ".join((value or "").split())
    if len(cleaned) > MAX_TEXT_LENGTH:
        raise ActionRefused(
            _("Keep it under %(n)d characters.") % {"n": MAX_TEXT_LENGTH}, code=field
        )
    return cleaned


# ``record_operating_cost(corrects=...)`` not given: no check of what the person saw (the
# simulation, imports, tests of other rules).
UNCHECKED = object()


def _changed_meanwhile(site: Site, month: date, now: OperatingCost | None) -> ActionRefused:
    if now is None:
        message = _(
            "The cost you were correcting for %(month)s is no longer entered. Nothing was saved: "
            "check the month and enter it again."
        ) % {"month": month_name(month)}
    else:
        message = _(
            "%(month)s now has %(amount)s %(currency)s entered, saved by %(who)s on %(when)s, "
            "which this form did not show. Nothing was saved: check the cost shown above and "
            "save your entry again if it is still needed."
        ) % {
            "month": month_name(month),
            "amount": f"{now.amount:,}",
            "currency": now.currency,
            "who": now.entered_by,
            "when": date_format(site.local(now.entered_at), "j M Y H:i"),
        }
    return ActionRefused(message, code="changed_meanwhile")


def latest_for(site: Site, month: date) -> OperatingCost | None:
    """The entry that is the month's cost now (its latest)."""
    return (
        OperatingCost.objects.select_related("entered_by")
        .filter(site=site, month=month)
        .order_by("-entered_at", "-id")
        .first()
    )


def record_operating_cost(
    *,
    site: Site,
    month: date | str,
    amount: Decimal | int | float | str,
    currency: str = DEFAULT_CURRENCY,
    note: str = "",
    reason: str = "",
    key: Any,
    by: User,
    at: datetime | None = None,
    corrects: int | object | None = UNCHECKED,
) -> OperatingCost:
    """Enter the operating cost of ``site`` for ``month``, or correct it (a later entry; the
    reason is required). Months up to next month may be entered (a budget set in advance).

    ``corrects``: the id of the entry the person saw when they opened the form (None: they saw
    none). If someone has saved another since, nothing is saved and the refusal says what is
    entered now, so that a correction never silently replaces one its author has not seen."""
    at = at or timezone.now()
    idempotency_key = parse_key(key)
    details = {
        "site": site.pk,
        "month": str(month),
        "amount": str(amount),
        "currency": currency,
        "note": note,
        "reason": reason,
    }
    with transaction.atomic():
        existing = replayed(
            key=idempotency_key, by=by, action="operating_cost.record", details=details
        )
        if existing is not None:
            return OperatingCost.objects.select_related("entered_by").get(pk=existing)
        if not roles_at(by, site) & ENTERERS:
            raise ActionRefused(
                _("Only a manager or an administrator of %(site)s can enter its costs.")
                % {"site": site.name},
                code="not_allowed",
            )
        first = parse_month(month)
        if first.year < EARLIEST_YEAR:
            raise ActionRefused(
                _("Check the year: it is before %(y)d.") % {"y": EARLIEST_YEAR}, code="month"
            )
        next_month = _shift(site.local(at).date().replace(day=1), 1)
        if first > next_month:
            raise ActionRefused(
                _("Costs can be entered up to next month (%(month)s). Check the month.")
                % {"month": month_name(next_month)},
                code="month",
            )
        value = parse_amount(amount)
        code = _currency(currency)
        what = _text(note, field="note")
        why = _text(reason, field="reason")
        # One entry at a time per site, so two managers correcting a month cannot both think
        # they made its first entry.
        list(Site.objects.select_for_update().filter(pk=site.pk).values_list("pk"))
        previous = latest_for(site, first)
        if corrects is not UNCHECKED and (previous.pk if previous else None) != corrects:
            raise _changed_meanwhile(site, first, previous)
        if previous is not None:
            if not why:
                raise ActionRefused(
                    _("%(month)s already has a cost entered. Say why you are correcting it.")
                    % {"month": month_name(first)},
                    code="reason",
                )
            if (previous.amount, previous.currency, previous.note) == (value, code, what):
                raise ActionRefused(
                    _(
                        "That is already the cost entered for %(month)s. Change the amount, the "
                        "currency or what it includes, or cancel."
                    )
                    % {"month": month_name(first)},
                    code="amount",
                )
        entry = OperatingCost.objects.create(
            site=site,
            month=first,
            amount=value,
            currency=code,
            note=what,
            reason=why,
            entered_by=by,
            entered_at=at,
        )
        detail: dict[str, Any] = {
            "month": f"{first:%Y-%m}",
            "amount": str(value),
            "currency": code,
        }
        if previous is not None:
            detail.update(
                {
                    "was": str(previous.amount),
                    "was_currency": previous.currency,
                    "corrects": previous.pk,
                    # The reason is on the entry (the costs page shows it), never in the trail.
                    "reason_given": True,
                }
            )
        audit.record(
            action="operating_cost.corrected" if previous else "operating_cost.entered",
            by=by,
            obj=entry,
            site=site,
            at=at,
            detail=detail,
        )
        remember(
            key=idempotency_key,
            by=by,
            action="operating_cost.record",
            details=details,
            obj=entry,
        )
    return entry


# --- what the costs pages read ---------------------------------------------------------------


@dataclass(frozen=True)
class MonthCost:
    month: date
    current: OperatingCost | None  # the month's cost: its latest entry
    earlier: tuple[OperatingCost, ...]  # entries it corrected, newest first

    @property
    def code(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def name(self) -> str:
        return month_name(self.month)


def months_with_costs(site: Site, now: datetime | None = None) -> list[MonthCost]:
    """Every month from the earliest entered (and at least the last year) to this month (and
    next month once entered), newest first, with its entries (one query)."""
    this_month = site.local(now or timezone.now()).date().replace(day=1)
    entries = list(
        OperatingCost.objects.select_related("entered_by")
        .filter(site=site)
        .order_by("-month", "-entered_at", "-id")
    )
    by_month: dict[date, list[OperatingCost]] = {}
    for entry in entries:
        by_month.setdefault(entry.month, []).append(entry)
    newest = max([this_month, *by_month])
    oldest = min([_shift(this_month, 1 - HISTORY_MONTHS), *by_month])
    rows = []
    month = newest
    while month >= oldest:
        found = by_month.get(month, [])
        rows.append(MonthCost(month, found[0] if found else None, tuple(found[1:])))
        month = _shift(month, -1)
    return rows
