"""Personal PINs and switching user on a shared floor tablet: a colleague of the same site
takes over with their PIN, in a new session in their own name; wrong PINs lock the PIN; roles
that need two-factor login never switch in by PIN."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.urls import reverse

from saferoom.accounts.models import LoginSession as Session
from saferoom.accounts.models import StaffPin
from saferoom.core.models import AuditEvent
from saferoom.core.roles import Role
from tests.conftest import PASSWORD, login, make_user

pytestmark = pytest.mark.django_db

PIN = "402917"


def set_pin(client, pin: str = PIN, password: str = PASSWORD, again: str | None = None):
    return client.post(
        reverse("accounts:pin"),
        {"password": password, "pin": pin, "pin_again": pin if again is None else again},
    )


@pytest.fixture
def desk_with_pin(desk):
    assert set_pin(login(desk)).status_code == 302
    return desk


def switch(client, person, pin: str = PIN):
    return client.post(reverse("accounts:switch"), {"person": person.pk, "pin": pin})


# --- setting a PIN ------------------------------------------------------------------------


def test_a_desk_worker_sets_a_pin_which_is_stored_hashed(desk):
    response = set_pin(login(desk))
    assert response.status_code == 302
    stored = StaffPin.objects.get(user=desk)
    assert PIN not in stored.pin_hash
    assert check_password(PIN, stored.pin_hash)
    assert AuditEvent.objects.filter(action="auth.pin_set", actor_label=desk.username).count() == 1


@pytest.mark.parametrize(
    ("pin", "why"),
    [
        ("1234", "6 to 12 digits"),
        ("12345a", "digits only"),
        ("111111", "too easy"),
        ("123456", "too easy"),
        ("987654", "too easy"),
        ("1234567890123", "6 to 12 digits"),
        ("<script>", "digits only"),
        ("", "required"),
    ],
)
def test_weak_or_malformed_pins_are_refused(desk, pin, why):
    response = set_pin(login(desk), pin=pin)
    assert response.status_code == 200
    assert why in response.content.decode()
    assert not StaffPin.objects.exists()


def test_setting_a_pin_needs_the_password_and_the_same_pin_twice(desk):
    client = login(desk)
    assert "not your password" in set_pin(client, password="wrong").content.decode()
    assert "not the same" in set_pin(client, again="402918").content.decode()
    assert not StaffPin.objects.exists()


def test_roles_that_need_two_factor_login_cannot_set_a_pin(as_manager):
    assert set_pin(as_manager).status_code == 403
    assert not StaffPin.objects.exists()


# --- switching user -----------------------------------------------------------------------


def test_a_colleague_takes_over_the_tablet_with_their_pin(nurse, desk_with_pin):
    tablet = login(nurse)
    page = tablet.get(reverse("accounts:switch")).content.decode()
    assert desk_with_pin.display_name in page
    old_key = tablet.cookies[settings.SESSION_COOKIE_NAME].value

    response = switch(tablet, desk_with_pin)
    assert response.status_code == 302
    new_key = tablet.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key != old_key
    # What happens next is in the desk worker's name.
    home = tablet.get(reverse("home"), follow=True)
    assert desk_with_pin.display_name in home.content.decode()
    event = AuditEvent.objects.get(action="auth.switched_user")
    assert event.actor_label == desk_with_pin.username
    assert event.detail == {"from": nurse.username}
    # The nurse's session is gone from the server.
    assert not Session.objects.filter(session_key=old_key).exists()


def test_a_wrong_pin_is_refused_and_counted(nurse, desk_with_pin):
    tablet = login(nurse)
    response = switch(tablet, desk_with_pin, pin="999999")
    assert response.status_code == 200
    assert "That PIN is not right" in response.content.decode()
    assert StaffPin.objects.get(user=desk_with_pin).failed_attempts == 1
    assert AuditEvent.objects.filter(action="auth.pin_failed").count() == 1
    assert not AuditEvent.objects.filter(action="auth.switched_user").exists()


def test_too_many_wrong_pins_lock_the_pin_for_the_cool_off(nurse, desk_with_pin, time_machine):
    time_machine.move_to(dt.datetime(2025, 3, 3, 20, 0, tzinfo=dt.UTC), tick=False)
    tablet = login(nurse)
    for _ in range(settings.PIN_FAILURE_LIMIT):
        switch(tablet, desk_with_pin, pin="999999")
    assert AuditEvent.objects.filter(action="auth.pin_locked_out").count() == 1
    response = switch(tablet, desk_with_pin)  # the right PIN, while locked
    assert response.status_code == 200
    assert "Too many wrong PINs" in response.content.decode()
    time_machine.shift(dt.timedelta(minutes=16))
    tablet = login(nurse)
    assert switch(tablet, desk_with_pin).status_code == 302


def test_a_manager_cannot_be_switched_in_by_pin(nurse, site_a):
    manager = make_user("mo.manager", (Role.MANAGER, site_a))
    StaffPin.objects.create(user=manager, pin_hash="argon2$forged", set_at=dt.datetime.now(dt.UTC))
    tablet = login(nurse)
    assert manager.display_name not in tablet.get(reverse("accounts:switch")).content.decode()
    response = switch(tablet, manager)
    assert response.status_code == 200
    assert not AuditEvent.objects.filter(action="auth.switched_user").exists()


def test_a_worker_of_another_site_cannot_switch_in(nurse, other_site_worker):
    StaffPin.objects.create(
        user=other_site_worker,
        pin_hash=make_password(PIN),
        set_at=dt.datetime.now(dt.UTC),
    )
    tablet = login(nurse)
    assert (
        other_site_worker.display_name
        not in tablet.get(reverse("accounts:switch")).content.decode()
    )
    assert switch(tablet, other_site_worker).status_code == 200
    assert not AuditEvent.objects.filter(action="auth.switched_user").exists()


def test_switching_keeps_the_tablets_twelve_hour_limit(nurse, desk_with_pin, time_machine):
    time_machine.move_to(dt.datetime(2025, 3, 3, 8, 0, tzinfo=dt.UTC), tick=False)
    tablet = login(nurse)
    assert tablet.get(reverse("home")).status_code == 200
    for _ in range(50):  # busy all shift: never 15 minutes idle
        time_machine.shift(dt.timedelta(minutes=14))
        assert tablet.get(reverse("accounts:security")).status_code == 200
    assert switch(tablet, desk_with_pin).status_code == 302
    time_machine.shift(dt.timedelta(minutes=14))
    assert tablet.get(reverse("accounts:security")).status_code == 200  # 11 h 54 min
    time_machine.shift(dt.timedelta(minutes=14))  # 12 h 8 min after the nurse's password
    response = tablet.get(reverse("accounts:security"))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?expired=1"
