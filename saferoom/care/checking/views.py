"""Pages of the checking area, under /sites/<site>/drug-checking/.

Who may do what (decided for issue 4):
- Drug checks (list, record) are for the people who work with clients: desk, floor, managers,
  administrators. Evaluators get 403 (client-level). Where the site does not offer drug
  checking (``Site.drug_checking_allowed`` off) these pages answer 403 with a page saying so.
- Drug alerts are network-wide and do not depend on that switch (a site that may not test can
  still warn). The alert log is readable by all staff (desk, floor, manager, admin). A manager
  or administrator of any site of the network issues an alert from their site's page, and may
  withdraw any alert of the network: a false alarm must come down fast, whoever is on duty.
- The banner endpoint refreshes the alerts banner on desks and boards (expiry needs no job)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from saferoom.care.checking import actions
from saferoom.care.checking.access import access_alert, access_visit
from saferoom.care.checking.forms import AlertForm, DrugCheckForm, WithdrawForm
from saferoom.care.checking.models import DrugAlert, DrugCheck
from saferoom.care.checking.templatetags.alerts import alerts_for
from saferoom.core import audit
from saferoom.core.errors import ActionRefused
from saferoom.core.middleware import POLL_HEADER
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.floor.actions import who
from saferoom.floor.models import Visit
from saferoom.sites.access import site_view
from saferoom.sites.models import Site

CHECKERS = (Role.DESK, Role.FLOOR, Role.MANAGER, Role.ADMIN)
ALERT_READERS = (Role.DESK, Role.FLOOR, Role.MANAGER, Role.ADMIN)
ALERT_ISSUERS = (Role.MANAGER, Role.ADMIN)
LOG_LENGTH = 200
RECENT_CHECKS = 50


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _role(request: HttpRequest) -> str:
    return getattr(request, "current_role", "") or ""


def _not_offered(request: HttpRequest, site: Site) -> HttpResponse:
    return render(
        request,
        "checking/not_offered.html",
        {"site": site, "message": actions.not_offered_message(site)},
        status=403,
    )


def _refusal_to_form(form: Any, refusal: ActionRefused) -> str:
    """Put a refusal next to the field it is about; return it when it concerns no field."""
    if refusal.code in form.fields:
        form.add_error(refusal.code, refusal.message)
        return ""
    return refusal.message


# --- Drug checks --------------------------------------------------------------------------------


@site_view(*CHECKERS)
@require_GET
def checks(request: HttpRequest, site: Site) -> HttpResponse:
    """The site's most recent drug checks, newest first."""
    if not site.drug_checking_allowed:
        return _not_offered(request, site)
    recent = list(
        DrugCheck.objects.filter(site=site)
        .select_related("visit__client", "expected", "recorded_by")
        .order_by("-checked_at", "-id")[:RECENT_CHECKS]
    )
    # The list names clients by code: looking at it is a read of client-level data.
    audit.record(
        action="drug_check.list_viewed",
        by=_user(request),
        site=site,
        role=_role(request),
        detail={"shown": len(recent)},
    )
    rows = [
        {"check": c, "who": who(c.visit) if c.visit is not None else _("Walk-in")} for c in recent
    ]
    return render(request, "checking/checks.html", {"site": site, "rows": rows})


def _record(request: HttpRequest, site: Site, visit: Visit | None) -> HttpResponse:
    if not site.drug_checking_allowed:
        return _not_offered(request, site)
    form = DrugCheckForm(request.POST if request.method == "POST" else None, site=site)
    refusal = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                check = actions.record_check(
                    site=site,
                    visit=visit,
                    method=data["method"],
                    strip_result=data["strip_result"],
                    expected=form.expected_item(),
                    found=data["found"],
                    found_other=data["found_other"],
                    timing=data["timing"],
                    decision=data["decision"],
                    by=_user(request),
                    idempotency_key=data["idempotency_key"],
                )
            except ActionRefused as refused:
                refusal = _refusal_to_form(form, refused)
            else:
                found = ", ".join(check.found_labels()) or _("nothing")
                messages.success(
                    request, _("Drug check recorded. Found: %(found)s.") % {"found": found}
                )
                return redirect("checking:checks", site=site.slug)
        status = 422 if request.htmx else 200  # type: ignore[attr-defined]
    if visit is not None and visit.client is not None:
        audit.record(
            action="client.viewed",
            by=_user(request),
            obj=visit.client,
            site=site,
            role=_role(request),
            detail={"page": "drug_check"},
        )
    context = {
        "site": site,
        "form": form,
        "refusal": refusal,
        "visit": visit,
        "who": who(visit) if visit is not None else "",
    }
    return render(request, "checking/check_new.html", context, status=status)


