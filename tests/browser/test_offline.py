"""Offline van mode in real Chromium (checklist items 19 and 23): taps made with no network are
kept on the tablet, sealed, counted on screen, and sent by themselves when the network is back,
each exactly once (their idempotency keys), with the time they were tapped; a refusal on
sending is shown with the server's words, never dropped; logging out with records not sent asks
first; an empty outbox is wiped; a page's refreshes while offline say calmly what they show."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from saferoom.accounts.sessions import SessionStore
from saferoom.care.supplies import actions
from saferoom.care.supplies.models import StockMovement
from saferoom.core.models import AuditEvent
from saferoom.floor import board
from saferoom.floor.models import SessionCheck, Visit
from saferoom.incidents import actions as incident_actions
from saferoom.incidents.models import Intervention
from saferoom.sites.models import CatalogueItem, Space
from tests.browser.accessibility import assert_accessible
from tests.browser.fixtures import sign_in
from tests.browser.test_board_live import one_request_at_a_time  # noqa: F401 - a fixture
from tests.care.supplies.conftest import make_client, make_visit

# The live server answers one request at a time: its SQLite test database is in memory, with
# one connection for every request thread (see test_board_live.Serialised).
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("one_request_at_a_time"),
]

# Sending 50 one after the other takes a few seconds on a slow machine.
SYNC_MS = 45_000

# Every entry of the tablet's outbox, as text (the bytes as Latin-1), or None if there is none.
OUTBOX_AS_TEXT = """async () => {
    const names = (await indexedDB.databases()).map((d) => d.name);
    if (!names.includes("saferoom-outbox")) { return null; }
    const db = await new Promise((resolve, reject) => {
        const r = indexedDB.open("saferoom-outbox");
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
    });
    const rows = await new Promise((resolve, reject) => {
        const r = db.transaction("entries").objectStore("entries").getAll();
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
    });
    db.close();
    const latin1 = (bytes) => Array.from(bytes, (b) => String.fromCharCode(b)).join("");
    return rows.map((row) => JSON.stringify(row, (key, value) =>
        value instanceof Uint8Array ? latin1(value)
            : value instanceof ArrayBuffer ? latin1(new Uint8Array(value)) : value));
}"""
DATABASES = "async () => (await indexedDB.databases()).map((d) => d.name)"


def stock(site: Any, code: str, quantity: int, by: Any) -> CatalogueItem:
    item = CatalogueItem.objects.get(network=site.network, site=None, kind="supply", code=code)
    actions.receive_stock(
        site=site, item=item, quantity=quantity, by=by, idempotency_key=uuid.uuid4()
    )
    return item


def given(visit: Visit) -> int:
    return StockMovement.objects.filter(visit=visit, kind=StockMovement.Kind.GIVEN).count()


def open_care_page(page: Any, live_server: Any, site: Any, visit: Visit) -> None:
    url = reverse("supplies:visit", kwargs={"site": site.slug, "pk": visit.pk})
    page.goto(live_server.url + url)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Supplies and services")


def tap_offline(page: Any, button: Any, times: int, already: int = 0) -> None:
    status = page.locator("#outbox-status")
    for n in range(already + 1, already + times + 1):
        button.click()
        expect(status).to_have_attribute("data-count", str(n))


def test_fifty_gives_made_offline_are_sent_once_each_when_the_network_returns(
    page, log_in, live_server, site_a, nurse, desk, manager
):
    filters = stock(site_a, "filter", 60, manager)
    visit = make_visit(site_a, desk, make_client(site_a.network, site_a, desk))
    log_in(nurse)
    open_care_page(page, live_server, site_a, visit)
    status = page.locator("#outbox-status")
    expect(status).to_be_hidden()

    page.context.set_offline(True)
    tap_offline(page, page.get_by_role("button", name="Give 1: Filter"), 50)
    expect(status).to_have_text("Offline — 50 not sent yet")
    expect(status).to_be_visible()
    assert_accessible(page, "the care page offline with taps kept")
    # Kept, not failed: no "nothing was saved" alert, and nothing reached the server.
    expect(page.locator("#htmx-error")).to_be_hidden()
    assert given(visit) == 0

    # The network comes back: no reload, no tap; it sends by itself.
    page.context.set_offline(False)
    expect(status).to_have_text("All saved", timeout=SYNC_MS)
    assert given(visit) == 50  # not 49, not 51
    assert actions.in_stock(site_a, filters) == 10
    # The care panel is put back as the server now has it.
    card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="Filter"))
    expect(card).to_contain_text("In stock: 10")
    expect(status).to_be_hidden()
    assert page.evaluate(OUTBOX_AS_TEXT) == []


def test_an_answer_lost_on_the_way_or_a_reload_while_sending_never_makes_a_second_record(
    page, log_in, live_server, site_a, nurse, desk, manager
):
    stock(site_a, "foil", 40, manager)
    visit = make_visit(site_a, desk, make_client(site_a.network, site_a, desk))
    log_in(nurse)
    open_care_page(page, live_server, site_a, visit)
    status = page.locator("#outbox-status")
    give = page.get_by_role("button", name="Give 1: Foil")
    page.context.set_offline(True)
    tap_offline(page, give, 12)

    # The server records the oldest tap three times over, but each answer is lost on the way
    # back (the van drove out of signal): the tablet must send it again, with the same key.
    lost: list[str | None] = []

    def lose_the_answer(route: Any) -> None:
        if len(lost) < 3:
            route.fetch()  # the server does the work ...
            lost.append(route.request.post_data)
            route.abort("internetdisconnected")  # ... and the tablet never hears of it
        else:
            route.continue_()

    give_url = re.compile(re.escape(reverse("supplies:give", kwargs={"site": site_a.slug})) + "$")
    page.route(give_url, lose_the_answer)
    with page.expect_event("requestfailed", timeout=SYNC_MS):
        page.context.set_offline(False)
    expect(status).to_have_text("12 not sent yet")
    # The page loading again sends again at once (otherwise the next try is in 15 s).
    for _ in range(2):
        with page.expect_event("requestfailed", timeout=SYNC_MS):
            page.reload()
    assert len(lost) == 3
    assert len(set(lost)) == 1  # the same body, the same key, each time
    assert given(visit) == 1
    page.reload()
    expect(status).to_have_text("All saved", timeout=SYNC_MS)
    page.unroute(give_url)
    assert given(visit) == 12  # one record per tap, however often each was sent

    # Offline again in the middle of sending, then a reload: what was not acknowledged is
    # sent again, and still makes one record.
    page.context.set_offline(True)
    tap_offline(page, give, 10)
    page.context.set_offline(False)
    expect(status).to_have_attribute("data-count", re.compile(r"^[0-7]$"), timeout=SYNC_MS)
    page.context.set_offline(True)
    page.context.set_offline(False)
    page.reload()
    expect(status).to_have_text("All saved", timeout=SYNC_MS)
    assert given(visit) == 22


def test_what_the_tablet_keeps_while_offline_is_ciphertext(
    page, log_in, live_server, site_a, nurse, desk, manager
):
    stock(site_a, "filter", 5, manager)
    client = make_client(site_a.network, site_a, desk)
    visit = make_visit(site_a, desk, client)
    log_in(nurse)
    open_care_page(page, live_server, site_a, visit)
    page.context.set_offline(True)
    tap_offline(page, page.get_by_role("button", name="Give 2: Filter"), 2)
    tap_offline(page, page.get_by_role("button", name="Wound care"), 1, already=2)
    rows = page.evaluate(OUTBOX_AS_TEXT)
    assert rows is not None
    assert len(rows) == 3
    kept = "\n".join(rows)
    for readable in (
        client.display_code,
        "Filter",
        "Wound care",
        "nina.nurse",
        "idempotency_key",
        f"/sites/{site_a.slug}/",
        "quantity",
    ):
        assert readable not in kept, readable
    # Each entry's body and username are sealed separately, each with its own random IV.
    assert len({json.loads(row)["body"]["iv"] for row in rows}) == 3
    # The keys came in the page and went into non-extractable CryptoKeys: the page keeps none.
    assert page.evaluate(
        "() => [...document.querySelectorAll('meta[name^=outbox-]')].map((m) => m.content)"
    ) == ["", "", ""]
    page.context.set_offline(False)
    expect(page.locator("#outbox-status")).to_have_text("All saved", timeout=SYNC_MS)
    assert given(visit) == 2


def test_a_tap_refused_when_it_is_sent_is_shown_with_the_servers_message_until_dismissed(
    page, log_in, live_server, site_a, nurse, desk
):
    swabs = stock(site_a, "swab", 1, nurse)
    visit = make_visit(site_a, desk, make_client(site_a.network, site_a, desk))
    log_in(nurse)
    open_care_page(page, live_server, site_a, visit)
    page.context.set_offline(True)
    tap_offline(page, page.get_by_role("button", name="Give 1: Alcohol swab"), 1)
    # Meanwhile the desk gives the last swab away.
    actions.give_supply(site=site_a, item=swabs, quantity=1, by=desk, idempotency_key=uuid.uuid4())
    page.context.set_offline(False)

    refused = page.locator("#outbox-refused")
    expect(refused).to_be_visible(timeout=SYNC_MS)
    expect(page.locator("#outbox-status")).to_have_text("All saved")
    summary = refused.get_by_text("1 not accepted — see why")
    expect(summary).to_be_visible()
    summary.click()
    expect(refused).to_contain_text("Give 1: Alcohol swab")
    expect(refused).to_contain_text(re.compile(r"There is no Alcohol swab in stock at Riverside"))
    assert given(visit) == 0
    assert_accessible(page, "the care page with a refusal from the outbox")

    # Still there on the next page, until the person says they have read it.
    page.reload()
    expect(page.locator("#outbox-refused")).to_be_visible()
    page.get_by_text("1 not accepted — see why").click()
    page.get_by_role("button", name="I have read these: dismiss").click()
    expect(page.locator("#outbox-refused")).to_be_hidden()
    assert page.evaluate(OUTBOX_AS_TEXT) == []


def test_logging_out_with_records_not_sent_asks_first_and_an_empty_outbox_is_wiped(
    page, log_in, live_server, site_a, nurse, desk, manager
):
    stock(site_a, "filter", 10, manager)
    visit = make_visit(site_a, desk, make_client(site_a.network, site_a, desk))
    log_in(nurse)
    open_care_page(page, live_server, site_a, visit)
    page.context.set_offline(True)
    tap_offline(page, page.get_by_role("button", name="Give 1: Filter"), 2)

    page.get_by_role("button", name="Log out", exact=True).click()
    dialog = page.get_by_role("dialog", name="Not everything is sent")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("2 records are not sent yet.")
    stay = dialog.get_by_role("button", name="Stay logged in until the connection is back")
    expect(stay).to_be_focused()
    assert_accessible(page, "the question at logout")
    stay.click()
    expect(dialog).to_be_hidden()
    expect(page).not_to_have_url(re.compile(r"/login/"))

    page.context.set_offline(False)
    expect(page.locator("#outbox-status")).to_have_text("All saved", timeout=SYNC_MS)
    page.context.set_offline(True)
    tap_offline(page, page.get_by_role("button", name="Give 1: Filter"), 1)
    # Logging out anyway while it cannot be sent (the server is out of reach; the rest of the
    # network works): it stays on the tablet, locked.
    give_url = re.compile(re.escape(reverse("supplies:give", kwargs={"site": site_a.slug})) + "$")
    page.route(give_url, lambda route: route.abort("internetdisconnected"))
    with page.expect_event("requestfailed", timeout=SYNC_MS):
        page.context.set_offline(False)
    page.get_by_role("button", name="Log out", exact=True).click()
    expect(dialog).to_contain_text("1 record is not sent yet.")
    dialog.get_by_role("button", name=re.compile(r"^Log out anyway")).click()
    expect(page).to_have_url(re.compile(r"/login/"))
    page.unroute(give_url)
    assert page.evaluate(DATABASES) == ["saferoom-outbox"]
    assert given(visit) == 2

    # A colleague logs in on the same tablet: told whose records wait, never sends them.
    sign_in(page, live_server.url, desk)
    open_care_page(page, live_server, site_a, visit)
    expect(page.locator("#outbox-others")).to_have_text(
        "1 record of nina.nurse not sent: they must log in to send it"
    )
    expect(page.locator("#outbox-status")).to_be_hidden()
    assert given(visit) == 2
    page.get_by_role("button", name="Log out", exact=True).click()  # no question: none of theirs
    expect(page).to_have_url(re.compile(r"/login/"))
    assert page.evaluate(DATABASES) == ["saferoom-outbox"]

    # The nurse logs in again: it is sent; logging out with nothing left wipes the outbox.
    log_in(nurse)
    open_care_page(page, live_server, site_a, visit)
    expect(page.locator("#outbox-status")).to_have_text("All saved", timeout=SYNC_MS)
    assert given(visit) == 3
    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page).to_have_url(re.compile(r"/login/"))
    assert page.evaluate(DATABASES) == []


def test_a_login_that_timed_out_while_offline_keeps_its_records_until_the_person_is_back(
    page, log_in, live_server, site_a, nurse, desk, manager
):
    stock(site_a, "filter", 10, manager)
    visit = make_visit(site_a, desk, make_client(site_a.network, site_a, desk))
    log_in(nurse)
    open_care_page(page, live_server, site_a, visit)
    page.context.set_offline(True)
    tap_offline(page, page.get_by_role("button", name="Give 1: Filter"), 3)
    # Twenty idle minutes in the van: the server ends the login.
    cookie = {c["name"]: c["value"] for c in page.context.cookies()}["sessionid"]
    session = SessionStore(session_key=cookie)
    session["last_active_at"] = int(time.time()) - 20 * 60
    session.save()

    page.context.set_offline(False)
    status = page.locator("#outbox-status")
    expect(status).to_have_text("Log in again to send 3 records", timeout=SYNC_MS)
    assert given(visit) == 0
    assert len(page.evaluate(OUTBOX_AS_TEXT)) == 3

    log_in(nurse)
    expect(page.locator("#outbox-status")).to_have_text("All saved", timeout=SYNC_MS)
    assert given(visit) == 3


def test_board_checks_and_emergency_taps_are_kept_offline_and_keep_the_time_of_the_tap(
    page, log_in, live_server, site_a, nurse, desk
):
    visit = make_visit(site_a, desk, make_client(site_a.network, site_a, desk))
    Visit.objects.filter(pk=visit.pk).update(state=Visit.State.WAITING)
    visit.refresh_from_db()
    booth = Space.objects.get(site=site_a, name="Booth 1")
    session = board.assign_space(
        visit=visit, space=booth, seat=1, by=nurse, idempotency_key=uuid.uuid4()
    )
    log_in(nurse)
    page.goto(live_server.url + reverse("board:board", kwargs={"site": site_a.slug}))
    check = page.get_by_role("listitem", name="Booth 1").get_by_role("button", name="Check done")
    expect(check).to_be_visible()
    page.context.set_offline(True)
    tap_offline(page, check, 1)
    # Kept, so the board does not say it was not saved.
    expect(page.locator("#board-flash")).to_be_empty()
    page.context.set_offline(False)
    expect(page.locator("#outbox-status")).to_have_text("All saved", timeout=SYNC_MS)
    assert SessionCheck.objects.filter(session=session).count() == 1

    incident = incident_actions.start_incident(
        site=site_a, by=nurse, idempotency_key=uuid.uuid4(), location="lounge"
    )
    tap_url = reverse("incidents:tap", kwargs={"site": site_a.slug, "pk": incident.pk})
    page.goto(
        live_server.url
        + reverse("incidents:screen", kwargs={"site": site_a.slug, "pk": incident.pk})
    )
    oxygen = page.get_by_role("button", name="Oxygen 15 L/min")
    expect(oxygen).to_be_visible()
    page.context.set_offline(True)
    tapped = timezone.now()
    tap_offline(page, oxygen, 1)
    sent: list[str] = []

    def note_the_body(route: Any) -> None:
        sent.append(route.request.post_data or "")
        route.continue_()

    page.route(re.compile(re.escape(tap_url) + "$"), note_the_body)
    page.context.set_offline(False)
    expect(page.locator("#outbox-status")).to_have_text("All saved", timeout=SYNC_MS)
    step = Intervention.objects.get(incident=incident, kind="oxygen")
    # Sent with the time of the tap (the site's local time), so the timeline shows when it
    # was done, not when the van was back in signal.
    at = parse_qs(sent[0])["at"][0]
    local = timezone.localtime(tapped, site_a.tz).replace(tzinfo=None, microsecond=0)
    assert abs((dt.datetime.fromisoformat(at) - local).total_seconds()) < 3
    assert abs((step.at - tapped).total_seconds()) < 3


def test_a_board_check_tapped_offline_keeps_the_time_of_the_tap_when_it_arrives_minutes_later(
    page, log_in, live_server, site_a, nurse, desk
):
    visit = make_visit(site_a, desk, make_client(site_a.network, site_a, desk))
    Visit.objects.filter(pk=visit.pk).update(state=Visit.State.WAITING)
    visit.refresh_from_db()
    session = board.assign_space(
        visit=visit,
        space=Space.objects.get(site=site_a, name="Booth 1"),
        seat=1,
        by=nurse,
        # A check every 5 minutes, red after 2: due 3 minutes ago, red for a minute now.
        at=timezone.now() - dt.timedelta(minutes=8),
        idempotency_key=uuid.uuid4(),
    )
    log_in(nurse)
    page.clock.install()
    page.goto(live_server.url + reverse("board:board", kwargs={"site": site_a.slug}))
    check = page.get_by_role("listitem", name="Booth 1").get_by_role("button", name="Check done")
    expect(check).to_be_visible()
    # The page learnt the server's time when it loaded. Now the tablet's clock says it is five
    # minutes earlier: to the server, a tap made now arrives five minutes after it was made (in
    # time, 3 minutes into the session), as it would after a stretch out of signal.
    gap = dt.timedelta(minutes=5)
    page.clock.set_system_time(dt.datetime.now(dt.UTC) - gap)
    page.context.set_offline(True)
    # The board's own refresh says, calmly, what it shows.
    expect(page.locator("#board-connection")).to_contain_text(
        "Offline — showing what was last loaded"
    )
    tapped = timezone.now() - gap
    tap_offline(page, check, 1)
    page.context.set_offline(False)
    expect(page.locator("#outbox-status")).to_have_text("All saved", timeout=SYNC_MS)

    done = SessionCheck.objects.get(session=session)
    received = dt.datetime.fromisoformat(
        AuditEvent.objects.get(action="session.checked").detail["received_at"]
    )
    assert abs((done.at - tapped).total_seconds()) < 3
    assert received - done.at >= dt.timedelta(minutes=2)
    assert not done.was_overdue  # timed at its arrival, it would have been
    assert received >= session.next_check_due_at + dt.timedelta(minutes=2)
    session.refresh_from_db()
    assert session.last_check_at == done.at
    assert session.next_check_due_at == done.at + dt.timedelta(
        minutes=session.check_interval_minutes
    )


def test_while_offline_the_emergency_screens_refresh_shows_what_was_last_loaded_calmly(
    page, log_in, live_server, site_a, nurse
):
    incident = incident_actions.start_incident(
        site=site_a, by=nurse, idempotency_key=uuid.uuid4(), location="lounge"
    )
    log_in(nurse)
    page.goto(
        live_server.url
        + reverse("incidents:screen", kwargs={"site": site_a.slug, "pk": incident.pk})
    )
    oxygen = page.get_by_role("button", name="Oxygen 15 L/min")
    expect(oxygen).to_be_visible()
    note = page.locator("#connection-note")
    expect(note).to_be_hidden()

    page.context.set_offline(True)
    tap_offline(page, oxygen, 1)
    # The timeline asks every 5 s. It cannot: the page says what it shows, in a status, and
    # never that nothing was saved (the tap is kept, and counted beside it).
    expect(note).to_have_text("Offline — showing what was last loaded", timeout=12_000)
    expect(note).to_be_visible()
    expect(page.locator("#outbox-status")).to_have_text("Offline — 1 not sent yet")
    expect(page.locator("#htmx-error")).to_be_hidden()
    expect(page.get_by_text(re.compile("nothing was saved", re.I))).to_have_count(0)
    assert_accessible(page, "the emergency screen offline, with a tap kept")

    page.context.set_offline(False)
    expect(page.locator("#outbox-status")).to_have_text("All saved", timeout=SYNC_MS)
    expect(note).to_be_hidden(timeout=12_000)
    assert Intervention.objects.filter(incident=incident, kind="oxygen").count() == 1
