"""The front desk's afternoon in a real browser: a returning client found by the code on their
card and checked in, a new client registered and checked in, someone turned away, and all of
it on the queue with waiting times counting. Then the same pages scanned with axe, and a
check-in done with the keyboard alone.

Elements are found by role and accessible name, as a person (or a screen reader) finds them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from saferoom.clients.codes import new_display_code
from saferoom.clients.models import Client
from saferoom.floor.models import Visit
from saferoom.sites.models import OpeningHours, Site
from tests.browser.accessibility import assert_accessible

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def open_all_day(site_a: Site) -> Site:
    """Riverside opens round the clock, so the journey does not depend on when it runs (the
    live server runs on the real clock)."""
    site_a.opening_hours.all().delete()
    for weekday in range(7):
        OpeningHours.objects.create(
            site=site_a, weekday=weekday, opens=dt.time(0, 0), closes=dt.time(12, 0)
        )
        OpeningHours.objects.create(
            site=site_a, weekday=weekday, opens=dt.time(12, 0), closes=dt.time(0, 0)
        )
    return site_a


@pytest.fixture
def returning_client(open_all_day: Site, desk) -> Client:
    """A client registered last month who has been admitted before (so the first-time
    question is not asked again)."""
    now = timezone.now()
    client = Client.objects.create(
        network=open_all_day.network,
        display_code=new_display_code(),
        linkage_hash="1" * 64,
        scheme=open_all_day.network.client_code_scheme,
        gender="female",
        year_of_birth=1984,
        registered_at=now - dt.timedelta(days=30),
        registered_site=open_all_day,
        registered_by=desk,
    )
    Visit.objects.create(
        site=open_all_day,
        client=client,
        arrived_at=now - dt.timedelta(days=1, hours=2),
        state=Visit.State.LEFT,
        planned_route="inject",
        eligibility={"first_time": False, "intoxicated": False},
        created_by=desk,
        ended_at=now - dt.timedelta(days=1, hours=1),
        ended_by=desk,
        end_reason=Visit.EndReason.CHECKED_OUT,
    )
    return client


def queue_row(page: Page, code: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=code))


def count(page: Page, label: str) -> Locator:
    return page.locator(".count").filter(has=page.get_by_text(label, exact=True)).locator("dd")


def test_a_desk_worker_checks_in_registers_turns_away_and_sees_it_all_in_the_queue(
    page, log_in, desk, returning_client
):
    log_in(desk)
    expect(page.get_by_role("heading", level=1)).to_have_text("Desk and queue")
    expect(page.get_by_text("Nobody is waiting.")).to_be_visible()

    # A returning client shows their card; the code is typed the way people type it.
    page.get_by_role("link", name="Check in a client").click()
    code = returning_client.display_code
    page.get_by_label("Client code").fill(code.lower().replace("-", " "))
    page.get_by_role("button", name="Find by code").click()
    expect(page.get_by_role("heading", name="Client found")).to_be_visible()
    page.get_by_role("link", name=f"Check in {code}").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Check in {code}")
    page.get_by_label("Heroin", exact=True).check()
    page.get_by_role("group", name="How will they use it?").get_by_label("Inject").check()
    page.get_by_role("button", name="Check in", exact=True).click()

    expect(page.get_by_role("status")).to_contain_text(f"{code} is checked in and waiting")
    expect(queue_row(page, code)).to_be_visible()

    # A new client: not found by their details, so registered from the same page.
    page.get_by_role("link", name="Check in a client").click()
    by_details = page.get_by_role("region", name="No card? Find by their details")
    by_details.get_by_label("Initials").fill("QW")
    by_details.get_by_label("Date of birth").fill("03/11/1991")
    by_details.get_by_role("group", name="Sex").get_by_label("Male", exact=True).check()
    by_details.get_by_role("button", name="Find by details").click()

    register = page.get_by_role("region", name="Not found: register as a new client")
    expect(register).to_be_visible()
    expect(register.get_by_label("Initials")).to_have_value("QW")
    register.get_by_role("group", name="Gender").get_by_label("Male", exact=True).check()
    register.get_by_role("button", name="Register as a new client").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Client registered")
    new_code_shown = page.get_by_role("region", name="Their client code").get_by_text(
        re.compile(r"^[A-Z0-9]{3}-[A-Z0-9]{3}$")
    )
    expect(new_code_shown).to_be_visible()
    new_code = new_code_shown.inner_text().strip()
    page.get_by_role("link", name="Check in now").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Check in {new_code}")
    first_time = page.get_by_role(
        "group", name="Is this their first time using, or do they use only occasionally?"
    )
    first_time.get_by_label("No", exact=True).check()
    page.get_by_label("Crack cocaine").check()
    page.get_by_role("group", name="How will they use it?").get_by_label("Smoke or inhale").check()
    page.get_by_role("button", name="Check in", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"{new_code} is checked in and waiting")

    # Someone who is visibly drunk is turned away, without a name.
    page.get_by_role("link", name="Turn away someone").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Turn someone away")
    page.get_by_role("group", name="Why are they being turned away?").get_by_label(
        "Visibly intoxicated"
    ).check()
    page.get_by_role("button", name="Record turn-away").click()
    expect(page.get_by_role("status")).to_contain_text("Turn-away recorded")

    # The queue: both clients waiting, with timers counting, and today's numbers.
    expect(queue_row(page, code)).to_be_visible()
    expect(queue_row(page, new_code)).to_be_visible()
    expect(count(page, "Waiting now")).to_have_text("2")
    expect(count(page, "Checked in")).to_have_text("2")
    expect(count(page, "Turned away")).to_have_text("1")
    timer = queue_row(page, code).locator("time[data-since]")
    expect(timer).to_have_text(re.compile(r"^\d+:\d\d$"))
    shown = timer.inner_text()
    expect(timer).not_to_have_text(shown)  # it counts up on its own, every second

    # And the database agrees.
    assert Visit.objects.filter(site=returning_client.registered_site, state="waiting").count() == 2
    assert Visit.objects.filter(state="turned_away").count() == 1
    assert Client.objects.count() == 2


def test_the_desk_pages_have_no_serious_accessibility_problems(
    page, log_in, desk, returning_client, live_server
):
    log_in(desk)
    expect(page.get_by_role("heading", level=1)).to_have_text("Desk and queue")
    assert_accessible(page, "the queue (empty)")

    page.get_by_role("link", name="Check in a client").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Find a client")
    assert_accessible(page, "the find page")

    page.get_by_label("Client code").fill("K7F-29X")
    page.get_by_role("button", name="Find by code").click()
    expect(page.get_by_role("alert").or_(page.get_by_role("status")).first).to_be_visible()
    assert_accessible(page, "the find page with a mistyped code")

    page.get_by_label("Client code").fill(returning_client.display_code)
    page.get_by_role("button", name="Find by code").click()
    expect(page.get_by_role("heading", name="Client found")).to_be_visible()
    assert_accessible(page, "the find page with a client found")

    page.get_by_role("link", name=f"Check in {returning_client.display_code}").click()
    expect(page.get_by_role("button", name="Check in", exact=True)).to_be_visible()
    assert_accessible(page, "the check-in page")

    page.get_by_role("button", name="Check in", exact=True).click()  # nothing chosen
    # Each message is tied to its field, so a screen reader reads it with the field.
    expect(
        page.get_by_role("group", name="What do they plan to use?")
    ).to_have_accessible_description(re.compile("Choose at least one substance"))
    assert_accessible(page, "the check-in page with errors")

    page.goto(f"{live_server.url}/sites/riverside/clients/register/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Register a new client")
    assert_accessible(page, "the registration page")

    page.get_by_role("button", name="Register", exact=True).click()  # nothing filled in
    expect(page.get_by_label("Initials")).to_have_accessible_description(
        re.compile("Enter the initials")
    )
    assert_accessible(page, "the registration page with errors")

    page.goto(f"{live_server.url}/sites/riverside/desk/turnaway/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Turn someone away")
    assert_accessible(page, "the turn-away page")

    page.goto(f"{live_server.url}/sites/riverside/desk/")
    page.get_by_role("link", name="Anonymous visit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check in an anonymous visit")
    assert_accessible(page, "the anonymous check-in page")


def test_the_queue_with_people_waiting_has_no_serious_accessibility_problems(
    page, log_in, desk, returning_client, open_all_day
):
    Visit.objects.create(
        site=open_all_day,
        client=returning_client,
        arrived_at=timezone.now() - dt.timedelta(minutes=12),
        created_by=desk,
    )
    Visit.objects.create(
        site=open_all_day, anonymous=True, arrived_at=timezone.now(), created_by=desk
    )
    log_in(desk)
    expect(queue_row(page, returning_client.display_code)).to_be_visible()
    assert_accessible(page, "the queue with people waiting")


def tab_to(page: Page, target: Locator, *, limit: int = 60) -> None:
    """Press Tab until ``target`` has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"{target} never received the focus after {limit} presses of Tab")


