"""Enrolled tablets, the second factor of desk and floor staff without an authenticator app
(ADR 14, checklist item 4): a password-only desk or floor session on a device that is not a
tablet enrolled for their site reaches no protected page; on one, it reaches its pages. A manager
of the site makes a one-time code, typed on the tablet's public "Enrol this tablet" page; a
wrong, used or expired code changes nothing; revoking a tablet ends the logins open on it. The
device's secret is never in the database, a URL or a log, and the code only as a keyed hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import uuid
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, connection, transaction
from django.test import Client as HttpClient
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from saferoom.accounts import actions, tablets
from saferoom.accounts.models import EnrolledTablet, LoginSession, StaffPin, TabletEnrolmentCode
from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.core.roles import Role
from tests.access_table import ACCESS_TABLE, build_samples
from tests.conftest import (
    PASSWORD,
    authenticator,
    enrolled_tablet,
    force_login_password_only,
    login,
    make_user,
    on_tablet,
    pass_two_factor,
)
from tests.test_access_table import url_for

pytestmark = pytest.mark.django_db

HELD = reverse("accounts:tablet_needed")
ENROL = reverse("accounts:tablet_enrol")
QUEUE = reverse("floor:queue", kwargs={"site": "riverside"})
PIN = "402917"


def tablets_page(site) -> str:
    return reverse("accounts:tablets", kwargs={"site": site.slug})


def password_login(user, client: HttpClient | None = None) -> HttpClient:
    """The login form, as a person types it, on ``client`` (a fresh device by default)."""
    client = client or HttpClient()
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def held_at_the_tablet_page(response) -> bool:
    location = response.get("Location", "") if response.status_code in (204, 302) else ""
    location = location or response.get("HX-Redirect", "")
    return location.startswith(HELD)


def make_code(manager, site, label: str = "Front desk tablet 1") -> str:
    """A manager makes a code on the Tablets page; returns it as the page shows it."""
    client = login(manager)
    form = client.get(tablets_page(site)).content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form)
    assert key
    response = client.post(tablets_page(site), {"label": label, "idempotency_key": key.group(1)})
    assert response.status_code == 200
    shown = re.search(
        r'<p class="code code-big"[^>]*>([A-Z0-9]{4}-[A-Z0-9]{4})</p>', response.content.decode()
    )
    assert shown, "the new code is shown on the page"
    return shown.group(1)


def enrol(client: HttpClient, code: str, key: str | None = None):
    return client.post(ENROL, {"code": code, "idempotency_key": key or str(uuid.uuid4())})


# --- a password alone, on a device that is not an enrolled tablet --------------------------


@pytest.fixture
def samples(network, site_a, site_b, desk) -> dict[str, Any]:
    return build_samples(network=network, site_a=site_a, site_b=site_b, desk=desk)


PROTECTED = sorted(
    name
    for name, row in ACCESS_TABLE.items()
    if not row.public and name != "accounts:tablet_needed"
)


@pytest.mark.parametrize("persona", ["desk", "nurse"])
def test_a_password_only_session_on_a_device_not_enrolled_reaches_no_protected_page(
    request, persona, samples
):
    user = request.getfixturevalue(persona)
    client = password_login(user)
    leaks = []
    for name in PROTECTED:
        url = url_for(name, ACCESS_TABLE[name], samples)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            if not held_at_the_tablet_page(response):
                leaks.append(f"{method.upper()} {name}: {response.status_code}")
    assert not leaks, f"{persona} got past the password alone:\n" + "\n".join(leaks)
    # An htmx request (the board's poll) is sent to the page as a whole page.
    response = client.get(
        reverse("board:board", kwargs={"site": "riverside"}), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == HELD


def test_the_page_a_desk_worker_is_held_on_says_why_and_what_to_do(desk, site_a):
    client = password_login(desk)
    response = client.get(QUEUE, follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0].startswith(HELD)
    assert "This tablet is not enrolled for Riverside." in page
    assert "Ask a manager to enrol it, or set up an authenticator app." in page
    assert 'href="/tablet/enrol/?next=' in page
    assert 'name="outbox-key"' not in page  # no key to a person's offline records either


def test_a_held_desk_worker_cannot_give_themselves_an_authenticator_app(desk, site_a):
    """An app set up from the password alone would be a second factor anyone with the password
    could give themselves."""
    client = password_login(desk)
    response = client.get(reverse("accounts:enrol"))
    assert held_at_the_tablet_page(response)
    response = client.post(reverse("accounts:enrol"), {"code": "123456", "device": 1})
    assert held_at_the_tablet_page(response)
    assert not TOTPDevice.objects.filter(user=desk).exists()


# --- on an enrolled tablet --------------------------------------------------------------


@pytest.mark.parametrize("persona", ["desk", "nurse"])
def test_on_a_tablet_enrolled_for_their_site_the_password_opens_their_pages(
    request, persona, site_a
):
    user = request.getfixturevalue(persona)
    tablet = HttpClient()
    on_tablet(tablet, site_a)
    password_login(user, tablet)
    for name in ("floor:queue", "board:board", "clients:find"):
        response = tablet.get(reverse(name, kwargs={"site": "riverside"}))
        assert response.status_code == 200, name


def test_a_tablet_enrolled_for_another_site_does_not_count(other_site_worker, site_a, site_b):
    """Oscar works only at Eastgate; Riverside's tablet is not his second factor."""
    tablet = HttpClient()
    on_tablet(tablet, site_a, "Riverside desk")
    password_login(other_site_worker, tablet)
    response = tablet.get(reverse("floor:queue", kwargs={"site": "eastgate"}))
    assert held_at_the_tablet_page(response)
    page = tablet.get(HELD).content.decode()
    assert "This tablet is not enrolled for Eastgate." in page
    assert "It is enrolled for Riverside (“Riverside desk”), where you do not work." in page


