"""Logging in and out in a real browser, and the login page's accessibility."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.accessibility import assert_accessible
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_login_page_has_no_serious_accessibility_problems(page, live_server):
    page.goto(f"{live_server.url}/login/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in to saferoom")
    assert_accessible(page, "the login page")


def test_a_wrong_password_is_announced_and_the_page_stays_accessible(page, live_server, desk):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(desk.username)
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    assert_accessible(page, "the login page with an error")


def test_a_desk_worker_logs_in_lands_on_the_queue_and_logs_out(page, log_in, desk, live_server):
    log_in(desk)
    expect(page).to_have_url(re.compile(r"/sites/riverside/desk/$"))
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_role("status")).to_contain_text("You have logged out")
    # Going back to the queue now asks for a login again.
    page.goto(f"{live_server.url}/sites/riverside/desk/")
    expect(page).to_have_url(re.compile(r"/login/\?next="))


def test_logging_in_works_with_the_keyboard_alone(page, live_server, nurse):
    page.goto(f"{live_server.url}/login/")
    # The username field has the focus as the page opens: type straight away.
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type(nurse.username)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Log in", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_the_skip_link_is_the_first_stop_on_a_logged_in_page(page, log_in, manager):
    log_in(manager)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # shown when focused, not left off-screen
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


def test_pages_load_everything_from_our_own_server_and_nothing_fails(
    page, log_in, desk, live_server
):
    """A site may have no internet: no CDN, no fonts from elsewhere, and no missing files."""
    requested: list[str] = []
    failed: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    log_in(desk)
    expect(page.get_by_role("heading", level=1)).to_have_text("Desk and queue")
    assert requested
    assert [url for url in requested if not url.startswith(live_server.url)] == []
    assert failed == []
    # The stylesheet is applied (the skip link is tucked away until focused) and htmx is there.
    skip_link = page.get_by_role("link", name="Skip to main content")
    assert skip_link.evaluate("el => getComputedStyle(el).position") == "absolute"
    assert page.evaluate("typeof window.htmx") == "object"


def test_a_manager_sets_up_two_step_login_in_the_browser(page, live_server, manager):
    """The first login of a manager: password, then the app is set up from the key shown on the
    page (as a person would type it), then the backup codes; the next login asks for a code."""
    from base64 import b32decode

    from django_otp.oath import totp

    from tests.conftest import authenticator, totp_code

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(manager.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-step login")
    expect(
        page.get_by_role("img", name="QR code holding your secret key for the app")
    ).to_be_visible()
    assert_accessible(page, "setting up two-step login")
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    key = b32decode(secret + "=" * (-len(secret) % 8))
    page.get_by_label("Code from the app").fill(str(totp(key)).zfill(6))
    page.get_by_role("button", name="Finish setting up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your backup codes")
    expect(page.locator("ol.backup-codes li")).to_have_count(10)
    assert_accessible(page, "the backup codes")
    page.get_by_role("link", name="I have kept them: carry on").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    page.get_by_label("Username").fill(manager.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")
    assert_accessible(page, "the code step")
    page.get_by_label("Code").fill(totp_code(authenticator(manager)))
    page.get_by_role("button", name="Check the code").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page).not_to_have_url(re.compile(r"/two-factor/"))


def test_a_colleague_switches_in_on_a_tablet_with_their_pin(page, log_in, nurse, desk):
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from saferoom.accounts.models import StaffPin

    StaffPin.objects.create(user=desk, pin_hash=make_password("402917"), set_at=timezone.now())
    log_in(nurse)
    page.get_by_role("link", name="Switch user").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Switch user")
    assert_accessible(page, "switching user")
    page.get_by_role("radio", name=desk.display_name).check()
    page.get_by_label("Their PIN").fill("402917")
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_text(f"You are logged in as {desk.display_name}")).to_be_visible()
    expect(page.locator(".who")).to_have_text(desk.display_name)
