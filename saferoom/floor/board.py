"""The supervision floor's writes and its one read: assigning people to seats, checks, ending
sessions, clear-down, emergencies, escalations, the shift lead and a mobile unit's stops, and
the board snapshot every device renders.

Seat states are derived, never stored: a seat is occupied while it has an open session, in
clear-down while an ended session's ``clear_down_until`` is still ahead, and out of service with
its space. Every write runs in one transaction with its audit event and bumps the site's board
version in that same transaction, so a poll that finds the version unchanged knows that nothing
on the board has changed."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Max, OuterRef
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from saferoom.core import audit, tap_time
from saferoom.core.errors import ActionRefused
from saferoom.core.idempotency import parse_key, remember, replayed
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.floor.models import (
    BoardState,
    ConsumptionSession,
    Escalation,
    MobileStop,
    SessionCheck,
    Visit,
)
from saferoom.floor.queue import waiting_visits
from saferoom.sites.access import roles_at
from saferoom.sites.models import Route, Site, Space

# Seat states.
FREE = "free"
OCCUPIED = "occupied"
CLEAR_DOWN = "clear_down"
OUT_OF_SERVICE = "out_of_service"

# Check statuses of a seat: "free" when nobody is there.
CHECK_FREE = "free"
CHECK_OK = "ok"
CHECK_DUE = "due"
CHECK_OVERDUE = "overdue"

# Which routes each kind of space takes (domain.md: booths are for injecting, and also take
# snorting and oral use; inhalation rooms are ventilated for smoking; flexible spaces take any).
ROUTES_BY_KIND: dict[str, frozenset[str]] = {
    Space.Kind.BOOTH: frozenset({Route.INJECT, Route.SNORT, Route.ORAL}),
    Space.Kind.INHALATION: frozenset({Route.SMOKE}),
    Space.Kind.FLEXIBLE: frozenset(Route.values),
    Space.Kind.AFTERCARE: frozenset(),
}
# Where "next free" looks for each route, best fit first.
KINDS_FOR_ROUTE: dict[str, tuple[str, ...]] = {
    Route.INJECT: (Space.Kind.BOOTH, Space.Kind.FLEXIBLE),
    Route.SNORT: (Space.Kind.BOOTH, Space.Kind.FLEXIBLE),
    Route.ORAL: (Space.Kind.BOOTH, Space.Kind.FLEXIBLE),
    Route.SMOKE: (Space.Kind.INHALATION, Space.Kind.FLEXIBLE),
}
FLOOR_LEAD_ROLES = frozenset({Role.FLOOR, Role.MANAGER})


@dataclass(frozen=True)
class SeatView:
    """One seat as the board shows it. Times are the server's; the client counts from them."""

    space: Space
    seat: int
    label: str
    state: str
    session: ConsumptionSession | None = None
    visit: Visit | None = None
    client_code: str = ""
    substances: list[str] = field(default_factory=list)
    route: str = ""
    route_label: str = ""
    started_at: datetime | None = None
    last_check_at: datetime | None = None
    next_check_due_at: datetime | None = None
    # When a due check turns red (next_check_due_at + the site's check_overdue_minutes).
    overdue_at: datetime | None = None
    check_status: str = CHECK_FREE
    clear_down_until: datetime | None = None
    emergency: bool = False
    emergency_at: datetime | None = None
    escalated: bool = False


@dataclass(frozen=True)
class SpaceView:
    """A space and its seats in board order. After-care areas have no seats: the people there
    are in ``Snapshot.aftercare``."""

    space: Space
    seats: list[SeatView]

    @property
    def assignable(self) -> bool:
        return self.space.kind != Space.Kind.AFTERCARE


@dataclass(frozen=True)
class Snapshot:
    """Everything the board shows at ``now``, read in a fixed number of queries.

    ``version`` was read first: if anything changed while the rest was read, the snapshot is
    newer than its version, never older, so the next poll simply fetches it again."""

    site: Site
    now: datetime
    version: int
    spaces: list[SpaceView]
    queue: list[Visit]
    aftercare: list[Visit]
    escalations: list[Escalation]
    shift_lead: User | None
    stop: MobileStop | None

    @property
    def seats(self) -> list[SeatView]:
        return [seat for space in self.spaces for seat in space.seats]

    @property
    def emergencies(self) -> list[SeatView]:
        return [seat for seat in self.seats if seat.emergency]

    @property
    def overdue(self) -> list[SeatView]:
        return [seat for seat in self.seats if seat.check_status == CHECK_OVERDUE]

    def count(self, state: str) -> int:
        return sum(1 for seat in self.seats if seat.state == state)


# Words ----------------------------------------------------------------------------------------


def who(visit: Visit) -> str:
    """The person of a visit as a message names them mid-sentence: their code, nothing else."""
    if visit.client is not None:
        return visit.client.display_code
    return _("an anonymous visitor") if visit.anonymous else _("an unregistered visitor")


def seat_label(space: Space, seat: int) -> str:
    """ "Booth 3", or "Smoking room, seat 2" where a space has several seats."""
    if space.seats > 1:
        return _("%(space)s, seat %(seat)d") % {"space": space.name, "seat": seat}
    return space.name


def _clock(site: Site, moment: datetime) -> str:
    return site.local(moment).strftime("%H:%M")


def _kind_words(kind: str) -> str:
    words: dict[str, str] = {
        "booth": _("an injection booth"),
        "inhalation": _("an inhalation room"),
        "flexible": _("a flexible space"),
        "aftercare": _("the after-care area"),
    }
    return words.get(kind, kind)


