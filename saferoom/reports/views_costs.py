"""Pages of a site's operating costs, under /sites/<site>/costs/ (indicator C1).

Who may do what: managers and administrators enter and correct a month's cost; evaluators may
read the list (costs are not client-level, and an evaluation needs them); the desk and the
floor have no business here (403). Another site's worker gets 404, as everywhere."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.reports import costs_actions
from saferoom.reports.forms_costs import OperatingCostForm
from saferoom.sites.access import site_view
from saferoom.sites.models import Site

ENTERERS = (Role.MANAGER, Role.ADMIN)
READERS = (Role.MANAGER, Role.ADMIN, Role.EVALUATOR)


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _role(request: HttpRequest) -> str:
    return getattr(request, "current_role", "") or ""


@site_view(*READERS)
@require_GET
def costs(request: HttpRequest, site: Site) -> HttpResponse:
    """Every month with its cost, who entered it, and the entries it corrected."""
    context = {
        "site": site,
        "months": costs_actions.months_with_costs(site),
        "can_enter": _role(request) in ENTERERS,
    }
    return render(request, "reports/costs/list.html", context)


def _month_asked(value: Any) -> date | None:
    try:
        return costs_actions.parse_month(str(value or ""))
    except ActionRefused:
        return None


@site_view(*ENTERERS)
@require_http_methods(["GET", "POST"])
def enter(request: HttpRequest, site: Site) -> HttpResponse:
    """Enter a month's cost, or correct it (``?month=YYYY-MM`` starts from its current cost)."""
    refusal = ""
    status = 200
    posted = request.method == "POST"
    month = _month_asked((request.POST if posted else request.GET).get("month"))
    current = costs_actions.latest_for(site, month) if month else None
    if posted:
        form = OperatingCostForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                entry = costs_actions.record_operating_cost(
                    site=site,
                    month=data["month"],
                    amount=data["amount"],
                    currency=data["currency"],
                    note=data["note"],
                    reason=data["reason"],
                    key=data["idempotency_key"],
                    by=_user(request),
                    corrects=data["corrects"],
                )
            except ActionRefused as refused:
                if refused.code in form.fields:
                    form.add_error(refused.code, refused.message)
                else:
                    refusal = refused.message
                if refused.code == "changed_meanwhile":
                    # Shown again with what is entered now, which this person had not seen.
                    month = data["month"]
                    current = costs_actions.latest_for(site, month)
            else:
                messages.success(
                    request,
                    _("Operating cost for %(month)s saved: %(amount)s %(currency)s.")
                    % {
                        "month": costs_actions.month_name(entry.month),
                        "amount": f"{entry.amount:,}",
                        "currency": entry.currency,
                    },
                )
                return redirect(
                    reverse("costs:list", kwargs={"site": site.slug}) + f"#m-{entry.month:%Y-%m}"
                )
        status = 422 if request.htmx else 200  # type: ignore[attr-defined]
    else:
        initial: dict[str, Any] = {}
        if month is not None:
            initial["month"] = f"{month:%Y-%m}"
        if current is not None:
            initial.update(
                {"amount": current.amount, "currency": current.currency, "note": current.note}
            )
        form = OperatingCostForm(initial=initial)
    context = {
        "site": site,
        "form": form,
        "refusal": refusal,
        "month": month,
        "month_name": costs_actions.month_name(month) if month else "",
        "current": current,
        "this_month": f"{site.local(timezone.now()).date():%Y-%m}",
    }
    return render(request, "reports/costs/enter.html", context, status=status)
