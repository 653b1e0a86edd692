"""The supervision floor board and the pages around it: the live board, its cheap poll, the
actions a nurse takes from a tile or the queue, the shift handover, the emergency page and a
mobile unit's stop log.

Who may do what: floor staff, managers and administrators act. The front desk may look at the
board, the handover and an emergency page (they need to see who is where and how busy the floor
is) but the board renders no action buttons for them and every POST answers 403. Evaluators get
403 and other sites' staff 404, as everywhere.

Every action form works without JavaScript (a normal POST, then back to the board) and with htmx
(the board partial comes back with a message in a live region). Refusals never redirect: the
person sees the message and the fresh board in the same answer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from saferoom.care.referrals.actions import follow_ups_due
from saferoom.care.supplies.queries import low_stock
from saferoom.core import audit
from saferoom.core.errors import ActionRefused
from saferoom.core.middleware import POLL_HEADER
from saferoom.core.models import User
from saferoom.floor import actions, board, board_cache, forms_board
from saferoom.floor.access import BOARD_ACTORS, BOARD_VIEWERS, access_session, access_visit
from saferoom.floor.models import Escalation, MobileStop, SessionCheck, Visit
from saferoom.floor.queue import waited
from saferoom.incidents import actions as incident_actions
from saferoom.incidents.models import Incident
from saferoom.sites.access import access_space, site_view
from saferoom.sites.models import Site, Space

# The order is the order of preference: someone who is both desk and floor acts as floor.
ACTING_ROLES = frozenset(BOARD_ACTORS)

# The board's groups of tiles, in this order; the after-care area is the list beside them.
GROUPS = (
    (Space.Kind.BOOTH, gettext_lazy("Injection booths")),
    (Space.Kind.INHALATION, gettext_lazy("Inhalation rooms")),
    (Space.Kind.FLEXIBLE, gettext_lazy("Flexible spaces")),
)

# The board's forms post to these (board:<name>).
ACTION_URLS = (
    "assign",
    "next_free",
    "check",
    "end",
    "cleaned",
    "checkout",
    "emergency",
    "ack",
    "shift_lead",
)

# How often the board polls, and the longest wait between retries after a network error.
POLL_MS = 1500
MAX_BACKOFF_MS = 5000


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _can_act(request: HttpRequest) -> bool:
    return getattr(request, "current_role", None) in ACTING_ROLES


def _clock(site: Site, moment: datetime) -> str:
    return site.local(moment).strftime("%H:%M")


# --- Access: the only way a board view reaches a session, escalation or stop ----------------


def access_escalation(site: Site, pk: int) -> Escalation:
    escalation = (
        Escalation.objects.select_related("session__space", "session__visit__client", "site")
        .filter(site=site, pk=pk)
        .first()
    )
    if escalation is None:
        raise Http404
    return escalation


def access_stop(site: Site, pk: int) -> MobileStop:
    stop = MobileStop.objects.select_related("site").filter(site=site, pk=pk).first()
    if stop is None:
        raise Http404
    return stop


# --- What the board shows -----------------------------------------------------------------


def name_of(visit: Visit, site: Site) -> str:
    """How the board names a person: their code; an anonymous visitor by arrival time, so two
    of them in the queue can still be told apart."""
    if visit.client is not None:
        return visit.client.display_code
    return _("Anonymous, arrived %(time)s") % {"time": _clock(site, visit.arrived_at)}


def floor_leads(site: Site) -> list[tuple[int, str]]:
    """Who may be named shift lead: active floor staff and managers of the site (or of its
    whole network), in one query."""
    people = (
        User.objects.filter(
            Q(memberships__site=site)
            | Q(memberships__site__isnull=True, memberships__network_id=site.network_id),
            memberships__role__in=sorted(board.FLOOR_LEAD_ROLES),
            is_active=True,
        )
        .distinct()
        .order_by("display_name", "username")
    )
    return [(person.pk, str(person)) for person in people]


def _fits(visit: Visit, seat: board.SeatView) -> bool:
    return visit.planned_route in board.ROUTES_BY_KIND.get(seat.space.kind, frozenset())


def _countdown(seat: board.SeatView, now: datetime) -> str:
    """The check line's first paint; board.js keeps it current every second."""
    if seat.next_check_due_at is None or seat.overdue_at is None:
        return ""
    if now < seat.next_check_due_at:
        return _("due in %(time)s") % {"time": waited(now, seat.next_check_due_at)}
    if now < seat.overdue_at:
        return _("due now")
    return _("overdue by %(time)s") % {"time": waited(seat.next_check_due_at, now)}


