"""Writes of the checking area: recording a drug check, issuing and withdrawing a drug alert.

Each runs in one transaction with its audit event; creates are idempotent; a refusal raises
ActionRefused (``code`` names the field it concerns where there is one) and changes nothing.
Alerts are network-wide: issuing or withdrawing one bumps the board version of every site of
the network, so every open board shows the change at its next poll."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from saferoom.care.checking.models import (
    STRIP_TARGETS,
    Decision,
    DrugAlert,
    DrugCheck,
    Finding,
    Method,
    Severity,
    StripResult,
    Timing,
)
from saferoom.core import audit
from saferoom.core.errors import ActionRefused
from saferoom.core.idempotency import parse_key, remember, replayed
from saferoom.core.models import User
from saferoom.floor.board import bump_board
from saferoom.floor.models import Visit
from saferoom.sites.models import CatalogueItem, Network, Site

MAX_ALERT_DAYS = 90
MAX_MESSAGE_LENGTH = 280
MAX_OTHER_LENGTH = 80


def _plain_text(value: str, *, label: str, max_length: int, code: str) -> str:
    cleaned = " ".join((value or "").split())
    if len(cleaned) > max_length:
        raise ActionRefused(
            _("The %(label)s is too long: keep it under %(n)s characters.")
            % {"label": label, "n": max_length},
            code=code,
        )
    if "<" in cleaned or ">" in cleaned:
        raise ActionRefused(_("The %(label)s cannot contain < or >.") % {"label": label}, code=code)
    return cleaned


def not_offered_message(site: Site) -> str:
    return _(
        "%(site)s does not offer drug checking. A manager can switch it on in Site settings "
        "(Details and rules), where the law allows it."
    ) % {"site": site.name}


# --- Drug checks -------------------------------------------------------------------------------


def _check_found(
    method: str, strip_result: str, found: Sequence[str], found_other: str
) -> tuple[list[str], str]:
    """What was found, made consistent with the method: a strip's finding is its result."""
    if method not in Method.values:
        raise ActionRefused(_("Choose how the sample was checked."), code="method")
    unknown = [code for code in found if code not in Finding.values]
    if unknown:
        raise ActionRefused(_("Choose what was found from the list shown."), code="found")
    chosen = [code for code in Finding.values if code in found]  # list order, no repeats
    target = STRIP_TARGETS.get(method)
    if target is not None:
        if strip_result not in StripResult.values:
            raise ActionRefused(
                _("A test strip shows positive, negative or invalid: choose its result."),
                code="strip_result",
            )
        if any(code != target for code in chosen) or found_other:
            raise ActionRefused(
                _(
                    "A %(strip)s only shows whether %(target)s is there. Record other findings "
                    "as a separate check (FTIR or other method)."
                )
                % {"strip": Method(method).label.lower(), "target": Finding(target).label.lower()},
                code="found",
            )
        if chosen and strip_result != StripResult.POSITIVE:
            raise ActionRefused(
                _("The strip was not positive, so %(target)s cannot be recorded as found.")
                % {"target": Finding(target).label.lower()},
                code="found",
            )
        return ([target] if strip_result == StripResult.POSITIVE else []), ""
    if strip_result:
        raise ActionRefused(
            _("A strip result only goes with a test strip. Leave it empty for this method."),
            code="strip_result",
        )
    if not chosen:
        raise ActionRefused(
            _("Choose what was found (or “As expected” if nothing unexpected was found)."),
            code="found",
        )
    if Finding.AS_EXPECTED in chosen and len(chosen) > 1:
        raise ActionRefused(
            _("“As expected” cannot go with other findings: choose one or the other."),
            code="found",
        )
    other = _plain_text(
        found_other, label=_("description"), max_length=MAX_OTHER_LENGTH, code="found_other"
    )
    if Finding.OTHER in chosen and not other:
        raise ActionRefused(_("Say what else was found."), code="found_other")
    if other and Finding.OTHER not in chosen:
        raise ActionRefused(
            _("Tick “Something else” for the description, or clear it."), code="found_other"
        )
    return chosen, other