def test_a_client_is_checked_in_with_the_keyboard_alone(page, log_in, desk, returning_client):
    log_in(desk)
    code = returning_client.display_code

    tab_to(page, page.get_by_role("link", name="Check in a client"))
    page.keyboard.press("Enter")
    code_box = page.get_by_label("Client code")
    expect(code_box).to_be_focused()  # ready for the scanner or the keyboard
    page.keyboard.type(code)
    page.keyboard.press("Enter")

    check_in_link = page.get_by_role("link", name=f"Check in {code}")
    expect(check_in_link).to_be_visible()
    tab_to(page, check_in_link)
    page.keyboard.press("Enter")

    heroin = page.get_by_label("Heroin", exact=True)
    expect(heroin).to_be_visible()
    tab_to(page, heroin)
    page.keyboard.press("Space")
    expect(heroin).to_be_checked()
    inject = page.get_by_role("group", name="How will they use it?").get_by_label("Inject")
    tab_to(page, inject)
    page.keyboard.press("Space")
    expect(inject).to_be_checked()
    tab_to(page, page.get_by_role("button", name="Check in", exact=True))
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_contain_text(f"{code} is checked in and waiting")
    expect(queue_row(page, code)).to_be_visible()
    assert Visit.objects.filter(client=returning_client, state="waiting").count() == 1