@site_view(*CHECKERS)
@require_http_methods(["GET", "POST"])
def check_new(request: HttpRequest, site: Site) -> HttpResponse:
    """Record a check for someone who walked in with a sample (no visit)."""
    return _record(request, site, None)


@site_view(*CHECKERS)
@require_http_methods(["GET", "POST"])
def check_new_for_visit(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """Record a check for a visit (from the visit's care page)."""
    return _record(request, site, access_visit(site, pk))


# --- Drug alerts --------------------------------------------------------------------------------


@site_view(*ALERT_READERS)
@require_GET
def alerts(request: HttpRequest, site: Site) -> HttpResponse:
    """The network's alerts: those showing now, then the log of every alert."""
    now = timezone.now()
    log = list(
        DrugAlert.objects.filter(network_id=site.network_id)
        .select_related("site", "issued_by", "withdrawn_by")
        .order_by("-issued_at", "-id")[:LOG_LENGTH]
    )
    context = {
        "site": site,
        "active": actions.active_alerts(site.network_id, now),
        "log": log,
        "now": now,
        "can_issue": _role(request) in ALERT_ISSUERS,
    }
    return render(request, "checking/alerts.html", context)


@site_view(*ALERT_ISSUERS)
@require_http_methods(["GET", "POST"])
def alert_new(request: HttpRequest, site: Site) -> HttpResponse:
    """Issue an alert to every site of the network."""
    form = AlertForm(request.POST if request.method == "POST" else None, site=site)
    refusal = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            now = timezone.now()
            try:
                actions.issue_alert(
                    site=site,
                    severity=form.cleaned_data["severity"],
                    message=form.cleaned_data["message"],
                    expires_at=form.expires_at(now),
                    by=_user(request),
                    idempotency_key=form.cleaned_data["idempotency_key"],
                    at=now,
                )
            except ActionRefused as refused:
                if refused.code == "expires_at":
                    field = "last_day" if form.cleaned_data["lasts"] == "until" else "lasts"
                    form.add_error(field, refused.message)
                else:
                    refusal = _refusal_to_form(form, refused)
            else:
                messages.success(
                    request, _("Alert issued. It now shows on every board and desk of the network.")
                )
                return redirect("checking:alerts", site=site.slug)
        status = 422 if request.htmx else 200  # type: ignore[attr-defined]
    return render(
        request,
        "checking/alert_new.html",
        {"site": site, "form": form, "refusal": refusal},
        status=status,
    )


@site_view(*ALERT_ISSUERS)
@require_POST
def alert_withdraw(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """Take an alert off every board of the network."""
    alert = access_alert(site, pk)
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect("checking:alerts", site=site.slug)
    try:
        actions.withdraw_alert(
            alert=alert, site=site, reason=form.cleaned_data["reason"], by=_user(request)
        )
    except ActionRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, _("Alert withdrawn. It no longer shows anywhere."))
    return redirect("checking:alerts", site=site.slug)


@site_view(*ALERT_READERS)
@require_GET
def banner(request: HttpRequest, site: Site) -> HttpResponse:
    """The alerts banner, asked for by alerts.js every few seconds with the version it shows.
    Unchanged: an empty 204. Opened in the address bar (no poll header): the alert log."""
    if POLL_HEADER not in request.META:
        return redirect("checking:alerts", site=site.slug)
    shown = alerts_for(site)
    seen = request.headers.get("If-None-Match", "").strip().strip('"')
    if seen == shown.version:
        return HttpResponse(status=204)
    return render(request, "checking/_alerts_banner.html", {"site": site, "banner_alerts": shown})
