"""The desk's test kit: a working afternoon at Riverside, clients registered through the real
registry, and a check-in form filled the way a desk worker would fill it."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from saferoom.clients.actions import register_client, set_ban
from saferoom.clients.codes import SchemeAttributes
from saferoom.clients.models import Ban, Client
from saferoom.core.models import User
from saferoom.floor.models import Visit
from saferoom.sites.models import CatalogueItem, Site

LONDON = ZoneInfo("Europe/London")
# A Tuesday afternoon: Riverside (09:00–21:00 every day) is open.
AFTERNOON = dt.datetime(2026, 3, 10, 14, 0, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def afternoon() -> Iterator[Any]:
    with time_machine.travel(AFTERNOON, tick=True) as traveller:
        yield traveller


_initials = itertools.cycle(f"{a}{b}" for a in "ABCDEFGHJK" for b in "LMNPRSTVWY")


@pytest.fixture
def register(manager: User) -> Callable[..., Client]:
    """Register a client through the real registry (born mid-year unless told)."""

    def make(
        site: Site, *, year: int = 1985, gender: str = "male", by: User | None = None
    ) -> Client:
        return register_client(
            site=site,
            attrs=SchemeAttributes(
                initials=next(_initials), date_of_birth=dt.date(year, 6, 15), sex=gender
            ),
            gender=gender,
            by=by or manager,
            idempotency_key=uuid.uuid4(),
            confirm_not_duplicate=True,
        )

    return make


@pytest.fixture
def client_a(register: Callable[..., Client], site_a: Site) -> Client:
    return register(site_a)


@pytest.fixture
def ban(admin: User) -> Callable[..., Ban]:
    """Ban a client, as the network's administrator (who may ban anywhere)."""

    def make(client: Client, site: Site | None, *, days: int | None = 7) -> Ban:
        now = dt.datetime.now(dt.UTC)
        return set_ban(
            client=client,
            site=site,
            reason="violence",
            note="",
            starts_at=now - dt.timedelta(minutes=1),
            expires_at=None if days is None else now + dt.timedelta(days=days),
            by=admin,
            idempotency_key=uuid.uuid4(),
        )

    return make


def item(site: Site, kind: str, code: str) -> CatalogueItem:
    return CatalogueItem.objects.get(network=site.network, site=None, kind=kind, code=code)


def substance(site: Site, code: str = "heroin") -> CatalogueItem:
    return item(site, "substance", code)


def reason(site: Site, code: str) -> CatalogueItem:
    return item(site, "turnaway_reason", code)


def checkin_form(site: Site, **overrides: Any) -> dict[str, Any]:
    """What a desk worker submits for a first check-in: not first-time use, not intoxicated,
    heroin by injection, would otherwise have used on the street, alone."""
    data: dict[str, Any] = {
        "idempotency_key": str(uuid.uuid4()),
        "substances": [substance(site).pk],
        "route": "inject",
        "otherwise_location": "street",
        "would_use_alone": "yes",
        "first_time": "no",
        "intoxicated": "no",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def turnaway_form(site: Site, code: str, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"idempotency_key": str(uuid.uuid4()), "reason": reason(site, code).pk}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def is_checked(page: str, name: str, value: object) -> bool:
    """Whether the page preselects this radio button or checkbox."""
    pattern = rf'<input[^>]*name="{re.escape(name)}"[^>]*value="{re.escape(str(value))}"[^>]*>'
    return any(" checked" in tag for tag in re.findall(pattern, page))


def reason_code(visit: Visit) -> str:
    """The code of a turned-away visit's reason."""
    assert visit.turnaway_reason is not None
    return visit.turnaway_reason.code