def test_managers_still_need_their_authenticator_on_an_enrolled_tablet(manager, site_a):
    authenticator(manager)
    tablet = HttpClient()
    on_tablet(tablet, site_a)
    password_login(manager, tablet)
    response = tablet.get(QUEUE)
    assert response["Location"].startswith(reverse("accounts:verify"))


def test_a_desk_worker_with_an_authenticator_app_logs_in_anywhere_with_its_code(desk, site_a):
    authenticator(desk)
    client = password_login(desk)
    response = client.get(QUEUE)
    assert response["Location"].startswith(reverse("accounts:verify"))


def test_with_the_rule_off_the_password_alone_opens_the_desk_anywhere(desk, site_a, settings):
    settings.ENROLLED_TABLETS_REQUIRED = False
    client = password_login(desk)
    assert client.get(QUEUE).status_code == 200


def test_the_tablet_is_noted_as_seen_at_most_once_an_hour_and_its_cookie_renewed(
    desk, site_a, time_machine
):
    time_machine.move_to(dt.datetime(2026, 3, 3, 20, 0, tzinfo=dt.UTC), tick=False)
    tablet_client = HttpClient()
    tablet = on_tablet(tablet_client, site_a)
    response = tablet_client.post(
        reverse("login"), {"username": desk.username, "password": PASSWORD}
    )
    assert response.cookies[settings.TABLET_COOKIE_NAME]["max-age"] == settings.TABLET_COOKIE_AGE
    tablet.refresh_from_db()
    assert tablet.last_seen_at == dt.datetime(2026, 3, 3, 20, 0, tzinfo=dt.UTC)
    time_machine.shift(dt.timedelta(minutes=10))  # past the session's five-minute recheck
    response = tablet_client.get(QUEUE)
    assert response.status_code == 200
    assert settings.TABLET_COOKIE_NAME not in response.cookies
    tablet.refresh_from_db()
    assert tablet.last_seen_at == dt.datetime(2026, 3, 3, 20, 0, tzinfo=dt.UTC)


# --- revoking -------------------------------------------------------------------------------


def test_a_revoked_tablet_no_longer_counts_as_a_second_factor_even_in_an_open_login(
    desk, manager, site_a
):
    tablet_client = HttpClient()
    tablet = on_tablet(tablet_client, site_a, "Front desk tablet 1")
    password_login(desk, tablet_client)
    queue = QUEUE
    assert tablet_client.get(queue).status_code == 200  # the decision is now cached

    office = login(manager)
    page = office.get(tablets_page(site_a)).content.decode()
    assert "Front desk tablet 1" in page
    response = office.post(
        reverse("accounts:tablet_revoke", kwargs={"site": "riverside", "pk": tablet.pk}),
        follow=True,
    )
    assert "“Front desk tablet 1” is revoked" in response.content.decode()
    assert "1 login open on it has ended" in response.content.decode()

    # At the tablet's next tap: logged out, and a new password login is held.
    assert tablet_client.get(queue)["Location"].startswith(reverse("login"))
    password_login(desk, tablet_client)
    assert held_at_the_tablet_page(tablet_client.get(queue))
    tablet.refresh_from_db()
    assert tablet.revoked_at is not None
    assert tablet.revoked_by == manager
    event = AuditEvent.objects.get(action="tablet.revoked")
    assert event.actor_label == manager.username
    assert event.detail == {"label": "Front desk tablet 1", "logins_ended": 1}
    # Revoked, never deleted: it stays in the list.
    assert "Revoked" in office.get(tablets_page(site_a)).content.decode()


