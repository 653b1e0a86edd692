"""Supplies on a nurse's tablet, in real Chromium: a visit's care page gives a supply in one
tap on a quantity (by touch or with the keyboard), the stock shown goes down in place, a
refusal is read out, and axe finds no serious problem on the care and stock pages."""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from saferoom.care.supplies import actions
from saferoom.sites.models import CatalogueItem
from tests.browser.accessibility import assert_accessible
from tests.care.supplies.conftest import make_client, make_visit
from tests.versions import threshold_version

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_supply_is_given_to_a_visit_in_one_tap_and_stock_goes_down(
    page, log_in, live_server, network, site_a, nurse, desk, manager
):
    filters = CatalogueItem.objects.get(network=network, site=None, kind="supply", code="filter")
    actions.receive_stock(
        site=site_a, item=filters, quantity=10, by=manager, idempotency_key=uuid.uuid4()
    )
    client = make_client(network, site_a, desk)
    visit = make_visit(site_a, desk, client)
    log_in(nurse)
    page.goto(
        live_server.url + reverse("supplies:visit", kwargs={"site": site_a.slug, "pk": visit.pk})
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text(client.display_code)
    card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="Filter"))
    expect(card).to_contain_text("In stock: 10")

    # A tap on "2".
    page.get_by_role("button", name="Give 2: Filter").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Given: 2 × Filter to {client.display_code}. 8 left in stock."
    )
    expect(card).to_contain_text("In stock: 8")
    assert actions.in_stock(site_a, filters) == 8

    # With the keyboard: the button keeps focus after the panel is swapped, Enter gives again.
    one = page.get_by_role("button", name="Give 1: Filter")
    one.focus()
    page.keyboard.press("Enter")
    expect(card).to_contain_text("In stock: 7")
    expect(page.get_by_role("button", name="Give 1: Filter")).to_be_focused()
    expect(page.get_by_role("table")).to_contain_text("2 × Filter")
    expect(page.get_by_role("table")).to_contain_text("1 × Filter")
    assert actions.in_stock(site_a, filters) == 7

    # 10 is more than is left: that button is not offered.
    expect(page.get_by_role("button", name="Give 10: Filter")).to_be_disabled()
    assert_accessible(page, "the care page after two give-outs")


def test_a_refusal_is_shown_in_an_alert(page, log_in, live_server, network, site_a, nurse, desk):
    swabs = CatalogueItem.objects.get(network=network, site=None, kind="supply", code="swab")
    actions.receive_stock(
        site=site_a, item=swabs, quantity=1, by=nurse, idempotency_key=uuid.uuid4()
    )
    visit = make_visit(site_a, desk, make_client(network, site_a, desk))
    log_in(nurse)
    url = reverse("supplies:visit", kwargs={"site": site_a.slug, "pk": visit.pk})
    page.goto(live_server.url + url)
    # Someone at another device gives the last swab after this page was drawn.
    actions.give_supply(site=site_a, item=swabs, quantity=1, by=desk, idempotency_key=uuid.uuid4())
    page.get_by_role("button", name="Give 1: Alcohol swab").click()
    expect(page.get_by_role("alert")).to_contain_text(
        re.compile(r"There is no Alcohol swab in stock at Riverside")
    )
    assert actions.in_stock(site_a, swabs) == 0


def test_the_stock_and_walk_in_pages_are_accessible(
    page, log_in, live_server, network, site_a, manager
):
    filters = CatalogueItem.objects.get(network=network, site=None, kind="supply", code="filter")
    actions.receive_stock(
        site=site_a, item=filters, quantity=3, by=manager, idempotency_key=uuid.uuid4()
    )
    actions.set_low_threshold(
        site=site_a,
        item=filters,
        threshold=5,
        by=manager,
        expected_version=threshold_version(site_a, filters),
    )
    log_in(manager)
    page.goto(live_server.url + reverse("supplies:stock", kwargs={"site": site_a.slug}))
    expect(page.get_by_role("heading", name="Running low")).to_be_visible()
    assert_accessible(page, "the stock page with a low item")
    page.get_by_role("link", name="Filter").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Stock: Filter")
    page.get_by_label("How many arrived").fill("20")
    page.get_by_role("button", name="Add to stock").click()
    expect(page.get_by_role("status")).to_contain_text("Received 20 × Filter. 23 in stock.")
    assert_accessible(page, "an item's stock page")
    page.goto(live_server.url + reverse("supplies:walk_in", kwargs={"site": site_a.slug}))
    assert_accessible(page, "the walk-in page")


def test_two_quick_taps_both_land_and_the_page_shows_both(
    page, log_in, live_server, network, site_a, nurse, desk, manager
):
    foil = CatalogueItem.objects.get(network=network, site=None, kind="supply", code="foil")
    actions.receive_stock(
        site=site_a, item=foil, quantity=20, by=manager, idempotency_key=uuid.uuid4()
    )
    visit = make_visit(site_a, desk, make_client(network, site_a, desk), planned_route="smoke")
    log_in(nurse)
    page.goto(
        live_server.url + reverse("supplies:visit", kwargs={"site": site_a.slug, "pk": visit.pk})
    )
    # Every button waits while a tap is being saved (so a tap cannot land on a panel that is
    # being replaced); the second tap goes through once the panel is back.
    page.get_by_role("button", name="Give 5: Foil").click()
    page.get_by_role("button", name="Wound care").click()
    expect(page.get_by_role("status")).to_contain_text("Recorded: Wound care")
    given = page.get_by_role("table")
    expect(given).to_contain_text("5 × Foil")
    expect(given).to_contain_text("Wound care")
    assert actions.in_stock(site_a, foil) == 15
