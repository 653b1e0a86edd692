"""Writing: what a field client records — a check-in, a session started and ended, an incident
with its interventions, supplies given. Each operation reaches the site and its objects through
the same access helpers as the pages, allows the same roles as the page that does the same
thing, and calls the same action: the business rules live there, not here.

Every create needs an ``Idempotency-Key`` header (a UUID, one per record): sent again with the
same body it answers 200 with the record the first request made; with a different body, 409.
Evaluators get 403 from every operation here."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import F, Q
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.params import functions as params

from saferoom.api import actions as api_actions
from saferoom.api.auth import user_of
from saferoom.api.errors import ApiError, from_refusal, scrub
from saferoom.api.schemas import (
    MAX_ID,
    IncidentIn,
    IncidentOut,
    Problem,
    SessionEndIn,
    SessionOut,
    SessionStartIn,
    SupplyGivenIn,
    SupplyGivenOut,
    VisitIn,
    VisitOut,
)
from saferoom.care.supplies import actions as supplies_actions
from saferoom.care.supplies.access import GIVERS
from saferoom.care.supplies.models import StockMovement
from saferoom.clients.actions import find_by_code
from saferoom.clients.codes import CodeError
from saferoom.clients.models import Client
from saferoom.core import audit, ratelimit
from saferoom.core.errors import ActionRefused
from saferoom.core.models import IdempotencyKey, User
from saferoom.floor import actions as floor_actions
from saferoom.floor import board
from saferoom.floor.access import BOARD_ACTORS, DESK_ROLES, access_session, access_visit
from saferoom.floor.models import ConsumptionSession, Visit
from saferoom.incidents.access import TAPPERS
from saferoom.incidents.models import Incident, Intervention
from saferoom.sites.access import access_site, access_space
from saferoom.sites.models import CatalogueItem, Site, Space

router = Router(tags=["recording"])
Operation = TypeVar("Operation", bound=Callable[..., Any])

IDEMPOTENCY_KEY = params.Header(
    None,
    alias="Idempotency-Key",
    description="Required. A UUID made for this record; send the same key when you retry it.",
)
ANSWERS: dict[int | str, Any] = {
    400: Problem,
    401: Problem,
    403: Problem,
    404: Problem,
    409: Problem,
    422: Problem,
}

# Which field an action's refusal is about, by its code (for the answer's "field").
VISIT_FIELDS = {
    "bad_client": "client_code",
    "merged_client": "client_code",
    "already_here": "client_code",
    "anonymous_not_allowed": "anonymous",
    "bad_route": "planned_route",
    "bad_substance": "planned_substances",
    "bad_answers": "eligibility",
    "not_eligible": "eligibility",
}
SESSION_FIELDS = {
    "wrong_route": "space_id",
    "not_assignable": "space_id",
    "out_of_service": "space_id",
    "wrong_site": "space_id",
    "bad_seat": "seat",
    "seat_taken": "seat",
    "clear_down": "seat",
    "not_waiting": "visit_id",
}
INCIDENT_FIELDS = {
    "bad_location": "location",
    "bad_kind": "kind",
    "too_long": "location_detail",
    "bad_space": "space_id",
    "bad_visit": "visit_id",
    "future": "onset_at",
}
SUPPLY_FIELDS = {
    "other_site_item": "item",
    "inactive_item": "item",
    "bad_quantity": "quantity",
    "not_enough_stock": "quantity",
    "bad_visit": "visit_id",
    "bad_client": "client_code",
    "merged_client": "client_code",
}


# --- What every create does first -----------------------------------------------------------


def _key(value: str | None) -> uuid.UUID:
    if not value or not value.strip():
        raise ApiError(
            400,
            "no_idempotency_key",
            _(
                "Send an Idempotency-Key header: a UUID made for this record (for example "
                "from uuid4), the same one each time you retry it. Nothing was written."
            ),
            field="Idempotency-Key",
        )
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise ApiError(
            400,
            "bad_idempotency_key",
            _("The Idempotency-Key header must be a UUID. Nothing was written."),
            field="Idempotency-Key",
        ) from None


def _status(user: User, key: uuid.UUID) -> int:
    """201 for a new record, 200 when this key was sent before (the answer is the first
    request's record, or a 409 if the details differ)."""
    return 200 if IdempotencyKey.objects.filter(user=user, key=key).exists() else 201


@dataclass(frozen=True)
class Create:
    """One create request, as every create starts: who asks, at which site and in which role,
    the idempotency key, and the status of the answer (201 new, 200 a replay)."""

    user: User
    site: Site
    role: str
    key: uuid.UUID
    status: int

    @contextmanager
    def recording(self, fields: Mapping[str, str] | None = None) -> Iterator[None]:
        """Call the action in here: in the site's time zone, and with a refusal answered as the
        API answers one (409 for a reused key, else 422 naming the field ``fields`` gives)."""
        try:
            with timezone.override(self.site.tz):
                yield
        except ActionRefused as refusal:
            raise from_refusal(refusal, dict(fields or {})) from None

    def answer(self, body: dict[str, Any]) -> Status[dict[str, Any]]:
        return Status(self.status, body)


def _creates(path: str, out: type[Schema], *, name: str) -> Callable[[Operation], Operation]:
    """A create operation: 201 with ``out`` for a new record, 200 with it for a replay, and the
    API's problems otherwise."""
    route: Callable[[Operation], Operation] = router.post(
        path, response={200: out, 201: out, **ANSWERS}, url_name=name
    )
    return route


def _create(
    request: HttpRequest, slug: str, roles: tuple[Any, ...], idempotency_key: str | None
) -> Create:
    """The site (through the same access helper and roles as the page), the key, the status."""
    user = user_of(request)
    site, role = access_site(user, slug, *roles)
    key = _key(idempotency_key)
    return Create(user=user, site=site, role=role, key=key, status=_status(user, key))


def _found(field: str, what: str) -> ApiError:
    return ApiError(
        404,
        "not_found",
        _("There is no such %(what)s at this site.") % {"what": what},
        field=field,
    )


def _visit(request: HttpRequest, site: Site, pk: int) -> Visit:
    try:
        return access_visit(request, site, pk)
    except Http404:
        raise _found("visit_id", _("visit")) from None


def _space(site: Site, pk: int) -> Space:
    try:
        return access_space(site, pk)
    except Http404:
        raise _found("space_id", _("space")) from None


def _client(site: Site, user: User, role: str, code: str | None) -> Client | None:
    """The client whose card shows ``code``, found as the desk finds them (and audited the same
    way: found, or a search that found nobody)."""
    if code is None or not code.strip():
        return None
    try:
        ratelimit.check_user(user, ratelimit.SEARCH, site=site, role=role)
    except ratelimit.RateLimited as refused:
        raise ApiError(
            429,
            "rate_limited",
            _("Too many client look-ups in a few minutes. Wait and send it again."),
            headers={"Retry-After": str(refused.retry_after)},
        ) from None
    try:
        client = find_by_code(network=site.network, typed_code=code)
    except CodeError as problem:
        raise ApiError(422, "bad_client_code", str(problem), field="client_code") from None
    if client is None:
        audit.record(
            action="client.search_not_found",
            by=user,
            site=site,
            role=role,
            detail={"by": "code", "via": "api"},
        )
        raise ApiError(
            422,
            "unknown_client",
            _("No client has that code in this network. Check the card."),
            field="client_code",
        )
    audit.record(
        action="client.found",
        by=user,
        obj=client,
        site=site,
        role=role,
        detail={"by": "code", "via": "api"},
    )
    return client


def _entry(site: Site, kind: str, code: str, field: str) -> CatalogueItem:
    """An entry of one of the site's lists by its code (the site's own entry before a
    network-wide one of the same code). Whether it may be used is the action's to say."""
    item = (
        CatalogueItem.objects.filter(
            Q(site=site) | Q(site__isnull=True, network_id=site.network_id), kind=kind, code=code
        )
        .order_by(F("site").asc(nulls_last=True))
        .first()
    )
    if item is None:
        raise ApiError(
            422,
            "unknown_code",
            _("%(code)s is not on this site's list. The site's codes are at GET /api/v1/sites/…")
            % {"code": code},
            field=field,
        )
    return item


# --- Check-in -------------------------------------------------------------------------------


def _visit_out(visit: Visit) -> dict[str, Any]:
    return {
        "id": visit.pk,
        "state": visit.state,
        "arrived_at": visit.arrived_at,
        "anonymous": visit.anonymous,
        "planned_route": visit.planned_route,
    }


@_creates("/sites/{slug:slug}/visits", VisitOut, name="visit_create")
def create_visit(
    request: HttpRequest,
    slug: str,
    payload: VisitIn,
    idempotency_key: str | None = IDEMPOTENCY_KEY,
) -> Status[dict[str, Any]]:
    """Check someone in: a registered client by the code on their card, or an anonymous visit
    where the site takes them. The site's eligibility questions are answered in
    ``eligibility``; an ineligible person is refused (422, ``not_eligible``) and nothing is
    written — record a turn-away at the desk."""
    create = _create(request, slug, DESK_ROLES, idempotency_key)
    site = create.site
    client = _client(site, create.user, create.role, payload.client_code)
    substances = [
        _entry(site, CatalogueItem.Kind.SUBSTANCE, code, "planned_substances")
        for code in payload.planned_substances
    ]
    with create.recording(VISIT_FIELDS):
        try:
            visit = floor_actions.check_in(
                site=site,
                client=client,
                anonymous=payload.anonymous,
                planned_route=payload.planned_route,
                planned_substances=substances,
                otherwise_location=payload.otherwise_location,
                would_use_alone=payload.would_use_alone,
                eligibility=payload.eligibility,
                by=create.user,
                idempotency_key=create.key,
            )
        except floor_actions.NotEligible as refusal:
            raise ApiError(
                422,
                "not_eligible",
                " ".join(scrub(p.message) for p in refusal.problems),
                field="eligibility",
            ) from None
    return create.answer(_visit_out(visit))


# --- Sessions -------------------------------------------------------------------------------


def _session_out(session: ConsumptionSession) -> dict[str, Any]:
    return {
        "id": session.pk,
        "visit_id": session.visit_id,
        "space_id": session.space_id,
        "seat": session.seat,
        "route": session.route,
        "started_at": session.started_at,
        "check_interval_minutes": session.check_interval_minutes,
        "next_check_due_at": session.next_check_due_at,
        "ended_at": session.ended_at,
        "end_reason": session.end_reason,
        "clear_down_until": session.clear_down_until,
    }


@_creates("/sites/{slug:slug}/sessions", SessionOut, name="session_start")
def start_session(
    request: HttpRequest,
    slug: str,
    payload: SessionStartIn,
    idempotency_key: str | None = IDEMPOTENCY_KEY,
) -> Status[dict[str, Any]]:
    """Put a waiting visit in a seat of a space (ids from ``GET /sites/{slug}``). Refused when
    the seat is taken or being cleaned, the space does not suit the visit's route, or the visit
    is not waiting."""
    create = _create(request, slug, BOARD_ACTORS, idempotency_key)
    visit = _visit(request, create.site, payload.visit_id)
    space = _space(create.site, payload.space_id)
    with create.recording(SESSION_FIELDS):
        session = board.assign_space(
            visit=visit, space=space, seat=payload.seat, by=create.user, idempotency_key=create.key
        )
    return create.answer(_session_out(session))


@_creates("/sites/{slug:slug}/sessions/{int:session_id}/end", SessionOut, name="session_end")
def end_session(
    request: HttpRequest,
    slug: str,
    payload: SessionEndIn | None = None,
    session_id: int = params.Path(..., ge=1, le=MAX_ID),
    idempotency_key: str | None = IDEMPOTENCY_KEY,
) -> Status[dict[str, Any]]:
    """The person leaves the space: to after-care, or (``to_aftercare: false``) off the site.
    The seat goes into its clear-down. Answers 201 when it ends the session, 200 for a replay
    of the same request."""
    create = _create(request, slug, BOARD_ACTORS, idempotency_key)
    session = access_session(create.site, session_id)
    with create.recording():
        ended = board.end_session(
            session=session,
            by=create.user,
            to_aftercare=payload.to_aftercare if payload is not None else True,
            idempotency_key=create.key,
        )
    return create.answer(_session_out(ended))


# --- Incidents ------------------------------------------------------------------------------


def _incident_out(incident: Incident, steps: list[Intervention]) -> dict[str, Any]:
    return {
        "id": incident.pk,
        "kind": incident.kind,
        "location": incident.location,
        "onset_at": incident.onset_at,
        "visit_id": incident.visit_id,
        "space_id": incident.space_id,
        "interventions": [{"id": s.pk, "kind": s.kind, "at": s.at} for s in steps],
    }


@_creates("/sites/{slug:slug}/incidents", IncidentOut, name="incident_create")
def create_incident(
    request: HttpRequest,
    slug: str,
    payload: IncidentIn,
    idempotency_key: str | None = IDEMPOTENCY_KEY,
) -> Status[dict[str, Any]]:
    """An incident and its interventions, each with its own time, in one go: if any part is
    refused (a naloxone dose that is not plausible, an ambulance arriving before it was
    called, a time before the onset) nothing at all is written."""
    create = _create(request, slug, TAPPERS, idempotency_key)
    site = create.site
    visit = None if payload.visit_id is None else _visit(request, site, payload.visit_id)
    space = None if payload.space_id is None else _space(site, payload.space_id)
    steps = [
        api_actions.InterventionInput(
            kind=step.kind,
            at=step.at,
            naloxone_mg=step.naloxone_mg,
            naloxone_route=step.naloxone_route or "",
            oxygen_l_min=step.oxygen_l_min,
            breathing_rate=step.breathing_rate,
            spo2=step.spo2,
            avpu=step.avpu or "",
            note=step.note,
        )
        for step in payload.interventions
    ]
    with create.recording(INCIDENT_FIELDS):
        try:
            incident, recorded = api_actions.record_incident(
                site=site,
                by=create.user,
                idempotency_key=create.key,
                location=payload.location,
                location_detail=payload.location_detail,
                kind=payload.kind or "",
                visit=visit,
                space=space,
                onset_at=payload.onset_at,
                interventions=steps,
            )
        except api_actions.InterventionRefused as refusal:
            field = f"interventions[{refusal.index}]"
            raise from_refusal(refusal, {refusal.code: field}) from None
    return create.answer(_incident_out(incident, recorded))


# --- Supplies -------------------------------------------------------------------------------


def _movement_out(movement: StockMovement) -> dict[str, Any]:
    return {
        "id": movement.pk,
        "item": movement.item.code,
        "quantity": -movement.quantity,
        "visit_id": movement.visit_id,
        "at": movement.at,
        "in_stock_after": movement.balance_after,
    }


@_creates("/sites/{slug:slug}/supplies-given", SupplyGivenOut, name="supply_give")
def give_supply(
    request: HttpRequest,
    slug: str,
    payload: SupplyGivenIn,
    idempotency_key: str | None = IDEMPOTENCY_KEY,
) -> Status[dict[str, Any]]:
    """Supplies given out: to a visit, or to a walk-in (with their card's code if they showed
    one). Stock goes down; refused when there is not that much in stock."""
    create = _create(request, slug, GIVERS, idempotency_key)
    site = create.site
    visit = None if payload.visit_id is None else _visit(request, site, payload.visit_id)
    client = _client(site, create.user, create.role, payload.client_code)
    item = _entry(site, CatalogueItem.Kind.SUPPLY, payload.item, "item")
    with create.recording(SUPPLY_FIELDS):
        movement = supplies_actions.give_supply(
            site=site,
            item=item,
            quantity=payload.quantity,
            visit=visit,
            client=client,
            by=create.user,
            idempotency_key=create.key,
        )
    return create.answer(_movement_out(movement))