def _check_plan(timing: str, decision: str) -> str:
    if timing not in Timing.values:
        raise ActionRefused(_("Say whether the check was before or after use."), code="timing")
    if timing == Timing.AFTER:
        if decision:
            raise ActionRefused(
                _("A check after use has no dose plan. Leave “What will they do?” empty."),
                code="decision",
            )
        return ""
    if decision not in Decision.values:
        raise ActionRefused(
            _("Choose what they will do with it (or “Not decided”)."), code="decision"
        )
    return decision


def record_check(
    *,
    site: Site,
    visit: Visit | None,
    method: str,
    strip_result: str = "",
    expected: CatalogueItem | None,
    found: Sequence[str] = (),
    found_other: str = "",
    timing: str,
    decision: str = "",
    by: User,
    idempotency_key: Any,
    at: datetime | None = None,
) -> DrugCheck:
    """Record one drug check at ``site``, for ``visit`` or for a walk-in (``visit=None``)."""
    at = at or timezone.now()
    key = parse_key(idempotency_key)
    details = {
        "site": site.pk,
        "visit": visit.pk if visit is not None else None,
        "method": method,
        "strip_result": strip_result,
        "expected": expected.pk if expected is not None else None,
        "found": sorted(set(found)),
        "found_other": found_other,
        "timing": timing,
        "decision": decision,
    }
    with transaction.atomic():
        existing = replayed(key=key, by=by, action="drug_check.recorded", details=details)
        if existing is not None:
            return DrugCheck.objects.get(pk=existing)
        if not site.drug_checking_allowed:
            raise ActionRefused(not_offered_message(site), code="not_offered")
        if visit is not None and visit.site_id != site.pk:
            raise ActionRefused(
                _("That visit is not at this site. Start the check from the visit."), code="visit"
            )
        if expected is not None and not (
            expected.kind == CatalogueItem.Kind.SUBSTANCE
            and expected.network_id == site.network_id
            and expected.site_id in (None, site.pk)
        ):
            raise ActionRefused(
                _("Choose what they thought it was from the list shown."), code="expected"
            )
        found_codes, other = _check_found(method, strip_result, found, found_other)
        plan = _check_plan(timing, decision)
        check = DrugCheck.objects.create(
            site=site,
            visit=visit,
            method=method,
            strip_result=strip_result if method in STRIP_TARGETS else "",
            expected=expected,
            found=found_codes,
            found_other=other,
            timing=timing,
            decision=plan,
            checked_at=at,
            recorded_by=by,
        )
        audit.record(
            action="drug_check.recorded",
            by=by,
            obj=check,
            site=site,
            at=at,
            detail={
                "visit": visit.pk if visit is not None else None,
                "method": method,
                "found": found_codes,
                "timing": timing,
            },
        )
        remember(key=key, by=by, action="drug_check.recorded", details=details, obj=check)
    return check


# --- Drug alerts -------------------------------------------------------------------------------


def active_alerts(network_id: int, now: datetime) -> list[DrugAlert]:
    """Alerts showing now across the network, most severe first. Expiry needs no job: an alert
    past its time simply stops matching."""
    order: dict[str, int] = {Severity.DANGER: 0, Severity.WARNING: 1, Severity.INFO: 2}
    alerts = list(
        DrugAlert.objects.select_related("site").filter(
            network_id=network_id, withdrawn_at__isnull=True, expires_at__gt=now
        )
    )
    return sorted(alerts, key=lambda a: (order.get(a.severity, 3), -a.issued_at.timestamp()))


def _bump_network(network: Network) -> None:
    for site in Site.objects.filter(network=network).order_by("pk"):
        bump_board(site)


