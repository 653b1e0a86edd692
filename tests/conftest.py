"""Personas and sites every test can use.

Site A ("Riverside") is where most personas work; site B ("Eastgate") is another site of the
same network; site C belongs to another network entirely."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client as HttpClient

from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.sites.defaults import seed_catalogue
from saferoom.sites.models import Membership, Network, OpeningHours, Site, Space

PASSWORD = "correct horse battery staple"


def make_site(network: Network, name: str, slug: str, **extra: object) -> Site:
    site = Site.objects.create(network=network, name=name, slug=slug, **extra)
    for weekday in range(7):
        OpeningHours.objects.create(
            site=site, weekday=weekday, opens=dt.time(9, 0), closes=dt.time(21, 0)
        )
    for i in range(1, 5):
        Space.objects.create(site=site, name=f"Booth {i}", kind="booth", sort_order=i)
    Space.objects.create(
        site=site,
        name="Smoking room",
        kind="inhalation",
        seats=3,
        clear_down_minutes=10,
        sort_order=10,
    )
    Space.objects.create(site=site, name="Recovery", kind="aftercare", seats=8, sort_order=20)
    return site


def make_user(username: str, *roles_at: tuple[Role, Site | Network]) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, display_name=username)
    for role, where in roles_at:
        if isinstance(where, Site):
            Membership.objects.create(user=user, network=where.network, site=where, role=role)
        else:
            Membership.objects.create(user=user, network=where, site=None, role=role)
    return user


@pytest.fixture
def network(db: None) -> Network:
    net = Network.objects.create(name="Test network")
    seed_catalogue(net)
    return net


@pytest.fixture
def site_a(network: Network) -> Site:
    return make_site(network, "Riverside", "riverside", anonymous_visits_allowed=True)


@pytest.fixture
def site_b(network: Network) -> Site:
    return make_site(network, "Eastgate", "eastgate")


@pytest.fixture
def other_network_site(db: None) -> Site:
    net = Network.objects.create(name="Other network")
    seed_catalogue(net)
    return make_site(net, "Elsewhere", "elsewhere")


@pytest.fixture
def desk(site_a: Site) -> User:
    return make_user("dana.desk", (Role.DESK, site_a))


@pytest.fixture
def nurse(site_a: Site) -> User:
    return make_user("nina.nurse", (Role.FLOOR, site_a))


@pytest.fixture
def manager(site_a: Site) -> User:
    return make_user("mo.manager", (Role.MANAGER, site_a))


@pytest.fixture
def evaluator(site_a: Site) -> User:
    return make_user("eve.evaluator", (Role.EVALUATOR, site_a))


@pytest.fixture
def admin(network: Network, site_a: Site) -> User:
    return make_user("ada.admin", (Role.ADMIN, network))


@pytest.fixture
def other_site_worker(site_b: Site) -> User:
    """Works the desk at another site of the same network."""
    return make_user("oscar.other", (Role.DESK, site_b))


def login(user: User) -> HttpClient:
    client = HttpClient()
    client.force_login(user)
    return client


@pytest.fixture
def as_desk(desk: User) -> HttpClient:
    return login(desk)


@pytest.fixture
def as_nurse(nurse: User) -> HttpClient:
    return login(nurse)


@pytest.fixture
def as_manager(manager: User) -> HttpClient:
    return login(manager)


@pytest.fixture
def as_evaluator(evaluator: User) -> HttpClient:
    return login(evaluator)


@pytest.fixture
def as_admin(admin: User) -> HttpClient:
    return login(admin)


@pytest.fixture
def as_other_site_worker(other_site_worker: User) -> HttpClient:
    return login(other_site_worker)
