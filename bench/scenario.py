"""The world a benchmark measures, built through saferoom's real actions (never ORM writes to
visits or sessions): a network with sites of 5, 15 and 30 places, staff, and a busy afternoon
on each — people waiting, people in booths and inhalation-room seats (some with checks due or
overdue), seats in clear-down, people in after-care, a booth out of service, an emergency —
and the logged-in devices that poll them.

A "place" is what the board shows as one tile or seat: the 30-place site has 24 injection
booths and 2 inhalation rooms of 3 seats, plus its recovery area."""

from __future__ import annotations

import importlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import ModuleType
from typing import Any

from django.conf import settings
from django.test import Client as TestClient
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from saferoom.accounts import tablets
from saferoom.accounts.models import EnrolledTablet
from saferoom.clients.actions import register_client
from saferoom.clients.codes import SchemeAttributes
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.floor import actions as desk_actions
from saferoom.floor.models import Visit
from saferoom.sites import actions as site_actions
from saferoom.sites.defaults import seed_catalogue
from saferoom.sites.models import CatalogueItem, Membership, Network, Site

SIZES = (5, 15, 30)
DEVICES = 20  # tablets and desk PCs with the board open, each its own logged-in session
ELIGIBLE = {"old_enough": True, "first_time": False, "intoxicated": False}


def board_module() -> ModuleType | None:
    """``saferoom.floor.board`` once it exists with its poll address, else None."""
    try:
        module = importlib.import_module("saferoom.floor.board")
        reverse("board:poll", kwargs={"site": "x"})
    except (ImportError, NoReverseMatch):
        return None
    return module


@dataclass
class Floor:
    """One site of the benchmark and what was put on its board."""

    site: Site
    places: int
    waiting: int = 0
    in_space: int = 0
    clearing: int = 0
    aftercare: int = 0
    out_of_service: int = 0
    emergencies: int = 0
    overdue: int = 0

    def describe(self) -> str:
        return (
            f"{self.places} places: {self.in_space} in use ({self.overdue} with a check "
            f"overdue, {self.emergencies} emergency), {self.clearing} clearing down, "
            f"{self.out_of_service} out of service; {self.waiting} waiting, "
            f"{self.aftercare} in after-care"
        )


@dataclass
class World:
    network: Network
    admin: User
    nurses: list[User]
    desk: User
    floors: dict[int, Floor]
    board: ModuleType | None
    cookies: dict[str, list[str]] = field(default_factory=dict)

    def floor(self, places: int = 30) -> Floor:
        return self.floors[places]


def _user(username: str) -> User:
    return User.objects.create_user(
        username=username, password=uuid.uuid4().hex, display_name=username
    )


def _layout(places: int) -> tuple[int, int]:
    """(booths, inhalation rooms of 3 seats) for a site of ``places`` places."""
    rooms = 2 if places >= 15 else 1
    return places - 3 * rooms, rooms


