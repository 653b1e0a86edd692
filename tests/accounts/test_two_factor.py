"""Two-factor login: managers, evaluators and administrators set up an authenticator app at
their first login and type a code at every login after; backup codes work once each; anyone
else may opt in; a manager resets a colleague who lost their phone."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.conf import settings
from django.test import Client as HttpClient
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from saferoom.core.models import AuditEvent
from saferoom.core.roles import Role
from tests.conftest import PASSWORD, authenticator, login, make_user, on_tablet, totp_code

pytestmark = pytest.mark.django_db


def password_step(user, next_url: str = "") -> tuple[HttpClient, str]:
    client = HttpClient()
    data = {"username": user.username, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    response = client.post(reverse("login"), data)
    assert response.status_code == 302
    return client, response["Location"]


def events(action: str, user) -> int:
    return AuditEvent.objects.filter(action=action, actor_label=user.username).count()


def shown_secret(page: str) -> str:
    match = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page)
    assert match, "the enrolment page shows the secret for typing"
    return match.group(1)


# --- a manager's first login: setting up the app ------------------------------------------


def test_a_manager_without_an_app_is_sent_to_set_one_up_after_the_password(manager):
    client, location = password_step(manager)
    assert location.startswith(reverse("accounts:enrol"))
    page = client.get(location)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html
    assert 'role="img"' in html
    assert "http" not in html.split("<svg", 1)[1].split("</svg>", 1)[0].replace(
        "http://www.w3.org/2000/svg", ""
    )
    # The secret shown for typing is the secret of the device being set up.
    device = TOTPDevice.objects.get(user=manager, confirmed=False)
    from base64 import b32encode

    assert shown_secret(html).replace(" ", "") == b32encode(device.bin_key).decode().rstrip("=")
    # Until then, every other page sends them back here.
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:enrol"))


def test_a_wrong_first_code_sets_nothing_up(manager):
    client, location = password_step(manager)
    client.get(location)
    device = TOTPDevice.objects.get(user=manager, confirmed=False)
    wrong = str((int(totp_code(device)) + 1) % 1_000_000).zfill(6)
    response = client.post(location, {"code": wrong, "device": device.pk})
    assert response.status_code == 200
    assert "That code did not match" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=manager, confirmed=True).exists()
    assert not StaticDevice.objects.filter(user=manager).exists()
    assert client.get(reverse("home"))["Location"].startswith(reverse("accounts:enrol"))


@pytest.mark.parametrize("code", ["", "abcdef", "1234567890123456789012", "<script>1</script>"])
def test_hostile_or_empty_first_codes_are_refused_with_a_message(manager, code):
    client, location = password_step(manager)
    client.get(location)
    device = TOTPDevice.objects.get(user=manager, confirmed=False)
    response = client.post(location, {"code": code, "device": device.pk})
    assert response.status_code == 200
    assert "<script>1" not in response.content.decode()
    assert not TOTPDevice.objects.filter(user=manager, confirmed=True).exists()


def test_the_first_right_code_sets_it_up_shows_backup_codes_once_and_lets_them_in(manager):
    client, location = password_step(manager, next_url=reverse("password_change"))
    client.get(location)
    device = TOTPDevice.objects.get(user=manager, confirmed=False)
    response = client.post(location, {"code": totp_code(device), "device": device.pk})
    assert response.status_code == 200
    html = response.content.decode()
    codes = re.findall(r"<code>([a-z2-7]{4}-[a-z2-7]{4})</code>", html)
    assert len(codes) == 10
    assert TOTPDevice.objects.get(user=manager).confirmed
    assert StaticToken.objects.filter(device__user=manager).count() == 10
    assert events("auth.two_factor_enrolled", manager) == 1
    # They carry on to where they were going, and every page opens now.
    assert f'href="{reverse("password_change")}"' in html
    assert client.get(reverse("password_change")).status_code == 200
    assert client.get(reverse("home")).status_code == 200
    # The codes are never shown again.
    assert codes[0] not in client.get(reverse("accounts:security")).content.decode()


# --- every later login: the code ----------------------------------------------------------


def test_a_manager_with_an_app_types_a_code_after_the_password(manager):
    device = authenticator(manager)
    client, location = password_step(manager, next_url=reverse("password_change"))
    assert location.startswith(reverse("accounts:verify"))
    assert client.get(reverse("home"))["Location"].startswith(reverse("accounts:verify"))

    key_before = client.cookies[settings.SESSION_COOKIE_NAME].value
    response = client.post(location, {"code": totp_code(device)})
    assert response.status_code == 302
    assert response["Location"] == reverse("password_change")
    assert client.get(reverse("home")).status_code == 200
    # Passing the second step gives the session a new key.
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != key_before
    assert events("auth.two_factor_verified", manager) == 1


def test_a_wrong_code_is_refused_and_recorded(manager):
    device = authenticator(manager)
    client, location = password_step(manager)
    wrong = str((int(totp_code(device)) + 5) % 1_000_000).zfill(6)
    response = client.post(location, {"code": wrong})
    assert response.status_code == 200
    assert "That code did not match" in response.content.decode()
    assert events("auth.two_factor_failed", manager) == 1
    assert client.get(reverse("home"))["Location"].startswith(reverse("accounts:verify"))


def test_a_code_works_only_once(manager):
    device = authenticator(manager)
    first, location = password_step(manager)
    code = totp_code(device)
    assert first.post(location, {"code": code}).status_code == 302
    second, location = password_step(manager)
    response = second.post(location, {"code": code})
    assert response.status_code == 200
    assert second.get(reverse("home"))["Location"].startswith(reverse("accounts:verify"))


def test_a_backup_code_lets_them_in_once_and_says_how_many_are_left(manager):
    authenticator(manager)
    verified = login(manager)
    html = verified.post(reverse("accounts:backup_codes")).content.decode()
    codes = re.findall(r"<code>([a-z2-7]{4}-[a-z2-7]{4})</code>", html)
    assert len(codes) == 10
    assert events("auth.backup_codes_replaced", manager) == 1

    client, location = password_step(manager)
    response = client.post(location, {"code": codes[0].upper().replace("-", " ")}, follow=True)
    assert response.status_code == 200
    assert "9 are left" in response.content.decode()
    assert AuditEvent.objects.get(action="auth.two_factor_verified").detail == {
        "method": "backup_code"
    }

    again, location = password_step(manager)
    assert again.post(location, {"code": codes[0]}).status_code == 200  # used up
    assert again.get(reverse("home"))["Location"].startswith(reverse("accounts:verify"))


def test_replacing_the_app_needs_the_old_one_first_and_then_only_the_new_one_works(manager):
    old = authenticator(manager)
    client, _location = password_step(manager)
    # With the password alone, setting up a new app is not possible.
    response = client.get(reverse("accounts:enrol"))
    assert response["Location"].startswith(reverse("accounts:verify"))
    client.post(reverse("accounts:verify"), {"code": totp_code(old)})
    client.get(reverse("accounts:enrol"))
    new = TOTPDevice.objects.get(user=manager, confirmed=False)
    response = client.post(reverse("accounts:enrol"), {"code": totp_code(new), "device": new.pk})
    assert response.status_code == 200
    assert list(TOTPDevice.objects.filter(user=manager)) == [new]


# --- optional for everyone else -----------------------------------------------------------


def test_a_desk_worker_logs_in_with_the_password_alone_on_a_tablet_enrolled_for_their_site(
    desk, site_a
):
    tablet = HttpClient()
    on_tablet(tablet, site_a)
    response = tablet.post(reverse("login"), {"username": desk.username, "password": PASSWORD})
    assert response["Location"] == reverse("home")


def test_a_desk_worker_who_opted_in_is_asked_for_the_code_too(desk):
    device = authenticator(desk)
    client, location = password_step(desk)
    assert location.startswith(reverse("accounts:verify"))
    assert client.get(reverse("floor:queue", kwargs={"site": "riverside"})).status_code == 302
    assert client.post(location, {"code": totp_code(device)}).status_code == 302
    assert client.get(reverse("floor:queue", kwargs={"site": "riverside"})).status_code == 200


def test_a_desk_worker_can_opt_in_from_their_account_page(desk):
    client = login(desk)
    assert "Set up two-step login" in client.get(reverse("accounts:security")).content.decode()
    client.get(reverse("accounts:enrol"))
    device = TOTPDevice.objects.get(user=desk, confirmed=False)
    response = client.post(
        reverse("accounts:enrol"), {"code": totp_code(device), "device": device.pk}
    )
    assert response.status_code == 200
    assert TOTPDevice.objects.get(user=desk).confirmed


def test_someone_given_a_manager_role_mid_session_is_asked_within_minutes(
    desk, site_a, time_machine
):
    from saferoom.sites.models import Membership

    time_machine.move_to(dt.datetime(2025, 3, 3, 10, 0, tzinfo=dt.UTC), tick=False)
    client = login(desk)
    assert client.get(reverse("home")).status_code == 302  # the queue
    Membership.objects.create(user=desk, network=site_a.network, site=site_a, role="manager")
    time_machine.shift(301)
    response = client.get(reverse("accounts:security"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:enrol"))


# --- a manager resets a colleague who lost their phone -----------------------------------


def reset_url(site, member) -> str:
    return reverse("accounts:staff_two_factor_reset", kwargs={"site": site.slug, "pk": member.pk})


def test_a_manager_resets_a_colleagues_two_factor_login(as_manager, manager, site_a):
    colleague = make_user("fay.floor", (Role.MANAGER, site_a))
    authenticator(colleague)
    colleague_session = login(colleague)
    assert colleague_session.get(reverse("home")).status_code == 200

    page = as_manager.get(
        reverse("sites:staff_edit", kwargs={"site": "riverside", "pk": colleague.pk})
    )
    assert "Reset two-step login" in page.content.decode()
    response = as_manager.post(reset_url(site_a, colleague))
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=colleague).exists()
    assert not StaticDevice.objects.filter(user=colleague).exists()
    event = AuditEvent.objects.get(action="auth.two_factor_reset")
    assert (event.actor_label, event.object_label, event.site_label) == (
        manager.username,
        colleague.username,
        site_a.name,
    )
    # Their open session has lost its second factor: it must set up a new app.
    response = colleague_session.get(reverse("home"))
    assert response["Location"].startswith(reverse("accounts:enrol"))


def test_nobody_resets_their_own_and_a_manager_cannot_reset_an_administrator(
    as_manager, manager, admin, site_a
):
    authenticator(admin)
    as_manager.post(reset_url(site_a, manager))
    as_manager.post(reset_url(site_a, admin))
    assert TOTPDevice.objects.filter(user=manager).exists()
    assert TOTPDevice.objects.filter(user=admin).exists()
    assert not AuditEvent.objects.filter(action="auth.two_factor_reset").exists()


def test_another_sites_manager_cannot_reach_the_reset(site_b, desk, site_a):
    other_manager = make_user("bo.boss", (Role.MANAGER, site_b))
    authenticator(desk)
    response = login(other_manager).post(reset_url(site_a, desk))
    assert response.status_code == 404
    assert TOTPDevice.objects.filter(user=desk).exists()