def _route_words(route: str) -> str:
    words: dict[str, str] = {
        "inject": _("injecting"),
        "smoke": _("smoking"),
        "snort": _("snorting"),
        "oral": _("oral use"),
    }
    return words.get(route, route)


def _fits(route: str) -> str:
    if route == Route.SMOKE:
        return _("an inhalation room or a flexible space")
    return _("an injection booth or a flexible space")


# Idempotency ----------------------------------------------------------------------------------
#
# Every board form carries a key made when the board was rendered: the same form sent twice (a
# double tap without JavaScript, a retry after a blip) does the thing once, and the second answer
# is the first one's. Internal callers (the simulation, the worker, tests) pass no key.


def _key(value: Any) -> uuid.UUID | None:
    return None if value is None else parse_key(value)


def _replayed(
    key: uuid.UUID | None, *, by: User, action: str, details: dict[str, Any]
) -> int | None:
    if key is None:
        return None
    return replayed(key=key, by=by, action=action, details=details)


def _remember(
    key: uuid.UUID | None, *, by: User, action: str, details: dict[str, Any], obj: Any
) -> None:
    if key is not None:
        remember(key=key, by=by, action=action, details=details, obj=obj)


# Version --------------------------------------------------------------------------------------


def bump_board(site: Site) -> int:
    """Advance the site's board version and return it. Call inside the transaction of the write
    the board shows, as its last statement: the row lock then lasts only until the commit."""
    updated = BoardState.objects.filter(site_id=site.pk).update(version=F("version") + 1)
    if not updated:
        try:
            with transaction.atomic():
                BoardState.objects.create(site_id=site.pk, version=1)
        except IntegrityError:
            # Another transaction created the row a moment ago.
            BoardState.objects.filter(site_id=site.pk).update(version=F("version") + 1)
    return int(BoardState.objects.filter(site_id=site.pk).values_list("version", flat=True).get())


def board_version(site: Site) -> int:
    """The site's board version in one query; 0 before anything has happened."""
    version = BoardState.objects.filter(site_id=site.pk).values_list("version", flat=True).first()
    return int(version or 0)


# Derived states -------------------------------------------------------------------------------


def seat_state(
    space: Space,
    seat: int,
    *,
    open_session: ConsumptionSession | None,
    last_clear_down_until: datetime | None,
    now: datetime,
) -> str:
    """free, occupied, clear_down or out_of_service. Someone in a space that has just been
    put out of service is still there, so occupied wins."""
    if open_session is not None:
        return OCCUPIED
    if space.out_of_service:
        return OUT_OF_SERVICE
    if last_clear_down_until is not None and last_clear_down_until > now:
        return CLEAR_DOWN
    return FREE


def overdue_at(session: ConsumptionSession, *, site: Site) -> datetime:
    """When the session's due check turns red."""
    return session.next_check_due_at + timedelta(minutes=site.check_overdue_minutes)


def check_status(session: ConsumptionSession | None, *, site: Site, now: datetime) -> str:
    """ok before the check is due, due from ``next_check_due_at``, overdue from
    ``next_check_due_at + site.check_overdue_minutes`` (the board's JavaScript agrees)."""
    if session is None or session.ended_at is not None:
        return CHECK_FREE
    if now >= overdue_at(session, site=site):
        return CHECK_OVERDUE
    if now >= session.next_check_due_at:
        return CHECK_DUE
    return CHECK_OK


def _clearing(site: Site, now: datetime) -> dict[tuple[int, int], datetime]:
    """(space id, seat) → when its clear-down ends, for every seat still being cleared."""
    rows = (
        ConsumptionSession.objects.filter(
            site=site, ended_at__isnull=False, clear_down_until__gt=now
        )
        .values("space_id", "seat")
        .annotate(until=Max("clear_down_until"))
        .order_by()
    )
    return {(row["space_id"], row["seat"]): row["until"] for row in rows}


def _seat_clear_down(space: Space, seat: int, now: datetime) -> datetime | None:
    until: datetime | None = ConsumptionSession.objects.filter(
        space=space, seat=seat, ended_at__isnull=False, clear_down_until__gt=now
    ).aggregate(until=Max("clear_down_until"))["until"]
    return until


# The snapshot ---------------------------------------------------------------------------------


def _seat_view(
    space: Space,
    seat: int,
    *,
    site: Site,
    session: ConsumptionSession | None,
    clear_down_until: datetime | None,
    escalated: set[int],
    now: datetime,
) -> SeatView:
    state = seat_state(
        space, seat, open_session=session, last_clear_down_until=clear_down_until, now=now
    )
    label = seat_label(space, seat)
    if session is None:
        return SeatView(
            space=space,
            seat=seat,
            label=label,
            state=state,
            clear_down_until=clear_down_until if state == CLEAR_DOWN else None,
        )
    visit = session.visit
    return SeatView(
        space=space,
        seat=seat,
        label=label,
        state=state,
        session=session,
        visit=visit,
        client_code=visit.client.display_code if visit.client is not None else "",
        substances=[item.label for item in session.substances.all()],
        route=session.route,
        route_label=str(Route(session.route).label) if session.route in Route.values else "",
        started_at=session.started_at,
        last_check_at=session.last_check_at,
        next_check_due_at=session.next_check_due_at,
        overdue_at=overdue_at(session, site=site),
        check_status=check_status(session, site=site, now=now),
        emergency=session.emergency_at is not None,
        emergency_at=session.emergency_at,
        escalated=session.pk in escalated,
    )


