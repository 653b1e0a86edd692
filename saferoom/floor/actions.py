"""The desk's writes: check-in, turn-away, leaving the queue, check-out, and closing the visits
still open at closing time. Each runs in one transaction with its audit event and bumps the
floor board's version (the board shows the queue); creates are idempotent; a refusal raises
ActionRefused and changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from saferoom.clients.models import Client, OtherwiseLocation
from saferoom.core import audit
from saferoom.core.errors import ActionRefused
from saferoom.core.idempotency import parse_key, remember, replayed
from saferoom.core.models import User
from saferoom.floor.board import bump_board, end_sessions_of_visits
from saferoom.floor.eligibility import ANSWER_KEYS, Problem, check_eligibility
from saferoom.floor.models import ConsumptionSession, MobileStop, Visit
from saferoom.sites.models import CatalogueItem, Route, Site


class NotEligible(ActionRefused):
    """The person cannot be admitted; ``problems`` says why (each names a turn-away reason)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(" ".join(p.message for p in problems), code="not_eligible")
        self.problems = problems


def who(visit: Visit) -> str:
    """How a message names the person of a visit: their code, never anything else."""
    if visit.client is not None:
        return visit.client.display_code
    if visit.anonymous:
        return _("The anonymous visitor")
    return _("The unregistered visitor")


def _clock(site: Site, moment: datetime) -> str:
    return site.local(moment).strftime("%H:%M")


def already_here(visit: Visit) -> str:
    where = {
        Visit.State.WAITING: _("already waiting in the queue"),
        Visit.State.IN_SPACE: _("already in a space"),
        Visit.State.AFTERCARE: _("already in after-care"),
    }[Visit.State(visit.state)]
    return _(
        "%(who)s is %(where)s at %(site)s (arrived %(time)s). They cannot be checked in twice."
    ) % {
        "who": who(visit),
        "where": where,
        "site": visit.site.name,
        "time": _clock(visit.site, visit.arrived_at),
    }


def _ended(visit: Visit) -> str:
    """Why a visit that has ended cannot be ended again, in the desk's words."""
    params = {"who": who(visit), "time": _clock(visit.site, visit.ended_at or visit.arrived_at)}
    if visit.state == Visit.State.TURNED_AWAY:
        return _("%(who)s was turned away at %(time)s: there is nothing to end.") % params
    if visit.end_reason == Visit.EndReason.LEFT_QUEUE:
        return _("%(who)s already left the queue at %(time)s.") % params
    if visit.end_reason == Visit.EndReason.LEFT_WITHOUT_CHECKOUT:
        return _("%(who)s's visit was closed at closing time (%(time)s).") % params
    return _("%(who)s was already checked out at %(time)s.") % params


def open_visit_of(*, site: Site, client: Client) -> Visit | None:
    """The client's visit still open at this site, if any (there is at most one)."""
    # No ORDER BY: with one, SQLite scanned the site's whole history through the arrival
    # index (9 ms a check-in at 45,000 visits).
    found = (
        Visit.objects.select_related("client", "site")
        .filter(site=site, client=client, state__in=Visit.OPEN_STATES)
        .order_by()[:1]
    )
    return next(iter(found), None)


def next_opening(site: Site, at: datetime) -> datetime | None:
    """When the site next opens after ``at`` (local time), if it has opening hours."""
    local = site.local(at)
    hours = list(site.opening_hours.all())
    for offset in range(8):
        day = (local + timedelta(days=offset)).date()
        starts = sorted(
            datetime.combine(day, h.opens, site.tz) for h in hours if h.weekday == day.weekday()
        )
        for start in starts:
            if start > local:
                return site.local(start)
    return None


def closed_message(site: Site, at: datetime) -> str:
    opens = next_opening(site, at)
    if opens is None:
        return _("%(site)s has no opening hours set. A manager can add them in Site settings.") % {
            "site": site.name
        }
    if opens.date() == site.local(at).date():
        when = _("today at %(time)s") % {"time": opens.strftime("%H:%M")}
    else:
        when = _("on %(day)s at %(time)s") % {
            "day": date_format(opens, "l j F"),
            "time": opens.strftime("%H:%M"),
        }
    return _("%(site)s is closed now. It opens again %(when)s.") % {"site": site.name, "when": when}