def test_revoking_a_tablet_twice_says_so_and_changes_nothing(manager, site_a):
    tablet, _secret = enrolled_tablet(site_a)
    actions.revoke_tablet(tablet=tablet, by=manager)
    with pytest.raises(ActionRefused, match="already revoked"):
        actions.revoke_tablet(tablet=tablet, by=manager)
    assert AuditEvent.objects.filter(action="tablet.revoked").count() == 1


def test_a_revoked_by_needs_its_revoked_at_in_the_database(manager, site_a):
    tablet, _secret = enrolled_tablet(site_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        EnrolledTablet.objects.filter(pk=tablet.pk).update(revoked_by=manager)


# --- who may make codes and revoke -------------------------------------------------------


def test_only_a_manager_of_the_site_makes_codes_or_revokes(
    as_desk, as_nurse, as_evaluator, as_other_site_worker, desk, site_a, site_b
):
    tablet, _secret = enrolled_tablet(site_a)
    revoke = reverse("accounts:tablet_revoke", kwargs={"site": "riverside", "pk": tablet.pk})
    eastgate_manager = login(make_user("erin.eastgate", (Role.MANAGER, site_b)))
    for client, expected in (
        (as_desk, 403),
        (as_nurse, 403),
        (as_evaluator, 403),
        (as_other_site_worker, 404),
        (eastgate_manager, 404),
    ):
        response = client.post(
            tablets_page(site_a), {"label": "Mine", "idempotency_key": uuid.uuid4()}
        )
        assert response.status_code == expected
        assert client.post(revoke).status_code == expected
    assert not TabletEnrolmentCode.objects.exists()
    tablet.refresh_from_db()
    assert tablet.revoked_at is None
    # Nor through the actions themselves.
    with pytest.raises(ActionRefused, match="Only a manager of Riverside"):
        actions.create_tablet_code(site=site_a, label="Mine", by=desk)
    with pytest.raises(ActionRefused, match="Only a manager of Riverside"):
        actions.revoke_tablet(tablet=tablet, by=desk)


def test_another_sites_tablet_cannot_be_revoked_through_this_site(manager, site_a, site_b):
    tablet, _secret = enrolled_tablet(site_b)
    response = login(manager).post(
        reverse("accounts:tablet_revoke", kwargs={"site": "riverside", "pk": tablet.pk})
    )
    assert response.status_code == 404
    tablet.refresh_from_db()
    assert tablet.revoked_at is None


# --- enrolling ------------------------------------------------------------------------------


def test_a_manager_makes_a_code_and_the_tablet_enrols_with_it(manager, desk, site_a):
    code = make_code(manager, site_a)
    row = TabletEnrolmentCode.objects.get()
    assert row.created_by == manager
    assert row.expires_at - row.created_at == dt.timedelta(minutes=settings.TABLET_CODE_MINUTES)

    device = HttpClient()
    assert "Enrol this tablet" in device.get(reverse("login")).content.decode()
    response = enrol(device, code.lower().replace("-", " "))  # typed as it comes
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    cookie = response.cookies[settings.TABLET_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["max-age"] == settings.TABLET_COOKIE_AGE
    tablet = EnrolledTablet.objects.get()
    assert (tablet.site, tablet.label, tablet.enrolled_by) == (
        site_a,
        "Front desk tablet 1",
        manager,
    )
    row.refresh_from_db()
    assert row.used_at is not None
    assert row.tablet == tablet
    assert AuditEvent.objects.filter(action="tablet.enrolled", object_id=str(tablet.pk)).exists()
    page = device.get(reverse("login")).content.decode()
    assert "This tablet is enrolled for Riverside (“Front desk tablet 1”)." in page

    password_login(desk, device)
    assert device.get(QUEUE).status_code == 200


def test_the_enrolment_cookie_is_secure_in_production(manager, site_a, settings):
    settings.SESSION_COOKIE_SECURE = True
    code = make_code(manager, site_a)
    response = enrol(HttpClient(), code)
    assert response.cookies[settings.TABLET_COOKIE_NAME]["secure"] is True


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("WRNG-CDE4", "That code is not right."),
        ("hello", "That is not an enrolment code."),
        ("<script>alert(1)</script>", "That is not an enrolment code."),
    ],
)
def test_a_wrong_code_is_refused_with_a_clear_message_and_changes_nothing(
    manager, site_a, typed, message
):
    make_code(manager, site_a)
    device = HttpClient()
    response = enrol(device, typed)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert settings.TABLET_COOKIE_NAME not in response.cookies
    assert not EnrolledTablet.objects.exists()
    assert TabletEnrolmentCode.objects.get().used_at is None
    event = AuditEvent.objects.get(action="tablet.enrolment_refused")
    assert typed not in str(event.detail)