def board_snapshot(site: Site, now: datetime) -> Snapshot:
    """The whole board at ``now``, in the same number of queries for 3 spaces or 50."""
    state = BoardState.objects.select_related("shift_lead").filter(site_id=site.pk).first()
    spaces = list(Space.objects.filter(site=site).order_by("sort_order", "name", "id"))
    sessions = list(
        ConsumptionSession.objects.filter(site=site, ended_at__isnull=True)
        .select_related("visit__client")
        .prefetch_related("substances")
    )
    clearing = _clearing(site, now)
    queue = list(waiting_visits(site))
    aftercare = list(
        Visit.objects.filter(site=site, state=Visit.State.AFTERCARE)
        .select_related("client")
        .order_by("aftercare_started_at", "arrived_at", "id")
    )
    # Escalations of sessions that have ended (closing time) are moot: the person has gone.
    escalations = list(
        Escalation.objects.filter(
            site=site, acknowledged_at__isnull=True, session__ended_at__isnull=True
        )
        .select_related("session__space", "session__visit__client", "to_user")
        .order_by("escalated_at", "id")
    )
    stop = None
    if site.kind == Site.Kind.MOBILE:
        stop = MobileStop.objects.filter(site=site, closed_at__isnull=True).first()

    by_seat = {(s.space_id, s.seat): s for s in sessions}
    escalated = {e.session_id for e in escalations}
    views = []
    for space in spaces:
        seats: list[SeatView] = []
        if space.kind != Space.Kind.AFTERCARE:
            seats = [
                _seat_view(
                    space,
                    seat,
                    site=site,
                    session=by_seat.get((space.pk, seat)),
                    clear_down_until=clearing.get((space.pk, seat)),
                    escalated=escalated,
                    now=now,
                )
                for seat in range(1, space.seats + 1)
            ]
        views.append(SpaceView(space=space, seats=seats))
    return Snapshot(
        site=site,
        now=now,
        version=state.version if state is not None else 0,
        spaces=views,
        queue=queue,
        aftercare=aftercare,
        escalations=escalations,
        shift_lead=state.shift_lead if state is not None else None,
        stop=stop,
    )


# Assignment -----------------------------------------------------------------------------------


def _not_waiting(visit: Visit) -> ActionRefused:
    if visit.state == Visit.State.IN_SPACE:
        session = (
            ConsumptionSession.objects.select_related("space")
            .filter(visit=visit, ended_at__isnull=True)
            .first()
        )
        where = seat_label(session.space, session.seat) if session else _("a space")
        message = _("%(who)s is already in %(where)s.") % {
            "who": capfirst(who(visit)),
            "where": where,
        }
    elif visit.state == Visit.State.AFTERCARE:
        message = _("%(who)s is in after-care now.") % {"who": capfirst(who(visit))}
    else:
        message = _("%(who)s is no longer here: their visit ended at %(time)s.") % {
            "who": capfirst(who(visit)),
            "time": _clock(visit.site, visit.ended_at or visit.arrived_at),
        }
    return ActionRefused(message + " " + _("The board has been refreshed."), code="not_waiting")


def _taken(space: Space, seat: int, occupant: ConsumptionSession | None) -> ActionRefused:
    if occupant is None:
        message = _("%(seat)s was just taken.") % {"seat": seat_label(space, seat)}
    else:
        message = _("%(seat)s was just taken by %(who)s.") % {
            "seat": seat_label(space, seat),
            "who": who(occupant.visit),
        }
    return ActionRefused(message + " " + _("The board has been refreshed."), code="seat_taken")


def _occupant(space: Space, seat: int) -> ConsumptionSession | None:
    return (
        ConsumptionSession.objects.select_related("visit__client")
        .filter(space=space, seat=seat, ended_at__isnull=True)
        .first()
    )


def _check_seat(space: Space, seat: object) -> int:
    if isinstance(seat, bool) or not isinstance(seat, int) or not 1 <= seat <= space.seats:
        if space.seats == 1:
            message = _("%(space)s has one seat.") % {"space": space.name}
        else:
            message = _("%(space)s has seats 1 to %(n)d. Choose one of those.") % {
                "space": space.name,
                "n": space.seats,
            }
        raise ActionRefused(message, code="bad_seat")
    return seat


def _clear_down_refusal(space: Space, seat: int, until: datetime) -> ActionRefused:
    if space.kind == Space.Kind.INHALATION:
        message = _("%(seat)s is being ventilated until %(time)s.")
    else:
        message = _("%(seat)s is being cleaned until %(time)s.")
    message = message % {"seat": seat_label(space, seat), "time": _clock(space.site, until)}
    return ActionRefused(
        message + " " + _("Choose another seat, or mark it cleaned if it is ready."),
        code="clear_down",
    )