class Builder:
    """Fills one site through the actions, at times in the recent past (``at=``)."""

    def __init__(self, world: World, now: datetime) -> None:
        self.world = world
        self.now = now
        self.rng = random.Random(2026)
        self.people = 0

    def site(self, places: int) -> Site:
        w = self.world
        site = site_actions.create_site(
            network=w.network, name=f"Bench {places}", slug=f"bench-{places}", by=w.admin
        )
        # Open round the clock, so the benchmark does not depend on when it runs.
        site_actions.set_opening_hours(
            site=site,
            periods=[
                site_actions.Period(day, opens, closes)
                for day in range(7)
                for opens, closes in ((time(0), time(12)), (time(12), time(0)))
            ],
            expected_version=site.version,  # made a moment ago
            by=w.admin,
        )
        booths, rooms = _layout(places)
        order = 0
        for i in range(1, booths + 1):
            order += 1
            site_actions.create_space(
                site=site,
                name=f"Booth {i}",
                kind="booth",
                accessible=i == 1,
                sort_order=order,
                by=w.admin,
            )
        for i in range(1, rooms + 1):
            order += 1
            site_actions.create_space(
                site=site,
                name=f"Smoking room {i}",
                kind="inhalation",
                seats=3,
                sort_order=order,
                by=w.admin,
            )
        site_actions.create_space(
            site=site, name="Recovery", kind="aftercare", seats=8, sort_order=order + 1, by=w.admin
        )
        return site

    def check_in(self, site: Site, route: str, at: datetime) -> Visit:
        self.people += 1
        n = self.people
        client = register_client(
            site=site,
            attrs=SchemeAttributes(
                initials="ABCDEFGHJKLMNPRSTW"[n % 18] + "ABCDEFGHJKLMNPRSTW"[(n // 18) % 18],
                date_of_birth=date(1960 + n % 40, 1 + n % 12, 1 + n % 28),
                sex="male" if n % 3 else "female",
            ),
            gender="male" if n % 3 else "female",
            by=self.world.desk,
            idempotency_key=uuid.uuid4(),
            confirm_not_duplicate=True,
            at=at - timedelta(minutes=1),
        )
        code = "heroin" if route == "inject" else "crack"
        substance = CatalogueItem.objects.get(
            network=site.network, site=None, kind="substance", code=code
        )
        return desk_actions.check_in(
            site=site,
            client=client,
            planned_route=route,
            planned_substances=[substance],
            otherwise_location="street",
            would_use_alone="yes",
            eligibility=ELIGIBLE,
            by=self.world.desk,
            idempotency_key=uuid.uuid4(),
            at=at,
        )

    def fill(self, floor: Floor) -> None:
        """A busy afternoon: two thirds of the places in use, a few clearing down, one out of
        service, an eighth of the places' worth (at least two) waiting, some in after-care."""
        site, places, board = floor.site, floor.places, self.world.board
        now = self.now
        nurse = self.world.nurses[0]
        spaces = list(site.spaces.exclude(kind="aftercare").order_by("sort_order"))
        seats = [(space, seat) for space in spaces for seat in range(1, space.seats + 1)]
        self.rng.shuffle(seats)
        if board is not None:
            in_use = round(places * 2 / 3)
            clearing = max(1, places // 15)
            aftercare = max(1, places // 10)
            for i, (space, seat) in enumerate(seats[:in_use]):
                route = "smoke" if space.kind == "inhalation" else "inject"
                started = now - timedelta(minutes=3 + (i * 7) % 30)
                visit = self.check_in(site, route, started - timedelta(minutes=5))
                session = board.assign_space(
                    visit=visit, space=space, seat=seat, by=nurse, at=started
                )
                # Most have had a check since; a few were last seen long ago (due, overdue).
                if i % 5:
                    board.record_check(
                        session=session, by=nurse, at=max(started, now - timedelta(minutes=2))
                    )
                elif started < now - timedelta(minutes=7):
                    floor.overdue += 1
                if i == 0 and hasattr(board, "start_emergency"):
                    board.start_emergency(session=session, by=nurse, at=now - timedelta(minutes=1))
                    floor.emergencies += 1
            floor.in_space = in_use
            # Ended a moment ago: their seats clear down, and they recover in after-care.
            for space, seat in seats[in_use : in_use + clearing]:
                route = "smoke" if space.kind == "inhalation" else "inject"
                visit = self.check_in(site, route, now - timedelta(minutes=40))
                session = board.assign_space(
                    visit=visit, space=space, seat=seat, by=nurse, at=now - timedelta(minutes=30)
                )
                board.end_session(session=session, by=nurse, at=now - timedelta(seconds=30))
            floor.clearing = clearing
            # Earlier sessions, over and cleaned: these people are in after-care now.
            for space, seat in seats[in_use + clearing : in_use + clearing + aftercare]:
                route = "smoke" if space.kind == "inhalation" else "inject"
                visit = self.check_in(site, route, now - timedelta(minutes=70))
                session = board.assign_space(
                    visit=visit, space=space, seat=seat, by=nurse, at=now - timedelta(minutes=60)
                )
                board.end_session(session=session, by=nurse, at=now - timedelta(minutes=40))
            floor.aftercare = clearing + aftercare
            taken = {space.pk for space, _ in seats[: in_use + clearing]}
            spare = [s for s in spaces if s.kind == "booth" and s.pk not in taken]
            if places >= 15 and spare:
                site_actions.set_out_of_service(
                    space=spare[-1], reason="Broken light", by=self.world.admin
                )
                floor.out_of_service = 1
        floor.waiting = max(2, round(places * 8 / 30))
        for i in range(floor.waiting):
            route = "smoke" if i % 3 == 2 else "inject"
            self.check_in(site, route, now - timedelta(minutes=1 + i * 3))


def build(*, places: tuple[int, ...] = SIZES) -> World:
    """Create the network, staff, sites and devices (into an empty, migrated database)."""
    network = Network.objects.create(name="Benchmark network")
    seed_catalogue(network)
    admin = _user("bench.admin")
    Membership.objects.create(user=admin, network=network, site=None, role=Role.ADMIN)
    world = World(
        network=network,
        admin=admin,
        nurses=[_user(f"bench.nurse{i}") for i in range(1, 5)],
        desk=_user("bench.desk"),
        floors={},
        board=board_module(),
    )
    builder = Builder(world, timezone.now())
    for n in places:
        site = builder.site(n)
        for nurse in world.nurses:
            Membership.objects.create(user=nurse, network=network, site=site, role=Role.FLOOR)
        Membership.objects.create(user=world.desk, network=network, site=site, role=Role.DESK)
        world.floors[n] = Floor(site=Site.objects.get(pk=site.pk), places=n)
        builder.fill(world.floors[n])
    # Desk and floor staff work on a tablet enrolled for their sites (ADR 14); everyone here
    # works at every bench site, so one enrolled tablet's cookie serves every device.
    tablet = _enrolled_tablet(world.floors[min(world.floors)].site)
    world.cookies["floor"] = [
        _log_in(world.nurses[i % len(world.nurses)], tablet) for i in range(DEVICES)
    ]
    world.cookies["desk"] = [_log_in(world.desk, tablet) for _ in range(2)]
    return world


def _enrolled_tablet(site: Site) -> str:
    """A tablet enrolled for ``site`` (as a manager's code would make it), as a Cookie pair."""
    secret = tablets.new_secret()
    EnrolledTablet.objects.create(
        site=site,
        label="Bench tablet",
        secret_hash=tablets.secret_hash(secret),
        enrolled_at=timezone.now(),
    )
    return f"{settings.TABLET_COOKIE_NAME}={secret}"


def _log_in(user: User, tablet: str) -> str:
    """A fresh session for ``user`` on ``tablet``, as a Cookie header (one per device)."""
    client = TestClient()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}; {tablet}"


def counts(site: Site) -> dict[str, Any]:
    """What is on the board now, by visit state (for the record)."""
    return {
        state: Visit.objects.filter(site=site, state=state).count()
        for state in ("waiting", "in_space", "aftercare")
    }
