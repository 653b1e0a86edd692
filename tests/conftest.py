"""Personas and sites every test can use.

Site A ("Riverside") is where most personas work; site B ("Eastgate") is another site of the
same network; site C belongs to another network entirely."""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client as HttpClient
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import hotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from saferoom.accounts import tablets
from saferoom.accounts.models import EnrolledTablet
from saferoom.accounts.two_factor import requires_two_factor
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.floor import board_cache
from saferoom.sites.access import sites_for
from saferoom.sites.defaults import seed_catalogue
from saferoom.sites.models import Membership, Network, OpeningHours, Site, Space

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's test databases, and at the end on PostgreSQL: a connection some thread
    or server process of a test still holds (a browser's last poll) is given five seconds,
    named on stderr, then ended, so dropping the test database never fails the run."""
    yield
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        others = (
            "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        for _ in range(50):
            cursor.execute(f"SELECT application_name, state, left(query, 120) {others}")
            left = cursor.fetchall()
            if not left:
                break
            time.sleep(0.1)
        else:
            # Said, not warned: the suite turns warnings into errors.
            print(f"\nEnding test database connections left open: {left}", file=sys.stderr)
            cursor.execute(f"SELECT pg_terminate_backend(pid) {others}")
            for _ in range(50):  # pg_terminate_backend only asks: wait until they are gone
                cursor.execute(f"SELECT count(*) {others}")
                if cursor.fetchone()[0] == 0:
                    break
                time.sleep(0.1)
    connection.close()


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


def totp_code(device: TOTPDevice) -> str:
    """The code the person's authenticator app shows now (the next one if now's is used up:
    each code works once)."""
    device.refresh_from_db()
    now_step = int((time.time() - device.t0) // device.step) + device.drift
    return str(hotp(device.bin_key, max(now_step, device.last_t + 1), device.digits)).zfill(
        device.digits
    )


def authenticator(user: User) -> TOTPDevice:
    """The person's authenticator app (set up for them if they have none)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="Test phone", confirmed=True)


def pass_two_factor(client: HttpClient, user: User) -> None:
    """Mark the client's session as having passed two-factor login, as django-otp does."""
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = authenticator(user).persistent_id
    session.save()


def enrolled_tablet(site: Site, label: str = "Test tablet") -> tuple[EnrolledTablet, str]:
    """A tablet enrolled for ``site`` (as a manager's code would make it), and its secret."""
    secret = tablets.new_secret()
    tablet = EnrolledTablet.objects.create(
        site=site, label=label, secret_hash=tablets.secret_hash(secret), enrolled_at=timezone.now()
    )
    return tablet, secret


def on_tablet(client: HttpClient, site: Site, label: str = "Test tablet") -> EnrolledTablet:
    """Make ``client`` a tablet enrolled for ``site``: it carries the tablet's cookie."""
    tablet, secret = enrolled_tablet(site, label)
    client.cookies[settings.TABLET_COOKIE_NAME] = secret
    return tablet


force_login_password_only = HttpClient.force_login
_login_with_password = HttpClient.login


def _second_factor(client: HttpClient, user: User) -> None:
    if requires_two_factor(user):
        pass_two_factor(client, user)
    elif settings.TABLET_COOKIE_NAME not in client.cookies:
        site = sites_for(user).first()
        if site is not None:
            on_tablet(client, site)


def _force_login_with_second_factor(
    self: HttpClient, user: User, backend: str | None = None
) -> None:
    force_login_password_only(self, user, backend)
    _second_factor(self, user)


def _login_with_second_factor(self: HttpClient, **credentials: Any) -> bool:
    if not _login_with_password(self, **credentials):
        return False
    _second_factor(self, User.objects.get(pk=self.session["_auth_user_id"]))
    return True


@pytest.fixture(autouse=True)
def _logged_in_personas_pass_two_factor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every persona has a second factor: managers, evaluators and administrators an
    authenticator app, desk and floor staff an enrolled tablet of their site (ADR 14). A test
    client's ``force_login`` (or ``login``) gives them a session that has passed it (for the
    desk and the floor the client becomes a tablet enrolled for their first site), so every test
    (and the access table) sees the pages as a real, fully logged-in person does. Tests of the
    password-only state log in through the login form, or with ``force_login_password_only``."""
    monkeypatch.setattr(HttpClient, "force_login", _force_login_with_second_factor)
    monkeypatch.setattr(HttpClient, "login", _login_with_second_factor)


@pytest.fixture(autouse=True)
def _no_board_render_from_another_test() -> None:
    """Each server process shares a board render for a second (saferoom.floor.board_cache);
    a test's database is rolled back, so the next test may reuse its ids and versions."""
    board_cache.clear()


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
