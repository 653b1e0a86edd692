"""Enrolling a tablet in real Chromium: a desk worker on a tablet nobody has enrolled is held on
one page that says why; the manager makes a code on the site's Tablets page; typed on the
tablet (a wrong one first) it enrols it, and the desk worker carries on to the queue. Revoked,
the tablet is logged out at its next tap. Each page is scanned with axe, and its controls are
found by role and name and are big enough to tap."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from saferoom.accounts.models import EnrolledTablet
from tests.browser.accessibility import assert_accessible
from tests.browser.fixtures import TABLET, TIMEOUT_MS, browser, log_in, page  # noqa: F401
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BIG_ENOUGH = 48  # CSS pixels: the smallest target the style sheet gives a control


def assert_big_enough(locator) -> None:
    box = locator.bounding_box()
    assert box is not None
    assert box["height"] >= BIG_ENOUGH, box


def test_a_manager_enrols_the_desk_tablet_and_revokes_it(
    browser,  # noqa: F811
    page,  # noqa: F811
    log_in,  # noqa: F811
    live_server,
    manager,
    desk,
    site_a,
):
    # The desk's tablet: nobody has enrolled it.
    context = browser.new_context(viewport=TABLET, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    tablet = context.new_page()
    tablet.goto(f"{live_server.url}/login/")
    tablet.get_by_label("Username").fill(desk.username)
    tablet.get_by_label("Password").fill(PASSWORD)
    tablet.get_by_role("button", name="Log in", exact=True).click()
    expect(tablet.get_by_role("heading", level=1)).to_have_text("This tablet is not enrolled")
    expect(tablet.get_by_text("This tablet is not enrolled for Riverside.")).to_be_visible()
    assert_accessible(tablet, "the page a desk worker is held on")

    # The manager, in the office, makes a code.
    log_in(manager)
    page.goto(f"{live_server.url}/sites/{site_a.slug}/settings/")
    page.get_by_role("link", name="Enrolled tablets").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Tablets enrolled for Riverside")
    page.get_by_label("Name of the tablet").fill("Front desk tablet 1")
    page.get_by_role("button", name="Make an enrolment code").click()
    code = page.locator(".code-big").inner_text()
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code)
    assert_accessible(page, "the tablets page showing a new code")

    # On the tablet: a typo first, then the code.
    enrol_link = tablet.get_by_role("link", name="Enrol this tablet")
    assert_big_enough(enrol_link)
    enrol_link.click()
    expect(tablet.get_by_role("heading", level=1)).to_have_text("Enrol this tablet")
    field = tablet.get_by_label("Enrolment code")
    button = tablet.get_by_role("button", name="Enrol this tablet")
    assert_big_enough(field)
    assert_big_enough(button)
    assert_accessible(tablet, "the enrolment page")
    field.fill("WRNG-CDE4")
    button.click()
    expect(tablet.get_by_text("That code is not right.")).to_be_visible()
    assert_accessible(tablet, "the enrolment page refusing a wrong code")
    tablet.get_by_label("Enrolment code").fill(code)
    tablet.get_by_role("button", name="Enrol this tablet").click()
    expect(tablet.get_by_role("heading", level=1)).to_have_text("Desk and queue")
    expect(tablet.get_by_text("This tablet is enrolled for Riverside")).to_be_visible()
    cookie = next(c for c in context.cookies() if c["name"] == "saferoom_tablet")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"

    # The manager sees it in the list, then revokes it.
    page.reload()
    revoke = page.get_by_role("button", name="Revoke Front desk tablet 1")
    assert_big_enough(revoke)
    revoke.click()
    expect(page.get_by_text("“Front desk tablet 1” is revoked")).to_be_visible()
    assert_accessible(page, "the tablets page after revoking")
    assert EnrolledTablet.objects.get().revoked_at is not None

    # The tablet's next tap is the login page.
    tablet.reload()
    expect(tablet.get_by_role("heading", level=1)).to_have_text("Log in to saferoom")
    context.close()
