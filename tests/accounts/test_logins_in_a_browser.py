"""Where you are logged in, in real Chromium: a desk worker whose tablet went missing finds it in
the list by its name, ends that login with one big button, and the page says so; each state is
scanned with axe. Controls are found by role and name, as a person (or a screen reader) would."""

from __future__ import annotations

import re

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from playwright.sync_api import expect

from saferoom.accounts.models import LoginSession
from tests.browser.accessibility import assert_accessible
from tests.browser.fixtures import browser, log_in, page  # noqa: F401 - the browser fixtures
from tests.conftest import PASSWORD, on_tablet

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


def test_a_desk_worker_ends_the_login_on_a_missing_tablet(
    page,  # noqa: F811
    log_in,  # noqa: F811
    live_server,
    desk,
    site_a,
):
    tablet = HttpClient(headers={"user-agent": TABLET})
    on_tablet(tablet, site_a)
    response = tablet.post(reverse("login"), {"username": desk.username, "password": PASSWORD})
    assert response.status_code == 302
    tablet.get(reverse("home"))
    tablets_login = tablet.session.session_key

    log_in(desk)
    page.goto(f"{live_server.url}/account/")
    page.get_by_role("link", name="Where you are logged in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Where you are logged in")
    expect(page.get_by_role("heading", name="Chrome on Android")).to_be_visible()
    expect(page.get_by_text("this device")).to_be_visible()
    assert_accessible(page, "the list of logins")

    end = page.get_by_role("button", name=re.compile(r"^End this login Chrome on Android"))
    end.click()
    expect(page.get_by_text("That login has ended")).to_be_visible()
    expect(page.get_by_role("heading", name="Chrome on Android")).to_have_count(0)
    expect(page.get_by_text("You are not logged in anywhere else.")).to_be_visible()
    assert_accessible(page, "the list after ending a login")
    assert not LoginSession.objects.filter(session_key=tablets_login).exists()
    assert tablet.get(reverse("home"))["Location"].startswith(reverse("login"))