def assign_space(
    *,
    visit: Visit,
    space: Space,
    seat: int = 1,
    by: User,
    at: datetime | None = None,
    idempotency_key: Any = None,
) -> ConsumptionSession:
    """Start a waiting visit's session in one seat. Exactly one of two devices assigning the
    same seat at once succeeds: SQLite serialises writers (IMMEDIATE transactions); PostgreSQL
    serialises them on the space's row lock, and should anything slip past the checks, the
    partial unique index on open sessions per seat refuses the second insert in the same words.
    The same form sent twice returns the session the first one started."""
    at = at or timezone.now()
    key = _key(idempotency_key)
    details = {"visit": visit.pk, "space": space.pk, "seat": seat}
    with transaction.atomic():
        existing = _replayed(key, by=by, action="session.assign", details=details)
        if existing is not None:
            return ConsumptionSession.objects.get(pk=existing)
        current = Visit.objects.select_related("client", "site").get(pk=visit.pk)
        place = _locked_space(space.pk)
        site = place.site
        if current.site_id != place.site_id:
            raise ActionRefused(
                _("%(space)s is at another site. Choose a space on this board.")
                % {"space": place.name},
                code="wrong_site",
            )
        if current.state != Visit.State.WAITING:
            raise _not_waiting(current)
        if place.kind == Space.Kind.AFTERCARE:
            raise ActionRefused(
                _(
                    "%(space)s is the after-care area: people go there when their session ends. "
                    "Choose a booth or a room."
                )
                % {"space": place.name},
                code="not_assignable",
            )
        if place.out_of_service:
            reason = f" ({place.out_of_service_reason})" if place.out_of_service_reason else ""
            raise ActionRefused(
                _("%(space)s is out of service%(reason)s. Choose another space.")
                % {"space": place.name, "reason": reason},
                code="out_of_service",
            )
        route = current.planned_route
        if route not in ROUTES_BY_KIND.get(place.kind, frozenset()):
            raise ActionRefused(
                _("%(space)s is %(kind)s: it is not for %(route)s. Choose %(fits)s for %(who)s.")
                % {
                    "space": place.name,
                    "kind": _kind_words(place.kind),
                    "route": _route_words(route) if route else _("this visit"),
                    "fits": _fits(route),
                    "who": who(current),
                },
                code="wrong_route",
            )
        seat = _check_seat(place, seat)
        occupant = _occupant(place, seat)
        if occupant is not None:
            raise _taken(place, seat, occupant)
        until = _seat_clear_down(place, seat, at)
        if until is not None:
            raise _clear_down_refusal(place, seat, until)
        if at < current.arrived_at:
            raise ActionRefused(_("A session cannot start before the visit."), code="bad_time")

        # A conditional UPDATE: if a colleague assigned this person a moment ago (PostgreSQL,
        # where both can get this far), nothing changes here and they are told where.
        moved = Visit.objects.filter(pk=current.pk, state=Visit.State.WAITING).update(
            state=Visit.State.IN_SPACE, changed_at=timezone.now()
        )
        if not moved:
            current.refresh_from_db()
            raise _not_waiting(current)
        interval = site.check_interval_for(place.kind)
        try:
            with transaction.atomic():
                session = ConsumptionSession.objects.create(
                    site=site,
                    visit=current,
                    space=place,
                    seat=seat,
                    route=route,
                    started_at=at,
                    started_by=by,
                    check_interval_minutes=interval,
                    next_check_due_at=at + timedelta(minutes=interval),
                )
        except IntegrityError:
            # The one-open-session-per-seat index: another device took the seat a moment ago.
            raise _taken(place, seat, _occupant(place, seat)) from None
        session.substances.set(current.planned_substances.all())
        audit.record(
            action="session.started",
            by=by,
            obj=session,
            site=site,
            at=at,
            detail={"space": place.pk, "seat": seat, "route": route, "visit": current.pk},
        )
        _remember(key, by=by, action="session.assign", details=details, obj=session)
        bump_board(site)
    return session


def assign_next_free(
    *,
    visit: Visit,
    by: User,
    at: datetime | None = None,
    prefer_accessible: bool = False,
    idempotency_key: Any = None,
) -> ConsumptionSession:
    """Put a waiting visit in the first free seat that fits how they use (see
    :func:`next_free_seat`). A seat taken by another device between looking and assigning is
    skipped: nothing was written, so looking again is safe. The same form sent twice returns
    the session the first one started."""
    at = at or timezone.now()
    key = _key(idempotency_key)
    details = {"visit": visit.pk, "prefer_accessible": prefer_accessible}
    with transaction.atomic():
        existing = _replayed(key, by=by, action="session.assign_next_free", details=details)
        if existing is not None:
            return ConsumptionSession.objects.get(pk=existing)
        for _attempt in range(3):
            found = next_free_seat(visit=visit, at=at, prefer_accessible=prefer_accessible)
            if found is None:
                current = Visit.objects.select_related("client", "site").get(pk=visit.pk)
                if current.state != Visit.State.WAITING:
                    raise _not_waiting(current)
                raise ActionRefused(
                    _(
                        "No free space fits %(who)s (%(route)s) right now. They stay in the "
                        "queue: assign them when a space is free."
                    )
                    % {
                        "who": who(current),
                        "route": current.get_planned_route_display() or _("no route given"),
                    },
                    code="none_free",
                )
            space, seat = found
            try:
                # A savepoint: a refused attempt leaves nothing behind before the next look.
                session = assign_space(visit=visit, space=space, seat=seat, by=by, at=at)
            except ActionRefused as refusal:
                if refusal.code in ("seat_taken", "clear_down"):
                    continue
                raise
            _remember(key, by=by, action="session.assign_next_free", details=details, obj=session)
            return session
        raise ActionRefused(
            _("Spaces were taken while you tapped. The board has been refreshed: try again."),
            code="seat_taken",
        )