def test_a_used_code_is_refused_and_enrols_nothing_more(manager, site_a):
    code = make_code(manager, site_a)
    assert enrol(HttpClient(), code).status_code == 302
    second = HttpClient()
    response = enrol(second, code)
    assert response.status_code == 200
    assert "That code has already been used." in response.content.decode()
    assert settings.TABLET_COOKIE_NAME not in response.cookies
    assert EnrolledTablet.objects.count() == 1


def test_an_expired_code_is_refused_and_enrols_nothing(manager, site_a, time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 3, 20, 0, tzinfo=dt.UTC), tick=False)
    code = make_code(manager, site_a)
    time_machine.shift(dt.timedelta(minutes=settings.TABLET_CODE_MINUTES, seconds=1))
    response = enrol(HttpClient(), code)
    assert response.status_code == 200
    assert "That code has expired: a code works for 15 minutes." in response.content.decode()
    assert not EnrolledTablet.objects.exists()
    assert TabletEnrolmentCode.objects.get().used_at is None


def test_the_same_enrolment_form_sent_twice_gives_one_tablet(manager, desk, site_a):
    """A double tap: the first answer's cookie may never reach the tablet, so the second answer
    carries the same tablet with a new secret; only the second works."""
    code = make_code(manager, site_a)
    device = HttpClient()
    key = str(uuid.uuid4())
    first = enrol(device, code, key)
    second = enrol(device, code, key)
    assert first.status_code == second.status_code == 302
    assert EnrolledTablet.objects.count() == 1
    assert AuditEvent.objects.filter(action="tablet.enrolled").count() == 1
    stale = HttpClient()
    stale.cookies[settings.TABLET_COOKIE_NAME] = first.cookies[settings.TABLET_COOKIE_NAME].value
    password_login(desk, stale)
    assert held_at_the_tablet_page(stale.get(QUEUE))
    password_login(desk, device)
    assert device.get(QUEUE).status_code == 200


def test_a_double_tap_on_make_a_code_makes_one_code_the_second_one_shown(manager, site_a):
    client = login(manager)
    key = str(uuid.uuid4())
    for _ in range(2):
        response = client.post(tablets_page(site_a), {"label": "Desk 2", "idempotency_key": key})
        assert response.status_code == 200
    shown = re.search(r"([A-Z0-9]{4}-[A-Z0-9]{4})</p>", response.content.decode())
    assert shown
    assert TabletEnrolmentCode.objects.count() == 1
    assert enrol(HttpClient(), shown.group(1)).status_code == 302


def test_enrolling_again_replaces_the_tablet_this_device_was(manager, site_a, site_b):
    device = HttpClient()
    old = on_tablet(device, site_a, "Front desk tablet 1")
    eastgate_manager = make_user("erin.eastgate", (Role.MANAGER, site_b))
    code = make_code(eastgate_manager, site_b, "Eastgate desk")
    page = device.get(ENROL).content.decode()
    assert "This tablet is enrolled for Riverside as “Front desk tablet 1”." in page
    assert enrol(device, code).status_code == 302
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert old.revoked_by is None
    assert EnrolledTablet.objects.get(revoked_at__isnull=True).site == site_b


def test_many_wrong_codes_pause_enrolling_but_not_logging_in(
    manager, desk, site_a, settings, time_machine
):
    time_machine.move_to(dt.datetime(2026, 3, 3, 20, 0, tzinfo=dt.UTC), tick=False)
    settings.TABLET_CODE_FAILURE_LIMIT = 3
    code = make_code(manager, site_a)
    for _ in range(3):
        enrol(HttpClient(), "WRNG-CDE4")
    response = enrol(HttpClient(), code)  # the right code, while paused
    assert response.status_code == 200
    assert "enrolling tablets is paused" in response.content.decode()
    assert not EnrolledTablet.objects.exists()
    # Tablets already enrolled, and logins on them, carry on.
    tablet_client = HttpClient()
    on_tablet(tablet_client, site_a)
    password_login(desk, tablet_client)
    assert tablet_client.get(QUEUE).status_code == 200
    # Once the wrong codes are older than the cool-off, enrolling works again.
    time_machine.shift(settings.AXES_COOLOFF_TIME)
    assert enrol(HttpClient(), make_code(manager, site_a)).status_code == 302


