"""After logging out, the browser holds nothing of the evening (checklist item 19; ASVS 8.2.2,
8.2.3): the login ended on the server, nothing in local or session storage but the board's sound
preference (and htmx's note of the address it is on, now the login page), no IndexedDB,
no Cache Storage, no service worker, and Back does not bring a
client's page back. In real Chromium (Debian's), through the pages a nurse uses."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from playwright.sync_api import expect

from saferoom.accounts.models import LoginSession
from saferoom.clients import actions
from saferoom.clients.codes import SchemeAttributes
from tests.browser.fixtures import browser, log_in, page  # noqa: F401 - the browser fixtures
from tests.core.test_no_store import ALLOWED_STORAGE_KEYS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WHAT_THE_BROWSER_KEEPS = """async () => ({
    local: Object.fromEntries(Object.entries(window.localStorage)),
    session: Object.fromEntries(Object.entries(window.sessionStorage)),
    databases: indexedDB.databases ? (await indexedDB.databases()).map((d) => d.name) : [],
    caches: self.caches ? await caches.keys() : [],
    workers: navigator.serviceWorker
        ? (await navigator.serviceWorker.getRegistrations()).length : 0,
})"""


def test_after_logging_out_the_browser_holds_nothing_of_the_evening(
    page,  # noqa: F811
    log_in,  # noqa: F811
    live_server,
    nurse,
    desk,
    site_a,
):
    client = actions.register_client(
        site=site_a,
        attrs=SchemeAttributes(initials="QZ", date_of_birth=dt.date(1987, 3, 14), sex="female"),
        gender="female",
        by=desk,
        idempotency_key=uuid.uuid4(),
        confirm_not_duplicate=True,
    )
    log_in(nurse)
    page.goto(f"{live_server.url}/sites/{site_a.slug}/clients/{client.pk}/")
    expect(page.get_by_text(client.display_code).first).to_be_visible()
    page.goto(f"{live_server.url}/sites/{site_a.slug}/floor/")
    sound = page.get_by_role("button", name="Sound on/off")
    expect(sound).to_be_visible()
    sound.click()  # the one thing a tablet may remember

    before = {c["name"]: c["value"] for c in page.context.cookies()}["sessionid"]
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login/"))

    kept = page.evaluate(WHAT_THE_BROWSER_KEEPS)
    assert set(kept["local"]) <= set(ALLOWED_STORAGE_KEYS), kept["local"]
    assert set(kept["local"].values()) <= {"on", "off"}
    # htmx notes the address it is at (ids only, never personal data): now the login page.
    assert set(kept["session"]) <= {"htmx-current-path-for-history"}
    assert kept["session"].get("htmx-current-path-for-history", "/login/").startswith("/login/")
    assert kept["databases"] == []
    assert kept["caches"] == []
    assert kept["workers"] == 0
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    assert all(client.display_code not in value for value in cookies.values())
    # The login is gone on the server; a cookie left is a new, anonymous one (it carries the
    # "You have logged out." message).
    assert not LoginSession.objects.filter(session_key=before).exists()
    assert cookies.get("sessionid") != before
    if "sessionid" in cookies:
        assert LoginSession.objects.get(session_key=cookies["sessionid"]).user_id is None

    # Back goes to the board's address, which asks the server again (no-store): the login page.
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in to saferoom")
    assert client.display_code not in page.content()
