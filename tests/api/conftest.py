"""The API's test kit: a token per persona, an HTTP client that sends it, and a working
afternoon at Riverside with visits, sessions and stock made through the real actions."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.test import Client as HttpClient
from django.urls import reverse

from saferoom.api import actions as api_actions
from saferoom.care.supplies import actions as supplies_actions
from saferoom.clients.models import Client
from saferoom.core.models import User
from saferoom.floor import actions as floor_actions
from saferoom.floor import board
from saferoom.floor.models import ConsumptionSession, Visit
from saferoom.sites.models import CatalogueItem, Site, Space
from tests.floor.conftest import AFTERNOON, client_a, register  # noqa: F401 - fixtures

ELIGIBLE = {"first_time": False, "intoxicated": False, "old_enough": True}


@pytest.fixture(autouse=True)
def afternoon() -> Iterator[Any]:
    """A Tuesday afternoon in March 2026: Riverside is open."""
    with time_machine.travel(AFTERNOON, tick=True) as traveller:
        yield traveller


class Api:
    """An HTTP client that calls the API with a token (or none)."""

    def __init__(self, token: str | None = None) -> None:
        self.http = HttpClient()
        self.token = token

    def headers(self, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def get(self, name: str, kwargs: dict[str, Any] | None = None, **query: Any) -> Any:
        return self.http.get(reverse(name, kwargs=kwargs), query, headers=self.headers())

    def post(
        self,
        name: str,
        kwargs: dict[str, Any] | None = None,
        body: Any = None,
        *,
        key: str | None = "new",
    ) -> Any:
        """POST ``body`` as JSON; ``key="new"`` sends a fresh Idempotency-Key, None none."""
        if key == "new":
            key = str(uuid.uuid4())
        return self.http.post(
            reverse(name, kwargs=kwargs),
            json.dumps(body if body is not None else {}),
            content_type="application/json",
            headers=self.headers(key),
        )


def token(user: User) -> str:
    _row, raw = api_actions.create_token(user=user, name="tests", by=None)
    return raw


@pytest.fixture
def api_for() -> Any:
    def make(user: User | None) -> Api:
        return Api(token(user) if user is not None else None)

    return make


@pytest.fixture
def api_desk(desk: User) -> Api:
    return Api(token(desk))


@pytest.fixture
def api_nurse(nurse: User) -> Api:
    return Api(token(nurse))


@pytest.fixture
def api_manager(manager: User) -> Api:
    return Api(token(manager))


@pytest.fixture
def api_evaluator(evaluator: User) -> Api:
    return Api(token(evaluator))


def substance(site: Site, code: str = "heroin") -> CatalogueItem:
    return CatalogueItem.objects.get(network=site.network, site=None, kind="substance", code=code)


def supply(site: Site, code: str = "foil") -> CatalogueItem:
    return CatalogueItem.objects.get(network=site.network, site=None, kind="supply", code=code)


def booth(site: Site, n: int) -> Space:
    return Space.objects.get(site=site, name=f"Booth {n}")


class Floor:
    """Records made through the real actions, as a manager at the site."""

    def __init__(self, site: Site, by: User) -> None:
        self.site = site
        self.by = by

    def visit(self, client: Client | None = None, route: str = "inject") -> Visit:
        return floor_actions.check_in(
            site=self.site,
            client=client,
            anonymous=client is None,
            planned_route=route,
            planned_substances=[substance(self.site)],
            otherwise_location="not_said",
            would_use_alone="not_said",
            eligibility=ELIGIBLE,
            by=self.by,
            idempotency_key=uuid.uuid4(),
        )

    def session(self, space: Space, client: Client | None = None) -> ConsumptionSession:
        return board.assign_space(
            visit=self.visit(client), space=space, by=self.by, at=dt.datetime.now(dt.UTC)
        )

    def stock(self, item: CatalogueItem, quantity: int) -> None:
        supplies_actions.receive_stock(
            site=self.site, item=item, quantity=quantity, by=self.by, idempotency_key=uuid.uuid4()
        )


@pytest.fixture
def floor_a(site_a: Site, manager: User) -> Floor:
    return Floor(site_a, manager)