def next_free_seat(
    *, visit: Visit, at: datetime | None = None, prefer_accessible: bool = False
) -> tuple[Space, int] | None:
    """The first free seat that fits the visit's route, in board order: the best kind first
    (a booth before a flexible space for injecting), accessible spaces kept for last unless
    ``prefer_accessible`` (then they come first). None when nothing fits."""
    at = at or timezone.now()
    kinds = KINDS_FOR_ROUTE.get(visit.planned_route, ())
    if not kinds:
        return None
    spaces = list(
        Space.objects.filter(site_id=visit.site_id, kind__in=kinds, out_of_service=False).order_by(
            "sort_order", "name", "id"
        )
    )
    if not spaces:
        return None
    site = Site.objects.get(pk=visit.site_id)
    taken = set(
        ConsumptionSession.objects.filter(site=site, ended_at__isnull=True).values_list(
            "space_id", "seat"
        )
    )
    clearing = _clearing(site, at)
    candidates = sorted(
        (
            (space.accessible != prefer_accessible, kinds.index(space.kind), index)
            for index, space in enumerate(spaces)
        ),
    )
    for _accessibility, _kind, index in candidates:
        space = spaces[index]
        for seat in range(1, space.seats + 1):
            if (space.pk, seat) not in taken and (space.pk, seat) not in clearing:
                return space, seat
    return None


# Checks ---------------------------------------------------------------------------------------


def _locked_space(pk: int) -> Space:
    """The space, re-read with its row locked (PostgreSQL; SQLite's IMMEDIATE transactions
    already serialise writers): assigning, ending and cleaning one space take turns, so each
    sees the seat as the one before left it."""
    return Space.objects.select_for_update(of=("self",)).select_related("site").get(pk=pk)


def _fresh_session(session: ConsumptionSession) -> ConsumptionSession:
    """The session re-read inside the action's transaction. The visit and its client are
    loaded only when a refusal names them: a check, the commonest write, does not need them."""
    return ConsumptionSession.objects.select_related("space", "site").get(pk=session.pk)


def _ended_refusal(session: ConsumptionSession, *, code: str) -> ActionRefused:
    when = _clock(session.site, session.ended_at or session.started_at)
    if code == "already_ended":
        message = _("%(who)s's session already ended at %(time)s.")
    else:
        message = _("%(who)s's session ended at %(time)s: there is nobody in %(seat)s to check.")
    return ActionRefused(
        message
        % {
            "who": capfirst(who(session.visit)),
            "time": when,
            "seat": seat_label(session.space, session.seat),
        }
        + " "
        + _("The board has been refreshed."),
        code=code,
    )


def _answer_escalations(session: ConsumptionSession, *, by: User, at: datetime) -> int:
    """Someone saw the person at ``at``: their open escalations are answered. One raised after
    that moment (the tap waited on a tablet without a network) was answered when the tap
    arrived, not before it existed: its record stays as it was raised."""
    open_ones = Escalation.objects.filter(session=session, acknowledged_at__isnull=True)
    answered = open_ones.filter(escalated_at__lte=at).update(acknowledged_at=at, acknowledged_by=by)
    return answered + open_ones.filter(escalated_at__gt=at).update(
        acknowledged_at=max(at, timezone.now()), acknowledged_by=by
    )


def record_check(
    *,
    session: ConsumptionSession,
    by: User,
    outcome: str = "ok",
    at: datetime | None = None,
    tapped_at: datetime | None = None,
    idempotency_key: Any = None,
) -> SessionCheck:
    """One check on someone in a space: who, when, what they saw. The next check falls due one
    interval later, and any escalation of this session is acknowledged by the check. The same
    form sent twice records one check and returns it.

    ``tapped_at`` is the time of the tap as a device says (saferoom.core.tap_time): a check
    kept on a tablet without a network is recorded when it was done, and counts as on time if
    it was. A check that arrives after a later one (or after the session ended, but done
    before) is recorded without moving the schedule back."""
    key = _key(idempotency_key)
    details = {"session": session.pk, "outcome": outcome}
    with transaction.atomic():
        existing = _replayed(key, by=by, action="session.check", details=details)
        if existing is not None:
            return SessionCheck.objects.get(pk=existing)
        current = _fresh_session(session)
        if tapped_at is not None:
            at = tap_time.checked(
                tapped_at, site=current.site, began=current.started_at, what=_("the session")
            )
        at = at or timezone.now()
        if current.ended_at is not None and at > current.ended_at:
            raise _ended_refusal(current, code="session_ended")
        if outcome not in SessionCheck.Outcome.values:
            raise ActionRefused(
                _("Choose what you saw: all right, needed rousing, or concern."),
                code="bad_outcome",
            )
        if at < current.started_at:
            raise ActionRefused(_("A check cannot come before the session."), code="bad_time")
        latest = current.ended_at is None and (
            current.last_check_at is None or at >= current.last_check_at
        )
        if latest:
            due = current.next_check_due_at
        else:
            # Late news: the check that was due at ``at`` counted from the one before it.
            earlier = SessionCheck.objects.filter(session=current, at__lte=at)
            before = earlier.aggregate(last=Max("at"))["last"] or current.started_at
            due = before + timedelta(minutes=current.check_interval_minutes)
        was_overdue = at >= due + timedelta(minutes=current.site.check_overdue_minutes)
        acknowledged = 0
        if latest:
            updated = ConsumptionSession.objects.filter(
                pk=current.pk, ended_at__isnull=True
            ).update(
                last_check_at=at,
                next_check_due_at=at + timedelta(minutes=current.check_interval_minutes),
            )
            if not updated:
                raise _ended_refusal(_fresh_session(current), code="session_ended")
            acknowledged = _answer_escalations(current, by=by, at=at)
        check = SessionCheck.objects.create(
            session=current, at=at, by=by, outcome=outcome, was_overdue=was_overdue
        )
        audit.record(
            action="session.checked",
            by=by,
            obj=current,
            site=current.site,
            at=at,
            detail={
                "outcome": outcome,
                "was_overdue": was_overdue,
                "escalations_acknowledged": acknowledged,
                **tap_time.received(tapped_at),
            },
        )
        _remember(key, by=by, action="session.check", details=details, obj=check)
        bump_board(current.site)
    return check


