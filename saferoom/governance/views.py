"""The audit log as managers read it (their site; network managers and administrators the
whole network), its CSV export, and the disclosure workflow. Filters and client codes travel
in POST bodies only; reading or exporting the log is itself an audit event."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from saferoom.clients.access import manages_network, works_with
from saferoom.clients.actions import find_by_code
from saferoom.core import audit
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.governance import actions, auditlog
from saferoom.governance.forms import AuditFilterForm, DecisionForm, DisclosureRequestForm
from saferoom.governance.models import Disclosure, DisclosureRelease
from saferoom.sites.access import site_view
from saferoom.sites.models import Site

MANAGERS = (Role.MANAGER, Role.ADMIN)
EVENTS_PER_PAGE = 50
# An export is one person's look at a stretch of the log, not a copy of it.
EXPORT_LIMIT = 50_000


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _role(request: HttpRequest) -> str:
    return str(getattr(request, "current_role", ""))


def _filter_form(request: HttpRequest, site: Site) -> AuditFilterForm:
    network_scope = manages_network(_user(request), site.network)
    if request.method == "POST":
        return AuditFilterForm(request.POST, network_scope=network_scope)
    return AuditFilterForm(network_scope=network_scope)


def _filters(form: AuditFilterForm) -> auditlog.Filters:
    return form.filters() if form.is_bound else auditlog.Filters()


def _filters_detail(filters: auditlog.Filters) -> dict[str, Any]:
    return {
        key: str(value)
        for key, value in vars(filters).items()
        if value not in (None, "") and not (key == "scope" and value == auditlog.SITE)
    }


@site_view(*MANAGERS)
@require_http_methods(["GET", "POST"])
def audit_log(request: HttpRequest, site: Site) -> HttpResponse:
    form = _filter_form(request, site)
    page = None
    if not form.is_bound or form.is_valid():
        filters = _filters(form)
        number = (form.cleaned_data.get("page") if form.is_bound else None) or 1
        page = Paginator(auditlog.events(site, filters), EVENTS_PER_PAGE).get_page(number)
        # Read the page now: the event below must not show up in the page it records.
        page.object_list = list(page.object_list)
        audit.record(
            action="audit.viewed",
            by=_user(request),
            site=site,
            role=_role(request),
            detail={**_filters_detail(filters), "page": page.number},
        )
    return render(request, "governance/audit_log.html", {"site": site, "form": form, "page": page})


@site_view(*MANAGERS)
@require_POST
def audit_export(request: HttpRequest, site: Site) -> HttpResponse:
    form = _filter_form(request, site)
    if not form.is_valid():
        return render(
            request, "governance/audit_log.html", {"site": site, "form": form, "page": None}
        )
    filters = form.filters()
    rows = list(auditlog.events(site, filters)[:EXPORT_LIMIT])
    audit.record(
        action="audit.exported",
        by=_user(request),
        site=site,
        role=_role(request),
        detail={**_filters_detail(filters), "rows": len(rows)},
    )
    response = HttpResponse(auditlog.to_csv(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{site.slug}.csv"'
    return response


# --- disclosures -----------------------------------------------------------------------------


def access_disclosure(site: Site, pk: int) -> Disclosure:
    """One of the site's disclosure requests; another site's answers 404."""
    found = (
        Disclosure.objects.select_related("client", "requested_by", "decided_by", "site")
        .filter(site=site, pk=pk)
        .first()
    )
    if found is None:
        raise Http404
    return found


@site_view(*MANAGERS)
@require_http_methods(["GET"])
def disclosures(request: HttpRequest, site: Site) -> HttpResponse:
    requests = Disclosure.objects.filter(site=site).select_related("client", "requested_by")
    releases = DisclosureRelease.objects.filter(site=site).select_related("client", "released_by")
    audit.record(action="disclosure.list_viewed", by=_user(request), site=site, role=_role(request))
    return render(
        request,
        "governance/disclosures.html",
        {"site": site, "requests": requests[:100], "releases": releases[:100]},
    )


@site_view(*MANAGERS)
@require_http_methods(["GET", "POST"])
def disclosure_new(request: HttpRequest, site: Site) -> HttpResponse:
    if request.method == "GET":
        form = DisclosureRequestForm(initial={"idempotency_key": uuid.uuid4()})
        return render(request, "governance/disclosure_new.html", {"site": site, "form": form})
    form = DisclosureRequestForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        client = find_by_code(network=site.network, typed_code=data["code"])
        if client is None or not works_with(_user(request), client):
            form.add_error("code", _("No client with this code has been seen at your sites."))
        else:
            try:
                disclosure = actions.request_disclosure(
                    site=site,
                    client=client,
                    recipient=data["recipient"],
                    legal_basis=data["legal_basis"],
                    reference=data["reference"],
                    justification=data["justification"],
                    include_identity=data["include_identity"],
                    by=_user(request),
                    idempotency_key=data["idempotency_key"],
                )
            except ActionRefused as refusal:
                form.add_error(None, refusal.message)
            else:
                messages.success(request, _("Request opened. A second person must now decide it."))
                return redirect("governance:disclosure", site=site.slug, pk=disclosure.pk)
    return render(request, "governance/disclosure_new.html", {"site": site, "form": form})


def _detail(
    request: HttpRequest, site: Site, disclosure: Disclosure, form: DecisionForm | None = None
) -> HttpResponse:
    audit.record(
        action="disclosure.viewed",
        by=_user(request),
        obj=disclosure,
        site=site,
        role=_role(request),
    )
    context = {
        "site": site,
        "disclosure": disclosure,
        "form": form or DecisionForm(),
        "may_decide": disclosure.status == Disclosure.Status.REQUESTED
        and disclosure.requested_by_id != request.user.pk,
        "releases": disclosure.releases.select_related("released_by"),
    }
    return render(request, "governance/disclosure.html", context)


@site_view(*MANAGERS)
@require_http_methods(["GET"])
def disclosure(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    return _detail(request, site, access_disclosure(site, pk))


@site_view(*MANAGERS)
@require_POST
def disclosure_decide(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    found = access_disclosure(site, pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return _detail(request, site, found, form)
    try:
        actions.decide_disclosure(
            disclosure=found,
            approve=form.cleaned_data["decision"] == "approve",
            note=form.cleaned_data["note"],
            by=_user(request),
        )
    except ActionRefused as refusal:
        form.add_error(None, refusal.message)
        return _detail(request, site, found, form)
    return redirect("governance:disclosure", site=site.slug, pk=found.pk)


@site_view(*MANAGERS)
@require_POST
def disclosure_release(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    found = access_disclosure(site, pk)
    try:
        record = actions.release_disclosure(disclosure=found, by=_user(request))
    except ActionRefused as refusal:
        messages.error(request, refusal.message)
        return redirect("governance:disclosure", site=site.slug, pk=found.pk)
    response = HttpResponse(record.text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="disclosure-{found.pk}.txt"'
    return response
