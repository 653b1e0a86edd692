"""The desk in real Chromium: a check-in by taps alone, the queue refreshing itself and its
waiting times counting, leaving the queue after a confirmation, and no serious accessibility
problems on any desk page."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from saferoom.floor import actions
from saferoom.floor.models import Visit
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import browser, log_in, page  # noqa: F401  (the browser fixtures)
from tests.floor.conftest import substance

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_anonymous_visit_is_checked_in_by_taps_alone(page, log_in, desk, site_a):  # noqa: F811
    log_in(desk)
    assert_accessible(page, "the empty queue")
    page.get_by_role("link", name="Anonymous visit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check in an anonymous visit")
    assert_accessible(page, "the anonymous check-in page")

    page.get_by_role("group", name="Are they 18 or older?").get_by_label("Yes").check()
    page.get_by_role("group", name=re.compile("first time using")).get_by_label("No").check()
    page.get_by_label("Heroin", exact=True).check()
    page.get_by_label("Inject", exact=True).check()
    page.get_by_role("button", name="Check in", exact=True).click()

    expect(page).to_have_url(re.compile(r"/sites/riverside/desk/$"))
    expect(page.get_by_role("status").first).to_contain_text("is checked in and waiting")
    row = page.get_by_role("row", name=re.compile("Anonymous"))
    expect(row).to_contain_text("Heroin")
    # The waiting time counts up on the tablet, from the server's clock.
    expect(row.locator("time[data-since]")).to_have_text(re.compile(r"^0:0[1-9]$"))
    assert Visit.objects.get().anonymous
    assert_accessible(page, "the queue with someone waiting")


def test_the_queue_shows_a_new_arrival_without_a_reload(page, log_in, desk, site_a, client_a):  # noqa: F811
    log_in(desk)
    expect(page.get_by_text("Nobody is waiting.")).to_be_visible()
    actions.check_in(
        site=site_a,
        client=client_a,
        planned_route="inject",
        planned_substances=[substance(site_a)],
        otherwise_location="not_said",
        would_use_alone="not_said",
        eligibility={"first_time": False, "intoxicated": False},
        by=desk,
        idempotency_key=uuid.uuid4(),
    )
    expect(page.get_by_role("row", name=re.compile(client_a.display_code))).to_be_visible()


def test_leaving_the_queue_asks_first_then_updates_the_queue(page, log_in, desk, site_a, client_a):  # noqa: F811
    actions.check_in(
        site=site_a,
        client=client_a,
        planned_route="inject",
        planned_substances=[substance(site_a)],
        otherwise_location="not_said",
        would_use_alone="not_said",
        eligibility={"first_time": False, "intoxicated": False},
        by=desk,
        idempotency_key=uuid.uuid4(),
    )
    log_in(desk)
    questions: list[str] = []

    def accept(dialog):
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.get_by_role("button", name=f"{client_a.display_code} left the queue").click()
    expect(page.get_by_role("status").last).to_contain_text(
        f"{client_a.display_code} has left the queue."
    )
    expect(page.get_by_text("Nobody is waiting.")).to_be_visible()
    assert questions == [f"Has {client_a.display_code} left the queue without being seen?"]
    assert Visit.objects.get().end_reason == "left_queue"


def test_a_banned_clients_checkin_page_is_accessible(page, log_in, desk, site_a, client_a, ban):  # noqa: F811
    ban(client_a, site_a)
    log_in(desk)
    page.goto(page.url.replace("/desk/", f"/desk/checkin/{client_a.pk}/"))
    expect(page.get_by_role("button", name="Turn away (banned)")).to_be_visible()
    expect(page.get_by_role("button", name="Check in", exact=True)).to_have_count(0)
    assert_accessible(page, "a banned client's check-in page")


def test_the_turnaway_page_is_accessible(page, log_in, desk, site_a):  # noqa: F811
    log_in(desk)
    page.get_by_role("link", name="Turn away someone").click()
    page.get_by_label("No space free / closing soon").check()
    assert_accessible(page, "the turn-away page")
    page.get_by_role("button", name="Record turn-away").click()
    expect(page.get_by_role("status").first).to_contain_text("Turn-away recorded")
    assert Visit.objects.get().state == "turned_away"