# Ending ---------------------------------------------------------------------------------------


def _finish(session: ConsumptionSession, *, by: User | None, at: datetime, end_reason: str) -> bool:
    """End one open session (conditional UPDATE) and start its seat's clear-down. False when it
    had already ended. Does not touch the visit, audit, or bump: the callers do."""
    ended_at = max(at, session.started_at)
    updated = ConsumptionSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(
        ended_at=ended_at,
        ended_by=by,
        end_reason=end_reason,
        clear_down_until=ended_at + timedelta(minutes=session.space.clear_down_minutes),
    )
    if updated and by is not None:
        # Whoever ends the session has seen the person: a pending escalation is answered.
        _answer_escalations(session, by=by, at=ended_at)
    return bool(updated)


def _audit_ended(
    session: ConsumptionSession,
    *,
    by: User | None,
    at: datetime,
    to: str,
    tapped_at: datetime | None = None,
) -> None:
    session.refresh_from_db(fields=["ended_at", "end_reason", "clear_down_until"])
    audit.record(
        action="session.ended",
        by=by,
        obj=session,
        site=session.site,
        at=at,
        detail={
            "end_reason": session.end_reason,
            "to": to,
            "clear_down_until": session.clear_down_until.isoformat()
            if session.clear_down_until
            else None,
            **tap_time.received(tapped_at),
        },
    )


def end_session(
    *,
    session: ConsumptionSession,
    by: User,
    at: datetime | None = None,
    tapped_at: datetime | None = None,
    to_aftercare: bool = True,
    idempotency_key: Any = None,
) -> ConsumptionSession:
    """The person leaves the space: the seat goes into clear-down, and the visit moves to
    after-care (or, with ``to_aftercare=False``, the person has left the site). The same form
    sent twice ends the session once and answers both with it. ``tapped_at``: the time of the
    tap as a device says (saferoom.core.tap_time)."""
    key = _key(idempotency_key)
    details = {"session": session.pk, "to_aftercare": to_aftercare}
    with transaction.atomic():
        existing = _replayed(key, by=by, action="session.end", details=details)
        if existing is not None:
            return ConsumptionSession.objects.get(pk=existing)
        _locked_space(session.space_id)
        current = _fresh_session(session)
        if tapped_at is not None:
            at = tap_time.checked(
                tapped_at, site=current.site, began=current.started_at, what=_("the session")
            )
        at = at or timezone.now()
        if current.ended_at is not None:
            raise _ended_refusal(current, code="already_ended")
        if at < current.started_at:
            raise ActionRefused(_("A session cannot end before it began."), code="bad_time")
        reason = (
            ConsumptionSession.EndReason.EMERGENCY
            if current.emergency_at is not None
            else ConsumptionSession.EndReason.FINISHED
        )
        if not _finish(current, by=by, at=at, end_reason=reason):
            raise _ended_refusal(_fresh_session(current), code="already_ended")
        visits = Visit.objects.filter(pk=current.visit_id, state=Visit.State.IN_SPACE)
        if to_aftercare:
            visits.update(
                state=Visit.State.AFTERCARE, aftercare_started_at=at, changed_at=timezone.now()
            )
        else:
            left = visits.update(
                state=Visit.State.LEFT,
                ended_at=at,
                ended_by=by,
                end_reason=Visit.EndReason.CHECKED_OUT,
                changed_at=timezone.now(),
            )
            if left:
                audit.record(
                    action="visit.checked_out", by=by, obj=current.visit, site=current.site, at=at
                )
        _audit_ended(
            current,
            by=by,
            at=at,
            to="aftercare" if to_aftercare else "left",
            tapped_at=tapped_at,
        )
        _remember(key, by=by, action="session.end", details=details, obj=current)
        bump_board(current.site)
    current.refresh_from_db()
    return current


def end_sessions_of_visits(
    visits: Iterable[Visit], *, by: User | None, at: datetime, end_reason: str
) -> int:
    """End the open sessions of these visits (check-out from a space, closing time), each with
    its audit event; the caller ends the visits and bumps the board. Returns how many ended."""
    sessions = list(
        ConsumptionSession.objects.select_related("space", "site", "visit__client")
        .filter(visit__in=[v.pk for v in visits], ended_at__isnull=True)
        .order_by("started_at", "id")
    )
    ended = 0
    for session in sessions:
        if _finish(session, by=by, at=at, end_reason=end_reason):
            _audit_ended(session, by=by, at=at, to="left")
            ended += 1
    return ended