def _check_client(site: Site, client: Client) -> None:
    if client.network_id != site.network_id:
        raise ActionRefused(_("That client is not registered in this network."), code="bad_client")
    if client.merged_into_id is not None:
        raise ActionRefused(
            _("That code was merged into another client's. Find the client again."),
            code="merged_client",
        )


def _check_answers(eligibility: object) -> dict[str, bool]:
    if not isinstance(eligibility, dict) or any(
        key not in ANSWER_KEYS or not isinstance(value, bool) for key, value in eligibility.items()
    ):
        raise ActionRefused(
            _("The eligibility answers could not be read. Reload the page and answer again."),
            code="bad_answers",
        )
    return dict(eligibility)


def _offered_at(item: CatalogueItem, site: Site, kind: str) -> bool:
    return (
        item.kind == kind
        and item.active
        and item.network_id == site.network_id
        and item.site_id in (None, site.pk)
    )


def check_in(
    *,
    site: Site,
    client: Client | None,
    anonymous: bool = False,
    planned_route: str,
    planned_substances: Sequence[CatalogueItem],
    otherwise_location: str,
    would_use_alone: str,
    eligibility: dict[str, bool],
    by: User,
    idempotency_key: Any,
    at: datetime | None = None,
) -> Visit:
    """Put an eligible person in the queue: a Visit ``waiting`` at ``site``."""
    at = at or timezone.now()
    key = parse_key(idempotency_key)
    details = {
        "site": site.pk,
        "client": client.pk if client is not None else None,
        "anonymous": anonymous,
        "route": planned_route,
        "substances": sorted({item.pk for item in planned_substances}),
        "otherwise": otherwise_location,
        "alone": would_use_alone,
        "eligibility": eligibility,
    }
    with transaction.atomic():
        existing = replayed(key=key, by=by, action="visit.check_in", details=details)
        if existing is not None:
            return Visit.objects.select_related("client", "site").get(pk=existing)

        if anonymous:
            if client is not None:
                raise ActionRefused(
                    _("An anonymous visit cannot name a client."), code="bad_client"
                )
            if not site.anonymous_visits_allowed:
                raise ActionRefused(
                    _("%(site)s does not take anonymous visits. Find or register the client.")
                    % {"site": site.name},
                    code="anonymous_not_allowed",
                )
        elif client is None:
            raise ActionRefused(_("Find or register the client first."), code="bad_client")
        else:
            _check_client(site, client)
        if not site.active:
            raise ActionRefused(
                _("%(site)s is not open for business.") % {"site": site.name}, code="closed"
            )
        if not site.is_open(at):
            raise ActionRefused(closed_message(site, at), code="closed")
        stop = None
        if site.kind == Site.Kind.MOBILE:
            # A mobile unit's visits are counted by stop: where the van stood that day.
            stop = _open_stop(site)
            if stop is None:
                raise ActionRefused(
                    _(
                        "Open a stop first: say where the unit stands on the Stops page, "
                        "then check people in."
                    ),
                    code="no_stop",
                )
        if planned_route not in Route.values or planned_route not in site.permitted_routes:
            raise ActionRefused(
                _("That route is not allowed at %(site)s. Choose one of the routes shown.")
                % {"site": site.name},
                code="bad_route",
            )
        if not planned_substances:
            raise ActionRefused(_("Choose at least one substance."), code="bad_substance")
        if not all(_offered_at(item, site, "substance") for item in planned_substances):
            raise ActionRefused(
                _("Choose the substances from this site's list."), code="bad_substance"
            )
        if otherwise_location not in OtherwiseLocation.values:
            raise ActionRefused(_("Choose where they would otherwise have used."), code="bad_input")
        if would_use_alone not in Visit.Alone.values:
            raise ActionRefused(_("Choose whether they would have used alone."), code="bad_input")
        answers = _check_answers(eligibility)

        if client is not None:
            # Serialise check-ins of one client (PostgreSQL row lock; SQLite already serialises
            # writers), so two desks cannot both pass the check below.
            list(Client.objects.select_for_update().filter(pk=client.pk).values_list("pk"))
            open_visit = open_visit_of(site=site, client=client)
            if open_visit is not None:
                raise ActionRefused(already_here(open_visit), code="already_here")

        problems = check_eligibility(site=site, client=client, answers=answers, at=at)
        if problems:
            raise NotEligible(problems)

        try:
            with transaction.atomic():
                visit = Visit.objects.create(
                    site=site,
                    client=client,
                    anonymous=anonymous,
                    arrived_at=at,
                    state=Visit.State.WAITING,
                    planned_route=planned_route,
                    otherwise_location=otherwise_location,
                    would_use_alone=would_use_alone,
                    eligibility=answers,
                    created_by=by,
                    stop=stop,
                )
        except IntegrityError:
            # The one-open-visit constraint: another desk checked them in a moment ago.
            raise ActionRefused(
                _("%(who)s was checked in by someone else a moment ago. Look at the queue.")
                % {"who": client.display_code if client else _("This person")},
                code="already_here",
            ) from None
        visit.planned_substances.set(planned_substances)
        audit.record(
            action="visit.checked_in",
            by=by,
            obj=visit,
            site=site,
            at=at,
            detail={
                "anonymous": anonymous,
                "route": planned_route,
                "substances": sorted(item.code for item in planned_substances),
            },
        )
        remember(key=key, by=by, action="visit.check_in", details=details, obj=visit)
        bump_board(site)
    return visit


