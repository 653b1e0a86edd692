"""Views of the front desk: the queue (which refreshes itself cheaply), check-in on one page,
turn-away, and ending a visit from the queue."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from saferoom.clients.access import access_client
from saferoom.clients.models import Client
from saferoom.core import audit
from saferoom.core.errors import ActionRefused
from saferoom.core.middleware import POLL_HEADER
from saferoom.core.models import User
from saferoom.floor import actions, queue
from saferoom.floor.access import DESK_ROLES, access_visit
from saferoom.floor.eligibility import Problem, eligibility_questions, standing_problems
from saferoom.floor.forms import CheckInForm, TurnAwayForm
from saferoom.floor.models import Visit
from saferoom.sites.access import site_view
from saferoom.sites.models import CatalogueItem, Site, catalogue_for


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _render(
    request: HttpRequest,
    site: Site,
    template: str,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    # site_view has already switched to the site's time zone.
    return render(request, template, context, status=status)


def _bad_input_status(request: HttpRequest) -> int:
    return 422 if request.htmx else 200  # type: ignore[attr-defined]


# --- The queue ---------------------------------------------------------------------------


def _queue_context(site: Site, now: datetime, window: queue.Window, version: str) -> dict[str, Any]:
    visits = list(queue.waiting_visits(site))
    return {
        "site": site,
        "version": version.strip('"'),
        "server_now": now,
        "window": window,
        "counts": queue.counts(site, window, waiting=len(visits)),
        "rows": [
            {
                "visit": visit,
                "waited": queue.waited(visit.arrived_at, now),
                "substances": list(visit.planned_substances.all()),
            }
            for visit in visits
        ],
        "anonymous_allowed": site.anonymous_visits_allowed,
    }


def _render_queue(
    request: HttpRequest,
    site: Site,
    *,
    flash: str = "",
    flash_error: str = "",
    now: datetime | None = None,
    window: queue.Window | None = None,
    version: str = "",
) -> HttpResponse:
    now = now or timezone.now()
    window = window or queue.counting_window(site, now)
    version = version or queue.version(site, window)
    context = _queue_context(site, now, window, version)
    context.update(flash=flash, flash_error=flash_error)
    template = "floor/queue.htmx.html" if request.htmx else "floor/queue.html"  # type: ignore[attr-defined]
    response = _render(request, site, template, context)
    response["ETag"] = version
    return response


def _if_none_match(request: HttpRequest) -> str:
    value = request.headers.get("If-None-Match", "").strip()
    return value.removeprefix("W/").strip('"')


@site_view(*DESK_ROLES)
@require_GET
def queue_view(request: HttpRequest, site: Site) -> HttpResponse:
    """The desk's home: who is waiting and for how long, today's counts, and the way in.

    The page polls itself every 5 s with its version; while nothing changed the answer is an
    empty 204 (htmx leaves the page alone) after two small queries."""
    now = timezone.now()
    window = queue.counting_window(site, now)
    version = queue.version(site, window)
    if POLL_HEADER in request.META and _if_none_match(request) == version.strip('"'):
        if request.htmx:  # type: ignore[attr-defined]
            return HttpResponse(status=204)
        return HttpResponseNotModified()
    return _render_queue(request, site, now=now, window=window, version=version)


def _end_visit(
    request: HttpRequest,
    site: Site,
    pk: int,
    action: Callable[..., Visit],
    done: str,
) -> HttpResponse:
    visit = access_visit(request, site, pk)
    try:
        action(visit=visit, by=_user(request))
    except ActionRefused as refusal:
        if request.htmx:  # type: ignore[attr-defined]
            return _render_queue(request, site, flash_error=refusal.message)
        messages.error(request, refusal.message)
        return redirect("floor:queue", site=site.slug)
    message = done % {"who": actions.who(visit)}
    if request.htmx:  # type: ignore[attr-defined]
        return _render_queue(request, site, flash=message)
    messages.success(request, message)
    return redirect("floor:queue", site=site.slug)


@site_view(*DESK_ROLES)
@require_POST
def leave_queue(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    return _end_visit(request, site, pk, actions.leave_queue, _("%(who)s has left the queue."))


@site_view(*DESK_ROLES)
@require_POST
def check_out(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    return _end_visit(request, site, pk, actions.check_out, _("%(who)s is checked out."))


# --- Check-in ----------------------------------------------------------------------------


def _reasons_by_code(site: Site) -> dict[str, CatalogueItem]:
    return {item.code: item for item in catalogue_for(site, CatalogueItem.Kind.TURNAWAY_REASON)}


def _turnaway_offer(
    site: Site,
    client: Client | None,
    problems: list[Problem],
    answers: dict[str, bool],
) -> tuple[TurnAwayForm, CatalogueItem | None]:
    """The turn-away form the check-in page offers, with the reason of the first real problem
    already chosen."""
    reasons = _reasons_by_code(site)
    reason = next(
        (reasons[p.code] for p in problems if not p.unanswered and p.code in reasons), None
    )
    initial: dict[str, Any] = {"eligibility": json.dumps(answers) if answers else ""}
    if client is not None:
        initial["client"] = client.pk
    elif site.anonymous_visits_allowed:
        initial["who"] = TurnAwayForm.ANONYMOUS
    if reason is not None:
        initial["reason"] = reason.pk
    # Its own ids: it shares the check-in page with the check-in form.
    return TurnAwayForm(site=site, initial=initial, auto_id="turnaway_%s"), reason


def _last_plan(site: Site, client: Client | None) -> dict[str, Any]:
    """A returning client's last substances and route, preselected: most people use the same
    way each visit, so a regular is checked in with a tap or two."""
    if client is None:
        return {}
    last = (
        Visit.objects.filter(client=client, site__network_id=site.network_id)
        .exclude(state=Visit.State.TURNED_AWAY)
        .prefetch_related("planned_substances")
        .order_by("-arrived_at", "-id")
        .first()
    )
    if last is None:
        return {}
    plan: dict[str, Any] = {"substances": [s.pk for s in last.planned_substances.all()]}
    if last.planned_route in site.permitted_routes:
        plan["route"] = last.planned_route
    return plan


def _checkin(request: HttpRequest, site: Site, client: Client | None) -> HttpResponse:
    now = timezone.now()
    questions = eligibility_questions(site=site, client=client, at=now)
    standing = standing_problems(site=site, client=client, at=now)
    already = actions.open_visit_of(site=site, client=client) if client is not None else None
    form = CheckInForm(
        request.POST if request.method == "POST" else None,
        site=site,
        questions=questions,
        initial=_last_plan(site, client),
    )
    problems: list[Problem] = []
    refusal = ""
    status = 200
    answers: dict[str, bool] = {}
    if request.method == "POST":
        if form.is_valid():
            answers = form.answers()
            try:
                visit = actions.check_in(
                    site=site,
                    client=client,
                    anonymous=client is None,
                    planned_route=form.cleaned_data["route"],
                    planned_substances=list(form.cleaned_data["substances"]),
                    otherwise_location=form.cleaned_data["otherwise_location"],
                    would_use_alone=form.cleaned_data["would_use_alone"],
                    eligibility=answers,
                    by=_user(request),
                    idempotency_key=form.cleaned_data["idempotency_key"],
                )
            except actions.NotEligible as not_eligible:
                problems = not_eligible.problems
            except ActionRefused as refused:
                refusal = refused.message
            else:
                messages.success(
                    request,
                    _("%(who)s is checked in and waiting.") % {"who": actions.who(visit)},
                )
                return redirect("floor:queue", site=site.slug)
        status = _bad_input_status(request)
    blocking = standing or [p for p in problems if not p.unanswered]
    turnaway_form, offered_reason = _turnaway_offer(site, client, blocking, answers)
    if client is not None:
        audit.record(
            action="client.viewed",
            by=_user(request),
            obj=client,
            site=site,
            role=getattr(request, "current_role", "") or "",
            detail={"page": "checkin"},
        )
    context = {
        "client": client,
        "form": form,
        "standing": standing,
        "banned": any(p.code == "banned" for p in standing),
        "problems": [p for p in problems if p not in standing],
        "refusal": refusal,
        "already": actions.already_here(already) if already is not None else "",
        "closed": "" if site.is_open(now) else actions.closed_message(site, now),
        "turnaway_form": turnaway_form,
        "offered_reason": offered_reason,
        "server_now": now,
    }
    return _render(request, site, "floor/checkin.html", context, status=status)


@site_view(*DESK_ROLES)
@require_http_methods(["GET", "POST"])
def checkin(request: HttpRequest, site: Site, client: int) -> HttpResponse:
    """Check in a registered client: eligibility, plans and context on one page."""
    return _checkin(request, site, access_client(request, site, client))


@site_view(*DESK_ROLES)
@require_http_methods(["GET", "POST"])
def checkin_anonymous(request: HttpRequest, site: Site) -> HttpResponse:
    """Check in someone who does not register, where the site allows it."""
    if not site.anonymous_visits_allowed:
        return _render(request, site, "floor/anonymous_refused.html", {}, status=404)
    return _checkin(request, site, None)


# --- Turn-away ---------------------------------------------------------------------------


@site_view(*DESK_ROLES)
@require_http_methods(["GET", "POST"])
def turnaway(request: HttpRequest, site: Site) -> HttpResponse:
    """Record that someone was not admitted, and why: a registered client (from check-in), an
    anonymous arrival, or someone who is not registered."""
    form = TurnAwayForm(request.POST if request.method == "POST" else None, site=site)
    person: Client | None = None
    refusal = ""
    status = 200
    if request.method == "POST":
        form.is_valid()  # cleans every field, so the client is known even if another is wrong
        if form.cleaned_data.get("client"):
            try:
                person = access_client(request, site, form.cleaned_data["client"])
            except Http404:
                form.add_error("client", _("That client could not be found. Find them again."))
        if form.is_valid():
            reason: CatalogueItem = form.cleaned_data["reason"]
            try:
                visit = actions.turn_away(
                    site=site,
                    client=person,
                    anonymous=person is None and form.cleaned_data["who"] == form.ANONYMOUS,
                    reason=reason,
                    eligibility=form.cleaned_data["eligibility"],
                    by=_user(request),
                    idempotency_key=form.cleaned_data["idempotency_key"],
                )
            except ActionRefused as refused:
                refusal = refused.message
            else:
                messages.success(
                    request,
                    _("Turn-away recorded for %(who)s: %(reason)s.")
                    % {"who": actions.who(visit), "reason": _(reason.label)},
                )
                return redirect("floor:queue", site=site.slug)
        status = _bad_input_status(request)
    if person is not None:
        audit.record(
            action="client.viewed",
            by=_user(request),
            obj=person,
            site=site,
            role=getattr(request, "current_role", "") or "",
            detail={"page": "turnaway"},
        )
    return _render(
        request,
        site,
        "floor/turnaway.html",
        {"form": form, "person": person, "refusal": refusal},
        status=status,
    )