def finish_clear_down(
    *,
    space: Space,
    seat: int,
    by: User,
    at: datetime | None = None,
    tapped_at: datetime | None = None,
    idempotency_key: Any = None,
) -> None:
    """Staff mark a seat cleaned (or aired) before its clear-down time is up: it is free now.
    The same form sent twice frees it once, without a refusal the second time. ``tapped_at``:
    the time of the tap as a device says (saferoom.core.tap_time); the seat was free from
    then, even if someone has been put in it since."""
    key = _key(idempotency_key)
    details = {"space": space.pk, "seat": seat}
    with transaction.atomic():
        if _replayed(key, by=by, action="seat.cleaned", details=details) is not None:
            return
        place = _locked_space(space.pk)
        seat = _check_seat(place, seat)
        if tapped_at is not None:
            at = tap_time.checked(tapped_at, site=place.site)
        at = at or timezone.now()
        occupant = _occupant(place, seat)
        if occupant is not None and occupant.started_at <= at:
            raise ActionRefused(
                _("Someone is in %(seat)s: end their session first.")
                % {"seat": seat_label(place, seat)},
                code="occupied",
            )
        finished = ConsumptionSession.objects.filter(
            space=place, seat=seat, ended_at__lte=at, clear_down_until__gt=at
        ).update(clear_down_until=at)
        if not finished:
            raise ActionRefused(
                _("%(seat)s is not being cleared down: it is ready already.")
                % {"seat": seat_label(place, seat)},
                code="not_clearing",
            )
        audit.record(
            action="seat.cleaned",
            by=by,
            obj=place,
            site=place.site,
            at=at,
            detail={"seat": seat, **tap_time.received(tapped_at)},
        )
        _remember(key, by=by, action="seat.cleaned", details=details, obj=place)
        bump_board(place.site)


# Emergencies and escalations ------------------------------------------------------------------


def start_emergency(
    *,
    session: ConsumptionSession,
    by: User,
    at: datetime | None = None,
    idempotency_key: Any = None,
) -> ConsumptionSession:
    """Mark an open session as an emergency: the person is treated where they are, and every
    board shows it. The incident record attaches to the session later. The same form sent
    twice starts it once and answers both with the session."""
    at = at or timezone.now()
    key = _key(idempotency_key)
    details = {"session": session.pk}
    with transaction.atomic():
        existing = _replayed(key, by=by, action="session.emergency", details=details)
        if existing is not None:
            return _fresh_session(ConsumptionSession(pk=existing))
        current = _fresh_session(session)
        if current.ended_at is not None:
            raise _ended_refusal(current, code="session_ended")
        if current.emergency_at is not None:
            raise ActionRefused(
                _("An emergency for %(who)s in %(seat)s was already started at %(time)s.")
                % {
                    "who": who(current.visit),
                    "seat": seat_label(current.space, current.seat),
                    "time": _clock(current.site, current.emergency_at),
                },
                code="already_emergency",
            )
        if at < current.started_at:
            raise ActionRefused(_("An emergency cannot start before the session."), code="bad_time")
        updated = ConsumptionSession.objects.filter(
            pk=current.pk, ended_at__isnull=True, emergency_at__isnull=True
        ).update(emergency_at=at, emergency_by=by)
        if not updated:
            current.refresh_from_db()
            raise ActionRefused(
                _("An emergency for %(who)s was started a moment ago by a colleague.")
                % {"who": who(current.visit)},
                code="already_emergency",
            )
        audit.record(
            action="session.emergency_started",
            by=by,
            obj=current,
            site=current.site,
            at=at,
            detail={"space": current.space_id, "seat": current.seat},
        )
        _remember(key, by=by, action="session.emergency", details=details, obj=current)
        bump_board(current.site)
    current.refresh_from_db()
    return current


def escalate_overdue_checks(*, site: Site, at: datetime) -> int:
    """The worker's job: pass every check missed for ``site.check_escalate_minutes`` to the
    shift lead (nobody named means all floor staff), once per due time. Sessions already in an
    emergency are skipped: staff are with the person. Returns how many were escalated."""
    cutoff = at - timedelta(minutes=site.check_escalate_minutes)
    with transaction.atomic():
        lead_id = (
            BoardState.objects.filter(site_id=site.pk)
            .values_list("shift_lead_id", flat=True)
            .first()
        )
        already = Escalation.objects.filter(
            session=OuterRef("pk"), due_at=OuterRef("next_check_due_at")
        )
        missed = list(
            ConsumptionSession.objects.filter(
                site=site,
                ended_at__isnull=True,
                emergency_at__isnull=True,
                next_check_due_at__lte=cutoff,
            )
            .exclude(Exists(already))
            .select_related("space", "visit__client")
            .order_by("next_check_due_at", "id")
        )
        raised = 0
        for session in missed:
            try:
                with transaction.atomic():
                    escalation = Escalation.objects.create(
                        session=session,
                        site=site,
                        due_at=session.next_check_due_at,
                        escalated_at=at,
                        to_user_id=lead_id,
                    )
            except IntegrityError:
                continue  # another worker escalated this due time first
            ConsumptionSession.objects.filter(pk=session.pk).update(escalated_at=at)
            audit.record(
                action="escalation.raised",
                by=None,
                obj=escalation,
                site=site,
                at=at,
                detail={
                    "session": session.pk,
                    "space": session.space_id,
                    "seat": session.seat,
                    "due_at": session.next_check_due_at.isoformat(),
                    "to_user": lead_id,
                },
            )
            raised += 1
        if raised:
            bump_board(site)
    return raised