def board_context(request: HttpRequest, site: Site, snap: board.Snapshot) -> dict[str, Any]:
    can_act = _can_act(request)
    now = snap.now
    seats = snap.seats
    free = [seat for seat in seats if seat.state == board.FREE]
    by_session = {seat.session.pk: seat for seat in seats if seat.session is not None}
    groups = []
    for kind, title in GROUPS:
        tiles = [
            {
                "seat": seat,
                "key": f"{seat.space.pk}-{seat.seat}",
                "countdown": _countdown(seat, now),
                "in_space": waited(seat.started_at, now) if seat.started_at else "",
                "since_onset": waited(seat.emergency_at, now) if seat.emergency_at else "",
                "free_in": waited(now, seat.clear_down_until) if seat.clear_down_until else "",
            }
            for space in snap.spaces
            if space.space.kind == kind
            for seat in space.seats
        ]
        if tiles:
            groups.append({"kind": kind, "title": title, "tiles": tiles})
    queue_rows = [
        {
            "visit": visit,
            "name": name_of(visit, site),
            "substances": [item.label for item in visit.planned_substances.all()],
            "route": visit.get_planned_route_display(),
            "waited": waited(visit.arrived_at, now),
            "fits": [seat for seat in free if _fits(visit, seat)],
        }
        for visit in snap.queue
    ]
    aftercare_rows = [
        {
            "visit": visit,
            "name": name_of(visit, site),
            "since": visit.aftercare_started_at or visit.arrived_at,
            "waited": waited(visit.aftercare_started_at or visit.arrived_at, now),
        }
        for visit in snap.aftercare
    ]
    escalation_rows = []
    for escalation in snap.escalations:
        session = escalation.session
        seat = by_session.get(session.pk)
        escalation_rows.append(
            {
                "escalation": escalation,
                "where": seat.label if seat else board.seat_label(session.space, session.seat),
                "name": name_of(session.visit, site),
            }
        )
    return {
        "site": site,
        "snap": snap,
        "version": snap.version,
        "server_now": now,
        "can_act": can_act,
        "is_mobile": site.kind == Site.Kind.MOBILE,
        "groups": groups,
        "has_spaces": bool(groups),
        "free_count": len(free),
        "occupied_count": snap.count(board.OCCUPIED),
        "queue_rows": queue_rows,
        "aftercare_rows": aftercare_rows,
        "escalation_rows": escalation_rows,
        "shift_lead": snap.shift_lead,
        "leads": floor_leads(site) if can_act else [],
        "poll_ms": POLL_MS,
        "max_backoff_ms": MAX_BACKOFF_MS,
        # A callable: the template calls it at each {{ fresh_key }}, so every form on the board
        # gets its own idempotency key, new with every render.
        "fresh_key": uuid.uuid4,
        # Each form's address, reversed once: {% url %} in every tile was a quarter of the time
        # of rendering a changed board.
        "urls": {
            name: reverse(f"board:{name}", kwargs={"site": site.slug}) for name in ACTION_URLS
        },
    }


