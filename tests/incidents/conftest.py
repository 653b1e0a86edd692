"""The incidents' test kit: Riverside on a Tuesday afternoon (the desk's clock), someone in a
booth through the real desk and board actions, and incidents started the way staff start them."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from saferoom.core.models import AuditEvent, User
from saferoom.floor import board
from saferoom.floor.models import ConsumptionSession
from saferoom.incidents import actions
from saferoom.incidents.models import Incident, Intervention
from saferoom.sites.models import Site
from tests.floor.board_ui.conftest import arrive, nurse2, seat_in
from tests.floor.conftest import AFTERNOON, afternoon, register

__all__ = ["AFTERNOON", "afternoon", "arrive", "nurse2", "register", "seat_in"]

HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}


def key() -> str:
    return str(uuid.uuid4())


def url(site: Site, name: str, **kwargs: Any) -> str:
    return reverse(f"incidents:{name}", kwargs={"site": site.slug, **kwargs})


def audits(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


def later(minutes: float) -> dt.datetime:
    return AFTERNOON + dt.timedelta(minutes=minutes)


@pytest.fixture
def session(site_a: Site, arrive: Callable[..., Any], seat_in: Callable[..., Any]):
    """Someone injecting heroin in Booth 1."""
    return seat_in(arrive(site_a), "Booth 1")


@pytest.fixture
def overdose(session: ConsumptionSession, nurse: User) -> Incident:
    """The board's emergency on Booth 1, and its incident (as the board's button does it)."""
    board.start_emergency(session=session, by=nurse)
    return actions.start_from_session(session=session, by=nurse)


@pytest.fixture
def at_the_door(site_a: Site, desk: User) -> Incident:
    """Someone collapsed at the door, started by the desk."""
    return actions.start_incident(
        site=site_a, by=desk, idempotency_key=key(), location="door", kind="opioid"
    )


@pytest.fixture
def tap(nurse: User) -> Callable[..., Intervention]:
    def make(incident: Incident, kind: str, *, by: User | None = None, **values: Any):
        return actions.record_intervention(
            incident=incident, kind=kind, by=by or nurse, idempotency_key=key(), **values
        )

    return make