def turn_away(
    *,
    site: Site,
    client: Client | None,
    reason: CatalogueItem,
    by: User,
    idempotency_key: Any,
    at: datetime | None = None,
    eligibility: dict[str, bool] | None = None,
    anonymous: bool = False,
) -> Visit:
    """Record that someone was not admitted, and why, as a visit that has already ended.
    ``client`` is None for an anonymous arrival (``anonymous=True``) or someone unregistered."""
    at = at or timezone.now()
    key = parse_key(idempotency_key)
    details = {
        "site": site.pk,
        "client": client.pk if client is not None else None,
        "anonymous": anonymous,
        "reason": reason.pk,
        "eligibility": eligibility,
    }
    with transaction.atomic():
        existing = replayed(key=key, by=by, action="visit.turn_away", details=details)
        if existing is not None:
            return Visit.objects.select_related("client", "site").get(pk=existing)
        if not _offered_at(reason, site, "turnaway_reason"):
            raise ActionRefused(_("Choose a reason from this site's list."), code="bad_reason")
        if client is not None:
            if anonymous:
                raise ActionRefused(
                    _("An anonymous visit cannot name a client."), code="bad_client"
                )
            _check_client(site, client)
        if anonymous and not site.anonymous_visits_allowed:
            raise ActionRefused(
                _("%(site)s does not take anonymous visits.") % {"site": site.name},
                code="anonymous_not_allowed",
            )
        answers = _check_answers(eligibility or {})
        visit = Visit.objects.create(
            site=site,
            client=client,
            anonymous=anonymous,
            arrived_at=at,
            state=Visit.State.TURNED_AWAY,
            turnaway_reason=reason,
            eligibility=answers,
            created_by=by,
            # A turn-away at a mobile unit still counts at its stop (if one is open).
            stop=_open_stop(site) if site.kind == Site.Kind.MOBILE else None,
            ended_at=at,
            ended_by=by,
            end_reason=Visit.EndReason.TURNED_AWAY,
        )
        audit.record(
            action="visit.turned_away",
            by=by,
            obj=visit,
            site=site,
            at=at,
            detail={"reason": reason.code, "anonymous": anonymous, "registered": bool(client)},
        )
        remember(key=key, by=by, action="visit.turn_away", details=details, obj=visit)
        bump_board(site)
    return visit