def issue_alert(
    *,
    site: Site,
    severity: str,
    message: str,
    expires_at: datetime,
    by: User,
    idempotency_key: Any,
    at: datetime | None = None,
) -> DrugAlert:
    """Issue a drug alert from ``site`` to every site of its network, showing until
    ``expires_at`` (at most 90 days ahead) unless withdrawn first."""
    at = at or timezone.now()
    key = parse_key(idempotency_key)
    details = {
        "site": site.pk,
        "severity": severity,
        "message": message,
        "expires_at": expires_at.isoformat(),
    }
    with transaction.atomic():
        existing = replayed(key=key, by=by, action="drug_alert.issued", details=details)
        if existing is not None:
            return DrugAlert.objects.select_related("site").get(pk=existing)
        if severity not in Severity.values:
            raise ActionRefused(
                _("Choose how serious the alert is: information, warning or danger."),
                code="severity",
            )
        text = _plain_text(message, label=_("alert"), max_length=MAX_MESSAGE_LENGTH, code="message")
        if not text:
            raise ActionRefused(
                _("Write what was found and in what (for example: nitazene in “heroin”)."),
                code="message",
            )
        if expires_at <= at:
            raise ActionRefused(
                _("That time has already passed. Choose when the alert should stop showing."),
                code="expires_at",
            )
        if expires_at > at + timedelta(days=MAX_ALERT_DAYS):
            raise ActionRefused(
                _("An alert can show for at most %(n)s days. Issue it again after that.")
                % {"n": MAX_ALERT_DAYS},
                code="expires_at",
            )
        alert = DrugAlert.objects.create(
            network_id=site.network_id,
            site=site,
            severity=severity,
            message=text,
            issued_at=at,
            issued_by=by,
            expires_at=expires_at,
        )
        audit.record(
            action="drug_alert.issued",
            by=by,
            obj=alert,
            site=site,
            at=at,
            detail={"severity": severity, "expires_at": expires_at.isoformat()},
        )
        remember(key=key, by=by, action="drug_alert.issued", details=details, obj=alert)
        _bump_network(site.network)
    return alert


def withdraw_alert(
    *,
    alert: DrugAlert,
    site: Site,
    reason: str = "",
    by: User,
    at: datetime | None = None,
) -> DrugAlert:
    """Take an alert off every board of the network now. ``site`` is where the withdrawing
    manager works (any site of the alert's network)."""
    at = at or timezone.now()
    with transaction.atomic():
        fresh = DrugAlert.objects.select_for_update().select_related("site").get(pk=alert.pk)
        if fresh.network_id != site.network_id:
            raise ActionRefused(_("That alert belongs to another network."), code="network")
        local = site.local
        if fresh.withdrawn_at is not None:
            raise ActionRefused(
                _("This alert was already withdrawn at %(time)s on %(day)s.")
                % {
                    "time": local(fresh.withdrawn_at).strftime("%H:%M"),
                    "day": local(fresh.withdrawn_at).strftime("%d/%m/%Y"),
                },
                code="already_withdrawn",
            )
        if fresh.expires_at <= at:
            raise ActionRefused(
                _("This alert already expired at %(time)s on %(day)s: it no longer shows.")
                % {
                    "time": local(fresh.expires_at).strftime("%H:%M"),
                    "day": local(fresh.expires_at).strftime("%d/%m/%Y"),
                },
                code="expired",
            )
        why = _plain_text(reason, label=_("reason"), max_length=200, code="reason")
        updated = DrugAlert.objects.filter(pk=fresh.pk, withdrawn_at__isnull=True).update(
            withdrawn_at=at, withdrawn_by=by, withdraw_reason=why
        )
        if not updated:  # pragma: no cover - the row lock above makes this unreachable
            raise ActionRefused(_("This alert was already withdrawn."), code="already_withdrawn")
        fresh.withdrawn_at, fresh.withdrawn_by, fresh.withdraw_reason = at, by, why
        audit.record(
            action="drug_alert.withdrawn",
            by=by,
            obj=fresh,
            site=site,
            at=at,
            detail={"reason_given": bool(why)},
        )
        _bump_network(site.network)
    return fresh
