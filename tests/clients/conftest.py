"""Helpers for the client-registry tests: registering through HTTP as the desk would, and a
worker of another network."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from saferoom.clients.models import Client
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.sites.models import ClientCodeScheme, Network, Site
from tests.conftest import login, make_user

# What a client gives at the desk under each scheme (the brief's test identity).
NDTMS = {"initials": "QZ", "date_of_birth": "1987-03-14", "sex": "female", "gender": "female"}
ONTARIO = {"gender": "female", "letters": "QZXW", "year_of_birth": "1987"}
CHOSEN = {"chosen_name": "Sparrowhawk Nine", "gender": "not_stated", "year_of_birth": "1987"}
SCHEME_DATA = {
    ClientCodeScheme.INITIALS_DOB_SEX: NDTMS,
    ClientCodeScheme.GENDER_LETTERS_YOB: ONTARIO,
    ClientCodeScheme.CHOSEN_NAME: CHOSEN,
}


def register_url(site: Site) -> str:
    return reverse("clients:register", kwargs={"site": site.slug})


def find_url(site: Site) -> str:
    return reverse("clients:find", kwargs={"site": site.slug})


def detail_url(site: Site, client: Client | int) -> str:
    pk = client if isinstance(client, int) else client.pk
    return reverse("clients:detail", kwargs={"site": site.slug, "pk": pk})


def post_registration(
    http: HttpClient, site: Site, data: dict[str, Any] | None = None, **extra: Any
) -> Any:
    """POST the registration form, as the page would send it (fresh idempotency key)."""
    payload = {**(data if data is not None else NDTMS), **extra}
    payload.setdefault("idempotency_key", str(uuid.uuid4()))
    return http.post(register_url(site), payload)


def register_via_http(http: HttpClient, site: Site, data: dict[str, Any] | None = None) -> Client:
    before = set(Client.objects.values_list("pk", flat=True))
    response = post_registration(http, site, data)
    assert response.status_code == 200, response.content.decode()[:2000]
    created = Client.objects.exclude(pk__in=before)
    assert created.count() == 1, response.content.decode()[:3000]
    return created.get()


def find_by_code(http: HttpClient, site: Site, code: str) -> Any:
    return http.post(find_url(site), {"search": "code", "code": code})


def use_scheme(network: Network, scheme: str) -> None:
    network.client_code_scheme = scheme
    network.save(update_fields=["client_code_scheme"])


@pytest.fixture
def other_network_worker(other_network_site: Site) -> User:
    return make_user(
        "olga.othernet", (Role.DESK, other_network_site), (Role.MANAGER, other_network_site)
    )


@pytest.fixture
def as_other_network_worker(other_network_worker: User) -> HttpClient:
    return login(other_network_worker)


@pytest.fixture
def site_b_manager(site_b: Site) -> User:
    return make_user("bea.manager", (Role.MANAGER, site_b))


@pytest.fixture
def as_site_b_manager(site_b_manager: User) -> HttpClient:
    return login(site_b_manager)


def make_visit(
    site: Site, client: Client, by: User, *, state: str = "left", hours_ago: int = 2
) -> Any:
    """A visit straight in the database (the floor's check-in is tested in tests/floor)."""
    import datetime as dt

    from django.utils import timezone

    from saferoom.floor.models import Visit

    arrived = timezone.now() - dt.timedelta(hours=hours_ago)
    ended = state in ("left", "turned_away")
    return Visit.objects.create(
        site=site,
        client=client,
        arrived_at=arrived,
        state=state,
        created_by=by,
        ended_at=arrived + dt.timedelta(minutes=30) if ended else None,
        ended_by=by if ended else None,
        end_reason="checked_out" if ended else "",
    )
