"""The floor's test kit: people waiting in Riverside's queue (checked in through the real desk
action at 14:00), the spaces by name, moments of the afternoon, a second nurse and a van."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import pytest

from saferoom.clients.models import Client
from saferoom.core.models import AuditEvent, User
from saferoom.core.roles import Role
from saferoom.floor import actions, board
from saferoom.floor.models import ConsumptionSession, Visit
from saferoom.sites.models import Network, Site, Space
from tests.conftest import make_site, make_user
from tests.floor.conftest import AFTERNOON, substance


def at(minutes: float) -> dt.datetime:
    """A moment of the afternoon, ``minutes`` after 14:00 (the desk checks people in at 14:00)."""
    return AFTERNOON + dt.timedelta(minutes=minutes)


def space(site: Site, name: str) -> Space:
    return Space.objects.get(site=site, name=name)


def audits(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


def assign(
    visit: Visit, name: str, *, by: User, seat: int = 1, minutes: float = 1
) -> ConsumptionSession:
    """Put someone in a space by name, at 14:01 unless told."""
    return board.assign_space(
        visit=visit, space=space(visit.site, name), seat=seat, by=by, at=at(minutes)
    )


@pytest.fixture
def nurse2(site_a: Site) -> User:
    return make_user("noor.nurse", (Role.FLOOR, site_a))


@pytest.fixture
def van(network: Network) -> Site:
    """A mobile unit of the same network, with the same spaces as the fixed sites."""
    return make_site(network, "The van", "van", kind="mobile")


@pytest.fixture
def van_nurse(van: Site) -> User:
    return make_user("val.van", (Role.FLOOR, van), (Role.DESK, van))


@pytest.fixture
def arrive(register: Callable[..., Client], desk: User) -> Callable[..., Visit]:
    """Check a newly registered client in at ``site``, planning heroin by injection unless
    told otherwise."""

    def make(
        site: Site, *, route: str = "inject", code: str = "heroin", by: User | None = None
    ) -> Visit:
        return actions.check_in(
            site=site,
            client=register(site),
            planned_route=route,
            planned_substances=[substance(site, code)],
            otherwise_location="street",
            would_use_alone="yes",
            eligibility={"first_time": False, "intoxicated": False},
            by=by or desk,
            idempotency_key=uuid.uuid4(),
            at=AFTERNOON,
        )

    return make


@pytest.fixture
def visit(arrive: Callable[..., Visit], site_a: Site) -> Visit:
    """Someone waiting to inject heroin."""
    return arrive(site_a)


@pytest.fixture
def smoker(arrive: Callable[..., Visit], site_a: Site) -> Visit:
    """Someone waiting to smoke crack."""
    return arrive(site_a, route="smoke", code="crack")
