"""The supplies test kit: a visit at Riverside, supplies by code, and stock put on the shelf
through the real actions."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import pytest
from django.utils import timezone

from saferoom.care.supplies import actions
from saferoom.clients.codes import new_display_code
from saferoom.clients.models import Client
from saferoom.core.models import User
from saferoom.floor.models import Visit
from saferoom.sites.models import CatalogueItem, Network, Site


def key() -> str:
    return str(uuid.uuid4())


def make_client(network: Network, site: Site, by: User, year: int = 1985) -> Client:
    return Client.objects.create(
        network=network,
        display_code=new_display_code(),
        linkage_hash=f"{year:064d}{uuid.uuid4().hex}"[:64],
        scheme=network.client_code_scheme,
        gender="not_stated",
        year_of_birth=year,
        registered_at=timezone.now() - dt.timedelta(days=30),
        registered_site=site,
        registered_by=by,
    )


def make_visit(
    site: Site, by: User, client: Client | None = None, *, planned_route: str = "inject"
) -> Visit:
    return Visit.objects.create(
        site=site,
        client=client,
        anonymous=client is None,
        arrived_at=timezone.now() - dt.timedelta(minutes=30),
        state=Visit.State.AFTERCARE,
        planned_route=planned_route,
        created_by=by,
    )


@pytest.fixture
def supply(network: Network) -> Callable[[str], CatalogueItem]:
    def get(code: str) -> CatalogueItem:
        return CatalogueItem.objects.get(network=network, site=None, kind="supply", code=code)

    return get


@pytest.fixture
def service(network: Network) -> Callable[[str], CatalogueItem]:
    def get(code: str) -> CatalogueItem:
        return CatalogueItem.objects.get(network=network, site=None, kind="service", code=code)

    return get


@pytest.fixture
def filters(supply: Callable[[str], CatalogueItem]) -> CatalogueItem:
    return supply("filter")


@pytest.fixture
def client_a(network: Network, site_a: Site, desk: User) -> Client:
    return make_client(network, site_a, desk)


@pytest.fixture
def visit(site_a: Site, desk: User, client_a: Client) -> Visit:
    return make_visit(site_a, desk, client_a)


@pytest.fixture
def stock(manager: User) -> Callable[..., None]:
    """Put ``n`` of an item on a site's shelf (a delivery, through the real action)."""

    def put(site: Site, item: CatalogueItem, n: int) -> None:
        actions.receive_stock(site=site, item=item, quantity=n, by=manager, idempotency_key=key())

    return put