# --- no secret in the clear -------------------------------------------------------------


def test_no_device_secret_or_code_in_the_database_urls_or_logs(manager, desk, site_a, caplog):
    caplog.set_level(logging.DEBUG)
    code = make_code(manager, site_a)
    device = HttpClient()
    response = enrol(device, code)
    secret = response.cookies[settings.TABLET_COOKIE_NAME].value
    assert len(secret) >= 43
    password_login(desk, device)
    device.get(QUEUE)

    tablet = EnrolledTablet.objects.get()
    assert tablet.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    row = TabletEnrolmentCode.objects.get()
    assert row.code_hash == tablets.code_hash(code.replace("-", ""))
    # Neither the secret nor the code anywhere in the database, in any table.
    needles = (secret, code, code.replace("-", ""))
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - our own table names
            for found in cursor.fetchall():
                text = " ".join(str(value) for value in found)
                assert not any(n in text for n in needles), f"in the clear in {table}"
    for session in LoginSession.objects.all():
        assert secret not in str(session.get_decoded())
    assert not any(n in caplog.text for n in needles)
    assert not any(n in response["Location"] for n in needles)


# --- switching user by PIN -----------------------------------------------------------------


def test_switching_user_by_pin_needs_an_enrolled_tablet(desk, nurse, site_a):
    StaffPin.objects.create(user=nurse, pin_hash=make_password(PIN), set_at=dt.datetime.now(dt.UTC))
    authenticator(desk)  # the desk worker logged in with their app, on a device not enrolled
    laptop = HttpClient()
    force_login_password_only(laptop, desk)
    pass_two_factor(laptop, desk)
    page = laptop.get(reverse("accounts:switch")).content.decode()
    assert "works only on a tablet a manager has enrolled" in page
    assert nurse.display_name not in page
    response = laptop.post(reverse("accounts:switch"), {"person": nurse.pk, "pin": PIN})
    assert response.status_code == 200
    assert not AuditEvent.objects.filter(action="auth.switched_user").exists()


def test_on_a_tablet_only_colleagues_of_its_site_can_switch_in(site_a, site_b):
    both = make_user("bo.both", (Role.FLOOR, site_a), (Role.FLOOR, site_b))
    eastgate_only = make_user("eli.east", (Role.DESK, site_b))
    riverside_only = make_user("rae.river", (Role.DESK, site_a))
    for colleague in (eastgate_only, riverside_only):
        StaffPin.objects.create(
            user=colleague, pin_hash=make_password(PIN), set_at=dt.datetime.now(dt.UTC)
        )
    tablet = HttpClient()
    on_tablet(tablet, site_a)
    password_login(both, tablet)
    page = tablet.get(reverse("accounts:switch")).content.decode()
    assert riverside_only.display_name in page
    assert eastgate_only.display_name not in page
    refused = tablet.post(reverse("accounts:switch"), {"person": eastgate_only.pk, "pin": PIN})
    assert refused.status_code == 200
    response = tablet.post(reverse("accounts:switch"), {"person": riverside_only.pk, "pin": PIN})
    assert response.status_code == 302
    assert tablet.get(QUEUE).status_code == 200


# --- the demo -------------------------------------------------------------------------------


def test_the_demo_prints_a_code_that_makes_the_browser_a_riverside_tablet(settings, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    from saferoom.core.models import User
    from saferoom.simulation.management.commands.demo import DEMO_PASSWORD

    settings.DEBUG = True
    settings.VAR_DIR = tmp_path
    out = StringIO()
    call_command("demo", "--days", "0", "--quiet", stdout=out)
    printed = re.search(r"Enrol this tablet and type ([A-Z0-9]{4}-[A-Z0-9]{4})", out.getvalue())
    assert printed, out.getvalue()
    row = TabletEnrolmentCode.objects.get()
    assert row.expires_at - row.created_at == dt.timedelta(hours=24)
    browser = HttpClient()
    assert enrol(browser, printed.group(1)).status_code == 302
    assert EnrolledTablet.objects.get().site.slug == "riverside"
    for username in ("dana.desk", "femi.floor"):
        user = User.objects.get(username=username)
        browser.post(reverse("login"), {"username": user.username, "password": DEMO_PASSWORD})
        response = browser.get(QUEUE)
        assert response.status_code == 200, username
        browser.post(reverse("logout"))