def _render(
    request: HttpRequest,
    site: Site,
    template: str,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    # site_view has already switched to the site's time zone.
    return render(request, template, context, status=status)


def _board_response(
    request: HttpRequest,
    site: Site,
    *,
    flash: str = "",
    error: str = "",
    stale: bool = False,
    focus: str = "",
    status: int = 200,
) -> HttpResponse:
    """The answer to an action. With htmx: the fresh board and the message (swapped into the
    page's live regions out of band). Without: a refusal shows the whole board with the message;
    a success goes back to the board (so a reload does not post again)."""
    if not request.htmx and not error:  # type: ignore[attr-defined]
        if flash:
            messages.success(request, flash)
        return redirect("board:board", site=site.slug)
    context = board_context(request, site, board.board_snapshot(site, timezone.now()))
    context.update(flash=flash, flash_error=error, stale=stale, focus=focus)
    template = "floor/board_action.htmx.html" if request.htmx else "floor/board.html"  # type: ignore[attr-defined]
    return _render(request, site, template, context, status=status)


def _bad_input(request: HttpRequest, site: Site, message: str) -> HttpResponse:
    status = 422 if request.htmx else 200  # type: ignore[attr-defined]
    return _board_response(request, site, error=message, status=status)


def _act(
    request: HttpRequest,
    site: Site,
    form: forms_board.BoardForm,
    perform: Callable[[], tuple[str, str]],
) -> HttpResponse:
    """Run one board action: ``perform`` reaches its objects through the access helpers (a
    404 for another site's ids), calls the action and returns (message, element to focus)."""
    if not form.is_valid():
        return _bad_input(request, site, form.first_error())
    before = board.board_version(site)
    try:
        flash, focus = perform()
    except ActionRefused as refusal:
        # 422 with htmx, like bad input: a refusal must read as one, not as a success, for
        # the offline outbox (outbox.js) that sends a tap again later.
        saw = form.saw_version()
        return _board_response(
            request,
            site,
            error=refusal.message,
            stale=saw is not None and saw != before,
            status=422 if request.htmx else 200,  # type: ignore[attr-defined]
        )
    return _board_response(request, site, flash=flash, focus=focus)


# --- The board and its poll -----------------------------------------------------------------


def _live(request: HttpRequest, site: Site, version: int) -> SafeString:
    """The board's live part, shared with the other devices asking for the same version
    (saferoom.floor.board_cache)."""
    return board_cache.live_board(
        request,
        site,
        version,
        can_act=_can_act(request),
        context=lambda: board_context(request, site, board.board_snapshot(site, timezone.now())),
    )


@site_view(*BOARD_VIEWERS)
@require_GET
def board_view(request: HttpRequest, site: Site) -> HttpResponse:
    """The live board: every space as a tile, the queue and after-care beside them."""
    context = {
        "site": site,
        "server_now": timezone.now(),
        "can_act": _can_act(request),
        "is_mobile": site.kind == Site.Kind.MOBILE,
        "poll_ms": POLL_MS,
        "max_backoff_ms": MAX_BACKOFF_MS,
        "board_live": _live(request, site, board.board_version(site)),
    }
    return _render(request, site, "floor/board.html", context)


@site_view(*BOARD_VIEWERS)
@require_GET
def poll(request: HttpRequest, site: Site) -> HttpResponse:
    """Every device asks every 1.5 s with the version it shows. Unchanged: an empty 204 after
    one small query (plus the session, the user and the site). Changed: the board partial,
    rendered once a second per version in each server process and shared (board_cache).
    Opened in a browser's address bar (no poll header), it leads to the board itself."""
    if POLL_HEADER not in request.META:
        return redirect("board:board", site=site.slug)
    seen = request.GET.get("v", "")[:20]
    version = board.board_version(site)
    if seen.isdigit() and int(seen) == version:
        return HttpResponse(status=204)
    return HttpResponse(_live(request, site, version))


# --- Actions --------------------------------------------------------------------------------


@site_view(*BOARD_ACTORS)
@require_POST
def assign(request: HttpRequest, site: Site) -> HttpResponse:
    """Put a waiting person in a free seat (the tapped tile, or the queue entry's list)."""
    form = forms_board.AssignForm(request.POST)

    def perform() -> tuple[str, str]:
        data = form.cleaned_data
        visit = access_visit(request, site, data["visit"])
        space = access_space(site, data["space_id"])
        session = board.assign_space(
            visit=visit,
            space=space,
            seat=data["seat_number"],
            by=_user(request),
            idempotency_key=data["idempotency_key"],
        )
        where = board.seat_label(space, session.seat)
        return (
            _("%(who)s is in %(seat)s.") % {"who": name_of(visit, site), "seat": where},
            f"check-{space.pk}-{session.seat}",
        )

    return _act(request, site, form, perform)


@site_view(*BOARD_ACTORS)
@require_POST
def next_free(request: HttpRequest, site: Site) -> HttpResponse:
    """Put a waiting person in the first free seat that fits how they use."""
    form = forms_board.NextFreeForm(request.POST)

    def perform() -> tuple[str, str]:
        visit = access_visit(request, site, form.cleaned_data["visit"])
        session = board.assign_next_free(
            visit=visit, by=_user(request), idempotency_key=form.cleaned_data["idempotency_key"]
        )
        where = board.seat_label(session.space, session.seat)
        return (
            _("%(who)s is in %(seat)s.") % {"who": name_of(visit, site), "seat": where},
            f"check-{session.space_id}-{session.seat}",
        )

    return _act(request, site, form, perform)


@site_view(*BOARD_ACTORS)
@require_POST
def check(request: HttpRequest, site: Site) -> HttpResponse:
    """One tap: the check on someone in a space is done (all right, or what was seen)."""
    form = forms_board.CheckForm(request.POST)

    def perform() -> tuple[str, str]:
        session = access_session(site, form.cleaned_data["session"])
        outcome = form.cleaned_data["outcome"]
        done = board.record_check(
            session=session,
            outcome=outcome,
            by=_user(request),
            tapped_at=form.cleaned_data["at"],
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
        return (
            _("Check recorded for %(who)s in %(seat)s at %(time)s: %(outcome)s.")
            % {
                "who": name_of(session.visit, site),
                "seat": board.seat_label(session.space, session.seat),
                "time": _clock(site, done.at),
                "outcome": SessionCheck.Outcome(outcome).label,
            },
            f"check-{session.space_id}-{session.seat}",
        )

    return _act(request, site, form, perform)


@site_view(*BOARD_ACTORS)
@require_POST
def end(request: HttpRequest, site: Site) -> HttpResponse:
    """The person leaves the space for after-care; the seat goes into clear-down."""
    form = forms_board.EndForm(request.POST)

    def perform() -> tuple[str, str]:
        session = access_session(site, form.cleaned_data["session"])
        ended = board.end_session(
            session=session,
            by=_user(request),
            tapped_at=form.cleaned_data["at"],
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
        where = board.seat_label(session.space, session.seat)
        message = _("%(who)s's session in %(seat)s has ended: they are in after-care.") % {
            "who": name_of(session.visit, site),
            "seat": where,
        }
        if ended.clear_down_until and ended.ended_at and ended.clear_down_until > ended.ended_at:
            message += " " + _("%(seat)s is free at %(time)s.") % {
                "seat": where,
                "time": _clock(site, ended.clear_down_until),
            }
            return message, f"cleaned-{session.space_id}-{session.seat}"
        return message, f"tile-{session.space_id}-{session.seat}"

    return _act(request, site, form, perform)


@site_view(*BOARD_ACTORS)
@require_POST
def cleaned(request: HttpRequest, site: Site) -> HttpResponse:
    """The seat is cleaned (or aired) before its clear-down time is up: free it now."""
    form = forms_board.CleanedForm(request.POST)

    def perform() -> tuple[str, str]:
        space = access_space(site, form.cleaned_data["space_id"])
        seat = form.cleaned_data["seat_number"]
        board.finish_clear_down(
            space=space,
            seat=seat,
            by=_user(request),
            tapped_at=form.cleaned_data["at"],
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
        return (
            _("%(seat)s is free.") % {"seat": board.seat_label(space, seat)},
            f"tile-{space.pk}-{seat}",
        )

    return _act(request, site, form, perform)


@site_view(*BOARD_ACTORS)
@require_POST
def checkout(request: HttpRequest, site: Site) -> HttpResponse:
    """Someone in after-care leaves the site."""
    form = forms_board.VisitForm(request.POST)

    def perform() -> tuple[str, str]:
        visit = access_visit(request, site, form.cleaned_data["visit"])
        actions.check_out(visit=visit, by=_user(request))
        return _("%(who)s is checked out.") % {"who": name_of(visit, site)}, "aftercare-heading"

    return _act(request, site, form, perform)


@site_view(*BOARD_ACTORS)
@require_POST
def acknowledge(request: HttpRequest, site: Site) -> HttpResponse:
    """The shift lead (or anyone on the floor) has seen a missed check."""
    form = forms_board.EscalationForm(request.POST)

    def perform() -> tuple[str, str]:
        escalation = access_escalation(site, form.cleaned_data["escalation"])
        board.acknowledge_escalation(
            escalation=escalation,
            by=_user(request),
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
        session = escalation.session
        return (
            _("Acknowledged: the missed check for %(who)s in %(seat)s.")
            % {
                "who": name_of(session.visit, site),
                "seat": board.seat_label(session.space, session.seat),
            },
            f"check-{session.space_id}-{session.seat}",
        )

    return _act(request, site, form, perform)


@site_view(*BOARD_ACTORS)
@require_POST
def shift_lead(request: HttpRequest, site: Site) -> HttpResponse:
    """Name who missed checks go to (or nobody: then all floor staff)."""
    people = floor_leads(site)
    form = forms_board.ShiftLeadForm(request.POST, people=people)

    def perform() -> tuple[str, str]:
        chosen = form.chosen_id()
        lead = User.objects.get(pk=chosen) if chosen is not None else None
        board.set_shift_lead(
            site=site,
            user=lead,
            by=_user(request),
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
        if lead is None:
            return _("No shift lead named: missed checks go to all floor staff."), "shift-lead"
        return _("%(who)s is shift lead.") % {"who": str(lead)}, "shift-lead"

    return _act(request, site, form, perform)


# --- Emergencies ----------------------------------------------------------------------------


@site_view(*BOARD_ACTORS)
@require_POST
def emergency(request: HttpRequest, site: Site) -> HttpResponse:
    """Start an emergency on an occupied seat, then go to its emergency page. The board's
    two-step button sends ``confirm``; without it (no JavaScript) the server asks once more."""
    form = forms_board.EmergencyForm(request.POST)
    if not form.is_valid():
        return _bad_input(request, site, form.first_error())
    session = access_session(site, form.cleaned_data["session"])
    if not form.cleaned_data["confirm"]:
        context = {
            "site": site,
            "session": session,
            "name": name_of(session.visit, site),
            "where": board.seat_label(session.space, session.seat),
            "version": form.cleaned_data.get("board_version") or "",
            # The confirmation carries the same key: a double tap on it starts one emergency.
            "idempotency_key": form.cleaned_data.get("idempotency_key") or uuid.uuid4(),
        }
        return _render(request, site, "floor/board_emergency_confirm.html", context)
    try:
        # The incident record opens with the emergency, in one transaction (issue 4): the
        # board and the record never disagree about whether there is an emergency.
        with transaction.atomic():
            board.start_emergency(
                session=session,
                by=_user(request),
                idempotency_key=form.cleaned_data.get("idempotency_key"),
            )
            incident = incident_actions.start_from_session(session=session, by=_user(request))
    except ActionRefused as refusal:
        if refusal.code != "already_emergency":
            return _board_response(request, site, error=refusal.message)
        # A colleague pressed first: this nurse belongs on the same emergency screen.
        messages.info(request, refusal.message)
        incident = incident_actions.start_from_session(session=session, by=_user(request))
    page = reverse("incidents:screen", kwargs={"site": site.slug, "pk": incident.pk})
    if request.htmx:  # type: ignore[attr-defined]
        # The whole page goes, not a swap of the board: the emergency page is its own page.
        response = HttpResponse()
        response["HX-Redirect"] = page
        return response
    return redirect(page)


@site_view(*BOARD_VIEWERS)
@require_GET
def emergency_view(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """The large emergency page for one session: who, where, since when, what they used.
    Once the session's incident is open, its emergency screen is the page to be on."""
    session = access_session(site, pk)
    incident = Incident.objects.filter(site=site, session=session).values_list("pk").first()
    if incident is not None:
        return redirect("incidents:screen", site=site.slug, pk=incident[0])
    now = timezone.now()
    if session.visit.client is not None:
        audit.record(
            action="client.viewed",
            by=_user(request),
            obj=session.visit.client,
            site=site,
            role=getattr(request, "current_role", "") or "",
            detail={"page": "emergency", "session": session.pk},
        )
    context = {
        "site": site,
        "session": session,
        "name": name_of(session.visit, site),
        "where": board.seat_label(session.space, session.seat),
        "substances": [item.label for item in session.substances.all()],
        "server_now": now,
        "can_act": _can_act(request),
        "version": board.board_version(site),
        "elapsed": waited(session.emergency_at, now) if session.emergency_at else "",
    }
    return _render(request, site, "floor/emergency.html", context)


# --- Handover -------------------------------------------------------------------------------


@site_view(*BOARD_VIEWERS)
@require_GET
def handover(request: HttpRequest, site: Site) -> HttpResponse:
    """What the next shift needs to know, on one printable page."""
    now = timezone.now()
    snap = board.board_snapshot(site, now)
    context = board_context(request, site, snap)
    seats = snap.seats
    context.update(
        occupied=[seat for seat in seats if seat.state == board.OCCUPIED],
        clearing=[seat for seat in seats if seat.state == board.CLEAR_DOWN],
        out_of_service=[
            space.space
            for space in snap.spaces
            if space.space.out_of_service and space.space.kind != Space.Kind.AFTERCARE
        ],
        emergencies=snap.emergencies,
        overdue=snap.overdue,
        # The rest of the site's day, from the areas that own it.
        referral_follow_ups=follow_ups_due(site, now),
        low_stock_levels=low_stock(site),
    )
    return _render(request, site, "floor/handover.html", context)


# --- Mobile units: the stop log --------------------------------------------------------------


STOPS_SHOWN = 50


def _stops_page(
    request: HttpRequest,
    site: Site,
    form: forms_board.StopOpenForm | None = None,
    *,
    refusal: str = "",
    status: int = 200,
) -> HttpResponse:
    stops = list(
        MobileStop.objects.filter(site=site)
        .select_related("opened_by", "closed_by")
        .annotate(visit_count=Count("visits"))
        .order_by("-opened_at", "-id")[:STOPS_SHOWN]
    )
    open_stop = next((stop for stop in stops if stop.closed_at is None), None)
    context = {
        "site": site,
        "is_mobile": site.kind == Site.Kind.MOBILE,
        "stops": stops,
        "open_stop": open_stop,
        "form": form or forms_board.StopOpenForm(),
        "refusal": refusal,
        "server_now": timezone.now(),
    }
    return _render(request, site, "floor/stops.html", context, status=status)


@site_view(*BOARD_ACTORS)
@require_http_methods(["GET", "POST"])
def stops(request: HttpRequest, site: Site) -> HttpResponse:
    """Where the unit stood and when: open a stop where it stands, close it when it leaves."""
    if request.method != "POST":
        return _stops_page(request, site)
    form = forms_board.StopOpenForm(request.POST)
    if not form.is_valid():
        return _stops_page(request, site, form)
    try:
        stop = board.open_stop(
            site=site,
            place=form.cleaned_data["place"],
            note=form.cleaned_data["note"],
            by=_user(request),
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
    except ActionRefused as refusal:
        return _stops_page(request, site, form, refusal=refusal.message)
    messages.success(
        request,
        _("The unit is open at %(place)s since %(time)s. The desk can check people in.")
        % {"place": stop.place, "time": _clock(site, stop.opened_at)},
    )
    return redirect("board:stops", site=site.slug)


@site_view(*BOARD_ACTORS)
@require_POST
def stop_close(request: HttpRequest, site: Site) -> HttpResponse:
    form = forms_board.StopCloseForm(request.POST)
    if not form.is_valid():
        return _stops_page(request, site, refusal=form.first_error())
    stop = access_stop(site, form.cleaned_data["stop"])
    try:
        closed = board.close_stop(stop=stop, by=_user(request))
    except ActionRefused as refusal:
        return _stops_page(request, site, refusal=refusal.message)
    messages.success(
        request,
        _("The stop at %(place)s is closed (%(time)s).")
        % {"place": closed.place, "time": _clock(site, closed.closed_at or timezone.now())},
    )
    return redirect("board:stops", site=site.slug)
