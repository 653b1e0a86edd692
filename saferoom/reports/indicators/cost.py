"""Indicator of indicators.md (cost, C1): the operating cost managers enter by month, over the
period, and per visit, per supervised episode and per unique client.

A month's cost is its latest entry at the report's moment (``scope.now``): corrections are later
entries. A period that covers part of a month takes that share of its days. The cost is not
defined when a month of the period has no entry at a site of the scope, or when the entries are
in more than one currency: a note says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Exists, OuterRef, Q
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from saferoom.reports.models import OperatingCost
from saferoom.reports.registry import Context, Figure, Result, Scope, indicator

COST = "C1.operating_cost"


@dataclass(frozen=True)
class PeriodCost:
    """The operating cost of a scope's period, or why it is not defined."""

    amount: Decimal | None
    currency: str = ""
    missing: dict[int, list[date]] = field(default_factory=dict)  # site id → months
    currencies: tuple[str, ...] = ()


def latest_entries(site_ids: tuple[int, ...], first: date, last: date, now: datetime) -> Q:
    """Entries that were their month's latest at ``now``: no later entry for the same site and
    month had been made by then."""
    later = OperatingCost.objects.filter(
        site_id=OuterRef("site_id"), month=OuterRef("month"), entered_at__lte=now
    ).filter(
        Q(entered_at__gt=OuterRef("entered_at"))
        | Q(entered_at=OuterRef("entered_at"), pk__gt=OuterRef("pk"))
    )
    return Q(site_id__in=site_ids, month__gte=first, month__lte=last, entered_at__lte=now) & ~Q(
        Exists(later)
    )


def period_cost(scope: Scope) -> PeriodCost:
    """The sum over the scope's sites and the period's months of each month's cost, times the
    share of the month's days inside the period (one query)."""
    months = scope.period.months()
    first_month = months[0].first.replace(day=1)
    entries = {
        (site_id, month): (amount, currency)
        for site_id, month, amount, currency in OperatingCost.objects.filter(
            latest_entries(scope.site_ids, first_month, scope.period.last, scope.now)
        ).values_list("site_id", "month", "amount", "currency")
    }
    missing: dict[int, list[date]] = {}
    total = Decimal(0)
    for site in scope.sites:
        for part in months:
            month = part.first.replace(day=1)
            entry = entries.get((site.pk, month))
            if entry is None:
                missing.setdefault(site.pk, []).append(month)
                continue
            whole = _days_in_month(month)
            total += entry[0] * part.days / whole
    currencies = tuple(sorted({currency for _amount, currency in entries.values()}))
    if missing or len(currencies) > 1:
        return PeriodCost(None, missing=missing, currencies=currencies)
    return PeriodCost(total, currency=currencies[0] if currencies else "", currencies=currencies)


def _days_in_month(month: date) -> int:
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return (following - month).days


def _month_name(month: date) -> str:
    return date_format(month, "F Y")


def _notes(scope: Scope, cost: PeriodCost) -> tuple[str, ...]:
    notes = []
    if cost.missing:
        names = {s.pk: s.name for s in scope.sites}
        for site_id, months in cost.missing.items():
            listed = ", ".join(_month_name(m) for m in months)
            if scope.is_network:
                notes.append(
                    _("No operating cost entered at %(site)s for %(months)s.")
                    % {"site": names[site_id], "months": listed}
                )
            else:
                notes.append(_("No operating cost entered for %(months)s.") % {"months": listed})
        notes.append(_("The cost figures are not defined until every month has an entry."))
    if len(cost.currencies) > 1:
        notes.append(
            _(
                "Operating costs are entered in more than one currency (%(currencies)s): they "
                "cannot be added up. Correct the months entered in the wrong currency."
            )
            % {"currencies": ", ".join(cost.currencies)}
        )
    return tuple(notes)


def _per(cost: Decimal | None, units: float | None) -> float | None:
    if cost is None or not units:
        return None
    return float(cost) / units


@indicator(
    "C1",
    title=N_("Cost per visit, per episode, per client"),
    group="cost",
    definition=N_(
        "Operating cost entered for the period ÷ U1, U2, U3. A month's cost is its latest "
        "entry; a period covering part of a month takes the share of its days. Not defined "
        "when a month of the period has no entry."
    ),
)
def c1_cost(ctx: Context) -> Result:
    scope = ctx.scope
    cost = period_cost(scope)
    unit = cost.currency
    amount = float(cost.amount) if cost.amount is not None else None

    def per(key: str, label: str, denominator: str, note: str) -> Figure:
        value = _per(cost.amount, ctx.value(denominator)) if cost.amount is not None else None
        return Figure(
            key,
            label,
            value,
            kind="money",
            numerator=COST,
            denominator=denominator,
            note=f"{unit}, {note}" if unit else note,
        )

    return Result(
        "C1",
        figures=(
            Figure("operating_cost", _("Operating cost"), amount, kind="money", note=unit),
            per("per_visit", _("Cost per visit"), "U1.total", _("per visit (U1)")),
            per(
                "per_episode",
                _("Cost per supervised episode"),
                "U2.total",
                _("per supervised consumption episode (U2)"),
            ),
            per("per_client", _("Cost per unique client"), "U3.total", _("per unique client (U3)")),
        ),
        notes=_notes(scope, cost),
    )
