"""The board pages' test kit: people checked in through the real desk action, put in spaces
through the real board actions, and the board's URLs and forms as a browser would send them."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from saferoom.clients.models import Client
from saferoom.core.models import AuditEvent, User
from saferoom.core.roles import Role
from saferoom.floor import actions, board
from saferoom.floor.models import ConsumptionSession, Visit
from saferoom.sites.models import Network, Site, Space
from tests.conftest import make_site, make_user
from tests.floor.conftest import substance

HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}
POLL: dict[str, Any] = {"HTTP_HX_REQUEST": "true", "HTTP_X_SAFEROOM_POLL": "1"}
SCRIPT = "<script>alert(1)</script>"


def keyed(data: dict[str, Any]) -> dict[str, Any]:
    """A board form as the board renders it: with its own fresh idempotency key."""
    return {"idempotency_key": str(uuid.uuid4()), **data}


def url(site: Site, name: str = "board", **kwargs: Any) -> str:
    return reverse(f"board:{name}", kwargs={"site": site.slug, **kwargs})


def space(site: Site, name: str) -> Space:
    return Space.objects.get(site=site, name=name)


def version(site: Site) -> int:
    return board.board_version(site)


def shown_version(page: str) -> int:
    match = re.search(r'id="board-live"[^>]*data-version="(\d+)"', page)
    assert match, "the page has no live board"
    return int(match.group(1))


def audits(prefix: str) -> int:
    return AuditEvent.objects.filter(action__startswith=prefix).count()


def tile(page: str, key: str) -> str:
    """The HTML of one tile, by "<space id>-<seat>"."""
    match = re.search(rf'<li class="tile[^"]*"\s+id="tile-{key}".*?</li>', page, re.S)
    assert match, f"no tile {key}"
    return match.group(0)


def key(site: Site, name: str, seat: int = 1) -> str:
    return f"{space(site, name).pk}-{seat}"


@pytest.fixture
def arrive(register: Callable[..., Client], desk: User) -> Callable[..., Visit]:
    """Check a newly registered client in now, planning heroin by injection unless told."""

    def make(
        site: Site,
        *,
        route: str = "inject",
        code: str = "heroin",
        by: User | None = None,
        client: Client | None = None,
    ) -> Visit:
        return actions.check_in(
            site=site,
            client=client or register(site),
            planned_route=route,
            planned_substances=[substance(site, code)],
            otherwise_location="street",
            would_use_alone="yes",
            eligibility={"first_time": False, "intoxicated": False},
            by=by or desk,
            idempotency_key=uuid.uuid4(),
        )

    return make


@pytest.fixture
def seat_in(nurse: User) -> Callable[..., ConsumptionSession]:
    """Put a waiting visit in a space by name (now, by the nurse)."""

    def make(visit: Visit, name: str, *, seat: int = 1, at: dt.datetime | None = None):
        return board.assign_space(
            visit=visit, space=space(visit.site, name), seat=seat, by=nurse, at=at
        )

    return make


@pytest.fixture
def nurse2(site_a: Site) -> User:
    return make_user("noor.nurse", (Role.FLOOR, site_a))


@pytest.fixture
def van(network: Network) -> Site:
    """A mobile unit of the same network."""
    return make_site(network, "The van", "van", kind="mobile")


@pytest.fixture
def van_nurse(van: Site) -> User:
    return make_user("val.van", (Role.FLOOR, van), (Role.DESK, van))


@pytest.fixture
def as_van_nurse(van_nurse: User) -> HttpClient:
    client = HttpClient()
    client.force_login(van_nurse)
    return client


def minutes_from_now(minutes: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(minutes=minutes)