def acknowledge_escalation(
    *,
    escalation: Escalation,
    by: User,
    at: datetime | None = None,
    idempotency_key: Any = None,
) -> Escalation:
    """The shift lead (or anyone on the floor) has seen the escalation. The same form sent
    twice acknowledges it once, without a refusal the second time."""
    at = at or timezone.now()
    key = _key(idempotency_key)
    details = {"escalation": escalation.pk}
    with transaction.atomic():
        existing = _replayed(key, by=by, action="escalation.acknowledge", details=details)
        if existing is not None:
            return Escalation.objects.select_related("site").get(pk=existing)
        current = Escalation.objects.select_related("site", "acknowledged_by").get(pk=escalation.pk)
        if current.acknowledged_at is not None:
            raise ActionRefused(
                _("%(who)s already acknowledged this at %(time)s.")
                % {
                    "who": str(current.acknowledged_by),
                    "time": _clock(current.site, current.acknowledged_at),
                },
                code="already_acknowledged",
            )
        updated = Escalation.objects.filter(pk=current.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=at, acknowledged_by=by
        )
        if not updated:
            raise ActionRefused(
                _("A colleague acknowledged this a moment ago."), code="already_acknowledged"
            )
        audit.record(action="escalation.acknowledged", by=by, obj=current, site=current.site, at=at)
        _remember(key, by=by, action="escalation.acknowledge", details=details, obj=current)
        bump_board(current.site)
    current.refresh_from_db()
    return current


def set_shift_lead(
    *,
    site: Site,
    user: User | None,
    by: User,
    at: datetime | None = None,
    idempotency_key: Any = None,
) -> None:
    """Name the shift lead escalations go to (None: nobody named, they go to all floor
    staff). The lead must work on the floor or manage the site. The same form sent twice
    names them once (one audit event)."""
    at = at or timezone.now()
    key = _key(idempotency_key)
    details = {"site": site.pk, "user": user.pk if user is not None else None}
    with transaction.atomic():
        if _replayed(key, by=by, action="shift_lead.set", details=details) is not None:
            return
        if user is not None and (not user.is_active or not roles_at(user, site) & FLOOR_LEAD_ROLES):
            raise ActionRefused(
                _(
                    "%(who)s does not work on the floor at %(site)s. "
                    "Choose a nurse, a harm-reduction worker or a manager."
                )
                % {"who": str(user), "site": site.name},
                code="not_floor_staff",
            )
        bump_board(site)
        BoardState.objects.filter(site_id=site.pk).update(shift_lead=user)
        audit.record(
            action="shift_lead.set",
            by=by,
            obj=user,
            site=site,
            at=at,
            detail={"user": user.get_username() if user is not None else None},
        )
        state = BoardState.objects.get(site_id=site.pk)
        _remember(key, by=by, action="shift_lead.set", details=details, obj=state)


# Mobile units ---------------------------------------------------------------------------------


def _open_stop_refusal(stop: MobileStop) -> ActionRefused:
    return ActionRefused(
        _("The unit is already open at %(place)s (since %(time)s). Close that stop first.")
        % {"place": stop.place, "time": _clock(stop.site, stop.opened_at)},
        code="stop_open",
    )


def open_stop(
    *,
    site: Site,
    place: str,
    by: User,
    idempotency_key: Any,
    at: datetime | None = None,
    note: str = "",
) -> MobileStop:
    """The mobile unit opens where it stands. One open stop per unit; the same form sent twice
    opens it once."""
    at = at or timezone.now()
    key = parse_key(idempotency_key)
    details = {"site": site.pk, "place": place, "note": note}
    with transaction.atomic():
        existing = replayed(key=key, by=by, action="stop.open", details=details)
        if existing is not None:
            return MobileStop.objects.select_related("site").get(pk=existing)
        if site.kind != Site.Kind.MOBILE:
            raise ActionRefused(
                _("%(site)s is a fixed site: stops are only kept for mobile units.")
                % {"site": site.name},
                code="not_mobile",
            )
        where = (place or "").strip()
        if not where:
            raise ActionRefused(_("Say where the unit stands."), code="bad_place")
        if len(where) > 120:
            raise ActionRefused(_("Keep the place to 120 characters or fewer."), code="bad_place")
        note = (note or "").strip()
        if len(note) > 200:
            raise ActionRefused(_("Keep the note to 200 characters or fewer."), code="bad_note")
        already = (
            MobileStop.objects.select_related("site")
            .filter(site=site, closed_at__isnull=True)
            .first()
        )
        if already is not None:
            raise _open_stop_refusal(already)
        try:
            with transaction.atomic():
                stop = MobileStop.objects.create(
                    site=site, place=where, opened_at=at, opened_by=by, note=note
                )
        except IntegrityError:
            # The one-open-stop index: a colleague opened a stop a moment ago.
            other = (
                MobileStop.objects.select_related("site")
                .filter(site=site, closed_at__isnull=True)
                .first()
            )
            if other is None:
                raise
            raise _open_stop_refusal(other) from None
        audit.record(action="stop.opened", by=by, obj=stop, site=site, at=at)
        remember(key=key, by=by, action="stop.open", details=details, obj=stop)
        bump_board(site)
    return stop


def close_stop(*, stop: MobileStop, by: User, at: datetime | None = None) -> MobileStop:
    """The unit closes at this stop and moves on."""
    at = at or timezone.now()
    with transaction.atomic():
        current = MobileStop.objects.select_related("site").get(pk=stop.pk)
        if current.closed_at is not None:
            raise ActionRefused(
                _("The stop at %(place)s was already closed at %(time)s.")
                % {"place": current.place, "time": _clock(current.site, current.closed_at)},
                code="already_closed",
            )
        if at < current.opened_at:
            raise ActionRefused(_("A stop cannot close before it opened."), code="bad_time")
        updated = MobileStop.objects.filter(pk=current.pk, closed_at__isnull=True).update(
            closed_at=at, closed_by=by
        )
        if not updated:
            raise ActionRefused(
                _("A colleague closed this stop a moment ago."), code="already_closed"
            )
        audit.record(action="stop.closed", by=by, obj=current, site=current.site, at=at)
        bump_board(current.site)
    current.refresh_from_db()
    return current