def _end(
    *,
    visit: Visit,
    from_states: Sequence[str],
    end_reason: str,
    action: str,
    by: User | None,
    at: datetime,
) -> Visit:
    if at < visit.arrived_at:
        raise ActionRefused(_("A visit cannot end before it began."), code="bad_time")
    # A conditional UPDATE: if a colleague ended the visit a moment ago, nothing changes here.
    updated = Visit.objects.filter(pk=visit.pk, state__in=from_states).update(
        state=Visit.State.LEFT,
        ended_at=at,
        ended_by=by,
        end_reason=end_reason,
        changed_at=timezone.now(),
    )
    visit.refresh_from_db()
    if not updated:
        if visit.is_open:
            raise ActionRefused(
                _("%(who)s's visit changed a moment ago. Look at the queue again.")
                % {"who": who(visit)},
                code="changed",
            )
        raise ActionRefused(_ended(visit), code="not_open")
    audit.record(action=action, by=by, obj=visit, site=visit.site, at=at)
    bump_board(visit.site)
    return visit


def leave_queue(*, visit: Visit, by: User, at: datetime | None = None) -> Visit:
    """The person left while waiting, before being seen."""
    at = at or timezone.now()
    with transaction.atomic():
        current = Visit.objects.select_related("client", "site").get(pk=visit.pk)
        if current.state in (Visit.State.IN_SPACE, Visit.State.AFTERCARE):
            raise ActionRefused(
                _("%(who)s is no longer waiting: they are %(where)s. Use Check out instead.")
                % {
                    "who": who(current),
                    "where": _("in a space")
                    if current.state == Visit.State.IN_SPACE
                    else _("in after-care"),
                },
                code="not_waiting",
            )
        return _end(
            visit=current,
            from_states=[Visit.State.WAITING],
            end_reason=Visit.EndReason.LEFT_QUEUE,
            action="visit.left_queue",
            by=by,
            at=at,
        )


def check_out(*, visit: Visit, by: User, at: datetime | None = None) -> Visit:
    """The person has left the site, from whichever stage they were in. Leaving straight from
    a space ends the session there, and the seat's clear-down starts."""
    at = at or timezone.now()
    with transaction.atomic():
        current = Visit.objects.select_related("client", "site").get(pk=visit.pk)
        if current.state == Visit.State.IN_SPACE:
            started = (
                ConsumptionSession.objects.filter(visit=current, ended_at__isnull=True)
                .values_list("started_at", flat=True)
                .first()
            )
            if started is not None and at < started:
                raise ActionRefused(
                    _("A check-out cannot come before the session began."), code="bad_time"
                )
            end_sessions_of_visits(
                [current], by=by, at=at, end_reason=ConsumptionSession.EndReason.LEFT
            )
        return _end(
            visit=current,
            from_states=Visit.OPEN_STATES,
            end_reason=Visit.EndReason.CHECKED_OUT,
            action="visit.checked_out",
            by=by,
            at=at,
        )


def close_open_visits(*, site: Site, at: datetime, by: User | None = None) -> int:
    """At closing time, end every visit still open (arrived by ``at``) as left without
    check-out, so the day's figures count them instead of leaving them open for ever. Their
    sessions still open end too ("closing"), and those seats go into clear-down."""
    with transaction.atomic():
        visits = list(
            Visit.objects.select_for_update(of=("self",))
            .filter(site=site, state__in=Visit.OPEN_STATES, arrived_at__lte=at)
            .select_related("client")
            .order_by("arrived_at", "id")
        )
        if not visits:
            return 0
        end_sessions_of_visits(
            [v for v in visits if v.state == Visit.State.IN_SPACE],
            by=by,
            at=at,
            end_reason=ConsumptionSession.EndReason.CLOSING,
        )
        Visit.objects.filter(pk__in=[v.pk for v in visits]).update(
            state=Visit.State.LEFT,
            ended_at=at,
            ended_by=by,
            end_reason=Visit.EndReason.LEFT_WITHOUT_CHECKOUT,
            changed_at=timezone.now(),
        )
        for visit in visits:
            audit.record(
                action="visit.closed_at_closing",
                by=by,
                obj=visit,
                site=site,
                at=at,
                detail={"was": visit.state},
            )
        bump_board(site)
    return len(visits)


def _open_stop(site: Site) -> MobileStop | None:
    # Row-locked on PostgreSQL so the stop cannot be closed under a check-in in flight.
    return MobileStop.objects.select_for_update().filter(site=site, closed_at__isnull=True).first()
