"""Where you are logged in (ASVS 3.3.4): a person sees their live logins, with the device and
when it was last used, and ends any other one, say on a tablet that was stolen; a manager logs a
colleague out everywhere. Ending a login deletes it on the server, so its cookie is worthless
at the next tap. Each ending is audited; nothing stores an IP address."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from saferoom.accounts import actions
from saferoom.accounts.models import LoginSession
from saferoom.accounts.sessions import describe_device, ref_of
from saferoom.accounts.two_factor import requires_two_factor
from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.core.roles import Role
from saferoom.sites.access import sites_for
from tests.conftest import PASSWORD, authenticator, make_user, on_tablet, totp_code

pytestmark = pytest.mark.django_db

TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
OFFICE = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0"


def log_in(user, user_agent: str) -> HttpClient:
    """Through the login form, as a person does, from a device with this user agent (for the
    desk and the floor, a tablet enrolled for their site)."""
    device = authenticator(user) if requires_two_factor(user) else None
    client = HttpClient(headers={"user-agent": user_agent}, REMOTE_ADDR="203.0.113.7")
    if device is None:
        on_tablet(client, sites_for(user)[0])
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    if device is not None:
        response = client.post(reverse("accounts:verify"), {"code": totp_code(device)})
        assert response.status_code == 302
    client.get(reverse("home"))  # where the login lands them
    return client


def is_logged_in(client: HttpClient) -> bool:
    response = client.get(reverse("accounts:security"))
    return response.status_code == 200


def key(client: HttpClient) -> str:
    """The session key of the login this client holds."""
    session_key = client.session.session_key
    assert session_key is not None
    return session_key


def ref(client: HttpClient) -> str:
    return ref_of(key(client))


# --- the list ------------------------------------------------------------------------------


def test_each_login_is_listed_with_its_device_and_this_one_is_marked(desk):
    tablet = log_in(desk, TABLET)
    office = log_in(desk, OFFICE)
    page = office.get(reverse("accounts:logins")).content.decode()
    assert "Chrome on Android" in page
    assert "Firefox on Windows" in page
    assert page.index("Firefox on Windows") < page.index("this device") < page.index("Chrome")
    # One "End this login" button, for the other device, with a name that says which.
    assert page.count("End this login") == 1
    assert ref(tablet) in page
    assert ref(office) not in page
    assert key(tablet) not in page  # the handle is never the login itself


def test_a_login_stores_the_device_kind_and_never_the_address(desk):
    tablet = log_in(desk, TABLET)
    row = LoginSession.objects.get(session_key=key(tablet))
    assert row.user == desk
    assert row.device == "Chrome|Android"
    assert row.started_at is not None
    assert row.last_seen_at is not None
    stored = " ".join(str(v) for v in LoginSession.objects.values_list()[0])
    stored += str(row.get_decoded())
    assert "203.0.113.7" not in stored
    assert "SM-X200" not in stored
    assert "124.0" not in stored
    login = AuditEvent.objects.get(action="auth.login")
    assert login.detail == {"device": "Chrome / Android"}


def test_logins_past_their_idle_time_or_lifetime_are_not_listed(desk, time_machine):
    time_machine.move_to(dt.datetime(2025, 3, 3, 8, 0, tzinfo=dt.UTC), tick=False)
    log_in(desk, TABLET)
    time_machine.shift(dt.timedelta(minutes=16))  # the tablet's login has timed out
    office = log_in(desk, OFFICE)
    page = office.get(reverse("accounts:logins")).content.decode()
    assert "Chrome on Android" not in page
    assert "You are not logged in anywhere else." in page


def test_someone_elses_logins_are_never_listed(desk, nurse):
    log_in(nurse, TABLET)
    page = log_in(desk, OFFICE).get(reverse("accounts:logins")).content.decode()
    assert "Chrome on Android" not in page


# --- ending your own -----------------------------------------------------------------------


def test_ending_the_login_on_a_stolen_tablet_sends_it_to_the_login_page(desk):
    tablet = log_in(desk, TABLET)
    office = log_in(desk, OFFICE)
    tablets_key = key(tablet)
    response = office.post(reverse("accounts:logins"), {"login": ref(tablet)}, follow=True)
    assert "That login has ended" in response.content.decode()
    assert not LoginSession.objects.filter(session_key=tablets_key).exists()
    response = tablet.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert is_logged_in(office)
    event = AuditEvent.objects.get(action="auth.login_ended")
    assert (event.actor_label, event.object_label) == ("dana.desk", "dana.desk")
    assert event.detail == {"device": "Chrome / Android"}
    assert tablets_key not in str(event.detail)


def test_log_out_everywhere_else_keeps_this_device(desk):
    tablet, phone = log_in(desk, TABLET), log_in(desk, TABLET)
    office = log_in(desk, OFFICE)
    response = office.post(reverse("accounts:logins"), {"everywhere_else": "1"}, follow=True)
    assert "2 other logins have ended." in response.content.decode()
    assert not is_logged_in(tablet)
    assert not is_logged_in(phone)
    assert is_logged_in(office)
    assert AuditEvent.objects.get(action="auth.logins_ended").detail == {"ended": 2}


def test_this_device_is_ended_by_logging_out_not_from_the_list(desk):
    office = log_in(desk, OFFICE)
    response = office.post(reverse("accounts:logins"), {"login": ref(office)}, follow=True)
    assert "That is this device. To end this login, use Log out." in response.content.decode()
    assert is_logged_in(office)
    assert not AuditEvent.objects.filter(action="auth.login_ended").exists()


@pytest.mark.parametrize("forged", ["", "nonsense", "<script>alert(1)</script>", "9" * 500])
def test_a_stale_or_forged_login_changes_nothing(desk, forged):
    tablet, office = log_in(desk, TABLET), log_in(desk, OFFICE)
    response = office.post(reverse("accounts:logins"), {"login": forged}, follow=True)
    assert response.status_code == 200
    assert "That login has already ended" in response.content.decode()
    assert "<script>alert" not in response.content.decode()
    assert is_logged_in(tablet)
    assert is_logged_in(office)


def test_nobody_ends_a_colleagues_login_from_their_own_list(desk, nurse):
    nurses_tablet = log_in(nurse, TABLET)
    office = log_in(desk, OFFICE)
    office.post(reverse("accounts:logins"), {"login": ref(nurses_tablet)})
    assert is_logged_in(nurses_tablet)
    with pytest.raises(ActionRefused):
        actions.end_login(user=desk, ref=ref(nurses_tablet), current_key=None)


# --- a manager ends a colleague's logins --------------------------------------------------


def test_a_manager_logs_a_colleague_out_everywhere(desk, manager, site_a):
    tablet, office = log_in(desk, TABLET), log_in(desk, OFFICE)
    as_manager = log_in(manager, OFFICE)
    staff_page = reverse("sites:staff_edit", kwargs={"site": site_a.slug, "pk": desk.pk})
    assert "Logged in on 2 devices now." in as_manager.get(staff_page).content.decode()

    response = as_manager.post(
        reverse("accounts:staff_logins_end", kwargs={"site": site_a.slug, "pk": desk.pk}),
        follow=True,
    )
    assert "dana.desk is logged out of 2 devices." in response.content.decode()
    assert "Not logged in anywhere now." in response.content.decode()
    assert not is_logged_in(tablet)
    assert not is_logged_in(office)
    assert is_logged_in(as_manager)
    event = AuditEvent.objects.get(action="auth.logins_ended_by_manager")
    assert (event.actor_label, event.object_label, event.site_id) == (
        "mo.manager",
        "dana.desk",
        site_a.pk,
    )
    assert event.detail == {"ended": 2}
    # The colleague can log in again with their password.
    assert is_logged_in(log_in(desk, TABLET))


def test_a_manager_cannot_log_out_an_administrator_or_themselves(manager, admin, site_a):
    admins_laptop = log_in(admin, OFFICE)
    as_manager = log_in(manager, OFFICE)
    response = as_manager.post(
        reverse("accounts:staff_logins_end", kwargs={"site": site_a.slug, "pk": admin.pk}),
        follow=True,
    )
    assert "Only a manager of every site where this person works" in response.content.decode()
    assert is_logged_in(admins_laptop)
    with pytest.raises(ActionRefused) as refused:
        actions.end_staff_logins(user=manager, by=manager, site=site_a)
    assert refused.value.code == "self"
    assert is_logged_in(as_manager)
    assert not AuditEvent.objects.filter(action="auth.logins_ended_by_manager").exists()


def test_another_sites_manager_cannot_reach_the_button(desk, site_a, site_b):
    elsewhere = make_user("eli.manager", (Role.MANAGER, site_b))
    tablet = log_in(desk, TABLET)
    as_elsewhere = log_in(elsewhere, OFFICE)
    for site in (site_a, site_b):
        response = as_elsewhere.post(
            reverse("accounts:staff_logins_end", kwargs={"site": site.slug, "pk": desk.pk})
        )
        assert response.status_code == 404
    assert is_logged_in(tablet)


# --- the device description ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        (TABLET, "Chrome|Android"),
        (OFFICE, "Firefox|Windows"),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
            "Safari|iPad",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
            "Edge|Windows",
        ),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 Safari/537.36",
            "Chrome|ChromeOS",
        ),
        ("", "|"),
        ("curl/8.5.0", "|"),
    ],
)
def test_the_device_is_a_browser_and_a_system_and_nothing_more(user_agent, device):
    assert describe_device(user_agent) == device
