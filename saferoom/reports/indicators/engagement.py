"""Indicators of indicators.md (engagement and harm-reduction outputs, E1–E6): services, referrals
and their uptake, clients engaged, supplies given out and drug checks.

Each is counted in the database, one query per fact, over the scope's sites grouped by time
zone (a period is local midnight to local midnight at each site). Records are read as they
stood at the report's moment (``scope.now``): a service voided, a give-out reversed or a
referral closed after it does not change a report run before it.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from datetime import datetime
from functools import reduce
from typing import Any

from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum, TextField
from django.db.models.functions import Cast, Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from saferoom.care.checking.models import Decision, DrugCheck, Finding, Method, Timing
from saferoom.care.referrals.models import FollowUp, Referral, ReferralAmendment
from saferoom.care.supplies.models import ServiceGiven, StockMovement
from saferoom.reports.registry import (
    Breakdown,
    Context,
    Figure,
    Result,
    Scope,
    indicator,
    one_way,
)
from saferoom.sites.models import CatalogueItem

# --- the period at each site ---------------------------------------------------------------


def in_period(scope: Scope, at: str, site: str = "site") -> Q:
    """Rows of the scope's sites whose ``at`` falls in the period of their site's calendar:
    one condition per time zone, so a network across zones is still one query."""
    by_zone: dict[str, list[int]] = {}
    for s in scope.sites:
        by_zone.setdefault(s.time_zone, []).append(s.pk)
    parts = []
    for zone, ids in by_zone.items():
        start, end = scope.period.bounds(zone)
        parts.append(Q(**{f"{site}__in": ids, f"{at}__gte": start, f"{at}__lt": end}))
    if not parts:
        return Q(pk__in=[])
    return reduce(operator.or_, parts)


def _by_code(
    scope: Scope, kind: str, by_item: dict[int, int]
) -> tuple[tuple[tuple[str, str], ...], dict[str, int]]:
    """Rows (code, label) of the entries of one list in use at the scope's sites, in the list's
    order, with any retired entry used in the period (so the table adds up); and the counts by
    item id added up by code (a network entry and a site's own entry of one code are one row).
    """
    items = (
        CatalogueItem.objects.filter(
            Q(site__isnull=True, network_id=scope.network.pk) | Q(site_id__in=scope.site_ids),
            kind=kind,
        )
        .filter(Q(active=True) | Q(pk__in=list(by_item)))
        # Network-wide entries first, so their label names a code a site also uses.
        .order_by(F("site_id").asc(nulls_first=True), "sort_order", "label", "pk")
        .values_list("pk", "code", "label", "sort_order")
    )
    labels: dict[str, tuple[int, str]] = {}
    code_of: dict[int, str] = {}
    for pk, code, label, order in items:
        code_of[pk] = code
        labels.setdefault(code, (order, _(label)))
    counts: dict[str, int] = {}
    for pk, n in by_item.items():
        code = code_of.get(pk, str(pk))
        counts[code] = counts.get(code, 0) + n
        labels.setdefault(code, (10**6, code))
    ordered = sorted(labels.items(), key=lambda entry: (entry[1][0], entry[1][1]))
    return tuple((code, label) for code, (_order, label) in ordered), counts


def _voided_after(now: datetime) -> Q:
    return Q(voided_at__isnull=True) | Q(voided_at__gt=now)


# --- E1 Services on site ---------------------------------------------------------------------


def services_by_item(scope: Scope) -> dict[int, int]:
    """Services given in the period by item id, leaving out those voided at or before
    ``scope.now``."""
    rows = (
        ServiceGiven.objects.filter(in_period(scope, "at"))
        .filter(_voided_after(scope.now))
        .values_list("item_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {item: n for item, n in rows if n}


@indicator(
    "E1",
    title=N_("Services on site"),
    group="engagement",
    definition=N_(
        "Services given in the period by kind (wound care, BBV test, sexual health, shower, "
        "laundry, clothing, food, counselling …). Services marked as recorded in error are "
        "left out."
    ),
    breakdowns=("service",),
)
def e1_services(ctx: Context) -> Result:
    rows, counts = _by_code(ctx.scope, "service", services_by_item(ctx.scope))
    return Result(
        "E1",
        figures=(Figure("total", _("Services given"), sum(counts.values())),),
        breakdowns=(
            one_way(
                "service",
                _("Services given, by service"),
                _("Service"),
                rows,
                ("services", _("Services given")),
                counts,
            ),
        ),
    )


# --- E2 Referrals made -----------------------------------------------------------------------


def _referrals(scope: Scope) -> QuerySet[Referral]:
    return Referral.objects.filter(in_period(scope, "made_at"))


def referral_kinds(found: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """The nine kinds of indicators.md, always, then any other kind a list entry was given."""
    rows = {code: str(label) for code, label in CatalogueItem.CATEGORIES["referral_target"]}
    for code in sorted(set(found) - set(rows)):
        rows[code] = _("Other") if code == "other" else code
    return tuple(rows.items())


@indicator(
    "E2",
    title=N_("Referrals made"),
    group="engagement",
    definition=N_(
        "Referrals by kind (housing, drug treatment/OST, detox/rehab, BBV, sexual health, "
        "mental health, primary care, social/benefits, legal). A referral counts in the period "
        "it was made, under the kind it has when the report runs."
    ),
    breakdowns=("kind",),
)
def e2_referrals(ctx: Context) -> Result:
    counts = dict(_referrals(ctx.scope).values_list("category").annotate(n=Count("id")).order_by())
    rows = referral_kinds(counts)
    return Result(
        "E2",
        figures=(Figure("total", _("Referrals made"), sum(counts.values())),),
        breakdowns=(
            one_way(
                "kind",
                _("Referrals made, by kind"),
                _("Kind"),
                rows,
                ("referrals", _("Referrals")),
                counts,
            ),
        ),
    )


# --- E3 Referral uptake ----------------------------------------------------------------------

WAITING = "waiting"
OUTCOMES = (Referral.Status.ATTENDED, Referral.Status.DECLINED, Referral.Status.UNKNOWN)


def status_as_at(events: Iterable[tuple[datetime, int, int, str]], now: datetime) -> str:
    """A referral's status at ``now`` from its status changes (when, order, id, new status):
    the latest change at or before ``now``; "made" when there was none."""
    earlier = sorted(e for e in events if e[0] <= now)
    return earlier[-1][3] if earlier else Referral.Status.MADE


def referral_statuses(scope: Scope) -> dict[str, int]:
    """Referrals made in the period by their status at ``scope.now``.

    The status field is the status now. Only referrals whose status changed after ``scope.now``
    (a report run for an earlier moment) are replayed from their follow-ups and amendments:
    two queries when none did, four when some did."""
    now = scope.now
    made = _referrals(scope)
    counts: dict[str, int] = dict(made.values_list("status").annotate(n=Count("id")).order_by())
    closed_later = FollowUp.objects.filter(at__gt=now, outcome__in=OUTCOMES).values("referral_id")
    amended_later = ReferralAmendment.objects.filter(at__gt=now, changes__has_key="status").values(
        "referral_id"
    )
    changed = made.filter(Q(pk__in=closed_later) | Q(pk__in=amended_later)).order_by()
    changed_since = dict(changed.values_list("pk", "status"))
    if not changed_since:
        return counts
    for status in changed_since.values():
        counts[status] -= 1
    replay: dict[int, list[tuple[datetime, int, int, str]]] = {pk: [] for pk in changed_since}
    for ref, at, pk, outcome in (
        FollowUp.objects.filter(
            referral_id__in=changed.values("pk"), outcome__in=OUTCOMES, at__lte=now
        )
        .order_by()
        .values_list("referral_id", "at", "pk", "outcome")
    ):
        replay[ref].append((at, 0, pk, outcome))
    for ref, at, pk, changes in (
        ReferralAmendment.objects.filter(
            referral_id__in=changed.values("pk"), changes__has_key="status", at__lte=now
        )
        .order_by()
        .values_list("referral_id", "at", "pk", "changes")
    ):
        # An amendment made at the same moment as a follow-up corrects it: it sorts after.
        replay[ref].append((at, 1, pk, str(changes["status"][1])))
    for events in replay.values():
        then = status_as_at(events, now)
        counts[then] = counts.get(then, 0) + 1
    return counts


@indicator(
    "E3",
    title=N_("Referral uptake"),
    group="engagement",
    definition=N_(
        "Referrals made in the period with status attended, declined or unknown at the report "
        "date. Referrals still waiting for an outcome are counted as waiting. The share "
        "attended is given of the referrals whose outcome is known, and of all."
    ),
    breakdowns=("status",),
)
def e3_uptake(ctx: Context) -> Result:
    by_status = referral_statuses(ctx.scope)
    counts = {
        "attended": by_status.get(Referral.Status.ATTENDED, 0),
        "declined": by_status.get(Referral.Status.DECLINED, 0),
        "unknown": by_status.get(Referral.Status.UNKNOWN, 0),
        WAITING: by_status.get(Referral.Status.MADE, 0),
    }
    total = sum(counts.values())
    known = total - counts[WAITING]
    attended = counts["attended"]
    rows = (
        ("attended", _("Attended")),
        ("declined", _("Declined")),
        ("unknown", _("Not known (did not attend, lost contact)")),
        (WAITING, _("Still waiting for an outcome")),
    )
    return Result(
        "E3",
        figures=(
            Figure("total", _("Referrals made"), total),
            # Both are rows of the status table: published as the shown table gives them.
            Figure("attended", _("Attended"), attended, rows_of=("status", ("attended",))),
            Figure(
                "known",
                _("With a known outcome"),
                known,
                rows_of=("status", ("attended", "declined", "unknown")),
            ),
            Figure(
                "attended_of_known",
                _("Share attended, of those with a known outcome"),
                attended / known if known else None,
                kind="share",
                numerator="E3.attended",
                denominator="E3.known",
                note=_("of referrals with a known outcome (attended, declined or not known)"),
            ),
            Figure(
                "attended_of_all",
                _("Share attended, of all referrals made"),
                attended / total if total else None,
                kind="share",
                numerator="E3.attended",
                denominator="E3.total",
                note=_("of all referrals made in the period (E2)"),
            ),
        ),
        breakdowns=(
            one_way(
                "status",
                _("Referrals made in the period, by status at the report date"),
                _("Status"),
                rows,
                ("referrals", _("Referrals")),
                counts,
            ),
        ),
    )


# --- E4 Clients engaged ----------------------------------------------------------------------


def _engaged_at(scope: Scope, site_id: int | None = None) -> Q:
    """Clients with a service or a referral in the period (at one site, when given)."""
    services = (
        ServiceGiven.objects.filter(in_period(scope, "at"))
        .filter(_voided_after(scope.now))
        .annotate(person=Coalesce("client_id", "visit__client_id"))
    )
    referrals = _referrals(scope).annotate(person=Coalesce("client_id", "visit__client_id"))
    if site_id is not None:
        services, referrals = services.filter(site_id=site_id), referrals.filter(site_id=site_id)
    return Q(pk__in=services.values("person")) | Q(pk__in=referrals.values("person"))


def clients_engaged(scope: Scope) -> tuple[int, dict[int, int]]:
    """Distinct clients engaged in the scope, and per site for a network (one query): the
    distinct (site, client) pairs of services and referrals, counted per site and once
    each client over all."""

    def pairs(rows: QuerySet[Any]) -> QuerySet[Any]:
        found: QuerySet[Any] = (
            rows.annotate(person=Coalesce("client_id", "visit__client_id"))
            .filter(person__isnull=False)
            .order_by()
            .values_list("site_id", "person")
        )
        return found

    services = ServiceGiven.objects.filter(in_period(scope, "at")).filter(_voided_after(scope.now))
    engaged = pairs(services).union(pairs(_referrals(scope)))
    sql, params = engaged.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH engaged (site_id, person) AS ({sql}) "  # noqa: S608 - Django's own SQL
            "SELECT site_id, COUNT(*) FROM engaged GROUP BY site_id "
            "UNION ALL SELECT NULL, COUNT(DISTINCT person) FROM engaged",
            params,
        )
        counted = cursor.fetchall()
    total = next(n for site_id, n in counted if site_id is None)
    by_site = {site_id: n for site_id, n in counted if site_id is not None}
    if not scope.is_network:
        return total, {}
    return total, {s.pk: by_site.get(s.pk, 0) for s in scope.sites}


@indicator(
    "E4",
    title=N_("Clients engaged"),
    group="engagement",
    definition=N_(
        "Distinct clients with at least one service or referral, and their share of U3. "
        "Registered clients only; services marked as recorded in error are left out."
    ),
    breakdowns=("site",),
)
def e4_engaged(ctx: Context) -> Result:
    scope = ctx.scope
    total, by_site = clients_engaged(scope)
    u3 = ctx.value("U3.total")
    breakdowns: tuple[Breakdown, ...] = ()
    if scope.is_network:
        breakdowns = (
            Breakdown(
                key="site",
                label=_("Clients engaged, by site"),
                row_label=_("Site"),
                rows=tuple((str(s.pk), s.name) for s in scope.sites),
                columns=(("clients", _("Clients engaged")),),
                values=tuple((by_site.get(s.pk, 0),) for s in scope.sites),
                additive=False,
                total_key=None,
                note=_("A client engaged at two sites counts at each."),
            ),
        )
    return Result(
        "E4",
        figures=(
            Figure("total", _("Clients engaged"), total),
            Figure(
                "share_of_u3",
                _("Share of unique clients"),
                total / u3 if u3 else None,
                kind="share",
                numerator="E4.total",
                denominator="U3.total",
                note=_("of unique clients (U3)"),
            ),
        ),
        breakdowns=breakdowns,
    )


# --- E5 Supplies given out -------------------------------------------------------------------


def supplies_by_item(scope: Scope) -> dict[int, int]:
    """Units given out by item id, leaving out give-outs reversed (as recorded in error) at
    or before ``scope.now``."""
    rows = (
        StockMovement.objects.filter(in_period(scope, "at"), kind=StockMovement.Kind.GIVEN)
        .filter(Q(reversed_by__isnull=True) | Q(reversed_by__at__gt=scope.now))
        .values_list("item_id")
        .annotate(units=Sum("quantity"))
        .order_by()
    )
    return {item: -units for item, units in rows if units}


@indicator(
    "E5",
    title=N_("Supplies given out"),
    group="engagement",
    definition=N_(
        "Units by item (injecting kits, syringes, foil, pipes, naloxone kits, sharps bins …). "
        "Give-outs reversed as recorded in error are left out."
    ),
    breakdowns=("item",),
)
def e5_supplies(ctx: Context) -> Result:
    rows, counts = _by_code(ctx.scope, "supply", supplies_by_item(ctx.scope))
    return Result(
        "E5",
        figures=(Figure("total", _("Units given out"), sum(counts.values())),),
        breakdowns=(
            one_way(
                "item",
                _("Units given out, by item"),
                _("Item"),
                rows,
                ("units", _("Units")),
                counts,
            ),
        ),
    )


# --- E6 Drug checks --------------------------------------------------------------------------

FINDINGS = (
    Finding.FENTANYL,
    Finding.NITAZENE,
    Finding.XYLAZINE,
    Finding.BENZODIAZEPINE,
    Finding.OTHER,
)
CHANGED_PLAN = (Decision.REDUCE_DOSE, Decision.DISPOSE)


def _has_finding(code: str) -> Q:
    # ``found`` is a JSON list of codes; its text holds each code in quotes, and no code is
    # another's quoted substring. (JSON containment has no SQLite form.)
    return Q(found_text__contains=f'"{code}"')


def drug_check_counts(scope: Scope) -> dict[str, int]:
    """Checks in the period: total, by method, with each finding, before use, and before use
    followed by a planned dose reduction or disposal (one query)."""
    aggregates = {
        "total": Count("id"),
        "before_use": Count("id", filter=Q(timing=Timing.BEFORE)),
        "changed_plan": Count("id", filter=Q(timing=Timing.BEFORE, decision__in=CHANGED_PLAN)),
    }
    for method in Method.values:
        aggregates[f"method:{method}"] = Count("id", filter=Q(method=method))
    for finding in FINDINGS:
        aggregates[f"found:{finding}"] = Count("id", filter=_has_finding(finding))
    return dict(
        DrugCheck.objects.filter(in_period(scope, "checked_at"))
        .annotate(found_text=Cast("found", TextField()))
        .aggregate(**aggregates)
    )


@indicator(
    "E6",
    title=N_("Drug checks"),
    group="engagement",
    definition=N_(
        "Checks by method; share with each finding (fentanyl, nitazene, xylazine, "
        "benzodiazepine …); share followed by a planned dose reduction or disposal. Shares of "
        "findings are of all checks (a test strip looks for one substance); the share followed "
        "by a dose reduction or disposal is of checks done before use."
    ),
    breakdowns=("method", "finding"),
)
def e6_drug_checks(ctx: Context) -> Result:
    counts = drug_check_counts(ctx.scope)
    total = counts["total"]
    before = counts["before_use"]
    changed = counts["changed_plan"]
    methods = tuple((m.value, str(m.label)) for m in Method)
    findings = tuple((f.value, str(f.label)) for f in FINDINGS)
    return Result(
        "E6",
        figures=(
            Figure("total", _("Drug checks"), total),
            # Parts of a whole: what they leave of it (checks after use) must not be a small
            # count worked out by subtraction.
            Figure("before_use", _("Checks before use"), before, part_of="total"),
            Figure(
                "dose_reduced_or_disposed",
                _("Followed by a smaller dose or disposal"),
                changed,
                part_of="before_use",
            ),
            Figure(
                "share_dose_reduced_or_disposed",
                _("Share followed by a planned dose reduction or disposal"),
                changed / before if before else None,
                kind="share",
                numerator="E6.dose_reduced_or_disposed",
                denominator="E6.before_use",
                note=_("of checks done before use"),
            ),
        ),
        breakdowns=(
            one_way(
                "method",
                _("Drug checks, by method"),
                _("Method"),
                methods,
                ("checks", _("Checks")),
                {code: counts[f"method:{code}"] for code, _label in methods},
            ),
            Breakdown(
                key="finding",
                label=_("Drug checks, by what was found"),
                row_label=_("Finding"),
                rows=findings,
                columns=(
                    ("checks", _("Checks with this finding")),
                    ("share", _("Share of checks")),
                ),
                values=tuple(
                    (
                        counts[f"found:{code}"],
                        counts[f"found:{code}"] / total if total else None,
                    )
                    for code, _label in findings
                ),
                column_kinds=("count", "share"),
                additive=False,
                total_key=None,
                note=_("A check can find more than one substance: rows do not add up."),
            ),
        ),
    )
