"""After logging out, the browser holds nothing of the evening (checklist item 19; ASVS 8.2.2,
8.2.3): the login ended on the server, nothing in local or session storage but the board's sound
preference (and htmx's note of the address it is on, now the login page), no Cache Storage, no
service worker, and Back does not bring a client's page back. IndexedDB holds only the offline
outbox (outbox.js): wiped at logout when everything in it was sent, and, when someone logs out
with records not sent, nothing in it but ciphertext. In real Chromium (Debian's), through the
pages a nurse uses."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from saferoom.accounts.models import LoginSession
from saferoom.care.supplies import actions as supplies
from saferoom.clients import actions
from saferoom.clients.codes import SchemeAttributes
from saferoom.sites.models import CatalogueItem
from tests.browser.fixtures import browser, log_in, page  # noqa: F401 - the browser fixtures
from tests.browser.test_board_live import one_request_at_a_time  # noqa: F401 - a fixture
from tests.browser.test_offline import OUTBOX_AS_TEXT, open_care_page, tap_offline
from tests.care.supplies.conftest import make_visit
from tests.core.test_no_store import ALLOWED_DATABASES, ALLOWED_STORAGE_KEYS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("one_request_at_a_time"),
]

WHAT_THE_BROWSER_KEEPS = """async () => ({
    local: Object.fromEntries(Object.entries(window.localStorage)),
    session: Object.fromEntries(Object.entries(window.sessionStorage)),
    databases: indexedDB.databases ? (await indexedDB.databases()).map((d) => d.name) : [],
    caches: self.caches ? await caches.keys() : [],
    workers: navigator.serviceWorker
        ? (await navigator.serviceWorker.getRegistrations()).length : 0,
})"""


def register(site: Any, desk: Any) -> Any:
    return actions.register_client(
        site=site,
        attrs=SchemeAttributes(initials="QZ", date_of_birth=dt.date(1987, 3, 14), sex="female"),
        gender="female",
        by=desk,
        idempotency_key=uuid.uuid4(),
        confirm_not_duplicate=True,
    )


def give_a_filter_offline(tab: Any, live_server: Any, site: Any, client: Any, desk: Any) -> Any:
    """On the client's care page, with the network down, tap "Give 1: Filter" once."""
    filters = CatalogueItem.objects.get(
        network=site.network, site=None, kind="supply", code="filter"
    )
    supplies.receive_stock(
        site=site, item=filters, quantity=5, by=desk, idempotency_key=uuid.uuid4()
    )
    visit = make_visit(site, desk, client)
    open_care_page(tab, live_server, site, visit)
    tab.context.set_offline(True)
    tap_offline(tab, tab.get_by_role("button", name="Give 1: Filter"), 1)
    return visit


def test_after_logging_out_the_browser_holds_nothing_of_the_evening(
    page,  # noqa: F811
    log_in,  # noqa: F811
    live_server,
    nurse,
    desk,
    site_a,
):
    client = register(site_a, desk)
    log_in(nurse)
    page.goto(f"{live_server.url}/sites/{site_a.slug}/clients/{client.pk}/")
    expect(page.get_by_text(client.display_code).first).to_be_visible()
    # A give-out made while the network was down: kept in the outbox, then sent.
    give_a_filter_offline(page, live_server, site_a, client, desk)
    assert page.evaluate(WHAT_THE_BROWSER_KEEPS)["databases"] == list(ALLOWED_DATABASES)
    page.context.set_offline(False)
    expect(page.locator("#outbox-status")).to_have_text("All saved", timeout=30_000)
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
    assert kept["databases"] == []  # the outbox, empty, was wiped
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


def test_records_not_sent_at_logout_stay_on_the_tablet_as_ciphertext_only(
    page,  # noqa: F811
    log_in,  # noqa: F811
    live_server,
    nurse,
    desk,
    site_a,
):
    client = register(site_a, desk)
    log_in(nurse)
    visit = give_a_filter_offline(page, live_server, site_a, client, desk)
    # The server is out of reach, though the tablet has a network: the give-out cannot go.
    give = re.compile(re.escape(reverse("supplies:give", kwargs={"site": site_a.slug})) + "$")
    page.route(give, lambda route: route.abort("internetdisconnected"))
    with page.expect_event("requestfailed"):
        page.context.set_offline(False)
    page.get_by_role("button", name="Log out", exact=True).click()
    page.get_by_role("button", name=re.compile(r"^Log out anyway")).click()
    expect(page).to_have_url(re.compile(r"/login/"))

    kept = page.evaluate(WHAT_THE_BROWSER_KEEPS)
    assert kept["databases"] == list(ALLOWED_DATABASES)
    assert set(kept["local"]) <= set(ALLOWED_STORAGE_KEYS), kept["local"]
    assert kept["caches"] == []
    assert kept["workers"] == 0
    entries = page.evaluate(OUTBOX_AS_TEXT)
    assert len(entries) == 1
    path = reverse("supplies:visit", kwargs={"site": site_a.slug, "pk": visit.pk})
    for readable in (client.display_code, "Filter", nurse.username, path, "quantity"):
        assert readable not in entries[0], readable
