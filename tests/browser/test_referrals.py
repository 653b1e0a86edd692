"""Referrals in a real browser, with the keyboard alone: a nurse makes an urgent referral from
a visit in after-care, then records its follow-up; and a manager opens the identity record
kept for it, saying why. Elements are found by role and accessible name."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from saferoom.care.referrals import actions
from saferoom.care.referrals.models import IdentityDetails, Referral
from saferoom.clients.codes import new_display_code
from saferoom.clients.models import Client
from saferoom.floor.models import Visit
from saferoom.sites.models import CatalogueItem, Site
from tests.browser.accessibility import assert_accessible

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def aftercare_visit(site_a: Site, desk) -> Visit:
    now = timezone.now()
    client = Client.objects.create(
        network=site_a.network,
        display_code=new_display_code(),
        linkage_hash="2" * 64,
        scheme=site_a.network.client_code_scheme,
        gender="male",
        year_of_birth=1980,
        registered_at=now - dt.timedelta(days=60),
        registered_site=site_a,
        registered_by=desk,
    )
    return Visit.objects.create(
        site=site_a,
        client=client,
        arrived_at=now - dt.timedelta(minutes=50),
        state=Visit.State.AFTERCARE,
        planned_route="inject",
        created_by=desk,
        aftercare_started_at=now - dt.timedelta(minutes=5),
    )


def tab_to(page: Page, target: Locator, *, limit: int = 60) -> None:
    """Press Tab until ``target`` has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"{target} never received the focus after {limit} presses of Tab")


def test_a_referral_is_made_from_a_visit_and_followed_up_with_the_keyboard(
    page, log_in, live_server, nurse, site_a, aftercare_visit
):
    code = aftercare_visit.client.display_code
    log_in(nurse)
    page.goto(f"{live_server.url}/sites/{site_a.slug}/referrals/visit/{aftercare_visit.pk}/")
    expect(page.get_by_text("No referrals yet.")).to_be_visible()

    tab_to(page, page.get_by_role("link", name="Make a referral"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text(code)
    assert_accessible(page, "the referral form")

    # The first service of the list takes the focus; the arrow keys move through the list.
    tab_to(page, page.get_by_label("Housing options team"))
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    expect(page.get_by_label("Blood-borne virus team")).to_be_checked()
    tab_to(page, page.get_by_label("Routine"))
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.get_by_label("Urgent")).to_be_checked()
    tab_to(page, page.get_by_role("button", name="Make the referral"))
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_contain_text(
        f"Referral made: {code} to Blood-borne virus team."
    )
    referral = Referral.objects.get()
    assert (referral.visit_id, referral.urgency, referral.target.code) == (
        aftercare_visit.pk,
        "urgent",
        "bbv_team",
    )

    tab_to(page, page.get_by_role("link", name="Record a follow-up"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Record a follow-up")
    assert_accessible(page, "the follow-up form")
    tab_to(page, page.get_by_role("group", name="What happened?").get_by_label("Attended"))
    page.keyboard.press("Space")
    # Tab enters a group of radio buttons once, on its first; the arrows choose.
    tab_to(page, page.get_by_label("Asked them in person"))
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("By phone")).to_be_checked()
    tab_to(page, page.get_by_label("Note (optional)"))
    page.keyboard.type("Seen at the clinic on the day")
    tab_to(page, page.get_by_role("button", name="Save the follow-up"))
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_contain_text("Follow-up recorded: Attended.")
    expect(page.get_by_role("cell", name="Seen at the clinic on the day")).to_be_visible()
    referral.refresh_from_db()
    assert referral.status == "attended"


def test_a_manager_opens_the_identity_record_saying_why(
    page, log_in, live_server, manager, nurse, site_a, aftercare_visit
):
    referral = actions.make_referral(
        site=site_a,
        visit=aftercare_visit,
        target=CatalogueItem.objects.get(
            network=site_a.network, site=None, kind="referral_target", code="gp"
        ),
        urgency="soon",
        by=nurse,
        idempotency_key=uuid.uuid4(),
    )
    record = actions.record_identity(
        referral=referral,
        details=IdentityDetails(full_name="Robin Example", health_number="943 476 5919"),
        consent_scope="this_referral",
        consent_confirmed=True,
        by=manager,
        idempotency_key=uuid.uuid4(),
    )
    log_in(manager)
    page.goto(f"{live_server.url}/sites/{site_a.slug}/referrals/{referral.pk}/")
    expect(page.get_by_text("Robin Example")).to_have_count(0)
    page.get_by_role("link", name="Open the identity record").click()
    expect(page.get_by_text("Robin Example")).to_have_count(0)
    page.get_by_label("To follow up the referral").check()
    page.get_by_role("button", name="Open the details").click()
    expect(page.get_by_text("Robin Example")).to_be_visible()
    assert f"/identity/{record.pk}/" in page.url
    assert "Robin" not in page.url
    assert_accessible(page, "the opened identity record")
    # Nothing of it is kept in the browser's storage.
    stored = page.evaluate("() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")
    assert "Robin" not in stored
